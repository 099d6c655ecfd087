#!/usr/bin/env bash
# The stream benchmark with its defaults: 5 alternating runs x (1 s warm-up + 5 s) x {64, 1500} B x
# {switchyard, vde_switch, ceiling (stream), ceiling (dgram)}, writing bench/results/stream-<date>.md.
# Extra arguments go to `switchyard-bench stream` (see `--help`), e.g. --runs 7 --seconds 10.
# Installs vde2 with apt-get if vde_switch is missing; publishes switchyard if needed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

if ! command -v vde_switch >/dev/null 2>&1; then
  echo "run-stream: installing vde2 (vde_switch) with apt-get..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq vde2 >/dev/null
fi

# Publishes .cache/publish/switchyard if it is missing or older than src/ (the repo's launcher does that).
./switchyard --help >/dev/null

dotnet build bench/Switchyard.Bench/Switchyard.Bench.csproj -c Release --nologo -v quiet -o .cache/bench >/dev/null

mkdir -p bench/results
out="bench/results/stream-$(date -u +%Y-%m-%d).md"
if [ -e "$out" ]; then
  out="bench/results/stream-$(date -u +%Y-%m-%d-%H%M).md"
fi

exec dotnet .cache/bench/switchyard-bench.dll stream \
  --switchyard-bin "$here/.cache/publish/switchyard" \
  --markdown "$out" \
  --command "bench/run-stream.sh${*:+ $*}" \
  "$@"
