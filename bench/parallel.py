#!/usr/bin/env python3
"""Many exports in one query: 8 courses (terms) whose jobs each take 5 s at
the LMS, read with max_parallel_jobs 8 and with max_parallel_jobs 1; prints
both wall times and their ratio.

usage: parallel.py --dsn DSN --mock-port PORT [--jobs 8] [--seconds 5]
"""
import argparse
import json
import time
import urllib.request

import psycopg2


def mock(port, path, body):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    urllib.request.urlopen(req).read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()

    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("""
        DROP SERVER IF EXISTS bench_parallel CASCADE;
        CREATE SERVER bench_parallel FOREIGN DATA WRAPPER lms_fdw
          OPTIONS (provider 'canvas', base_url 'http://127.0.0.1:%d');
        CREATE USER MAPPING FOR CURRENT_USER SERVER bench_parallel OPTIONS (token 'bench');
        CREATE FOREIGN TABLE bench_courses (student_id bigint,
          term_id bigint OPTIONS (param 'enrollment_term_id'), current_score numeric)
          SERVER bench_parallel OPTIONS (resource 'grade_export_csv');
    """ % a.mock_port)
    terms = ", ".join(str(i) for i in range(1, a.jobs + 1))
    query = "SELECT count(*) FROM bench_courses WHERE term_id IN (%s)" % terms
    times = {}
    for parallel in (a.jobs, 1):
        mock(a.mock_port, "/__mock/reset", {})
        mock(a.mock_port, "/__mock/scenario", {"duration_s": a.seconds, "rows": 1000})
        cur.execute("ALTER SERVER bench_parallel OPTIONS (%s max_parallel_jobs '%d')"
                    % ("SET" if parallel == 1 else "ADD", parallel))
        t0 = time.perf_counter()
        cur.execute(query)
        rows = cur.fetchone()[0]
        times[parallel] = time.perf_counter() - t0
        assert rows == a.jobs * 1000, rows
    cur.execute("DROP SERVER bench_parallel CASCADE")
    print()
    print("many exports in one query: %d jobs of %.0f s each (IN list on a param column)"
          % (a.jobs, a.seconds))
    print("  max_parallel_jobs %d: %6.2f s" % (a.jobs, times[a.jobs]))
    print("  max_parallel_jobs 1: %6.2f s" % times[1])
    ratio = times[1] / times[a.jobs]
    print("  speed-up %.1fx (target >= 6x: %s)" % (ratio, "met" if ratio >= 6 else "NOT met"))


if __name__ == "__main__":
    main()
