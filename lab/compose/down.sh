#!/usr/bin/env bash
# Take the compose lab down and leave nothing behind.
#
# `docker-compose down -v` removes the lab's own containers, its network and volumes, but not
# what the kubelets made on the host: the pods' containers (the host's Docker runs them, so they
# outlive their kubelet, as containers outlive a restarted kubelet) and kube-proxy's iptables
# rules in the host's tables. So, in this order:
#   1. stop the lab's containers (no kubelet may start a pod while we clean up);
#   2. remove every container of the lab's nodes (label io.minikube-py.node=lab-node-N);
#   3. remove kube-proxy's rules: `minikube-py proxy --cleanup` in the proxy's container setup;
#   4. docker-compose down -v (containers, the network minikube-py-lab, the volumes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
COMPOSE="${COMPOSE:-docker-compose}"
NODES="${LAB_NODES:-lab-node-1 lab-node-2 lab-node-3}"

$COMPOSE stop -t 10
for node in $NODES; do
    ids="$(docker ps -aq --filter "label=io.minikube-py.node=$node")"
    if [[ -n "$ids" ]]; then
        echo "removing $(echo "$ids" | wc -l) containers of node $node"
        docker rm -f $ids >/dev/null
    fi
done
$COMPOSE run --rm --no-deps -T proxy minikube-py proxy --cleanup
$COMPOSE down -v --remove-orphans
