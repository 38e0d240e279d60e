#!/usr/bin/env bash
# Build a Debian-based Python image, offline from any container registry.
#
# No registry is reachable from the lab, so `FROM python:3.11` cannot be pulled.
# Debian's package mirror *is* reachable, so we make the root filesystem with
# debootstrap (a minimal Debian plus python3 and its venv module) and turn it
# into an image with `docker import`:
#
#   minikube-py/python:3.11             Debian 12 (bookworm), its python3 (3.11.x),
#   minikube-py/python:3.11-bookworm    python3-venv (pip comes from ensurepip)
#
# The TensorFlow image (lab/build-tf-image.sh) is built FROM it.
#
# Cached: the image carries a label with a hash of this script; when an image
# with that hash exists nothing is done.  `--force` rebuilds anyway.
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$HERE/.build/python"
SUITE=bookworm
PY=3.11                         # the python3 of $SUITE; checked after debootstrap
TAGS=("minikube-py/python:$PY" "minikube-py/python:$PY-$SUITE")
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE="${MINIKUBE_PY_CACHE:-$HOME/.cache/minikube-py}/debootstrap-$SUITE"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

log() { echo "[build-python-image] $*"; }

HASH="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
have="$(docker image inspect -f '{{ index .Config.Labels "io.minikube-py.build-hash" }}' "${TAGS[0]}" 2>/dev/null || true)"
if [[ $FORCE -eq 0 && "$have" == "$HASH" ]]; then
    log "${TAGS[0]}: up to date"
    exit 0
fi

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap (apt)"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y debootstrap >/dev/null \
        || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y debootstrap >/dev/null; }
fi

START=$SECONDS
ROOTFS="$BUILD/rootfs"
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS" "$CACHE"
log "debootstrap $SUITE (minbase + python3, python3-venv) from $MIRROR"
if ! debootstrap --variant=minbase --cache-dir="$CACHE" \
        --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$ROOTFS" "$MIRROR" >"$BUILD.log" 2>&1; then
    tail -30 "$BUILD.log" >&2
    exit 1
fi

version="$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
full="$(chroot "$ROOTFS" python3 -c 'import platform; print(platform.python_version())')"
if [[ "$version" != "$PY" ]]; then
    echo "$SUITE ships python $version, this script tags $PY: update PY" >&2
    exit 1
fi

# What a container does not need: package lists, downloaded .debs, docs, man pages, locales.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
       "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/log/*.log
# The host's resolv.conf was copied in for debootstrap; Docker and the kubelet write their own.
: > "$ROOTFS/etc/resolv.conf"

log "docker import -> ${TAGS[*]} (python $full)"
old="$(docker image inspect -f '{{.Id}}' "${TAGS[0]}" 2>/dev/null || true)"
tar -C "$ROOTFS" -c . | docker import \
    --change "LABEL io.minikube-py.build-hash=$HASH" \
    --change "LABEL org.opencontainers.image.description=\"Debian $SUITE, python $full (lab/build-python-image.sh)\"" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change 'CMD ["python3"]' \
    - "${TAGS[0]}" >/dev/null
docker tag "${TAGS[0]}" "${TAGS[1]}"
new="$(docker image inspect -f '{{.Id}}' "${TAGS[0]}")"
[[ -n "$old" && "$old" != "$new" ]] && { docker rmi "$old" >/dev/null 2>&1 || true; }
rm -rf "$ROOTFS"
size="$(docker image inspect -f '{{.Size}}' "${TAGS[0]}")"
log "${TAGS[*]}: ${new:7:12}, $((size / 1000000)) MB, built in $((SECONDS - START)) s"
