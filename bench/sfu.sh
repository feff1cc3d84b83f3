#!/usr/bin/env bash
# The SFU benchmark of docs/benchmarks.md ("SFU"): Lectern's SFU and Janus's VideoRoom under
# the same load, interleaved, with the server on CPU 0 and the load tool on CPU 1.
#
#   bench/sfu.sh                      # the table: 50..500 subscribers, 3 runs each
#   bench/sfu.sh --subscribers 300    # anything else is passed to sfu_load
#   bench/sfu.sh --receivers-apart --subscribers 300   # the tool's receiving on its own core
#   bench/sfu.sh --floor --subscribers 300   # no SFU: the kernel's part alone (sfu_floor)
#
# Needs root: it installs Janus (Debian's package) if missing, and makes a network namespace
# for the servers, joined to this one by a veth pair (10.77.0.1 there, 10.77.0.2 here): Janus
# cannot take media on loopback, and both servers run there so that they see the same path.
# The namespace is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

NS=lectern-bench
HOST_IF=lbench0
NS_IF=lbench1
SERVER_IP=10.77.0.1
CLIENT_IP=10.77.0.2

# This script's own flags, taken out before the rest goes to the tool: --receivers-apart (see
# below, where the veth pair is set up) and --floor (run sfu_floor, a forwarder that does only
# what the kernel does, in the server's place; docs/benchmarks.md, "SFU").
receivers_apart=false
tool=sfu_load
passed=()
for arg in "$@"; do
  case "$arg" in
    --receivers-apart) receivers_apart=true ;;
    --floor) tool=sfu_floor ;;
    *) passed+=("$arg") ;;
  esac
done
set -- ${passed[@]+"${passed[@]}"}

if ! command -v janus >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y janus
fi
if $receivers_apart && ! command -v ethtool >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y ethtool
fi

cleanup() {
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$NS_IF"
ip link set "$NS_IF" netns "$NS"
ip addr add "$CLIENT_IP/24" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr add "$SERVER_IP/24" dev "$NS_IF"
ip netns exec "$NS" ip link set "$NS_IF" up
ip netns exec "$NS" ip link set lo up

# A veth hands each datagram to the other end on the CPU that sent it, so by default the load
# tool's side of every delivery (IP, UDP, its sockets) runs on the server's core and counts as
# the server's CPU. With --receivers-apart each end receives in a kernel thread of its own
# (threaded NAPI, which a veth has once GRO is on) pinned to the core of the program that reads
# it, as on a network where the subscribers are other machines.
if $receivers_apart; then
  for side in "$HOST_IF" "$NS_IF"; do
    in_side=(); [[ "$side" == "$NS_IF" ]] && in_side=(ip netns exec "$NS")
    # A veth takes the NAPI path only for datagrams from a peer without TSO; UDP has no use for it.
    "${in_side[@]}" ethtool -K "$side" gro on tso off >/dev/null
    # A transmit queue, as a NIC has, so a full veth ring holds the sender back, not drops.
    "${in_side[@]}" tc qdisc replace dev "$side" root pfifo limit 10000
    "${in_side[@]}" sh -c "echo 1 > /sys/class/net/$side/threaded"
  done
  sleep 0.2
  for pid in $(pgrep "^napi/$HOST_IF-"); do taskset -pc 1 "$pid" >/dev/null; done
  for pid in $(pgrep "^napi/$NS_IF-"); do taskset -pc 0 "$pid" >/dev/null; done
  [ -n "$(pgrep "^napi/$HOST_IF-")" ] || { echo "no receive thread for $HOST_IF" >&2; exit 1; }
fi

cargo build --release -p server --bin lectern --example sfu_load --example sfu_floor

# One WebSocket or HTTP long-poll per subscriber on each side.
ulimit -n "$(ulimit -Hn)"

if [ $# -eq 0 ] && [[ "$tool" == sfu_load ]]; then
  set -- --matrix --sfu lectern,janus --subscribers 50,100,200,300,500 --repeat 3 --seconds 10 --warmup 6
fi
taskset -c 1 "target/release/examples/$tool" --server-cpus 0 \
  --netns "$NS" --server-ip "$SERVER_IP" --client-ip "$CLIENT_IP" "$@"
