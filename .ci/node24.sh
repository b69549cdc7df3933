#!/usr/bin/env bash
# Prints the path of a Node.js 24 binary, fetching it from the npm registry when needed:
# the package node-linux-<arch>@24 holds the official binary (no install script runs).
#
#   .ci/node24.sh            -> /path/to/bin/node   (progress on stderr)
#
# Looked for in order: $BATON_NODE24 (a node binary), `node` on PATH when it is 24, the cache
# folder, then `npm pack node-linux-<arch>@24` unpacked into the cache folder.
# Env: BATON_TOOLS (the cache folder, default <repo>/.tmp/tools), BATON_NODE24;
# BATON_NODE24_REGISTRY=1 takes it from the npm registry (or the cache) only (what CI does).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${BATON_TOOLS:-$root/.tmp/tools}"
say() { echo "node24: $*" >&2; }

is24() { [[ -x "$1" ]] && [[ "$("$1" --version 2>/dev/null)" == v24.* ]]; }

if [[ -n "${BATON_NODE24:-}" ]]; then
  is24 "$BATON_NODE24" || { say "BATON_NODE24=$BATON_NODE24 is not a Node.js 24 binary"; exit 1; }
  echo "$BATON_NODE24"
  exit 0
fi

on_path="$(command -v node || true)"
if [[ "${BATON_NODE24_REGISTRY:-}" != 1 && -n "$on_path" ]] && is24 "$on_path"; then
  readlink -f "$on_path"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) say "no node-linux package for $(uname -m)"; exit 1 ;;
esac

dir="$tools/node24"
if is24 "$dir/package/bin/node"; then
  echo "$dir/package/bin/node"
  exit 0
fi

mkdir -p "$tools"
stage="$(mktemp -d "$tools/node24.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
began=$SECONDS
# `npm pack` only downloads the tarball: nothing of the package runs.
tarball="$(cd "$stage" && npm pack --silent --no-audit --no-fund "node-linux-$arch@24" | tail -n 1)"
tar -xzf "$stage/$tarball" -C "$stage"
is24 "$stage/package/bin/node" || { say "node-linux-$arch@24 holds no Node.js 24 binary"; exit 1; }
# Another run may have put one there meanwhile: keep whichever is in place.
[[ -e "$dir" ]] && ! is24 "$dir/package/bin/node" && rm -rf "$dir"
if mv -T "$stage" "$dir" 2>/dev/null; then trap - EXIT; fi
is24 "$dir/package/bin/node" || { say "could not put Node.js 24 in $dir"; exit 1; }
say "fetched $tarball ($("$dir/package/bin/node" --version)) from the npm registry in $((SECONDS - began)) s"
echo "$dir/package/bin/node"
