#!/usr/bin/env bash
# The L2 benchmark with its defaults: two network namespaces (A, B) joined by Switchyard (two tap ports),
# the Linux bridge (veth pairs) and vde_switch (taps plugged in by vde_plug2tap), each switch in a third
# namespace (SW); 5 alternating runs x 3 switches, each run: 5 s of 1-byte TCP request/response A -> B,
# 10 pings, iperf3 A -> B 10 s; MTU 1500; writes bench/results/l2-<date>.md.
# Extra arguments go to `switchyard-bench l2` (see `--help`), e.g. --runs 3 --seconds 5 --tools switchyard,bridge.
# Needs root. Installs vde2, iperf3, busybox and ethtool with apt-get if they are missing; publishes
# switchyard if it is missing or older than src/ and runs a private copy of it, so re-running this after a
# change to Switchyard's tap ports (offloads) measures the new code with no other step. The three namespaces
# of a run are deleted after it; this script deletes them too if the driver dies (Ctrl-C, a crash).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

if [ "$(id -u)" -ne 0 ]; then
  echo "run-l2: needs root (it creates network namespaces, taps and bridges)" >&2
  exit 1
fi

missing=()
command -v vde_switch >/dev/null 2>&1 || missing+=(vde2)
command -v vde_plug2tap >/dev/null 2>&1 || missing+=(vde2)
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
command -v ethtool >/dev/null 2>&1 || missing+=(ethtool)
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-l2: installing ${missing[*]} with apt-get..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

tools=switchyard,bridge,vde
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = --tools ]; then
    tools=${args[i + 1]:-}
  fi
done

# The namespaces are NAME-a, NAME-b and NAME-sw; this prefix is unique to this script's run.
prefix="syl2-$$"
cleanup() {
  for ns in "$prefix-a" "$prefix-b" "$prefix-sw"; do
    if [ -e "/run/netns/$ns" ]; then
      ip netns del "$ns" || true
    fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

switchyard_args=()
if [[ ",$tools," == *",switchyard,"* ]]; then
  # Publishes .cache/publish/switchyard if it is missing or older than src/ (the repo's launcher does
  # that), then copies it under the launcher's own lock so a rebuild by someone else cannot swap it.
  ./switchyard --help >/dev/null
  snapshot="$here/.cache/bench-switchyard-l2"
  rm -rf "$snapshot"
  mkdir -p "$snapshot"
  (
    flock 9
    cp -a .cache/publish/. "$snapshot/"
  ) 9>"$here/.cache/publish/.lock"
  switchyard_args=(--switchyard-bin "$snapshot/switchyard")
fi

dotnet build bench/Switchyard.Bench/Switchyard.Bench.csproj -c Release --nologo -v quiet -o .cache/bench >/dev/null

mkdir -p bench/results
stamp=$(date -u +%Y-%m-%d)
out="bench/results/l2-$stamp.md"
if [ -e "$out" ]; then
  stamp=$(date -u +%Y-%m-%d-%H%M)
  out="bench/results/l2-$stamp.md"
fi

status=0
timeout --signal=INT --kill-after=30 1800 dotnet .cache/bench/switchyard-bench.dll l2 \
  "${switchyard_args[@]}" \
  --netns-prefix "$prefix" \
  --logs "$here/.cache/bench-logs/l2-$stamp" \
  --markdown "$out" \
  --command "bench/run-l2.sh${*:+ $*}" \
  "$@" || status=$?
exit "$status"
