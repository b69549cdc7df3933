#!/usr/bin/env bash
# Builds Baton's image from the repo's Dockerfile on a machine that reaches no image registry.
#
# The Dockerfile's build stage needs npm and a shell, which the local node base (made by
# test/docker/images/base.sh from Node.js 24 alone) lacks. So the build stage's work is done here on the
# host (tsc, then a copy of node_modules pruned to production), the result is imported as a
# scratch image, and the Dockerfile is built with its build stage swapped for that image. The
# runtime stage is the Dockerfile's own, unchanged.
#
#   test/docker/images/baton-image.sh [TAG]     default TAG: 127.0.0.1:9/baton:local
#
# Env: BATON_NODE_BASE (default 127.0.0.1:9/baton-node-base:24);
#      BATON_IMAGE_ALLOW_TS_ERRORS=1 builds even when tsc reports errors (it still emits).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
tag="${1:-127.0.0.1:9/baton:local}"
base="${BATON_NODE_BASE:-127.0.0.1:9/baton-node-base:24}"
# Per run: two builds at once (parallel test runs) must not share a staging folder or tag.
artifacts="127.0.0.1:9/baton-build-artifacts:$$"
say() { echo "baton-image: $*"; }
began=$SECONDS

docker image inspect "$base" >/dev/null 2>&1 || { say "base image $base is missing: run test/docker/images/base.sh (or .ci/docker-up.sh)" >&2; exit 1; }
[[ -d "$root/node_modules" ]] || { say "node_modules is missing: run npm ci first" >&2; exit 1; }

mkdir -p "$root/.tmp"
stage="$(mktemp -d "$root/.tmp/baton-image.XXXXXX")"
trap 'rm -rf "$stage"; docker rmi "$artifacts" >/dev/null 2>&1 || true' EXIT
mkdir -p "$stage/app"

step=$SECONDS
if ! node "$root/node_modules/typescript/bin/tsc" -p "$root/tsconfig.json" --outDir "$stage/app/dist" >"$stage/tsc.log" 2>&1; then
  if [[ "${BATON_IMAGE_ALLOW_TS_ERRORS:-}" == 1 ]]; then
    say "tsc reported errors (BATON_IMAGE_ALLOW_TS_ERRORS=1: building anyway):"
    head -n 20 "$stage/tsc.log"
  else
    cat "$stage/tsc.log" >&2
    say "tsc failed; set BATON_IMAGE_ALLOW_TS_ERRORS=1 to build what it emitted" >&2
    exit 1
  fi
fi
[[ -f "$stage/app/dist/cli.js" ]] && chmod +x "$stage/app/dist/cli.js"
say "compiled src/ in $((SECONDS - step)) s"

step=$SECONDS
cp "$root/package.json" "$root/package-lock.json" "$stage/app/"
cp -a "$root/node_modules" "$stage/app/node_modules"
(cd "$stage/app" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)
say "pruned node_modules to production ($(du -sh "$stage/app/node_modules" | cut -f1)) in $((SECONDS - step)) s"

step=$SECONDS
tar -C "$stage" --numeric-owner --owner=0 --group=0 -c app | docker import - "$artifacts" >/dev/null
# The Dockerfile with its build stage (from `FROM ... AS build` to the next FROM) replaced.
awk -v artifacts="$artifacts" '
  /^FROM .* AS build[[:space:]]*$/ { print "FROM " artifacts " AS build"; skipping = 1; next }
  /^FROM / { skipping = 0 }
  !skipping { print }
' "$root/Dockerfile" >"$stage/Dockerfile"
grep -q "^FROM $artifacts AS build" "$stage/Dockerfile" || { say "no 'FROM ... AS build' stage found in Dockerfile" >&2; exit 1; }
previous="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
if ! out="$(DOCKER_BUILDKIT=0 docker build -f - --build-arg "BASE=$base" -t "$tag" "$root" <"$stage/Dockerfile" 2>&1)"; then
  echo "$out" >&2
  say "docker build failed" >&2
  exit 1
fi
# The image this tag named before is now untagged: drop it unless a container or tag still uses it,
# so that rebuilding on every test run does not pile up 25 MB per run.
if [[ -n "$previous" && "$previous" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
say "built $tag in $((SECONDS - step)) s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}'))"

# Smoke check: the entry point and a production dependency load inside the image.
docker run --rm --network none --entrypoint node "$tag" -e "
  const fs = require('fs');
  if (!fs.existsSync('/app/dist/cli.js')) { console.error('no /app/dist/cli.js'); process.exit(1); }
  require('/app/node_modules/dockerode');
  if (fs.existsSync('/app/node_modules/typescript')) { console.error('dev dependencies in image'); process.exit(1); }
"
say "smoke check passed (dist/cli.js present, dockerode loads, no dev dependencies); total $((SECONDS - began)) s"
