#!/usr/bin/env bash
# Runs one fuzz target (or all of them, one after another) under libFuzzer for a bounded time.
#
#   fuzz/run.sh TARGET|all SECONDS [extra libFuzzer flags]
#   targets: vhost-user virtqueue frames tcp config
#
# What it does: installs what it needs (clang and libFuzzer from Debian, the sharpfuzz instrumenter as a
# local dotnet tool), builds fuzz/Switchyard.Fuzz into fuzz/.out/bin and instruments the Switchyard
# assemblies there with SharpFuzz's edge counters, compiles the libFuzzer bridge (fuzz/driver), writes the
# seed corpus into fuzz/corpus/TARGET when that folder is empty, and runs libFuzzer with the committed
# corpus as its starting point. New inputs go to fuzz/.out/work/TARGET; at the end they are merged with the
# committed corpus into a minimized one that replaces fuzz/corpus/TARGET (FUZZ_UPDATE_CORPUS=0: leave the
# committed corpus alone, as ./test does). A crash leaves crash-* (the input) in fuzz/.out/artifacts/TARGET/
# and makes the script exit non-zero; replay it with
#   dotnet fuzz/.out/plain/Switchyard.Fuzz.dll TARGET fuzz/.out/artifacts/TARGET/crash-...
# Every run appends "target wall-seconds cpu-seconds execs" to fuzz/.out/cpu.log.
# One process at a time: the machine is shared, so targets run one after another, never in parallel.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
targets=(vhost-user virtqueue frames tcp config)

if [ $# -lt 2 ]; then
  echo "usage: fuzz/run.sh TARGET|all SECONDS [libFuzzer flags]; targets: ${targets[*]}" >&2
  exit 2
fi
which_target=$1
seconds=$2
shift 2
if [ "$which_target" = all ]; then
  selected=("${targets[@]}")
else
  case " ${targets[*]} " in
    *" $which_target "*) selected=("$which_target") ;;
    *) echo "fuzz/run.sh: unknown target $which_target; targets: ${targets[*]}" >&2; exit 2 ;;
  esac
fi

out="$here/.out"
mkdir -p "$out"

# 1. Tools: clang with libFuzzer's runtime, and the sharpfuzz instrumenter pinned to the SharpFuzz package version.
if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "fuzz/run.sh: needs clang and libclang-rt-dev (run as root to install them)" >&2
    exit 1
  fi
  echo "fuzz/run.sh: installing clang libclang-rt-dev" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang libclang-rt-dev >/dev/null
fi
sharpfuzz_version=$(sed -n 's/.*PackageVersion Include="SharpFuzz" Version="\([^"]*\)".*/\1/p' "$root/Directory.Packages.props")
if [ ! -x "$here/.tools/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$here/.tools" >/dev/null
fi

# 2. The instrumented build, redone only when the sources changed. Only the assemblies under test are
#    instrumented: their coverage guides the fuzzer; the fuzz host, the test kit and the ports are harness.
#    An uninstrumented copy (plain/) writes the seeds and replays inputs outside libFuzzer: instrumented code
#    needs the bridge's shared memory.
stamp=$(cd "$root" && { git ls-files -s src fuzz/Switchyard.Fuzz tests/Switchyard.TestKit Directory.Build.props Directory.Packages.props;
                        git diff HEAD -- src fuzz/Switchyard.Fuzz tests/Switchyard.TestKit; } | sha1sum | cut -c1-40)
if [ ! -f "$out/bin/.stamp" ] || [ "$(cat "$out/bin/.stamp")" != "$stamp" ]; then
  echo "fuzz/run.sh: building and instrumenting" >&2
  rm -rf "$out/bin" "$out/plain"
  dotnet build "$here/Switchyard.Fuzz/Switchyard.Fuzz.csproj" -c Release -o "$out/plain" --nologo -v quiet -clp:ErrorsOnly >/dev/null
  cp -r "$out/plain" "$out/bin"
  for name in Core Native Protocols Virtio VhostUser UserNet Engine; do
    "$here/.tools/sharpfuzz" "$out/bin/Switchyard.$name.dll" >/dev/null
  done
  echo "$stamp" >"$out/bin/.stamp"
fi

# 3. The libFuzzer bridge.
if [ ! -x "$out/dotnet-bridge" ] || [ "$here/driver/dotnet-bridge.c" -nt "$out/dotnet-bridge" ]; then
  clang -O1 -g -fsanitize=fuzzer -Wall -Werror "$here/driver/dotnet-bridge.c" -o "$out/dotnet-bridge"
fi

max_len() {
  case $1 in
    virtqueue) echo 16384 ;;
    vhost-user|tcp) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

status=0
for target in "${selected[@]}"; do
  corpus="$here/corpus/$target"
  work="$out/work/$target"
  artifacts="$out/artifacts/$target"
  rm -rf "$work"
  mkdir -p "$corpus" "$work" "$artifacts"
  if [ -z "$(ls -A "$corpus")" ]; then
    dotnet "$out/plain/Switchyard.Fuzz.dll" --seeds "$out/seeds" "$root" >/dev/null
    cp "$out/seeds/$target"/* "$corpus"/
  fi

  echo "fuzz/run.sh: $target for ${seconds}s (corpus: $(ls "$corpus" | wc -l) files)" >&2
  log="$out/$target.log"
  export SWITCHYARD_FUZZ_DLL="$out/bin/Switchyard.Fuzz.dll" SWITCHYARD_FUZZ_TARGET="$target"
  TIMEFORMAT='%R %U %S'
  rc=0
  { time "$out/dotnet-bridge" -max_total_time="$seconds" -timeout=10 -max_len="$(max_len "$target")" -use_value_profile=0 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" "$work" "$corpus" >"$log" 2>&1 || rc=$?; } 2>"$out/time.txt"
  read -r wall user sys <"$out/time.txt"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
  echo "$(date -u +%FT%TZ) $target wall=${wall}s cpu=${cpu}s execs=${execs:-0} rc=$rc" | tee -a "$out/cpu.log" >&2
  if [ $rc -ne 0 ]; then
    echo "fuzz/run.sh: $target found a problem (exit $rc); the end of $log:" >&2
    tail -40 "$log" >&2
    status=1
    continue
  fi

  if [ "${FUZZ_UPDATE_CORPUS:-1}" = 1 ]; then
    merged="$out/merged/$target"
    rm -rf "$merged"
    mkdir -p "$merged"
    SWITCHYARD_FUZZ_EDGES_ONLY=1 "$out/dotnet-bridge" -merge=1 -timeout=10 -max_len="$(max_len "$target")" "$merged" "$corpus" "$work" >"$out/$target.merge.log" 2>&1
    rm -rf "$corpus"
    mv "$merged" "$corpus"
    rm -rf "$work"
    echo "fuzz/run.sh: $target corpus minimized to $(ls "$corpus" | wc -l) files" >&2
  fi
done
exit $status
