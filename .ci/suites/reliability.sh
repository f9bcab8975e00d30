#!/usr/bin/env bash
# Extra CI suite: the issue-6 reliability test. The fleet server (SQLite, embedded broker) and 3
# terminals as a box runs them — `onecard-terminal enroll`, then `onecard-terminal run --data-dir`
# processes on simulated serial readers — sell RELIABILITY_TOTAL fares through their local APIs
# (default 1000; real card purchases with the PSAM, journal and outbox) while the harness SIGKILLs
# terminals (often mid-purchase), restarts the server and drops broker connections at random; the
# server must then hold every outbox record exactly once, in per-terminal order, every answered
# purchase, and card debits must equal the completed fares (no double debit, none unrecorded).
# Bounded: the harness gives up after RELIABILITY_LIMIT_S (default 240 s); a watchdog here kills
# its whole process group (terminal children included) after 300 s. No system packages needed.
set -euo pipefail
cd "$(dirname "$0")/../.."

setsid node --import tsx terminal/test/reliability/harness.ts &
HARNESS=$!
WATCHDOG=''
cleanup() {
  [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null || true
  if kill -0 "$HARNESS" 2>/dev/null; then
    kill -TERM -- "-$HARNESS" 2>/dev/null || true
    sleep 1
  fi
  kill -KILL -- "-$HARNESS" 2>/dev/null || true
}
trap cleanup EXIT
( sleep 300; echo 'reliability: watchdog fired after 300 s' >&2; kill -TERM -- "-$HARNESS" 2>/dev/null ) &
WATCHDOG=$!

rc=0
wait "$HARNESS" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "reliability: FAILED (exit $rc)" >&2
  exit "$rc"
fi
echo 'reliability: passed'
