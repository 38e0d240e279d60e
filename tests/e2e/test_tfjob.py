"""TFJobs on a real cluster: `minikube-py up` (tf-operator, cluster DNS, simulated GPUs), real
Docker containers, the real kubectl, and Kubeflow's training SDK.

The replicas are busybox: what is tested is the operator's part -- the pods, their
headless Services, TF_CONFIG's names resolving through the cluster DNS, restarts, GPUs --
not TensorFlow (lab/build-tf-image.sh and tests/e2e/test_tfjob_training.py train for real).
"""
from __future__ import annotations

import json
import os
import sys
import uuid

import pytest
from dockerutil import list_containers  # noqa: E402  (tests/dockerutil.py)
from polling import wait_for  # tests/polling.py
from test_cluster_up import run  # noqa: E402  (tests/e2e/ is on sys.path)

# Each replica pings every address in its TF_CONFIG (retrying while the others start),
# prints "<host> -> <ip>", and stays a while so that the slower ones can reach it too.
# ping resolves as TensorFlow does (libc getaddrinfo: with ndots:5 "x.ns.svc" goes through
# the search list, "x.ns.svc.cluster.local" answers); busybox nslookup would not: it
# applies the search list only to names without a dot.
RESOLVE_PEERS = r"""
echo "TF_CONFIG=$TF_CONFIG"
for hp in $(echo "$TF_CONFIG" | grep -o '[a-z0-9][a-z0-9.-]*:[0-9][0-9]*'); do
  host=${hp%:*}
  for i in $(seq 1 90); do
    ip=$(ping -c 1 -W 2 "$host" 2>/dev/null | sed -n 's/^64 bytes from \([0-9.]*\):.*/\1/p')
    [ -n "$ip" ] && break
    sleep 1
  done
  echo "$host -> ${ip:-unreachable}"
done
sleep 15
"""


@pytest.fixture(scope="module")
def up_cluster(lab_images, tmp_path_factory):
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("up-tfjob"))
    prefix = f"tf{uuid.uuid4().hex[:4]}"
    cli = [sys.executable, "-m", "minikube_py.cli.minikube"]
    out = run(*cli, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "1",
              "--gpus-per-node", "2", "--node-prefix", prefix, timeout=240).stdout
    assert "Cluster is up" in out and "Starting tf-operator" in out, out
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)
    yield {"env": env, "state": state, "node": f"{prefix}-1", "docker": lab_images}
    run(*cli, "down", "--state-dir", state, timeout=120)
    assert list_containers(lab_images, all=True, filters={"label": f"io.minikube-py.node={prefix}-1"}) == []


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def get(cluster, *what):
    return json.loads(kubectl(cluster, "get", *what, "-o", "json").stdout)


def get_if_there(cluster, *what):
    """The object, or None while it does not exist (a pod between its deletion and the one
    made in its place: they share a name, so the new one waits until the old one is gone)."""
    proc = kubectl(cluster, "get", *what, "-o", "json", check=False)
    if proc.returncode != 0 and "NotFound" in proc.stderr:
        return None
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def conditions(job):
    return {c["type"]: c["status"] for c in (job.get("status") or {}).get("conditions") or []}


def tfjob(name, replicas, script, restart="Never", resources=None, **spec):
    container = {"name": "tensorflow", "image": "busybox", "command": ["sh", "-c", script]}
    if resources:
        container["resources"] = resources
    return {"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": name},
            "spec": dict(spec, tfReplicaSpecs={
                rtype: {"replicas": n, "restartPolicy": restart,
                        "template": {"spec": {"terminationGracePeriodSeconds": 1, "containers": [container]}}}
                for rtype, n in replicas.items()})}


def wait_state(cluster, name, state, timeout=150):
    return wait_for(lambda: conditions(job := get(cluster, "tfjob", name)).get(state) == "True" and job,
                    timeout=timeout, interval=1, what=f"TFJob {name} {state}")


def test_workers_reach_each_other_by_their_tf_config_names_and_the_job_succeeds(up_cluster):
    kubectl(up_cluster, "create", "-f", "-", input=json.dumps(tfjob(
        "dist", {"PS": 1, "Worker": 2}, RESOLVE_PEERS, successPolicy="AllWorkers",
        runPolicy={"cleanPodPolicy": "Running"})))
    wait_state(up_cluster, "dist", "Running")
    ips = wait_for(lambda: all((ips := {p["metadata"]["name"]: p["status"].get("podIP") for p in get(
        up_cluster, "pods", "-l", "training.kubeflow.org/job-name=dist")["items"]}).values()) and len(ips) == 3
        and ips, what="the replicas' pod IPs")
    assert set(ips) == {"dist-ps-0", "dist-worker-0", "dist-worker-1"}
    svcs = kubectl(up_cluster, "get", "svc", "-l", "training.kubeflow.org/job-name=dist").stdout
    assert all(f"{n} " in svcs for n in ips) and svcs.count("None") == 3, svcs
    job = wait_state(up_cluster, "dist", "Succeeded")
    assert job["status"]["replicaStatuses"]["Worker"] == {"succeeded": 2}
    for worker in ("dist-worker-0", "dist-worker-1"):
        log = kubectl(up_cluster, "logs", worker).stdout
        print(log)
        config = json.loads(log.splitlines()[0].partition("=")[2])
        assert config["cluster"]["worker"] == ["dist-worker-0.default.svc:2222", "dist-worker-1.default.svc:2222"]
        assert config["task"] == {"type": "worker", "index": int(worker[-1])}
        for name, ip in ips.items():
            assert f"{name}.default.svc -> {ip}" in log, (name, ip, log)
    # cleanPodPolicy Running: a finished job keeps no running pod (here every replica has exited)
    wait_for(lambda: all(p["status"].get("phase") in ("Succeeded", "Failed") for p in get(
        up_cluster, "pods", "-l", "training.kubeflow.org/job-name=dist")["items"]), what="no replica running")
    row = kubectl(up_cluster, "get", "tfjob", "dist").stdout.splitlines()[1].split()
    assert row[:2] == ["dist", "Succeeded"]
    kubectl(up_cluster, "delete", "tfjob", "dist")


def test_a_worker_killed_with_137_is_made_again_under_exit_code_and_the_job_succeeds(up_cluster):
    kubectl(up_cluster, "create", "-f", "-", input=json.dumps(tfjob(
        "retry", {"Worker": 2}, "echo started; sleep 25", restart="ExitCode")))
    wait_state(up_cluster, "retry", "Running")
    first = get(up_cluster, "pod", "retry-worker-0")
    container = wait_for(lambda: list_containers(up_cluster["docker"], filters={"label": [
        f"io.kubernetes.pod.uid={first['metadata']['uid']}", "io.kubernetes.container.name=tensorflow"]}),
        what="worker 0's container")[0]
    container.kill()                                   # SIGKILL: the container exits 137
    again = wait_for(lambda: (p := get_if_there(up_cluster, "pod", "retry-worker-0")) is not None
                     and p["metadata"]["uid"] != first["metadata"]["uid"] and p, what="worker 0 made again")
    assert again["spec"]["restartPolicy"] == "Never"
    events = kubectl(up_cluster, "get", "events", "--field-selector", "involvedObject.name=retry").stdout
    assert "TFJobRestarting" in events and "exited with code 137" in events, events
    job = wait_state(up_cluster, "retry", "Succeeded")
    assert "Failed" not in conditions(job)
    kubectl(up_cluster, "delete", "tfjob", "retry")


def test_gpu_workers_get_distinct_gpus(up_cluster):
    kubectl(up_cluster, "create", "-f", "-", input=json.dumps(tfjob(
        "gpus", {"Worker": 2}, "nvidia-smi -L; echo visible=$NVIDIA_VISIBLE_DEVICES; sleep 5",
        resources={"limits": {"nvidia.com/gpu": "1"}}, successPolicy="AllWorkers")))
    wait_state(up_cluster, "gpus", "Succeeded")
    visible = set()
    for worker in ("gpus-worker-0", "gpus-worker-1"):
        log = kubectl(up_cluster, "logs", worker).stdout
        print(log)
        lines = log.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("GPU 0: "), log    # nvidia-smi lists one GPU
        visible.add(lines[1])
    assert visible == {"visible=GPU-0", "visible=GPU-1"}
    kubectl(up_cluster, "delete", "tfjob", "gpus")


def test_the_kubeflow_training_sdk_runs_a_tfjob_and_reads_its_logs(up_cluster):
    training = pytest.importorskip("kubeflow.training")
    from kubeflow.training import models
    from kubernetes.client import V1Container, V1ObjectMeta, V1PodSpec, V1PodTemplateSpec
    sdk = training.TrainingClient(config_file=os.path.join(up_cluster["state"], "kubeconfig"),
                                  namespace="default", job_kind="TFJob")
    template = V1PodTemplateSpec(spec=V1PodSpec(termination_grace_period_seconds=1, containers=[V1Container(
        name="tensorflow", image="busybox", command=["sh", "-c", 'echo "task $TF_CONFIG"; sleep 3; echo done']),
    ]))
    sdk.create_job(job=models.KubeflowOrgV1TFJob(
        api_version="kubeflow.org/v1", kind="TFJob", metadata=V1ObjectMeta(name="sdk"),
        spec=models.KubeflowOrgV1TFJobSpec(
            run_policy=models.KubeflowOrgV1RunPolicy(clean_pod_policy="None"),
            tf_replica_specs={"Worker": models.KubeflowOrgV1ReplicaSpec(replicas=2, template=template)})))
    job = sdk.wait_for_job_conditions("sdk", wait_timeout=150, polling_interval=1)
    assert sdk.is_job_succeeded("sdk") and job.status.completion_time
    logs, _ = sdk.get_job_logs("sdk")                  # the master replica: worker 0
    assert list(logs) == ["sdk-worker-0"]
    assert '"task":{"type":"worker","index":0}' in logs["sdk-worker-0"] and "done" in logs["sdk-worker-0"]
    sdk.delete_job("sdk")
    wait_for(lambda: not [j for j in get(up_cluster, "tfjobs")["items"] if j["metadata"]["name"] == "sdk"],
             what="the TFJob gone")
    wait_for(lambda: not get(up_cluster, "pods", "-l", "training.kubeflow.org/job-name=sdk")["items"],
             what="its pods collected (ownerReferences)")
