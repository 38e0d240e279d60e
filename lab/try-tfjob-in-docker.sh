#!/usr/bin/env bash
# Run the TFJob examples' training with plain `docker run`: no cluster, a hand-written TF_CONFIG.
#
#   lab/try-tfjob-in-docker.sh [multiworker|ps]      (default: multiworker)
#
# It proves the image and the scripts on their own, and shows what the training
# operator does for a TFJob: one container per replica, a name each replica can be
# reached by (here Docker's DNS on a user-defined network; in the cluster a headless
# Service per replica), and TF_CONFIG telling each one the whole cluster and its own task.
#
#   multiworker  2 workers, examples/tfjob/mnist_multiworker.py (MultiWorkerMirroredStrategy)
#   ps           1 ps, 2 workers, 1 chief, examples/tfjob/mnist_ps.py (ParameterServerStrategy);
#                the ps and workers serve for ever, so they are stopped when the chief is done
#
# Each container gets one CPU (--cpus 1).  The containers and the network are removed at
# the end.  Exit status 0 when the trainers (the workers, or the chief) exited 0 and the
# loss of the last epoch is below the first's.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODE="${1:-multiworker}"
PORT=2222
RUN="tfdemo-$(head -c2 /dev/urandom | od -An -tx1 | tr -d ' \n')"
NET="$RUN"
log() { echo "[try-tfjob] $*"; }

IMAGE="$(bash "$HERE/build-tf-image.sh" | tail -1)"

case "$MODE" in
    multiworker) SCRIPT=mnist_multiworker.py; REPLICAS=(worker-0 worker-1); TRAINERS=(worker-0 worker-1) ;;
    ps)          SCRIPT=mnist_ps.py; REPLICAS=(ps-0 worker-0 worker-1 chief-0); TRAINERS=(chief-0) ;;
    *) echo "usage: $0 [multiworker|ps]" >&2; exit 2 ;;
esac

cleanup() {
    for r in "${REPLICAS[@]}"; do docker rm -f "$RUN-$r" >/dev/null 2>&1 || true; done
    docker network rm "$NET" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# TF_CONFIG's cluster: every replica by name, grouped by type, in index order.
cluster="$(printf '%s\n' "${REPLICAS[@]}" | python3 -c '
import json, sys
run, port = sys.argv[1], sys.argv[2]
cluster = {}
for replica in sys.stdin.read().split():
    kind, index = replica.rsplit("-", 1)
    cluster.setdefault(kind, []).append(f"{run}-{replica}:{port}")
print(json.dumps(cluster))' "$RUN" "$PORT")"
log "cluster: $cluster"

docker network create "$NET" >/dev/null
START=$SECONDS
for r in "${REPLICAS[@]}"; do
    tf_config="{\"cluster\": $cluster, \"task\": {\"type\": \"${r%-*}\", \"index\": ${r##*-}}, \"environment\": \"cloud\"}"
    docker run -d --name "$RUN-$r" --hostname "$RUN-$r" --network "$NET" --cpus 1 \
        --label io.minikube-py.lab=try-tfjob -e TF_CONFIG="$tf_config" \
        "$IMAGE" python3 "/opt/tfjob/$SCRIPT" >/dev/null
    log "started $RUN-$r"
done

# Follow every replica's log, each line prefixed with its name.
pids=()
for r in "${REPLICAS[@]}"; do
    docker logs -f "$RUN-$r" 2>&1 | sed -u "s/^/[$r] /" &
    pids+=($!)
done

failed=0
for r in "${TRAINERS[@]}"; do
    code="$(docker wait "$RUN-$r")"
    log "$r exited $code"
    [[ "$code" == 0 ]] || failed=1
done
for r in "${REPLICAS[@]}"; do docker stop -t 1 "$RUN-$r" >/dev/null 2>&1 || true; done
wait "${pids[@]}" 2>/dev/null || true
log "wall time $((SECONDS - START)) s"

# Did the loss go down?  Compare the first and last "epoch i/n: loss X" of the first trainer.
losses="$(docker logs "$RUN-${TRAINERS[0]}" 2>&1 | sed -n 's/^epoch [0-9]*\/[0-9]*: loss \([0-9.]*\).*/\1/p')"
first="$(echo "$losses" | head -1)"; last="$(echo "$losses" | tail -1)"
if [[ -z "$first" ]] || ! python3 -c "import sys; sys.exit(not float('$last') < float('$first'))"; then
    log "FAILED: loss did not go down (${first:-none} -> ${last:-none})"
    exit 1
fi
log "loss $first -> $last"
[[ $failed -eq 0 ]] || { log "FAILED: a trainer exited non-zero"; exit 1; }
log "OK"
