#!/usr/bin/env bash
# PC/SC link suite: the terminal's `pcsc` reader link against the REAL daemon. Unmodified pcscd
# with libccid's libccidtwin.so drives OneCard's simulated serial readers on pseudo-terminals
# (as .ci/suites/pcsc-interop.sh does), and onecard-terminal reads through pcscd's socket:
#  1. every example card read over the direct serial link first (iReadCardBas output kept), then
#     pcscd started with all the readers; `readers` lists them;
#  2. every example card read THROUGH pcscd: output and exit status identical to the direct link
#     (T=0 on SEC1210, T=1 on GemCore SIM Pro 2, PSAM in slot 1);
#  3. PIN status / wrong PIN (exit 6, tries left) / right PIN through pcscd;
#  4. a transit purchase, the card pulled mid-transaction (exit 4), the interrupted purchase
#     settled on the next presentation and a new debit after it;
#  5. two readers at once: `onecard-terminal run` with the user card in one PC/SC reader and the
#     PSAM in another, basic information over the local API identical to the direct read;
#  6. reader removal: a reader's device goes away under pcscd (exit 3, a reader problem), the
#     running terminal reports it absent;
#  7. pcscd stopped and started under the running terminal: its reader goes absent and comes back;
#     pcscd stopped: `readers` gives a coded line, a read exits 3 with the code; no crash.
# pcscd runs with its own reader.conf.d (-c) in a temporary directory; nothing is written to
# /etc. Every wait is bounded; a trap cleans up. Quiet on success; on failure it prints the
# outputs and the pcscd log tail.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/onecard-pcsc-link.XXXXXX)
CARDS="$ROOT/simulators/cards"
TERM_CLI=(node "$ROOT/terminal/bin/onecard-terminal.js")
PY=/usr/bin/python3
PIDS=()
PCSCD_PID=""
RUN_PID=""

log() { echo "[pcsc-link] $*"; }
fail() {
  log "FAILED: $*"
  [ -f "$WORK/pcscd.log" ] && { log "pcscd log tail:"; tail -30 "$WORK/pcscd.log"; }
  exit 1
}

stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$RUN_PID"
  stop_pid "$PCSCD_PID"
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# system packages (quietly), as the interop suite
if ! command -v pcscd >/dev/null || ! ls /usr/lib/pcsc/drivers/serial/libccidtwin.so >/dev/null 2>&1; then
  log "installing pcscd libccid"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq >/dev/null
  timeout 900 apt-get install -y -qq pcscd libccid >/dev/null
fi
LIBPATH=$(dpkg -L libccid | grep -m1 '/libccidtwin.so$' || true)
[ -n "$LIBPATH" ] || fail "libccidtwin.so not found"
if pgrep -x pcscd >/dev/null; then fail "a pcscd is already running; this suite needs its own"; fi
mkdir -p "$WORK/reader.conf.d"

declare -A PORT MODEL
# start_sim NAME MODEL CARD t1(yes|no) [psam]: a simulated serial reader with an HTTP control port
start_sim() {
  local name=$1 model=$2 card=$3 t1=$4 psam=${5:-}
  local args=(reader --link serial --pty "$WORK/tty-$name" --model "$model" --card "$CARDS/$card" --control-port 0 --log-level warn)
  [ "$t1" = yes ] && args+=(--t1)
  [ -n "$psam" ] && args+=(--psam "$CARDS/psam.json")
  timeout 400 node "$ROOT/simulators/bin/onecard-sim.js" "${args[@]}" </dev/null >"$WORK/sim-$name.out" 2>"$WORK/sim-$name.err" &
  PIDS+=($!)
  eval "SIMPID_$name=$!"
  for _ in $(seq 1 150); do grep -q '"event":"ready"' "$WORK/sim-$name.out" 2>/dev/null && break; sleep 0.2; done
  grep -q '"event":"ready"' "$WORK/sim-$name.out" || { tail -20 "$WORK/sim-$name.err"; fail "simulator $name not ready"; }
  PORT[$name]=$(sed -n 's/.*"controlPort":\([0-9]*\).*/\1/p' "$WORK/sim-$name.out" | head -1)
  MODEL[$name]=$model
  local driver
  driver=$(sed -n 's/.*"driverName":"\([^"]*\)".*/\1/p' "$WORK/sim-$name.out" | head -1)
  printf 'FRIENDLYNAME "OneCard %s"\nDEVICENAME %s:%s\nLIBPATH %s\n' "$name" "$WORK/tty-$name" "$driver" "$LIBPATH" >"$WORK/reader.conf.d/$name"
}
control() { # NAME VERB JSON
  curl -sf -X POST "http://127.0.0.1:${PORT[$1]}/$2" -H 'content-type: application/json' -d "$3" >/dev/null || fail "simulator $1: $2 refused"
}
# expect_rc WANT LABEL -- command…: runs the command, output in $WORK/LABEL.out/.err
expect_rc() {
  local want=$1 label=$2; shift 3
  local rc=0
  "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" || rc=$?
  if [ "$rc" != "$want" ]; then
    log "$label: exit $rc, expected $want"; cat "$WORK/$label.out" "$WORK/$label.err"; fail "$label"
  fi
  [ -n "${ONECARD_PCSC_VERBOSE:-}" ] && log "$label ok (exit $rc)"
  return 0
}

SECONDS=0
# name model card t1 expected-exit (transit-only carries no social security application: exit 5 both ways)
CASES=(
  "c1 sec1210 ssc-2.00.json no"
  "c2 gemcore-sim-pro2 ssc-2.00-transit.json yes"
  "c3 gemcore-sim-pro2 ssc-3.00-long-name.json yes"
  "c4 sec1210 transit-only.json no"
  "c5 sec1210 ssc-3.00-long-name.json no"
)
for c in "${CASES[@]}"; do
  read -r name model card t1 <<<"$c"
  start_sim "$name" "$model" "$card" "$t1" psam
done
start_sim solo gempc-twin ssc-2.00.json no
start_sim psamr gempc-twin psam.json yes

# 1. direct serial reads (before pcscd holds the ports)
for c in "${CASES[@]}"; do
  read -r name model card t1 <<<"$c"
  rc=0
  "${TERM_CLI[@]}" read-card --reader "serial:$WORK/tty-$name" --model "$model" --psam-slot 1 --format ireadcardbas >"$WORK/direct-$name.out" 2>"$WORK/direct-$name.err" || rc=$?
  echo "$rc" >"$WORK/direct-$name.rc"
done
[ "$(cat "$WORK/direct-c1.rc")" = 0 ] || { cat "$WORK/direct-c1.err"; fail "direct serial read of c1"; }
# the card of `solo` is the card of c1: its direct read is c1's

timeout 400 pcscd -f -c "$WORK/reader.conf.d" >"$WORK/pcscd.log" 2>&1 &
PCSCD_PID=$!
for _ in $(seq 1 150); do
  n=$("${TERM_CLI[@]}" readers --json 2>/dev/null | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["pcsc"]; print(sum(1 for r in d.get("readers", []) if r["card"]))' 2>/dev/null || echo 0)
  [ "$n" = 12 ] && break
  sleep 0.2
done
[ "$n" = 12 ] || fail "pcscd did not bring up the 12 readers with cards (saw $n)"
expect_rc 0 readers -- "${TERM_CLI[@]}" readers
grep -q '^  pcsc:"OneCard c1 [0-9A-F][0-9A-F] 01"  card 3B' "$WORK/readers.out" || { cat "$WORK/readers.out"; fail "readers does not list the PSAM slot of c1"; }
log "pcscd up with 12 readers ($SECONDS s)"

# 2. every example card through pcscd: identical output and exit status
for c in "${CASES[@]}"; do
  read -r name model card t1 <<<"$c"
  rc=0
  "${TERM_CLI[@]}" read-card --reader "pcsc:OneCard $name" --psam-slot 1 --format ireadcardbas >"$WORK/pcsc-$name.out" 2>"$WORK/pcsc-$name.err" || rc=$?
  if [ "$rc" != "$(cat "$WORK/direct-$name.rc")" ] || ! cmp -s "$WORK/direct-$name.out" "$WORK/pcsc-$name.out"; then
    log "$name ($card, $model, T=$([ "$t1" = yes ] && echo 1 || echo 0)): direct exit $(cat "$WORK/direct-$name.rc"), pcsc exit $rc"
    diff <(xxd "$WORK/direct-$name.out") <(xxd "$WORK/pcsc-$name.out") | head -20 || true
    cat "$WORK/direct-$name.err" "$WORK/pcsc-$name.err"
    fail "read-card through pcscd differs from the direct link for $card"
  fi
done
grep -q 'TERM_ERR_WRONG_CARD_TYPE' "$WORK/pcsc-c4.err" || { cat "$WORK/pcsc-c4.err"; fail "transit-only card: expected TERM_ERR_WRONG_CARD_TYPE"; }
log "every example card read through pcscd, identical to the direct serial link ($SECONDS s)"

# 3. PIN through pcscd (T=0 and T=1)
for pair in c1:ssc-2.00.json c3:ssc-3.00-long-name.json; do
  name=${pair%%:*} card=${pair#*:}
  pin=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pin"])' "$CARDS/$card")
  expect_rc 0 "pin-status-$name" -- "${TERM_CLI[@]}" pin status --reader "pcsc:OneCard $name"
  expect_rc 6 "pin-wrong-$name" -- sh -c "printf '%s\n' 000000 | exec \"\$@\"" sh "${TERM_CLI[@]}" pin verify --reader "pcsc:OneCard $name"
  grep -q 'TERM_ERR_PIN_WRONG' "$WORK/pin-wrong-$name.err" && grep -q 'tries left' "$WORK/pin-wrong-$name.err" || fail "wrong PIN on $name not reported with tries left"
  expect_rc 0 "pin-right-$name" -- sh -c "printf '%s\n' \"\$0\" | exec \"\$@\"" "$pin" "${TERM_CLI[@]}" pin verify --reader "pcsc:OneCard $name"
  if grep -rq -- "$pin" "$WORK/pin-right-$name.out" "$WORK/pin-right-$name.err" "$WORK/pin-wrong-$name.err"; then fail "the PIN reached the terminal's output"; fi
done
log "PIN status, wrong and right PIN through pcscd ($SECONDS s)"

# 4. transit purchase; the card pulled mid-transaction; settled on the next presentation
J="$WORK/purchases.journal"
buy() { "${TERM_CLI[@]}" purchase --amount "$1" --reader "pcsc:OneCard c2" --psam-slot 1 --journal "$J" --json; }
# (the card comes back as a fresh copy of its file: so the cut comes on the card's first
# purchase, where the fresh copy's state is the state the interrupted purchase left)
# the card leaves when DEBIT FOR PURCHASE (INS 54) is sent, inside the PC/SC transaction
control c2 cut '{"ins":"54","when":"before","slot":0}'
expect_rc 4 buy2 -- buy 200
grep -q 'TERM_ERR_PURCHASE_INTERRUPTED\|TERM_ERR_CARD_REMOVED' "$WORK/buy2.err" || { cat "$WORK/buy2.err"; fail "removal mid-purchase not reported as interrupted"; }
control c2 insert "{\"file\":\"$CARDS/ssc-2.00-transit.json\",\"slot\":0}"
for _ in $(seq 1 50); do "${TERM_CLI[@]}" readers >"$WORK/poll.out" 2>/dev/null || true; grep -q '^  pcsc:"OneCard c2 [0-9A-F][0-9A-F] 00"  card' "$WORK/poll.out" && break; sleep 0.2; done
expect_rc 0 buy3 -- buy 300
expect_rc 0 buy4 -- buy 400
"$PY" - "$WORK/buy3.out" "$WORK/buy4.out" <<'PYCHECK' || { cat "$WORK/buy3.out" "$WORK/buy4.out"; fail "purchase results"; }
import json, sys
settled, fresh = (json.load(open(f)) for f in sys.argv[1:])
# the interrupted 200 is settled (the card proves no debit happened), no debit of 300 is made
assert settled["kind"] == "recovered" and settled["recovery"]["kind"] == "not-debited", settled
assert settled["recovery"]["record"]["amount"] == 200, settled
# then a new purchase of 400 completes with MAC2 verified and a TAC
r = fresh["record"]
assert fresh["kind"] == "completed" and r["amount"] == 400 and r["mac2Verified"] is True and len(r["tac"]) == 8, fresh
assert fresh["balanceAfter"] == r["balanceBefore"] - 400, fresh
PYCHECK
log "purchase, card pulled mid-transaction (exit 4), settled on the next tap, new debit after ($SECONDS s)"

# 5. two readers at once: card in one PC/SC reader, PSAM in another, through `run`
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
APIPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/terminal.json" <<EOF
{ "terminalId": "pcsc-ci",
  "readers": [ { "id": "front", "link": "pcsc", "path": "OneCard solo" }, { "id": "sam", "link": "pcsc", "path": "OneCard psam*" } ],
  "card": { "reader": "front", "slot": 0 }, "psam": { "reader": "sam", "slot": 0 },
  "journal": { "file": "$WORK/run.journal" }, "deviceNumber": "PCSCCI01",
  "api": { "host": "127.0.0.1", "port": $APIPORT }, "log": { "level": "warn" } }
EOF
expect_rc 0 run-check -- env ONECARD_API_TOKEN="$TOKEN" "${TERM_CLI[@]}" run --config "$WORK/terminal.json" --check
ONECARD_API_TOKEN="$TOKEN" timeout 300 "${TERM_CLI[@]}" run --config "$WORK/terminal.json" >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
api() { curl -s -H "x-onecard-token: $TOKEN" -H 'content-type: application/json' "$@"; }
for _ in $(seq 1 100); do
  kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/run.err"; fail "run: the terminal stopped"; }
  api "http://127.0.0.1:$APIPORT/v1/readers" 2>/dev/null | "$PY" -c 'import json,sys; r=json.load(sys.stdin)["readers"]; sys.exit(0 if len(r)==2 and all(x["status"]=="ok" and x["link"]=="pcsc" for x in r) else 1)' 2>/dev/null && break
  sleep 0.2
done
api "http://127.0.0.1:$APIPORT/v1/readers" >"$WORK/run-readers.json" || true
"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["readers"]; assert len(r)==2 and all(x["status"]=="ok" for x in r), r' "$WORK/run-readers.json" || { cat "$WORK/run-readers.json" "$WORK/run.err"; fail "run: the two PC/SC readers are not ok"; }
api -X POST -d '{"format":"ireadcardbas"}' "http://127.0.0.1:$APIPORT/v1/card/read" >"$WORK/run-read.json" || true
"$PY" - "$WORK/run-read.json" "$WORK/direct-c1.out" <<'EOF' || { cat "$WORK/run-read.json" "$WORK/run.err"; fail "run: basic information over two PC/SC readers differs from the direct read"; }
import json, sys
got = json.load(open(sys.argv[1]))
# the CLI prints GBK as the national interface does; `run` adds its configured device number
want = open(sys.argv[2], 'rb').read().decode('gbk').rstrip('\n').split('|')
have = got['readCardBas'].split('|')
assert got.get('code') == 0 and len(have) == len(want) and have[10] == 'PCSCCI01', (got, want)
assert have[:10] + have[11:] == want[:10] + want[11:], (have, want)
EOF
log "run: card and PSAM in two PC/SC readers, iReadCardBas identical to the direct read ($SECONDS s)"

# 6. reader removal: the PSAM reader's device goes away under pcscd
eval "stop_pid \$SIMPID_psamr"
for _ in $(seq 1 100); do
  api "http://127.0.0.1:$APIPORT/v1/readers" 2>/dev/null | "$PY" -c 'import json,sys; r={x["readerId"]:x for x in json.load(sys.stdin)["readers"]}; sys.exit(0 if r["sam"]["status"]!="ok" and r["front"]["status"]=="ok" else 1)' 2>/dev/null && break
  sleep 0.2
done
api "http://127.0.0.1:$APIPORT/v1/readers" >"$WORK/run-readers2.json" || true
"$PY" -c 'import json,sys; r={x["readerId"]:x for x in json.load(open(sys.argv[1]))["readers"]}; assert r["sam"]["status"]!="ok" and r["front"]["status"]=="ok", r' "$WORK/run-readers2.json" || { cat "$WORK/run-readers2.json"; fail "run: the removed PSAM reader is not reported"; }
kill -0 "$RUN_PID" || fail "run: the terminal died when a reader went away"
eval "stop_pid \$SIMPID_c5"
for _ in $(seq 1 50); do "${TERM_CLI[@]}" readers >"$WORK/poll.out" 2>/dev/null || true; grep -q '^  pcsc:"OneCard c5 [0-9A-F][0-9A-F] 00"  not answering' "$WORK/poll.out" && break; sleep 0.2; done
expect_rc 3 gone -- "${TERM_CLI[@]}" read-card --reader "pcsc:OneCard c5" --psam-slot 1 --timeout 3000
log "reader removal: reported absent by the running terminal, exit 3 on a read ($SECONDS s)"

# 7. pcscd stopped under the running terminal, then started again: the reader goes absent and comes back
front_is() { api "http://127.0.0.1:$APIPORT/v1/readers" 2>/dev/null | "$PY" -c 'import json,sys; r={x["readerId"]:x for x in json.load(sys.stdin)["readers"]}; sys.exit(0 if r["front"]["status"]==sys.argv[1] else 1)' "$1" 2>/dev/null; }
stop_pid "$PCSCD_PID"; PCSCD_PID=""
for _ in $(seq 1 100); do front_is absent && break; sleep 0.2; done
front_is absent || fail "run: pcscd stopped, the reader is not reported absent"
rm -f "$WORK/reader.conf.d/psamr" "$WORK/reader.conf.d/c5"
timeout 200 pcscd -f -c "$WORK/reader.conf.d" >>"$WORK/pcscd.log" 2>&1 &
PCSCD_PID=$!
for _ in $(seq 1 150); do front_is ok && break; sleep 0.2; done
front_is ok || { api "http://127.0.0.1:$APIPORT/v1/readers"; fail "run: pcscd started again, the reader did not come back"; }
kill -0 "$RUN_PID" || fail "run: the terminal died across the pcscd restart"
stop_pid "$RUN_PID"; RUN_PID=""
log "pcscd restarted under the running terminal: reader absent, then back ($SECONDS s)"

stop_pid "$PCSCD_PID"; PCSCD_PID=""
expect_rc 0 readers-nopcscd -- "${TERM_CLI[@]}" readers
grep -q 'PC/SC readers: TERM_ERR_LINK_PCSC_UNAVAILABLE' "$WORK/readers-nopcscd.out" || { cat "$WORK/readers-nopcscd.out"; fail "readers without pcscd"; }
expect_rc 3 nopcscd -- "${TERM_CLI[@]}" read-card --reader "pcsc:OneCard c1" --timeout 2000
grep -q 'TERM_ERR_LINK_PCSC_UNAVAILABLE' "$WORK/nopcscd.err" || { cat "$WORK/nopcscd.err"; fail "read-card without pcscd: no coded reason"; }
log "all checks passed ($SECONDS s)"
