#!/usr/bin/env python3
"""Parallel foreign scan of a Canvas Data 2 export: one export of 8 gzip
JSON lines objects, read side by side in one run by a serial scan and by a
Gather with 2 workers (each participant parses the objects it claims);
prints both wall times, their ratio and whether it meets the target
(>= 1.6x with 2 workers on a 2-core machine).

The job is run once and then reused (reuse_window), and the mock keeps each
object's bytes once generated (dap_cache_objects), so the timed scans
measure download, gunzip and parsing, not the mock's Python.

Two parallel runs: the leader reads objects too (parallel_leader_participation
on, the default: three processes share two cores) and the leader only
gathers (off: one core per worker).

usage: dap_parallel.py --dsn DSN --mock-port PORT [--rows 2000000] [--rounds 3]
"""
import argparse
import statistics
import time

import psycopg2

from dap_downloads import mock

TARGET = 1.6


SERIAL = "SET max_parallel_workers_per_gather = 0"
PARALLEL = ("SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; "
            "SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0")
# the leader reading objects too (3 processes on 2 cores), or only gathering
NO_LEADER = PARALLEL + "; SET parallel_leader_participation = off"
RUNS = (("serial", SERIAL), ("2 workers", PARALLEL + "; SET parallel_leader_participation = on"),
        ("2 workers, leader gathers only", NO_LEADER))
# partial aggregates: each participant aggregates its own rows
QUERY = "SELECT count(*), sum(id), sum(score), max(ts), count(action) FROM bench_dap_par"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--rows", type=int, default=2000000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()

    mock(a.mock_port, "/__mock/reset", {})
    mock(a.mock_port, "/__mock/scenario", {"rows": a.rows, "objects": 8,
                                           "dap_cache_objects": True})
    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("""
        DROP SERVER IF EXISTS bench_dap_par CASCADE;
        CREATE SERVER bench_dap_par FOREIGN DATA WRAPPER lms_fdw
          OPTIONS (provider 'canvas_dap', base_url 'http://127.0.0.1:%d',
                   poll_initial '50ms', poll_max '200ms', reuse_window '1h');
        CREATE USER MAPPING FOR CURRENT_USER SERVER bench_dap_par
          OPTIONS (client_id 'bench', client_secret 'bench');
        CREATE FOREIGN TABLE bench_dap_par (id bigint OPTIONS (field 'key.id'),
          score float8 OPTIONS (field 'value.score'),
          action text OPTIONS (field 'meta.action'), ts text OPTIONS (field 'meta.ts'))
          SERVER bench_dap_par OPTIONS (resource 'submissions');
    """ % a.mock_port)
    # the export, once: the job runs and every object's bytes are made
    cur.execute(SERIAL)
    cur.execute(QUERY)
    expected = cur.fetchone()
    assert expected[0] == a.rows and expected[1] == a.rows * (a.rows + 1) // 2, expected

    cur.execute(PARALLEL)
    cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + QUERY)
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Parallel Foreign Scan" in plan and "Workers Launched: 2" in plan, plan

    times = {name: [] for name, _ in RUNS}
    for _ in range(a.rounds):
        for name, settings in RUNS:
            cur.execute(settings)
            t0 = time.perf_counter()
            cur.execute(QUERY)
            got = cur.fetchone()
            times[name].append(time.perf_counter() - t0)
            # the float sum may differ in its last bits with the order of the rows
            assert got[:2] == expected[:2] and got[3:] == expected[3:] and \
                abs(got[2] - expected[2]) <= 1e-9 * abs(expected[2]), (name, got, expected)
    starts = [e for e in mock(a.mock_port, "/__mock/requests", method="GET")
              if e["path"].endswith("/data")]
    cur.execute("DROP SERVER bench_dap_par CASCADE")

    print()
    print("Canvas Data 2 parallel scan: 8 gzip JSON lines objects, %d rows, %d round(s), "
          "%d job start(s)" % (a.rows, a.rounds, len(starts)))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, _ in RUNS:
        print("  %-31s %6.2f s (median; %s)" % (k, med[k], ", ".join("%.2f" % t for t in times[k])))
    for k, _ in RUNS[1:]:
        ratio = med["serial"] / med[k]
        print("  speed-up with %s: %.2fx (target >= %.1fx: %s)"
              % (k, ratio, TARGET, "met" if ratio >= TARGET else "not met"))


if __name__ == "__main__":
    main()
