#!/usr/bin/env bash
# The vhost-user benchmark with its defaults: DPDK virtio-user guests (one dpdk-testpmd with two ports,
# io forwarding, `start tx_first 8`) through Switchyard's vhost-user back-end and through the DPDK ceiling
# (testpmd's vhost PMD io-forwarding between two vhost ports), 5 alternating runs x (2 s warm-up + 10 s)
# x {64, 1518} B frames, writing bench/results/vhost-<date>.md.
# Extra arguments go to `switchyard-bench vhost` (see `--help`), e.g. --runs 7 --memory no-huge.
# Installs dpdk-dev (dpdk-testpmd) with apt-get if it is missing; reserves 2 MiB hugepages if too few are
# free and puts vm.nr_hugepages back afterwards; publishes switchyard if needed and runs a private copy of
# it, so a rebuild by someone else during the run cannot swap the binary under the benchmark.
# Switchyard runs with --vhost-user-memory trusted: DPDK shares hugepage memory it does not seal, which
# the default policy (memory=sealed) refuses; testpmd here is our own, trusted front-end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

if ! command -v dpdk-testpmd >/dev/null 2>&1; then
  echo "run-vhost: installing dpdk-dev (dpdk-testpmd) with apt-get..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpdk-dev >/dev/null
fi

# Memory: the driver's defaults are --memory hugepages and --mem-mb 256 per testpmd; a DPDK run has two
# testpmds. Look at the arguments only for what changes that.
memory=hugepages
mem_mb=256
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --memory) memory=${args[i + 1]:-hugepages} ;;
    --mem-mb) mem_mb=${args[i + 1]:-256} ;;
  esac
done

nr_file=/proc/sys/vm/nr_hugepages
restore_hugepages=
restore() {
  if [ -n "$restore_hugepages" ]; then
    echo "$restore_hugepages" >"$nr_file" || true
    echo "run-vhost: vm.nr_hugepages back to $restore_hugepages (now $(cat "$nr_file"))" >&2
  fi
}
trap restore EXIT
trap 'exit 130' INT TERM

if [ "$memory" = hugepages ] || [ "$memory" = huge ]; then
  page_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
  need=$(((2 * mem_mb * 1024 + page_kb - 1) / page_kb + 8))
  free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
  if [ "$free" -lt "$need" ]; then
    old=$(cat "$nr_file")
    want=$((old + need - free))
    echo "run-vhost: reserving hugepages: vm.nr_hugepages $old -> $want ($need x ${page_kb} KiB pages free needed)" >&2
    restore_hugepages=$old
    echo "$want" >"$nr_file"
    export SYBENCH_HUGEPAGES_NOTE="bench/run-vhost.sh raised vm.nr_hugepages from $old to $want for this benchmark and put it back afterwards"
    free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
    if [ "$free" -lt "$need" ]; then
      echo "run-vhost: the kernel gave only $free free hugepages of $need; rerun with --memory no-huge" >&2
      exit 1
    fi
  fi
fi

# Publishes .cache/publish/switchyard if it is missing or older than src/ (the repo's launcher does that),
# then copies it under the launcher's own lock.
./switchyard --help >/dev/null
snapshot="$here/.cache/bench-switchyard"
rm -rf "$snapshot"
mkdir -p "$snapshot"
(
  flock 9
  cp -a .cache/publish/. "$snapshot/"
) 9>"$here/.cache/publish/.lock"

dotnet build bench/Switchyard.Bench/Switchyard.Bench.csproj -c Release --nologo -v quiet -o .cache/bench >/dev/null

mkdir -p bench/results
stamp=$(date -u +%Y-%m-%d)
out="bench/results/vhost-$stamp.md"
if [ -e "$out" ]; then
  stamp=$(date -u +%Y-%m-%d-%H%M)
  out="bench/results/vhost-$stamp.md"
fi

status=0
dotnet .cache/bench/switchyard-bench.dll vhost \
  --switchyard-bin "$snapshot/switchyard" \
  --logs "$here/.cache/bench-logs/vhost-$stamp" \
  --markdown "$out" \
  --command "bench/run-vhost.sh${*:+ $*}" \
  "$@" || status=$?
exit "$status"
