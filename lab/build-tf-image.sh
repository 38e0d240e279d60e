#!/usr/bin/env bash
# Build the TensorFlow image that the TFJob examples run, offline from any container registry.
#
#   1. the Python base image, minikube-py/python:3.11 (lab/build-python-image.sh);
#   2. a wheelhouse on the host: `pip download` of lab/tensorflow-requirements.txt and every
#      dependency, as wheels for the IMAGE's python and platform (not the host's);
#   3. minikube-py/tensorflow-base:<version>: a venv in /opt/venv installed from the wheelhouse
#      with `pip install --no-index` (pip inside `docker build` reaches no index); two build
#      stages, so that the wheels never become a layer of the image;
#   4. minikube-py/tensorflow:<version>: that plus the training scripts of examples/tfjob/ in
#      /opt/tfjob (baked in: a pod needs nothing else).  Editing a script rebuilds only this.
#
# Cached, so re-runs are quick: the wheelhouse is kept in ~/.cache/minikube-py (per python
# version and requirements hash); each image carries a label with a hash of its inputs (its
# Dockerfile, the requirements or scripts, the image it is built FROM) and is rebuilt only
# when one changes.  `--force` rebuilds both images anyway.
# Progress goes to stderr; the last line on stdout is the image name.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
REQS="$HERE/tensorflow-requirements.txt"
SCRIPTS="$ROOT/examples/tfjob"
BASE=minikube-py/python:3.11
BUILD="$HERE/.build/tensorflow"
CACHE="${MINIKUBE_PY_CACHE:-$HOME/.cache/minikube-py}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1
export DOCKER_BUILDKIT=0        # the legacy builder: no buildx plugin needed

log() { echo "[build-tf-image] $*" >&2; }
START=$SECONDS

TF_VERSION="$(sed -n 's/^tensorflow-cpu==\([0-9.]*\).*/\1/p' "$REQS")"
[[ -n "$TF_VERSION" ]] || { echo "no tensorflow-cpu==X.Y.Z pin in $REQS" >&2; exit 1; }
DEPS_TAG="minikube-py/tensorflow-base:$TF_VERSION"
TAG="minikube-py/tensorflow:$TF_VERSION"

# up_to_date IMAGE HASH: does IMAGE exist, labelled with that input hash?
up_to_date() {
    local have
    have="$(docker image inspect -f '{{ index .Config.Labels "io.minikube-py.build-hash" }}' "$1" 2>/dev/null || true)"
    [[ $FORCE -eq 0 && "$have" == "$2" ]]
}

# build TAG CONTEXT: docker build (its log shown on failure), then drop the image it replaced.
build() {
    local tag="$1" ctx="$2" old new t=$SECONDS
    old="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
    if ! docker build -t "$tag" "$ctx" >"$ctx.log" 2>&1; then
        tail -40 "$ctx.log" >&2
        exit 1
    fi
    new="$(docker image inspect -f '{{.Id}}' "$tag")"
    if [[ -n "$old" && "$old" != "$new" ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
    log "$tag: ${new:7:12}, $(( $(docker image inspect -f '{{.Size}}' "$tag") / 1000000 )) MB, built in $((SECONDS - t)) s"
}

# ------------------------------------------------------------ 1. base image
bash "$HERE/build-python-image.sh" >&2
BASE_ID="$(docker image inspect -f '{{.Id}}' "$BASE")"

# ------------------------------------------------------------ 2. + 3. TensorFlow in a venv
# pip compiles the .pyc files at install: without them every container start would first
# compile TensorFlow's thousands of modules (a minute on a busy machine).
DEPS_DOCKERFILE="FROM $BASE AS install
COPY wheelhouse/ /wheelhouse/
COPY requirements.txt /requirements.txt
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-index --find-links /wheelhouse -q -r /requirements.txt \\
 && rm -rf /root/.cache

FROM $BASE
COPY --from=install /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PYTHONUNBUFFERED=1 \\
    TF_CPP_MIN_LOG_LEVEL=1
CMD [\"python3\"]"
DEPS_HASH="$( (echo "$DEPS_DOCKERFILE"; cat "$REQS"; echo "$BASE_ID") | sha256sum | cut -c1-16)"

if up_to_date "$DEPS_TAG" "$DEPS_HASH"; then
    log "$DEPS_TAG: up to date"
else
    # Wheels must match the image, not the host: ask the image for its python and glibc.
    read -r PYVER GLIBC ARCH < <(docker run --rm "$BASE" python3 -c \
        'import sys, platform; print("%d%d" % sys.version_info[:2], platform.libc_ver()[1].split(".")[1], platform.machine())')
    PLATFORMS=()
    for minor in $(seq 17 "$GLIBC"); do PLATFORMS+=(--platform "manylinux_2_${minor}_${ARCH}"); done
    PLATFORMS+=(--platform "manylinux2014_${ARCH}")
    WHEELS="$CACHE/wheelhouse/cp$PYVER-$(sha256sum "$REQS" | cut -c1-12)"
    if [[ -f "$WHEELS/.complete" ]]; then
        log "wheelhouse: cached in $WHEELS ($(du -sh "$WHEELS" | cut -f1))"
    else
        log "wheelhouse: pip download for cp$PYVER, glibc 2.$GLIBC, $ARCH -> $WHEELS (~330 MB)"
        t=$SECONDS
        mkdir -p "$WHEELS"
        python3 -m pip download --disable-pip-version-check --progress-bar off -d "$WHEELS" -r "$REQS" \
            --only-binary=:all: --implementation cp --python-version "$PYVER" --abi "cp$PYVER" --abi abi3 \
            --abi none "${PLATFORMS[@]}" | sed -n 's|^Saved .*/|    saved |p' >&2
        touch "$WHEELS/.complete"
        log "wheelhouse: $(ls "$WHEELS"/*.whl | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1), $((SECONDS - t)) s"
    fi

    # The build context: hard links into the wheelhouse (no copy), the requirements.
    CTX="$BUILD/base"
    rm -rf "$CTX"
    mkdir -p "$CTX"
    cp -al "$WHEELS" "$CTX/wheelhouse" 2>/dev/null || cp -a "$WHEELS" "$CTX/wheelhouse"
    cp "$REQS" "$CTX/requirements.txt"
    printf '%s\nLABEL io.minikube-py.build-hash=%s\n' "$DEPS_DOCKERFILE" "$DEPS_HASH" > "$CTX/Dockerfile"
    log "docker build $DEPS_TAG (pip install --no-index from the wheelhouse: minutes)"
    build "$DEPS_TAG" "$CTX"
    rm -rf "$CTX"
fi

# ------------------------------------------------------------ 4. the training scripts
DOCKERFILE="FROM $DEPS_TAG
COPY tfjob/ /opt/tfjob/
WORKDIR /opt/tfjob
CMD [\"python3\", \"/opt/tfjob/mnist_multiworker.py\"]"
HASH="$( (echo "$DOCKERFILE"; docker image inspect -f '{{.Id}}' "$DEPS_TAG"; \
          find "$SCRIPTS" -type f -name '*.py' -print0 | sort -z | xargs -0 cat) | sha256sum | cut -c1-16)"
if up_to_date "$TAG" "$HASH"; then
    log "$TAG: up to date"
else
    CTX="$BUILD/scripts"
    rm -rf "$CTX"
    mkdir -p "$CTX/tfjob"
    cp "$SCRIPTS"/*.py "$CTX/tfjob/"
    printf '%s\nLABEL io.minikube-py.build-hash=%s\n' "$DOCKERFILE" "$HASH" > "$CTX/Dockerfile"
    log "docker build $TAG (the scripts of examples/tfjob/)"
    build "$TAG" "$CTX"
fi
log "done in $((SECONDS - START)) s"
echo "$TAG"
