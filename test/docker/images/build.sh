#!/usr/bin/env bash
# Builds Baton's test app images on top of the local node base (test/docker/images/base.sh):
#   127.0.0.1:9/baton-test-app:{v1,v2,v3}   the app, APP_VERSION baked in
#   127.0.0.1:9/baton-test-app:crash        exits 3 at start, "boom: crashing on purpose" on stderr
#   127.0.0.1:9/baton-test-app:unhealthy    serves, Docker HEALTHCHECK always fails
#   127.0.0.1:9/baton-test-app:healthcheck-ok  serves, Docker HEALTHCHECK GETs /healthz
# The registry host 127.0.0.1:9 has no listener, so pulling a tag that is not here fails at once.
# Skips the build when every image carries the hash of the current sources (FORCE=1 rebuilds).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="${BATON_TEST_APP_REPO:-127.0.0.1:9/baton-test-app}"
base="${BATON_NODE_BASE:-127.0.0.1:9/baton-node-base:24}"

if ! base_id="$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null)"; then
  echo "build.sh: base image $base is missing: run test/docker/images/base.sh (or .ci/docker-up.sh) first" >&2
  exit 1
fi
hash="$( { echo "$base_id"; cat "$here/app/Dockerfile" "$here/app/server.js"; } | sha256sum | cut -c1-16)"

# tag:target:APP_VERSION (the variants set their own on top of the v1 stage, which stays cached)
specs=(v1:app:v1 v2:app:v2 v3:app:v3 crash:crash:v1 unhealthy:unhealthy:v1 healthcheck-ok:healthcheck-ok:v1)

stale=()
for spec in "${specs[@]}"; do
  tag="${spec%%:*}"
  have="$(docker image inspect -f '{{index .Config.Labels "baton.test.hash"}}' "$repo:$tag" 2>/dev/null || true)"
  [[ "$have" == "$hash" && "${FORCE:-}" != 1 ]] || stale+=("$spec")
done
if [[ ${#stale[@]} -eq 0 ]]; then
  echo "build.sh: test images up to date ($repo:{v1,v2,v3,crash,unhealthy,healthcheck-ok}, sources $hash)"
  exit 0
fi

for spec in "${stale[@]}"; do
  IFS=: read -r tag target version <<<"$spec"
  start=$SECONDS
  # The legacy builder: BuildKit needs the buildx plugin, which newer CLIs do not bundle.
  if ! out="$(DOCKER_BUILDKIT=0 docker build \
    --target "$target" \
    --build-arg "BASE=$base" \
    --build-arg "APP_VERSION=$version" \
    --label "baton.test.hash=$hash" \
    --tag "$repo:$tag" \
    "$here/app" 2>&1)"; then
    echo "$out" >&2
    echo "build.sh: building $repo:$tag failed" >&2
    exit 1
  fi
  echo "build.sh: built $repo:$tag (target $target) in $((SECONDS - start)) s"
done
