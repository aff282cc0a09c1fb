#!/usr/bin/env python3
"""Mock LMS HTTP server for the lms_fdw tests (python3 standard library only).

Route families (one section each below):
  * Canvas Account Reports, Progress + gradebook CSV, file download -> storage
  * a generic asynchronous export-job API
  * Canvas Data 2 (DAP) query/job/object API
  * Brightspace Data Export (+ Brightspace Data Sets)
  * control API under /__mock/ (scenario, faults, request log, jobs)

The scenario/fault/request-log layer and the streaming body writer are shared
by every family.  See README.md next to this file for the control API.
"""

import argparse
import base64
import copy
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JSON_CT = "application/json; charset=utf-8"
TEXT_CT = "text/plain; charset=utf-8"
SIGN_KEY = b"mock-lms-signing-key"

# ---------------------------------------------------------------------------
# Scenario
# ---------------------------------------------------------------------------

DEFAULT_SCENARIO = {
    # job scripting (snapshotted into each job at creation)
    "rows": 25,
    "statuses": ["created", "running", "running", "complete"],
    "duration_s": None,
    "error_message": None,
    "format": "csv",
    "header": True,
    "gzip": False,
    "gzip_header": True,
    "zip": False,
    "crlf": False,
    "bom": False,
    "body_file": None,
    # request level (read live on every request)
    "faults": [],
    "require_token": None,
    "throttle": "off",
    "bucket": {"hwm": 600, "max": 800, "outflow": 10, "up_front": 50, "cost": 1.0, "hold_s": 0.0},
    "reject_start": None,
    "generic_redirect": False,
    "direct": False,
    "storage_ttl_s": None,
    # Canvas: verifier of attachment URLs accepted, Link base override, courses
    "canvas_verifier": True,
    "canvas_attachment": True,
    "link_base": None,
    "course_rows": None,
    "assignments": 3,
    "canvas_terms": [{"id": 1, "name": "Fall 2026", "periods": ["Quarter 1", "Quarter 2"]},
                     {"id": 2, "name": "Spring 2027", "periods": ["Quarter 3", "Quarter 4"]}],
    # body transport (read live when a body is served)
    "chunk_size": 8192,
    "chunk_delay_ms": 0,
    "truncate_at": None,
    "truncate_mode": "chunked",
    "stall_after": None,
    "stall_s": 0,
    # phase 2: Canvas Data 2 and Brightspace
    "token_ttl_s": 3600,
    "client_id": None,
    "client_secret": None,
    "objects": 2,
    "schema_version": 3,
    "job_schema_version": None,
    "dap_limits": None,         # {"create": 5, ...} or "real" (DAP_REAL_LIMITS)
    "dap_limit_window_s": 60,   # the limits' window (a minute at DAP)
    "dap_url_ttl_s": 900,       # presigned object URLs' lifetime (~15 minutes at DAP)
    "dap_storage_bps": None,    # bytes per second per storage connection
    "dap_cache_objects": False,  # benchmarks: keep each object's gzip bytes once made
    "dap_clock_skew_s": 0,      # the DAP server's clock minus the mock's (JWT iat/exp)
    "dap_extra_columns": None,  # {"table": [[name, type, nullable], ...]}: a newer schema
    "d2l_bucket": {"limit": 50000, "cost": 10, "window_s": 60},
    "d2l_access_ttl_s": 3600,       # lifetime of Brightspace access tokens (may be fractional)
    "d2l_lp_versions": None,        # LP versions the site offers (None: 1.0 .. 1.49)
    "bds_page_size": None,          # cap on pageSize of /dataExport/bds (None: as asked)
}

# keys copied into a job when it is created
JOB_KEYS = ("rows", "statuses", "duration_s", "error_message", "format", "header",
            "gzip", "gzip_header", "zip", "crlf", "bom", "body_file", "objects",
            "schema_version", "job_schema_version", "canvas_terms")

FORMATS = ("csv", "jsonl", "json", "json_nested", "tsv")


def merge_scenario(cur, upd):
    """Shallow merge; dict-valued defaults (bucket, d2l_bucket) merge one level."""
    out = copy.deepcopy(cur)
    for k, v in upd.items():
        if k not in DEFAULT_SCENARIO:
            raise ValueError("unknown scenario key %r" % k)
        if isinstance(DEFAULT_SCENARIO[k], dict) and isinstance(v, dict):
            merged = dict(out.get(k) or DEFAULT_SCENARIO[k])
            merged.update(v)
            out[k] = merged
        else:
            out[k] = copy.deepcopy(v)
    if not isinstance(out["statuses"], list) or not out["statuses"]:
        raise ValueError("statuses must be a non-empty list")
    if not isinstance(out["faults"], list):
        raise ValueError("faults must be a list")
    if out["format"] not in FORMATS:
        raise ValueError("format must be one of %s" % ", ".join(FORMATS))
    if out["throttle"] not in ("off", "legacy", "modern"):
        raise ValueError("throttle must be off, legacy or modern")
    if out["body_file"] is not None and not (os.path.isabs(out["body_file"]) and os.path.isfile(out["body_file"])):
        raise ValueError("body_file must be the absolute path of a readable file")
    if out["truncate_mode"] not in ("chunked", "length"):
        raise ValueError("truncate_mode must be chunked or length")
    return out


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(*parts):
    msg = "|".join(str(p) for p in parts).encode()
    return hmac.new(SIGN_KEY, msg, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------
# Job status scripting (shared by every family)
# ---------------------------------------------------------------------------

# canonical states: created, running, compiling, complete, error, aborted, deleted, canceled
CANON = {
    "created": "created", "queued": "created", "waiting": "created", "pending": "created",
    "running": "running", "processing": "running",
    "compiling": "compiling",
    "complete": "complete", "completed": "complete", "done": "complete",
    "error": "error", "failed": "error",
    "aborted": "aborted", "deleted": "deleted", "canceled": "canceled", "cancelled": "canceled",
}
TERMINAL = ("complete", "error", "aborted", "deleted", "canceled")


class Job:
    def __init__(self, kind, jid, params, scen):
        self.kind = kind
        self.id = jid
        self.params = params
        self.scen = {k: copy.deepcopy(scen[k]) for k in JOB_KEYS}
        self.created = time.time()
        self.polls = 0
        self.running_polls = 0
        self.state = "created"      # canonical state, last reported (or initial)
        self.raw = "created"        # raw status string when not a known one
        self.progress = 0
        self.override = None        # aborted / deleted / canceled, set by the client
        self.message = None
        self.flags = {"cancel": False, "abort": False, "delete": False}
        self.started_at = None
        self.ended_at = None
        self.extra = {}             # per-family data (file ids, object ids, ...)
        self._size = None
        self._init_from(self._elem(0))

    # -- sequence handling --------------------------------------------------
    def _elem(self, idx):
        seq = self.scen["statuses"]
        e = seq[min(idx, len(seq) - 1)]
        if isinstance(e, dict):
            return str(e.get("status", "running")), e.get("progress"), e.get("message")
        return str(e), None, None

    def _init_from(self, elem):
        raw, prog, _ = elem
        self.raw = raw
        self.state = CANON.get(raw, raw)
        self.progress = prog if prog is not None else (100 if self.state == "complete" else 0)
        if self.state in ("running", "compiling") and self.started_at is None:
            self.started_at = self.created

    def _apply(self, raw, prog, msg, now):
        state = CANON.get(raw, raw)
        if state in ("running", "compiling"):
            if state == "running":
                self.running_polls += 1
            if prog is None:
                prog = min(99, 30 * max(1, self.running_polls)) if state == "running" else 99
            if self.started_at is None:
                self.started_at = now
        elif state == "complete":
            prog = 100 if prog is None else prog
            self.started_at = self.started_at or now
            self.ended_at = self.ended_at or now
        elif state == "created":
            prog = 0 if prog is None else prog
        else:
            prog = self.progress if prog is None else prog
            if state in TERMINAL:
                self.ended_at = self.ended_at or now
        if msg is not None:
            self.message = msg
        self.raw, self.state, self.progress = raw, state, prog

    def _clock(self, now):
        dur = float(self.scen["duration_s"])
        el = now - self.created
        last = self._elem(len(self.scen["statuses"]) - 1)
        if el >= dur:
            final = last if CANON.get(last[0]) in ("complete", "error") else ("complete", None, None)
            self._apply(final[0], None, final[2], self.created + dur)
        elif el < 0.1 * dur:
            self._apply("created", 0, None, now)
        else:
            self.running_polls = 0
            self._apply("running", min(99.0, round(el / dur * 100, 2)), None, now)

    def step(self, now):
        """One status poll: consume the next sequence element (last is sticky)."""
        self.polls += 1
        if self.override:
            return
        if self.scen["duration_s"] is not None:
            self._clock(now)
            return
        raw, prog, msg = self._elem(self.polls - 1)
        self._apply(raw, prog, msg, now)

    def peek(self, now):
        """Current state without consuming a poll (wall-clock jobs still move)."""
        if not self.override and self.scen["duration_s"] is not None:
            self._clock(now)

    def cur(self):
        return self.override or self.state

    def error_message(self, default):
        return self.scen["error_message"] or self.message or default

    def set_override(self, state, now, flag=None, message=None):
        self.override = state
        self.ended_at = self.ended_at or now
        if flag:
            self.flags[flag] = True
        if message is not None:
            self.message = message

    def summary(self):
        return {"id": self.id, "kind": self.kind, "state": self.cur(), "raw": self.raw,
                "polls": self.polls, "progress": self.progress, "created": self.created,
                "params": self.params, "cancel_received": self.flags["cancel"],
                "abort_received": self.flags["abort"], "delete_received": self.flags["delete"],
                "extra": self.extra}


# ---------------------------------------------------------------------------
# Shared state: scenario, jobs, request log, rate buckets
# ---------------------------------------------------------------------------

class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.counter = 0            # ids stay unique across resets
        self.reset()

    def reset(self):
        with self.lock:
            self.scenario = copy.deepcopy(DEFAULT_SCENARIO)
            self.jobs = {}          # (kind, id) -> Job
            self.job_order = []
            self.files = {}         # file id -> Job
            self.signed = {}        # storage signature -> (path, issued)
            self.log = []
            self.buckets = {}       # token hash -> [count, last]
            self.d2l_window = [0.0, 0]   # window start, credits used
            self.dap_calls = {}     # endpoint -> [window start, calls]
            self.objects = {}       # DAP object id -> (job, part index)
            self.dap_store = {}     # (namespace, table) -> {key json: (value or None, commit time)}

    def next_id(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def add_job(self, kind, jid, params):
        with self.lock:
            job = Job(kind, jid, params, self.scenario)
            self.jobs[(kind, str(jid))] = job
            self.job_order.append(job)
            return job

    def job(self, kind, jid):
        with self.lock:
            return self.jobs.get((kind, str(jid)))

    def scen(self):
        with self.lock:
            return copy.deepcopy(self.scenario)

    def take_fault(self, method, path, listener):
        with self.lock:
            for f in self.scenario["faults"]:
                if f.get("count", 1) == 0:
                    continue
                if f.get("method") and f["method"].upper() != method:
                    continue
                if f.get("path") and not re.search(f["path"], path):
                    continue
                if f.get("listener") and f["listener"] != listener:
                    continue
                if f.get("after", 0) > 0:      # let this many matching requests through first
                    f["after"] -= 1
                    continue
                c = f.get("count", 1)
                if c > 0:
                    f["count"] = c - 1
                return copy.deepcopy(f)
        return None

    def sign_url(self, path, now):
        with self.lock:
            sig = sign(path, now, self.counter, len(self.signed))
            self.signed[sig] = (path, now)
            return sig


# ---------------------------------------------------------------------------
# Responses and body generation
# ---------------------------------------------------------------------------

class Resp:
    """A response built by a route; `stream` is a zero-argument callable that
    returns an iterator of bytes blocks (sent chunked, honouring the transport
    options of the scenario)."""

    def __init__(self, status, body=b"", ctype=JSON_CT, headers=None, stream=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = list(headers or [])
        self.stream = stream
        self.reset = False


def jresp(status, obj, headers=None):
    return Resp(status, json.dumps(obj).encode(), JSON_CT, headers)


def tresp(status, text, ctype=TEXT_CT, headers=None):
    return Resp(status, text.encode(), ctype, headers)


def canvas_404():
    return jresp(404, {"errors": [{"message": "The specified resource does not exist."}]})


GRADE_HEADER = ["student name", "student id", "student sis", "course", "course id", "course sis",
                "section", "section id", "section sis", "term", "term id", "term sis",
                "current score", "final score", "enrollment state", "unposted current score",
                "unposted final score", "current grade", "final grade", "unposted current grade",
                "unposted final grade"]
ENR_STATES = ("active", "concluded", "inactive", "deleted")


def letter(score):
    if score is None:
        return None
    for cut, g in ((90, "A"), (80, "B"), (70, "C"), (60, "D")):
        if score >= cut:
            return g
    return "F"


def _grade_tail(k, term_id):
    """Columns after `student sis`; they depend only on i mod 3000."""
    cid = 100 + k % 5
    sec = 500 + k % 3
    cur = None if k % 10 == 0 else round(((k * 37) % 1000) / 10, 1)
    fin = None if k % 10 == 0 else round(((k * 53) % 1000) / 10, 1)
    return ("Course %d" % cid, cid, "C%d" % cid, "Section %d" % sec, sec, "SEC%d" % sec,
            "Term %d" % term_id, term_id, "T%d" % term_id, cur, fin, ENR_STATES[(k - 1) % 4],
            cur, fin, letter(cur), letter(fin), letter(cur), letter(fin))


_TAILS = {}


def grade_row(i, term_id, text=False):
    """Row i (1-based) of the grade_export_csv body; None = empty cell.
    text=True gives every cell as a string ('' for empty), for CSV output."""
    tails = _TAILS.get((term_id, text))
    if tails is None:
        tails = [_grade_tail(k, term_id) for k in range(3000)]
        if text:
            tails = [tuple("" if v is None else str(v) for v in t) for t in tails]
        _TAILS[(term_id, text)] = tails
    if i % 13 == 0:
        name = "Line\nBreak %d" % i
    elif i % 7 == 0:
        name = "O'Neil, Pat \"PJ\" %d" % i
    else:
        name = "Student %d" % i
    return (name, 1000 + i, None if i % 5 == 0 else "S%d" % i) + tails[i % 3000]


BLOCK_ROWS = 2000


def _tsv_field(v):
    if v is None:
        return "\\N"
    s = str(v)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def table_blocks(header, rows_fn, nrows, fmt, opts):
    """Yield encoded blocks of a table in one of FORMATS.
    rows_fn(i) -> tuple of python values (None = NULL), i is 1-based."""
    eol = "\r\n" if opts.get("crlf") else "\n"
    first = "\ufeff" if opts.get("bom") else ""
    with_header = opts.get("header", True)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator=eol, quoting=csv.QUOTE_MINIMAL)
        buf.write(first)
        if with_header:
            w.writerow(header)
        for start in range(1, nrows + 1, BLOCK_ROWS):
            w.writerows(rows_fn(i) for i in range(start, min(nrows, start + BLOCK_ROWS - 1) + 1))
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
        if buf.tell():
            yield buf.getvalue().encode()
        elif nrows == 0 and not with_header and first:
            yield first.encode()
        return
    if fmt == "tsv":
        out = [first + "\t".join(header) + eol] if with_header else [first]
        for i in range(1, nrows + 1):
            out.append("\t".join(_tsv_field(v) for v in rows_fn(i)) + eol)
            if len(out) >= BLOCK_ROWS:
                yield "".join(out).encode()
                out = []
        if out:
            yield "".join(out).encode()
        return
    dumps = json.dumps
    if fmt == "jsonl":
        out = [first]
        for i in range(1, nrows + 1):
            out.append(dumps(dict(zip(header, rows_fn(i)))) + eol)
            if len(out) >= BLOCK_ROWS:
                yield "".join(out).encode()
                out = []
        if out:
            yield "".join(out).encode()
        return
    # json / json_nested
    pre, post = ("[", "]") if fmt == "json" else ('{"data":{"rows":[', "]}}")
    out = [first + pre]
    for i in range(1, nrows + 1):
        out.append(("," if i > 1 else "") + dumps(dict(zip(header, rows_fn(i)))))
        if len(out) >= BLOCK_ROWS:
            yield "".join(out).encode()
            out = []
    out.append(post + eol)
    yield "".join(out).encode()


def file_blocks(path, bs=65536):
    with open(path, "rb") as f:
        while True:
            b = f.read(bs)
            if not b:
                return
            yield b


def gzip_blocks(blocks):
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    for b in blocks:
        c = z.compress(b)
        if c:
            yield c
    yield z.flush()


CONTENT_TYPES = {"csv": "text/csv", "tsv": "text/tab-separated-values",
                 "jsonl": "application/x-ndjson", "json": JSON_CT, "json_nested": JSON_CT}


def job_body(job, fmt=None, header=GRADE_HEADER, rows_fn=None, gz=None):
    """(ctype, extra headers, stream factory) for a job's result body."""
    sc = job.scen
    fmt = fmt or "csv"
    if rows_fn is None:
        term = job.extra.get("term_id", 1)
        text = fmt == "csv"
        rows_fn = lambda i: grade_row(i, term, text)    # noqa: E731
    gz = sc["gzip"] if gz is None else gz
    ctype = CONTENT_TYPES[fmt] + ("; charset=utf-8" if fmt in ("csv", "tsv") else "")
    headers = []
    if sc["body_file"]:
        raw = lambda: file_blocks(sc["body_file"])  # noqa: E731
    else:
        opts = {"crlf": sc["crlf"], "bom": sc["bom"], "header": sc["header"]}
        raw = lambda: table_blocks(header, rows_fn, int(sc["rows"]), fmt, opts)  # noqa: E731
    if sc.get("zip"):
        member = "export." + ("json" if fmt == "json_nested" else fmt)
        return "application/zip", headers, lambda: zip_blocks(member, raw())
    if gz:
        if sc["gzip_header"]:
            headers.append(("Content-Encoding", "gzip"))
        else:
            ctype = "application/gzip"
        return ctype, headers, lambda: gzip_blocks(raw())
    return ctype, headers, raw


def stream_size(factory):
    return sum(len(b) for b in factory())


_SIZES = {}
_SIZE_LOCK = threading.Lock()


def body_size(job):
    """Size of the uncompressed CSV result, for File/attachment JSON.  Computed
    by generating the body once (outside the state lock; cached by content)."""
    if job._size is None:
        sc = job.scen
        if sc["body_file"]:
            job._size = os.path.getsize(sc["body_file"])
        else:
            params = {k: v for k, v in job.params.items() if k != "extra_text"}
            key = (job.extra.get("report"), json.dumps(params, sort_keys=True, default=str),
                   json.dumps(sc["canvas_terms"]), int(sc["rows"]), sc["crlf"], sc["bom"], sc["header"])
            with _SIZE_LOCK:
                if key not in _SIZES:
                    _SIZES[key] = stream_size(report_body(job, gz=False)[2])
                job._size = _SIZES[key]
    return job._size


# ---------------------------------------------------------------------------
# Request context
# ---------------------------------------------------------------------------

class Ctx:
    def __init__(self, app, handler, method, path, query, body, listener):
        self.app = app
        self.h = handler
        self.method = method
        self.path = path
        self.rawq = query
        self.q = urllib.parse.parse_qs(query, keep_blank_values=True)
        self.body = body
        self.listener = listener
        self.m = {}
        self.now = time.time()
        self.token = None
        self.auth_arg = ""

    def header(self, name):
        return self.h.headers.get(name)

    def json(self):
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def form(self):
        ct = (self.header("Content-Type") or "").lower()
        if self.body and "json" not in ct:
            try:
                return urllib.parse.parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                return {}
        return {}

    def qget(self, name, default=None):
        v = self.q.get(name)
        return v[0] if v else default


# ---------------------------------------------------------------------------
# Family: Canvas (Account Reports, paginated REST lists, files, storage)
# ---------------------------------------------------------------------------
#
# Everything here follows instructure/canvas-lms:
#   app/controllers/account_reports_controller.rb   start, status, index, abort, delete
#   lib/api/v1/account_report.rb                     the Report JSON (exactly its fields)
#   gems/plugins/account_reports/lib/account_reports.rb
#                                                    file names, zip of several CSVs,
#                                                    parameters.extra_text, skip_message
#   gems/plugins/account_reports/lib/account_reports/engine.rb
#                                                    report names and their parameters
#   .../account_reports/{grade,student}_reports.rb, sis_exporter.rb   CSV headers
#   lib/authentication_methods.rb                    tokens only on /api/ paths
#   lib/api.rb                                       per_page, Link headers
#   lib/api/v1/user.rb (enrollment_json), lib/api/v1/submission.rb,
#   app/controllers/{enrollments_api,submissions_api}_controller.rb,
#   the analytics plugin (student_summaries)         the paginated lists
#
# Where the source gave no text (error bodies of a few refusals), the mock uses
# a stand-in and says so.

def _param_desc(**kw):
    return {k: {"required": r, "description": d} for k, (r, d) in kw.items()}


# report name -> (title, parameters) as engine.rb lists them
REPORTS = {
    "grade_export_csv": ("Grade Export", _param_desc(
        enrollment_term_id=(False, "The canvas id of the term to get grades from"),
        include_deleted=(False, "Include deleted objects"))),
    "mgp_grade_export_csv": ("Multiple Grading Periods Grade Export", _param_desc(
        enrollment_term_id=(True, "The canvas id of the term to get grades from"))),
    "last_user_access_csv": ("Last User Access", _param_desc(
        enrollment_term_id=(False, "The canvas id of the term to get grades from"),
        course_id=(False, "The course to report on"),
        include_deleted=(False, "Include deleted objects"))),
    "last_enrollment_activity_csv": ("Last Enrollment Activity", _param_desc(
        enrollment_term_id=(False, "The canvas id of the term's courses to get activity from"),
        course_id=(False, "The course's enrollments to report on"))),
    "zero_activity_csv": ("Zero Activity", _param_desc(
        enrollment_term_id=(False, "The canvas id of the term to get grades from"),
        start_at=(False, "The first date in the date range, the second date is the time the report is run."),
        course_id=(False, "The course to report on"))),
    "provisioning_csv": ("Provisioning", _param_desc(
        enrollment_term_id=(False, "The canvas id of the term of courses to report on"),
        users=(False, "Get the Provisioning file for users"),
        courses=(False, "Get the Provisioning file for courses"),
        sections=(False, "Get the Provisioning file for sections"),
        enrollments=(False, "Get the Provisioning file for enrollments"),
        include_deleted=(False, "Include deleted objects"))),
}

# account_reports.rb failed_report / finalize_report
FAILED_TEXT = "Failed, the report failed to generate a file. Please try again."
ABORTED_TEXT = "Report has been aborted"

# student_reports.rb
LAST_ACCESS_HEADER = ["user id", "user sis id", "user name", "last access at", "last ip"]
LAST_ACTIVITY_HEADER = ["user id", "user name", "last activity at"]
ZERO_ACTIVITY_HEADER = ["user id", "user sis id", "name", "section id", "section sis id",
                        "section name", "course id", "course sis id", "course name"]
# sis_exporter.rb enrollment_headers (provisioning, not the SIS format)
PROV_ENROLLMENT_HEADER = ["canvas_course_id", "course_id", "canvas_user_id", "user_id", "role", "role_id",
                          "canvas_section_id", "section_id", "status", "canvas_associated_user_id",
                          "associated_user_id", "created_by_sis", "base_role_type",
                          "limit_section_privileges", "canvas_enrollment_id"]
# grade_reports.rb grading_field_headers, and the per grading period block of mgp_term_header
GRADING_FIELDS = ["current score", "final score", "enrollment state", "unposted current score",
                  "unposted final score", "current grade", "final grade", "unposted current grade",
                  "unposted final grade"]
MGP_PERIOD_FIELDS = ["grading period id", "current score", "final score", "unposted current score",
                     "unposted final score", "current grade", "final grade", "unposted current grade",
                     "unposted final grade"]
NO_PERIODS_TEXT = "no grading periods configured for this term"


def _truthy(v):
    """Ruby truthiness of a report parameter (form values are strings: "false" is true)."""
    return v is not None and v is not False


def canvas_parameters(ctx):
    """parameters[...] from query, form body or JSON body."""
    params = {}
    pat = re.compile(r"^parameters\[([^\]]+)\]$")
    for src in (ctx.q, ctx.form()):
        for k, v in src.items():
            mm = pat.match(k)
            if mm:
                params[mm.group(1)] = v[-1]
    js = ctx.json()
    if isinstance(js, dict) and isinstance(js.get("parameters"), dict):
        params.update(js["parameters"])
    return params


def reject_start(ctx):
    rj = ctx.app.state.scen()["reject_start"]
    if not rj:
        return None
    body = rj.get("body", {"errors": [{"message": "rejected"}]})
    if isinstance(body, (dict, list)):
        return jresp(int(rj.get("status", 400)), body)
    return tresp(int(rj.get("status", 400)), str(body), rj.get("content_type", TEXT_CT))


# -- report bodies

def _person(i):
    sis = None if i % 5 == 0 else "S%d" % i
    return 1000 + i, sis, "Student, %d" % i


def _last_access_row(i):
    uid, sis, name = _person(i)
    never = i % 4 == 0
    return (uid, sis, name, None if never else tstamp(86400 * 300 + i * 3600),
            None if never else "10.0.%d.%d" % (i // 250 % 250, i % 250 + 1))


def _last_activity_row(i):
    uid, _, name = _person(i)
    return uid, name, None if i % 6 == 0 else tstamp(86400 * 310 + i * 600)


def _zero_activity_row(i):
    uid, sis, name = _person(i)
    cid, sec = 100 + i % 5, 500 + i % 3
    return (uid, sis, name, sec, "SEC%d" % sec, "Section %d" % sec, cid, "C%d" % cid, "Course %d" % cid)


def _prov_enrollment_row(i):
    uid, sis, _ = _person(i)
    cid, sec = 100 + i % 5, 500 + i % 3
    status = ENR_STATES[(i - 1) % 4]
    return (cid, "C%d" % cid, uid, sis, "student", 3, sec, "SEC%d" % sec, status, None, None,
            "true" if sis else "false", "StudentEnrollment", "false", 50000 + i)


def mgp_terms(job):
    """The terms of an mgp_grade_export_csv: the one asked for, else every active term."""
    terms = job.scen["canvas_terms"]
    want = job.params.get("enrollment_term_id")
    if want not in (None, ""):
        terms = [t for t in terms if str(t["id"]) == str(want)] or \
            [{"id": int(want), "name": "Term %s" % want, "periods": ["Quarter 1", "Quarter 2"]}]
    return terms


def _mgp_header(term):
    head = GRADE_HEADER[:12] + ["grading period set", "grading period set id"]
    for p in term["periods"]:
        head += ["%s %s" % (p, f) for f in MGP_PERIOD_FIELDS]
    return head + GRADING_FIELDS


def _mgp_row_fn(term):
    tid, periods = term["id"], term["periods"]

    def row(i):
        base = grade_row(i, tid)
        out = list(base[:12]) + ["Periods of %s" % term["name"], 700 + tid]
        for k, _ in enumerate(periods):
            cur = None if (i + k) % 9 == 0 else round(((i * 29 + k * 11) % 1000) / 10, 1)
            fin = None if cur is None else round(cur * 0.9, 1)
            out += [800 + tid * 10 + k, cur, fin, cur, fin, letter(cur), letter(fin), letter(cur), letter(fin)]
        return tuple(out) + base[12:]
    return row


def report_parts(job):
    """[(zip entry name or None, header, rows_fn, nrows)] of a finished report;
    [] when it produced no file (it then fails); zip when job.extra["zip"]."""
    report, n = job.extra["report"], int(job.scen["rows"])
    term = job.extra.get("term_id", 1)
    if report == "grade_export_csv":
        return [(None, GRADE_HEADER, lambda i: grade_row(i, term, True), n)]
    if report == "last_user_access_csv":
        return [(None, LAST_ACCESS_HEADER, _last_access_row, n)]
    if report == "last_enrollment_activity_csv":
        return [(None, LAST_ACTIVITY_HEADER, _last_activity_row, n)]
    if report == "zero_activity_csv":
        return [(None, ZERO_ACTIVITY_HEADER, _zero_activity_row, n)]
    if report == "provisioning_csv":
        # only the enrollments part is generated; several parts would be a zip
        return [("enrollments.csv", PROV_ENROLLMENT_HEADER, _prov_enrollment_row, n)] \
            if _truthy(job.params.get("enrollments")) else []
    if report == "mgp_grade_export_csv":
        return [(t["name"] + ".csv", _mgp_header(t) if t["periods"] else [NO_PERIODS_TEXT],
                 _mgp_row_fn(t) if t["periods"] else None, n if t["periods"] else 0)
                for t in mgp_terms(job)]
    return []


def zip_members(members):
    """A streamed zip of several entries: members = [(name, blocks iterator factory)]."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blocks in members:
            info = zipfile.ZipInfo(name, date_time=time.gmtime(T0)[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as f:
                for b in blocks():
                    f.write(b)
                    out = sink.drain()
                    if out:
                        yield out
    yield sink.drain()


def report_body(job, gz=None):
    """(ctype, extra headers, stream factory) of a complete report's attachment."""
    parts = report_parts(job)
    if job.extra.get("zip"):
        sc = job.scen
        opts = {"crlf": sc["crlf"], "bom": sc["bom"], "header": True}
        members = [(name, (lambda h=h, f=f, k=k: table_blocks(h, f or (lambda i: ()), k, "csv", opts)))
                   for name, h, f, k in parts]
        return "application/zip", [], lambda: zip_members(members)
    _, header, rows_fn, _ = parts[0]
    return job_body(job, header=header, rows_fn=rows_fn, gz=gz)


def report_finish(job):
    """What Canvas does once a report ends (account_reports.rb finalize_report):
    extra_text on failure or abort, and the notification unless skip_message."""
    st = job.cur()
    if st not in ("complete", "error", "aborted") or job.extra.get("finalized"):
        return
    job.extra["finalized"] = True
    if st == "error":
        job.params["extra_text"] = job.scen["error_message"] or FAILED_TEXT
    elif st == "aborted":
        job.params["extra_text"] = ABORTED_TEXT
    # message_recipient: skipped when parameters["skip_message"] is set
    job.extra["notified"] = not _truthy(job.params.get("skip_message"))


def file_json(ctx, job):
    """lib/api/v1/attachment.rb: url = /files/:id/download?download_frd=1&verifier=<uuid>."""
    fid = job.extra["file_id"]
    t = job.ended_at or job.created
    fname = job.extra["filename"]
    zipped = job.extra.get("zip")
    return {"id": fid, "uuid": job.extra["uuid"], "folder_id": None,
            "display_name": fname, "filename": fname, "upload_status": "success",
            "content-type": "application/zip" if zipped else "text/csv",
            "url": "%s/files/%d/download?download_frd=1&verifier=%s" % (ctx.app.base, fid, job.extra["uuid"]),
            "size": body_size(job), "created_at": iso(t), "updated_at": iso(t),
            "unlock_at": None, "locked": False, "hidden": False, "lock_at": None,
            "hidden_for_user": False, "thumbnail_url": None, "modified_at": iso(t),
            "mime_class": "zip" if zipped else "file", "media_entry_id": None, "locked_for_user": False}


def report_json(ctx, job):
    """Exactly the fields of lib/api/v1/account_report.rb account_report_json."""
    st = job.cur()
    out = {"id": job.id, "progress": int(job.progress), "parameters": job.params, "current_line": None,
           "status": st, "report": job.extra["report"], "created_at": iso(job.created),
           "started_at": iso(job.started_at) if job.started_at else None,
           "ended_at": iso(job.ended_at) if job.ended_at and st in TERMINAL else None,
           "file_url": None}
    if st in ("running", "compiling"):
        out["current_line"] = int(int(job.scen["rows"]) * job.progress / 100)
    if st == "complete":
        out["file_url"] = "%s/accounts/%s/files/%d/download" % (ctx.app.base, job.extra["account"],
                                                              job.extra["file_id"])
        if ctx.app.state.scen()["canvas_attachment"]:    # false: an older Canvas, file_url only
            out["attachment"] = file_json(ctx, job)
        out["current_line"] = int(job.scen["rows"])
    return out


def r_report_start(ctx):
    report = ctx.m["report"]
    if report not in REPORTS:
        return canvas_404()
    rj = reject_start(ctx)
    if rj:
        return rj
    params = canvas_parameters(ctx)
    term_id = 1
    if params.get("enrollment_term_id") not in (None, ""):
        raw = params["enrollment_term_id"]
        try:
            if isinstance(raw, bool) or isinstance(raw, float):
                raise ValueError
            term_id = int(str(raw))
        except ValueError:
            return jresp(400, {"error": "invalid enrollment_term_id '%s'" % raw})
    st = ctx.app.state
    with st.lock:
        job = st.add_job("report", st.next_id(), params)
        fid = st.next_id() + 9000
        zipped = report == "mgp_grade_export_csv"
        # account_reports.rb generate_file_name: <type>_<dd_Mon_YYYY>_<id>
        name = "%s_%s_%s" % (report, dt.datetime.utcnow().strftime("%d_%b_%Y"), job.id)
        job.extra.update(report=report, account=ctx.m["aid"], term_id=term_id, file_id=fid,
                         uuid=sign("uuid", fid)[:40], zip=zipped,
                         filename=name + (".zip" if zipped else ".csv"))
        if not report_parts(job):       # nothing to write: the report fails
            job.scen["statuses"] = ["created", "running", "error"]
        st.files[fid] = job
        reply = report_json(ctx, job)
    return jresp(200, reply)


def _report_job(ctx):
    """type_scope.active.find: a deleted report is no longer found."""
    job = ctx.app.state.job("report", ctx.m["id"])
    if job is None or job.extra["report"] != ctx.m["report"] or job.cur() == "deleted":
        return None
    return job


def reports_reply(ctx, jobs, single=True):
    """Report JSON for jobs; the attachment size of a complete job is computed
    outside the state lock (it may generate a large body once)."""
    for j in jobs:
        if j.cur() == "complete":
            body_size(j)
    with ctx.app.state.lock:
        items = [report_json(ctx, j) for j in jobs]
    return jresp(200, items[0]) if single else items


def r_report_status(ctx):
    st = ctx.app.state
    with st.lock:
        job = _report_job(ctx)
        if job is None:
            return canvas_404()
        job.step(ctx.now)
        report_finish(job)
    return reports_reply(ctx, [job])


def r_report_abort(ctx):
    """The newest controller's abort: only a running report is found (else 404)."""
    st = ctx.app.state
    with st.lock:
        job = _report_job(ctx)
        if job is None:
            return canvas_404()
        job.peek(ctx.now)
        job.flags["abort"] = True
        if job.cur() != "running":
            return canvas_404()
        job.set_override("aborted", ctx.now)
        report_finish(job)
    return reports_reply(ctx, [job])


def r_report_delete(ctx):
    """Soft delete: the reply shows "deleted", later requests answer 404."""
    st = ctx.app.state
    with st.lock:
        job = _report_job(ctx)
        if job is None:
            return canvas_404()
        job.set_override("deleted", ctx.now, "delete")
    return reports_reply(ctx, [job])


# -- pagination (lib/api.rb)

API_PER_PAGE, API_MAX_PER_PAGE = 10, 100
# Api::EXCLUDE_IN_PAGINATION_LINKS
PAGE_EXCLUDE = ("page", "per_page", "access_token", "api_key")


def per_page_of(ctx):
    """Api.per_page_for: to_i, clamped to 1..MAX_PER_PAGE."""
    raw = ctx.qget("per_page")
    if raw is None:
        return API_PER_PAGE
    mm = re.match(r"\s*[+-]?\d+", raw)
    return min(API_MAX_PER_PAGE, max(1, int(mm.group(0)) if mm else 0))


def page_links(ctx, per_page, pages):
    """Api.build_links: <base?query&page=X&per_page=N>; rel="..." joined by ",",
    in the order current, next, prev, first, last; absolute URLs."""
    base = (ctx.app.state.scen()["link_base"] or ctx.app.base) + ctx.path
    q = sorted((k, v) for k, vs in ctx.q.items() if k not in PAGE_EXCLUDE for v in vs)
    prefix = base + "?" + (urllib.parse.urlencode(q) + "&" if q else "")
    links = ['<%spage=%s&per_page=%d>; rel="%s"' % (prefix, urllib.parse.quote(str(p), safe=":"), per_page, rel)
             for rel, p in pages if p is not None]
    return ("Link", ",".join(links))


def bookmark_of(item_id):
    return "bookmark:" + base64.urlsafe_b64encode(json.dumps([item_id]).encode()).decode().rstrip("=")


def paginate_bookmarked(ctx, items):
    """Bookmarked pagination (enrollments, submissions): page=first or an
    opaque bookmark; no "last" link.  A page Canvas did not hand out -> 404."""
    per_page = per_page_of(ctx)
    page = ctx.qget("page", "first")
    start = 0
    if page != "first":
        try:
            assert page.startswith("bookmark:")
            seg = page[9:]
            after = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))[0]
        except Exception:                                   # noqa: BLE001
            return canvas_404()
        start = next((k + 1 for k, it in enumerate(items) if it["id"] == after), None)
        if start is None:
            return canvas_404()
    chunk = items[start:start + per_page]
    more = start + per_page < len(items)
    pages = [("current", page), ("next", bookmark_of(chunk[-1]["id"]) if more and chunk else None),
             ("first", "first")]
    return jresp(200, chunk, [page_links(ctx, per_page, pages)])


def paginate_numbered(ctx, items):
    """Ordinal pages 1..last; beyond the end an empty array (lib/api.rb)."""
    per_page = per_page_of(ctx)
    mm = re.match(r"\s*\d+", ctx.qget("page", "1"))
    page = max(1, int(mm.group(0)) if mm else 1)
    last = max(1, (len(items) + per_page - 1) // per_page)
    chunk = items[(page - 1) * per_page: page * per_page]
    pages = [("current", page), ("next", page + 1 if page < last else None),
             ("prev", page - 1 if page > 1 else None), ("first", 1), ("last", last)]
    return jresp(200, chunk, [page_links(ctx, per_page, pages)])


def r_report_index(ctx):
    if ctx.m["report"] not in REPORTS:
        return canvas_404()
    st = ctx.app.state
    with st.lock:
        jobs = [j for j in reversed(st.job_order) if j.kind == "report" and j.cur() != "deleted"
                and j.extra["report"] == ctx.m["report"] and j.extra["account"] == ctx.m["aid"]]
        for j in jobs:
            j.peek(ctx.now)
            report_finish(j)
    return paginate_numbered(ctx, reports_reply(ctx, jobs, single=False))


def r_report_list(ctx):
    st = ctx.app.state
    last = {}
    with st.lock:
        for j in reversed(st.job_order):
            if j.kind == "report" and j.extra["account"] == ctx.m["aid"] and j.extra["report"] not in last \
                    and j.cur() != "deleted":
                j.peek(ctx.now)
                report_finish(j)
                last[j.extra["report"]] = j
    names = [n for n in REPORTS if n in last]
    runs = dict(zip(names, reports_reply(ctx, [last[n] for n in names], single=False)))
    return jresp(200, [{"report": name, "title": title, "parameters": params, "last_run": runs.get(name)}
                       for name, (title, params) in REPORTS.items()])


# -- courses: the paginated lists that replace the gradebook CSV

def course_students(ctx):
    """Students of the course in the path (a positive integer id), or None (404)."""
    cid = ctx.m["cid"]
    if not cid.isdigit() or int(cid) == 0:
        return None, 0
    sc = ctx.app.state.scen()
    return int(cid), int((sc["course_rows"] or {}).get(cid, sc["rows"]))


def _enrollment(ctx, cid, i):
    """lib/api/v1/user.rb enrollment_json (+ grades_hash for a grader); i = 0 is the teacher."""
    base = ctx.app.base
    uid = 1 if i == 0 else 1000 + i
    sec = 500 + i % 3
    e = {"id": cid * 100000 + i, "user_id": uid, "course_id": cid,
         "type": "TeacherEnrollment" if i == 0 else "StudentEnrollment",
         "created_at": tstamp(86400 + i), "updated_at": tstamp(86400 * 2 + i),
         "associated_user_id": None, "start_at": None, "end_at": None, "course_section_id": sec,
         "root_account_id": 1, "limit_privileges_to_course_section": False,
         "enrollment_state": "active" if i % 11 else "inactive",
         "role": "TeacherEnrollment" if i == 0 else "StudentEnrollment", "role_id": 4 if i == 0 else 3,
         "last_activity_at": None if i % 8 == 0 else tstamp(86400 * 320 + i * 900),
         "last_attended_at": None,
         "total_activity_time": 0 if i % 8 == 0 else (i * 613) % 90000,
         "sis_account_id": "ACC1", "sis_course_id": "C%d" % cid, "course_integration_id": None,
         "sis_section_id": "SEC%d" % sec, "section_integration_id": None,
         "sis_user_id": None if i % 5 == 0 else "S%d" % i,
         "html_url": "%s/courses/%d/users/%d" % (base, cid, uid),
         "user": {"id": uid, "name": "Student %d" % i if i else "Teacher", "created_at": tstamp(i),
                  "sortable_name": "Student, %d" % i if i else "Teacher", "short_name": "Student %d" % i,
                  "sis_user_id": None if i % 5 == 0 else "S%d" % i, "integration_id": None,
                  "root_account": "canvas.example.edu", "login_id": "s%d@example.edu" % i}}
    if i:
        cur = None if i % 10 == 0 else round(((i * 37 + cid) % 1000) / 10, 2)
        fin = None if cur is None else round(((i * 53 + cid) % 1000) / 10, 2)
        e["grades"] = {"html_url": "%s/courses/%d/grades/%d" % (base, cid, uid),
                       "current_grade": letter(cur), "current_score": cur,
                       "final_grade": letter(fin), "final_score": fin,
                       "unposted_current_score": cur, "unposted_current_grade": letter(cur),
                       "unposted_final_score": fin, "unposted_final_grade": letter(fin)}
    return e


def r_course_enrollments(ctx):
    """enrollments_api_controller.rb index: type[] filters, bookmarked pages."""
    cid, n = course_students(ctx)
    if cid is None:
        return canvas_404()
    types = ctx.q.get("type[]") or ctx.q.get("type")
    items = [_enrollment(ctx, cid, i) for i in range(0, n + 1)]
    if types:
        items = [e for e in items if e["type"] in types]
    return paginate_bookmarked(ctx, items)


# Api::ISO8601_REGEX (lib/api.rb)
ISO8601 = re.compile(r"^[0-9]{4}-(1[0-2]|0[1-9])-(3[0-1]|0[1-9]|[1-2][0-9])T(2[0-3]|[0-1][0-9]):"
                     r"[0-5][0-9]:(60|[0-5][0-9])(\.[0-9]+)?(Z|[+-](2[0-3]|[0-1][0-9]):[0-5][0-9])?$")


def _iso_seconds(s):
    mm = ISO8601.match(s)
    if not mm:
        return None
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


def _submission(ctx, cid, i, a):
    """lib/api/v1/submission.rb submission_json, one student i and assignment a."""
    k = i * 7 + a
    submitted = None if k % 6 == 0 else T0 + 86400 * 300 + k * 3600
    graded = None if submitted is None or k % 4 == 0 else submitted + 86400
    late = submitted is not None and k % 5 == 0
    missing = submitted is None and i % 2 == 0
    score = None if graded is None else float((i * 31 + a * 17) % 100)
    aid = cid * 100 + a
    return {"id": cid * 10000000 + i * 100 + a, "assignment_id": aid, "user_id": 1000 + i,
            "grader_id": None if graded is None else 1, "score": score,
            "grade": None if score is None else ("%g" % score), "entered_score": score,
            "entered_grade": None if score is None else ("%g" % score), "attempt": None if submitted is None else 1,
            "workflow_state": "graded" if graded else ("submitted" if submitted else "unsubmitted"),
            "late": late, "missing": missing, "excused": None if graded is None else False,
            "late_policy_status": "late" if late else ("missing" if missing else None),
            "points_deducted": 0.0 if late else None, "seconds_late": 3600 if late else 0,
            "submitted_at": iso(submitted) if submitted else None, "graded_at": iso(graded) if graded else None,
            "posted_at": iso(graded) if graded else None, "cached_due_date": iso(T0 + 86400 * 300 + a * 86400),
            "submission_type": "online_text_entry" if submitted else None, "body": None, "url": None,
            "grade_matches_current_submission": True, "extra_attempts": None, "anonymous_id": sign("a", aid, i)[:5],
            "redo_request": False, "assignment_visible": True,
            "preview_url": "%s/courses/%d/assignments/%d/submissions/%d?preview=1&version=1" % (ctx.app.base, cid, aid, 1000 + i)}


def r_course_submissions(ctx):
    """submissions_api_controller.rb for_students: student_ids[] (all or ids; by
    default only the caller's own, so none for an administrator token),
    submitted_since / graded_since (ISO 8601, else 400), bookmarked pages."""
    cid, n = course_students(ctx)
    if cid is None:
        return canvas_404()
    since = {}
    for name in ("submitted_since", "graded_since"):
        v = ctx.qget(name)
        if v is not None:
            since[name] = _iso_seconds(v)
            if since[name] is None:
                # stand-in text: the source answers 400 for a malformed timestamp
                return jresp(400, {"errors": [{"message": "Invalid %s" % name}]})
    ids = ctx.q.get("student_ids[]") or []
    if "all" in ids:
        students = range(1, n + 1)
    else:
        students = [int(x) - 1000 for x in ids if x.isdigit() and 1 <= int(x) - 1000 <= n]
    items = [_submission(ctx, cid, i, a) for i in students for a in range(1, ctx.app.state.scen()["assignments"] + 1)]
    for name, field in (("submitted_since", "submitted_at"), ("graded_since", "graded_at")):
        if name in since:
            items = [s for s in items if s[field] and _iso_seconds(s[field]) > since[name]]
    items.sort(key=lambda s: s["id"])
    return paginate_bookmarked(ctx, items)


def r_course_summaries(ctx):
    """Analytics plugin student_summaries: page views, participations, tardiness."""
    cid, n = course_students(ctx)
    if cid is None:
        return canvas_404()
    na = ctx.app.state.scen()["assignments"]
    items = []
    for i in range(1, n + 1):
        late = sum(1 for a in range(1, na + 1) if (i * 7 + a) % 5 == 0)
        missing = sum(1 for a in range(1, na + 1) if (i * 7 + a) % 6 == 0 and i % 2 == 0)
        pv, part = (i * 13 + cid) % 200, (i * 7 + cid) % 50
        items.append({"id": 1000 + i, "page_views": pv, "max_page_views": 199,
                      "page_views_level": 1 + pv // 67, "participations": part, "max_participations": 49,
                      "participations_level": 1 + part // 17,
                      "tardiness_breakdown": {"total": na, "on_time": na - late - missing, "late": late,
                                              "missing": missing, "floating": 0}})
    return paginate_numbered(ctx, items)


# -- files: attachment.url with its verifier or the token; file_url is a web page

def storage_url(ctx, path):
    sc = ctx.app.state.scen()
    expires = int(sc["storage_ttl_s"]) if sc["storage_ttl_s"] is not None else 900
    sig = ctx.app.state.sign_url(path, ctx.now)
    q = urllib.parse.urlencode([("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                                ("X-Amz-Date", dt.datetime.utcfromtimestamp(ctx.now).strftime("%Y%m%dT%H%M%SZ")),
                                ("X-Amz-Expires", str(expires)), ("X-Amz-SignedHeaders", "host"),
                                ("X-Amz-Signature", sig)])
    return "%s%s?%s" % (ctx.app.storage_base, path, q)


def redirect(url):
    body = '<html><body>You are being <a href="%s">redirected</a>.</body></html>' % url
    return Resp(302, body.encode(), "text/html; charset=utf-8", [("Location", url)])


def r_web_page(ctx):
    """A page outside /api/: access tokens are ignored there
    (authentication_methods.rb load_pseudonym_from_access_token returns unless
    api_request?), so without a browser session Canvas redirects to the login."""
    return redirect("%s/login" % ctx.app.base)


def r_login(ctx):
    if ctx.path == "/login":
        return redirect("%s/login/canvas" % ctx.app.base)
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Log In to Canvas</title></head>'
            '<body><form id="login_form" action="/login/canvas" method="post">'
            '<input type="hidden" name="authenticity_token" value="%s">'
            '<input type="text" name="pseudonym_session[unique_id]">'
            '<input type="password" name="pseudonym_session[password]">'
            '<button type="submit">Log In</button></form></body></html>\n' % sign("csrf", ctx.now)[:32])
    return tresp(200, page, "text/html; charset=utf-8")


def r_file_download(ctx):
    """/files/:id/download: the attachment's verifier, or (Instructure's 2026
    change) the token in the Authorization header; otherwise the login page."""
    fid = int(ctx.m["fid"])
    st = ctx.app.state
    with st.lock:
        job = st.files.get(fid)
    if job is None:
        return canvas_404()
    verifier_ok = st.scen()["canvas_verifier"] and ctx.qget("verifier") == job.extra["uuid"]
    if ctx.token is None and not verifier_ok:
        return r_web_page(ctx)
    if st.scen()["direct"]:
        return serve_job_file(job)
    return redirect(storage_url(ctx, "/__storage/%d" % fid))


def storage_denied(ctx, code="AccessDenied", message="Request has expired"):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>%s</RequestId><HostId>mock</HostId></Error>'
            % (code, message, sign("req", ctx.now)[:16].upper()))
    return tresp(403, body, "application/xml")


def check_signature(ctx, sig_param):
    """None when the presigned URL is acceptable, else a 403 response.
    Signatures are checked only while storage_ttl_s is set."""
    ttl = ctx.app.state.scen()["storage_ttl_s"]
    if ttl is None:
        return None
    sig = ctx.qget(sig_param)
    with ctx.app.state.lock:
        rec = ctx.app.state.signed.get(sig)
    if rec is None or rec[0] != ctx.path:
        return storage_denied(ctx, "SignatureDoesNotMatch",
                              "The request signature we calculated does not match the signature you provided.")
    if ctx.now - rec[1] > float(ttl):
        return storage_denied(ctx)
    return None


def serve_job_file(job):
    ctype, headers, factory = report_body(job)
    return Resp(200, None, ctype, headers + [
        ("Content-Disposition", 'attachment; filename="%s"' % job.extra["filename"])],
        stream=factory)


def r_storage(ctx):
    denied = check_signature(ctx, "X-Amz-Signature")
    if denied:
        return denied
    with ctx.app.state.lock:
        job = ctx.app.state.files.get(int(ctx.m["fid"]))
    if job is None:
        return storage_denied(ctx, "NoSuchKey", "The specified key does not exist.")
    return serve_job_file(job)


# ---------------------------------------------------------------------------
# Family: generic asynchronous export-job API
# ---------------------------------------------------------------------------

def generic_json(ctx, job):
    st = job.cur()
    state = {"created": "queued", "running": "processing", "compiling": "processing",
             "complete": "done"}.get(st, "failed" if st in TERMINAL else job.raw)
    result = None
    if state == "done":
        sc = ctx.app.state.scen()
        path = "/generic/redirect/%s" if sc["generic_redirect"] else "/generic/files/%s"
        result = {"url": ctx.app.base + path % job.id, "format": job.scen["format"],
                  "rows": int(job.scen["rows"])}
    err = None
    if state == "failed":
        err = {"message": (job.message if job.override else None) or job.error_message("export failed")}
    return {"data": {"id": str(job.id), "state": state, "progress": int(job.progress),
                     "created_at": iso(job.created), "result": result, "error": err}}


def r_generic_start(ctx):
    rj = reject_start(ctx)
    if rj:
        return rj
    js = ctx.json()
    params = js if js is not None else {k: v[-1] for k, v in ctx.form().items()}
    st = ctx.app.state
    with st.lock:
        job = st.add_job("generic", "exp_%d" % st.next_id(), params)
        job.extra["term_id"] = 1
    return jresp(202, {"data": {"id": job.id, "state": "queued"}})


def r_generic_status(ctx):
    st = ctx.app.state
    with st.lock:
        job = st.job("generic", ctx.m["id"])
        if job is None:
            return jresp(404, {"error": {"message": "export not found"}})
        job.step(ctx.now)
        return jresp(200, generic_json(ctx, job))


def r_generic_cancel(ctx):
    st = ctx.app.state
    with st.lock:
        job = st.job("generic", ctx.m["id"])
        if job is None:
            return jresp(404, {"error": {"message": "export not found"}})
        job.flags["cancel"] = True
        job.peek(ctx.now)
        if job.cur() not in TERMINAL:
            job.set_override("canceled", ctx.now, message="canceled by client")
        return jresp(200, generic_json(ctx, job))


def generic_file(job):
    ctype, headers, factory = job_body(job, fmt=job.scen["format"])
    return Resp(200, None, ctype, headers, stream=factory)


def r_generic_file(ctx):
    job = ctx.app.state.job("generic", ctx.m["id"])
    if job is None:
        return jresp(404, {"error": {"message": "file not found"}})
    return generic_file(job)


def r_generic_redirect(ctx):
    job = ctx.app.state.job("generic", ctx.m["id"])
    if job is None:
        return jresp(404, {"error": {"message": "file not found"}})
    path = "/__storage/generic/%s" % job.id
    sig = ctx.app.state.sign_url(path, ctx.now)
    return redirect("%s%s?sig=%s" % (ctx.app.storage_base, path, sig))


def r_generic_storage(ctx):
    denied = check_signature(ctx, "sig")
    if denied:
        return denied
    job = ctx.app.state.job("generic", ctx.m["id"])
    if job is None:
        return storage_denied(ctx, "NoSuchKey", "The specified key does not exist.")
    return generic_file(job)


# ---------------------------------------------------------------------------
# Shared by Canvas Data 2 and Brightspace: OAuth tokens (HS256 JWT)
# ---------------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(sub, ttl, now, aud, **extra):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iss": "mock_lms", "aud": aud, "sub": sub, "iat": int(now), "exp": int(now + ttl),
              "jti": str(uuid.uuid4())}
    claims.update(extra)
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64url(hmac.new(SIGN_KEY, ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest())
    return "%s.%s.%s" % (head, body, sig)


def check_jwt(token, now, aud):
    """Claims of a token this mock issued and that has not expired, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    want = b64url(hmac.new(SIGN_KEY, ("%s.%s" % (parts[0], parts[1])).encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(want, parts[2]):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    if claims.get("aud") != aud or claims.get("exp", 0) <= now:
        return None
    return claims


def basic_credentials(ctx):
    """(client_id, secret) from Basic auth or from client_id/client_secret form fields."""
    auth = ctx.header("Authorization") or ""
    if auth[:6].lower() == "basic ":
        try:
            cid, _, sec = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            return cid, sec
        except (ValueError, UnicodeDecodeError):
            return None, None
    form = ctx.form()
    return (form.get("client_id") or [None])[-1], (form.get("client_secret") or [None])[-1]


def credentials_ok(ctx, cid, sec):
    sc = ctx.app.state.scen()
    if not cid or not sec:
        return False
    if sc["client_id"] is not None and cid != sc["client_id"]:
        return False
    if sc["client_secret"] is not None and sec != sc["client_secret"]:
        return False
    return True


T0 = 1704067200     # 2024-01-01T00:00:00Z, base of the generated timestamps


def tstamp(sec):
    return iso(T0 + sec)


# ---------------------------------------------------------------------------
# Family: Canvas Data 2 (DAP): /ids/auth/login, /dap[/beta]/...
#
# Sources: the DAP Query API's OpenAPI document 0.9.0 ("Data Access Platform
# Query API", servers https://api-gateway.instructure.com/dap; components
# SnapshotQuery, IncrementalQuery, TableJob, CompleteSnapshotJob,
# CompleteIncrementalJob, FailedJob, Object, Resource, ResourceResult,
# TableList, VersionedSchema, ValidationError, NotFoundError), the reference
# pages developerdocs.instructure.com/services/dap/query-api/* (jobs and
# objects deleted 24 h after the start, presigned URLs valid ~15 minutes,
# "no authentication is required to fetch the object via the pre-signed
# URL"), .../dap/limits-policies (calls per minute per endpoint), the
# Canvas Data 2 technical FAQ (meta.ts is the commit time; since/until filter
# on it; keys are unique in a result set; a record with a key and no value is
# a delete, meta.action D), and Instructure's client instructure-dap-client
# (dap/api.py: Basic login, one POST /object/url per object just before its
# download, 429 answered by Retry-After; dap/downloader.py).
# ---------------------------------------------------------------------------

# A column: (name, type, nullable[, enum values]); types: int64 int32 float64
# decimal string boolean timestamp enum array object
def _sub_row(i):
    score = None if i % 6 == 0 else round(((i * 29) % 101) * 1.0, 1)
    late = i % 8 == 0
    return {"course_id": 100 + i % 5, "user_id": 300 + i % 40, "assignment_id": 200 + i % 12,
            "grader_id": None if score is None else (-1 if i % 9 == 0 else 40 + i % 3),
            "score": score, "published_score": score, "grade": None if score is None else letter(score),
            "published_grade": None if score is None else letter(score),
            "attempt": None if score is None else 1 + i % 3,
            "submitted_at": None if score is None else tstamp(i * 3600),
            "graded_at": None if score is None else tstamp(i * 3600 + 1800),
            "posted_at": None if score is None or i % 4 == 0 else tstamp(i * 3600 + 3600),
            "excused": True if i % 17 == 0 else None,
            "late_policy_status": "late" if late else None,
            "points_deducted": 1.5 if late else None,
            "grading_period_id": None if i % 5 else 70 + i % 2,
            "workflow_state": "unsubmitted" if score is None else ("graded" if i % 7 else "submitted"),
            "created_at": tstamp(i * 60), "updated_at": tstamp(i * 3600 + 1800)}


def _score_row(i):
    group = 30 + i % 3 if i % 4 == 0 else None
    cur = round(((i * 37) % 1000) / 10, 1)
    return {"enrollment_id": 5000 + i, "assignment_group_id": group,
            "grading_period_id": 70 + i % 2 if i % 5 == 0 else None, "course_score": group is None,
            "current_score": cur, "final_score": round(((i * 53) % 1000) / 10, 1),
            "unposted_current_score": cur, "unposted_final_score": round(((i * 53) % 1000) / 10, 1),
            "override_score": 95.0 if i % 11 == 0 else None,
            "created_at": tstamp(i * 60), "updated_at": tstamp(i * 3600)}


def _enr_row(i):
    return {"user_id": 300 + i, "course_id": 100 + i % 5, "type": "StudentEnrollment",
            "workflow_state": ("active", "completed", "inactive", "deleted")[(i - 1) % 4],
            "course_section_id": 500 + i % 3, "role_id": 3,
            "start_at": None, "end_at": None, "last_activity_at": None if i % 6 == 0 else tstamp(i * 7200),
            "total_activity_time": (i * 97) % 5000,
            "created_at": tstamp(i * 60), "updated_at": tstamp(i * 3600)}


def _asg_row(i):
    return {"course_id": 100 + i % 5, "title": "Assignment %d" % i, "points_possible": float(10 * (1 + i % 10)),
            "grading_type": ("points", "percent", "letter_grade", "pass_fail")[i % 4],
            "submission_types": ["online_upload"] if i % 3 else ["online_text_entry", "online_url"],
            "due_at": None if i % 5 == 0 else tstamp(i * 86400), "position": i,
            "workflow_state": "published" if i % 9 else "unpublished",
            "created_at": tstamp(i * 60), "updated_at": tstamp(i * 3600)}


def _course_row(i):
    return {"account_id": 1, "enrollment_term_id": 1 + i % 3, "name": "Course %d" % i,
            "course_code": "C%d" % i, "sis_source_id": None if i % 4 == 0 else "SIS-C%d" % i,
            "workflow_state": ("available", "completed", "claimed", "deleted")[i % 4],
            "start_at": tstamp(i * 86400), "conclude_at": None if i % 2 else tstamp(i * 86400 + 86400 * 120),
            "settings": {"hide_final_grades": i % 2 == 0, "lock_all_announcements": False},
            "created_at": tstamp(i * 60), "updated_at": tstamp(i * 3600)}


def _user_row(i):
    return {"name": "Student %d" % i, "sortable_name": "%d, Student" % i,
            "workflow_state": "registered" if i % 10 else "deleted",
            "time_zone": None if i % 3 else "America/Denver", "locale": None,
            "created_at": tstamp(i * 60), "updated_at": tstamp(i * 3600)}


def _weblog_row(i):
    return {"timestamp": tstamp(i * 17), "user_id": 300 + i % 40,
            "course_id": None if i % 7 == 0 else 100 + i % 5,
            "url": "https://canvas.example.edu/courses/%d/assignments/%d" % (100 + i % 5, 200 + i % 12),
            "http_method": ("GET", "POST", "PUT")[i % 3], "http_status": "200" if i % 13 else "404",
            "user_agent": "Mozilla/5.0 (mock)", "session_id": "sess-%04d" % (i % 97),
            "request_id": "req-%08d" % i, "participated": i % 5 == 0}


INT_KEY = [("id", "int64")]
DAP_NS = {
    "canvas": {
        "submissions": (INT_KEY, [
            ("course_id", "int64", False), ("user_id", "int64", False),
            ("assignment_id", "int64", False), ("grader_id", "int64", True),
            ("score", "float64", True), ("published_score", "float64", True),
            ("grade", "string", True), ("published_grade", "string", True),
            ("attempt", "int32", True), ("submitted_at", "timestamp", True),
            ("graded_at", "timestamp", True), ("posted_at", "timestamp", True),
            ("excused", "boolean", True),
            ("late_policy_status", "enum", True, ["late", "missing", "extended", "none"]),
            ("points_deducted", "decimal", True), ("grading_period_id", "int64", True),
            ("workflow_state", "enum", False, ["submitted", "unsubmitted", "graded", "pending_review", "deleted"]),
            ("created_at", "timestamp", False), ("updated_at", "timestamp", False)], _sub_row),
        "scores": (INT_KEY, [
            ("enrollment_id", "int64", False), ("assignment_group_id", "int64", True),
            ("grading_period_id", "int64", True), ("course_score", "boolean", False),
            ("current_score", "float64", True), ("final_score", "float64", True),
            ("unposted_current_score", "float64", True), ("unposted_final_score", "float64", True),
            ("override_score", "float64", True), ("created_at", "timestamp", False),
            ("updated_at", "timestamp", False)], _score_row),
        "enrollments": (INT_KEY, [
            ("user_id", "int64", False), ("course_id", "int64", False),
            ("type", "enum", False, ["StudentEnrollment", "TeacherEnrollment", "TaEnrollment",
                                     "DesignerEnrollment", "ObserverEnrollment", "StudentViewEnrollment"]),
            ("workflow_state", "enum", False, ["active", "completed", "inactive", "deleted",
                                               "invited", "creation_pending", "rejected"]),
            ("course_section_id", "int64", False), ("role_id", "int64", False),
            ("start_at", "timestamp", True), ("end_at", "timestamp", True),
            ("last_activity_at", "timestamp", True), ("total_activity_time", "int32", True),
            ("created_at", "timestamp", False), ("updated_at", "timestamp", False)], _enr_row),
        "assignments": (INT_KEY, [
            ("course_id", "int64", False), ("title", "string", False),
            ("points_possible", "float64", True),
            ("grading_type", "enum", False, ["points", "percent", "letter_grade", "gpa_scale",
                                             "pass_fail", "not_graded"]),
            ("submission_types", "array", False), ("due_at", "timestamp", True),
            ("position", "int32", True),
            ("workflow_state", "enum", False, ["published", "unpublished", "deleted"]),
            ("created_at", "timestamp", False), ("updated_at", "timestamp", False)], _asg_row),
        "courses": (INT_KEY, [
            ("account_id", "int64", False), ("enrollment_term_id", "int64", False),
            ("name", "string", False), ("course_code", "string", True),
            ("sis_source_id", "string", True),
            ("workflow_state", "enum", False, ["available", "completed", "claimed", "created", "deleted"]),
            ("start_at", "timestamp", True), ("conclude_at", "timestamp", True),
            ("settings", "object", True),
            ("created_at", "timestamp", False), ("updated_at", "timestamp", False)], _course_row),
        "users": (INT_KEY, [
            ("name", "string", False), ("sortable_name", "string", True),
            ("workflow_state", "enum", False, ["pre_registered", "registered", "deleted"]),
            ("time_zone", "string", True), ("locale", "string", True),
            ("created_at", "timestamp", False), ("updated_at", "timestamp", False)], _user_row),
    },
    # the canvas_logs namespace keeps 30 days of web logs (limits-policies page)
    "canvas_logs": {
        "web_logs": ([("id", "string")], [
            ("timestamp", "timestamp", False), ("user_id", "int64", True),
            ("course_id", "int64", True), ("url", "string", False),
            ("http_method", "enum", False, ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
            ("http_status", "string", False), ("user_agent", "string", True),
            ("session_id", "string", True), ("request_id", "string", False),
            ("participated", "boolean", True)], _weblog_row),
    },
}
# compatibility: the canvas namespace's tables by name
DAP_TABLES = {t: (cols, fn) for t, (_, cols, fn) in DAP_NS["canvas"].items()}
DAP_FORMATS = ("jsonl", "csv", "tsv", "parquet")
# the fields of SnapshotQuery / IncrementalQuery (both additionalProperties: false)
DAP_QUERY_FIELDS = ("format", "filter", "since", "until")
# calls per minute per endpoint, developerdocs .../dap/limits-policies
DAP_REAL_LIMITS = {"create": 5, "job": 500, "list": 5, "schema": 500, "url": 200}
JSON_TYPES = {"int64": {"type": "integer", "format": "int64"},
              "int32": {"type": "integer", "format": "int32"},
              "float64": {"type": "number", "format": "float64"},
              "decimal": {"type": "number", "format": "decimal", "x-precision": 6, "x-scale": 2},
              "string": {"type": "string", "maxLength": 255},
              "boolean": {"type": "boolean"},
              "timestamp": {"type": "string", "format": "date-time"},
              "array": {"type": "array", "items": {"type": "string"}},
              "object": {"type": "object", "additionalProperties": True}}


def dap_spec(ns, table):
    """(key columns, value columns, row function) of a table, or None."""
    return DAP_NS.get(ns, {}).get(table)


def dap_key(spec, i):
    keys = spec[0]
    if keys[0][1] == "string":
        return {keys[0][0]: "wl-%08d" % i}
    return {keys[0][0]: i}


def dap_error(status, etype, message, **extra):
    err = {"type": etype, "uuid": str(uuid.uuid4()), "message": message}
    err.update(extra)
    return jresp(status, {"error": err})


def dap_validation_error(ctx, message, needle=None):
    """400 ValidationError; location (required by the spec) points at needle
    in the request body, or at its start."""
    text = ctx.body.decode("utf-8", "replace")
    at = max(0, text.find(needle)) if needle else 0
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return dap_error(400, "ValidationError", message,
                     location={"line": line, "column": column, "character": at + 1})


def dap_clock(ctx):
    """The DAP server's clock: the mock's, shifted by dap_clock_skew_s."""
    return ctx.now + float(ctx.app.state.scen()["dap_clock_skew_s"] or 0)


def dap_auth(ctx):
    tok = bearer(ctx) or (ctx.header("x-instauth") or "").strip()
    if not tok or check_jwt(tok, dap_clock(ctx), "dap") is None:
        return dap_error(401, "AuthenticationError", "Authentication failed: missing, invalid or expired token")
    ctx.token = tok
    sc = ctx.app.state.scen()
    lim = sc["dap_limits"] or {}
    if lim == "real":
        lim = DAP_REAL_LIMITS
    window = float(sc["dap_limit_window_s"])
    cat = ctx.auth_arg
    if cat in lim:
        st = ctx.app.state
        with st.lock:
            start, calls = st.dap_calls.get(cat, (ctx.now, 0))
            if ctx.now - start >= window:
                start, calls = ctx.now, 0
            if calls >= int(lim[cat]):
                wait = max(1, int(window - (ctx.now - start) + 0.999))
                r = dap_error(429, "TooManyRequestsError", "rate limit exceeded for %s" % cat)
                r.headers.append(("Retry-After", str(wait)))
                return r
            st.dap_calls[cat] = (start, calls + 1)
    return None


def r_dap_login(ctx):
    cid, sec = basic_credentials(ctx)
    grant = (ctx.form().get("grant_type") or [None])[-1]
    if not credentials_ok(ctx, cid, sec):
        return dap_error(401, "AuthenticationError", "Invalid client credentials")
    if grant != "client_credentials":
        return dap_error(400, "ValidationError", "grant_type must be client_credentials")
    ttl = int(ctx.app.state.scen()["token_ttl_s"])
    return jresp(200, {"access_token": make_jwt(cid, ttl, dap_clock(ctx), "dap"), "expires_in": ttl,
                       "scope": "urn:mock:dap:query urn:mock:dap:job urn:mock:dap:object",
                       "token_type": "Bearer"})


def _dap_ns(ctx):
    if ctx.m["ns"] not in DAP_NS:
        return dap_error(404, "NotFoundError", "namespace not found: %s" % ctx.m["ns"],
                         id=ctx.m["ns"], kind="namespace")
    return None


def _dap_table(ctx):
    bad = _dap_ns(ctx)
    if bad:
        return bad
    if dap_spec(ctx.m["ns"], ctx.m["t"]) is None:
        return dap_error(404, "NotFoundError", "table not found: %s" % ctx.m["t"], id=ctx.m["t"], kind="table")
    return None


def r_dap_tables(ctx):
    return _dap_ns(ctx) or jresp(200, {"tables": sorted(DAP_NS[ctx.m["ns"]])})


def dap_columns(ns, table, sc):
    """Value columns of a table, with the scenario's dap_extra_columns (a
    later schema version) appended."""
    keys, cols, _ = dap_spec(ns, table)
    extra = (sc.get("dap_extra_columns") or {}).get(table) or []
    return cols + [tuple(c) for c in extra]


def dap_json_type(col):
    t = dict(JSON_TYPES[col[1]]) if col[1] != "enum" else {"type": "string", "enum": list(col[3])}
    t["description"] = "%s (mock)" % col[0].replace("_", " ")
    return t


def dap_schema(ns, table, sc=None):
    """The table's JSON schema: an object of key, value and meta, as the
    VersionedSchema example of the OpenAPI document (nullable = not
    required; enums; date-time strings)."""
    keys, _, _ = dap_spec(ns, table)
    cols = dap_columns(ns, table, sc or {})
    value = {"type": "object", "properties": {}, "additionalProperties": False,
             "required": [c[0] for c in cols if not c[2]]}
    for c in cols:
        value["properties"][c[0]] = dap_json_type(c)
    key = {"type": "object", "additionalProperties": False,
           "properties": {k: dict(JSON_TYPES[t]) for k, t in keys}, "required": [k for k, _ in keys]}
    return {"type": "object",
            "title": "%s.%s (mock)" % (ns, table),
            "properties": {
                "key": key,
                "value": value,
                "meta": {"type": "object", "additionalProperties": False, "properties": {
                    "action": {"type": "string", "enum": ["U", "D"]},
                    "ts": {"type": "string", "format": "date-time"}}, "required": ["action", "ts"]}},
            "additionalProperties": False,
            "required": ["key", "meta"]}


def r_dap_schema(ctx):
    bad = _dap_table(ctx)
    if bad:
        return bad
    sc = ctx.app.state.scen()
    return jresp(200, {"version": int(sc["schema_version"]), "schema": dap_schema(ctx.m["ns"], ctx.m["t"], sc)})


def _parse_iso(s):
    try:
        return dt.datetime.fromisoformat(str(s).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def iso_us(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dap_job_json(ctx, job):
    st = job.cur()
    status = {"created": "waiting", "running": "running", "compiling": "running",
              "complete": "complete"}.get(st, "failed" if st in TERMINAL else job.raw)
    out = {"id": job.id, "status": status, "expires_at": iso(job.created + 86400)}
    if status == "complete":
        out["objects"] = [{"id": oid} for oid in job.extra["objects"]]
        out["schema_version"] = int(job.scen["job_schema_version"] if job.scen["job_schema_version"] is not None
                                    else job.scen["schema_version"])
        if job.extra["since"]:
            out["since"], out["until"] = job.extra["since"], job.extra["until"]
        elif job.extra.get("at"):
            out["at"] = job.extra["at"]
        else:
            out["at"] = iso(job.ended_at or ctx.now)
    elif status == "failed":
        out["error"] = {"type": "ProcessingError", "uuid": sign("err", job.id)[:8] + "-mock",
                        "message": job.error_message("query processing failed")}
    return jresp(200 if status in ("complete", "failed") else 202, out)


def dap_check_query(ctx, body):
    """None if body is a SnapshotQuery or IncrementalQuery, else the 400."""
    if not isinstance(body, dict):
        return dap_validation_error(ctx, "request body must be a JSON object")
    for k in body:
        if k not in DAP_QUERY_FIELDS:
            return dap_validation_error(ctx, "additional property %r is not allowed" % k, '"%s"' % k)
    if body.get("format") not in DAP_FORMATS:
        return dap_validation_error(ctx, "format must be one of tsv, csv, jsonl, parquet", '"format"')
    if body.get("filter") is not None:
        return dap_validation_error(ctx, "filter is not implemented and must be omitted", '"filter"')
    if "until" in body and "since" not in body:
        return dap_validation_error(ctx, "until is only allowed with since (an incremental query)", '"until"')
    for k in ("since", "until"):
        if k in body and (not isinstance(body[k], str) or _parse_iso(body[k]) is None):
            return dap_validation_error(ctx, "%s must be a date-time string" % k, '"%s"' % k)
    return None


def dap_store_of(st, ns, table):
    return st.dap_store.get((ns, table))


def r_dap_query(ctx):
    bad = _dap_table(ctx)
    if bad:
        return bad
    rj = reject_start(ctx)
    if rj:
        return rj
    body = ctx.json()
    bad = dap_check_query(ctx, body)
    if bad:
        return bad
    fmt = body["format"]
    if fmt == "parquet":
        return dap_error(400, "ValidationError", "parquet output is not available from this mock")
    since, until = body.get("since"), body.get("until")
    if since is not None:
        s, u = _parse_iso(since), (_parse_iso(until) if until is not None else ctx.now)
        if s < ctx.now - 30 * 86400:
            return dap_error(400, "SnapshotRequiredError", "since is too old, take a snapshot",
                             since=since, until=until)
        if s > ctx.now or u < s:
            return dap_error(400, "OutOfRangeError", "since/until outside the available range",
                             since=since, until=until)
    ns, table = ctx.m["ns"], ctx.m["t"]
    key = (ns, table, json.dumps(body, sort_keys=True))
    st = ctx.app.state
    with st.lock:
        for j in reversed(st.job_order):
            if j.kind == "dap" and j.extra["key"] == key and j.cur() != "error" \
                    and ctx.now < j.created + 86400 and not j.extra.get("expired"):
                j.peek(ctx.now)
                return dap_job_json(ctx, j)
        jid = str(uuid.uuid4())
        job = st.add_job("dap", jid, body)
        store = dap_store_of(st, ns, table)
        job.extra.update(key=key, ns=ns, table=table, format=fmt, since=since,
                         until=(until or iso_us(ctx.now)) if since else None,
                         extra_columns=dap_columns(ns, table, st.scenario)[len(dap_spec(ns, table)[1]):])
        if store is not None:
            # the result is the table's state when the query ran
            if since:
                lo, hi = _parse_iso(since), _parse_iso(job.extra["until"])
                recs = [(k, v, ts) for k, (v, ts) in sorted(store.items()) if lo <= ts <= hi]
            else:
                recs = [(k, v, ts) for k, (v, ts) in sorted(store.items()) if v is not None]
                job.extra["at"] = iso_us(ctx.now)
            job.extra["records"] = [(json.loads(k), v, ts) for k, v, ts in recs]
        n = max(1, int(job.scen["objects"]))
        job.extra["objects"] = ["%s/part-%05d.%s.gz" % (jid, k, fmt) for k in range(n)]
        for k, oid in enumerate(job.extra["objects"]):
            st.objects[oid] = (job, k)
    return jresp(202, {"id": job.id, "status": "waiting", "expires_at": iso(job.created + 86400)})


def dap_job_gone(ctx, job):
    return job is None or ctx.now >= job.created + 86400 or job.extra.get("expired")


def r_dap_job(ctx):
    st = ctx.app.state
    with st.lock:
        job = st.job("dap", ctx.m["id"])
        if dap_job_gone(ctx, job):
            return dap_error(404, "NotFoundError", "job not found: %s" % ctx.m["id"], id=ctx.m["id"], kind="job")
        job.step(ctx.now)
        return dap_job_json(ctx, job)


def dap_url(ctx, oid):
    """A presigned URL of object oid on the storage host, valid for
    dap_url_ttl_s seconds (X-Amz-Expires)."""
    ttl = int(ctx.app.state.scen()["dap_url_ttl_s"])
    path = "/__s3/" + oid
    sig = ctx.app.state.sign_url(path, ctx.now)
    q = urllib.parse.urlencode([("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                                ("X-Amz-Date", dt.datetime.utcfromtimestamp(ctx.now).strftime("%Y%m%dT%H%M%SZ")),
                                ("X-Amz-Expires", str(ttl)), ("X-Amz-SignedHeaders", "host"),
                                ("X-Amz-Signature", sig)])
    return "%s%s?%s" % (ctx.app.storage_base, urllib.parse.quote(path), q)


def r_dap_object_url(ctx):
    body = ctx.json()
    if not isinstance(body, list) or not all(isinstance(o, dict) and isinstance(o.get("id"), str)
                                             and set(o) == {"id"} for o in body):
        return dap_validation_error(ctx, 'body must be a list of {"id": ...} objects')
    st = ctx.app.state
    urls = {}
    for o in body:
        with st.lock:
            hit = st.objects.get(o["id"])
        if hit is None or dap_job_gone(ctx, hit[0]):
            return dap_error(404, "NotFoundError", "object not found: %s" % o["id"], id=o["id"], kind="object")
        urls[o["id"]] = {"url": dap_url(ctx, o["id"])}
    return jresp(200, {"urls": urls})


def dap_part_rows(job, k):
    """(first record index, count) of object k."""
    total = len(job.extra["records"]) if "records" in job.extra else int(job.scen["rows"])
    n = len(job.extra["objects"])
    per, extra = divmod(total, n)
    first = k * per + min(k, extra) + 1
    return first, per + (1 if k < extra else 0)


def dap_records(job, first, count):
    """(key, meta, value or None) of records first .. first+count-1 (1-based)."""
    ns, table = job.extra.get("ns", "canvas"), job.extra["table"]
    spec = dap_spec(ns, table)
    extra = job.extra.get("extra_columns") or []
    if "records" in job.extra:
        for key, value, ts in job.extra["records"][first - 1:first - 1 + count]:
            meta = {"action": "U" if value is not None else "D", "ts": iso_us(ts)}
            yield key, meta, value
        return
    incremental = bool(job.extra["since"])
    for i in range(first, first + count):
        meta = {"action": "D" if incremental and i % 10 == 0 else "U", "ts": tstamp(i * 60 + 30)}
        value = None
        if meta["action"] != "D":
            value = spec[2](i)
            for c in extra:
                value[c[0]] = None
        yield dap_key(spec, i), meta, value


def dap_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return v


def dap_blocks(job, k):
    first, count = dap_part_rows(job, k)
    ns = job.extra.get("ns", "canvas")
    keys, cols, _ = dap_spec(ns, job.extra["table"])
    cols = cols + (job.extra.get("extra_columns") or [])
    fmt = job.extra["format"]
    if fmt == "jsonl":
        out = []
        for key, meta, value in dap_records(job, first, count):
            rec = {"key": key, "meta": meta}
            if value is not None:
                rec["value"] = {c: v for c, v in value.items() if v is not None}
            out.append(json.dumps(rec) + "\n")
            if len(out) >= BLOCK_ROWS:
                yield "".join(out).encode()
                out = []
        if out:
            yield "".join(out).encode()
        return
    header = ["meta.action", "meta.ts"] + ["key." + k for k, _ in keys] + ["value." + c[0] for c in cols]
    recs = list(dap_records(job, first, count)) if count <= 100000 else None

    def row(j):
        key, meta, value = recs[j - 1] if recs is not None else next(dap_records(job, first + j - 1, 1))
        vals = [None if value is None else dap_text(value.get(c[0])) for c in cols]
        return tuple([meta["action"], meta["ts"]] + [key[k] for k, _ in keys] + vals)
    yield from table_blocks(header, row, count, fmt, {"header": True})


def capped(blocks, bps):
    """The blocks, paced to at most bps bytes per second (this connection)."""
    t0, sent, piece = time.time(), 0, max(1024, int(bps) // 20)
    for b in blocks:
        for pos in range(0, len(b), piece):
            part = b[pos:pos + piece]
            sent += len(part)
            ahead = sent / float(bps) - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
            yield part


def r_dap_object(ctx):
    """Object storage: the presigned URL must be one handed out for this
    object and not older than its X-Amz-Expires, else 403 AccessDenied (S3's
    XML error); a vanished object is 404 NoSuchKey (S3 answers 404 for a
    missing key when the caller may list the bucket)."""
    path = urllib.parse.unquote(ctx.path)
    sig = ctx.qget("X-Amz-Signature")
    with ctx.app.state.lock:
        rec = ctx.app.state.signed.get(sig)
        hit = ctx.app.state.objects.get(ctx.m["oid"])
    if rec is None or rec[0] != path:
        return storage_denied(ctx, "SignatureDoesNotMatch",
                              "The request signature we calculated does not match the signature you provided.")
    if ctx.now - rec[1] > float(ctx.app.state.scen()["dap_url_ttl_s"]):
        return storage_denied(ctx)
    if hit is None or dap_job_gone(ctx, hit[0]):
        r = storage_denied(ctx, "NoSuchKey", "The specified key does not exist.")
        r.status = 404
        return r
    job, k = hit
    bps = ctx.app.state.scen()["dap_storage_bps"]
    if ctx.app.state.scen()["dap_cache_objects"]:
        # the same bytes, generated once: a benchmark then measures the
        # reader, not this mock's Python (no behaviour of the API changes)
        cache = job.extra.setdefault("object_cache", {})
        if k not in cache:
            cache[k] = b"".join(gzip_blocks(dap_blocks(job, k)))
        data = cache[k]
        return Resp(200, None, "application/octet-stream", [],
                    stream=lambda: iter([data[i:i + 65536] for i in range(0, len(data), 65536)]))
    if bps:
        return Resp(200, None, "application/octet-stream", [],
                    stream=lambda: capped(gzip_blocks(dap_blocks(job, k)), bps))
    return Resp(200, None, "application/octet-stream", [], stream=lambda: gzip_blocks(dap_blocks(job, k)))


def dap_control(ctx):
    """/__mock/dap/*: the tables' live rows, and expiry of jobs.

    POST /__mock/dap/rows {"namespace", "table", "seed": N, "upsert": [{key
    fields and value fields}], "delete": [{key fields}]}: from then on that
    table's snapshots are its live rows and its incremental queries the
    changes committed in [since, until] (commit time = when this call ran).
    GET /__mock/dap/rows?namespace=&table= -> its live rows, by key.
    POST /__mock/dap/expire {"job": id or absent for all}: jobs and their
    objects are gone (404), as 24 h after their start."""
    st = ctx.app.state
    p, m = ctx.path, ctx.method
    if p == "/__mock/dap/expire" and m == "POST":
        js = ctx.json() or {}
        n = 0
        with st.lock:
            for j in st.job_order:
                if j.kind == "dap" and js.get("job") in (None, j.id):
                    j.extra["expired"] = True
                    n += 1
        return jresp(200, {"expired": n})
    if p != "/__mock/dap/rows":
        return None
    if m == "GET":
        ns, table = ctx.qget("namespace", "canvas"), ctx.qget("table")
    else:
        js = ctx.json()
        if not isinstance(js, dict):
            return jresp(400, {"error": "body must be a JSON object"})
        ns, table = js.get("namespace", "canvas"), js.get("table")
    spec = dap_spec(ns, table)
    if spec is None:
        return jresp(400, {"error": "unknown table %s.%s" % (ns, table)})
    keys = [k for k, _ in spec[0]]
    with st.lock:
        if m == "POST":
            store = st.dap_store.setdefault((ns, table), {})
            now = time.time()
            for i in range(1, int(js.get("seed") or 0) + 1):
                store[json.dumps(dap_key(spec, i), sort_keys=True)] = (spec[2](i), now)
            for row in js.get("upsert") or []:
                k = json.dumps({c: row[c] for c in keys}, sort_keys=True)
                old = store.get(k, (None, 0))[0] or {c[0]: None for c in spec[1]}
                new = dict(old)
                new.update({c: v for c, v in row.items() if c not in keys})
                store[k] = (new, now)
            for row in js.get("delete") or []:
                k = json.dumps({c: row[c] for c in keys}, sort_keys=True)
                if k in store:
                    store[k] = (None, now)
        store = st.dap_store.get((ns, table), {})
        live = [dict(json.loads(k), **v) for k, (v, _) in sorted(store.items()) if v is not None]
    live.sort(key=lambda r: tuple(r[k] for k in keys))
    return jresp(200, {"rows": live})


# ---------------------------------------------------------------------------
# Family: Brightspace Data Export + Brightspace Data Sets (/d2l/api/lp/:ver)
# ---------------------------------------------------------------------------
#
# Sources (cited below by tag):
#  [DE]   docs.valence.desire2learn.com/res/dataExport.html: the routes, DataSetData,
#         ExportJobData, EXPORTJOBSTATUS_T, the filters (startDate/endDate are UTC; the
#         page's own examples are "2016-02-24" and "2020-08-20T02:35:55.207Z").
#  [VER]  docs.valence.desire2learn.com/basic/version.html: GET /d2l/api/versions/ answers
#         [{ProductCode, LatestVersion, SupportedVersions: [...]}, ...].
#  [EX]   GH Brightspace/bds-headless-client-example main.py: the refresh_token grant at
#         /core/connect/token with HTTP Basic client authentication, form body
#         grant_type/refresh_token/scope, the new refresh token stored after every run;
#         /dataExport/bds/{plugin} answers a zip holding exactly one CSV, "UTF-8-BOM encoded".
#  [RFC]  RFC 6749 §5.1 (Cache-Control: no-store), §5.2 (error codes), §6 (refresh; the
#         server may issue a new refresh token and revoke the old one, which Brightspace
#         does on every refresh: shared docs lms-apis.md §0).
#  [ADS]  Brightspace help "About Advanced Data Sets" (Learning Environment docs, All Grades
#         "Returned Fields": User Id, Org Defined Id, Username, First Name, Last Name, ...):
#         Advanced Data Sets name their fields with spaces.  The exact Final Grades and
#         Enrollments and Withdrawals lists are NOT FOUND; the mock uses that spelling.
#  [BDS]  community.d2l.com kb 4527 "Grades data sets" (Grade Results: GradeObjectId,
#         OrgUnitId, UserId, PointsNumerator, ... PrivateComments) and kb 4529
#         "Organizational Units data sets" (OrgUnitId, Organization, Type, Name, Code, ...):
#         Brightspace Data Sets document their fields unspaced, and the mock serves them so.
#         Both spellings reach the same columns through the FDW's name rule.
#  [LIST] shared docs lms-apis.md §3.3: GET /dataExport/bds?page=&pageSize= answers
#         {"BrightspaceDataSets": [{PluginId, Name, Description, FullDataSet, CreatedDate,
#         DownloadLink, DownloadSize, Version, PreviousDataSets, QueuedForProcessingDate,
#         CurrentlyAvailable}], "NextPageUrl": url|null}.  The identifiers of previous
#         extracts and the differential plugin id below are invented (NOT FOUND).

D2L_FILTERS = {
    "startDate": {"Name": "startDate", "Type": 1, "Description": "Start date (UTC)", "DefaultValue": None},
    "endDate": {"Name": "endDate", "Type": 1, "Description": "End date (UTC)", "DefaultValue": None},
    "parentOrgUnitId": {"Name": "parentOrgUnitId", "Type": 2, "Description": "Parent org unit", "DefaultValue": "6606"},
    "roles": {"Name": "roles", "Type": 3, "Description": "Comma-separated role ids", "DefaultValue": None},
    "userId": {"Name": "userId", "Type": 4, "Description": "User id", "DefaultValue": None},
}


def _fg_row(i):
    ou = 6800 + i % 5
    num = round(((i * 37) % 1000) / 10, 1)
    return (ou, "OU%d" % ou, "Course %d" % ou, 300 + i, "user%d" % i, "S%d" % i, "First%d" % i,
            "Last%d" % i, num, 100, None if i % 10 == 0 else round(num / 100 * 80, 2), 80,
            "%.1f %%" % num, tstamp(i * 3600).replace("Z", ".000Z"))


def _ew_row(i):
    ou = 6800 + i % 5
    return (ou, "OU%d" % ou, "Course %d" % ou, 300 + i, "user%d" % i, "S%d" % i, "First%d" % i,
            "Last%d" % i, "Student", "Unenroll" if i % 9 == 0 else "Enroll",
            tstamp(i * 3600).replace("Z", ".000Z"))


def _gr_row(i):
    go = 7000 + (i - 1) % 10
    num = None if i % 12 == 0 else round(((i * 29) % 101) * 1.0, 1)
    return (go, 6800 + go % 3, 300 + (i - 1) // 10, num, 100, None if num is None else round(num / 10, 2), 10,
            "False" if i % 6 == 0 else "True", "True" if i % 15 == 0 else "False",
            None if num is None else tstamp(i * 3600).replace("Z", ".000Z"),
            None if num is None else 40 + i % 3, "Well done" if i % 4 == 0 else None,
            "checked" if i % 8 == 0 else None)


def _ou_row(i):
    kind = ("Course Offering", "Department", "Semester")[i % 3]
    return (6800 + i, "Mock University", kind, "%s %d" % (kind, i), "OU%d" % (6800 + i),
            tstamp(86400 * i).replace("Z", ".000Z"), None, "True" if i % 7 else "False",
            tstamp(3600 * i).replace("Z", ".000Z"), "False", None, None)


# [ADS] spaced field names
_ADS_PEOPLE = ["Org Unit Id", "Org Unit Code", "Org Unit Name", "User Id", "Username", "Org Defined Id",
               "First Name", "Last Name"]
D2L_SETS = {
    "b6f4a2f3-1c7e-4c39-9a51-3e3f4b8a1f01": {
        "Name": "Final Grades", "Category": "Grades",
        "Description": "Final grade of every user in every org unit.",
        "filters": ["startDate", "endDate", "parentOrgUnitId", "roles"],
        "header": _ADS_PEOPLE + ["Points Numerator", "Points Denominator", "Weighted Numerator",
                                 "Weighted Denominator", "Grade Value", "Last Modified"],
        "row": _fg_row},
    "c27a1d0e-5b8f-4e62-8d14-7a9e2c6b3f02": {
        "Name": "Enrollments and Withdrawals", "Category": "Enrollments",
        "Description": "Enrollment and withdrawal events of users in org units.",
        "filters": ["startDate", "endDate", "parentOrgUnitId", "roles"],
        "header": _ADS_PEOPLE + ["Role Name", "Action", "Action Date"],
        "row": _ew_row},
}

# [BDS] fields as documented; [LIST] one entry per plugin (full and differential are
# separate plugins).  "extracts": (identifier, created offset in hours, rows(n)) newest first.
_GR_HEADER = ["GradeObjectId", "OrgUnitId", "UserId", "PointsNumerator", "PointsDenominator",
              "WeightedNumerator", "WeightedDenominator", "IsReleased", "IsDropped",
              "LastModified", "LastModifiedBy", "Comments", "PrivateComments"]
BDS_SETS = {
    "9d8a96b4-8145-416d-bd18-11402bc58f8d": {
        "Name": "Grade Results", "Description": "Grade results of users on grade objects.",
        "full": True, "header": _GR_HEADER, "row": _gr_row,
        "extracts": [("20240104-0000", 72, lambda n: n), ("20240103-0000", 48, lambda n: max(1, n - 2)),
                     ("20240102-0000", 24, lambda n: max(1, n - 4))]},
    "b1f0c3d2-7e4a-4b8e-9f61-2d5c8a9e0d13": {
        "Name": "Grade Results", "Description": "Grade results changed since the previous extract.",
        "full": False, "header": _GR_HEADER, "row": _gr_row,
        "extracts": [("20240104-1200", 84, lambda n: max(1, n // 5)),
                     ("20240103-1200", 60, lambda n: max(1, n // 5 - 1))]},
    "07a9e561-e22f-4e82-8dd6-7bfb14c91776": {
        "Name": "Organizational Units", "Description": "Details about all org units.",
        "full": True, "row": _ou_row,
        "header": ["OrgUnitId", "Organization", "Type", "Name", "Code", "StartDate", "EndDate", "IsActive",
                   "CreatedDate", "IsDeleted", "DeletedDate", "RecycledDate"],
        "extracts": [("20240104-0000", 72, lambda n: n)]},
}
D2L_STATUS = {"created": 0, "running": 1, "compiling": 1, "complete": 2, "error": 3,
              "deleted": 4, "aborted": 4, "canceled": 4}

# [VER] LP versions the mock site offers, ascending as D2L lists them (1.9 before 1.10)
D2L_LP_VERSIONS = ["1.%d" % k for k in range(0, 50)]


def d2l_versions(ctx):
    return ctx.app.state.scen()["d2l_lp_versions"] or D2L_LP_VERSIONS


# -- OAuth 2.0 grants ([EX], [RFC]) --------------------------------------------
#
# The authorization server (auth.brightspace.com in production) is a service of its own,
# so its grants survive /__mock/reset; /__mock/d2l/authorize plays the person who
# authorises the app in a browser and hands out a first refresh token.

class D2lGrants:
    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = {}        # refresh token -> {n, client_id, state, issued, used, parent}
        self.events = []        # every refresh_token grant: {t, presented, outcome, issued}
        self.serial = 0

    def issue(self, cid, now, parent=None):
        self.serial += 1
        tok = "rt-%d-%s" % (self.serial, uuid.uuid4().hex)
        self.tokens[tok] = {"n": self.serial, "client_id": cid, "state": "live", "issued": now,
                            "used": None, "parent": parent}
        return tok

    def summary(self):
        with self.lock:
            return {"tokens": sorted(self.tokens.values(), key=lambda x: x["n"]),
                    "events": list(self.events),
                    "refreshed": sum(1 for e in self.events if e["outcome"] == "ok"),
                    "reused": sum(1 for e in self.events if e["outcome"] == "reused")}


D2L_GRANTS = D2lGrants()
_SCOPE_RX = re.compile(r"^[a-z]+:[a-z*]+:[a-z*]+$")


def d2l_control(ctx):
    if ctx.path == "/__mock/d2l/authorize" and ctx.method == "POST":
        js = ctx.json() or {}
        with D2L_GRANTS.lock:
            tok = D2L_GRANTS.issue(str(js.get("client_id") or ""), ctx.now)
            return jresp(200, {"refresh_token": tok, "n": D2L_GRANTS.tokens[tok]["n"]})
    if ctx.path == "/__mock/d2l/grants" and ctx.method == "GET":
        return jresp(200, D2L_GRANTS.summary())
    return None


def _oauth_error(status, code, desc=None):
    body = {"error": code}
    if desc:
        body["error_description"] = desc
    return jresp(status, body, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])


def r_d2l_token(ctx):
    # [RFC] §6: a form-encoded POST; JSON bodies are not read
    if "application/x-www-form-urlencoded" not in (ctx.header("Content-Type") or "").lower():
        return _oauth_error(400, "invalid_request", "form body expected")
    cid, sec = basic_credentials(ctx)
    form = ctx.form()
    grant = (form.get("grant_type") or [None])[-1]
    if not credentials_ok(ctx, cid, sec):
        return _oauth_error(401, "invalid_client")
    if grant != "refresh_token":
        # the authorization code itself is exchanged in the browser flow, not by the FDW
        return _oauth_error(400, "unsupported_grant_type")
    scope = (form.get("scope") or ["datahub:dataexports:*"])[-1]
    if not all(_SCOPE_RX.match(s) for s in scope.split()):
        return _oauth_error(400, "invalid_scope")
    presented = (form.get("refresh_token") or [""])[-1]
    with D2L_GRANTS.lock:
        entry = D2L_GRANTS.tokens.get(presented)
        event = {"t": ctx.now, "presented": entry["n"] if entry else None, "issued": None}
        D2L_GRANTS.events.append(event)
        if entry is None or entry["client_id"] not in (cid, ""):
            event["outcome"] = "unknown"
            return _oauth_error(400, "invalid_grant")
        if entry["state"] != "live":
            # [RFC] §6 + lms-apis §0: the old refresh token stopped working when it was used
            event["outcome"] = "reused"
            return _oauth_error(400, "invalid_grant")
        entry["state"] = "used"
        entry["used"] = ctx.now
        new = D2L_GRANTS.issue(cid, ctx.now, entry["n"])
        event.update(outcome="ok", issued=D2L_GRANTS.tokens[new]["n"])
    ttl = float(ctx.app.state.scen()["d2l_access_ttl_s"])
    issued = time.time()        # after any injected delay: the token lives ttl from now
    access = make_jwt(cid, ttl, issued, "d2l", exp=issued + ttl, scope=scope)
    return jresp(200, {"access_token": access, "token_type": "Bearer", "expires_in": int(ttl) if ttl >= 1 else 1,
                       "refresh_token": new, "scope": scope},
                 [("Cache-Control", "no-store"), ("Pragma", "no-cache")])


def _scope_allows(scope, need):
    for s in (scope or "").split():
        parts = s.split(":")
        if len(parts) == 3 and parts[0] == "datahub" and parts[1] in ("*", "dataexports") and \
                parts[2] in ("*", need):
            return True
    return False


def d2l_auth(ctx):
    tok = bearer(ctx)
    claims = None
    if tok is not None and tok.count(".") == 2:
        claims = check_jwt(tok, ctx.now, "d2l")
        if claims is None:
            return Resp(401, b"", TEXT_CT, [("WWW-Authenticate", 'Bearer error="invalid_token"')])
    if tok is None:
        return Resp(401, b"", TEXT_CT, [("WWW-Authenticate", 'Bearer error="invalid_token"')])
    if ctx.m.get("ver") != "unstable" and ctx.m.get("ver") not in d2l_versions(ctx):
        return tresp(404, "Unsupported API version")
    need = "download" if "/download/" in ctx.path or ctx.m.get("pid") else "read"
    if claims is not None and not _scope_allows(claims.get("scope"), need):
        return Resp(403, b"", TEXT_CT, [("WWW-Authenticate", 'Bearer error="insufficient_scope"')])
    ctx.token = tok
    st = ctx.app.state
    with st.lock:
        b = st.scenario["d2l_bucket"]
        start, used = st.d2l_window
        window = float(b["window_s"])
        if ctx.now - start >= window:
            start, used = ctx.now, 0
        reset_in = max(1, int(window - (ctx.now - start) + 0.999))
        if used + int(b["cost"]) > int(b["limit"]):
            st.d2l_window = [start, used]
            return Resp(429, b"", TEXT_CT, [("Retry-After", str(reset_in))])
        used += int(b["cost"])
        st.d2l_window = [start, used]
        ctx.d2l_headers = [("X-Rate-Limit-Remaining", str(int(b["limit"]) - used)),
                           ("X-Rate-Limit-Reset", str(reset_in)), ("X-Request-Cost", str(int(b["cost"])))]
    return None


def d2l_post(ctx, resp):
    if resp.status < 400 or resp.status == 404:
        resp.headers.extend(getattr(ctx, "d2l_headers", []))


def r_d2l_versions(ctx):
    vers = d2l_versions(ctx)
    return jresp(200, [{"ProductCode": "lp", "LatestVersion": vers[-1], "SupportedVersions": list(vers)},
                       {"ProductCode": "le", "LatestVersion": "1.82",
                        "SupportedVersions": ["1.%d" % k for k in range(0, 83)]}])


def d2l_set_json(dsid):
    s = D2L_SETS[dsid]
    return {"DataSetId": dsid, "Name": s["Name"], "Description": s["Description"],
            "Category": s["Category"], "Filters": [dict(D2L_FILTERS[f]) for f in s["filters"]]}


def r_d2l_list(ctx):
    return jresp(200, [d2l_set_json(k) for k in D2L_SETS])


def r_d2l_list_one(ctx):
    if ctx.m["dsid"] not in D2L_SETS:
        return tresp(404, "Data set not found")
    return jresp(200, d2l_set_json(ctx.m["dsid"]))


def d2l_job_json(job):
    st = job.cur()
    status = D2L_STATUS.get(st)
    if status is None:
        status = int(job.raw) if str(job.raw).isdigit() else job.raw
    s = D2L_SETS[job.extra["dsid"]]
    return {"ExportJobId": job.id, "DataSetId": job.extra["dsid"], "Name": s["Name"],
            "SubmitDate": iso(job.created).replace("Z", ".000Z"), "Status": status,
            "Category": s["Category"]}


# [DE] DateTime filters: a date or an ISO 8601 UTC instant ("Z"); a local or offset time
# (what a client's own date style would print) is refused.
_D2L_DATE_RX = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z)?$")


def _d2l_bad_filter(name, value):
    if name in ("startDate", "endDate"):
        return not isinstance(value, str) or not _D2L_DATE_RX.match(value) or \
            _parse_iso(value if "T" in value else value + "T00:00:00Z") is None
    if name in ("parentOrgUnitId", "userId"):
        return not str(value).isdigit()
    if name == "roles":
        return not all(p.strip().isdigit() for p in str(value).split(",") if p.strip())
    return False


def r_d2l_create(ctx):
    rj = reject_start(ctx)
    if rj:
        return rj
    body = ctx.json()
    if not isinstance(body, dict) or body.get("DataSetId") not in D2L_SETS:
        return tresp(400, "Invalid DataSetId")
    allowed = D2L_SETS[body["DataSetId"]]["filters"]
    for f in body.get("Filters") or []:
        if not isinstance(f, dict) or f.get("Name") not in allowed or _d2l_bad_filter(f["Name"], f.get("Value")):
            return tresp(400, "Invalid filter: %s" % (f.get("Name") if isinstance(f, dict) else f))
    st = ctx.app.state
    with st.lock:
        job = st.add_job("d2l", str(uuid.UUID(int=st.next_id() * 7919 + 0x5eed)), body)
        job.extra["dsid"] = body["DataSetId"]
        out = d2l_job_json(job)
    out["Status"] = 0
    return jresp(200, out)


def r_d2l_job(ctx):
    st = ctx.app.state
    with st.lock:
        job = st.job("d2l", ctx.m["id"])
        if job is None:
            return tresp(404, "Export job not found")
        job.step(ctx.now)
        return jresp(200, d2l_job_json(job))


def r_d2l_jobs(ctx):
    try:
        page = max(1, int(ctx.qget("page", "1")))
    except ValueError:
        page = 1
    st = ctx.app.state
    with st.lock:
        jobs = [j for j in reversed(st.job_order) if j.kind == "d2l"]
        for j in jobs:
            j.peek(ctx.now)
        return jresp(200, [d2l_job_json(j) for j in jobs[(page - 1) * 100: page * 100]])


class _Sink:
    """Write-only file object collecting what ZipFile writes (streaming zip)."""

    def __init__(self):
        self.parts = []

    def write(self, b):
        self.parts.append(bytes(b))
        return len(b)

    def flush(self):
        pass

    def drain(self):
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def zip_blocks(member, blocks, big=False):
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(member, date_time=time.gmtime(T0)[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=big) as f:
            for b in blocks:
                f.write(b)
                out = sink.drain()
                if out:
                    yield out
    yield sink.drain()


def d2l_zip(name, header, row_fn, rows, body_file=None, bom=False):
    member = name.replace(" ", "") + ".csv"
    if body_file:
        big = os.path.getsize(body_file) > (1 << 31) - (1 << 20)
        factory = lambda: zip_blocks(member, file_blocks(body_file), big)      # noqa: E731
    else:
        factory = lambda: zip_blocks(member, table_blocks(                        # noqa: E731
            header, row_fn, rows, "csv", {"header": True, "bom": bom}))
    return Resp(200, None, "application/zip",
                [("Content-Disposition", 'attachment; filename="%s.zip"' % name.replace(" ", ""))],
                stream=factory)


def r_d2l_download(ctx):
    job = ctx.app.state.job("d2l", ctx.m["id"])
    if job is None:
        return tresp(404, "Export job not found")
    with ctx.app.state.lock:
        job.peek(ctx.now)
        state = job.cur()
    if state != "complete":
        return tresp(404 if state in TERMINAL else 400, "Export job is not complete")
    s = D2L_SETS[job.extra["dsid"]]
    return d2l_zip(s["Name"], s["header"], s["row"], int(job.scen["rows"]), job.scen["body_file"])


# -- Brightspace Data Sets ([LIST], [EX]) ---------------------------------------

_BDS_SIZES = {}


def bds_extract_zip(ctx, pid, k):
    """The zip of extract k (0 = current) of plugin pid: one CSV with a BOM ([EX])."""
    s = BDS_SETS[pid]
    sc = ctx.app.state.scen()
    rows = s["extracts"][k][2](int(sc["rows"]))
    # previous extracts hold other rows than the current one (an offset into the sequence)
    row = (lambda i: s["row"](i + 1000 * k)) if k else s["row"]
    return d2l_zip(s["Name"], s["header"], row, rows, sc["body_file"] if k == 0 and s["full"] else None,
                   bom=True)


def _bds_extract_json(ctx, pid, k, base):
    s = BDS_SETS[pid]
    ident, hours, _ = s["extracts"][k]
    sc = ctx.app.state.scen()
    key = (pid, k, int(sc["rows"]), sc["body_file"])
    if key not in _BDS_SIZES:
        _BDS_SIZES[key] = stream_size(bds_extract_zip(ctx, pid, k).stream)
    link = "%s/download/%s" % (base, pid) if k == 0 else "%s/%s/%s" % (base, pid, ident)
    return {"PluginId": pid, "Name": s["Name"], "Description": s["Description"],
            "FullDataSet": s["full"], "CreatedDate": iso(T0 + 3600 * hours).replace("Z", ".000Z"),
            "DownloadLink": link, "DownloadSize": _BDS_SIZES[key]}


def bds_json(ctx, pid, full=False):
    base = "%s/d2l/api/lp/%s/dataExport/bds" % (ctx.app.base, ctx.m["ver"])
    out = _bds_extract_json(ctx, pid, 0, base)
    if not full:            # bds/list: the short form
        del out["FullDataSet"]
        return out
    out.update(Version="1.0", QueuedForProcessingDate=None, CurrentlyAvailable=True,
               PreviousDataSets=[_bds_extract_json(ctx, pid, k, base)
                                 for k in range(1, len(BDS_SETS[pid]["extracts"]))])
    return out


def r_bds_list(ctx):
    return jresp(200, [bds_json(ctx, pid) for pid in BDS_SETS])


def r_bds_page(ctx):
    try:
        page = int(ctx.qget("page", "1"))
        size = int(ctx.qget("pageSize", "100"))
    except ValueError:
        return tresp(400, "Invalid paging parameters")
    if page < 1 or size < 1:
        return tresp(400, "Invalid paging parameters")
    cap = ctx.app.state.scen()["bds_page_size"]
    if cap:
        size = min(size, int(cap))
    items = [bds_json(ctx, pid, True) for pid in BDS_SETS]
    base = "%s/d2l/api/lp/%s/dataExport/bds" % (ctx.app.base, ctx.m["ver"])
    nxt = "%s?page=%d&pageSize=%d" % (base, page + 1, size) if page * size < len(items) else None
    prev = "%s?page=%d&pageSize=%d" % (base, page - 1, size) if page > 1 else None
    return jresp(200, {"BrightspaceDataSets": items[(page - 1) * size: page * size],
                       "NextPageUrl": nxt, "PrevPageUrl": prev})


def r_bds_download(ctx):
    pid = ctx.m["pid"]
    if pid not in BDS_SETS:
        return tresp(404, "Data set not found")
    ident = ctx.m.get("ident")
    k = 0
    if ident is not None:
        idents = [e[0] for e in BDS_SETS[pid]["extracts"]]
        if ident not in idents:
            return tresp(404, "Data set not found")
        k = idents.index(ident)
    return bds_extract_zip(ctx, pid, k)


# ---------------------------------------------------------------------------
# Route table
# ---------------------------------------------------------------------------

# auth: "canvas" = Bearer + leaky bucket headers, "bearer" = Bearer only, None = open,
#       "dap:<limit category>" = DAP token + per-minute limits, "d2l" = token + credit bucket
ROUTES = []


def route(method, pattern, auth, fn):
    ROUTES.append((method, re.compile("^" + pattern + "$"), auth, fn))


A = r"/api/v1/accounts/(?P<aid>[^/]+)/reports"
route("GET", A, "canvas", r_report_list)
route("POST", A + r"/(?P<report>[^/]+)", "canvas", r_report_start)
route("GET", A + r"/(?P<report>[^/]+)", "canvas", r_report_index)
route("GET", A + r"/(?P<report>[^/]+)/(?P<id>\d+)", "canvas", r_report_status)
route("PUT", A + r"/(?P<report>[^/]+)/(?P<id>\d+)/abort", "canvas", r_report_abort)
route("DELETE", A + r"/(?P<report>[^/]+)/(?P<id>\d+)", "canvas", r_report_delete)
# non-API pages (tokens ignored: login redirect) and the file download
route("GET", r"/accounts/(?P<aid>[^/]+)/files/(?P<fid>\d+)/download", "web", r_web_page)
route("POST", r"/courses/(?P<cid>[^/]+)/gradebook_csv", "web", r_web_page)
route("GET", r"/login(?:/canvas)?", "web", r_login)
route("GET", r"/files/(?P<fid>\d+)/download", "canvas_file", r_file_download)
route("GET", r"/__storage/(?P<fid>\d+)", None, r_storage)
C = r"/api/v1/courses/(?P<cid>[^/]+)"
route("GET", C + r"/enrollments", "canvas", r_course_enrollments)
route("GET", C + r"/students/submissions", "canvas", r_course_submissions)
route("GET", C + r"/analytics/student_summaries", "canvas", r_course_summaries)

route("POST", r"/generic/exports", "bearer", r_generic_start)
route("GET", r"/generic/exports/(?P<id>[^/]+)", "bearer", r_generic_status)
route("DELETE", r"/generic/exports/(?P<id>[^/]+)", "bearer", r_generic_cancel)
route("GET", r"/generic/files/(?P<id>[^/]+)", "bearer", r_generic_file)
route("GET", r"/generic/redirect/(?P<id>[^/]+)", "bearer", r_generic_redirect)
route("GET", r"/__storage/generic/(?P<id>[^/]+)", None, r_generic_storage)

D = r"/dap(?:/beta)?"
route("POST", r"/ids/auth/login", None, r_dap_login)
route("GET", D + r"/query/(?P<ns>[^/]+)/table", "dap:list", r_dap_tables)
route("GET", D + r"/query/(?P<ns>[^/]+)/table/(?P<t>[^/]+)/schema", "dap:schema", r_dap_schema)
route("POST", D + r"/query/(?P<ns>[^/]+)/table/(?P<t>[^/]+)/data", "dap:create", r_dap_query)
route("GET", D + r"/job/(?P<id>[^/]+)", "dap:job", r_dap_job)
route("POST", D + r"/object/url", "dap:url", r_dap_object_url)
route("GET", r"/__s3/(?P<oid>.+)", None, r_dap_object)

L = r"/d2l/api/lp/(?P<ver>1\.\d+|unstable)/dataExport"
route("POST", r"/core/connect/token", None, r_d2l_token)
route("GET", r"/d2l/api/versions/?", None, r_d2l_versions)
route("GET", L + r"/list", "d2l", r_d2l_list)
route("GET", L + r"/list/(?P<dsid>[^/]+)", "d2l", r_d2l_list_one)
route("POST", L + r"/create", "d2l", r_d2l_create)
route("GET", L + r"/jobs", "d2l", r_d2l_jobs)
route("GET", L + r"/jobs/(?P<id>[^/]+)", "d2l", r_d2l_job)
route("GET", L + r"/download/(?P<id>[^/]+)", "d2l", r_d2l_download)
route("GET", L + r"/bds/list", "d2l", r_bds_list)
route("GET", L + r"/bds", "d2l", r_bds_page)
route("GET", L + r"/bds/download/(?P<pid>[^/]+)", "d2l", r_bds_download)
route("GET", L + r"/bds/(?P<pid>[0-9a-f-]{36})", "d2l", r_bds_download)
route("GET", L + r"/bds/(?P<pid>[^/]+)/(?P<ident>[^/]+)", "d2l", r_bds_download)

# family auth checks (run after routing; may refuse) and response hooks
AUTH_CHECKS = {"dap": dap_auth, "d2l": d2l_auth}
POST_HOOKS = {"d2l": d2l_post}


# ---------------------------------------------------------------------------
# Auth and the Canvas leaky bucket
# ---------------------------------------------------------------------------

def bearer(ctx):
    auth = ctx.header("Authorization") or ""
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return None


def canvas_401():
    return jresp(401, {"errors": [{"message": "Invalid access token."}]},
                 [("WWW-Authenticate", 'Bearer realm="canvas-lms"')])


def check_bearer(ctx):
    tok = bearer(ctx)
    want = ctx.app.state.scen()["require_token"]
    if tok is None or (want is not None and tok != want):
        return canvas_401()
    ctx.token = tok
    return None


def fmt_float(x):
    return repr(round(float(x), 4))


class Bucket:
    """Per-token leaky bucket following the Canvas request throttle.

    As in canvas-lms app/middleware/request_throttle.rb (LeakyBucket
    #reserve_capacity), the up-front charge is added in one atomic step (the
    Redis script increment_bucket.lua), the "full?" check reads the count
    that step returned, and the charge is given back in a second step after
    the response has been built, throttled or not; X-Rate-Limit-Remaining is
    hwm minus the count after that second step.  Requests that overlap see
    each other's up-front charges, so a throttled answer can report a count
    above the high-water mark: a negative remaining (lms-apis.md section
    1.7).  bucket.hold_s is how long a throttled request stays between the
    two steps (the time Canvas's stack spends on it); 0 by default.
    """

    @staticmethod
    def _step(ctx, amount, now):
        st = ctx.app.state
        b = st.scenario["bucket"]
        key = hashlib.sha256(ctx.token.encode()).hexdigest()
        count, last = st.buckets.get(key, (0.0, now))
        count = max(0.0, count - float(b["outflow"]) * max(0.0, now - last))
        count = min(float(b["max"]), max(0.0, count + amount))
        st.buckets[key] = (count, now)
        return count

    @staticmethod
    def pre(ctx):
        st = ctx.app.state
        with st.lock:
            sc = st.scenario
            b = sc["bucket"]
            count = Bucket._step(ctx, float(b["up_front"]), ctx.now)
            throttled = sc["throttle"] != "off" and count >= float(b["hwm"])
            hold = float(b.get("hold_s") or 0.0)
        if not throttled:
            return None
        status = 403 if sc["throttle"] == "legacy" else 429
        resp = tresp(status, "403 Forbidden (Rate Limit Exceeded)\n")
        if hold > 0:
            time.sleep(hold)
        with st.lock:
            # the rejected request's up-front charge is given back (its cost is ~0)
            count = Bucket._step(ctx, -float(b["up_front"]), time.time())
        resp.headers.append(("X-Rate-Limit-Remaining", fmt_float(float(b["hwm"]) - count)))
        return resp

    @staticmethod
    def post(ctx, resp):
        st = ctx.app.state
        with st.lock:
            b = st.scenario["bucket"]
            count = Bucket._step(ctx, float(b["cost"]) - float(b["up_front"]), time.time())
            resp.headers.append(("X-Request-Cost", fmt_float(b["cost"])))
            resp.headers.append(("X-Rate-Limit-Remaining", fmt_float(float(b["hwm"]) - count)))


def fault_response(f):
    kind = f.get("kind")
    headers = list((f.get("headers") or {}).items())
    if kind in ("canvas_throttle_403", "canvas_throttle_429"):
        status = 403 if kind == "canvas_throttle_403" else 429
        return tresp(status, "403 Forbidden (Rate Limit Exceeded)\n",
                     headers=[("X-Rate-Limit-Remaining", "0.0")] + headers)
    body = f.get("body")
    status = int(f.get("status", 500))
    if f.get("body_size") is not None or f.get("trickle_ms") is not None:
        # a long answer: `body` first, then `fill` bytes up to `body_size`
        # bytes in all (-1: endless), chunked; `trickle_ms`: one byte each
        # time (Handler.send_long_body)
        resp = Resp(status, str(body or "").encode(), f.get("content_type") or TEXT_CT, headers)
        resp.long_body = (int(f.get("body_size", -1)), float(f.get("trickle_ms") or 0) / 1000.0,
                          str(f.get("fill") or " ").encode()[:1])
        return resp
    if isinstance(body, (dict, list)):
        return Resp(status, json.dumps(body).encode(), f.get("content_type") or JSON_CT, headers)
    if f.get("body_base64") is not None:
        return Resp(status, base64.b64decode(f["body_base64"]), f.get("content_type") or TEXT_CT,
                    headers)
    if body is None:
        body = ""
    return Resp(status, str(body).encode(), f.get("content_type") or TEXT_CT, headers)


# ---------------------------------------------------------------------------
# Control API (/__mock/*)
# ---------------------------------------------------------------------------

def control(ctx):
    st = ctx.app.state
    p, m = ctx.path, ctx.method
    if p.startswith("/__mock/d2l/"):
        out = d2l_control(ctx)
        if out is not None:
            return out
    if p == "/__mock/reset" and m == "POST":
        st.reset()
        return jresp(200, {"ok": True})
    if p == "/__mock/scenario" and m == "GET":
        return jresp(200, st.scen())
    if p == "/__mock/scenario" and m == "POST":
        js = ctx.json()
        if not isinstance(js, dict):
            return jresp(400, {"error": "scenario body must be a JSON object"})
        with st.lock:
            try:
                st.scenario = merge_scenario(st.scenario, js)
            except ValueError as e:
                return jresp(400, {"error": str(e)})
            # new limits start from an empty bucket / window
            if "bucket" in js:
                st.buckets = {}
            if "d2l_bucket" in js:
                st.d2l_window = [0.0, 0]
            if "dap_limits" in js:
                st.dap_calls = {}
            return jresp(200, st.scen())
    if p.startswith("/__mock/dap/"):
        r = dap_control(ctx)
        if r is not None:
            return r
    if p == "/__mock/requests" and m == "GET":
        with st.lock:
            return jresp(200, list(st.log))
    if p == "/__mock/jobs" and m == "GET":
        with st.lock:
            for j in st.job_order:
                j.peek(ctx.now)
            return jresp(200, [j.summary() for j in st.job_order])
    return jresp(404, {"error": "unknown control endpoint %s %s" % (m, p)})


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------

class Truncated(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock_lms/1.0"
    disable_nagle_algorithm = True      # headers and body go out in separate writes
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if not self.server.app.quiet:
            sys.stderr.write("[%s] %s %s\n" % (self.server.listener, self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    # -- request body ------------------------------------------------------
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # -- main entry ----------------------------------------------------------
    def dispatch(self):
        app = self.server.app
        listener = self.server.listener
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, url.query
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        ctx = Ctx(app, self, self.command, path, query, body, listener)
        if path.startswith("/__mock/"):
            self.send(control(ctx), ctx)
            return
        auth = self.headers.get("Authorization")
        entry = {"seq": 0, "t": ctx.now, "listener": listener, "method": self.command,
                 "path": path, "query": query, "client_port": self.client_address[1],
                 "authorization": auth is not None,
                 "auth_scheme": auth.split(" ", 1)[0] if auth else None,
                 "status": None, "body": body[:2000].decode("utf-8", "replace")}
        with app.state.lock:
            entry["seq"] = len(app.state.log) + 1
            app.state.log.append(entry)
        self.entry = entry
        try:
            resp = self.handle_request(ctx)
        except Exception:                                   # noqa: BLE001
            traceback.print_exc()
            resp = jresp(500, {"errors": [{"message": "mock internal error"}]})
        if resp is None:
            return
        self.send(resp, ctx)
        # how many requests had arrived when this one was answered (overlap of downloads)
        with app.state.lock:
            entry["done_after"] = len(app.state.log)

    def handle_request(self, ctx):
        app = ctx.app
        fault = app.state.take_fault(ctx.method, ctx.path, ctx.listener)
        delay = 0.0
        if fault:
            kind = fault.get("kind")
            if kind == "reset":
                self.entry["status"] = 0
                self.hard_reset()
                return None
            if kind == "delay":
                delay = float(fault.get("delay_s", 1))
            else:
                return fault_response(fault)
        for method, rx, auth, fn in ROUTES:
            mm = rx.match(ctx.path)
            if mm and (method == ctx.method or (method == "GET" and ctx.method == "HEAD")):
                break
        else:
            if any(rx.match(ctx.path) for _, rx, _, _ in ROUTES):
                return jresp(405, {"errors": [{"message": "method not allowed"}]})
            return canvas_404()
        ctx.m = mm.groupdict()
        family, _, ctx.auth_arg = (auth or "").partition(":")
        if auth in ("canvas", "bearer") or (auth == "canvas_file" and bearer(ctx) is not None):
            denied = check_bearer(ctx)
            if denied:
                return denied
        elif auth in ("web", "canvas_file"):
            pass                # no token (web pages ignore one; files may use a verifier)
        elif auth is not None:
            denied = AUTH_CHECKS[family](ctx)
            if denied:
                return denied
        metered = auth == "canvas" or (auth == "canvas_file" and ctx.token is not None)
        if metered:
            throttled = Bucket.pre(ctx)
            if throttled:
                return throttled
        if delay:
            time.sleep(delay)
        resp = fn(ctx)
        if metered:
            Bucket.post(ctx, resp)
        elif family in POST_HOOKS:
            POST_HOOKS[family](ctx, resp)
        return resp

    def hard_reset(self):
        """Close the connection with no response (RST)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            os.close(self.connection.detach())
        except OSError:
            pass

    # -- response writing ---------------------------------------------------
    def send(self, resp, ctx):
        if getattr(self, "entry", None) is not None and not ctx.path.startswith("/__mock/"):
            self.entry["status"] = resp.status
            # the rate-limit figures the client was told, for pacing assertions
            for k, v in resp.headers:
                if k.lower() == "x-rate-limit-remaining":
                    self.entry["rate_remaining"] = float(v)
                elif k.lower() == "x-request-cost":
                    self.entry["request_cost"] = float(v)
            # when the answer left: no client can have known it before
            self.entry["t_answer"] = time.time()
        try:
            if getattr(resp, "long_body", None):
                self.send_long_body(resp)
            elif resp.stream is None:
                self.send_plain(resp)
            else:
                self.send_stream(resp, ctx)
        except Truncated:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def head(self, resp, extra):
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.ctype)
        for k, v in resp.headers + extra:
            self.send_header(k, v)
        self.end_headers()

    def send_plain(self, resp):
        body = resp.body or b""
        self.head(resp, [("Content-Length", str(len(body)))])
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_long_body(self, resp):
        """A fault's long answer.  The request-log entry counts the body
        bytes written (`body_sent`) and says whether the client closed the
        connection before the end (`closed_early`)."""
        size, pause, fill = resp.long_body
        entry = getattr(self, "entry", None) or {}
        entry["body_sent"] = 0
        entry["closed_early"] = False
        self.head(resp, [("Transfer-Encoding", "chunked")])
        deadline = time.time() + 600        # an endless body ends some day
        prefix = resp.body or b""
        block = prefix + fill * (1 if pause else max(0, 65536 - len(prefix)))
        try:
            while size < 0 or entry["body_sent"] < size:
                piece = block if size < 0 else block[:size - entry["body_sent"]]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                entry["body_sent"] += len(piece)
                block = fill * (1 if pause else 65536)
                if pause:
                    time.sleep(pause)
                if time.time() > deadline:
                    raise Truncated()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            entry["closed_early"] = True
            raise

    def send_stream(self, resp, ctx):
        sc = ctx.app.state.scen()
        trunc = sc["truncate_at"]
        trunc = int(trunc) if trunc is not None else None
        length_mode = trunc is not None and sc["truncate_mode"] == "length"
        if length_mode:
            self.head(resp, [("Content-Length", str(stream_size(resp.stream)))])
        else:
            self.head(resp, [("Transfer-Encoding", "chunked")])
        if self.command == "HEAD":
            if not length_mode:
                self.wfile.write(b"0\r\n\r\n")
            return
        chunked = not length_mode
        csize = max(1, int(sc["chunk_size"] or 8192))
        delay = float(sc["chunk_delay_ms"] or 0) / 1000.0
        stall_at = sc["stall_after"]
        stall_at = int(stall_at) if stall_at is not None else None
        stall_s = float(sc["stall_s"] or 0)
        w = self.wfile
        sent = 0
        frames = []

        def flush():
            if frames:
                w.write(b"".join(frames))
                frames.clear()

        def frame(piece):
            return b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else bytes(piece)

        def checkpoints():
            nonlocal stall_at
            if stall_at is not None and sent >= stall_at:
                flush()
                time.sleep(stall_s)
                stall_at = None
            if trunc is not None and sent >= trunc:
                flush()
                raise Truncated()

        checkpoints()
        for block in resp.stream():
            mv = memoryview(block)
            pos = 0
            while pos < len(mv):
                n = min(csize, len(mv) - pos)
                if trunc is not None:
                    n = min(n, trunc - sent)
                if stall_at is not None:
                    n = min(n, stall_at - sent)
                frames.append(frame(mv[pos:pos + n]))
                pos += n
                sent += n
                if delay:
                    flush()
                    time.sleep(delay)
                checkpoints()
            flush()
        if chunked:
            w.write(b"0\r\n\r\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, app, listener):
        self.app = app
        self.listener = listener
        super().__init__(addr, Handler)

    def server_bind(self):
        # skip the reverse DNS lookup HTTPServer does
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class App:
    def __init__(self, quiet=False):
        self.state = State()
        self.quiet = quiet
        self.base = ""
        self.storage_base = ""


def main(argv=None):
    ap = argparse.ArgumentParser(description="mock LMS server for the lms_fdw tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--storage-host", default="127.0.0.2")
    ap.add_argument("--port-file")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="exit when the process that started the mock is gone")
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.host.startswith("127."):
        ap.error("--host must be a loopback address")
    if args.storage_host and not args.storage_host.startswith("127."):
        ap.error("--storage-host must be a loopback address (or empty)")

    app = App(args.quiet)
    main_srv = Server((args.host, args.port), app, "main")
    port = main_srv.server_address[1]
    app.base = "http://%s:%d" % (args.host, port)
    servers = [main_srv]
    if args.storage_host:
        try:
            st_srv = Server((args.storage_host, port), app, "storage")
        except OSError:
            st_srv = Server((args.storage_host, 0), app, "storage")
        servers.append(st_srv)
        app.storage_base = "http://%s:%d" % (args.storage_host, st_srv.server_address[1])
    else:
        app.storage_base = app.base

    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
               for s in servers]
    for t in threads:
        t.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    if args.port_file:
        tmp = args.port_file + ".tmp.%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print("mock_lms listening on %s storage %s" % (app.base, app.storage_base), flush=True)

    # the starter's pid: when it is gone (we were re-parented) stop, so that a
    # test killed before it could stop us leaves nothing holding the port
    parent = os.getppid()
    while not stop.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            break
    # handler threads are daemon threads: a request still in progress
    # (a stalled body, a delay fault) does not hold the exit
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
