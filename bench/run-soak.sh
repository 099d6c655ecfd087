#!/usr/bin/env bash
# The isolation soak (issue 10): healthy guests keep working while a hostile peer repeats every attack.
# Usage: bench/run-soak.sh [--minutes N]      (default 60; writes bench/results/soak-<UTC date>.md)
# Needs root (namespaces). Installs iperf3, busybox and python3 with apt-get if missing, publishes switchyard
# if needed, and removes its namespaces and stops its daemon at the end (see bench/soak/soak.py).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

if [ "$(id -u)" -ne 0 ]; then
  echo "run-soak: needs root (it creates network namespaces)" >&2
  exit 1
fi

missing=()
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)
command -v busybox >/dev/null 2>&1 || missing+=(busybox-static)
[ -x /usr/bin/python3 ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-soak: installing ${missing[*]} with apt-get..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

./switchyard --help >/dev/null
out="bench/results/soak-$(date -u +%Y-%m-%d).md"
[ -e "$out" ] && out="bench/results/soak-$(date -u +%Y-%m-%d-%H%M).md"
exec /usr/bin/python3 bench/soak/soak.py --bin "$here/.cache/publish/switchyard" --out "$out" --command "bench/run-soak.sh $*" "$@"
