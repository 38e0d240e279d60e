"""The dashboard in a real browser (Debian's headless Chromium) on a real cluster.

`minikube-py up` with hollow nodes (no containers: quick) starts the dashboard and
prints its URL (logging in with a token of the ServiceAccount kube-system/dashboard-viewer);
a hollow kubelet with the simulated device plugin is the GPU node. Users log in with the
cluster's tokens: a `view` RoleBinding in one namespace shows that namespace only.
Pods are created and deleted with the real kubectl, and the page must follow:
the tests poll the DOM until a deadline, and leave screenshots in tmp/artifacts.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

import browser  # tests/browser.py
from commands import run  # tests/commands.py
from polling import wait_for  # tests/polling.py

CLI = [sys.executable, "-m", "minikube_py.cli.minikube"]


@pytest.fixture(scope="module")
def cluster_up(tmp_path_factory):
    if browser.missing():
        pytest.skip(browser.missing())
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("dash"))
    out = run(*CLI, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "0",
              "--hollow-nodes", "2", "--dashboard-port", str(free_port()), timeout=120).stdout
    url = re.search(r"dashboard: (http://\S+)", out)
    assert url, out
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)
    procs = []
    try:
        yield {"url": url.group(1), "base": url.group(1).split("?")[0], "env": env, "state": state,
               "procs": procs}
    finally:
        for p in procs:
            p.terminate()
            p.wait(15)
        run(*CLI, "down", "--state-dir", state, timeout=120)


@pytest.fixture(scope="module")
def page(cluster_up):
    driver = browser.chromium()
    driver.get(cluster_up["url"])
    # the token went into an HttpOnly cookie, and out of the address bar
    assert driver.current_url == cluster_up["base"]
    assert "token" not in driver.execute_script("return document.cookie")
    yield driver
    driver.quit()


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def shown(page, css):
    """The text of each element matching css (read in one script: the page redraws as it likes)."""
    return browser.texts(page, css)


def test_without_a_good_token_the_page_is_the_login_form(cluster_up):
    import requests
    base = cluster_up["base"]
    page = requests.get(base, timeout=5)
    assert page.status_code == 401 and 'action="/login"' in page.text
    assert requests.get(base + "api/stream", timeout=5).status_code == 401
    bad = requests.get(base + "?token=not-a-token", timeout=5, allow_redirects=False)
    assert bad.status_code == 401 and "did not accept that token" in bad.text
    forged = requests.get(base + "api/stream", headers={"Authorization": "Bearer x.y.z"}, timeout=5)
    assert forged.status_code == 401 and forged.json()["reason"] == "Unauthorized"


def test_nodes_are_drawn_and_a_pod_appears_then_disappears(cluster_up, page):
    wait_for(lambda: len(shown(page, ".node[data-ready=True]")) == 2, timeout=20, what="2 Ready nodes")
    kubectl(cluster_up, "run", "web-1", "--image=nginx")
    # created -> on the page within 2 s (the event stream pushes it; nothing polls)
    wait_for(lambda: shown(page, '.pod[data-pod="default/web-1"]'), timeout=2, interval=0.05,
             what="web-1 on the page")
    running = wait_for(lambda: shown(page, '.node[data-node^="hollow-"] .pod.running[data-pod="default/web-1"]'),
                       timeout=20, what="web-1 Running on a hollow node")
    assert running == ["web-1"]
    browser.screenshot(page, "dashboard-pod-running.png")

    assert browser.click(page, '.pod[data-pod="default/web-1"]')   # its YAML in the side panel
    wait_for(lambda: "name: web-1" in shown(page, "#detail-yaml")[0], timeout=10, what="web-1's YAML")
    # each click on Events reads them again (the scheduler writes its event a moment after binding)
    wait_for(lambda: browser.click(page, '#detail nav button[data-tab="events"]')
             and "Scheduled" in shown(page, "#detail-events")[0], timeout=20, interval=0.5,
             what="the Scheduled event")
    browser.screenshot(page, "dashboard-pod-detail.png")
    browser.click(page, "#detail-close")

    kubectl(cluster_up, "delete", "pod", "web-1", "--wait=false")
    wait_for(lambda: not shown(page, '.pod[data-pod="default/web-1"]'), timeout=20, interval=0.05,
             what="web-1 gone from the page")


def test_a_gpu_pod_fills_a_gpu_slot(cluster_up, page):
    plugin_dir = tempfile.mkdtemp(prefix="/tmp/dash-dp-")     # Unix socket paths must be short
    kubeconfig = cluster_up["env"]["KUBECONFIG"]
    node = "gpu-node"
    logs = open(os.path.join(cluster_up["state"], "logs", "gpu-node.log"), "ab")
    for args in (["kubelet", "--runtime", "hollow", "--node-name", node, "--kubeconfig", kubeconfig,
                  "--state-dir", os.path.join(cluster_up["state"], "nodes", node),
                  "--device-plugin-dir", plugin_dir],
                 ["device-plugin", "simulated", "--count", "2", "--plugin-dir", plugin_dir, "--node-name", node]):
        cluster_up["procs"].append(subprocess.Popen([*CLI, *args], stdout=logs, stderr=subprocess.STDOUT))
    try:
        wait_for(lambda: len(shown(page, f'.gpu-slot[data-node="{node}"]')) == 2, timeout=30,
                 what="2 GPU slots on gpu-node")
        kubectl(cluster_up, "apply", "-f", "-", input=GPU_POD)
        slot = wait_for(lambda: shown(page, f'.gpu-slot.held[data-node="{node}"][data-holder="default/cuda"]'),
                        timeout=20, what="a GPU slot held by cuda")
        assert "cuda" in slot[0]
        assert len(shown(page, f'.gpu-slot.held[data-node="{node}"]')) == 1     # the other stays free
        wait_for(lambda: shown(page, f'.node[data-node="{node}"] .pod.running[data-pod="default/cuda"]'),
                 timeout=20, what="cuda Running")
        browser.screenshot(page, "dashboard-gpu-slot.png")
        kubectl(cluster_up, "delete", "pod", "cuda", "--wait=false")
        wait_for(lambda: not shown(page, f'.gpu-slot.held[data-node="{node}"]'), timeout=20,
                 what="the GPU slot free again")
    finally:
        shutil.rmtree(plugin_dir, ignore_errors=True)


def test_a_view_binding_in_one_namespace_shows_that_namespace_only(cluster_up):
    """A student's ServiceAccount bound to `view` in team-a logs in with the form."""
    import requests
    base = cluster_up["base"]
    for args in (["create", "namespace", "team-a"],
                 ["-n", "team-a", "create", "serviceaccount", "student"],
                 ["-n", "team-a", "create", "rolebinding", "student-view", "--clusterrole=view",
                  "--serviceaccount=team-a:student"],
                 ["-n", "team-a", "run", "a-pod", "--image=busybox", "--", "sleep", "3600"],
                 ["run", "b-pod", "--image=busybox", "--", "sleep", "3600"]):
        kubectl(cluster_up, *args)
    token = kubectl(cluster_up, "-n", "team-a", "create", "token", "student").stdout.strip()
    driver = browser.chromium()
    try:
        driver.get(base)
        assert shown(driver, "header .connection") == ["401 Unauthorized"]
        driver.find_element("id", "login-token").send_keys(token)
        driver.find_element("css selector", "#login button").click()
        wait_for(lambda: shown(driver, '.pod[data-pod="team-a/a-pod"]'), timeout=20, what="a-pod on the page")
        wait_for(lambda: shown(driver, "#whoami") == ["system:serviceaccount:team-a:student"], timeout=5,
                 what="who is logged in")
        # view reads no nodes: the pod is drawn in the box of nodes not shown, once scheduled
        wait_for(lambda: "On nodes not shown to you" in " ".join(shown(driver, ".node-name")), timeout=20,
                 what="a-pod on a node not shown")
        assert not shown(driver, '.pod[data-pod="default/b-pod"]') and not shown(driver, ".node[data-ready]")
        browser.screenshot(driver, "dashboard-namespace-viewer.png")
    finally:
        driver.quit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(base + "api/pods/team-a/a-pod", headers=bearer, timeout=5).status_code == 200
    refused = requests.get(base + "api/pods/default/b-pod", headers=bearer, timeout=5)
    assert refused.status_code == 403
    assert refused.json()["message"] == ('pods "b-pod" is forbidden: User "system:serviceaccount:team-a:student" '
                                         'cannot get resource "pods" in API group "" in the namespace "default"')
    # a user who may list pods nowhere: 403
    kubectl(cluster_up, "-n", "team-a", "create", "serviceaccount", "nobody")
    nobody = kubectl(cluster_up, "-n", "team-a", "create", "token", "nobody").stdout.strip()
    assert requests.get(base, headers={"Authorization": f"Bearer {nobody}"}, timeout=5).status_code == 403


def test_logs_need_pods_log(cluster_up):
    import requests
    base = cluster_up["base"]
    for args in (["-n", "team-a", "create", "role", "pods-only", "--verb=get,list,watch", "--resource=pods"],
                 ["-n", "team-a", "create", "serviceaccount", "no-logs"],
                 ["-n", "team-a", "create", "rolebinding", "no-logs", "--role=pods-only",
                  "--serviceaccount=team-a:no-logs"]):
        kubectl(cluster_up, *args)
    token = kubectl(cluster_up, "-n", "team-a", "create", "token", "no-logs").stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(base + "api/pods/team-a/a-pod", headers=bearer, timeout=5).status_code == 200
    refused = requests.get(base + "api/pods/team-a/a-pod/log?container=a-pod", headers=bearer, timeout=5)
    assert refused.status_code == 403 and "pods/log" in refused.json()["message"]
    student = kubectl(cluster_up, "-n", "team-a", "create", "token", "student").stdout.strip()
    with requests.get(base + "api/pods/team-a/a-pod/log?container=a-pod", stream=True, timeout=5,
                      headers={"Authorization": f"Bearer {student}"}) as allowed:
        assert allowed.status_code == 200 and allowed.headers["Content-Type"] == "text/event-stream"


GPU_POD = """
apiVersion: v1
kind: Pod
metadata: {name: cuda}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: cuda
    image: busybox
    command: [sleep, "3600"]
    resources: {limits: {nvidia.com/gpu: 1}}
"""
