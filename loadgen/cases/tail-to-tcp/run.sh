#!/usr/bin/env bash
# Throughput of tail -> memory channel -> tcp -> spate-loadgen recv on this machine.
#
#   loadgen/cases/tail-to-tcp/run.sh [tuned|flume-defaults]
#
# Environment: LINES (10000000), SIZE (128 bytes per line), IO (auto|uring|epoll), RUNS (1),
# BATCH, CAPACITY, READ (override the profile's batchSize, channel capacity, readBufferSize),
# FILES (1: the lines are spread over this many files, app-0.log ..., one stream id each),
# WORK (a scratch directory; default a new temporary one, removed at the end), COLD (1: drop
# the page cache before each run, as after a reboot; needs root; otherwise the files are read
# into the cache before each run), SPATE (the agent binary to
# run instead of the one just built, to compare two builds on one prefilled WORK), RECV (the
# same for the spate-loadgen that receives), RCVLOWAT (bytes: the receiver's --rcvlowat, 0 off),
# EXTRA (a file of properties appended to the agent's configuration, such as interceptors; its
# name is reported as "extra"), AGENT_ARGS (more `spate agent` arguments, such as
# `--metrics-addr 127.0.0.1:19464`; reported as "agent_args"), SCRAPE (a URL fetched every
# SCRAPE_MS milliseconds, default 100, while the agent runs, as a monitoring system would;
# reported with the number of scrapes answered).
# The receiver's own CPU time is printed as recv_cpu_seconds.
# Prints one JSON line per run: throughput as the receiver saw it (first to last byte), the
# agent's CPU seconds (utime+stime from /proc, until the last line arrived) and peak RSS (VmHWM),
# with machine, kernel and commit.
set -euo pipefail

profile=${1:-tuned}
case "$profile" in
  tuned)          batch=10000; capacity=100000; read=1048576 ;;
  flume-defaults) batch=100;   capacity=100;    read=262144 ;;
  *) echo "unknown profile '$profile': use tuned or flume-defaults" >&2; exit 2 ;;
esac
batch=${BATCH:-$batch}; capacity=${CAPACITY:-$capacity}; read=${READ:-$read}
lines=${LINES:-10000000}
files=${FILES:-1}
size=${SIZE:-128}
io=${IO:-auto}
runs=${RUNS:-1}
rcvlowat=${RCVLOWAT:-0}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
own_work=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d); own_work=1; fi
cleanup() {
  [ -n "${agent_pid:-}" ] && kill -9 "$agent_pid" 2>/dev/null || true
  [ -n "${recv_pid:-}" ] && kill -9 "$recv_pid" 2>/dev/null || true
  if [ "$own_work" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

cargo build --release --workspace --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release"
mkdir -p "$WORK/in"
if [ "$files" = 1 ]; then
  pattern='app\\.log'
  if [ ! -f "$WORK/in/app.log" ] || [ "$(stat -c %s "$WORK/in/app.log")" != "$((lines * size))" ]; then
    "$bin/spate-loadgen" prefill --file "$WORK/in/app.log" --lines "$lines" --size "$size" >/dev/null
  fi
else
  pattern='app-[0-9]*\\.log'
  per_file=$((lines / files))
  lines=$((per_file * files))
  if [ "$(ls "$WORK/in" | grep -c '^app-[0-9]*\.log$')" != "$files" ] \
      || [ "$(stat -c %s "$WORK/in/app-0.log" 2>/dev/null)" != "$((per_file * size))" ]; then
    rm -f "$WORK"/in/app-*.log
    for i in $(seq 0 $((files - 1))); do
      "$bin/spate-loadgen" prefill --file "$WORK/in/app-$i.log" --lines "$per_file" --size "$size" \
        --stream "$i" >/dev/null
    done
  fi
fi

machine=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cores=$(nproc)
kernel=$(uname -r)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
ticks=$(getconf CLK_TCK)

for run in $(seq 1 "$runs"); do
  rm -f "$WORK"/position.json* "$WORK/recv.json" "$WORK/recv.err" "$WORK/agent.err"
  if [ "${COLD:-0}" = 1 ]; then
    sync && echo 1 >/proc/sys/vm/drop_caches || { echo "COLD=1 needs root" >&2; exit 1; }
  else
    # The case is about cached data. Read the files now: a host may evict idle page cache
    # between runs (the development VM runs a DAMON pageout scheme for pages idle 30 s).
    cat "$WORK"/in/*.log >/dev/null
  fi
  "${RECV:-$bin/spate-loadgen}" recv --listen 127.0.0.1:0 --expect "$lines" --idle-timeout 10 \
    --max-seconds 600 --rcvlowat "$rcvlowat" >"$WORK/recv.json" 2>"$WORK/recv.err" &
  recv_pid=$!
  port=
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\)$/\1/p' "$WORK/recv.err" 2>/dev/null | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "receiver did not start: $(cat "$WORK/recv.err")" >&2; exit 1; }
  sed -e "s|@WORK@|$WORK|g" -e "s|@PATTERN@|$pattern|g" -e "s|@PORT@|$port|g" -e "s|@BATCH@|$batch|g" \
      -e "s|@CAPACITY@|$capacity|g" -e "s|@READ@|$read|g" \
      "$here/agent.properties" >"$WORK/agent.properties"
  if [ -n "${EXTRA:-}" ]; then cat "$EXTRA" >>"$WORK/agent.properties"; fi
  # shellcheck disable=SC2086 # AGENT_ARGS is a list of words
  "${SPATE:-$bin/spate}" agent -f "$WORK/agent.properties" -n a1 --io "$io" --log-level warn \
    ${AGENT_ARGS:-} 2>"$WORK/agent.err" &
  agent_pid=$!
  scrapes=0
  if [ -n "${SCRAPE:-}" ]; then
    python3 - "$SCRAPE" "${SCRAPE_MS:-100}" "$recv_pid" >"$WORK/scrapes" <<'PY' &
import os, sys, time, urllib.request
url, every, recv = sys.argv[1], int(sys.argv[2]) / 1000, int(sys.argv[3])
answered = 0
while os.path.exists(f"/proc/{recv}"):
    try:
        urllib.request.urlopen(url, timeout=2).read()
        answered += 1
    except OSError:
        pass
    time.sleep(every)
print(answered)
PY
    scrape_pid=$!
  fi
  while kill -0 "$recv_pid" 2>/dev/null; do
    if ! kill -0 "$agent_pid" 2>/dev/null; then
      echo "the agent exited early:" >&2; cat "$WORK/agent.err" >&2; exit 1
    fi
    sleep 0.05
  done
  wait "$recv_pid"
  read -r utime stime < <(awk '{print $14, $15}' "/proc/$agent_pid/stat")
  hwm_kib=$(awk '/VmHWM/ {print $2}' "/proc/$agent_pid/status")
  if [ -n "${scrape_pid:-}" ]; then wait "$scrape_pid"; scrapes=$(cat "$WORK/scrapes"); scrape_pid=; fi
  kill -TERM "$agent_pid"
  wait "$agent_pid" || { echo "agent exited with $?; see $WORK/agent.err" >&2; exit 1; }
  agent_pid=
  if ! grep -q "\"unique\":$lines," "$WORK/recv.json"; then
    echo "run $run: the receiver did not get every line; logs kept in $WORK.run$run" >&2
    cp -r "$WORK" "$WORK.run$run" 2>/dev/null || true
    rm -rf "$WORK.run$run/in"
  fi
  python3 - "$WORK/recv.json" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
cpu = ($utime + $stime) / $ticks
print(json.dumps({
    "case": "tail-to-tcp", "profile": "$profile", "run": $run, "io": "$io",
    "batch": $batch, "capacity": $capacity, "read_buffer": $read, "files": $files,
    "lines": $lines, "line_bytes": $size, "rcvlowat": $rcvlowat, "extra": "$(basename "${EXTRA:-none}")",
    "agent_args": "${AGENT_ARGS:-}", "scrapes": $scrapes,
    "received": r["unique"], "missing": r["missing"], "duplicates": r["duplicates"],
    "seconds": round(r["seconds"], 3),
    "events_per_sec": round(r["events_per_sec"]), "mb_per_sec": round(r["mb_per_sec"], 1),
    "agent_cpu_seconds": round(cpu, 2),
    "gb_per_agent_cpu_second": round($lines * $size / 1e9 / cpu, 2) if cpu else None,
    "agent_peak_rss_mib": round($hwm_kib / 1024, 1),
    "recv_cpu_seconds": round(r["cpu_seconds"], 2),
    "machine": "$machine ($cores cores)", "kernel": "$kernel", "commit": "$commit",
}))
PY
done
