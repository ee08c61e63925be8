#!/usr/bin/env bash
# A throwaway local PostgreSQL for `make demo`: pgcluster.sh start|stop DIR PORT
# Runs as the postgres system user when invoked as root (initdb refuses root).
set -euo pipefail
cmd=${1:?start|stop}; dir=$(realpath -m "${2:?data dir}"); port=${3:?port}
bin=${PG_BIN:-$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
[ -x "$bin/initdb" ] || { echo "pgcluster.sh: PostgreSQL server binaries not found (make system-deps installs them)" >&2; exit 1; }
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
case "$cmd" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
  fi
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  fi
  ;;
*) echo "usage: pgcluster.sh start|stop DIR PORT" >&2; exit 2 ;;
esac
