#!/usr/bin/env bash
# Rolling-deploy simulation: the figures of docs/reliability.md.
#
# Runs bench/deploysim (HAProxy in front of two slots of instances, a mixed
# load, a deployer replacing instances one by one) four ways and rewrites
# the table between the deploysim markers of docs/reliability.md:
#   1. lameduck with the recommended settings, REPLACEMENTS times (default 100);
#   2. lameduck without a shutdown delay (20 replacements);
#   3. the app alone, server.close() on SIGTERM (20);
#   4. the app alone, no SIGTERM handler: Node's default (20).
# Needs haproxy and node. Takes about five minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${REPLACEMENTS:-100}"
doc="${DOC:-docs/reliability.md}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rows="$tmp/rows.md"

run() { # label, then arguments for the simulation
  local label="$1"; shift
  echo "== $label" >&2
  go test ./bench/deploysim -run '^TestRollingDeploy$' -count=1 -timeout 60m \
    -args -row="$rows	$label" "$@" >&2
}

run "lameduck, recommended settings" -replacements="$n"
run "lameduck, no shutdown delay" -replacements=20 -shutdown-delay=0s
run "app alone, server.close() on SIGTERM" -mode=app -replacements=20
run "app alone, no SIGTERM handler" -mode=app-die -replacements=20

{
  echo "<!-- deploysim:begin (written by bench/rolling-deploy.sh on $(date -u +%Y-%m-%d), $(haproxy -v | head -1 | cut -d' ' -f1-3), Node $(node --version), $(nproc) cores) -->"
  echo "| run | replacements | took | requests | 2xx | failed | reset | WebSocket sessions | closed 1000 | closed 1001 | cut or refused | longest SIGTERM to exit |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  cat "$rows"
  echo "<!-- deploysim:end -->"
} > "$tmp/table.md"

awk -v table="$tmp/table.md" '
  /^<!-- deploysim:begin/ { while ((getline line < table) > 0) print line; skip = 1; next }
  /^<!-- deploysim:end/   { skip = 0; next }
  !skip
' "$doc" > "$tmp/doc.md"
cp "$tmp/doc.md" "$doc"
cat "$tmp/table.md"
