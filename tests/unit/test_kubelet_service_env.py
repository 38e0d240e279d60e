"""The Service variables the kubelet puts in every container (KUBERNETES_SERVICE_HOST ...)."""
from minikube_py.kubelet.envvars import resolve_env, service_env


def svc(name, ns, ip, *ports):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": [dict(p) for p in ports]}}


KUBERNETES = svc("kubernetes", "default", "10.96.0.1", {"name": "https", "port": 443, "protocol": "TCP"})
WEB = svc("my-web", "shop", "10.96.3.4", {"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"})
HEADLESS = svc("db", "shop", "None", {"port": 5432})
ELSEWHERE = svc("other", "default", "10.96.9.9", {"port": 1})


def test_the_kubernetes_service_is_in_every_pod_as_upstream_names_it():
    env = service_env([KUBERNETES, WEB, HEADLESS, ELSEWHERE], "shop", enable_service_links=False)
    assert env == {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
                   "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.96.0.1:443",
                   "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
                   "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1"}


def test_service_links_of_the_pods_namespace():
    env = service_env([KUBERNETES, WEB, HEADLESS, ELSEWHERE], "shop")
    assert env["MY_WEB_SERVICE_HOST"] == "10.96.3.4" and env["MY_WEB_SERVICE_PORT"] == "80"
    assert env["MY_WEB_SERVICE_PORT_DNS"] == "53" and env["MY_WEB_PORT"] == "tcp://10.96.3.4:80"
    assert env["MY_WEB_PORT_53_UDP"] == "udp://10.96.3.4:53" and env["MY_WEB_PORT_53_UDP_PROTO"] == "udp"
    assert not any(k.startswith(("DB_", "OTHER_")) for k in env)      # headless; another namespace
    assert "KUBERNETES_SERVICE_HOST" in env


def test_container_env_wins_and_may_refer_to_service_variables():
    pod = {"metadata": {"name": "p", "namespace": "shop"}, "spec": {"enableServiceLinks": False}}
    spec = {"name": "app", "env": [{"name": "KUBERNETES_SERVICE_PORT", "value": "6443"},
                                   {"name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST)"}]}
    env = resolve_env(pod, spec, services=[KUBERNETES, WEB])
    assert env["KUBERNETES_SERVICE_PORT"] == "6443" and env["API"] == "https://10.96.0.1"
    assert "MY_WEB_SERVICE_HOST" not in env
