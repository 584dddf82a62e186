#!/opt/conda/bin/python
"""The stand-in's start-singleuser.py: JupyterHub's single-user server with the given arguments."""

import os
import shlex
import sys

command = ["jupyterhub-singleuser"]
if "NOTEBOOK_ARGS" in os.environ:
    command += shlex.split(os.environ["NOTEBOOK_ARGS"])
os.execvp(command[0], command + sys.argv[1:])
