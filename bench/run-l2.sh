#!/usr/bin/env bash
# The L2 benchmark with its defaults: two network namespaces (A, B) joined by Switchyard (two tap ports),
# the Linux bridge (veth pairs) and vde_switch (taps plugged in by vde_plug2tap), each switch in a third
# namespace (SW); 5 alternating runs x 3 switches, each run: 5 s of 1-byte TCP request/response A -> B,
# 10 pings, iperf3 A -> B 10 s; MTU 1500; writes bench/results/l2-<date>.md.
# Extra arguments go to `switchyard-bench l2` (see `--help`), e.g. --runs 3 --seconds 5 --tools switchyard,bridge.
# Needs root. Installs vde2, iperf3, busybox and ethtool with apt-get if they are missing; publishes
# switchyard if it is missing or older than src/ and runs a private copy of it, so re-running this after a
# change to Switchyard's tap ports (offloads) measures the new code with no other step. The three namespaces
# of a run are deleted after it; the shared scenario script (bench/scenario.sh) deletes them too if the
# driver dies (Ctrl-C, a crash).
exec "$(dirname "${BASH_SOURCE[0]}")/scenario.sh" l2 "$@"
