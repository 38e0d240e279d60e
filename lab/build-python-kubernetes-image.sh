#!/usr/bin/env bash
# Build minikube-py/python-kubernetes:3.11: the Python base image plus the official
# `kubernetes` client, for pods that talk to the apiserver from inside the cluster
# (`kubernetes.config.load_incluster_config()`; tests/e2e/test_serviceaccount_in_pod.py).
#
# No registry and no package index is reachable from a `docker build` here, so nothing is
# installed inside one: the host's pip installs the client and its dependencies, as wheels
# for the IMAGE's python and platform, into a directory (pip install --target), and the
# image only copies that directory in (PYTHONPATH).  Cached: the image carries a label with
# a hash of its inputs; `--force` rebuilds.  The last line on stdout is the image name.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BASE=minikube-py/python:3.11
TAG=minikube-py/python-kubernetes:3.11
REQUIREMENT="kubernetes>=30,<37"            # as the `test` extra of pyproject.toml
CTX="$HERE/.build/python-kubernetes"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1
export DOCKER_BUILDKIT=0
log() { echo "[build-python-kubernetes-image] $*" >&2; }
START=$SECONDS

bash "$HERE/build-python-image.sh" >&2
DOCKERFILE="FROM $BASE
COPY site/ /opt/kubernetes-client/
ENV PYTHONPATH=/opt/kubernetes-client PYTHONUNBUFFERED=1
CMD [\"python3\"]"
HASH="$( (echo "$DOCKERFILE"; echo "$REQUIREMENT"; docker image inspect -f '{{.Id}}' "$BASE") | sha256sum | cut -c1-16)"
have="$(docker image inspect -f '{{ index .Config.Labels "io.minikube-py.build-hash" }}' "$TAG" 2>/dev/null || true)"
if [[ $FORCE -eq 0 && "$have" == "$HASH" ]]; then
    log "$TAG: up to date"
    echo "$TAG"
    exit 0
fi

# Wheels must match the image, not the host: ask the image for its python and glibc.
read -r PYVER GLIBC ARCH < <(docker run --rm "$BASE" python3 -c \
    'import sys, platform; print("%d%d" % sys.version_info[:2], platform.libc_ver()[1].split(".")[1], platform.machine())')
PLATFORMS=()
for minor in $(seq 17 "$GLIBC"); do PLATFORMS+=(--platform "manylinux_2_${minor}_${ARCH}"); done
PLATFORMS+=(--platform "manylinux2014_${ARCH}")
rm -rf "$CTX"
mkdir -p "$CTX/site"
log "pip install --target (cp$PYVER, glibc 2.$GLIBC, $ARCH): $REQUIREMENT"
python3 -m pip install --disable-pip-version-check -q --target "$CTX/site" --only-binary=:all: \
    --implementation cp --python-version "$PYVER" --abi "cp$PYVER" --abi abi3 --abi none \
    "${PLATFORMS[@]}" "$REQUIREMENT" >&2
printf '%s\nLABEL io.minikube-py.build-hash=%s\n' "$DOCKERFILE" "$HASH" > "$CTX/Dockerfile"
old="$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)"
if ! docker build -t "$TAG" "$CTX" >"$CTX.log" 2>&1; then
    tail -40 "$CTX.log" >&2
    exit 1
fi
new="$(docker image inspect -f '{{.Id}}' "$TAG")"
[[ -n "$old" && "$old" != "$new" ]] && { docker rmi "$old" >/dev/null 2>&1 || true; }
rm -rf "$CTX"
log "$TAG: ${new:7:12}, $(( $(docker image inspect -f '{{.Size}}' "$TAG") / 1000000 )) MB, in $((SECONDS - START)) s"
echo "$TAG"
