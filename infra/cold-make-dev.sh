#!/usr/bin/env bash
# Times a first `make dev`: a fresh clone of REV (empty target/ and .tools/;
# cargo's, pip's and npm's download caches as they are) until the stack
# prints "Lock API ready", then stops it and removes the clone.
# usage: infra/cold-make-dev.sh [REV] [PORT]   (prints: REV SECONDS)
set -euo pipefail
rev=${1:-HEAD}
port=${2:-3190}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
rev=$(git -C "$repo" rev-parse --short "$rev")
dir=$(mktemp -d /tmp/cold-make-dev.XXXXXX)
log="$dir.log"
trap 'rm -rf "$dir"' EXIT
git clone -q "$repo" "$dir"
git -C "$dir" checkout -q "$rev"
cd "$dir"
start=$(date +%s.%N)
setsid bash -c "PORT=$port exec make dev" > "$log" 2>&1 < /dev/null &
pid=$!
until grep -q "Lock API ready at" "$log"; do
  kill -0 "$pid" 2>/dev/null || { echo "make dev ended before ready: $log" >&2; exit 1; }
  sleep 1
done
end=$(date +%s.%N)
kill -TERM -- "-$pid" 2>/dev/null || true
sleep 3
kill -KILL -- "-$pid" 2>/dev/null || true
awk -v r="$rev" -v a="$start" -v b="$end" 'BEGIN { printf "%s %.1f\n", r, b - a }'
