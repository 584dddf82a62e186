"""Runs one Pulumi Python program for tests/engine/language_host.py (a test stand-in).

It does what Pulumi's `pulumi-language-python-exec` does (sdk/python/cmd/pulumi-language-python-exec
at v3.274.1), with the same command line: read the stack's config from PULUMI_CONFIG and its secret
keys from PULUMI_CONFIG_SECRET_KEYS, configure pulumi.runtime.Settings (monitor, engine, project,
stack, organization, root directory, dry run, parallelism), change to --pwd, and run the program
with runpy inside the SDK's stack runner (run_in_stack), so the program's resources become children
of the pulumi:pulumi:Stack resource and its outputs the stack's outputs.

Exit codes, as the language host reads them: 0 the program ran; 1 a pulumi.RunError, already
logged to the engine; 32 an unhandled exception whose traceback was logged to the engine (the host
then answers Run with bail, so the CLI shows that message and no second one).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import runpy
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor

# This file's folder is sys.path[0]; the program must not import from it.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

try:
    import pulumi
    import pulumi.runtime
except ImportError:
    print(traceback.format_exc(), file=sys.stderr)
    print(
        "\nIt looks like the Pulumi SDK has not been installed in the program's virtualenv "
        "(this project makes it with `make venv`).",
        file=sys.stderr,
    )
    sys.exit(1)

# The exit code that tells the language host an error message was shown to the user already.
EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE = 32


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Execute a Pulumi Python program")
    for option in ("project", "root_directory", "stack", "parallel", "dry_run", "pwd", "monitor", "engine"):
        parser.add_argument(f"--{option}")
    parser.add_argument("--tracing")
    parser.add_argument("--organization")
    parser.add_argument("PROGRAM")
    parser.add_argument("ARGS", nargs="*")
    return parser.parse_args(argv)


def _module_path(path: str) -> str:
    base, ext = os.path.splitext(path)
    return os.path.abspath(os.path.join(base, "__main__") if not ext else base)


def _user_traceback(program: str) -> str:
    """The traceback from the program's own frames on, as the real exec script shows it."""
    frames = traceback.extract_tb(sys.exc_info()[2])
    for index, frame in enumerate(frames):
        if _module_path(frame.filename) == _module_path(program):
            return traceback.format_exc(limit=-(len(frames) - index))
    return traceback.format_exc()


def main(argv: list[str]) -> int:
    args = _parse(argv)
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
    parallel = int(args.parallel) if args.parallel else None
    settings = pulumi.runtime.Settings(
        monitor=args.monitor,
        engine=args.engine,
        project=args.project,
        stack=args.stack,
        parallel=parallel,
        dry_run=args.dry_run == "true",
        organization=args.organization,
        root_directory=args.root_directory,
    )
    pulumi.runtime.configure(settings)

    program: str = args.PROGRAM
    sys.argv = [program, *args.ARGS]
    if args.pwd:
        os.chdir(args.pwd)
    program_path = os.path.abspath(program)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = ThreadPoolExecutor(max_workers=max(parallel or 1, 1) * 4)
    loop.set_default_executor(executor)
    # Unobserved futures of a failed program are expected; Pulumi's own exec script silences them too.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    def run() -> None:
        if os.path.isdir(program_path) and not os.path.isfile(os.path.join(program_path, "__main__.py")):
            pulumi.log.error(f"unable to find main python program `__main__.py` in `{program_path}`")
            raise SystemExit(EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE)
        runpy.run_path(program, run_name="__main__")

    exit_code = 1
    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(run))
        exit_code = 0
    except pulumi.RunError as error:
        pulumi.log.error(str(error))
    except SystemExit as exiting:
        exit_code = exiting.code if isinstance(exiting.code, int) else 1
    except Exception:
        pulumi.log.error("Program failed with an unhandled exception:\n" + _user_traceback(program_path))
        exit_code = EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE
    finally:
        executor.shutdown(wait=True)
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
