"""Unit tests of the controller manager: --controllers, loading, flags."""
import click
import pytest

from minikube_py.controllers.base import Controller
from minikube_py.controllers.command import DURATION, election_timing
from minikube_py.controllers.manager import (ControllerConfig, ControllerManager,
                                             UnknownController, load_controller,
                                             select_controllers)

KNOWN = ["garbagecollector", "namespace", "nodelifecycle"]


@pytest.mark.parametrize("spec,want", [
    ("*", KNOWN),
    ("", KNOWN),
    ("*,-namespace", ["garbagecollector", "nodelifecycle"]),
    ("namespace", ["namespace"]),
    ("nodelifecycle, garbagecollector", ["garbagecollector", "nodelifecycle"]),
    ("-namespace", []),                       # disabling alone enables nothing
    ("namespace,-namespace", []),
])
def test_select_controllers(spec, want):
    assert select_controllers(spec, KNOWN) == want


def test_select_unknown_controller():
    with pytest.raises(UnknownController, match="unknown controller 'bogus'"):
        select_controllers("*,-bogus", KNOWN)


def test_load_controller_reports_why():
    assert load_controller("x", "minikube_py.controllers.base:Controller") is Controller
    with pytest.raises(ImportError, match="module minikube_py.controllers.nope does not exist"):
        load_controller("x", "minikube_py.controllers.nope:X")
    with pytest.raises(ImportError, match="has no class Nope"):
        load_controller("x", "minikube_py.controllers.base:Nope")


class Recorder(Controller):
    name = "recorder"

    def __init__(self, client, informers):
        super().__init__(client, informers)


class Broken(Controller):
    def __init__(self, client, informers):
        raise RuntimeError("boom")


def test_manager_builds_what_it_can_and_skips_the_rest():
    registry = {"ok": f"{__name__}:Recorder", "missing": "minikube_py.controllers.nope:X",
                "broken": f"{__name__}:Broken"}
    config = ControllerConfig(workers=7, node_monitor_grace_period=3)
    m = ControllerManager(client=None, controllers=list(registry), config=config, registry=registry)
    m.build()
    assert list(m.started) == ["ok"]
    assert set(m.skipped) == {"missing", "broken"}
    assert "does not exist" in m.skipped["missing"] and "boom" in m.skipped["broken"]
    ok = m.started["ok"]
    assert ok.config is config and ok.workers == 7 and ok.config.node_monitor_grace_period == 3


@pytest.mark.parametrize("text,seconds", [("40s", 40), ("40", 40), ("1m30s", 90), ("500ms", 0.5),
                                          ("2.5", 2.5), ("1h", 3600), (3, 3)])
def test_duration(text, seconds):
    assert DURATION.convert(text, None, None) == seconds


@pytest.mark.parametrize("text", ["soon", "5x", "s", "10s junk", "-3s", "-3", "nan"])
def test_bad_duration(text):
    with pytest.raises(click.BadParameter):
        DURATION.convert(text, None, None)


def test_election_timing():
    assert election_timing(15) == (15, 10, 2)
    lease, renew, retry = election_timing(4)
    assert lease > renew > retry > 0
    with pytest.raises(click.BadParameter):
        election_timing(4, renew_deadline=5)
