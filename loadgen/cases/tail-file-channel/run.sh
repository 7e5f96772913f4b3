#!/usr/bin/env bash
# The tail-to-tcp pipeline through the memory channel and through the durable file channel
# (every batch fdatasync'ed before its source is acknowledged), in alternated rounds on one
# prefilled file, so that both see the same machine.
#
#   loadgen/cases/tail-file-channel/run.sh [tuned|flume-defaults]
#
# Environment: ROUNDS (3), FC_DIR (where the file channel's directories go; default under WORK,
# on WORK's disk; emptied before each run), and everything tail-to-tcp/run.sh takes (IO, LINES,
# SIZE, SPATE...). Prints tail-to-tcp's JSON line per run; "extra" says which channel it was.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
profile=${1:-tuned}
own_work=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d); own_work=1; fi
trap 'if [ "$own_work" = 1 ]; then rm -rf "$WORK"; fi' EXIT
export WORK
mkdir -p "$WORK"
fc=${FC_DIR:-$WORK/fc}
extra="$WORK/file-channel.properties"
cat >"$extra" <<PROPS
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = $fc/checkpoint
a1.channels.c1.dataDirs = $fc/data
a1.channels.c1.minimumRequiredSpace = 1073741824
PROPS
for _ in $(seq 1 "${ROUNDS:-3}"); do
  EXTRA= "$here/../tail-to-tcp/run.sh" "$profile"
  rm -rf "$fc"
  EXTRA="$extra" "$here/../tail-to-tcp/run.sh" "$profile"
done
