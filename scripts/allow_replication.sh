#!/usr/bin/env bash
# Lets the local PostgreSQL (127.0.0.1:5432) accept replication connections from 127.0.0.1,
# as it accepts every other connection from there (trust), so tests/replica.py can build a
# streaming replica of it with pg_basebackup. Idempotent: it appends one line to the server's
# pg_hba.conf (the file `SHOW hba_file` names) if that line is missing, then reloads the
# configuration (no restart). Run by .ci/run as root.
set -euo pipefail
query() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc "$1"; }

line="host replication all 127.0.0.1/32 trust"
hba=$(query "SHOW hba_file")
if ! grep -qxF "$line" "$hba"; then
  printf '# impact-graph tests: a streaming replica of this server (tests/replica.py)\n%s\n' \
    "$line" >>"$hba"
  query "SELECT pg_reload_conf()" >/dev/null
  echo "allowed replication connections from 127.0.0.1 in $hba"
fi
# Both are the defaults; changing either would need a restart, so only say so.
if [ "$(query "SHOW wal_level")" = minimal ] || [ "$(query "SHOW max_wal_senders")" = 0 ]; then
  echo "PostgreSQL needs wal_level=replica and max_wal_senders>0 for a replica" >&2
  exit 1
fi
