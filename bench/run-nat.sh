#!/usr/bin/env bash
# The user-mode NAT benchmark with its defaults: a network namespace (the guest) through Switchyard's
# NAT gateway, pasta and slirp4netns to servers on the loopback of a second namespace (the host), 3
# alternating runs x MTU {1500, 65520} x tools, each run: 5 s of 1-byte TCP request/response, 10 pings,
# iperf3 10 s guest -> host and 10 s host -> guest; writes bench/results/nat-<date>.md.
# Extra arguments go to `switchyard-bench nat` (see `--help`), e.g. --runs 5 --seconds 5 --tools pasta,slirp4netns.
# Needs root. Installs passt (pasta), slirp4netns, iperf3 and busybox with apt-get if they are missing;
# publishes switchyard if needed and runs a private copy of it. Both namespaces of a run are deleted after
# it; the shared scenario script (bench/scenario.sh) deletes them too if the driver dies (Ctrl-C, a crash).
exec "$(dirname "${BASH_SOURCE[0]}")/scenario.sh" nat "$@"
