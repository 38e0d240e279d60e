"""Running a command line in a test: its output captured, its failure an assertion with that output."""
from __future__ import annotations

import subprocess


def run(*args, env=None, check=True, timeout=120, input=None):
    """subprocess.run of `args`; with `check`, a non-zero exit fails the test showing stdout and stderr."""
    proc = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
