"""`pulumi preview --policy-pack policy` needs policy/venv, which `pulumi install` makes from
policy/requirements.txt (PulumiPolicy.yaml: toolchain pip, virtualenv venv). This does what that
install does, in a fresh venv, and loads the pack's rules with only what it installed."""

import subprocess
import sys
import venv
from pathlib import Path

import pytest

POLICY = Path(__file__).resolve().parents[2] / "policy"


@pytest.mark.integration
def test_the_policy_packs_requirements_install_into_a_fresh_venv_and_load_its_rules(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", str(POLICY / "requirements.txt")], check=True, timeout=900
    )
    loaded = subprocess.run(
        [
            python,
            "-I",
            "-c",
            "import sys; sys.path.insert(0, '.'); import datalyptica_policies as p; "
            "print(p.PACK_NAME, len(p.policies()))",
        ],
        cwd=POLICY,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    name, count = loaded.stdout.split()
    assert name and int(count) >= 5
    assert sys.prefix not in loaded.stdout
