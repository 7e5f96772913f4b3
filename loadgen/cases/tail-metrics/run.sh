#!/usr/bin/env bash
# The tail-to-tcp pipeline without any monitoring, and with Prometheus and Flume's JSON served
# and Prometheus scraped every 100 ms, in alternated rounds on one prefilled file, so that both
# see the same machine.
#
#   loadgen/cases/tail-metrics/run.sh [tuned|flume-defaults]
#
# Environment: ROUNDS (5), PORT (19464: Prometheus; PORT+1: Flume's JSON), SCRAPE_MS (100), and
# everything tail-to-tcp/run.sh takes (IO, LINES, SIZE, SPATE...). Prints tail-to-tcp's JSON
# line per run; "agent_args" and "scrapes" say which of the two it was.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
profile=${1:-tuned}
port=${PORT:-19464}
own_work=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d); own_work=1; fi
trap 'if [ "$own_work" = 1 ]; then rm -rf "$WORK"; fi' EXIT
export WORK
served="--metrics-addr 127.0.0.1:$port -Dflume.monitoring.type=http -Dflume.monitoring.port=$((port + 1))"
for _ in $(seq 1 "${ROUNDS:-5}"); do
  AGENT_ARGS="--status-interval 0" SCRAPE= "$here/../tail-to-tcp/run.sh" "$profile"
  AGENT_ARGS="$served" SCRAPE="http://127.0.0.1:$port/metrics" "$here/../tail-to-tcp/run.sh" "$profile"
done
