#!/usr/bin/env bash
# The real Apache Flume 1.11.0 as a test peer.
#
#   flume.sh resolve                  copy Flume and its dependencies from Maven Central
#   flume.sh agent NAME CONF [ARGS]   run agent NAME of the properties file CONF (exec: the
#                                     caller's process is the JVM, so killing it kills Flume)
#
# The jars go to $SPATE_FLUME_LIB (default: target/peers/flume/lib under the repository), which
# git ignores. Needs Java 17 and Maven.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
lib="${SPATE_FLUME_LIB:-$root/target/peers/flume/lib}"

case "${1:-}" in
resolve)
    # Resolved again whenever pom.xml changes.
    stamp="$lib/.resolved-$(md5sum < "$here/pom.xml" | cut -c1-16)"
    if [ -f "$stamp" ]; then
        exit 0
    fi
    mkdir -p "$lib"
    mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib"
    touch "$stamp"
    ;;
agent)
    [ $# -ge 3 ] || { echo "usage: flume.sh agent NAME CONF [ARGS]" >&2; exit 2; }
    name="$2"; conf="$3"; shift 3
    [ -f "$lib/flume-ng-node-1.11.0.jar" ] || { echo "run 'flume.sh resolve' first" >&2; exit 2; }
    exec java -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
        -cp "$lib/*" org.apache.flume.node.Application -n "$name" -f "$conf" "$@"
    ;;
*)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
