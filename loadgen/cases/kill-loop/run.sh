#!/usr/bin/env bash
# What a crash loop costs: lines are written at a steady rate, with rename rotation, while the
# agent is killed with SIGKILL every few seconds and started again; at the end it runs until
# every line arrived. Prints one JSON line: lines written, lost, and sent twice (duplicates),
# duplicates per kill, and how they compare with what a kill can resend (rate x interval).
#
#   loadgen/cases/kill-loop/run.sh
#
# Environment: RATE (200000 lines/s), SECONDS_ (20: how long lines are written), KILL_EVERY (2 s),
# ROTATE (50000: lines per file before rename rotation), INTERVAL (writePosInterval in ms; empty:
# spate's default), IO (auto), SPATE (the agent binary; default the one just built).
set -euo pipefail

rate=${RATE:-200000}
secs=${SECONDS_:-20}
kill_every=${KILL_EVERY:-2}
rotate=${ROTATE:-50000}
interval=${INTERVAL:-}
io=${IO:-auto}
size=128

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
cleanup() {
  [ -n "${agent_pid:-}" ] && kill -9 "$agent_pid" 2>/dev/null || true
  [ -n "${recv_pid:-}" ] && kill -9 "$recv_pid" 2>/dev/null || true
  [ -n "${writer_pid:-}" ] && kill -9 "$writer_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --workspace --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release"
spate=${SPATE:-$bin/spate}
mkdir -p "$work/in"
total=$((rate * secs))

"$bin/spate-loadgen" recv --listen 127.0.0.1:0 --expect "$total" --idle-timeout 30 \
  --max-seconds 600 >"$work/recv.json" 2>"$work/recv.err" &
recv_pid=$!
port=
for _ in $(seq 200); do
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\)$/\1/p' "$work/recv.err" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "receiver did not start: $(cat "$work/recv.err")" >&2; exit 1; }
{
  echo "a1.sources = r1"
  echo "a1.channels = c1"
  echo "a1.sinks = k1"
  echo "a1.sources.r1.type = TAILDIR"
  echo "a1.sources.r1.channels = c1"
  echo "a1.sources.r1.filegroups = f1"
  echo "a1.sources.r1.filegroups.f1 = $work/in/app\\\\.log.*"
  echo "a1.sources.r1.positionFile = $work/position.json"
  echo "a1.sources.r1.batchSize = 1000"
  [ -n "$interval" ] && echo "a1.sources.r1.writePosInterval = $interval"
  echo "a1.channels.c1.type = memory"
  echo "a1.channels.c1.capacity = 10000"
  echo "a1.channels.c1.transactionCapacity = 1000"
  echo "a1.sinks.k1.type = tcp"
  echo "a1.sinks.k1.channel = c1"
  echo "a1.sinks.k1.hostname = 127.0.0.1"
  echo "a1.sinks.k1.port = $port"
  echo "a1.sinks.k1.batch-size = 1000"
} >"$work/agent.properties"

start_agent() {
  "$spate" agent -f "$work/agent.properties" -n a1 --io "$io" --log-level warn 2>>"$work/agent.err" &
  agent_pid=$!
}

"$bin/spate-loadgen" write --dir "$work/in" --name app.log --rate "$rate" --lines "$total" \
  --size "$size" --rotate-bytes "$((rotate * size))" >/dev/null 2>"$work/writer.err" &
writer_pid=$!
kills=0
start_agent
while kill -0 "$writer_pid" 2>/dev/null; do
  sleep "$kill_every"
  kill -0 "$writer_pid" 2>/dev/null || break
  kill -9 "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
  kills=$((kills + 1))
  start_agent
done
wait "$writer_pid"; writer_pid=
wait "$recv_pid" || true; recv_pid=
kill -TERM "$agent_pid"; wait "$agent_pid" || true; agent_pid=

python3 - "$work/recv.json" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
kills, rate = $kills, $rate
interval = "${interval:-default}"
print(json.dumps({
    "case": "kill-loop", "rate": rate, "seconds": $secs, "kill_every_s": $kill_every,
    "rotate_lines": $rotate, "write_pos_interval_ms": interval, "kills": kills,
    "lines": $total, "received": r["unique"], "missing": r["missing"],
    "duplicates": r["duplicates"],
    "duplicates_per_kill": round(r["duplicates"] / kills) if kills else None,
    "kernel": "$(uname -r)", "commit": "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)",
}))
PY
