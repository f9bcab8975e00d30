#!/usr/bin/env bash
# PC/SC interop suite: the OneCard simulated serial reader on a pseudo-terminal, driven by the
# REAL stack (pcscd + libccid's libccidtwin.so + pyscard). For each configuration it starts the
# simulator, writes a reader.conf.d entry pointing at its pty, starts `pcscd -f -a`, runs
# .ci/pcsc/ssc_check.py and stops everything. Every wait is bounded; a trap cleans up.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/onecard-pcsc.XXXXXX)
CONF=/etc/reader.conf.d/onecard-sim-ci
SIM_PID=""
PCSCD_PID=""

log() { echo "[pcsc-interop] $*"; }

stop_all() {
  if [ -n "$PCSCD_PID" ] && kill -0 "$PCSCD_PID" 2>/dev/null; then kill "$PCSCD_PID" 2>/dev/null || true; wait "$PCSCD_PID" 2>/dev/null || true; fi
  if [ -n "$SIM_PID" ] && kill -0 "$SIM_PID" 2>/dev/null; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  PCSCD_PID=""; SIM_PID=""
  rm -f "$CONF"
}
cleanup() { stop_all; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

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

run_case() { # name model t1(yes|no) expect-protocol [psam]
  local name=$1 model=$2 t1=$3 proto=$4 psam=${5:-}
  local pty="$WORK/tty-$name" out="$WORK/sim-$name.out" err="$WORK/sim-$name.err"
  log "case $name: model=$model t1=$t1 psam=${psam:-none}"
  local args=(reader --link serial --pty "$pty" --model "$model" --card "$ROOT/simulators/cards/ssc-2.00.json")
  [ "$t1" = yes ] && args+=(--t1)
  [ -n "$psam" ] && args+=(--psam "$ROOT/simulators/cards/psam.json")
  # the simulator runs until SIGTERM (stdin EOF only ends its control input)
  timeout 300 node "$ROOT/simulators/bin/onecard-sim.js" "${args[@]}" </dev/null >"$out" 2>"$err" &
  SIM_PID=$!
  for _ in $(seq 1 100); do grep -q '"event":"ready"' "$out" 2>/dev/null && break; sleep 0.2; done
  grep -q '"event":"ready"' "$out" || { log "simulator not ready"; cat "$err"; return 1; }
  local driver
  driver=$(sed -n 's/.*"driverName":"\([^"]*\)".*/\1/p' "$out" | head -1)
  sed -e "s#@PTY@#$pty#" -e "s#@DRIVERNAME@#$driver#" -e "s#@LIBPATH@#$LIBPATH#" -e "s#@FRIENDLYNAME@#OneCard sim $name#" \
    "$ROOT/.ci/pcsc/reader.conf.template" >"$CONF"
  pcscd -f -a -d >"$WORK/pcscd-$name.log" 2>&1 &
  PCSCD_PID=$!
  local rc=0
  local extra=()
  [ -n "$psam" ] && extra+=(--psam "$ROOT/simulators/cards/psam.json")
  sleep 2
  timeout 60 /usr/bin/python3 "$ROOT/.ci/pcsc/ssc_check.py" "$ROOT/simulators/cards/ssc-2.00.json" --expect-protocol "$proto" "${extra[@]}" || rc=$?
  if [ $rc -ne 0 ]; then
    log "case $name FAILED (rc=$rc); pcscd log tail:"; tail -40 "$WORK/pcscd-$name.log"; log "simulator log tail:"; tail -20 "$err"
  fi
  # secrets must never reach the simulator's log: the PIN data field is masked
  if grep -q '"command":"0020000003123456"' "$err"; then log "PIN leaked into the simulator log"; rc=1; fi
  stop_all
  return $rc
}

run_case twin-t0 gempc-twin no 0
run_case twin-t1 gempc-twin yes 1
run_case sec1210-t0 sec1210 no 0 psam
run_case simpro2-t1 gemcore-sim-pro2 yes 1 psam
log "all cases passed"
