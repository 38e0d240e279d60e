import pytest

from minikube_py.api.selectors import FieldSelector, LabelSelector, SelectorError

LABELS = {"app": "web", "tier": "front", "env": "prod", "gen": "3"}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ("app=web", True), ("app==web", True), ("app=db", False),
    ("app!=db", True), ("app!=web", False), ("missing!=x", True),
    ("tier in (front,back)", True), ("tier in (back)", False), ("missing in (x)", False),
    ("tier notin (back)", True), ("tier notin (front, back)", False), ("missing notin (x)", True),
    ("app", True), ("missing", False), ("!missing", True), ("!app", False),
    ("app=web,tier=front", True), ("app=web,tier=back", False),
    ("  app = web ,  !canary  ", True),
    ("gen>2", True), ("gen<2", False), ("app>1", False),
    ("example.com/role", False), ("env=", False),
])
def test_label_selector_matches(text, expected):
    assert LabelSelector.parse(text).matches(LABELS) is expected


def test_empty_value_matches_missing_value():
    assert LabelSelector.parse("a=").matches({"a": ""})
    assert LabelSelector.parse("a in ()").matches({"a": ""})


def test_empty_selector():
    sel = LabelSelector.parse("  ")
    assert sel.empty and sel.matches(None) and sel.matches({})
    assert not LabelSelector.parse("a").empty
    assert LabelSelector.parse("!a").matches(None)


@pytest.mark.parametrize("bad", [
    "a=b=c", "a b", "a in x", "a in (x", "a in (x y)", ",", "a=b,", "=b", "!", "!=b",
    "a notin", "bad key=1", "a=b c", "a=-bad-", "a/b/c=1", "a>x", "(a)",
])
def test_label_selector_bad_syntax(bad):
    with pytest.raises(SelectorError):
        LabelSelector.parse(bad)


def test_error_message_is_clear():
    with pytest.raises(SelectorError, match="expected"):
        LabelSelector.parse("a in x")
    with pytest.raises(SelectorError, match="invalid label value"):
        LabelSelector.parse("a=-x")


def test_from_dict():
    sel = LabelSelector.from_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "back"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "app", "operator": "Exists"},
            {"key": "canary", "operator": "DoesNotExist"},
        ]})
    assert sel.matches(LABELS)
    assert not sel.matches({**LABELS, "canary": "yes"})
    assert not sel.matches({"app": "web"})
    assert sel.to_string() == "app=web,app,!canary,env notin (dev),tier in (back,front)"


def test_from_dict_empty_matches_all():
    for empty in (None, {}, {"matchLabels": {}}, {"matchLabels": None, "matchExpressions": []}):
        sel = LabelSelector.from_dict(empty)
        assert sel.empty and sel.matches({"x": "y"})


@pytest.mark.parametrize("bad", [
    {"matchExpressions": [{"key": "a", "operator": "Is", "values": ["x"]}]},
    {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
    {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
    {"matchLabels": {"a": "not valid"}},
    {"matchLabels": {"": "x"}},
    "app=web",
])
def test_from_dict_invalid(bad):
    with pytest.raises(SelectorError):
        LabelSelector.from_dict(bad)


def test_to_string_round_trip():
    text = "tier in (b,a),app=web,!canary,env!=dev,x notin (y),has"
    sel = LabelSelector.parse(text)
    assert sel.to_string() == "app=web,!canary,env!=dev,has,tier in (a,b),x notin (y)"
    assert LabelSelector.parse(sel.to_string()) == sel
    assert LabelSelector.from_dict({"matchLabels": {"app": "nginx"}}).to_string() == "app=nginx"
    assert str(LabelSelector.parse("a==b")) == "a=b"


POD = {"metadata": {"name": "web-1", "namespace": "default"},
       "spec": {"nodeName": "node-1", "unschedulable": False},
       "status": {"phase": "Running"},
       "involvedObject": {"kind": "Pod"}}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ("metadata.name=web-1", True), ("metadata.name==web-1", True), ("metadata.name=web-2", False),
    ("spec.nodeName!=node-2", True), ("spec.nodeName!=node-1", False),
    ("spec.nodeName=node-1,status.phase=Running", True),
    ("spec.nodeName=node-1,status.phase!=Running", False),
    ("status.podIP=", True), ("spec.nodeName=", False),
    ("spec.unschedulable=false", True), ("involvedObject.kind=Pod", True),
    ("metadata.name.deeper=x", False),
])
def test_field_selector_matches(text, expected):
    assert FieldSelector.parse(text).matches(POD) is expected


def test_field_selector_requirements_and_value_for():
    sel = FieldSelector.parse("metadata.name=web-1,status.phase!=Failed")
    assert sel.requirements == [("metadata.name", "=", "web-1"), ("status.phase", "!=", "Failed")]
    assert sel.value_for("metadata.name") == "web-1"
    assert sel.value_for("status.phase") is None
    assert sel.value_for("spec.nodeName") is None
    assert not sel.empty and FieldSelector.parse("").empty


def test_field_selector_escapes():
    sel = FieldSelector.parse(r"metadata.name=a\,b,status.phase=x")
    assert sel.value_for("metadata.name") == "a,b"
    assert sel.matches({"metadata": {"name": "a,b"}, "status": {"phase": "x"}})


@pytest.mark.parametrize("bad", ["metadata.name", "=x", "a=b,,c=d", "a<b", ","])
def test_field_selector_invalid(bad):
    with pytest.raises(SelectorError):
        FieldSelector.parse(bad)
