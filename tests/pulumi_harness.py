"""Moved to scripts/offline.py (the plan command evaluates stacks with it too).

Kept as a name only, so tests written against `tests.pulumi_harness` still import.
"""

from scripts.offline import *  # noqa: F401,F403
from scripts.offline import _has_secret, _reveal, _strip_secrets  # noqa: F401
