#!/usr/bin/env bash
# The user-mode NAT benchmark with its defaults: a network namespace (the guest) through Switchyard's
# NAT gateway, pasta and slirp4netns to servers on the loopback of a second namespace (the host), 3
# alternating runs x MTU {1500, 65520} x tools, each run: 5 s of 1-byte TCP request/response, 10 pings,
# iperf3 10 s guest -> host and 10 s host -> guest; writes bench/results/nat-<date>.md.
# Extra arguments go to `switchyard-bench nat` (see `--help`), e.g. --runs 5 --seconds 5 --tools pasta,slirp4netns.
# Needs root. Installs passt (pasta), slirp4netns, iperf3 and busybox with apt-get if they are missing;
# publishes switchyard if needed and runs a private copy of it. Both namespaces of a run are deleted after
# it; this script deletes them too if the driver dies (Ctrl-C, a crash).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

if [ "$(id -u)" -ne 0 ]; then
  echo "run-nat: needs root (it creates network namespaces and taps)" >&2
  exit 1
fi

missing=()
command -v pasta >/dev/null 2>&1 || missing+=(passt)
command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-nat: installing ${missing[*]} with apt-get..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Which tools: the driver's default is all three; look at the arguments only to see whether switchyard
# is among them (then it must be published).
tools=switchyard,pasta,slirp4netns
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = --tools ]; then
    tools=${args[i + 1]:-}
  fi
done

# The namespaces are NAME-host and NAME-guest; this prefix is unique to this script's run.
prefix="synat-$$"
cleanup() {
  for ns in "$prefix-guest" "$prefix-host"; do
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
  snapshot="$here/.cache/bench-switchyard-nat"
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
out="bench/results/nat-$stamp.md"
if [ -e "$out" ]; then
  stamp=$(date -u +%Y-%m-%d-%H%M)
  out="bench/results/nat-$stamp.md"
fi

status=0
dotnet .cache/bench/switchyard-bench.dll nat \
  "${switchyard_args[@]}" \
  --netns-prefix "$prefix" \
  --logs "$here/.cache/bench-logs/nat-$stamp" \
  --markdown "$out" \
  --command "bench/run-nat.sh${*:+ $*}" \
  "$@" || status=$?
exit "$status"
