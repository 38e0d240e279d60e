"""The tutorials run as written: each one marked for the runner passes byexample.

Every `$ ` line of a marked tutorial runs in one bash session against the real cluster the
tutorial starts, and its output must match what the tutorial shows (docs/tutorials/README.md).
Whatever a tutorial got to, the test then takes its clusters down (`minikube-py down`, or
the compose lab's lab/compose/down.sh).
A tutorial that drifts from the code fails here, not in front of a class.
"""
from __future__ import annotations

import glob
import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARK = "<!-- tutorial-runner: byexample"
TUTORIALS = sorted(p for p in glob.glob(os.path.join(REPO, "docs/tutorials/[0-9]*.md"))
                   if open(p).read().startswith(MARK))


def test_some_tutorials_are_marked_for_the_runner():
    assert TUTORIALS, "no tutorial carries the runner's mark"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", TUTORIALS, ids=[os.path.basename(p)[:2] for p in TUTORIALS])
def test_tutorial_runs_as_written(path):
    text = open(path).read()
    assert re.search(r"^\$ ", text, re.M), f"{path} is marked but shows no `$ ` line"
    state_dirs = sorted(set(re.findall(r"--state-dir[ =](\S+)", text)))
    env = {**os.environ, "PYTHONPATH": REPO}
    try:
        out = subprocess.run([os.path.join(REPO, "lab/run-tutorials.sh"), path], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=850)
    finally:
        for d in state_dirs:            # whatever the tutorial got to, leave no cluster behind
            subprocess.run(["minikube-py", "down", "--state-dir", d, "--purge"], env=env,
                           capture_output=True, timeout=120)
            # and no process it started by hand (a kubelet in the background, a second
            # controller-manager): they all name the state dir on their command line
            subprocess.run(["pkill", "-f", "--", d + "/"], capture_output=True)
        if re.search(r"^\$ docker-compose up", text, re.M):   # the compose lab (tutorial 11)
            subprocess.run(["bash", "lab/compose/down.sh"], cwd=REPO, capture_output=True, timeout=300)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "[PASS]" in out.stdout
