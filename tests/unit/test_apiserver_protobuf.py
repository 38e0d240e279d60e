"""Kubernetes protobuf request bodies decode to the dict their JSON would have given.

The first tests use bytes the real kubectl 1.32 sent (captured with -v=9), so a wrong
field number in k8sproto/*.proto cannot go unnoticed; the expected dicts are what
`kubectl create ... --dry-run=client -o json` prints for the same command (minus
`creationTimestamp: null`). The others build bodies with the generated classes, the
way Go does: every non-pointer field written, zero or not.
"""
import pytest

from minikube_py.apiserver import protobuf
from minikube_py.apiserver.k8sproto import (
    apps_pb2, batch_pb2, coordination_pb2, core_pb2, discovery_pb2, intstr_pb2, meta_pb2, policy_pb2, rbac_pb2,
    resource_pb2, runtime_pb2, storage_pb2, authentication_pb2,
)

# kubectl create namespace foo
KUBECTL_NAMESPACE = bytes.fromhex(
    "6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a0032003800420012001a02"
    "0a001a002200")

# kubectl create deployment web --image=nginx:1.25 --replicas=2 --port=80 -n default
KUBECTL_DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c4010a260a0377656212001a0764656661756c74"
    "22002a003200380042005a0a0a036170701203776562128b010802120c0a0a0a0361707012037765621a710a1c0a0012"
    "001a0022002a003200380042005a0a0a036170701203776562125112330a056e67696e78120a6e67696e783a312e3235"
    "2a00320a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a005200580060006800"
    "8201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200")

# kubectl debug node/n1 --image=busybox --profile=sysadmin
KUBECTL_DEBUG_POD = bytes.fromhex(
    "6b3873000a090a0276311203506f6412d0010a260a166e6f64652d64656275676765722d6e312d777663707412001a00"
    "22002a003200380042001293010a120a09686f73742d726f6f7412050a030a012f12490a086465627567676572120762"
    "757379626f782a0042004a180a09686f73742d726f6f7410001a052f686f7374220032006a0072007a02100180010088"
    "0100900100a2010446696c651a054e65766572320042004a0052026e315801600168018201008a01009a0100b2010e0a"
    "0012064578697374731a002200c201001a100a001a0022002a0032004a005a0072001a002200")


def body(api_version: str, kind: str, obj) -> bytes:
    """What client-go sends: magic, then runtime.Unknown wrapping the object's own bytes."""
    envelope = runtime_pb2.Unknown(typeMeta=runtime_pb2.TypeMeta(apiVersion=api_version, kind=kind),
                                   raw=obj.SerializeToString(), contentEncoding="", contentType="")
    return b"k8s\x00" + envelope.SerializeToString()


def go_meta(**kw):
    """ObjectMeta as Go writes it: the non-pointer fields always, even when empty."""
    fields = dict(name="", generateName="", namespace="", selfLink="", uid="", resourceVersion="",
                  generation=0, creationTimestamp=meta_pb2.Time())
    fields.update(kw)
    return meta_pb2.ObjectMeta(**fields)


def q(s):
    return resource_pb2.Quantity(string=s)


# ---------------------------------------------------------------- bytes from the real kubectl

def test_kubectl_create_namespace():
    assert protobuf.decode(KUBECTL_NAMESPACE) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}, "spec": {}, "status": {}}


def test_kubectl_create_deployment():
    assert protobuf.decode(KUBECTL_DEPLOYMENT) == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                                                       "ports": [{"containerPort": 80}], "resources": {}}]}},
                 "strategy": {}},
        "status": {}}


def test_kubectl_debug_node_pod():
    pod = protobuf.decode(KUBECTL_DEBUG_POD)
    assert pod["kind"] == "Pod" and pod["metadata"] == {"name": "node-debugger-n1-wvcpt"}
    spec = pod["spec"]
    assert spec["nodeName"] == "n1" and spec["hostPID"] and spec["hostNetwork"] and spec["hostIPC"]
    assert spec["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]   # VolumeSource inline
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["containers"] == [{"name": "debugger", "image": "busybox", "resources": {},
                                   "volumeMounts": [{"name": "host-root", "mountPath": "/host"}],
                                   "securityContext": {"privileged": True}, "terminationMessagePolicy": "File"}]


# ---------------------------------------------------------------- bodies built here

def test_namespace():
    ns = core_pb2.Namespace(metadata=go_meta(name="team-a", labels={"team": "a"}),
                            spec=core_pb2.NamespaceSpec(finalizers=["kubernetes"]),
                            status=core_pb2.NamespaceStatus(phase=""))
    assert protobuf.decode(body("v1", "Namespace", ns)) == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"team": "a"}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {}}


def test_deployment_with_container_details():
    container = core_pb2.Container(
        name="app", image="nginx:1.25", args=["-g", "daemon off;"], workingDir="", stdin=False,
        ports=[core_pb2.ContainerPort(name="http", containerPort=80, hostPort=0, protocol="TCP", hostIP="")],
        env=[core_pb2.EnvVar(name="MODE", value="prod"),
             core_pb2.EnvVar(name="KEY", value="", valueFrom=core_pb2.EnvVarSource(
                 configMapKeyRef=core_pb2.ConfigMapKeySelector(
                     localObjectReference=core_pb2.LocalObjectReference(name="cfg"), key="k", optional=False)))],
        resources=core_pb2.ResourceRequirements(requests={"cpu": q("500m"), "memory": q("1Gi")},
                                                limits={"nvidia.com/gpu": q("1")}))
    d = apps_pb2.Deployment(
        metadata=go_meta(name="web", namespace="prod", labels={"app": "web"}),
        spec=apps_pb2.DeploymentSpec(
            replicas=3, minReadySeconds=0, paused=False, revisionHistoryLimit=0,
            selector=meta_pb2.LabelSelector(matchLabels={"app": "web"}, matchExpressions=[
                meta_pb2.LabelSelectorRequirement(key="tier", operator="In", values=["a", "b"])]),
            template=core_pb2.PodTemplateSpec(metadata=go_meta(labels={"app": "web"}),
                                              spec=core_pb2.PodSpec(containers=[container], hostNetwork=False,
                                                                    restartPolicy="Always")),
            strategy=apps_pb2.DeploymentStrategy(type="RollingUpdate", rollingUpdate=apps_pb2.RollingUpdateDeployment(
                maxSurge=intstr_pb2.IntOrString(type=1, strVal="25%"),
                maxUnavailable=intstr_pb2.IntOrString(type=0, intVal=0)))),
        status=apps_pb2.DeploymentStatus(replicas=0, observedGeneration=0))
    assert protobuf.decode(body("apps/v1", "Deployment", d)) == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 0,          # *int32 in Go: a set 0 is kept
            "selector": {"matchLabels": {"app": "web"},
                         "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "restartPolicy": "Always",
                "containers": [{
                    "name": "app", "image": "nginx:1.25", "args": ["-g", "daemon off;"],
                    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                    "env": [{"name": "MODE", "value": "prod"},
                            {"name": "KEY", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k",
                                                                              "optional": False}}}],
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                  "limits": {"nvidia.com/gpu": "1"}}}]}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}},
        "status": {}}


def test_replicas_zero_is_kept_and_unset_is_absent():
    d = apps_pb2.Deployment(metadata=go_meta(name="a"), spec=apps_pb2.DeploymentSpec(replicas=0))
    assert protobuf.decode(body("apps/v1", "Deployment", d))["spec"] == {"replicas": 0}
    d = apps_pb2.Deployment(metadata=go_meta(name="a"), spec=apps_pb2.DeploymentSpec())
    assert protobuf.decode(body("apps/v1", "Deployment", d))["spec"] == {}


def test_pod_probes_volumes_times():
    probe = core_pb2.Probe(handler=core_pb2.ProbeHandler(httpGet=core_pb2.HTTPGetAction(
        path="/healthz", port=intstr_pb2.IntOrString(type=1, strVal="http"), host="", scheme="HTTP")),
        initialDelaySeconds=5, timeoutSeconds=0)
    pod = core_pb2.Pod(
        metadata=go_meta(name="p", generateName="p-", creationTimestamp=meta_pb2.Time(seconds=1767323045),
                         deletionGracePeriodSeconds=0),
        spec=core_pb2.PodSpec(
            containers=[core_pb2.Container(name="c", image="busybox", command=["sleep", "3600"],
                                           livenessProbe=probe, resources=core_pb2.ResourceRequirements())],
            volumes=[core_pb2.Volume(name="scratch", volumeSource=core_pb2.VolumeSource(
                emptyDir=core_pb2.EmptyDirVolumeSource(medium="", sizeLimit=q("64Mi"))))],
            tolerations=[core_pb2.Toleration(key="k", operator="Exists", effect="NoExecute", tolerationSeconds=0)],
            terminationGracePeriodSeconds=0, nodeSelector={"disk": "ssd"}),
        status=core_pb2.PodStatus(phase="", startTime=meta_pb2.Time()))
    assert protobuf.decode(body("v1", "Pod", pod)) == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "generateName": "p-", "creationTimestamp": "2026-01-02T03:04:05Z",
                     "deletionGracePeriodSeconds": 0},
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"], "resources": {},
                            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                                              "initialDelaySeconds": 5}}],
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}],
            "terminationGracePeriodSeconds": 0, "nodeSelector": {"disk": "ssd"}},
        "status": {}}


def test_lease_micro_time():
    lease = coordination_pb2.Lease(metadata=go_meta(name="n1", namespace="kube-node-lease"),
                                   spec=coordination_pb2.LeaseSpec(
                                       holderIdentity="n1", leaseDurationSeconds=40,
                                       renewTime=meta_pb2.MicroTime(seconds=1767323045, nanos=123456000)))
    assert protobuf.decode(body("coordination.k8s.io/v1", "Lease", lease))["spec"] == {
        "holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2026-01-02T03:04:05.123456Z"}


# ---------------------------------------------------------------- what is refused

def test_eviction_keeps_a_grace_period_of_zero():
    """drain --grace-period=0: gracePeriodSeconds is a Go pointer, so a 0 on the wire means "now"."""
    ev = policy_pb2.Eviction(metadata=go_meta(name="web-1", namespace="default"),
                             deleteOptions=meta_pb2.DeleteOptions(gracePeriodSeconds=0))
    assert protobuf.decode(body("policy/v1", "Eviction", ev)) == {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 0}}
    # unset stays absent (the pod's own terminationGracePeriodSeconds applies); preconditions, dryRun
    ev.deleteOptions.ClearField("gracePeriodSeconds")
    ev.deleteOptions.preconditions.uid = "u-1"
    ev.deleteOptions.dryRun.append("All")
    assert protobuf.decode(body("policy/v1", "Eviction", ev))["deleteOptions"] == {
        "preconditions": {"uid": "u-1"}, "dryRun": ["All"]}

@pytest.mark.parametrize("data", [
    b"",
    b"garbage",
    b'{"kind": "Pod"}',
    b"k8s\x00\xff\xff\xff",                                                  # a broken envelope
    b"k8s\x00" + runtime_pb2.Unknown(typeMeta=runtime_pb2.TypeMeta(apiVersion="v1", kind="Pod"),
                                     raw=b"\x0a\x05ab").SerializeToString(),  # raw cut short
])
def test_bad_bytes(data):
    with pytest.raises(protobuf.DecodeError):
        protobuf.decode(data)


def test_unsupported_kind():
    unknown = b"k8s\x00" + runtime_pb2.Unknown(typeMeta=runtime_pb2.TypeMeta(apiVersion="v1", kind="Frobnicator"),
                                                raw=b"").SerializeToString()
    with pytest.raises(protobuf.Unsupported, match="Frobnicator"):
        protobuf.decode(unknown)
    with pytest.raises(protobuf.Unsupported, match="Pod"):   # right kind, wrong group
        protobuf.decode(body("apps/v1", "Pod", core_pb2.Pod()))


def test_a_field_outside_the_subset_is_refused_unless_zero():
    spec = core_pb2.PodSpec(containers=[core_pb2.Container(name="c", image="busybox")])
    raw = spec.SerializeToString()
    # PodSpec field 38 (schedulingGates) is not in k8sproto: tag 38 << 3 | 2 is varint b2 02,
    # then a PodSchedulingGate{name: "abc"} of 5 bytes.
    gated = raw + b"\xb2\x02\x05\x0a\x03abc"
    pod = core_pb2.Pod(metadata=go_meta(name="p"), spec=core_pb2.PodSpec.FromString(gated))
    with pytest.raises(protobuf.Unsupported, match=r"spec sets field 38 of k8s\.io\.api\.core\.v1\.PodSpec"):
        protobuf.decode(body("v1", "Pod", pod))
    # zero values of unlisted fields (an empty message, 0 in field 40, a message of zeros) are
    # what Go always sends for its non-pointer fields
    zeros = raw + b"\xb2\x02\x00" + b"\xc0\x02\x00" + b"\xb2\x02\x02\x0a\x00"
    pod = core_pb2.Pod(metadata=go_meta(name="p"), spec=core_pb2.PodSpec.FromString(zeros))
    assert protobuf.decode(body("v1", "Pod", pod))["spec"] == {"containers": [{"name": "c", "image": "busybox"}]}


def test_a_string_that_is_not_utf8_is_bad_bytes():
    for meta in (b"\x0a\x01\xff",                  # name
                 b"\x5a\x06\x0a\x01\xff\x12\x01a",  # a label key
                 b"\x5a\x06\x0a\x01a\x12\x01\xff"):  # a label value
        raw = bytes([0x0a, len(meta)]) + meta
        data = b"k8s\x00" + runtime_pb2.Unknown(typeMeta=runtime_pb2.TypeMeta(apiVersion="v1", kind="Pod"),
                                                raw=raw).SerializeToString()
        with pytest.raises(protobuf.DecodeError):
            protobuf.decode(data)


def test_the_tables_name_real_messages_fields_and_served_kinds():
    from minikube_py.api.kinds import BUILTIN_KINDS, SUBRESOURCES
    messages = {}
    for mod in (meta_pb2, core_pb2, apps_pb2, coordination_pb2, policy_pb2, batch_pb2, rbac_pb2, discovery_pb2,
                storage_pb2, authentication_pb2):
        messages.update(mod.DESCRIPTOR.message_types_by_name)
    for table in (protobuf.ZERO_KEPT, protobuf.INLINE):
        for msg, fields in table.items():
            assert fields <= set(messages[msg].fields_by_name), msg
    for k in BUILTIN_KINDS:     # each declaration names a real message of its own kind
        if k.proto:
            assert protobuf.MESSAGES[k.proto].DESCRIPTOR.name == k.kind
    bodies = set()               # bodies POSTed to a subresource of a served kind (pods/eviction)
    for k in BUILTIN_KINDS:
        for sub in k.subresources:
            group, kind, _verbs = SUBRESOURCES[sub]
            if group and kind:
                bodies.add((f"{group}/v1", kind))
    assert set(protobuf.SUBRESOURCE_BODIES) <= bodies
    for name in protobuf.SUBRESOURCE_BODIES.values():
        assert name in protobuf.MESSAGES
    for api_version, kind in (("v1", "Namespace"), ("v1", "Pod"), ("apps/v1", "Deployment")):
        assert protobuf.message_class(api_version, kind) is not None


def test_secret_bytes_become_base64_as_in_json():
    secret = core_pb2.Secret(metadata=meta_pb2.ObjectMeta(name="db"), type="Opaque",
                             data={"password": b"s3cr3t\x00\xff"})
    assert protobuf.decode(body("v1", "Secret", secret)) == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque",
        "data": {"password": "czNjcjN0AP8="}}


def test_a_controller_revision_carries_its_data_as_embedded_json():
    rev = apps_pb2.ControllerRevision(
        metadata=go_meta(name="agent-5d8f7"), revision=2,
        data=runtime_pb2.RawExtension(raw=b'{"spec":{"template":{"$patch":"replace"}}}'))
    obj = protobuf.decode(body("apps/v1", "ControllerRevision", rev))
    assert obj["data"] == {"spec": {"template": {"$patch": "replace"}}}
    assert obj["revision"] == 2 and obj["metadata"]["name"] == "agent-5d8f7"
