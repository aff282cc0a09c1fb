#!/usr/bin/env python3
"""lms_fdw streaming benchmark: one run, side by side, ratios printed.

The same 1,000,000-row grade export, as CSV, JSON lines and gzip CSV, is
served by the mock LMS over loopback and read through lms_fdw; the same
CSV is loaded by COPY ... FROM PROGRAM 'curl ...' and read by file_fdw from
a local file.  Each timing is the median of --reps runs.  Peak backend
memory (VmHWM) is compared for a 10,000-row and the 1,000,000-row export,
and measured for every query shape in a fresh backend under the default
settings (jit on: a plan over jit_above_cost would load LLVM, ~50 MB).

usage: bench.py --dsn DSN --mock-port PORT --data DIR [--rows N] [--reps 3]
(bench/run.sh sets everything up.)
"""
import argparse
import json
import os
import statistics
import time
import urllib.request

import psycopg2

COLUMNS = [
    ("student name", "text"), ("student id", "bigint"), ("student sis", "text"),
    ("course", "text"), ("course id", "bigint"), ("course sis", "text"),
    ("section", "text"), ("section id", "bigint"), ("section sis", "text"),
    ("term", "text"), ("term id", "bigint"), ("term sis", "text"),
    ("current score", "numeric"), ("final score", "numeric"),
    ("enrollment state", "text"), ("unposted current score", "numeric"),
    ("unposted final score", "numeric"), ("current grade", "text"),
    ("final grade", "text"), ("unposted current grade", "text"),
    ("unposted final grade", "text"),
]
COLDEFS = ", ".join("%s %s" % (n.replace(" ", "_"), t) for n, t in COLUMNS)
GENERIC = ("start_path '/generic/exports', status_path '/generic/exports/{id}', "
           "job_id_path 'data.id', state_path 'data.state', "
           "result_url_path 'data.result.url'")


class Mock:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def call(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"null")

    def serve(self, path):
        self.call("POST", "/__mock/reset")
        self.call("POST", "/__mock/scenario", {"body_file": path, "chunk_size": 262144})

    def finished_job_url(self):
        """A finished generic job's file URL (for the COPY baseline)."""
        job = self.call("POST", "/generic/exports", {}, token="bench")["data"]["id"]
        while True:
            doc = self.call("GET", "/generic/exports/%s" % job, token="bench")["data"]
            if doc["state"] == "done":
                return doc["result"]["url"]
            time.sleep(0.01)


def timed(conn, sql, reps, before=None):
    times = []
    with conn.cursor() as cur:
        for _ in range(reps):
            if before:
                cur.execute(before)
            t0 = time.perf_counter()
            cur.execute(sql)
            if cur.description:
                cur.fetchall()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def status_kb(pid, *keys):
    out = dict.fromkeys(keys, 0)
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k = line.split(":", 1)[0]
            if k in out:
                out[k] = int(line.split()[1])
    return out


def run_in_backend(conn, sql, *keys):
    """Run sql in conn's backend; then the /proc status figures (kB) asked."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        cur.execute(sql)
        if cur.description:
            cur.fetchall()
    return status_kb(pid, *keys)


def vmhwm_kb(conn, sql):
    """Peak resident memory of a fresh backend after running sql."""
    return run_in_backend(conn, sql, "VmHWM")["VmHWM"]


def own_peak_kb(conn, sql):
    """A fresh backend's peak resident memory less the shared memory it
    touched, and its VmHWM.  VmHWM counts the shared buffers the backend
    touched, which an INSERT of a large export fills (shared_buffers, not
    the scan's memory); those pages stay mapped, so RssShmem at the end is
    their share of the peak."""
    st = run_in_backend(conn, sql, "VmHWM", "RssShmem")
    return st["VmHWM"] - st["RssShmem"], st["VmHWM"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--small-rows", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()

    mock = Mock(a.mock_port)
    files = {fmt: os.path.join(a.data, "grades_%d.%s" % (a.rows, ext))
             for fmt, ext in (("csv", "csv"), ("jsonl", "jsonl"), ("gzip", "csv.gz"))}
    small_csv = os.path.join(a.data, "grades_%d.csv" % a.small_rows)

    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("""
            DROP EXTENSION IF EXISTS lms_fdw CASCADE;
            DROP EXTENSION IF EXISTS file_fdw CASCADE;
            CREATE EXTENSION lms_fdw;
            CREATE EXTENSION file_fdw;
            CREATE SERVER bench_lms FOREIGN DATA WRAPPER lms_fdw
              OPTIONS (provider 'generic', base_url 'http://127.0.0.1:%d',
                       poll_initial '10ms', poll_max '50ms');
            CREATE USER MAPPING FOR CURRENT_USER SERVER bench_lms OPTIONS (token 'bench');
            CREATE FOREIGN TABLE lms_csv (%s) SERVER bench_lms OPTIONS (%s, format 'csv');
            CREATE FOREIGN TABLE lms_jsonl (%s) SERVER bench_lms OPTIONS (%s, format 'jsonl');
            CREATE FOREIGN TABLE lms_gzip (%s) SERVER bench_lms OPTIONS (%s, format 'csv');
            CREATE SERVER bench_files FOREIGN DATA WRAPPER file_fdw;
            CREATE FOREIGN TABLE file_csv (%s) SERVER bench_files
              OPTIONS (filename '%s', format 'csv', header 'true');
            CREATE TEMP TABLE sink AS SELECT * FROM file_csv WITH NO DATA;
            DROP TABLE IF EXISTS bench_shape_sink;
            CREATE UNLOGGED TABLE bench_shape_sink AS SELECT * FROM file_csv WITH NO DATA;
        """ % (a.mock_port, COLDEFS, GENERIC, COLDEFS, GENERIC, COLDEFS, GENERIC,
               COLDEFS, files["csv"]))

    queries = {
        "count(*)": "SELECT count(*) FROM %s",
        "sum(current_score)": "SELECT sum(current_score) FROM %s",
        "INSERT ... SELECT *": "INSERT INTO sink SELECT * FROM %s",
    }
    results = {}
    for fmt in ("csv", "jsonl", "gzip"):
        mock.serve(files[fmt])
        for qname, q in queries.items():
            try:
                results[(fmt, qname)] = timed(conn, q % ("lms_" + fmt), a.reps,
                                              before="TRUNCATE sink")
            except psycopg2.Error as e:
                results[(fmt, qname)] = None
                print("lms_fdw %s %s failed: %s" % (fmt, qname, str(e).strip()))
    for qname, q in queries.items():
        results[("file_fdw", qname)] = timed(conn, q % "file_csv", a.reps, before="TRUNCATE sink")
    mock.serve(files["csv"])
    url = mock.finished_job_url()
    results[("copy", "INSERT ... SELECT *")] = timed(
        conn, "COPY sink FROM PROGRAM 'curl -s -H \"Authorization: Bearer bench\" %s' "
              "WITH (FORMAT csv, HEADER true)" % url, a.reps, before="TRUNCATE sink")

    # peak memory of a fresh backend, small export vs large
    mem = {}
    for label, path in (("small", small_csv), ("large", files["csv"])):
        mock.serve(path)
        c = psycopg2.connect(a.dsn)
        mem[label] = vmhwm_kb(c, "SELECT sum(current_score), max(student_name), "
                                 "count(unposted_final_grade) FROM lms_csv")
        c.close()

    # peak memory of a fresh backend per query shape (one run each)
    shape_mem = {}
    for fmt in ("csv", "jsonl", "gzip"):
        mock.serve(files[fmt])
        for qname, q in queries.items():
            # a fresh backend does not see the temp table: an unlogged one
            q = q.replace("INTO sink", "INTO bench_shape_sink")
            with conn.cursor() as cur:
                cur.execute("TRUNCATE bench_shape_sink")
            c = psycopg2.connect(a.dsn)
            c.autocommit = True
            try:
                shape_mem[(fmt, qname)] = own_peak_kb(c, q % ("lms_" + fmt))
            except psycopg2.Error as e:
                print("lms_fdw %s %s failed: %s" % (fmt, qname, str(e).strip()))
            c.close()
    with conn.cursor() as cur:
        cur.execute("DROP TABLE bench_shape_sink")
    conn.close()

    def cell(key):
        t = results.get(key)
        return "%8.2f s %10.0f rows/s" % (t, a.rows / t) if t else "%21s" % "failed"

    print()
    print("lms_fdw streaming benchmark: %d rows (CSV %.0f MB, JSON lines %.0f MB, gzip CSV %.0f MB), median of %d"
          % (a.rows, os.path.getsize(files["csv"]) / 1e6, os.path.getsize(files["jsonl"]) / 1e6,
             os.path.getsize(files["gzip"]) / 1e6, a.reps))
    print("%-22s %-24s %-24s %-24s %-24s %-24s" % ("query", "lms_fdw CSV", "lms_fdw JSON lines",
                                                   "lms_fdw gzip CSV", "file_fdw (local CSV)",
                                                   "COPY FROM PROGRAM curl"))
    for qname in queries:
        print("%-22s %-24s %-24s %-24s %-24s %-24s" % (
            qname, cell(("csv", qname)), cell(("jsonl", qname)), cell(("gzip", qname)),
            cell(("file_fdw", qname)), cell(("copy", qname)) if qname.startswith("INSERT") else ""))

    def ratio(num, den, target, label):
        n, d = results.get(num), results.get(den)
        if not n or not d:
            print("  %-52s %s" % (label, "n/a"))
            return
        r = n / d
        print("  %-52s %5.2fx  (target <= %.1fx: %s)" % (label, r, target, "met" if r <= target else "NOT met"))

    print()
    print("ratios (time of lms_fdw / time of the baseline; lower is faster)")
    ratio(("csv", "count(*)"), ("file_fdw", "count(*)"), 0.9, "count(*) CSV vs file_fdw")
    ratio(("jsonl", "count(*)"), ("file_fdw", "count(*)"), 1.5, "count(*) JSON lines vs file_fdw")
    ratio(("gzip", "count(*)"), ("file_fdw", "count(*)"), 1.3, "count(*) gzip CSV vs file_fdw")
    ratio(("csv", "sum(current_score)"), ("file_fdw", "sum(current_score)"), 1.0,
          "sum(current_score) CSV vs file_fdw")
    ratio(("csv", "INSERT ... SELECT *"), ("copy", "INSERT ... SELECT *"), 1.0,
          "INSERT ... SELECT * CSV vs COPY FROM PROGRAM curl")
    growth = (mem["large"] - mem["small"]) / 1024.0
    print("  %-52s %5.1f MB (%d rows: %.1f MB, %d rows: %.1f MB; target < 16 MB: %s)" % (
        "peak backend memory growth", growth, a.small_rows, mem["small"] / 1024.0, a.rows,
        mem["large"] / 1024.0, "met" if growth < 16 else "NOT met"))

    print()
    print("peak backend memory per query shape, fresh backend, default settings (jit on)")
    print("  own = VmHWM less the shared buffers touched (RssShmem) (target <= 30 MB)")
    for fmt in ("csv", "jsonl", "gzip"):
        for qname in queries:
            m = shape_mem.get((fmt, qname))
            if m is None:
                print("  %-6s %-22s %s" % (fmt, qname, "n/a"))
                continue
            own, hwm = m[0] / 1024.0, m[1] / 1024.0
            print("  %-6s %-22s own %6.1f MB  %-8s (VmHWM %6.1f MB)" % (
                fmt, qname, own, "met" if own <= 30 else "NOT met", hwm))


if __name__ == "__main__":
    main()
