"""The components ask glibc for fewer malloc arenas (mallocarenas.py), unless the user chose."""
import os
import subprocess
import sys

ASK = "from minikube_py.mallocarenas import limit_arenas; print(limit_arenas())"


def run(env_extra):
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", ASK], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_arenas_are_limited_on_glibc():
    assert os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")   # this machine, and CI's
    assert run({}) == "True"


def test_a_malloc_arena_max_the_user_set_wins():
    assert run({"MALLOC_ARENA_MAX": "8"}) == "False"
