#!/usr/bin/env bash
# Install minikube-py's simulated nvidia runtime and register it in dockerd as
# runtime "nvidia" (what nvidia-docker2 does with NVIDIA's runtime). Idempotent:
# run it as often as you like; it changes only what differs.
#
#   1. copy nvidia-container-runtime and nvidia-smi to $PREFIX
#      (default /usr/local/lib/minikube-py/nvidia-runtime), the runtime's
#      "#!" line pointing at this host's python3 -IS (isolated, no site-packages:
#      it needs only the standard library, and starts in half the time);
#   2. merge {"runtimes": {"nvidia": {"path": ...}}} into dockerd's daemon.json,
#      keeping every other key (the file dockerd was started with, from its
#      --config-file flag, else /etc/docker/daemon.json);
#   3. if daemon.json changed (or dockerd does not list the runtime yet), send
#      dockerd SIGHUP: it re-reads its configuration, runtimes included, without
#      restarting and without touching running containers;
#   4. check with `docker info` that runtime "nvidia" is there.
#
# It refuses to replace an "nvidia" runtime that is not ours (a real GPU host
# with NVIDIA's runtime installed) unless --force is given.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${PREFIX:-/usr/local/lib/minikube-py/nvidia-runtime}"
RUNTIME_NAME="${RUNTIME_NAME:-nvidia}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

log() { echo "[nvidia-runtime] $*"; }
die() { echo "[nvidia-runtime] error: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (it writes $PREFIX and dockerd's daemon.json)"

PY=/usr/bin/python3
[[ -x "$PY" ]] || PY="$(command -v python3)" || die "python3 not found"

# ------------------------------------------------------------------ 1. files
install -d -m 0755 "$PREFIX"
RUNTIME="$PREFIX/nvidia-container-runtime"
TMP="$(mktemp)"
trap 'rm -f "$TMP"' EXIT
sed "1s|.*|#!$PY -IS|" "$HERE/nvidia-container-runtime" > "$TMP"
if ! cmp -s "$TMP" "$RUNTIME"; then
    install -m 0755 "$TMP" "$RUNTIME.new" && mv -f "$RUNTIME.new" "$RUNTIME"
    log "installed $RUNTIME"
fi
if ! cmp -s "$HERE/nvidia-smi" "$PREFIX/nvidia-smi"; then
    install -m 0755 "$HERE/nvidia-smi" "$PREFIX/nvidia-smi.new" && mv -f "$PREFIX/nvidia-smi.new" "$PREFIX/nvidia-smi"
    log "installed $PREFIX/nvidia-smi"
fi

# ------------------------------------------------------------------ 2. daemon.json
DOCKERD_PIDS="$(pidof dockerd || true)"
[[ -n "$DOCKERD_PIDS" ]] || die "dockerd is not running on this host"
CONFIG=""
for pid in $DOCKERD_PIDS; do
    # --config-file F or --config-file=F on dockerd's command line
    CONFIG="$(tr '\0' '\n' < "/proc/$pid/cmdline" | awk 'f {print; exit} /^--config-file=/ {sub(/^--config-file=/, ""); print; exit} /^--config-file$/ {f=1}')"
    [[ -n "$CONFIG" ]] && break
done
CONFIG="${DAEMON_JSON:-${CONFIG:-/etc/docker/daemon.json}}"

CHANGED="$("$PY" - "$CONFIG" "$RUNTIME_NAME" "$RUNTIME" "$FORCE" <<'EOF'
import json, os, sys, tempfile
path, name, runtime, force = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
try:
    with open(path) as f:
        text = f.read()
    config = json.loads(text) if text.strip() else {}
except FileNotFoundError:
    config = {}
if not isinstance(config, dict):
    sys.exit(f"{path} is not a JSON object")
runtimes = config.setdefault("runtimes", {})
current = runtimes.get(name)
wanted = {"path": runtime}
if current == wanted:
    print("no")
    sys.exit(0)
if current and current.get("path") != runtime and not force \
        and not str(current.get("path", "")).endswith("minikube-py/nvidia-runtime/nvidia-container-runtime"):
    sys.exit(f"{path} already has a runtime {name!r} that is not ours ({current}); "
             "use --force to replace it")
runtimes[name] = wanted
os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".daemon.json-")
with os.fdopen(fd, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
os.chmod(tmp, 0o644)
os.replace(tmp, path)
print("yes")
EOF
)" || die "could not update $CONFIG"
[[ "$CHANGED" == "yes" ]] && log "registered runtime '$RUNTIME_NAME' in $CONFIG"

# ------------------------------------------------------------------ 3. reload, 4. check
listed() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q "\"$RUNTIME_NAME\""; }
if [[ "$CHANGED" == "yes" ]] || ! listed; then
    log "asking dockerd (pid $DOCKERD_PIDS) to reload its configuration (SIGHUP)"
    kill -HUP $DOCKERD_PIDS
    for _ in $(seq 1 100); do
        listed && break
        sleep 0.1
    done
fi
listed || die "dockerd does not list runtime '$RUNTIME_NAME' (see: docker info | grep -i runtimes)"
log "ready: $(docker info 2>/dev/null | grep -i 'runtimes:' | sed 's/^ *//')"
