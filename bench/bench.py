#!/usr/bin/env python3
"""lms_fdw streaming benchmark: one run, side by side, ratios printed.

The same grade export (1,000,000 rows by default), as CSV, JSON lines, gzip
CSV and gzip JSON lines, is served by the mock LMS over loopback and read
through lms_fdw; the same CSV is loaded by COPY ... FROM PROGRAM 'curl ...'
and read by file_fdw from a local file.  Each timing is the median of
--reps runs.  The time curl alone takes to fetch each file from the mock is
measured too: no scan of that file can be faster, and a target it makes
impossible is reported so.  Peak backend memory (VmHWM) is compared for a
10,000-row and the large export.  Each target of issue 16 is printed as
"met" or "not met (why)".
Peak memory is also measured for every query shape in a fresh backend
under the default settings (jit on: a plan over jit_above_cost would load
LLVM, ~50 MB).

usage: bench.py --dsn DSN --mock-port PORT --data DIR [--rows N] [--reps 3]
(bench/run.sh sets everything up.)
"""
import argparse
import json
import os
import statistics
import subprocess
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
             for fmt, ext in (("csv", "csv"), ("jsonl", "jsonl"), ("gzip", "csv.gz"),
                              ("jsonl_gz", "jsonl.gz"))}
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
            CREATE FOREIGN TABLE lms_jsonl_gz (%s) SERVER bench_lms OPTIONS (%s, format 'jsonl');
            CREATE SERVER bench_files FOREIGN DATA WRAPPER file_fdw;
            CREATE FOREIGN TABLE file_csv (%s) SERVER bench_files
              OPTIONS (filename '%s', format 'csv', header 'true');
            CREATE TEMP TABLE sink AS SELECT * FROM file_csv WITH NO DATA;
            DROP TABLE IF EXISTS bench_shape_sink;
            CREATE UNLOGGED TABLE bench_shape_sink AS SELECT * FROM file_csv WITH NO DATA;
        """ % (a.mock_port, COLDEFS, GENERIC, COLDEFS, GENERIC, COLDEFS, GENERIC,
               COLDEFS, GENERIC, COLDEFS, files["csv"]))

    queries = {
        "count(*)": "SELECT count(*) FROM %s",
        "sum(current_score)": "SELECT sum(current_score) FROM %s",
        "INSERT ... SELECT *": "INSERT INTO sink SELECT * FROM %s",
    }
    results = {}
    fmts = ("csv", "jsonl", "gzip", "jsonl_gz")
    for fmt in fmts:
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

    # the floor: curl alone fetching each file from the mock
    transfer = {}
    for fmt in fmts:
        mock.serve(files[fmt])
        url = mock.finished_job_url()
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Authorization: Bearer bench", url],
                           check=True)
            times.append(time.perf_counter() - t0)
        transfer[fmt] = statistics.median(times)

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
        return "%7.2f s %9.0f rows/s" % (t, a.rows / t) if t else "%20s" % "failed"

    labels = (("csv", "lms_fdw CSV"), ("jsonl", "lms_fdw JSON lines"),
              ("gzip", "lms_fdw gzip CSV"), ("jsonl_gz", "lms_fdw gzip JSON lines"),
              ("file_fdw", "file_fdw (local CSV)"), ("copy", "COPY FROM PROGRAM curl"))
    print()
    print("lms_fdw streaming benchmark: %d rows (%s), median of %d"
          % (a.rows, ", ".join("%s %.0f MB" % (f, os.path.getsize(files[f]) / 1e6) for f in fmts), a.reps))
    print("%-20s " % "query" + " ".join("%-24s" % l for _, l in labels))
    for qname in queries:
        print("%-20s " % qname + " ".join(
            "%-24s" % (cell((k, qname)) if k != "copy" or qname.startswith("INSERT") else "")
            for k, _ in labels))
    print("%-20s " % "curl alone" + " ".join(
        "%-24s" % ("%7.2f s" % transfer[k] if k in transfer else "") for k, _ in labels))

    def ratio(num, den, target, label, why=None):
        """Print num / den against target; why(ratio) explains a miss."""
        n, d = results.get(num), results.get(den)
        if not n or not d:
            print("  %-56s %s" % (label, "n/a (a query failed)"))
            return
        r = n / d
        if target is None:
            print("  %-56s %5.2fx" % (label, r))
            return
        if r <= target:
            verdict = "met"
        else:
            verdict = "not met (%s)" % (why(r) if why else "slower than the target")
        print("  %-56s %5.2fx  target <= %.2fx: %s" % (label, r, target, verdict))

    def transfer_why(fmt, den):
        """A JSON scan's miss: is it the transfer, or what lms_fdw adds?"""
        def why(r):
            d = results[den]
            floor = transfer[fmt] / d
            return ("curl alone fetches the %.0f MB from the mock in %.2f s, %.2fx the baseline; "
                    "parsing and the rest add %.2f s" % (os.path.getsize(files[fmt]) / 1e6, transfer[fmt],
                                                        floor, r * d - transfer[fmt]))
        return why

    # today's figures (issue 16, measured the same way) for "no worse than today"
    today = {"csv": 0.36, "gzip": 0.55}
    slack = 1.10

    def today_why(fmt):
        def why(r):
            return ("%.0f%% over the issue's %.2fx; its CSV path is unchanged, so rerun on an idle "
                    "machine before concluding" % ((r / today[fmt] - 1) * 100, today[fmt]))
        return why

    print()
    print("ratios (time of lms_fdw / time of the baseline; lower is faster)")
    ratio(("jsonl", "count(*)"), ("file_fdw", "count(*)"), 0.7,
          "count(*) JSON lines vs file_fdw CSV", transfer_why("jsonl", ("file_fdw", "count(*)")))
    ratio(("jsonl_gz", "count(*)"), ("file_fdw", "count(*)"), 1.0,
          "count(*) gzip JSON lines vs file_fdw CSV", transfer_why("jsonl_gz", ("file_fdw", "count(*)")))
    ratio(("jsonl", "sum(current_score)"), ("file_fdw", "sum(current_score)"), None,
          "sum() JSON lines vs file_fdw CSV")
    ratio(("jsonl_gz", "sum(current_score)"), ("file_fdw", "sum(current_score)"), None,
          "sum() gzip JSON lines vs file_fdw CSV")
    ratio(("jsonl", "INSERT ... SELECT *"), ("file_fdw", "INSERT ... SELECT *"), 1.3,
          "INSERT ... SELECT JSON lines vs file_fdw CSV",
          transfer_why("jsonl", ("file_fdw", "INSERT ... SELECT *")))
    ratio(("jsonl_gz", "INSERT ... SELECT *"), ("file_fdw", "INSERT ... SELECT *"), None,
          "INSERT ... SELECT gzip JSON lines vs file_fdw CSV")
    ratio(("jsonl", "INSERT ... SELECT *"), ("copy", "INSERT ... SELECT *"), None,
          "INSERT ... SELECT JSON lines vs COPY FROM PROGRAM curl")
    for fmt, label in (("csv", "CSV"), ("gzip", "gzip CSV")):
        ratio((fmt, "count(*)"), ("file_fdw", "count(*)"), today[fmt] * slack,
              "count(*) %s vs file_fdw (today %.2fx, +10%% noise)" % (label, today[fmt]), today_why(fmt))
        ratio((fmt, "sum(current_score)"), ("file_fdw", "sum(current_score)"), None,
              "sum() %s vs file_fdw" % label)
        ratio((fmt, "INSERT ... SELECT *"), ("file_fdw", "INSERT ... SELECT *"), None,
              "INSERT ... SELECT %s vs file_fdw" % label)
    def copy_why(r):
        """A CSV insert's miss against COPY: the scan, or the executor's inserts?"""
        copy = results[("copy", "INSERT ... SELECT *")]
        scan = results[("csv", "count(*)")]
        return ("the scan itself (count(*)) takes %.2f s of the %.2f s; the other %.2f s are the "
                "executor's row-by-row inserts and the 21 input functions, where COPY batches its "
                "inserts and its curl runs in a process of its own" % (scan, r * copy, r * copy - scan))
    ratio(("csv", "INSERT ... SELECT *"), ("copy", "INSERT ... SELECT *"), 1.0,
          "INSERT ... SELECT CSV vs COPY FROM PROGRAM curl", copy_why)
    print("  %-56s %s" % ("8-object export, 2 parallel workers vs none",
                          "measured by bench/dap_parallel.py (run next by run.sh)"))
    growth = (mem["large"] - mem["small"]) / 1024.0
    print("  %-56s %5.1f MB (%d rows: %.1f MB, %d rows: %.1f MB; target < 16 MB: %s)" % (
        "peak backend memory growth", growth, a.small_rows, mem["small"] / 1024.0, a.rows,
        mem["large"] / 1024.0, "met" if growth < 16 else "not met"))

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
