"""The compose lab's way into its dashboard, made as `minikube-py up` makes it (cli/up.py
`dashboard_login`): the ServiceAccount kube-system/dashboard-viewer, bound to a ClusterRole
that reads what the page shows, and a token for it from the TokenRequest API (24 h).

The one-shot service `dashboard-login` runs it as the admin once the apiservers answer; the
token goes to lab/compose/dashboard-token on the host, the URL that logs in with it to the
service's log (`docker-compose logs dashboard-login`). A new token later, without this:
`kubectl -n kube-system create token dashboard-viewer`.

    python3 dashboard_login.py /etc/kubernetes/kubeconfig /lab/dashboard-token   # as the service runs it
"""
from __future__ import annotations

import os
import sys

from minikube_py.cli.up import dashboard_login
from minikube_py.dashboard.command import page_url


def main(kubeconfig: str, token_path: str) -> None:
    token = dashboard_login(kubeconfig)
    tmp = token_path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    st = os.stat(os.path.dirname(os.path.abspath(token_path)))    # the clone's owner, as the kubeconfig
    os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, token_path)
    port = os.environ.get("LAB_DASHBOARD_PORT", "18001")
    print(f"dashboard: {page_url('127.0.0.1', int(port), token)}")
    print("  (as kube-system/dashboard-viewer, for 24 h; the token is also in lab/compose/dashboard-token)")


if __name__ == "__main__":
    main(*sys.argv[1:])
