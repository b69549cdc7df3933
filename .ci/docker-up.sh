#!/usr/bin/env bash
# Makes a Docker engine and Baton's local test images available. Idempotent: fast when the
# engine runs and the images are built. Meant for root on Debian (CI and developer machines).
#
#   1. If `docker info` fails: install docker.io (when dockerd is missing) and start dockerd
#      with no bridge and no iptables (only loopback exists here; containers use --network host),
#      then wait up to 60 s for it.
#   2. Build 127.0.0.1:9/baton-node-base:20 when missing: `docker import` of a root filesystem
#      holding this machine's node and the libraries `ldd` lists (no registry is reachable).
#   3. Build the test app images: test/docker/images/build.sh.
#
# Env: BATON_DOCKERD_LOG (default $TMPDIR/baton-dockerd.log), BATON_NODE_BASE.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="${TMPDIR:-/tmp}"
base="${BATON_NODE_BASE:-127.0.0.1:9/baton-node-base:20}"
dockerd_log="${BATON_DOCKERD_LOG:-$tmp/baton-dockerd.log}"
say() { echo "docker-up: $*"; }
began=$SECONDS

engine_up() { docker info >/dev/null 2>&1; }

start_engine() {
  if ! command -v dockerd >/dev/null 2>&1; then
    say "dockerd missing: installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Another apt run (a parallel job) holds the lock for a while: wait for it instead of failing.
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 docker.io >/dev/null
  fi
  if ! command -v docker >/dev/null 2>&1; then
    say "docker CLI missing after install" >&2
    exit 1
  fi
  local pid=""
  [[ -f /var/run/docker.pid ]] && pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    say "dockerd is already starting (pid $pid): waiting for it"
  else
    say "starting dockerd (log: $dockerd_log)"
    mkdir -p "$(dirname "$dockerd_log")"
    setsid dockerd --bridge=none --iptables=false --ip6tables=false </dev/null >"$dockerd_log" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    engine_up && return 0
    sleep 1
  done
  say "dockerd did not answer within 60 s; last lines of $dockerd_log:" >&2
  tail -n 20 "$dockerd_log" >&2 || true
  exit 1
}

build_base() {
  local node_bin rootfs lib
  node_bin="$(readlink -f "$(command -v node)")"
  rootfs="$(mktemp -d "$tmp/baton-rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"; trap - RETURN' RETURN
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
    --change "LABEL baton.node=$(node --version)" \
    - "$base" >/dev/null
  docker run --rm --network host "$base" node -e 'process.exit(0)'
}

if engine_up; then
  say "engine already running ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
else
  start_engine
  say "engine up ($(docker version -f '{{.Server.Version}}' 2>/dev/null)) after $((SECONDS - began)) s"
fi

if docker image inspect "$base" >/dev/null 2>&1; then
  say "base image $base present (node $(docker image inspect -f '{{index .Config.Labels "baton.node"}}' "$base"))"
else
  step=$SECONDS
  build_base
  say "built base image $base from $(command -v node) ($(node --version)) in $((SECONDS - step)) s"
fi

"$root/test/docker/images/build.sh"
say "done in $((SECONDS - began)) s"
