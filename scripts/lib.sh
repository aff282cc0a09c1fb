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

# The mock runs in a process group of its own (setsid), so stop_mock reaches
# it through runuser and any child; it also exits by itself when the
# process that started it is gone (--exit-with-parent).
start_mock() {
  local srcdir=$1
  local cmd=(python3 "$srcdir/test/mock_lms/mock_lms.py" --port 0
             --port-file "$WORKDIR/mock.port" --quiet --exit-with-parent)
  [ "$(id -un)" = "$RUN_AS" ] || cmd=(runuser -u "$RUN_AS" -- env PATH="$PATH" "${cmd[@]}")
  # a background command of a script is not a group leader, so setsid
  # makes its own pid the new group's id (no fork)
  setsid "${cmd[@]}" >"$WORKDIR/mock.log" 2>&1 &
  MOCK_PGID=$!
  for _ in $(seq 1 100); do
    [ -s "$WORKDIR/mock.port" ] && break
    sleep 0.1
  done
  [ -s "$WORKDIR/mock.port" ] || { echo "mock LMS did not start:"; cat "$WORKDIR/mock.log"; stop_mock; return 1; }
  export MOCK_LMS_PORT=$(cat "$WORKDIR/mock.port")
}

# SIGTERM to the mock's whole group, SIGKILL after 5 s; then reap it
stop_mock() {
  [ -n "${MOCK_PGID:-}" ] || return 0
  kill -TERM -- "-$MOCK_PGID" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 -- "-$MOCK_PGID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$MOCK_PGID" 2>/dev/null || true
  wait "$MOCK_PGID" 2>/dev/null || true
  MOCK_PGID=
}

# Fail if a process started from this work directory (the mock, the
# cluster, the TAP tests' mocks and clusters below it) is still running:
# the scripts must not leave anything behind.
check_nothing_left() {
  local left
  left=$(pgrep -af -- "$WORKDIR/" || true)
  if [ -n "$left" ]; then
    echo "still running after the stop:"; echo "$left"
    return 1
  fi
}

# The EXIT trap of scripts/test and scripts/demo: stop the cluster first (its
# backends hold connections to the mock), then the mock, then make sure
# nothing is left; a leftover turns the exit status into a failure.
cleanup() {
  local rc=$?
  stop_cluster
  stop_mock
  check_nothing_left || rc=1
  [ -n "${WORKDIR:-}" ] && rm -rf "$WORKDIR"
  exit "$rc"
}
