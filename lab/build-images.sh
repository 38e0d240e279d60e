#!/usr/bin/env bash
# Build the few images minikube-py needs, locally, from a static busybox.
#
# The lab machines cannot pull from any registry, so every image a pod uses
# must be built here.  We build:
#
#   busybox:latest, busybox:1.35     FROM scratch + static busybox + one symlink per applet
#   minikube-py/pause:3.9,           the pod sandbox ("pause") image: sleeps forever,
#   registry.k8s.io/pause:3.9        exits 0 promptly on SIGTERM/SIGINT
#   nginx:1.14.2, nginx:1.16.1,      a STAND-IN for nginx (no registry here): busybox httpd
#   nginx:1.25, nginx:latest         serving a welcome page on port 80, so that manifests from
#                                    the Kubernetes docs (which use nginx) run unchanged
#
# Idempotent and fast: each image carries a label with a hash of its inputs
# (this script + the busybox binary); when the image with that hash already
# exists nothing is rebuilt.  `--force` rebuilds anyway.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$HERE/.build"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

# The legacy builder works everywhere (no buildx plugin needed).
export DOCKER_BUILDKIT=0

log() { echo "[build-images] $*"; }

is_static() {
    [[ -x "$1" ]] || return 1
    if command -v file >/dev/null 2>&1; then
        file -L "$1" | grep -q 'statically linked'
    else
        ! grep -q 'ld-linux' "$1"      # a dynamic ELF names its loader
    fi
}

if ! is_static "$BUSYBOX"; then
    log "no static busybox at $BUSYBOX; installing busybox-static (apt)"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y busybox-static >/dev/null \
        || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y busybox-static >/dev/null; }
    BUSYBOX=/bin/busybox
    is_static "$BUSYBOX" || { echo "busybox at $BUSYBOX is not static" >&2; exit 1; }
fi

mkdir -p "$BUILD"

# Every image is labelled with a hash of its inputs: this script and the
# busybox binary.  Same hash => nothing to do.
HASH="$(cat "${BASH_SOURCE[0]}" "$BUSYBOX" | sha256sum | cut -c1-16)"

# up_to_date TAG: does TAG exist and carry the current hash?
up_to_date() {
    local have
    have="$(docker image inspect -f '{{ index .Config.Labels "io.minikube-py.build-hash" }}' "$1" 2>/dev/null || true)"
    [[ $FORCE -eq 0 && "$have" == "$HASH" ]]
}

# build NAME CONTEXT_DIR TAG   (quiet; the build log is shown only on failure)
build() {
    local name="$1" ctx="$2" tag="$3"
    log "$name: building $tag (hash $HASH)"
    if ! docker build -q --label "io.minikube-py.build-hash=$HASH" -t "$tag" "$ctx" \
            >"$BUILD/$name.log" 2>&1; then
        cat "$BUILD/$name.log" >&2
        exit 1
    fi
}

# tag_all NAME OLD_ID TAG...: point the alias tags at the first one, drop the
# image this build replaced (if nothing else uses it) and report.
tag_all() {
    local name="$1" old="$2"; shift 2
    local tags=("$@") t new
    for t in "${tags[@]:1}"; do docker tag "${tags[0]}" "$t"; done
    new="$(docker image inspect -f '{{.Id}}' "${tags[0]}")"
    if [[ -n "$old" && "$old" != "$new" ]]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
    log "$name: ${new:0:19}  ${tags[*]}"
}

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# make_rootfs DIR APPLETS: /bin/busybox, a symlink per applet ("all" = every
# applet) and the few /etc files that httpd, id, wget ... expect.
make_rootfs() {
    local root="$1" applets="$2" a
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var/www" \
             "$root/proc" "$root/sys" "$root/dev" "$root/home"
    chmod 1777 "$root/tmp"
    cp "$BUSYBOX" "$root/bin/busybox"
    chmod 0755 "$root/bin/busybox"
    [[ "$applets" == "all" ]] && applets="$("$BUSYBOX" --list)"
    for a in $applets; do
        [[ "$a" == "busybox" ]] || ln -sf busybox "$root/bin/$a"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/usr/sbin:/bin/false' \
        'nobody:x:65534:65534:nobody:/home:/bin/false' > "$root/etc/passwd"
    printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'nogroup:x:65534:' > "$root/etc/group"
    echo "hosts: files dns" > "$root/etc/nsswitch.conf"
}

# ---------------------------------------------------------------- busybox
BB_TAGS=(busybox:latest busybox:1.35)
OLD="$(image_id "${BB_TAGS[0]}")"
if up_to_date "${BB_TAGS[0]}"; then
    log "busybox: up to date"
else
    BB="$BUILD/busybox"
    make_rootfs "$BB/rootfs" all
    cat > "$BB/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
EOF
    build busybox "$BB" "${BB_TAGS[0]}"
fi
tag_all busybox "$OLD" "${BB_TAGS[@]}"

# ---------------------------------------------------------------- pause
# PID 1 ignores signals it has no handler for, so the sandbox traps TERM/INT
# and exits 0; `sleep & wait` keeps the shell interruptible.
PAUSE_TAGS=(minikube-py/pause:3.9 registry.k8s.io/pause:3.9)
OLD="$(image_id "${PAUSE_TAGS[0]}")"
if up_to_date "${PAUSE_TAGS[0]}"; then
    log "pause: up to date"
else
    PA="$BUILD/pause"
    make_rootfs "$PA/rootfs" "sh sleep"
    cat > "$PA/rootfs/pause" <<'EOF'
#!/bin/sh
# The pod sandbox: holds the pod's network (and IPC) namespace, does nothing.
trap 'exit 0' TERM INT
while :; do
    sleep 3600 &
    wait
done
EOF
    chmod 0755 "$PA/rootfs/pause"
    cat > "$PA/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
STOPSIGNAL SIGTERM
ENTRYPOINT ["/pause"]
EOF
    build pause "$PA" "${PAUSE_TAGS[0]}"
fi
tag_all pause "$OLD" "${PAUSE_TAGS[@]}"

# ---------------------------------------------------------------- nginx stand-in
# Not nginx: busybox's httpd on port 80 with an "nginx"-like welcome page. The docs'
# Deployment examples use nginx images; with no registry reachable, this lets them run.
# Like nginx it stops at once on SIGTERM (PID 1 has no default handlers: the shell traps it).
# Each replica also serves its own name at /hostname (as agnhost's serve-hostname does), so a
# lab can see which pod behind a Service answered: wget -qO- http://<service>/hostname
NGINX_TAGS=(nginx:1.14.2 nginx:1.16.1 nginx:1.25 nginx:latest)
OLD="$(image_id "${NGINX_TAGS[0]}")"
if up_to_date "${NGINX_TAGS[0]}"; then
    log "nginx stand-in: up to date"
else
    NG="$BUILD/nginx"
    make_rootfs "$NG/rootfs" all
    mkdir -p "$NG/rootfs/usr/share/nginx/html"
    cat > "$NG/rootfs/usr/share/nginx/html/index.html" <<'EOF'
<!DOCTYPE html>
<html><head><title>Welcome to nginx!</title></head>
<body><h1>Welcome to nginx!</h1>
<p>(minikube-py lab stand-in: busybox httpd, built locally by lab/build-images.sh)</p></body></html>
EOF
    cat > "$NG/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EXPOSE 80
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "trap 'exit 0' TERM INT; hostname > /usr/share/nginx/html/hostname 2>/dev/null; httpd -f -v -p 80 -h /usr/share/nginx/html & wait"]
EOF
    build nginx "$NG" "${NGINX_TAGS[0]}"
fi
tag_all nginx "$OLD" "${NGINX_TAGS[@]}"

log "done"
