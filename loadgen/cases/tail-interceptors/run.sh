#!/usr/bin/env bash
# The tail-to-tcp pipeline plain and with interceptors [timestamp, host, static], in alternated
# rounds on one prefilled file, so that both see the same machine.
#
#   loadgen/cases/tail-interceptors/run.sh [tuned|flume-defaults]
#
# Environment: ROUNDS (5), and everything tail-to-tcp/run.sh takes (IO, LINES, SIZE, SPATE...).
# Prints tail-to-tcp's JSON line per run; "extra" says which of the two it was.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
profile=${1:-tuned}
own_work=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d); own_work=1; fi
trap 'if [ "$own_work" = 1 ]; then rm -rf "$WORK"; fi' EXIT
export WORK
for _ in $(seq 1 "${ROUNDS:-5}"); do
  EXTRA= "$here/../tail-to-tcp/run.sh" "$profile"
  EXTRA="$here/interceptors.properties" "$here/../tail-to-tcp/run.sh" "$profile"
done
