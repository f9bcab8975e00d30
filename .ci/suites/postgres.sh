#!/usr/bin/env bash
# Extra CI suite: the server store conformance suite on PostgreSQL (Debian package). Starts a
# throw-away cluster (initdb in a temp dir, run as the postgres user when CI runs as root) on a free
# loopback port, creates a database, runs server/test/store/postgres.test.ts (and the registry part, registry.test.ts) against it
# (ONECARD_TEST_PG_URL), then stops the cluster and removes it. Bounded and self-cleaning.
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
SUDO=''
[ "$(id -u)" -eq 0 ] || SUDO='sudo'
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")

WORK=$(mktemp -d)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" -eq 0 ]; then chown postgres "$WORK"; AS=(runuser -u postgres --); fi
PGPORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
stop_pg() {
  if [ -f "$WORK/data/postmaster.pid" ]; then
    (cd "$WORK" && "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$WORK"
}
trap stop_pg EXIT

(cd "$WORK" && "${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres --locale=C.UTF-8 -E UTF8 >"$WORK/initdb.log" 2>&1) \
  || { cat "$WORK/initdb.log" >&2; echo "initdb failed" >&2; exit 1; }
(cd "$WORK" && "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $WORK -c fsync=off -c max_connections=200" start >/dev/null) \
  || { cat "$WORK/pg.log" >&2; echo "PostgreSQL did not start" >&2; exit 1; }
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qc 'CREATE DATABASE onecard_ci' >/dev/null
echo "postgres: cluster on 127.0.0.1:$PGPORT"

export ONECARD_TEST_PG_URL="postgres://postgres@127.0.0.1:$PGPORT/onecard_ci"
cd server
OUT=$(timeout 300 npx tap --reporter=terse test/store/postgres.test.ts test/store/registry.test.ts test/venues/venues.test.ts 2>&1) || { echo "$OUT" >&2; echo "postgres suite FAILED" >&2; exit 1; }
echo "$OUT" | tail -n 5
# The conformance suite must really have run (not skipped for lack of a database).
if echo "$OUT" | grep -q 'skip: [1-9]'; then echo "$OUT" >&2; echo "postgres suite skipped tests" >&2; exit 1; fi
echo "postgres: conformance suite passed on PostgreSQL"
