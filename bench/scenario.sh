#!/usr/bin/env bash
# The shell side of the namespace scenarios (`switchyard-bench nat`, `switchyard-bench l2`), which
# bench/run-nat.sh and bench/run-l2.sh call with their scenario's name: check root, install the missing
# Debian packages, publish switchyard if the tools include it and run a private copy of it, build the
# driver, pick bench/results/SCENARIO-<UTC date>[-HHMM].md, and run the driver bounded (30 min) with a
# namespace prefix unique to this script's run, deleting those namespaces again on exit (also on Ctrl-C
# or a crash of the driver; the driver deletes them after every run itself).
# Usage: bench/scenario.sh nat|l2 [switchyard-bench options...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

scenario=${1:-}
shift || true
# Per scenario: why it needs root, program:package pairs it needs, its default tools, its namespaces' suffixes.
case "$scenario" in
  nat)
    why="it creates network namespaces and taps"
    needs=(pasta:passt slirp4netns:slirp4netns iperf3:iperf3 busybox:busybox)
    tools=switchyard,pasta,slirp4netns
    suffixes=(guest host)
    ;;
  l2)
    why="it creates network namespaces, taps and bridges"
    needs=(vde_switch:vde2 vde_plug2tap:vde2 iperf3:iperf3 busybox:busybox ethtool:ethtool)
    tools=switchyard,bridge,vde
    suffixes=(a b sw)
    ;;
  *)
    echo "scenario.sh: usage: bench/scenario.sh nat|l2 [options] (not '$scenario')" >&2
    exit 2
    ;;
esac
name="run-$scenario"

if [ "$(id -u)" -ne 0 ]; then
  echo "$name: needs root ($why)" >&2
  exit 1
fi

missing=()
for need in "${needs[@]}"; do
  program=${need%%:*}
  package=${need#*:}
  if ! command -v "$program" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" $package "* ]]; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "$name: installing ${missing[*]} with apt-get..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Which tools: look at the arguments only to see whether switchyard is among them (then it must be published).
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = --tools ]; then
    tools=${args[i + 1]:-}
  fi
done

# The namespaces are NAME-<suffix>; this prefix is unique to this script's run.
prefix="sy$scenario-$$"
cleanup() {
  for suffix in "${suffixes[@]}"; do
    if [ -e "/run/netns/$prefix-$suffix" ]; then
      ip netns del "$prefix-$suffix" || true
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
  snapshot="$here/.cache/bench-switchyard-$scenario"
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
out="bench/results/$scenario-$stamp.md"
if [ -e "$out" ]; then
  stamp=$(date -u +%Y-%m-%d-%H%M)
  out="bench/results/$scenario-$stamp.md"
fi

status=0
timeout --signal=INT --kill-after=30 1800 dotnet .cache/bench/switchyard-bench.dll "$scenario" \
  "${switchyard_args[@]}" \
  --netns-prefix "$prefix" \
  --logs "$here/.cache/bench-logs/$scenario-$stamp" \
  --markdown "$out" \
  --command "bench/run-$scenario.sh${*:+ $*}" \
  "$@" || status=$?
exit "$status"
