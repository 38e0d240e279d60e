"""Declarations of ReplicationController, LimitRange, ResourceQuota, the RBAC kinds,
EndpointSlice, Job and CronJob: defaults, validation causes, Table rows, protobuf decoding;
and the cron schedule parser."""
from __future__ import annotations

import pytest

from minikube_py.api import cron
from minikube_py.api.kinds import SCHEME, apply_defaults, validate, validate_update
from minikube_py.apiserver import protobuf
from minikube_py.apiserver.k8sproto import batch_pb2, core_pb2, meta_pb2, rbac_pb2, resource_pb2, runtime_pb2


def kind(name):
    return SCHEME.by_kind(name)


def fields(causes):
    return [(c["field"], c["message"]) for c in causes]


def container(**kw):
    return {"name": "c", "image": "busybox", **kw}


# ---------------------------------------------------------------- cron

@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 3 * * 1-5", "15,45 8-18/2 1 JAN-jun sun",
                                      "@hourly", "@every 1h30m", "0 0 ? * *", "5/15 * * * *"])
def test_schedules_kubernetes_accepts(schedule):
    cron.parse(schedule)


@pytest.mark.parametrize("schedule,message", [
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
])
def test_schedules_refused_with_robfig_crons_words(schedule, message):
    with pytest.raises(cron.CronError) as err:
        cron.parse(schedule)
    assert str(err.value) == message


def test_parse_gives_the_allowed_values():
    minute, hour, dom, month, dow = cron.parse("*/20 9-17/4 1,15 * mon-fri")
    assert minute == {0, 20, 40} and hour == {9, 13, 17} and dom == {1, 15}
    assert month == set(range(1, 13)) and dow == {1, 2, 3, 4, 5}


# ---------------------------------------------------------------- Job, CronJob

def new_job(uid="u-1", **spec):
    return {"metadata": {"name": "pi", "namespace": "d", "uid": uid},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container()]}}, **spec}}


def test_job_defaults_and_generated_selector():
    job = apply_defaults("Job", new_job())
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"], spec["completionMode"],
            spec["suspend"], spec["manualSelector"]) == (1, 1, 6, "NonIndexed", False, False)
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "u-1", "controller-uid": "u-1",
        "batch.kubernetes.io/job-name": "pi", "job-name": "pi"}
    assert job["metadata"]["labels"] == spec["template"]["metadata"]["labels"]
    assert validate("Job", job) == []
    parallel = apply_defaults("Job", new_job(parallelism=3))["spec"]
    assert "completions" not in parallel and parallel["parallelism"] == 3


def test_job_validation():
    always = apply_defaults("Job", new_job())
    always["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert fields(validate("Job", always)) == [(
        "spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", "Never"')]   # as upstream
    indexed = apply_defaults("Job", new_job(completionMode="Indexed", parallelism=2, backoffLimit=-1))
    assert fields(validate("Job", indexed)) == [
        ("spec.backoffLimit", "Invalid value: -1: must be greater than or equal to 0"),
        ("spec.completions", "Required value: when completion mode is Indexed")]
    stolen = apply_defaults("Job", new_job())
    stolen["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] = "other"
    assert ("spec.selector" in dict(fields(validate("Job", stolen))))
    manual = apply_defaults("Job", new_job(manualSelector=True, selector={"matchLabels": {"app": "x"}}))
    assert "controller-uid" not in (manual["spec"]["template"].get("metadata") or {}).get("labels", {})
    assert fields(validate("Job", manual)) == [
        ("spec.template.metadata.labels", "Invalid value: {}: `selector` does not match template `labels`")]


def test_job_update_keeps_selector_and_template():
    old = apply_defaults("Job", new_job())
    new = apply_defaults("Job", new_job())
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "alpine"
    new["spec"]["parallelism"] = 4                    # may change
    assert [c["field"] for c in validate_update("Job", old, new)] == ["spec.template"]


def new_cronjob(**spec):
    job_spec = {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [container()]}}}
    return {"metadata": {"name": "nightly", "namespace": "d"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": job_spec}, **spec}}


def test_cronjob_defaults_and_validation():
    cj = apply_defaults("CronJob", new_cronjob())
    assert {k: cj["spec"][k] for k in ("concurrencyPolicy", "suspend", "successfulJobsHistoryLimit",
                                        "failedJobsHistoryLimit")} == \
        {"concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    assert "completions" not in cj["spec"]["jobTemplate"]["spec"]    # a JobSpec in a template is not defaulted
    assert validate("CronJob", cj) == []
    bad = apply_defaults("CronJob", new_cronjob(schedule="TZ=UTC 0 3 * * *", concurrencyPolicy="Sometimes",
                                                 timeZone="Mars/Olympus"))
    bad["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    assert fields(validate("CronJob", bad)) == [
        ("spec.schedule", 'Invalid value: "TZ=UTC 0 3 * * *": cannot use TZ or CRON_TZ in schedule, '
                          'use timeZone field instead'),
        ("spec.timeZone", 'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'),
        ("spec.concurrencyPolicy", 'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"'),
        ("spec.jobTemplate.spec.selector", 'Invalid value: {"matchLabels":{"a":"b"}}: `selector` will be '
                                           'auto-generated')]
    long_name = apply_defaults("CronJob", new_cronjob())
    long_name["metadata"]["name"] = "n" * 53
    assert fields(validate("CronJob", long_name)) == [
        ("metadata.name", f'Invalid value: "{"n" * 53}": must be no more than 52 characters')]


def test_job_and_cronjob_rows():
    job = apply_defaults("Job", new_job())
    job["status"] = {"succeeded": 1, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:01:05Z",
                     "conditions": [{"type": "Complete", "status": "True"}]}
    row = kind("Job").row(job)
    assert row[:4] == ["pi", "Complete", "1/1", "65s"] and row[5:7] == ["c", "busybox"]
    cj = apply_defaults("CronJob", new_cronjob(timeZone="Europe/Paris"))
    cj["status"] = {"active": [{"name": "nightly-1"}]}
    assert kind("CronJob").row(cj)[:6] == ["nightly", "0 3 * * *", "Europe/Paris", "False", 1, "<none>"]


# ---------------------------------------------------------------- ReplicationController

def new_rc(selector=None, labels=None):
    spec = {"template": {"metadata": {"labels": labels or {"app": "web"}},
                         "spec": {"containers": [container()]}}}
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": "web", "namespace": "d"}, "spec": spec}


def test_rc_defaults_selector_labels_and_replicas_from_its_template():
    rc = apply_defaults("ReplicationController", new_rc())
    assert rc["spec"]["selector"] == {"app": "web"} and rc["metadata"]["labels"] == {"app": "web"}
    assert rc["spec"]["replicas"] == 1 and rc["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert validate("ReplicationController", rc) == []
    row = kind("ReplicationController").row(rc)
    assert row[:4] == ["web", 1, 0, 0] and row[-1] == "app=web"


def test_rc_validation():
    rc = apply_defaults("ReplicationController", new_rc(selector={"app": "db"}))
    assert fields(validate("ReplicationController", rc)) == [
        ("spec.template.metadata.labels", 'Invalid value: {"app":"web"}: `selector` does not match template `labels`')]
    no_template = {"metadata": {"name": "x"}, "spec": {"selector": {"a": "b"}}}
    apply_defaults("ReplicationController", no_template)
    assert fields(validate("ReplicationController", no_template)) == [("spec.template", "Required value")]
    # its selector may change (apps/v1's may not)
    old = apply_defaults("ReplicationController", new_rc())
    new = apply_defaults("ReplicationController", new_rc(selector={"app": "web", "x": "y"}, labels={"app": "web", "x": "y"}))
    assert validate_update("ReplicationController", old, new) == []


# ---------------------------------------------------------------- LimitRange, ResourceQuota

def test_limit_range_validation():
    lr = {"metadata": {"name": "l"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "1"}, "max": {"cpu": "2"},
         "maxLimitRequestRatio": {"memory": "500m"}},
        {"type": "Pod", "defaultRequest": {"cpu": "1"}},
        {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}},
        {"type": "Container"}]}}
    assert fields(validate("LimitRange", lr)) == [
        ("spec.limits[0].defaultRequest[cpu]", 'Invalid value: "1": default request value 1 is greater than '
                                               'default limit value 500m'),
        ("spec.limits[0].maxLimitRequestRatio[memory]", 'Invalid value: "500m": ratio 500m is less than 1'),
        ("spec.limits[1].defaultRequest", "Forbidden: may not be specified when `type` is 'Pod'"),
        ("spec.limits[2].limits", "Required value: either minimum or maximum storage value is required, "
                                  "but neither was provided"),
        ("spec.limits[3].type", 'Duplicate value: "Container"')]
    assert kind("LimitRange").decode_check({"spec": {"limits": [{"type": "Container", "max": {"cpu": "x"}}]}}) \
        .startswith("quantities must match the regular expression")


def test_resource_quota_validation_and_row():
    rq = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "1Gi",
                                                       "count/deployments.apps": "3"}}}
    assert validate("ResourceQuota", rq) == []
    assert kind("ResourceQuota").row(rq)[2:] == ["count/deployments.apps: 0/3, pods: 0/10, requests.cpu: 0/2",
                                                 "limits.memory: 0/1Gi"]
    rq["status"] = {"hard": {"pods": "10"}, "used": {"pods": "4"}}
    assert kind("ResourceQuota").row(rq)[2:] == ["pods: 4/10", ""]
    bad = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "-1", "cpu": "1"}, "scopes": ["BestEffort", "Nope"],
                                               "scopeSelector": {"matchExpressions": [
                                                   {"scopeName": "PriorityClass", "operator": "In"}]}}}
    assert fields(validate("ResourceQuota", bad)) == [
        ("spec.hard[pods]", 'Invalid value: "-1": must be greater than or equal to 0'),
        ("spec.scopes", 'Invalid value: ["BestEffort","Nope"]: unsupported scope applied to resource'),
        ("spec.scopes", 'Invalid value: ["BestEffort","Nope"]: unsupported scope'),
        ("spec.scopeSelector.matchExpressions.values",
         "Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector")]


# ---------------------------------------------------------------- RBAC

def test_rbac_defaults_and_validation():
    rb = {"metadata": {"name": "rb", "namespace": "d"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "robot"}]}
    apply_defaults("RoleBinding", rb)
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert rb["subjects"] == [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                              {"kind": "ServiceAccount", "name": "robot"}]
    assert validate("RoleBinding", rb) == []
    # in a ClusterRoleBinding, a ServiceAccount needs its namespace; and only ClusterRoles are bound
    crb = dict(rb, metadata={"name": "crb"}, roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                      "name": "x"})
    assert fields(validate("ClusterRoleBinding", crb)) == [
        ("roleRef.kind", 'Unsupported value: "Role": supported values: "ClusterRole"'),
        ("subjects[1].namespace", "Required value")]
    changed = dict(rb, roleRef=dict(rb["roleRef"], name="edit"))
    assert fields(validate_update("RoleBinding", rb, changed))[0][1].endswith("cannot change roleRef")
    role = {"metadata": {"name": "system:x"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}
    assert validate("ClusterRole", role) == []
    assert fields(validate("Role", role)) == [
        ("rules[0].nonResourceURLs", 'Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs')]
    assert fields(validate("ClusterRole", {"metadata": {"name": "a/b"}, "aggregationRule": {}})) == [
        ("metadata.name", "Invalid value: \"a/b\": may not contain '/'"),
        ("aggregationRule.clusterRoleSelectors",
         "Required value: at least one clusterRoleSelector required if aggregationRule is non-nil")]


# ---------------------------------------------------------------- EndpointSlice

def test_endpoint_slice():
    es = {"metadata": {"name": "web-x"}, "addressType": "IPv4",
          "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "127.0.0.1"]},
                        {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]}],
          "ports": [{"port": 80}]}
    apply_defaults("EndpointSlice", es)
    assert es["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert fields(validate("EndpointSlice", es)) == [
        ("endpoints[1].addresses[1]", 'Invalid value: "127.0.0.1": may not be in the loopback range '
                                      '(127.0.0.0/8, ::1/128)')]
    assert kind("EndpointSlice").row(es)[1:4] == ["IPv4", "80", "10.0.0.1,10.0.0.2,127.0.0.1 + 2 more..."]
    assert fields(validate_update("EndpointSlice", es, dict(es, addressType="IPv6"))) == [
        ("addressType", 'Invalid value: "IPv6": field is immutable')]


# ---------------------------------------------------------------- protobuf

def body(api_version, kind_name, msg):
    return b"k8s\x00" + runtime_pb2.Unknown(typeMeta=runtime_pb2.TypeMeta(apiVersion=api_version, kind=kind_name),
                                            raw=msg.SerializeToString()).SerializeToString()


def test_protobuf_keeps_zero_pointers_and_drops_go_zero_values():
    cj = batch_pb2.CronJob(
        metadata=meta_pb2.ObjectMeta(name="c", namespace=""),
        spec=batch_pb2.CronJobSpec(schedule="@daily", suspend=False, concurrencyPolicy="",
                                   jobTemplate=batch_pb2.JobTemplateSpec(spec=batch_pb2.JobSpec(
                                       parallelism=0, template=core_pb2.PodTemplateSpec()))))
    decoded = protobuf.decode(body("batch/v1", "CronJob", cj))
    assert decoded["spec"] == {"schedule": "@daily", "suspend": False,
                               "jobTemplate": {"spec": {"parallelism": 0, "template": {}}}}
    rq = core_pb2.ResourceQuota(metadata=meta_pb2.ObjectMeta(name="q"), spec=core_pb2.ResourceQuotaSpec(
        hard={"pods": resource_pb2.Quantity(string="10")}, scopes=["BestEffort"]))
    assert protobuf.decode(body("v1", "ResourceQuota", rq))["spec"] == {"hard": {"pods": "10"}, "scopes": ["BestEffort"]}
    rb = rbac_pb2.RoleBinding(metadata=meta_pb2.ObjectMeta(name="rb"),
                              roleRef=rbac_pb2.RoleRef(apiGroup="", kind="Role", name="r"),
                              subjects=[rbac_pb2.Subject(kind="ServiceAccount", apiGroup="", name="s", namespace="")])
    decoded = protobuf.decode(body("rbac.authorization.k8s.io/v1", "RoleBinding", rb))
    assert decoded["roleRef"] == {"apiGroup": "", "kind": "Role", "name": "r"}      # json:"apiGroup", no omitempty
    assert decoded["subjects"] == [{"kind": "ServiceAccount", "name": "s"}]
