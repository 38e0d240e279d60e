"""TensorFlow really trains: the TFJob examples on `minikube-py up`, and the same image with plain Docker.

Marked ``tensorflow`` (``pytest -m tensorflow`` runs just these).  They need the image
minikube-py/tensorflow:<version> that lab/build-tf-image.sh builds offline (a host wheelhouse
of tensorflow-cpu, ~330 MB, then a few minutes of pip install).  When its TensorFlow layer
(minikube-py/tensorflow-base) is missing they skip, unless MINIKUBE_PY_TF_E2E=1 asks to build
it; when it exists the script runs anyway (seconds: it rebuilds the scripts' layer only when
examples/tfjob/ changed).

The training scripts print "epoch i/n: loss X"; each test checks the loss went down (the data
is synthetic, MNIST-shaped: the lab downloads no dataset).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import pytest
from dockerutil import list_containers  # noqa: E402  (tests/dockerutil.py)
from polling import wait_for  # tests/polling.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "lab")
EXAMPLES = os.path.join(ROOT, "examples")
JOB_LABEL = "training.kubeflow.org/job-name"

# A cold image build (MINIKUBE_PY_TF_E2E=1) takes longer than the default 300 s.
pytestmark = [pytest.mark.tensorflow, pytest.mark.timeout(1800)]


def run(*args, env=None, timeout=120, input=None):
    proc = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout, input=input)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def losses(log: str) -> list[float]:
    """The per-epoch losses a training script printed."""
    return [float(x) for x in re.findall(r"^epoch \d+/\d+: loss ([0-9.]+)$", log, re.M)]


def assert_trained(log: str, epochs: int = 5) -> list[float]:
    found = losses(log)
    assert len(found) == epochs, log
    assert found[-1] < found[0] / 2, f"the loss did not go down: {found}\n{log}"
    return found


@pytest.fixture(scope="module")
def tf_image(lab_images):
    with open(os.path.join(LAB, "tensorflow-requirements.txt")) as f:
        version = re.search(r"^tensorflow-cpu==([0-9.]+)", f.read(), re.M).group(1)
    try:
        lab_images.images.get(f"minikube-py/tensorflow-base:{version}")
    except Exception:  # noqa: BLE001 - docker.errors.ImageNotFound
        if os.environ.get("MINIKUBE_PY_TF_E2E") != "1":
            pytest.skip("no TensorFlow image: run lab/build-tf-image.sh, or set MINIKUBE_PY_TF_E2E=1")
    out = run("bash", os.path.join(LAB, "build-tf-image.sh"), timeout=1800)
    return out.stdout.strip().splitlines()[-1]


def test_two_workers_train_with_plain_docker_and_a_hand_written_tf_config(tf_image, lab_images):
    out = run("bash", os.path.join(LAB, "try-tfjob-in-docker.sh"), "multiworker", timeout=600).stdout
    print(out)
    logs = {w: "\n".join(line.split("] ", 1)[1] for line in out.splitlines() if line.startswith(f"[{w}] "))
            for w in ("worker-0", "worker-1")}
    for log in logs.values():
        assert "strategy ready: 2 replicas in sync" in log, log
    # One model trained by both: the all-reduced loss is the same on each worker.
    assert assert_trained(logs["worker-0"]) == assert_trained(logs["worker-1"])
    assert "[try-tfjob] OK" in out
    assert not list_containers(lab_images, all=True, filters={"label": "io.minikube-py.lab=try-tfjob"})


@pytest.fixture(scope="module")
def up_cluster(tf_image, lab_images, tmp_path_factory):
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("up-tftrain"))
    prefix = f"tt{uuid.uuid4().hex[:4]}"
    cli = [sys.executable, "-m", "minikube_py.cli.minikube"]
    out = run(*cli, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "2",
              "--node-prefix", prefix, timeout=240).stdout
    assert "Cluster is up" in out and "tf-operator" in out, out
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)
    yield {"env": env}
    run(*cli, "down", "--state-dir", state, timeout=120)
    for node in (f"{prefix}-1", f"{prefix}-2"):
        assert list_containers(lab_images, all=True, filters={"label": f"io.minikube-py.node={node}"}) == []


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def get(cluster, *what):
    return json.loads(kubectl(cluster, "get", *what, "-o", "json").stdout)


def wait_succeeded(cluster, name, timeout=600):
    def done():
        job = get(cluster, "tfjob", name)
        states = {c["type"]: c["status"] for c in (job.get("status") or {}).get("conditions") or []}
        assert states.get("Failed") != "True", json.dumps(job["status"], indent=1)
        return states.get("Succeeded") == "True" and job
    return wait_for(done, timeout=timeout, interval=2, what=f"TFJob {name} Succeeded")


def pod_names(cluster, job):
    return {p["metadata"]["name"] for p in get(cluster, "pods", "-l", f"{JOB_LABEL}={job}")["items"]}


def test_tfjob_mnist_trains_on_two_workers_and_succeeds(up_cluster):
    kubectl(up_cluster, "apply", "-f", os.path.join(EXAMPLES, "tfjob-mnist.yaml"))
    job = wait_succeeded(up_cluster, "mnist")
    assert job["status"]["replicaStatuses"]["Worker"].get("succeeded") == 2, job["status"]
    found = []
    for worker in ("mnist-worker-0", "mnist-worker-1"):
        log = kubectl(up_cluster, "logs", worker).stdout
        print(f"--- {worker}\n{log}")
        # the peers found each other by the names in TF_CONFIG (headless Services, cluster DNS)
        assert '"worker": ["mnist-worker-0.default.svc:2222", "mnist-worker-1.default.svc:2222"]' in log
        assert "strategy ready: 2 replicas in sync" in log, log
        found.append(assert_trained(log))
    assert found[0] == found[1]
    kubectl(up_cluster, "delete", "-f", os.path.join(EXAMPLES, "tfjob-mnist.yaml"))
    wait_for(lambda: not pod_names(up_cluster, "mnist"), timeout=60, what="the job's pods deleted")


def test_tfjob_with_parameter_servers_trains_and_succeeds(up_cluster):
    kubectl(up_cluster, "apply", "-f", os.path.join(EXAMPLES, "tfjob-ps.yaml"))
    wait_succeeded(up_cluster, "mnist-ps")
    log = kubectl(up_cluster, "logs", "mnist-ps-chief-0").stdout
    print(log)
    assert "coordinator ready: 2 workers, 1 ps" in log, log
    assert_trained(log)
    # cleanPodPolicy Running: the PS and workers, serving for ever, are deleted; the chief stays.
    wait_for(lambda: pod_names(up_cluster, "mnist-ps") == {"mnist-ps-chief-0"}, timeout=60,
             what="the PS and worker pods deleted")
    kubectl(up_cluster, "delete", "-f", os.path.join(EXAMPLES, "tfjob-ps.yaml"))
