#!/usr/bin/env bash
# The Canvas Data 2 benchmarks alone (about two minutes), as root on
# Debian 12: builds and installs lms_fdw, starts a throwaway cluster and the
# mock LMS and runs bench/dap_downloads.py and bench/dap_parallel.py (a
# parallel scan).  Not part of the test command.
#   bash bench/run_dap.sh
set -euo pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
cd "$srcdir"
make -s
make -s install >/dev/null

. scripts/lib.sh
make_workdir
trap cleanup EXIT
start_cluster
start_mock "$srcdir"
as_user psql -X -q -c 'CREATE EXTENSION IF NOT EXISTS lms_fdw' >/dev/null
as_user python3 bench/dap_downloads.py --dsn "host=$PGHOST port=$PGPORT dbname=postgres" \
  --mock-port "$MOCK_LMS_PORT"
as_user python3 bench/dap_parallel.py --dsn "host=$PGHOST port=$PGPORT dbname=postgres" \
  --mock-port "$MOCK_LMS_PORT"
