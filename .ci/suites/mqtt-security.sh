#!/usr/bin/env bash
# Extra CI suite: the broker's access control checked with the real Debian MQTT clients
# (mosquitto_pub / mosquitto_sub from mosquitto-clients) against a OneCard server started from
# the CLI on free ports with a temporary data dir. Three terminals are enrolled with curl; a
# representative part of the security matrix is tried (the full matrix runs in
# server/test/security with the mqtt npm client), plus the broker limits of issue 12: retained and
# non-protocol uplinks, persistent sessions and foreign Last Wills refused, and a second server
# under `ulimit -n 512` flooded with idle sockets and announced-250-MiB CONNECTs while its HTTP API
# must keep answering and its resident memory stay flat. Fails loudly on any unexpected outcome,
# cleans up and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
SUDO=''
[ "$(id -u)" -eq 0 ] || SUDO='sudo'
if ! command -v mosquitto_pub >/dev/null || ! command -v mosquitto_sub >/dev/null || ! command -v jq >/dev/null; then
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq mosquitto-clients jq curl openssl >/dev/null
fi

WORK=$(mktemp -d)
SERVER_PID=''
FLOOD_PID=''
cleanup() {
  for pid in "$SERVER_PID" "$FLOOD_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

FAILS=0
CHECKS=0
pass() { CHECKS=$((CHECKS + 1)); echo "  ok   $1"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "  FAIL $1" >&2; }
expect() { # expect NAME WANT GOT
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (wanted '$2', got '$3')"; fi
}

ADMIN_TOKEN="ci-mqtt-security-$(openssl rand -hex 16)"
ONECARD_ADMIN_TOKEN="$ADMIN_TOKEN" timeout 300 node server/bin/onecard-server.js \
  --data-dir "$WORK/data" --http-port 0 --mqtt-port 0 --log-level warn --auth-rate-limit 1000 \
  >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

for _ in $(seq 1 150); do
  grep -q '"event":"ready"' "$WORK/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; echo "server exited early" >&2; exit 1; }
  sleep 0.2
done
READY=$(grep '"event":"ready"' "$WORK/server.out") || { echo "server not ready after 30 s" >&2; cat "$WORK/server.err" >&2; exit 1; }
HTTP=$(jq -r .http <<<"$READY")
MQTT=$(jq -r .mqtt <<<"$READY")
MHOST=${MQTT#mqtt://}; MPORT=${MHOST##*:}; MHOST=${MHOST%:*}
echo "server: $HTTP, broker $MHOST:$MPORT"

api() { # api METHOD PATH [JSON]
  curl -sS -X "$1" -H "authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' ${3:+-d "$3"} "$HTTP$2"
}
api POST /api/v1/groups '{"id":"ci-sec","name":"CI security"}' >/dev/null

declare -A PW
IDS=()
for n in 1 2 3; do
  TOKEN=$(api POST /api/v1/enrolment-tokens '{"groupId":"ci-sec","tags":["kind:kiosk"]}' | jq -r .token)
  openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/key$n.pem"
  PUB=$(openssl ec -in "$WORK/key$n.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
  R=$(curl -sS -X POST -H 'content-type: application/json' -d "{\"token\":\"$TOKEN\",\"publicKey\":\"$PUB\",\"kind\":\"kiosk\"}" "$HTTP/api/v1/enrol")
  ID=$(jq -r .terminalId <<<"$R")
  [ -n "$ID" ] && [ "$ID" != null ] || { echo "enrolment $n failed: $R" >&2; exit 1; }
  IDS+=("$ID")
  PW[$ID]=$(jq -r .mqtt.password <<<"$R")
done
A=${IDS[0]}; B=${IDS[1]}; C=${IDS[2]}
echo "terminals: A=$A B=$B C=$C"

COMMON=(-V mqttv311 -h "$MHOST" -p "$MPORT")
pub() { # pub CLIENTID USER PASSWORD TOPIC MESSAGE -> exit code
  local rc=0
  timeout 20 mosquitto_pub "${COMMON[@]}" -i "$1" -u "$2" -P "$3" -q 1 -t "$4" -m "$5" 2>>"$WORK/clients.err" || rc=$?
  echo "$rc"
}
suback() { # suback CLIENTID USER PASSWORD FILTER... -> granted codes as printed by -d, or "refused:<rc>"
  local id=$1 user=$2 pw=$3; shift 3
  local args=() out rc=0
  for f in "$@"; do args+=(-t "$f"); done
  out=$(timeout 20 mosquitto_sub "${COMMON[@]}" -d -i "$id" -u "$user" -P "$pw" -q 1 "${args[@]}" -E -W 10 2>&1) || rc=$?
  local codes
  codes=$(sed -n 's/.*Subscribed (mid: [0-9]*): \(.*\)$/\1/p' <<<"$out" | head -n1)
  if [ -n "$codes" ]; then echo "$codes"; else echo "refused:$rc"; fi
}
terminal_field() { api GET "/api/v1/terminals/$1" | jq -c "$2"; }
refused() { curl -sS "$HTTP/metrics" | awk -v k="onecard_mqtt_refused_total{reason=\"$2\",what=\"$1\"}" '$1 == k { print $2; f=1 } END { if (!f) print 0 }'; }

birth() { echo "{\"v\":1,\"epoch\":$1,\"ts\":$(date +%s000),\"versions\":{\"software\":\"ci\",\"config\":0,\"keys\":0,\"hotlist\":0},\"readers\":[]}"; }

echo "publish:"
expect "A publishes its own birth (QoS 1, PUBACK)" 0 "$(pub "$A" "$A" "${PW[$A]}" "t/$A/up/birth" "$(birth 41)")"
expect "server recorded A's birth epoch" 41 "$(terminal_field "$A" .epoch)"
R0=$(refused publish topic-not-allowed)
RC=$(pub "$A" "$A" "${PW[$A]}" "t/$B/up/birth" "$(birth 99)")
[ "$RC" != 0 ] && pass "A publishing to B's up/birth is refused (connection dropped, rc $RC)" || fail "A published to B's up/birth"
RC=$(pub "$A" "$A" "${PW[$A]}" "t/$B/down/config" '{"v":1,"version":666,"sha256":"'"$(printf '0%.0s' $(seq 64))"'"}')
[ "$RC" != 0 ] && pass "A publishing to B's down/config is refused (rc $RC)" || fail "A published to B's down/config"
RC=$(pub "$A" "$A" "${PW[$A]}" "fleet/broadcast/all" '{}')
[ "$RC" != 0 ] && pass "A publishing to fleet/broadcast is refused (rc $RC)" || fail "A published to the broadcast tree"
# The fleet-wide hotlist change (issue 17): a forged one would unlist a lost card on every terminal.
RC=0; timeout 20 mosquitto_pub "${COMMON[@]}" -i "$A" -u "$A" -P "${PW[$A]}" -q 1 -r -t "fleet/broadcast/hotlist/delta" -m '{"v":1,"fromVersion":0,"version":1,"add":[],"remove":["X00000019"]}' 2>>"$WORK/clients.err" || RC=$?
[ "$RC" != 0 ] && pass "A publishing a retained fleet/broadcast/hotlist/delta is refused (rc $RC)" || fail "A published a hotlist change"
expect "B's epoch untouched by A" 0 "$(terminal_field "$B" .epoch)"
expect "4 refused publishes counted" 4 "$(( $(refused publish topic-not-allowed) - R0 ))"

echo "subscribe:"
expect "A subscribes to its own down/#" 1 "$(suback "$A" "$A" "${PW[$A]}" "t/$A/down/#")"
expect "A subscribes to fleet/broadcast/#" 1 "$(suback "$A" "$A" "${PW[$A]}" "fleet/broadcast/#")"
S0=$(refused subscribe topic-not-allowed)
expect "A subscribing to # gets 0x80" 128 "$(suback "$A" "$A" "${PW[$A]}" "#")"
expect "A subscribing to t/+/down/# gets 0x80" 128 "$(suback "$A" "$A" "${PW[$A]}" "t/+/down/#")"
expect "A subscribing to t/$A/# gets 0x80" 128 "$(suback "$A" "$A" "${PW[$A]}" "t/$A/#")"
expect "A subscribing to B's down/# gets 0x80" 128 "$(suback "$A" "$A" "${PW[$A]}" "t/$B/down/#")"
expect "mixed SUBSCRIBE: own granted, C's refused" "1, 128" "$(suback "$A" "$A" "${PW[$A]}" "t/$A/down/#" "t/$C/down/#")"
# B's pointer carries B's configuration document inline (issue 17): A may not read it.
expect "A subscribing to B's down/config gets 0x80" 128 "$(suback "$A" "$A" "${PW[$A]}" "t/$B/down/config")"
expect "6 refused subscriptions counted" 6 "$(( $(refused subscribe topic-not-allowed) - S0 ))"

echo "no crossing:"
# B listens on its own down tree (granted) while A tries to write into it; B must see nothing.
timeout 20 mosquitto_sub "${COMMON[@]}" -d -i "$B" -u "$B" -P "${PW[$B]}" -q 1 -t "t/$B/down/#" -W 4 >"$WORK/b.out" 2>&1 &
SUB_PID=$!
sleep 1
pub "$A" "$A" "${PW[$A]}" "t/$B/down/ack" '{"v":1,"upToSeq":999}' >/dev/null
wait "$SUB_PID" || true
grep -q 'Subscribed (mid: [0-9]*): 1' "$WORK/b.out" && pass "B's own subscription was granted" || fail "B's subscription not granted: $(cat "$WORK/b.out")"
grep -q 'PUBLISH' "$WORK/b.out" && fail "B received a message written by A: $(grep PUBLISH "$WORK/b.out")" || pass "B received nothing from A"

echo "connect:"
C0=$(refused connect bad-password); M0=$(refused connect client-id-mismatch); N0=$(refused connect no-credentials); U0=$(refused connect unknown-terminal)
expect "wrong password refused (CONNACK 4)" "refused:4" "$(suback "$A" "$A" "wrong-password" "t/$A/down/#")"
expect "B's password for A refused (CONNACK 4)" "refused:4" "$(suback "$A" "$A" "${PW[$B]}" "t/$A/down/#")"
expect "stolen client id: B's id with A's credentials (CONNACK 5)" "refused:5" "$(suback "$B" "$A" "${PW[$A]}" "t/$B/down/#")"
expect "unknown user refused (CONNACK 4)" "refused:4" "$(suback Tnobody0000 Tnobody0000 "${PW[$A]}" "t/Tnobody0000/down/#")"
RC=0; timeout 20 mosquitto_sub "${COMMON[@]}" -i "$A" -q 1 -t "t/$A/down/#" -E -W 10 2>>"$WORK/clients.err" || RC=$?
expect "no credentials refused (CONNACK 4)" 4 "$RC"
expect "bad-password counted" 2 "$(( $(refused connect bad-password) - C0 ))"
expect "client-id-mismatch counted" 1 "$(( $(refused connect client-id-mismatch) - M0 ))"
expect "no-credentials counted" 1 "$(( $(refused connect no-credentials) - N0 ))"
expect "unknown-terminal counted" 1 "$(( $(refused connect unknown-terminal) - U0 ))"

echo "disable:"
expect "C disabled via the API" '"disabled"' "$(api POST "/api/v1/terminals/$C/disable" '{}' | jq -c .status)"
expect "disabled terminal refused (CONNACK 5)" "refused:5" "$(suback "$C" "$C" "${PW[$C]}" "t/$C/down/#")"

echo "retained and non-protocol uplinks (issue 12 item 4):"
R0=$(refused publish topic-not-allowed); N0=$(refused publish retain-not-allowed)
RC=0; timeout 20 mosquitto_pub "${COMMON[@]}" -i "$A" -u "$A" -P "${PW[$A]}" -q 1 -r -t "t/$A/up/junk/1" -m x 2>>"$WORK/clients.err" || RC=$?
[ "$RC" != 0 ] && pass "retained publish to up/junk/1 refused (rc $RC)" || fail "retained junk uplink accepted"
RC=0; timeout 20 mosquitto_pub "${COMMON[@]}" -i "$A" -u "$A" -P "${PW[$A]}" -q 1 -r -t "t/$A/up/tele" -m x 2>>"$WORK/clients.err" || RC=$?
[ "$RC" != 0 ] && pass "retained publish to up/tele refused (rc $RC)" || fail "retained uplink accepted"
expect "junk topic counted" 1 "$(( $(refused publish topic-not-allowed) - R0 ))"
expect "retain counted" 1 "$(( $(refused publish retain-not-allowed) - N0 ))"
RC=0; timeout 20 mosquitto_sub "${COMMON[@]}" -i "$A" -u "$A" -P "${PW[$A]}" -c -q 1 -t "t/$A/down/#" -E -W 10 2>>"$WORK/clients.err" || RC=$?
expect "persistent session refused (CONNACK 5)" 5 "$RC"
RC=0; timeout 20 mosquitto_sub "${COMMON[@]}" -i "$A" -u "$A" -P "${PW[$A]}" --will-topic "t/$B/down/config" --will-payload x --will-retain -q 1 -t "t/$A/down/#" -E -W 10 2>>"$WORK/clients.err" || RC=$?
expect "Last Will aimed at B's retained down/config refused (CONNACK 5)" 5 "$RC"

# A second server under a small open-file limit (soft = hard = 512, so node cannot raise it) and
# with the pending caps lifted: only the descriptor budget stands between an MQTT flood and HTTP.
echo "flood (issue 12 item 3):"
FLOOD_TOKEN="ci-flood-$(openssl rand -hex 16)"
( ulimit -n 512; ONECARD_ADMIN_TOKEN="$FLOOD_TOKEN" exec timeout 300 node server/bin/onecard-server.js \
  --data-dir "$WORK/flood" --http-port 0 --mqtt-port 0 --log-level warn \
  --mqtt-max-pending 100000 --mqtt-max-pending-per-address 100000 --mqtt-connect-timeout 120000 \
  >"$WORK/flood.out" 2>"$WORK/flood.err" ) &
FLOOD_PID=$!
for _ in $(seq 1 150); do
  grep -q '"event":"ready"' "$WORK/flood.out" 2>/dev/null && break
  sleep 0.2
done
FREADY=$(grep '"event":"ready"' "$WORK/flood.out") || { echo "flood server not ready" >&2; cat "$WORK/flood.err" >&2; exit 1; }
FHTTP=$(jq -r .http <<<"$FREADY"); FMQTT=$(jq -r .mqtt <<<"$FREADY")
echo "  budget: $(jq -c .connections <<<"$FREADY")"
FMQ=$(jq -r .connections.mqtt <<<"$FREADY")
[ "$FMQ" -lt 512 ] && pass "MQTT budget ($FMQ) fits under the 512 open-file limit" || fail "MQTT budget $FMQ does not fit 512 descriptors"
rss() { curl -sS -H "authorization: Bearer $FLOOD_TOKEN" "$FHTTP/metrics" | awk '$1 == "onecard_process_resident_memory_bytes" { print int($2 / 1048576) }'; }
RSS0=$(rss)
# 2,000 idle sockets held open while HTTP is probed, then six announced-250-MiB CONNECTs streamed.
FLOOD_JS=$(cat <<'JS'
const net = require('node:net');
const [host, port] = process.argv[1].replace('mqtt://', '').split(':');
const socks = [];
let closedByServer = 0;
for (let i = 0; i < 2000; i++) {
  const s = net.connect({ host, port: Number(port) });
  s.on('error', () => {});
  s.on('close', () => { closedByServer++; });
  socks.push(s);
}
const keepAlive = setInterval(() => {}, 1000);
setTimeout(async () => {
  const held = 2000 - closedByServer;
  const answers = [];
  for (const path of ['/health', '/ready', '/api/v1/terminals']) {
    const r = await fetch(process.argv[2] + path, { headers: { authorization: 'Bearer ' + process.argv[3] }, signal: AbortSignal.timeout(10000) }).then((x) => x.status, (e) => 'error:' + e.message);
    answers.push(r);
  }
  // What the server itself says it holds (its connection guard), not what the client saw closed.
  const metrics = await fetch(process.argv[2] + '/metrics', { headers: { authorization: 'Bearer ' + process.argv[3] }, signal: AbortSignal.timeout(10000) }).then((x) => x.text(), () => '');
  const m = /^onecard_mqtt_pending (\d+)$/m.exec(metrics);
  const serverHeld = m === null ? -1 : Number(m[1]);
  for (const s of socks) s.destroy();
  // Six connections announce a 250 MiB CONNECT and stream up to 32 MiB each.
  let huge = 0;
  await Promise.all(Array.from({ length: 6 }, () => new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) }, () => {
      s.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x7d]));
      const chunk = Buffer.alloc(65536);
      let sent = 0;
      const pump = () => { while (sent < 32 * 1048576) { sent += chunk.length; if (!s.write(chunk)) return s.once('drain', pump); } };
      pump();
    });
    let ours = false;
    s.on('error', () => {});
    s.on('close', () => { if (!ours) huge++; resolve(); });
    setTimeout(() => { ours = true; s.destroy(); }, 20000);
  })));
  console.log(JSON.stringify({ held, serverHeld, answers, hugeClosed: huge }));
  process.exit(0);
}, 3000);
JS
)
FRES=$(node -e "$FLOOD_JS" "$FMQTT" "$FHTTP" "$FLOOD_TOKEN")
echo "  $FRES"
HELD=$(jq -r .serverHeld <<<"$FRES")
[ "$HELD" -ge 0 ] && [ "$HELD" -le "$FMQ" ] && pass "2000 idle sockets tried, server held $HELD (≤ budget $FMQ)" || fail "server held $HELD sockets, budget $FMQ"
expect "HTTP /health, /ready and the admin API answer during the flood" '[200,200,200]' "$(jq -c .answers <<<"$FRES")"
expect "six announced-250-MiB CONNECTs closed by the server" 6 "$(jq -r .hugeClosed <<<"$FRES")"
RSS1=$(rss)
echo "  resident memory: ${RSS0} MiB before, ${RSS1} MiB after"
[ $((RSS1 - RSS0)) -lt 64 ] && pass "resident memory grew by $((RSS1 - RSS0)) MiB (< 64 MiB; unbounded it held every streamed byte)" || fail "resident memory grew by $((RSS1 - RSS0)) MiB"
kill "$FLOOD_PID" 2>/dev/null || true
wait "$FLOOD_PID" 2>/dev/null || true

echo "$CHECKS checks, $FAILS failed"
if [ "$FAILS" -ne 0 ]; then
  echo "--- client stderr" >&2; tail -n 20 "$WORK/clients.err" >&2 || true
  echo "--- server stderr" >&2; tail -n 20 "$WORK/server.err" >&2 || true
  exit 1
fi
echo "mqtt-security: all checks passed"
