#!/usr/bin/env python3
"""Canvas Data 2 objects downloaded concurrently: one export of 8 gzip
objects from storage capped per connection (as one S3 stream often is),
read with max_parallel_downloads 4 and with max_parallel_downloads 1 in the
same run; prints both wall times and their ratio (target >= 3x).

usage: dap_downloads.py --dsn DSN --mock-port PORT [--objects 8] [--rows 80000]
                        [--bps 150000]
"""
import argparse
import json
import time
import urllib.request

import psycopg2


def mock(port, path, body=None, method="POST"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=None if body is None else json.dumps(body).encode(),
                                 method=method)
    req.add_header("Content-Type", "application/json")
    return json.loads(urllib.request.urlopen(req).read() or b"null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--rows", type=int, default=80000)
    ap.add_argument("--bps", type=int, default=150000, help="storage bytes/s per connection")
    a = ap.parse_args()

    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("""
        DROP SERVER IF EXISTS bench_dap CASCADE;
        CREATE SERVER bench_dap FOREIGN DATA WRAPPER lms_fdw
          OPTIONS (provider 'canvas_dap', base_url 'http://127.0.0.1:%d',
                   poll_initial '50ms', poll_max '200ms');
        CREATE USER MAPPING FOR CURRENT_USER SERVER bench_dap
          OPTIONS (client_id 'bench', client_secret 'bench');
        CREATE FOREIGN TABLE bench_dap_submissions (id bigint OPTIONS (field 'key.id'),
          score float8 OPTIONS (field 'value.score'))
          SERVER bench_dap OPTIONS (resource 'submissions');
    """ % a.mock_port)
    times, sizes = {}, {}
    for parallel in (4, 1):
        mock(a.mock_port, "/__mock/reset", {})
        mock(a.mock_port, "/__mock/scenario", {"rows": a.rows, "objects": a.objects,
                                               "dap_storage_bps": a.bps})
        cur.execute("ALTER SERVER bench_dap OPTIONS (%s max_parallel_downloads '%d')"
                    % ("SET" if parallel == 1 else "ADD", parallel))
        t0 = time.perf_counter()
        cur.execute("SELECT count(*), count(DISTINCT id) FROM bench_dap_submissions")
        rows, distinct = cur.fetchone()
        times[parallel] = time.perf_counter() - t0
        assert rows == distinct == a.rows, (rows, distinct)
        log = mock(a.mock_port, "/__mock/requests", method="GET")
        got = [e for e in log if e["listener"] == "storage"]
        assert len(got) == a.objects, len(got)
        # the most downloads that were under way at once, from the request log
        sizes[parallel] = max(sum(1 for o in got if o["seq"] <= g.get("done_after", 0) and o["seq"] >= g["seq"])
                              for g in got)
    cur.execute("DROP SERVER bench_dap CASCADE")
    print()
    print("Canvas Data 2: %d objects, %d rows, storage capped at %d kB/s per connection"
          % (a.objects, a.rows, a.bps // 1000))
    for p in (4, 1):
        print("  max_parallel_downloads %d: %6.2f s (at most %d downloads under way at once)"
              % (p, times[p], sizes[p]))
    ratio = times[1] / times[4]
    print("  speed-up %.1fx (target >= 3x: %s)" % (ratio, "met" if ratio >= 3 else "NOT met"))


if __name__ == "__main__":
    main()
