#!/opt/conda/bin/python
"""The stand-in's start-notebook.py: under JupyterHub the single-user server, else JupyterLab."""

import os
import shlex
import sys

if "JUPYTERHUB_API_TOKEN" in os.environ:
    os.execvp("/usr/local/bin/start-singleuser.py", ["/usr/local/bin/start-singleuser.py", *sys.argv[1:]])

command = ["jupyter", os.environ.get("DOCKER_STACKS_JUPYTER_CMD", "lab")]
if "NOTEBOOK_ARGS" in os.environ:
    command += shlex.split(os.environ["NOTEBOOK_ARGS"])
os.execvp(command[0], command + sys.argv[1:])
