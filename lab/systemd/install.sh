#!/usr/bin/env bash
# Install the cluster as systemd units (one machine): render the unit files of lab/systemd/
# with this machine's paths, write the cluster's settings and kubeconfig, enable them.
#
#   sudo lab/systemd/install.sh --nodes 2 [--gpus-per-node 2]   # then: systemctl start minikube-py.target
#   lab/systemd/install.sh --render-only --dest /tmp/units --verify   # what CI runs: systemd-analyze verify
#
# Settings go to $CONFIG_DIR/cluster.env (ports, state dir, pod network, the DNS address) and
# $CONFIG_DIR/kubelet-<node>.env (per-node kubelet flags); edit them and restart the units.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(cd "$here/../.." && pwd)"
dest=/etc/systemd/system config=/etc/minikube-py state=/var/lib/minikube-py
nodes=1 gpus=0 render_only=0 verify=0 api_port=6443 etcd_port=2379 etcd_peer_port=2380
pod_network=minikube-py pod_cidr=10.244.0.0/16
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) dest="$2"; shift ;;
    --config-dir) config="$2"; shift ;;
    --state-dir) state="$2"; shift ;;
    --nodes) nodes="$2"; shift ;;
    --gpus-per-node) gpus="$2"; shift ;;
    --api-port) api_port="$2"; shift ;;
    --render-only) render_only=1 ;;
    --verify) verify=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac; shift
done
bin="$(command -v minikube-py || true)"
[ -n "$bin" ] || { echo "minikube-py is not on PATH (pip install -e . first)" >&2; exit 1; }

echo "[systemd] rendering units into $dest (minikube-py at $bin, settings in $config)"
mkdir -p "$dest"
for unit in "$here"/*.service "$here"/*.target; do
  sed -e "s|@BIN@|$bin|g" -e "s|@CONFIG@|$config|g" -e "s|@DOCS@|$repo|g" "$unit" > "$dest/$(basename "$unit")"
done
node_names=(); for i in $(seq 1 "$nodes"); do node_names+=("node-$i"); done

if [ "$verify" = 1 ]; then
  # Instances of the templates are verified through links named like them.
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  cp "$dest"/minikube-py*.service "$dest"/minikube-py.target "$tmp"/
  for t in kubelet proxy device-plugin; do ln -s "minikube-py-$t@.service" "$tmp/minikube-py-$t@node-1.service"; done
  echo "[systemd] systemd-analyze verify"
  # verify exits 0 on lines it ignores (a misspelt key, a bad Type=): any message fails here.
  out="$(cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
      minikube-py.target minikube-py-{etcd,apiserver,controller-manager,scheduler,dns,tf-operator}.service \
      minikube-py-{kubelet,proxy,device-plugin}@node-1.service 2>&1)" || { echo "$out" >&2; exit 1; }
  [ -z "$out" ] || { echo "$out" >&2; echo "[systemd] verify: FAILED" >&2; exit 1; }
  echo "[systemd] verify: ok"
fi
[ "$render_only" = 1 ] && exit 0

echo "[systemd] images and the pod network"
bash "$repo/lab/build-images.sh"
dns_ip="$(python3 - "$pod_network" "$pod_cidr" <<'PY'
import sys, docker
from minikube_py.kubelet.runtime.podnetwork import ensure_pod_network
from minikube_py.dns.addon import docker_network_gateway
client = docker.from_env()
ensure_pod_network(client, sys.argv[1], sys.argv[2])
print(docker_network_gateway(client, names=(sys.argv[1],)))
PY
)"
mkdir -p "$config" "$state"
cat > "$config/cluster.env" <<ENV
STATE_DIR=$state
ETCD_PORT=$etcd_port
ETCD_PEER_PORT=$etcd_peer_port
API_PORT=$api_port
POD_NETWORK=$pod_network
POD_CIDR=$pod_cidr
CLUSTER_DNS=$dns_ip
CONTROLLER_MANAGER_ARGS=
ENV
python3 -c "from minikube_py.client.kubeconfig import write_kubeconfig as w; import sys; w(sys.argv[1], sys.argv[2])" \
    "$config/kubeconfig" "http://127.0.0.1:$api_port"
units=(minikube-py.target minikube-py-{etcd,apiserver,controller-manager,scheduler,dns,tf-operator}.service)
for n in "${node_names[@]}"; do
  args=""
  if [ "$gpus" -gt 0 ]; then
    mkdir -p "$state/nodes/$n/device-plugins"
    args="--device-plugin-dir $state/nodes/$n/device-plugins"
    units+=("minikube-py-device-plugin@$n.service")
  fi
  printf 'KUBELET_ARGS=%s\nGPU_COUNT=%s\n' "$args" "$gpus" > "$config/kubelet-$n.env"
  units+=("minikube-py-kubelet@$n.service" "minikube-py-proxy@$n.service")
done
if [ "$(ps -p 1 -o comm=)" = systemd ]; then
  systemctl daemon-reload
  systemctl enable "${units[@]}"
  echo "[systemd] enabled: ${units[*]}"
  echo "[systemd] start:  systemctl start minikube-py.target; kubeconfig: $config/kubeconfig"
else
  echo "[systemd] systemd is not PID 1 here: units and settings are written, nothing enabled" >&2
fi
