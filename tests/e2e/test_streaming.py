"""kubectl exec, attach, cp and port-forward against real pods (real kubelet, Docker, kubectl).

kubectl 1.32 speaks WebSocket (``v5.channel.k8s.io``) for exec/attach/cp and SPDY
tunnelled in WebSocket for port-forward; the apiserver proxies both to the kubelet.
"""
import os
import subprocess
import time

import pytest
import requests

from polling import wait_for  # noqa: E402  (tests/polling.py)

POD = """
apiVersion: v1
kind: Pod
metadata: {{name: multi}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: nginx:latest
  - name: side
    image: busybox:1.35
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done"]
    env: [{{name: WHO, value: side}}]
  - name: reader
    image: busybox:1.35
    command: ["sh", "-c", "read line; echo got: $line; sleep 3600"]
    stdin: true
"""


def running(api, ns, name) -> bool:
    st = api.get("pods", name, ns).get("status") or {}
    return st.get("phase") == "Running" and all(
        "running" in (c.get("state") or {}) for c in st.get("containerStatuses") or [])


@pytest.fixture(scope="module")
def node(start_kubelet):
    return start_kubelet("stream")


@pytest.fixture
def pod(node, kubectl, api_client, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=POD.format(node=node.node_name))
    wait_for(lambda: running(api_client, namespace, "multi"), timeout=60, what="pod multi running")
    return namespace


def test_exec_output_exit_codes_and_containers(pod, kubectl):
    ns = pod
    out = kubectl("exec", "-n", ns, "multi", "-c", "web", "--", "echo", "hi")
    assert out.stdout == "hi\n"
    # the exit code of the command is kubectl's
    failed = kubectl("exec", "-n", ns, "multi", "-c", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                     check=False)
    assert failed.returncode == 3
    assert failed.stdout == "out\n" and "err\n" in failed.stderr
    # -c picks the container (its own environment)
    assert kubectl("exec", "-n", ns, "multi", "-c", "side", "--", "sh", "-c", "echo $WHO").stdout == "side\n"
    # no -c: kubectl picks the first container and says so
    default = kubectl("exec", "-n", ns, "multi", "--", "sh", "-c", "echo ${WHO:-web}")
    assert default.stdout == "web\n" and 'Defaulted container "web"' in default.stderr


def test_exec_stdin(pod, kubectl):
    data = "".join(f"line {i}\n" for i in range(2000))
    out = kubectl("exec", "-i", "-n", pod, "multi", "-c", "web", "--", "sh", "-c", "wc -l; echo done",
                  input=data)
    assert out.stdout.split() == ["2000", "done"]
    cat = kubectl("exec", "-i", "-n", pod, "multi", "-c", "side", "--", "cat", input=data)
    assert cat.stdout == data


def test_exec_errors(pod, node, kubectl, namespace):
    ns = pod
    bad = kubectl("exec", "-n", ns, "multi", "-c", "nope", "--", "true", check=False)
    assert bad.returncode != 0
    assert "container nope is not valid for pod multi" in bad.stderr
    missing = kubectl("exec", "-n", ns, "ghost", "--", "true", check=False)
    assert 'pods "ghost" not found' in missing.stderr
    nocmd = kubectl("exec", "-n", ns, "multi", "-c", "web", "--", "/no/such/binary", check=False)
    assert nocmd.returncode != 0 and "no such file or directory" in (nocmd.stdout + nocmd.stderr).lower()
    # a pod with no node yet
    kubectl("run", "unbound", "-n", ns, "--image=busybox:1.35", "--restart=Never", "--", "sleep", "60")
    unbound = kubectl("exec", "-n", ns, "unbound", "--", "true", check=False)
    assert "does not have a host assigned" in unbound.stderr


def test_cp_both_ways(pod, kubectl, tmp_path):
    ns = pod
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha\n")
    (src / "sub").mkdir()
    (src / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    kubectl("cp", str(src), f"{ns}/multi:/tmp/copied", "-c", "side")
    listing = kubectl("exec", "-n", ns, "multi", "-c", "side", "--", "sh", "-c",
                      "cat /tmp/copied/a.txt; wc -c < /tmp/copied/sub/b.bin").stdout.split()
    assert listing == ["alpha", "200000"]
    back = tmp_path / "back"
    kubectl("cp", f"{ns}/multi:/tmp/copied", str(back), "-c", "side")
    assert (back / "a.txt").read_text() == "alpha\n"
    assert (back / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_forward_reaches_the_pod(pod, cluster, tmp_path):
    port = _free_port()
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
    proc = subprocess.Popen(["kubectl", "port-forward", "-n", pod, "pod/multi", f"{port}:80"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"Forwarding from 127.0.0.1:{port} -> 80" in line, proc.stderr.read() if proc.poll() else line
        for _ in range(3):                  # each request is a new stream pair on one connection
            r = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert r.status_code == 200 and "nginx" in r.text.lower()
        assert proc.poll() is None          # still forwarding
    finally:
        proc.terminate()
        proc.wait(10)


def test_port_forward_reaches_the_pods_localhost(pod, cluster, kubectl, tmp_path):
    """A server bound to the pod's 127.0.0.1 only: reachable, as the kubelet connects from
    inside the pod's network namespace."""
    kubectl("exec", "-n", pod, "multi", "-c", "side", "--", "sh", "-c",
            "mkdir -p /tmp/www && echo only-local > /tmp/www/index.html && httpd -p 127.0.0.1:8081 -h /tmp/www")
    port = _free_port()
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
    proc = subprocess.Popen(["kubectl", "port-forward", "-n", pod, "multi", f"{port}:8081"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "Forwarding from" in proc.stdout.readline()
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == "only-local\n"
    finally:
        proc.terminate()
        proc.wait(10)


def test_port_forward_closed_port_reports_error(pod, cluster, tmp_path):
    port = _free_port()
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
    proc = subprocess.Popen(["kubectl", "port-forward", "-n", pod, "pod/multi", f"{port}:81"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "Forwarding from" in proc.stdout.readline()
        with pytest.raises(requests.RequestException):
            requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert "error forwarding port 81 to pod multi" in err and "connection refused" in err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_attach(pod, cluster, kubectl, tmp_path):
    ns = pod
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
    proc = subprocess.Popen(["kubectl", "attach", "-n", ns, "multi", "-c", "side"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = [proc.stdout.readline() for _ in range(2)]
        assert all(line.startswith("tick ") for line in seen), seen
    finally:
        proc.terminate()
        proc.wait(10)
    # attach -i feeds the container's stdin (the pod asked for stdin: true)
    out = kubectl("attach", "-i", "-n", ns, "multi", "-c", "reader", input="hello\n", check=False)
    assert out.returncode == 0, out.stderr
    wait_for(lambda: "got: hello" in kubectl("logs", "-n", ns, "multi", "-c", "reader").stdout,
             what="reader got the line")
    # attach -i to a container without stdin: true
    bad = kubectl("attach", "-i", "-n", ns, "multi", "-c", "side", input="x\n", check=False)
    assert bad.returncode != 0


def test_exec_into_a_container_not_running_yet(node, kubectl, namespace):
    kubectl("run", "waiting", "-n", namespace, "--image=busybox:9.9-absent", "--restart=Never",
            f"--overrides={{\"spec\":{{\"nodeName\":\"{node.node_name}\"}}}}", "--", "sleep", "60")
    time.sleep(1)
    out = kubectl("exec", "-n", namespace, "waiting", "--", "true", check=False)
    assert out.returncode != 0
    assert 'unable to upgrade connection: container not found ("waiting")' in out.stderr


def test_python_client_exec_and_port_forward(pod, cluster, tmp_path):
    """The official Python client: exec over WebSocket channels, and the older
    channel-per-port WebSocket port-forward."""
    from kubernetes import client, config
    from kubernetes.stream import portforward, stream
    api = client.CoreV1Api(config.new_client_from_config(cluster.kubeconfig))
    out = stream(api.connect_get_namespaced_pod_exec, "multi", pod, container="web",
                 command=["sh", "-c", "echo hi"], stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "hi\n"
    resp = stream(api.connect_get_namespaced_pod_exec, "multi", pod, container="web",
                  command=["sh", "-c", "exit 4"], stderr=True, stdin=False, stdout=True, tty=False,
                  _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 4
    pf = portforward(api.connect_get_namespaced_pod_portforward, "multi", pod, ports="80")
    sock = pf.socket(80)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK") and b"nginx" in data
    assert pf.error(80) is None


def test_spdy_fallback_exec_cp_and_port_forward(pod, cluster, tmp_path):
    """With WebSockets off, kubectl speaks SPDY/3.1 (as older kubectls do) for everything."""
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path),
               KUBECTL_REMOTE_COMMAND_WEBSOCKETS="false", KUBECTL_PORT_FORWARD_WEBSOCKETS="false")

    def kubectl(*args, input=None):
        return subprocess.run(["kubectl", "-n", pod, *args], input=input, capture_output=True, text=True,
                              env=env, timeout=60)

    failed = kubectl("exec", "multi", "-c", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 5")
    assert (failed.returncode, failed.stdout) == (5, "out\n") and "err\n" in failed.stderr
    counted = kubectl("exec", "-i", "multi", "-c", "web", "--", "wc", "-l",
                      input="".join(f"{i}\n" for i in range(3000)))
    assert counted.returncode == 0 and counted.stdout.strip() == "3000"
    (tmp_path / "f.txt").write_text("via spdy\n")
    assert kubectl("cp", str(tmp_path / "f.txt"), "multi:/tmp/f.txt", "-c", "side").returncode == 0
    assert kubectl("exec", "multi", "-c", "side", "--", "cat", "/tmp/f.txt").stdout == "via spdy\n"

    port = _free_port()
    proc = subprocess.Popen(["kubectl", "-n", pod, "port-forward", "pod/multi", f"{port}:80"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "Forwarding from" in proc.stdout.readline()
        r = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert r.status_code == 200 and "nginx" in r.text.lower()
    finally:
        proc.terminate()
        proc.wait(10)
