#!/usr/bin/env bash
# Extra CI suite: two OneCard servers sharing PostgreSQL and Redis (Debian packages). Starts a
# throw-away PostgreSQL cluster and a Redis server (no persistence) on free loopback ports, runs
# server/test/scale/multi-server-scenario.ts (config pushed through one server reaches a terminal
# on the other; card login behind one balancer URL: a signing key rotated through one server is
# published and used by the other without a restart, a login started on one completes on the other;
# one server killed, its terminal moves to the other, every event stored once), then
# stops everything and removes the temp dir. Bounded and self-cleaning.
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
SUDO=''
[ "$(id -u)" -eq 0 ] || SUDO='sudo'
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null; then
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq postgresql redis-server >/dev/null
fi
PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

WORK=$(mktemp -d)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" -eq 0 ]; then chown postgres "$WORK"; AS=(runuser -u postgres --); fi
PGPORT=$(free_port)
REDISPORT=$(free_port)
REDIS_PID=''
SCENARIO_PID=''
cleanup() {
  if [ -n "$SCENARIO_PID" ] && kill -0 "$SCENARIO_PID" 2>/dev/null; then
    kill -- "-$SCENARIO_PID" 2>/dev/null || kill "$SCENARIO_PID" 2>/dev/null || true
    wait "$SCENARIO_PID" 2>/dev/null || true
  fi
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  if [ -f "$WORK/data/postmaster.pid" ]; then
    (cd "$WORK" && "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$WORK" && "${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres --locale=C.UTF-8 -E UTF8 >"$WORK/initdb.log" 2>&1) \
  || { cat "$WORK/initdb.log" >&2; echo "initdb failed" >&2; exit 1; }
(cd "$WORK" && "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $WORK -c fsync=off" start >/dev/null) \
  || { cat "$WORK/pg.log" >&2; echo "PostgreSQL did not start" >&2; exit 1; }

redis-server --port "$REDISPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 50); do
  redis-cli -p "$REDISPORT" ping 2>/dev/null | grep -q PONG && break
  kill -0 "$REDIS_PID" 2>/dev/null || { cat "$WORK/redis.log" >&2; echo "redis exited" >&2; exit 1; }
  sleep 0.1
done
redis-cli -p "$REDISPORT" ping | grep -q PONG || { echo "redis not answering" >&2; exit 1; }
echo "multi-server: PostgreSQL on 127.0.0.1:$PGPORT, Redis on 127.0.0.1:$REDISPORT"

export ONECARD_TEST_PG_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
export ONECARD_TEST_REDIS_URL="redis://127.0.0.1:$REDISPORT/0"
set -m
timeout 280 node --import tsx server/test/scale/multi-server-scenario.ts &
SCENARIO_PID=$!
set +m
RC=0
wait "$SCENARIO_PID" || RC=$?
SCENARIO_PID=''
if [ "$RC" -ne 0 ]; then
  echo "multi-server suite FAILED (exit $RC)" >&2
  exit 1
fi
echo "multi-server: all checks passed"
