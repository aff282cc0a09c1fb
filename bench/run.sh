#!/usr/bin/env bash
# The streaming benchmark, as root on Debian 12: builds and installs
# lms_fdw, starts a throwaway cluster and the mock LMS, generates the
# exports and runs bench/bench.py, bench/parallel.py, bench/dap_downloads.py,
# bench/dap_parallel.py and the JSON lines
# parsers' micro-benchmark.  Not part of the test command.
#   bash bench/run.sh [ROWS]
set -euo pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
cd "$srcdir"
rows=${1:-1000000}

bash scripts/install-deps
make -s
make -s install >/dev/null

. scripts/lib.sh
make_workdir
trap cleanup EXIT
start_cluster
as_user psql -X -q -c "ALTER SYSTEM SET work_mem = '64MB'" -c 'SELECT pg_reload_conf()' >/dev/null
start_mock "$srcdir"

echo "generating the exports ($rows rows)..."
as_user python3 bench/gen_export.py "$rows" "$WORKDIR/data" >/dev/null
as_user python3 bench/gen_export.py 10000 "$WORKDIR/data" >/dev/null
as_user python3 bench/bench.py --dsn "host=$PGHOST port=$PGPORT dbname=postgres" \
  --mock-port "$MOCK_LMS_PORT" --data "$WORKDIR/data" --rows "$rows"
as_user python3 bench/parallel.py --dsn "host=$PGHOST port=$PGPORT dbname=postgres" \
  --mock-port "$MOCK_LMS_PORT"
as_user python3 bench/dap_downloads.py --dsn "host=$PGHOST port=$PGPORT dbname=postgres" \
  --mock-port "$MOCK_LMS_PORT"
as_user python3 bench/dap_parallel.py --dsn "host=$PGHOST port=$PGPORT dbname=postgres" \
  --mock-port "$MOCK_LMS_PORT"
make -s -C bench json_lines_micro
echo
bench/json_lines_micro "$WORKDIR/data/grades_$rows.jsonl" 3
