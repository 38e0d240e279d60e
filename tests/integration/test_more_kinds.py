"""Jobs, CronJobs, RBAC objects, ResourceQuotas, LimitRanges, EndpointSlices and
ReplicationControllers, driven by the real kubectl (whose typed `create` generators send
protobuf) and the official Python client, against a real apiserver on a real etcd."""
from __future__ import annotations

import json
import threading
import time

import pytest

PROTOBUF = "Content-Type: application/vnd.kubernetes.protobuf"
# What `--dry-run=client -o json` prints that a server fills in or leaves out.
EMPTY = (None, {}, [])


def assert_arrived(sent, got, path=""):
    """Every field kubectl sent (as its client-side dry run shows it) is in the stored object."""
    if isinstance(sent, dict):
        for key, value in sent.items():
            if value in EMPTY:
                continue
            assert isinstance(got, dict) and key in got, f"{path}.{key} did not arrive"
            assert_arrived(value, got[key], f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(got, list) and len(got) == len(sent), f"{path}: {got!r} != {sent!r}"
        for i, (s, g) in enumerate(zip(sent, got)):
            assert_arrived(s, g, f"{path}[{i}]")
    else:
        assert sent == got, f"{path}: sent {sent!r}, stored {got!r}"


GENERATORS = [
    ("job", ["create", "job", "hello", "--image=busybox", "--", "echo", "hi"]),
    ("cronjob", ["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *",
                 "--restart=Never", "--", "date"]),
    ("role", ["create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods,deployments.apps",
              "--resource-name=a", "--resource-name=b"]),
    ("rolebinding", ["create", "rolebinding", "read-pods", "--role=pod-reader", "--user=alice",
                     "--group=devs", "--serviceaccount=kube-system:robot"]),
    ("resourcequota", ["create", "quota", "small", "--hard=pods=10,requests.cpu=2,limits.memory=4Gi",
                       "--scopes=NotTerminating"]),
]


def test_each_generator_sends_protobuf_and_every_field_arrives(kubectl, namespace):
    for kind, args in GENERATORS:     # (flags go before a command's `--`)
        sent = json.loads(kubectl(*args[:3], "-n", namespace, "--dry-run=client", "-o", "json", *args[3:]).stdout)
        out = kubectl(*args[:3], "-n", namespace, "-v=8", *args[3:])
        assert " created" in out.stdout and PROTOBUF in out.stderr, (kind, out.stderr[-2000:])
        stored = json.loads(kubectl("get", kind, sent["metadata"]["name"], "-n", namespace, "-o", "json").stdout)
        assert_arrived(sent, stored, kind)


def test_cluster_scoped_generators(kubectl):
    out = kubectl("create", "clusterrole", "t-node-reader", "--verb=get", "--resource=nodes",
                  "--non-resource-url=/healthz", "--non-resource-url=/metrics", "-v=8")
    assert PROTOBUF in out.stderr
    role = json.loads(kubectl("get", "clusterrole", "t-node-reader", "-o", "json").stdout)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
                             {"nonResourceURLs": ["/healthz", "/metrics"], "verbs": ["get"]}]
    kubectl("create", "clusterrole", "t-agg", "--aggregation-rule=rbac.example.com/aggregate-to-view=true")
    agg = json.loads(kubectl("get", "clusterrole", "t-agg", "-o", "json").stdout)
    assert agg["aggregationRule"] == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.example.com/aggregate-to-view": "true"}}]}
    out = kubectl("create", "clusterrolebinding", "t-read-nodes", "--clusterrole=t-node-reader",
                  "--user=bob", "--serviceaccount=default:robot", "-v=8")
    assert PROTOBUF in out.stderr
    lines = kubectl("get", "clusterrolebinding", "t-read-nodes", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert lines[1].split()[:2] == ["t-read-nodes", "ClusterRole/t-node-reader"]
    assert lines[1].split()[-2:] == ["bob", "default/robot"]
    roles = kubectl("get", "clusterroles").stdout.splitlines()
    assert roles[0].split() == ["NAME", "CREATED", "AT"]
    kubectl("delete", "clusterrolebinding", "t-read-nodes")
    kubectl("delete", "clusterrole", "t-node-reader", "t-agg")


def test_get_shows_the_columns_kubectl_prints(kubectl, namespace):
    ns = ["-n", namespace]
    kubectl("create", "job", "hello", "--image=busybox", *ns)
    kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=@hourly", *ns)
    kubectl("create", "job", "manual", "--from=cronjob/tick", *ns)
    kubectl("create", "role", "r", "--verb=get", "--resource=pods", *ns)
    kubectl("create", "rolebinding", "rb", "--role=r", "--user=alice", "--serviceaccount=x:robot", *ns)
    kubectl("create", "quota", "q", "--hard=pods=10,limits.cpu=2", *ns)

    jobs = kubectl("get", "jobs", *ns).stdout.splitlines()
    assert jobs[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert [line.split()[:3] for line in jobs[1:]] == [["hello", "Running", "0/1"], ["manual", "Running", "0/1"]]
    cronjobs = kubectl("get", "cronjobs", *ns).stdout.splitlines()
    assert cronjobs[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert cronjobs[1].split()[:6] == ["tick", "@hourly", "<none>", "False", "0", "<none>"]
    roles = kubectl("get", "roles", *ns).stdout.splitlines()
    assert roles[0].split() == ["NAME", "CREATED", "AT"] and roles[1].startswith("r ")
    bindings = kubectl("get", "rolebindings", "-o", "wide", *ns).stdout.splitlines()
    assert bindings[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert bindings[1].split()[:2] == ["rb", "Role/r"] and bindings[1].split()[-2:] == ["alice", "x/robot"]
    quotas = kubectl("get", "quota", *ns).stdout.splitlines()
    assert quotas[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert "pods: 0/10" in quotas[1] and "limits.cpu: 0/2" in quotas[1]
    everything = kubectl("get", "all", *ns).stdout
    assert "job.batch/hello" in everything and "cronjob.batch/tick" in everything

    manual = json.loads(kubectl("get", "job", "manual", "-o", "json", *ns).stdout)
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert manual["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    uid = manual["metadata"]["uid"]
    assert manual["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = manual["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "manual" and labels["controller-uid"] == uid
    assert {k: manual["spec"][k] for k in ("completions", "parallelism", "backoffLimit", "completionMode")} == \
        {"completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed"}
    assert manual["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_endpoint_slices_and_limit_ranges_from_manifests(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input="""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
  conditions: {ready: true}
  nodeName: node-1
  targetRef: {kind: Pod, name: web-1, namespace: default}
- addresses: [10.1.0.6]
  conditions: {ready: false}
ports:
- {name: http, port: 80}
- {name: https, port: 443}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 100m}
    max: {cpu: "2"}
""")
    slices = kubectl("get", "endpointslices", "-n", namespace).stdout.splitlines()
    assert slices[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert slices[1].split()[:4] == ["web-abc", "IPv4", "80,443", "10.1.0.5,10.1.0.6"]
    es = json.loads(kubectl("get", "endpointslice", "web-abc", "-n", namespace, "-o", "json").stdout)
    assert es["ports"][0] == {"name": "http", "port": 80, "protocol": "TCP"}
    assert es["endpoints"][0]["targetRef"]["name"] == "web-1"
    limits = kubectl("get", "limits", "-n", namespace).stdout.splitlines()
    assert limits[0].split() == ["NAME", "CREATED", "AT"] and limits[1].startswith("defaults ")


BAD = [
    # (manifest or kubectl args, what stderr must say)
    (["create", "cronjob", "c1", "--image=busybox", "--schedule=61 * * * *"],
     'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'),
    (["create", "cronjob", "c2", "--image=busybox", "--schedule=* * *"],
     "expected exactly 5 fields, found 3: [* * *]"),
    (["create", "cronjob", "c3", "--image=busybox", "--schedule=CRON_TZ=UTC 0 * * * *"],
     "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    (["create", "quota", "q1", "--hard=pods=1.5"], 'spec.hard[pods]: Invalid value: "1500m": must be an integer'),
    (["create", "quota", "q2", "--hard=widgets=1"],
     'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota'),
    (["create", "quota", "q3", "--hard=pods=1", "--scopes=Terminating,NotTerminating"], "conflicting scopes"),
    ("""
apiVersion: batch/v1
kind: Job
metadata: {name: j1}
spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}
""", 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),   # as 1.32 says it
    ("""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r1}
rules: [{resources: [pods], apiGroups: [""]}, {verbs: [get], nonResourceURLs: [/healthz]}]
""", "rules[0].verbs: Required value: verbs must contain at least one value"),
    ("""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb1}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Deployment, name: x}
subjects: [{kind: Robot, name: r2}]
""", 'roleRef.kind: Unsupported value: "Deployment": supported values: "Role", "ClusterRole"'),
    ("""
apiVersion: v1
kind: LimitRange
metadata: {name: l1}
spec: {limits: [{type: Container, min: {cpu: "2"}, max: {cpu: "1"}}]}
""", 'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1'),
    ("""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: e1}
addressType: IPv4
endpoints: [{addresses: [not-an-ip]}]
""", 'endpoints[0].addresses[0]: Invalid value: "not-an-ip": must be a valid IPv4 address'),
    ("""
apiVersion: v1
kind: ReplicationController
metadata: {name: rc1}
spec:
  selector: {app: a}
  template: {metadata: {labels: {app: b}}, spec: {containers: [{name: c, image: busybox}]}}
""", "spec.template.metadata.labels: Invalid value: {\"app\":\"b\"}: `selector` does not match template `labels`"),
]


def test_bad_input_gets_the_right_causes_and_nothing_is_written(kubectl, namespace):
    for what, message in BAD:
        if isinstance(what, list):
            out = kubectl(*what, "-n", namespace, check=False)
        else:
            out = kubectl("apply", "-n", namespace, "-f", "-", input=what, check=False)
        assert out.returncode != 0 and message in out.stderr, (what, out.stderr)
    listed = kubectl("get", "cronjobs,jobs,quota,roles,rolebindings,limits,endpointslices,rc",
                     "-n", namespace, "-o", "name").stdout
    assert listed.strip() == ""


def test_role_ref_cannot_change(kubectl, namespace):
    kubectl("create", "rolebinding", "rb", "--clusterrole=view", "--user=alice", "-n", namespace)
    out = kubectl("patch", "rolebinding", "rb", "-n", namespace, "--type=merge",
                  "-p", '{"roleRef": {"name": "edit"}}', check=False)
    assert out.returncode != 0 and "roleRef: Invalid value" in out.stderr and "cannot change roleRef" in out.stderr
    kubectl("patch", "rolebinding", "rb", "-n", namespace, "--type=merge",
            "-p", '{"subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]}')


def test_official_python_client_replication_controllers_and_friends(cluster, namespace):
    from kubernetes import client, config, watch
    config.load_kube_config(cluster.kubeconfig)
    v1 = client.CoreV1Api()
    body = client.V1ReplicationController(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ReplicationControllerSpec(
            replicas=0, template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="nginx")]))))
    rc = v1.create_namespaced_replication_controller(namespace, body)
    assert rc.spec.selector == {"app": "web"} and rc.metadata.labels == {"app": "web"}   # defaulted
    assert [r.metadata.name for r in v1.list_namespaced_replication_controller(namespace).items] == ["web"]
    scale = v1.patch_namespaced_replication_controller_scale("web", namespace, {"spec": {"replicas": 0}})
    assert scale.status.selector == "app=web"

    def later():
        time.sleep(0.5)
        v1.patch_namespaced_replication_controller("web", namespace, {"spec": {"minReadySeconds": 5}})
        v1.delete_namespaced_replication_controller("web", namespace)
    threading.Thread(target=later).start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_replication_controller, namespace,
                       resource_version=rc.metadata.resource_version, timeout_seconds=10):
        seen.append((ev["type"], ev["object"].spec.min_ready_seconds))
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("MODIFIED", 5), ("DELETED", 5)]
    with pytest.raises(client.ApiException) as err:
        v1.read_namespaced_replication_controller("web", namespace)
    assert err.value.status == 404

    rbac = client.RbacAuthorizationV1Api()
    rbac.create_namespaced_role(namespace, client.V1Role(
        metadata=client.V1ObjectMeta(name="reader"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get"])]))
    binding = rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="reader"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="reader"),
        subjects=[client.RbacV1Subject(kind="User", name="alice")]))
    assert binding.subjects[0].api_group == "rbac.authorization.k8s.io"          # defaulted
    batch = client.BatchV1Api()
    job = batch.create_namespaced_job(namespace, client.V1Job(
        metadata=client.V1ObjectMeta(name="once"),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never", containers=[client.V1Container(name="c", image="busybox")])))))
    assert job.spec.completions == 1 and job.spec.backoff_limit == 6
    assert job.spec.selector.match_labels["batch.kubernetes.io/controller-uid"] == job.metadata.uid
    cj = batch.create_namespaced_cron_job(namespace, client.V1CronJob(
        metadata=client.V1ObjectMeta(name="nightly"),
        spec=client.V1CronJobSpec(schedule="0 3 * * *", time_zone="Europe/Paris", job_template=client.V1JobTemplateSpec(
            spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                restart_policy="OnFailure", containers=[client.V1Container(name="c", image="busybox")])))))))
    assert cj.spec.concurrency_policy == "Allow" and cj.spec.successful_jobs_history_limit == 3
    with pytest.raises(client.ApiException) as err:
        batch.patch_namespaced_cron_job("nightly", namespace, {"spec": {"timeZone": "Mars/Olympus"}})
    assert err.value.status == 422 and "unknown time zone Mars/Olympus" in err.value.body
