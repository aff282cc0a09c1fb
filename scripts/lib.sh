# Shared by scripts/demo and scripts/test: a throwaway PostgreSQL cluster and
# the bundled mock LMS, both on loopback, both run as an unprivileged user.

PG_BINDIR=$(pg_config --bindir)
export PATH="$PG_BINDIR:$PATH"
RUN_AS=${LMS_FDW_RUN_AS:-postgres}

as_user() {
  if [ "$(id -un)" = "$RUN_AS" ]; then "$@"; else runuser -u "$RUN_AS" -- env PATH="$PATH" "$@"; fi
}

# a work directory the run-as user owns
make_workdir() {
  WORKDIR=$(mktemp -d /tmp/lms_fdw.XXXXXX)
  chown "$RUN_AS" "$WORKDIR"
}

start_cluster() {
  PGDATA="$WORKDIR/pgdata"
  export PGHOST="$WORKDIR" PGPORT=${LMS_FDW_PGPORT:-55432} PGUSER="$RUN_AS" PGDATABASE=postgres
  as_user initdb -D "$PGDATA" -A trust -U "$RUN_AS" >"$WORKDIR/initdb.log"
  as_user pg_ctl -D "$PGDATA" -l "$WORKDIR/postgres.log" -w \
    -o "-k $WORKDIR -p $PGPORT -c listen_addresses=''" start >/dev/null
}

stop_cluster() {
  [ -n "${PGDATA:-}" ] && [ -f "$PGDATA/postmaster.pid" ] && as_user pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null || true
}

start_mock() {
  local srcdir=$1
  as_user python3 "$srcdir/test/mock_lms/mock_lms.py" --port 0 \
    --port-file "$WORKDIR/mock.port" --quiet >"$WORKDIR/mock.log" 2>&1 &
  MOCK_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$WORKDIR/mock.port" ] && break
    sleep 0.1
  done
  [ -s "$WORKDIR/mock.port" ] || { echo "mock LMS did not start:"; cat "$WORKDIR/mock.log"; return 1; }
  export MOCK_LMS_PORT=$(cat "$WORKDIR/mock.port")
}

stop_mock() {
  [ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
}
