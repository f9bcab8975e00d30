#!/usr/bin/env bash
# PC/SC interop suite: the OneCard simulated serial reader on a pseudo-terminal, driven by the
# REAL stack (pcscd + libccid's libccidtwin.so + pyscard). For each case it starts the simulator,
# writes a reader.conf.d entry pointing at its pty, starts `pcscd -f -a`, runs
# .ci/pcsc/ssc_check.py and stops everything. Cases: one-slot GemPC Twin (user card only) and
# two-slot SEC1210 / GemCore SIM Pro 2 (PSAM in slot 1: external authentication with RKSSSE and a
# transit purchase), each for T=0 and T=1, with a 2.00 (DES) and a 3.00 (SM4, long name) card.
# Every wait is bounded; a trap cleans up. Quiet on success (one line per case); on failure it
# prints the failing step's APDU trace, the pcscd log tail and the simulator log tail.
# ONECARD_PCSC_VERBOSE=1 prints every check.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/onecard-pcsc.XXXXXX)
CONF=/etc/reader.conf.d/onecard-sim-ci
SIM_PID=""
PCSCD_PID=""
CARDS="$ROOT/simulators/cards"
VERBOSE=${ONECARD_PCSC_VERBOSE:-}

log() { echo "[pcsc-interop] $*"; }

# stop one process we started: TERM, up to 5 s grace, then KILL
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_all() {
  stop_pid "$PCSCD_PID"
  stop_pid "$SIM_PID"
  PCSCD_PID=""; SIM_PID=""
  rm -f "$CONF"
}
cleanup() { stop_all; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. system packages (quietly)
if ! command -v pcscd >/dev/null || ! /usr/bin/python3 -c 'import smartcard' 2>/dev/null || ! ls /usr/lib/pcsc/drivers/serial/libccidtwin.so >/dev/null 2>&1; then
  log "installing pcscd libccid pcsc-tools python3-pyscard"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq >/dev/null
  timeout 900 apt-get install -y -qq pcscd libccid pcsc-tools python3-pyscard >/dev/null
fi
LIBPATH=$(dpkg -L libccid | grep -m1 '/libccidtwin.so$' || true)
[ -n "$LIBPATH" ] || { log "libccidtwin.so not found"; exit 1; }
if pgrep -x pcscd >/dev/null; then log "a pcscd is already running; this suite needs its own"; exit 1; fi
mkdir -p /etc/reader.conf.d

run_case() { # name model t1(yes|no) expect-protocol card.json [psam]
  local name=$1 model=$2 t1=$3 proto=$4 card=$5 psam=${6:-}
  local pty="$WORK/tty-$name" out="$WORK/sim-$name.out" err="$WORK/sim-$name.err" res="$WORK/check-$name.out"
  local args=(reader --link serial --pty "$pty" --model "$model" --card "$CARDS/$card")
  [ "$t1" = yes ] && args+=(--t1)
  [ -n "$psam" ] && args+=(--psam "$CARDS/psam.json")
  # the simulator runs until SIGTERM (stdin EOF only ends its control input); timeout bounds it
  timeout 300 node "$ROOT/simulators/bin/onecard-sim.js" "${args[@]}" </dev/null >"$out" 2>"$err" &
  SIM_PID=$!
  for _ in $(seq 1 150); do grep -q '"event":"ready"' "$out" 2>/dev/null && break; kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.2; done
  if ! grep -q '"event":"ready"' "$out"; then
    log "case $name FAILED: simulator not ready"; tail -20 "$err"; stop_all; return 1
  fi
  local driver
  driver=$(sed -n 's/.*"driverName":"\([^"]*\)".*/\1/p' "$out" | head -1)
  sed -e "s#@PTY@#$pty#" -e "s#@DRIVERNAME@#$driver#" -e "s#@LIBPATH@#$LIBPATH#" -e "s#@FRIENDLYNAME@#OneCard sim $name#" \
    "$ROOT/.ci/pcsc/reader.conf.template" >"$CONF"
  timeout 300 pcscd -f -a -d >"$WORK/pcscd-$name.log" 2>&1 &
  PCSCD_PID=$!
  local rc=0
  local extra=()
  [ -n "$psam" ] && extra+=(--psam "$CARDS/psam.json")
  [ -n "$VERBOSE" ] && extra+=(--verbose)
  # ssc_check.py waits (bounded, --wait) for pcscd, the readers and the cards itself
  timeout 90 /usr/bin/python3 "$ROOT/.ci/pcsc/ssc_check.py" "$CARDS/$card" --expect-protocol "$proto" --wait 20 "${extra[@]}" >"$res" 2>&1 || rc=$?
  # secrets must never reach the simulator's log: VERIFY data is masked
  local pin
  pin=$(/usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1])).get("pin") or ""; print((p + ("F" if len(p) % 2 else "")).upper())' "$CARDS/$card")
  if [ -n "$pin" ] && grep -qi "\"command\":\"00200000..$pin\"" "$err"; then log "case $name: PIN leaked into the simulator log"; rc=1; fi
  if [ $rc -ne 0 ]; then
    log "case $name FAILED (rc=$rc): model=$model t1=$t1 card=$card psam=${psam:-none}"
    cat "$res"
    log "pcscd log tail:"; grep -v -e "winscard_svc.c" -e "RefReader()" -e "SCardReleaseContext" "$WORK/pcscd-$name.log" | tail -40
    log "simulator log tail:"; tail -30 "$err"
  else
    [ -n "$VERBOSE" ] && cat "$res"
    log "case $name ok ($(sed -n 's/.*"checks": \([0-9]*\).*/\1/p' "$res" | tail -1) checks)"
  fi
  stop_all
  return $rc
}

failed=0
run_case twin-t0 gempc-twin no 0 ssc-2.00.json || failed=1
run_case twin-t1 gempc-twin yes 1 ssc-2.00.json || failed=1
run_case sec1210-t0-2.00 sec1210 no 0 ssc-2.00-transit.json psam || failed=1
run_case sec1210-t0-3.00 sec1210 no 0 ssc-3.00-long-name.json psam || failed=1
run_case simpro2-t1-2.00 gemcore-sim-pro2 yes 1 ssc-2.00-transit.json psam || failed=1
run_case simpro2-t1-3.00 gemcore-sim-pro2 yes 1 ssc-3.00-long-name.json psam || failed=1
if [ $failed -ne 0 ]; then log "FAILED"; exit 1; fi
log "all cases passed"
