"""The Datalyptica policy pack: `pulumi preview --policy-pack policy` runs it on every resource.

The rules live in datalyptica_policies.py, so tests import them without starting a pack.
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datalyptica_policies import PACK_NAME, policies

PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
