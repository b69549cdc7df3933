#!/usr/bin/env bash
# Makes a Docker engine and Baton's local test images available. Idempotent: fast when the
# engine runs and the images are built. Meant for root on Debian (CI and developer machines).
#
#   1. If `docker info` fails: install docker.io (when dockerd is missing) and start dockerd
#      with no bridge and no iptables (only loopback exists here; containers use --network host),
#      then wait up to 60 s for it.
#   2. Build the local Node 24 base 127.0.0.1:9/baton-node-base:24 when missing
#      (test/docker/images/base.sh: a `docker import` of Node.js 24 from the npm registry and
#      the libraries it links; no image registry is reachable).
#   3. Build the test app images on it: test/docker/images/build.sh, and the migrations
#      example's (test/docker/images/migrations.sh; it copies pg from node_modules: npm ci first).
# `npm test` does 2 and 3 itself when an engine answers (test/setup/docker-images.ts).
#
# Env: BATON_DOCKERD_LOG (default $TMPDIR/baton-dockerd.log), BATON_NODE_BASE, BATON_NODE24.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="${TMPDIR:-/tmp}"
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

if engine_up; then
  say "engine already running ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
else
  start_engine
  say "engine up ($(docker version -f '{{.Server.Version}}' 2>/dev/null)) after $((SECONDS - began)) s"
fi

"$root/test/docker/images/base.sh"
"$root/test/docker/images/build.sh"
"$root/test/docker/images/migrations.sh"
say "done in $((SECONDS - began)) s"
