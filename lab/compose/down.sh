#!/usr/bin/env bash
# Take the compose lab down: `docker-compose down -v`, for labs of any age.
#
# `docker-compose down -v` alone removes everything, with Compose v2 too: the lab's containers,
# its network and volumes, the pods' containers (the kubelets label them as one-off containers
# of the project's service `pods`, which removes them when it is stopped, see docker-compose.yml)
# and kube-proxy's iptables rules (the proxy service runs `minikube-py proxy --cleanup` when it
# is stopped). This script also removes the pods of
# a lab started before the kubelets labelled them, which Compose does not know:
#   1. stop the lab (the kubelets first: none may start a pod while we clean up);
#   2. remove every container of the lab's nodes (label io.minikube-py.node=lab-node-N);
#   3. docker-compose down -v.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
COMPOSE="${COMPOSE:-docker-compose}"
NODES="${LAB_NODES:-lab-node-1 lab-node-2 lab-node-3}"

$COMPOSE stop                     # each service's stop_grace_period (the proxy's cleanup: 30 s)
for node in $NODES; do
    ids="$(docker ps -aq --filter "label=io.minikube-py.node=$node")"
    if [[ -n "$ids" ]]; then
        echo "removing $(echo "$ids" | wc -l) containers of node $node"
        docker rm -f $ids >/dev/null
    fi
done
$COMPOSE down -v --remove-orphans
