#!/usr/bin/env bash
# Compose v2 beside the docker-compose 1.29 Debian bookworm ships, without installing it:
# the lab's docker-compose.yml must work with both. Debian trixie packages Compose v2 as one
# static Go binary (the CLI plugin), needing only libc; this unpacks it under lab/.build and
# prints its path. Then, for example:
#     COMPOSE="$(bash lab/get-compose-v2.sh)" MINIKUBE_PY_LAB=full python3 -m pytest -q tests/lab/
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${COMPOSE_V2_DEB_VERSION:-2.26.1-4}"
DEST=lab/.build/compose-v2
BIN="$DEST/usr/libexec/docker/cli-plugins/docker-compose"
if [ ! -x "$BIN" ]; then
    mkdir -p "$DEST"
    deb="$DEST/docker-compose_${VERSION}_amd64.deb"
    curl -fsSL -o "$deb" "http://deb.debian.org/debian/pool/main/d/docker-compose/docker-compose_${VERSION}_amd64.deb"
    dpkg-deb -x "$deb" "$DEST"
    rm -f "$deb"
fi
"$BIN" version >&2
echo "$PWD/$BIN"
