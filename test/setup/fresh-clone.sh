#!/usr/bin/env bash
# The README's test command on a fresh machine, for real (issue 15, point 1): a fresh clone of
# this repo's HEAD, `npm ci`, then `npm test` against a Docker engine that holds no image at
# all, under CI=true (nothing may skip). The vitest global setup must build the Node base and
# the test images itself, and the Docker suites must pass.
#
# The empty engine is a private dockerd in a mount namespace of its own: a tmpfs on /run makes
# it the /var/run/docker.sock that the tests, the docker CLI and the containers see there; its
# data lives in a temporary folder. The machine's own engine and its images are not touched.
# It is stopped by its pid, and the folder removed, at the end.
#
#   sudo bash test/setup/fresh-clone.sh                  the suites that need images (test/docker)
#   sudo bash test/setup/fresh-clone.sh test/            the whole suite (any vitest filters)
#
# Needs root, unshare(1) and dockerd. A few minutes: npm ci, Node 24, the images, the suites.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
say() { echo "fresh-clone: $*"; }

if [[ "${1:-}" != --inside ]]; then
  command -v unshare >/dev/null && command -v dockerd >/dev/null || { say "needs unshare(1) and dockerd" >&2; exit 1; }
  [[ "$(id -u)" == 0 ]] || { say "needs root (it starts a private dockerd)" >&2; exit 1; }
  work="$(mktemp -d "${TMPDIR:-/tmp}/baton-fresh.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  commit="$(git -C "$root" rev-parse HEAD)"
  git clone -q "$root" "$work/baton"
  git -C "$work/baton" checkout -q "$commit"
  say "cloned $commit into $work/baton"
  unshare --mount --propagation private bash "$here/fresh-clone.sh" --inside "$work" "$@"
  exit
fi

# --- inside the mount namespace --------------------------------------------------------------
work="$2"
shift 2
mount -t tmpfs -o mode=755 tmpfs /run
setsid dockerd --bridge=none --iptables=false --ip6tables=false --data-root "$work/docker" </dev/null >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
stop_engine() {
  # Containers a failed test left behind go with the engine's data folder.
  kill "$dockerd_pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2>/dev/null || return 0; sleep 1; done
  kill -9 "$dockerd_pid" 2>/dev/null || true
}
trap stop_engine EXIT
for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null 2>&1 || { say "the private dockerd did not start:"; tail -n 20 "$work/dockerd.log"; exit 1; }
say "private engine up (pid $dockerd_pid, $(docker info -f '{{.Images}}') images)"

cd "$work/baton"
began=$SECONDS
npm ci --no-audit --no-fund
CI=true npm test -- "${@:-test/docker}"
say "npm ci && npm test passed on an empty engine in $((SECONDS - began)) s; images it built: $(docker images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')"
