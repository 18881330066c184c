#!/usr/bin/env bash
# Runs the README's command blocks that are marked to run (a line `<!-- ci: run -->` right before a ```bash block), in
# order, from the repository root, against whatever the environment points at (in CI: the local stack). Each block runs
# with bash -euo pipefail; the first failure stops the run with the block's text. CI runs this on a fresh clone, so the
# README's commands are proven exactly as written, before anything else has built or restored the projects.
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=$(mktemp -d)
trap 'rm -rf "$blocks"' EXIT
awk -v dir="$blocks" '
  /<!-- ci: run -->/ { marked = 1; next }
  marked && /^```bash/ { inblock = 1; n++; file = sprintf("%s/%02d.sh", dir, n); next }
  inblock && /^```/ { inblock = 0; marked = 0; close(file); next }
  inblock { print > file; next }
  /[^[:space:]]/ { marked = 0 }
' README.md
count=$(find "$blocks" -name '*.sh' | wc -l)
[ "$count" -gt 0 ] || { echo "readme: no block is marked <!-- ci: run -->" >&2; exit 1; }
for block in "$blocks"/*.sh; do
  echo "== README block $(basename "$block" .sh) of $count:"
  sed 's/^/   $ /' "$block"
  if ! bash -euo pipefail "$block"; then
    echo "readme: FAILED: the README block above does not work as written" >&2
    exit 1
  fi
done
echo "== $count README block(s) ran as written"
