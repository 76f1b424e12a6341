#!/usr/bin/env bash
# Builds the image on the sandbox engine with no registry and no network in the build: the base image
# is made locally (this host's node, npm and the libraries node needs, plus busybox for /bin/sh) and
# npm installs from a cache filled beforehand. With a registry: docker build -t docker-live-upgrade .
set -euo pipefail
cd "$(dirname "$0")/.."
D=(/usr/bin/docker -H unix:///run/docker-live-upgrade-sandbox/docker.sock)
tag=${1:-docker-live-upgrade:local}
work=$(mktemp -d)
trap 'rm -rf "$work" .npm-cache' EXIT

# 1. a base image with node and npm
r=$work/rootfs
node=$(readlink -f "$(command -v node)")
npmdir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$r/bin" "$r/usr/bin" "$r/usr/lib/node_modules" "$r/tmp" "$r/etc" "$r/root"
cp /bin/busybox "$r/bin/"
for c in sh ls mkdir rm cp cat env chmod chroot; do ln -s busybox "$r/bin/$c"; done
ln -s /bin/busybox "$r/usr/bin/env"   # npm's shebang
cp "$node" "$r/usr/bin/node"
cp -a "$npmdir" "$r/usr/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/bin/npm"
ldd "$node" | grep -o '/[^ ]*' | while read -r lib; do mkdir -p "$r$(dirname "$lib")"; cp -L "$lib" "$r$lib"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"; printf 'root:x:0:\n' >"$r/etc/group"
chmod 1777 "$r/tmp"
tar -C "$r" -c . | "${D[@]}" import -c 'ENV PATH=/usr/bin:/bin' - local/node-base:20 >/dev/null

# 2. an npm cache holding exactly what package-lock.json needs
mkdir -p "$work/prefill"
cp package.json package-lock.json "$work/prefill/"
(cd "$work/prefill" && npm ci --cache "$OLDPWD/.npm-cache" --prefer-offline --ignore-scripts --no-audit --no-fund >/dev/null)

# 3. the image, with no network in the build
DOCKER_BUILDKIT=0 "${D[@]}" build --network none --build-arg BASE_IMAGE=local/node-base:20 -t "$tag" . >&2
"${D[@]}" run --rm --network none "$tag" --version
"${D[@]}" image ls "$tag" --format 'build-image: {{.Repository}}:{{.Tag}} {{.Size}}'
