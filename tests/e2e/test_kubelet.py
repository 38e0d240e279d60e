"""The kubelet end to end: real kubelet processes, real Docker, real kubectl.

Each module shares one kubelet (``node``) for tests that do not restart it;
the restart test runs its own.  Pods live in a fresh namespace per test.
"""
import os
import re
import subprocess
import time

import pytest

from minikube_py.client import errors

from polling import wait_for  # noqa: E402  (tests/polling.py)
from dockerutil import list_containers  # noqa: E402  (tests/dockerutil.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_LABEL = "io.minikube-py.node"
UID_LABEL = "io.kubernetes.pod.uid"




def example(name: str, node: str) -> str:
    with open(os.path.join(ROOT, "examples", name)) as f:
        return f.read().replace("nodeName: node-1", f"nodeName: {node}")


def status(api, ns, name) -> dict:
    return api.get("pods", name, ns).get("status") or {}


def container_status(api, ns, name, container=None) -> dict:
    for c in status(api, ns, name).get("containerStatuses") or []:
        if container is None or c["name"] == container:
            return c
    return {}


def running(api, ns, name) -> bool:
    return status(api, ns, name).get("phase") == "Running"


def pod_containers(docker_client, node: str, uid: str, all_=True):
    return list_containers(docker_client, 
        all=all_, filters={"label": [f"{NODE_LABEL}={node}", f"{UID_LABEL}={uid}"]})


def gone(api, ns, name) -> bool:
    try:
        api.get("pods", name, ns)
        return False
    except errors.NotFound:
        return True


@pytest.fixture(scope="module")
def node(start_kubelet):
    return start_kubelet("main")


# ---------------------------------------------------------------------- 1. a pod runs
def test_busybox_pod_runs_and_kubectl_logs_work(node, kubectl, api_client, namespace, lab_images):
    kubectl("apply", "-n", namespace, "-f", "-", input=example("busybox-pod.yaml", node.node_name))
    wait_for(lambda: running(api_client, namespace, "busybox"), what="busybox Running")
    st = status(api_client, namespace, "busybox")
    ip = st["podIP"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip) and st["hostIP"] == "127.0.0.1"

    wide = kubectl("get", "pod", "busybox", "-n", namespace, "-o", "wide").stdout
    row = wide.splitlines()[1].split()
    assert row[0] == "busybox" and row[1] == "1/1" and row[2] == "Running"
    assert ip in row and node.node_name in row

    logs = wait_for(lambda: "tick 2" in kubectl("logs", "busybox", "-n", namespace).stdout
                    and kubectl("logs", "busybox", "-n", namespace).stdout, what="two ticks")
    assert "Traceback" not in node.log()
    assert logs.startswith(f"hello from busybox, pod IP {ip} on node {node.node_name}\n")
    tail = kubectl("logs", "busybox", "-n", namespace, "--tail=1").stdout
    assert tail.count("\n") == 1 and tail.startswith("tick ")
    stamped = kubectl("logs", "busybox", "-n", namespace, "--tail=1", "--timestamps").stdout
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick ", stamped), stamped
    assert kubectl("logs", "busybox", "-n", namespace, "--limit-bytes=5").stdout == "hello"
    assert kubectl("logs", "busybox", "-n", namespace, "--since=1h").stdout.startswith("hello")

    # kubectl logs -f streams new lines as they come (ended by the timeout).
    env = dict(os.environ, KUBECONFIG=node.cluster.kubeconfig)
    proc = subprocess.Popen(["kubectl", "logs", "-f", "busybox", "-n", namespace, "--tail=1"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        n1, n2 = int(first.split()[1]), int(second.split()[1])
        assert n2 == n1 + 1
    finally:
        proc.kill()
        proc.wait()

    # docker ps: the sandbox (pause) and the app container, labelled with the node
    uid = api_client.get("pods", "busybox", namespace)["metadata"]["uid"]
    names = sorted(c.name for c in pod_containers(lab_images, node.node_name, uid, all_=False))
    assert len(names) == 2
    assert names[0].startswith("k8s_POD_busybox_") and names[1].startswith("k8s_busybox_busybox_")
    cs = container_status(api_client, namespace, "busybox")
    assert cs["containerID"] == "docker://" + next(
        c.id for c in pod_containers(lab_images, node.node_name, uid) if "k8s_busybox" in c.name)
    assert cs["imageID"].startswith("sha256:") and cs["ready"] and cs["started"]
    # limits became cgroup limits
    app = next(c for c in pod_containers(lab_images, node.node_name, uid) if "k8s_busybox" in c.name)
    assert app.attrs["HostConfig"]["Memory"] == 32 << 20
    assert app.attrs["HostConfig"]["CpuQuota"] == 10000
    events = kubectl("get", "events", "-n", namespace).stdout
    for reason in ("Pulled", "Created", "Started"):
        assert reason in events


# ---------------------------------------------------------------------- 2. two containers
def test_two_containers_talk_over_localhost(node, kubectl, api_client, namespace):
    kubectl("apply", "-n", namespace, "-f", "-",
            input=example("two-container-pod.yaml", node.node_name))
    wait_for(lambda: "hello from web" in kubectl("logs", "two-containers", "-c", "client",
                                                 "-n", namespace, check=False).stdout,
             what="the client reaching the web container on localhost")
    # the readiness probe (httpGet on the named port, from the node to the pod IP) passes
    wait_for(lambda: all(c["ready"] for c in
                         status(api_client, namespace, "two-containers")["containerStatuses"]),
             what="both containers ready")
    conds = {c["type"]: c["status"] for c in
             status(api_client, namespace, "two-containers")["conditions"]}
    assert conds["Ready"] == "True" and conds["ContainersReady"] == "True"
    r = kubectl("logs", "two-containers", "-n", namespace, check=False)
    assert "Defaulted container" in r.stderr or r.returncode == 0   # kubectl picks the first


# ---------------------------------------------------------------------- 3. restart policies
def test_crashloop_backoff_grows(node, kubectl, api_client, namespace):
    """Back-off base 1 s, max 8 s (flags): the waiting message shows 1s, 2s, 4s ..."""
    kubectl("apply", "-n", namespace, "-f", "-", input=example("crashloop-pod.yaml", node.node_name))
    seen = []

    def note():
        cs = container_status(api_client, namespace, "crashloop")
        msg = ((cs.get("state") or {}).get("waiting") or {}).get("message", "")
        m = re.match(r"back-off (\d+)s restarting failed container=crash pod=crashloop_"
                     + namespace + r"\(", msg)
        if m and (not seen or seen[-1][0] != int(m.group(1))):
            seen.append((int(m.group(1)), cs["restartCount"]))
        return len(seen) >= 3

    wait_for(note, timeout=90, what="three back-off steps", interval=0.1)
    delays = [d for d, _ in seen]
    counts = [c for _, c in seen]
    assert delays == sorted(delays) and len(set(delays)) == len(delays), seen
    assert delays[0] in (1, 2) and delays[1] == 2 * delays[0]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    cs = container_status(api_client, namespace, "crashloop")
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    get = kubectl("get", "pod", "crashloop", "-n", namespace).stdout
    assert "CrashLoopBackOff" in get or "Error" in get or "Running" in get
    prev = kubectl("logs", "crashloop", "-n", namespace, "--previous").stdout
    assert prev == "starting\nsomething went wrong\n"
    events = kubectl("get", "events", "-n", namespace,
                     "--field-selector", "reason=BackOff").stdout
    assert "Back-off restarting failed container crash" in events


def _one_shot_pod(name, node, policy, code):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "restartPolicy": policy, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "job", "image": "busybox:1.35",
                                     "command": ["sh", "-c", f"echo run; exit {code}"]}]}}


def test_restart_policies_on_failure_and_never(node, api_client, namespace, kubectl, lab_images):
    cases = {"onfailure-ok": ("OnFailure", 0), "onfailure-bad": ("OnFailure", 1),
             "never-bad": ("Never", 1), "never-ok": ("Never", 0)}
    for name, (policy, code) in cases.items():
        api_client.create("pods", _one_shot_pod(name, node.node_name, policy, code), namespace)

    wait_for(lambda: status(api_client, namespace, "onfailure-ok").get("phase") == "Succeeded",
             what="OnFailure + exit 0 -> Succeeded")
    wait_for(lambda: status(api_client, namespace, "never-bad").get("phase") == "Failed",
             what="Never + exit 1 -> Failed")
    wait_for(lambda: status(api_client, namespace, "never-ok").get("phase") == "Succeeded",
             what="Never + exit 0 -> Succeeded")
    wait_for(lambda: container_status(api_client, namespace, "onfailure-bad")
             .get("restartCount", 0) >= 2, what="OnFailure + exit 1 -> restarted")
    assert status(api_client, namespace, "onfailure-bad")["phase"] == "Running"
    for name in ("onfailure-ok", "never-bad", "never-ok"):
        cs = container_status(api_client, namespace, name)
        assert cs["restartCount"] == 0, (name, cs)
        term = cs["state"]["terminated"]
        assert term["exitCode"] == cases[name][1]
        assert term["reason"] == ("Completed" if cases[name][1] == 0 else "Error")
    # a finished pod's sandbox is stopped; its containers stay for logs
    uid = api_client.get("pods", "never-bad", namespace)["metadata"]["uid"]
    wait_for(lambda: not pod_containers(lab_images, node.node_name, uid, all_=False),
             what="nothing of never-bad running")
    assert kubectl("logs", "never-bad", "-n", namespace).stdout == "run\n"
    table = kubectl("get", "pods", "-n", namespace).stdout
    assert re.search(r"never-bad\s+0/1\s+Error", table) and \
        re.search(r"onfailure-ok\s+0/1\s+Completed", table)


def test_container_removed_behind_our_back_is_restarted(node, api_client, namespace, lab_images):
    """PLEG: the kubelet relists Docker and notices what nobody told it."""
    api_client.create("pods", _one_shot_pod("victim", node.node_name, "Always", 0) | {
        "spec": {"nodeName": node.node_name, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "app", "image": "busybox:1.35",
                                 "command": ["sleep", "3600"]}]}}, namespace)
    wait_for(lambda: running(api_client, namespace, "victim"), what="Running")
    uid = api_client.get("pods", "victim", namespace)["metadata"]["uid"]
    app = next(c for c in pod_containers(lab_images, node.node_name, uid) if "k8s_app" in c.name)
    app.remove(force=True)
    wait_for(lambda: container_status(api_client, namespace, "victim").get("restartCount") == 1
             and container_status(api_client, namespace, "victim").get("ready"),
             what="the app container back, restartCount 1")
    assert container_status(api_client, namespace, "victim")["containerID"] != f"docker://{app.id}"


# ---------------------------------------------------------------------- 5. graceful deletion
def test_delete_stops_within_grace_and_kills_who_ignores_sigterm(node, api_client, namespace,
                                                                 kubectl, lab_images):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stop-me"},
           "spec": {"nodeName": node.node_name, "terminationGracePeriodSeconds": 3,
                    "containers": [
                        {"name": "polite", "image": "busybox:1.35",
                         "command": ["sh", "-c", "trap 'echo bye; exit 0' TERM; "
                                                 "while :; do sleep 0.2; done"]},
                        {"name": "stubborn", "image": "busybox:1.35",
                         "command": ["sh", "-c", "trap '' TERM; while :; do sleep 0.2; done"]}]}}
    created = api_client.create("pods", pod, namespace)
    uid = created["metadata"]["uid"]
    wait_for(lambda: running(api_client, namespace, "stop-me"), what="Running")
    watch = api_client.watch("pods", namespace,
                             resource_version=created["metadata"]["resourceVersion"],
                             field_selector="metadata.name=stop-me", timeout_seconds=60)
    started = time.monotonic()
    kubectl("delete", "pod", "stop-me", "-n", namespace)   # waits until the object is gone
    took = time.monotonic() - started
    final = {}
    for etype, obj in watch:
        for c in (obj.get("status") or {}).get("containerStatuses") or []:
            if "terminated" in c["state"]:
                final[c["name"]] = c["state"]["terminated"]
        if etype == "DELETED":
            break
    assert final["polite"]["exitCode"] == 0                   # stopped by SIGTERM at once
    assert final["stubborn"]["exitCode"] == 137               # SIGKILL after the grace period
    assert took < 30, took
    assert pod_containers(lab_images, node.node_name, uid) == []
    assert gone(api_client, namespace, "stop-me")
    events = [e for e in api_client.list("events", namespace)["items"]
              if e["reason"] == "Killing"]
    assert {e["message"] for e in events} == {"Stopping container polite",
                                              "Stopping container stubborn"}


# ---------------------------------------------------------------------- 4. kubelet restart
def test_kubelet_restart_adopts_containers(start_kubelet, api_client, namespace, lab_images):
    k = start_kubelet("restart")
    for name in ("keep-1", "keep-2", "doomed"):
        api_client.create("pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": k.node_name, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "a", "image": "busybox:1.35",
                                     "command": ["sleep", "3600"]},
                                    {"name": "b", "image": "busybox:1.35",
                                     "command": ["sleep", "3600"]}]}}, namespace)
    for name in ("keep-1", "keep-2", "doomed"):
        wait_for(lambda: running(api_client, namespace, name), what=f"{name} Running")
    before = {c.id for c in list_containers(lab_images, 
        filters={"label": f"{NODE_LABEL}={k.node_name}"})}
    assert len(before) == 9                                   # 3 x (sandbox + 2)
    ids_before = {c["containerID"] for c in status(api_client, namespace, "keep-1")
                  ["containerStatuses"]}
    doomed_uid = api_client.get("pods", "doomed", namespace)["metadata"]["uid"]

    k.stop(kill=True)                                         # kill -9: no chance to clean up
    # while it is down: one pod is force-deleted, a new one arrives
    api_client.delete("pods", "doomed", namespace, grace_period_seconds=0)
    assert gone(api_client, namespace, "doomed")
    api_client.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late"},
                               "spec": {"nodeName": k.node_name,
                                        "containers": [{"name": "a", "image": "busybox:1.35",
                                                        "command": ["sleep", "3600"]}]}},
                      namespace)
    k.start()
    k.wait_ready(api_client)
    wait_for(lambda: running(api_client, namespace, "late"), what="late Running")
    wait_for(lambda: pod_containers(lab_images, k.node_name, doomed_uid) == [],
             what="the containers of the pod deleted meanwhile removed")
    time.sleep(2)                                             # a few relists and syncs
    after = {c.id for c in list_containers(lab_images, 
        filters={"label": f"{NODE_LABEL}={k.node_name}"})}
    kept = {c.id for c in list_containers(lab_images, 
        filters={"label": [f"{NODE_LABEL}={k.node_name}"]}) if c.labels.get(
        "io.kubernetes.pod.name") in ("keep-1", "keep-2")}
    assert kept <= before and len(kept) == 6                  # same containers, no duplicates
    assert len(after) == 6 + 2                                # + late (sandbox + a)
    for name in ("keep-1", "keep-2"):
        st = status(api_client, namespace, name)
        assert st["phase"] == "Running"
        assert all(c["restartCount"] == 0 and c["ready"] for c in st["containerStatuses"])
    assert {c["containerID"] for c in status(api_client, namespace, "keep-1")
            ["containerStatuses"]} == ids_before
    assert "Traceback" not in k.log()
