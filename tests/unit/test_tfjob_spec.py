"""The TFJob operator's pure parts: defaults, TF_CONFIG, the replica's pod and Service, conditions."""
from __future__ import annotations

import json

from minikube_py.operators.tfjob import status as st
from minikube_py.operators.tfjob.crd import load_crd
from minikube_py.operators.tfjob.replicas import new_pod, new_service, slices
from minikube_py.operators.tfjob.spec import with_defaults
from minikube_py.operators.tfjob.tfconfig import cluster_spec, tf_config


def tfjob(replicas, **spec):
    return {"apiVersion": "kubeflow.org/v1", "kind": "TFJob",
            "metadata": {"name": "mnist", "namespace": "ml", "uid": "u-1"},
            "spec": dict(spec, tfReplicaSpecs={
                rtype: {"replicas": n, "template": {"spec": {"containers": [
                    {"name": "tensorflow", "image": "busybox"}]}}} for rtype, n in replicas.items()})}


def test_defaults_are_the_operators():
    job = with_defaults({"metadata": {"name": "j"}, "spec": {"tfReplicaSpecs": {
        "worker": {"template": {"spec": {"containers": [{"name": "tensorflow", "image": "tf"}]}}},
        "PS": {"template": {"spec": {"containers": [{"name": "other", "image": "x"},
                                                    {"name": "tensorflow", "image": "tf",
                                                     "ports": [{"name": "tfjob-port", "containerPort": 3333}]}]}}}}}})
    assert job["spec"]["runPolicy"] == {"cleanPodPolicy": "None"}
    assert job["spec"]["successPolicy"] == ""
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]               # any case -> camel case
    assert worker["replicas"] == 1 and worker["restartPolicy"] == "Never"
    assert worker["template"]["spec"]["containers"][0]["ports"] == [{"name": "tfjob-port", "containerPort": 2222}]
    ps = job["spec"]["tfReplicaSpecs"]["PS"]["template"]["spec"]["containers"]
    assert "ports" not in ps[0] and ps[1]["ports"] == [{"name": "tfjob-port", "containerPort": 3333}]


def test_defaults_leave_the_stored_object_alone():
    stored = tfjob({"Worker": 2})
    with_defaults(stored)
    assert "runPolicy" not in stored["spec"] and "restartPolicy" not in stored["spec"]["tfReplicaSpecs"]["Worker"]


def test_tf_config_is_written_as_the_operator_writes_it():
    job = with_defaults(tfjob({"PS": 1, "Worker": 2}))
    config = tf_config(job, "Worker", 1, cluster_domain="")
    assert config == ('{"cluster":{"ps":["mnist-ps-0.ml.svc:2222"],'
                      '"worker":["mnist-worker-0.ml.svc:2222","mnist-worker-1.ml.svc:2222"]},'
                      '"task":{"type":"worker","index":1},"environment":"cloud"}')
    assert json.loads(tf_config(job, "PS", 0, cluster_domain=""))["task"] == {"type": "ps", "index": 0}


def test_custom_cluster_domain_and_port(monkeypatch):
    job = tfjob({"Chief": 1, "Worker": 1})
    job["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["ports"] = [
        {"name": "tfjob-port", "containerPort": 3000}]
    job = with_defaults(job)
    monkeypatch.setenv("CUSTOM_CLUSTER_DOMAIN", "cluster.local")
    assert cluster_spec(job) == {"chief": ["mnist-chief-0.ml.svc.cluster.local:2222"],
                                 "worker": ["mnist-worker-0.ml.svc.cluster.local:3000"]}


def test_a_single_replica_gets_no_tf_config():
    job = with_defaults(tfjob({"Worker": 1}))
    assert tf_config(job, "Worker", 0) is None
    env = new_pod(job, "Worker", 0)["spec"]["containers"][0].get("env")
    assert not env


def test_dynamic_worker_tf_config_is_sparse():
    job = with_defaults(tfjob({"PS": 1, "Worker": 2}, enableDynamicWorker=True))
    assert json.loads(tf_config(job, "Worker", 1, cluster_domain="")) == {
        "cluster": {"worker": {"1": "mnist-worker-1.ml.svc:2222"}, "ps": ["mnist-ps-0.ml.svc:2222"]},
        "task": {"type": "worker", "index": 1}}


def test_the_pod_of_a_replica():
    job = with_defaults(tfjob({"PS": 1, "Worker": 2}))
    job["spec"]["tfReplicaSpecs"]["Worker"]["restartPolicy"] = "ExitCode"
    pod = new_pod(job, "Worker", 0)
    md = pod["metadata"]
    assert md["name"] == "mnist-worker-0" and md["namespace"] == "ml"
    assert md["labels"] == {"training.kubeflow.org/operator-name": "tfjob-controller",
                            "training.kubeflow.org/job-name": "mnist",
                            "training.kubeflow.org/replica-type": "worker",
                            "training.kubeflow.org/replica-index": "0",
                            "training.kubeflow.org/job-role": "master"}       # worker 0: no chief
    ref = md["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("TFJob", "u-1", True)
    assert pod["spec"]["restartPolicy"] == "Never"                           # ExitCode: the operator restarts
    env = pod["spec"]["containers"][0]["env"]
    assert env[-1]["name"] == "TF_CONFIG" and json.loads(env[-1]["value"])["task"] == {"type": "worker", "index": 0}
    assert "training.kubeflow.org/job-role" not in new_pod(job, "Worker", 1)["metadata"]["labels"]


def test_the_headless_service_of_a_replica():
    job = with_defaults(tfjob({"Worker": 2}))
    svc = new_service(job, "Worker", 1)
    assert svc["metadata"]["name"] == "mnist-worker-1"
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["ports"] == [{"name": "tfjob-port", "port": 2222}]
    assert svc["spec"]["selector"]["training.kubeflow.org/replica-index"] == "1"


def test_slices_group_by_index():
    pods = [{"metadata": {"labels": {"training.kubeflow.org/replica-type": "worker",
                                     "training.kubeflow.org/replica-index": str(i)}, "name": f"p{i}"}} for i in (0, 3)]
    got = slices(pods, "Worker", 2)
    assert [len(s) for s in got] == [1, 0, 0, 1]


def test_conditions_follow_the_operators_rules():
    status = {}
    st.update_condition(status, st.CREATED, True, "TFJobCreated", "created")
    st.update_condition(status, st.RUNNING, True, "TFJobRunning", "running")
    st.update_condition(status, st.RESTARTING, True, "TFJobRestarting", "restarting")
    assert [c["type"] for c in status["conditions"]] == ["Created", "Restarting"]   # Running removed
    st.update_condition(status, st.RUNNING, True, "TFJobRunning", "running")
    assert [c["type"] for c in status["conditions"]] == ["Created", "Running"]
    st.update_condition(status, st.SUCCEEDED, True, "TFJobSucceeded", "done")
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Created": "True", "Running": "False", "Succeeded": "True"}
    failed = {}
    st.update_condition(failed, st.FAILED, True, "TFJobFailed", "failed")
    st.update_condition(failed, st.RUNNING, True, "TFJobRunning", "running")    # nothing after Failed
    assert [c["type"] for c in failed["conditions"]] == ["Failed"]


def test_retryable_exit_codes():
    assert all(st.is_retryable_exit_code(c) for c in (130, 137, 138, 143))
    assert not any(st.is_retryable_exit_code(c) for c in (0, 1, 2, 127, None))


def test_the_crd_declares_the_kind():
    crd = load_crd()
    assert crd["metadata"]["name"] == "tfjobs.kubeflow.org"
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["State", "Age"]
