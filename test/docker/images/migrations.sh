#!/usr/bin/env bash
# Builds the migrations test image on the local node base (base.sh) and tags it
#   127.0.0.1:9/baton-test-migrations:{v1,v2,broken}
# The tags are one image: examples/migrations/app.js and migrate.js choose their schema and
# behaviour from BATON_VERSION, which Baton sets ("broken": the migration fails). The pg module
# and its dependencies are copied from node_modules (npm ci first), their closure computed by
# migrations/context.mjs. Skips the build when every tag carries the hash of the current build
# context (FORCE=1 rebuilds).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="${BATON_TEST_MIGRATIONS_REPO:-127.0.0.1:9/baton-test-migrations}"
base="${BATON_NODE_BASE:-127.0.0.1:9/baton-node-base:24}"
tags=(v1 v2 broken)
say() { echo "migrations.sh: $*"; }

if ! base_id="$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null)"; then
  echo "migrations.sh: base image $base is missing: run test/docker/images/base.sh (or .ci/docker-up.sh) first" >&2
  exit 1
fi

context="$(mktemp -d "${TMPDIR:-/tmp}/baton-migrations.XXXXXX")"
trap 'rm -rf "$context"' EXIT
if ! packages="$(node "$here/migrations/context.mjs" "$context")"; then
  echo "migrations.sh: could not assemble the build context (is node_modules installed? npm ci)" >&2
  exit 1
fi
cp "$here/migrations/Dockerfile" "$context/Dockerfile"
# Every file of the context, by path and content, and the base it builds on.
hash="$( { echo "$base_id"; (cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-16)"

stale=0
for tag in "${tags[@]}"; do
  have="$(docker image inspect -f '{{index .Config.Labels "baton.test.hash"}}' "$repo:$tag" 2>/dev/null || true)"
  [[ "$have" == "$hash" && "${FORCE:-}" != 1 ]] || stale=1
done
if [[ $stale == 0 ]]; then
  say "test images up to date ($repo:{$(IFS=,; echo "${tags[*]}")}, context $hash)"
  exit 0
fi

start=$SECONDS
# The legacy builder: BuildKit needs the buildx plugin, which newer CLIs do not bundle.
if ! out="$(DOCKER_BUILDKIT=0 docker build \
  --build-arg "BASE=$base" \
  --label "baton.test.hash=$hash" \
  --tag "$repo:${tags[0]}" \
  "$context" 2>&1)"; then
  echo "$out" >&2
  echo "migrations.sh: building $repo:${tags[0]} failed" >&2
  exit 1
fi
for tag in "${tags[@]:1}"; do docker tag "$repo:${tags[0]}" "$repo:$tag"; done
say "built $repo:{$(IFS=,; echo "${tags[*]}")} in $((SECONDS - start)) s with $(wc -l <<<"$packages") packages: $(cut -d' ' -f1 <<<"$packages" | paste -sd' ')"
