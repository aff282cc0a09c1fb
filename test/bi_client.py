#!/usr/bin/env python3
"""A BI-style client of lms_fdw through a real PostgreSQL driver (psycopg2).

    python3 test/bi_client.py "host=/tmp/sock port=5432 dbname=postgres"

Expects the table "grades" of t/LmsTest.pm over a mock export of 5000 rows.
It (a) reads two batches of 50 rows through named server-side cursors, one
ordered by student_id and one in file order; (b) runs a parameterized count
(client-side interpolation) and a server-side PREPARE/EXECUTE with a bound
bigint parameter, six times under the default plan cache mode (custom plans,
then possibly a generic one) and once more with a forced generic plan;
(c) checks the backend still answers.  Prints one JSON line with what it saw
(counts, plan kinds, and the lms_fdw_jobs() rows of this session) and exits
non-zero on any mismatch.
"""
import json
import sys
from decimal import Decimal

import psycopg2

EXPORT_ROWS = 5000
COLUMNS = ["student_id", "student_name", "course_id", "term_id",
           "current_score", "final_score", "enrollment_state", "job"]


def expected_row(i):
    """The columns of the mock's data row i (1-based) that are simple to derive."""
    cur = None if i % 10 == 0 else Decimal((37 * i) % 1000) / 10
    return {"student_id": 1000 + i, "course_id": 100 + i % 5, "current_score": cur}


def last_job(cur):
    cur.execute("SELECT job_id, state, rows, bytes FROM lms_fdw_jobs() "
                "ORDER BY started DESC LIMIT 1")
    r = cur.fetchone()
    return {"job_id": r[0], "state": r[1], "rows": r[2], "bytes": r[3]}


def read_two_batches(conn, name, sql, errors):
    """Two FETCH FORWARD 50 from a named cursor; the rows' student numbers."""
    cur = conn.cursor(name=name)
    cur.itersize = 50
    cur.execute(sql)
    batches = [cur.fetchmany(50), cur.fetchmany(50)]
    names = [d[0] for d in cur.description]
    if names != COLUMNS:
        errors.append("%s: columns %r" % (name, names))
    cur.close()
    conn.commit()
    rows = [dict(zip(COLUMNS, r)) for b in batches for r in b]
    if [len(b) for b in batches] != [50, 50]:
        errors.append("%s: batch sizes %r" % (name, [len(b) for b in batches]))
    for n, row in enumerate(rows, start=1):
        want = expected_row(n)
        got = {k: row[k] for k in want}
        if got != want:
            errors.append("%s: row %d is %r, expected %r" % (name, n, got, want))
            break
    with conn.cursor() as c:
        job = last_job(c)
    conn.commit()
    return {"batches": [len(b) for b in batches],
            "first": rows[0]["student_id"] if rows else None,
            "last": rows[-1]["student_id"] if rows else None,
            "job": job}


def main():
    if len(sys.argv) != 2:
        print("usage: bi_client.py CONNSTR", file=sys.stderr)
        return 2
    errors = []
    out = {}
    conn = psycopg2.connect(sys.argv[1], application_name="bi_client")

    # (a) named server-side cursors: ordered (a Sort reads the whole export
    # before the first row) and in file order (the scan stops where the
    # fetches stop)
    out["cursor_ordered"] = read_two_batches(
        conn, "bi_grades_ordered", "SELECT * FROM grades ORDER BY student_id", errors)
    out["cursor_stream"] = read_two_batches(
        conn, "bi_grades_stream", "SELECT * FROM grades", errors)

    cur = conn.cursor()
    # (b) a parameterized query (psycopg2 interpolates it client-side)
    cur.execute("SELECT count(*), sum(current_score) FROM grades WHERE term_id = %s", (7,))
    count, total = cur.fetchone()
    out["param_query"] = {"count": count, "sum": str(total), "job": last_job(cur)}
    conn.commit()

    # ... and a bound parameter on the server: PREPARE / EXECUTE
    cur.execute("PREPARE q(bigint) AS SELECT count(*) FROM grades WHERE term_id = $1")
    executions = []
    for n in range(1, 8):
        if n == 7:
            # whatever the plan cache chose for the 6th, make one generic
            cur.execute("SET plan_cache_mode = force_generic_plan")
        cur.execute("EXECUTE q(7)")
        (c,) = cur.fetchone()
        cur.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE name = 'q'")
        generic, custom = cur.fetchone()
        job = last_job(cur)
        executions.append({"n": n, "count": c, "generic_plans": generic,
                           "custom_plans": custom, "job_id": job["job_id"],
                           "job_state": job["state"]})
        conn.commit()
    cur.execute("RESET plan_cache_mode")
    cur.execute("EXPLAIN (COSTS OFF) EXECUTE q(7)")
    out["explain_execute"] = [r[0] for r in cur.fetchall()]
    cur.execute("DEALLOCATE q")
    conn.commit()
    out["executions"] = executions
    prev = None
    for e in executions:
        if e["count"] != count:
            errors.append("EXECUTE %d counted %r, the query %r" % (e["n"], e["count"], count))
        if e["job_state"] != "complete":
            errors.append("EXECUTE %d: job state %r" % (e["n"], e["job_state"]))
        if e["job_id"] == prev:
            errors.append("EXECUTE %d started no job of its own" % e["n"])
        prev = e["job_id"]
    if executions[-1]["generic_plans"] < 1:
        errors.append("the forced generic EXECUTE did not use a generic plan")

    # (c) the backend is healthy afterwards
    cur.execute("SELECT 1")
    out["healthy"] = cur.fetchone()[0] == 1
    if not out["healthy"]:
        errors.append("SELECT 1 failed")
    cur.execute("SELECT job_id, state, rows, bytes FROM lms_fdw_jobs() ORDER BY started")
    out["jobs"] = [{"job_id": r[0], "state": r[1], "rows": r[2], "bytes": r[3]}
                   for r in cur.fetchall()]
    conn.commit()
    conn.close()

    if out["cursor_ordered"]["job"]["rows"] is None:
        errors.append("no job recorded for the ordered cursor")
    if count != EXPORT_ROWS:
        errors.append("the parameterized count is %r, expected %d" % (count, EXPORT_ROWS))
    out["errors"] = errors
    print(json.dumps(out, sort_keys=True))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
