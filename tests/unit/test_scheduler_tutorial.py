"""The plugins written in docs/tutorials/03-scheduler-write-a-plugin.md really work.

The code blocks are taken from the tutorial itself and run as plugin modules, so
the tutorial cannot drift away from the plugin interface.
"""
import os
import re
import types

import pytest

from minikube_py.scheduler import plugins
from minikube_py.scheduler.framework import NodeInfo, PodInfo
from minikube_py.scheduler.profile import FitError, Profile

TUTORIAL = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "tutorials",
                        "03-scheduler-write-a-plugin.md")


def tutorial_plugin(name: str) -> types.ModuleType:
    text = open(TUTORIAL).read()
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        if f'NAME = "{name}"' in block:
            module = types.ModuleType(name)
            exec(compile(block, TUTORIAL, "exec"), module.__dict__)
            return module
    raise AssertionError(f"no plugin {name} in the tutorial")


def node(name, labels=None, **alloc):
    return NodeInfo({"metadata": {"name": name, "labels": labels or {}},
                     "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "10", **alloc},
                                "conditions": [{"type": "Ready", "status": "True"}]}})


def pod(**requests):
    return PodInfo({"metadata": {"name": "p", "namespace": "ns"},
                    "spec": {"containers": [{"name": "c", "resources": {"requests": requests}}]}})


def test_gpu_reserve_filter_from_the_tutorial():
    gpu_reserve = tutorial_plugin("GpuReserve")
    gpu_node = node("gpu", **{"nvidia.com/gpu": "2"})
    assert gpu_reserve.filter(pod(), gpu_node) == gpu_reserve.REASON
    assert gpu_reserve.filter(pod(**{"nvidia.com/gpu": "1"}), gpu_node) is None
    assert gpu_reserve.filter(pod(), node("plain")) is None
    profile = Profile(modules=[*plugins.PLUGINS[:3], gpu_reserve, *plugins.PLUGINS[3:]])
    with pytest.raises(FitError) as err:
        profile.schedule(pod(), [gpu_node])
    assert str(err.value) == "0/1 nodes are available: 1 node(s) are reserved for GPU pods."
    assert profile.schedule(pod(), [gpu_node, node("plain")]).name == "plain"


def test_prefer_fast_score_from_the_tutorial():
    prefer_fast = tutorial_plugin("PreferFast")
    profile = Profile(modules=[*plugins.PLUGINS, prefer_fast], weights={"PreferFast": 5})
    nodes = [node("slow"), node("fast", labels={"tier": "fast"}), node("slow2")]
    assert all(profile.schedule(pod(), nodes).name == "fast" for _ in range(5))
