#!/usr/bin/env bash
# Instructions the SFU core spends per forwarded packet, counted by callgrind on a simulated
# class (the test sfu::sim_tests::forwarding_cost_replay): the same count on every run, whatever
# else the machine is doing, so two builds compare without interleaving. The kernel's share
# (sending, and on this machine delivering into the receivers' sockets) is not in it: that is
# what bench/sfu.sh measures.
#
#   bench/sfu_cost.sh                 # 50 students, 3 simulated seconds
#   bench/sfu_cost.sh 100 2           # students, seconds
#   TOP=40 bench/sfu_cost.sh          # how many functions to list (default 25)
#   KEEP=/tmp/sfu.callgrind bench/sfu_cost.sh   # keep callgrind's file (callgrind_annotate --tree=caller)
#   SFU_REPLAY_DOWNLINK=transport-cc bench/sfu_cost.sh   # str0m's estimator (media.downlink_estimate;
#                                                         # also "receiver-reports")
set -euo pipefail
cd "$(dirname "$0")/.."

students=${1:-50}
seconds=${2:-3}
top=${TOP:-25}

if ! command -v valgrind >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

# The server's unit tests, optimised as the server is.
binary=$(cargo test --release -p server --features app/ssr --lib --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable") \
            and m["target"]["name"] == "server" and "lib" in m["target"]["kind"]:
        print(m["executable"])
')
[ -n "$binary" ] || { echo "the server's test binary was not built" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
SFU_REPLAY_STUDENTS=$students SFU_REPLAY_SECONDS=$seconds valgrind --tool=callgrind \
  --callgrind-out-file="$out/callgrind.out" --collect-atstart=no --toggle-collect='*measured_*' \
  "$binary" --ignored --exact sfu::sim_tests::forwarding_cost_replay --nocapture --test-threads=1 \
  >"$out/stdout" 2>"$out/stderr" || { cat "$out/stdout" "$out/stderr" >&2; exit 1; }

[ -n "${KEEP:-}" ] && cp "$out/callgrind.out" "$KEEP"
packets=$(sed -n 's/.* \([0-9]*\) RTP packets forwarded.*/\1/p' "$out/stdout")
total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p; s/^summary: *\([0-9]*\).*/\1/p' "$out/callgrind.out" | head -1)
[ -n "$packets" ] && [ "$packets" -gt 0 ] && [ -n "$total" ] || { cat "$out/stdout" >&2; exit 1; }

echo "students: $students; simulated seconds measured: $seconds; RTP packets forwarded: $packets"
echo "instructions in the SFU core: $total; per forwarded packet: $((total / packets))"
echo
echo "where they go (instructions of each function itself, top $top):"
callgrind_annotate --auto=no --threshold=100 "$out/callgrind.out" 2>/dev/null |
  awk -v total="$total" -v packets="$packets" -v top="$top" '
    $1 ~ /^[0-9,]+$/ && !/PROGRAM TOTALS/ && n < top {
      ir = $1; gsub(",", "", ir)
      name = $0
      sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", name)   # the count and its share
      sub(/ \[[^]]*\]$/, "", name)                     # the object file
      sub(/^[^ ]*\.(rs|c|h|S|cpp):/, "", name)           # the source file
      sub(/^\?\?\?:/, "", name)
      printf "%6.2f%%  %7d per packet  %s\n", 100 * ir / total, ir / packets, name
      n++
    }'
