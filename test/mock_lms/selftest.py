#!/usr/bin/env python3
"""Self-test of mock_lms.py: starts it on an ephemeral port as a subprocess and
exercises it with http.client.  Exits non-zero on failure; the last line is
`selftest: N passed, M failed`."""

import csv
import gzip
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "mock_lms.py")
HEADER = ("student name,student id,student sis,course,course id,course sis,section,section id,"
          "section sis,term,term id,term sis,current score,final score,enrollment state,"
          "unposted current score,unposted final score,current grade,final grade,"
          "unposted current grade,unposted final grade").split(",")
TOKEN = "selftest-token"
AUTH = {"Authorization": "Bearer " + TOKEN}

PORT = None
PROC = None


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

class R:
    def __init__(self, resp, body):
        self.status = resp.status
        self.headers = resp.msg
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8")


def conn(host="127.0.0.1", port=None):
    return http.client.HTTPConnection(host, port or PORT, timeout=20)


def req(method, path, body=None, headers=None, c=None, host="127.0.0.1", port=None):
    own = c is None
    c = c or conn(host, port)
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    c.request(method, path, body=body, headers=hdrs)
    resp = c.getresponse()
    data = resp.read()
    r = R(resp, data)
    if own:
        c.close()
    return r


def get_url(url, headers=None, c=None):
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    if c is None:
        return req("GET", path, headers=headers, host=u.hostname, port=u.port)
    return req("GET", path, headers=headers, c=c)


def mock(method, path, body=None):
    r = req(method, "/__mock/" + path, body)
    assert r.status == 200, (path, r.status, r.body)
    return r.json()


def scenario(**kw):
    return mock("POST", "scenario", kw)


def reset(**kw):
    mock("POST", "reset")
    if kw:
        scenario(**kw)


def log():
    return mock("GET", "requests")


def parse_csv(data):
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def eq(a, b, what=""):
    assert a == b, "%s: expected %r, got %r" % (what, b, a)


def start_report(term="parameters[enrollment_term_id]=7", report="grade_export_csv", account=1):
    r = req("POST", "/api/v1/accounts/%s/reports/%s" % (account, report), term, AUTH)
    eq(r.status, 200, "start status")
    return r.json()


def poll_report(rep, n, report="grade_export_csv", account=1):
    out = []
    for _ in range(n):
        r = req("GET", "/api/v1/accounts/%s/reports/%s/%s" % (account, report, rep["id"]), headers=AUTH)
        eq(r.status, 200, "poll status")
        out.append(r.json())
    return out


def run_report_to_complete(**scen):
    reset(**scen)
    rep = start_report()
    polls = poll_report(rep, 4)
    eq(polls[-1]["status"], "complete", "final status")
    return rep, polls


def download_storage(url):
    r = req("GET", urllib.parse.urlsplit(url).path + "?" + urllib.parse.urlsplit(url).query,
            host=urllib.parse.urlsplit(url).hostname, port=urllib.parse.urlsplit(url).port)
    return r


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


REPORT_FIELDS = {"id", "progress", "parameters", "current_line", "status", "report", "created_at",
                 "started_at", "ended_at", "file_url"}


@test
def canvas_happy_path():
    reset(rows=40)
    rep = start_report()
    eq(set(rep), REPORT_FIELDS, "start: the fields of account_report_json")
    eq(rep["status"], "created", "status")
    eq(rep["progress"], 0, "progress")
    eq(rep["file_url"], None, "file_url")
    eq(rep["parameters"], {"enrollment_term_id": "7"}, "parameters")
    for k in ("current_line", "started_at", "ended_at"):
        eq(rep[k], None, k)
    polls = poll_report(rep, 5)
    eq([p["status"] for p in polls], ["created", "running", "running", "complete", "complete"], "sequence")
    eq([p["progress"] for p in polls], [0, 30, 60, 100, 100], "progress")
    assert polls[1]["current_line"] is not None
    done = polls[-1]
    eq(set(done), REPORT_FIELDS | {"attachment"}, "complete: the fields of account_report_json")
    assert "message" not in done and done["started_at"] and done["ended_at"]
    att = done["attachment"]
    eq(done["file_url"], "http://127.0.0.1:%d/accounts/1/files/%d/download" % (PORT, att["id"]), "file_url")
    eq(att["content-type"], "text/csv", "attachment content-type")
    assert att["filename"].startswith("grade_export_csv_") and att["filename"].endswith("_%d.csv" % rep["id"])
    eq(att["url"], "http://127.0.0.1:%d/files/%d/download?download_frd=1&verifier=%s" % (PORT, att["id"], att["uuid"]),
       "url")
    # the attachment url works through its verifier, without the token
    r = get_url(att["url"])
    eq(r.status, 302, "download status")
    loc = urllib.parse.urlsplit(r.header("Location"))
    eq(loc.hostname, "127.0.0.2", "storage host")
    eq(loc.port, PORT, "storage port")
    q = urllib.parse.parse_qs(loc.query)
    assert "X-Amz-Signature" in q and q["X-Amz-Expires"] == ["900"], q
    assert r.header("Content-Length") is not None
    s = get_url(r.header("Location"))
    eq(s.status, 200, "storage status")
    assert s.header("Content-Type").startswith("text/csv")
    eq(s.header("Transfer-Encoding"), "chunked", "transfer-encoding")
    eq(len(s.body), att["size"], "attachment size")
    rows = parse_csv(s.body)
    eq(rows[0], HEADER, "header")
    eq(len(rows) - 1, 40, "row count")
    rec = [dict(zip(HEADER, r)) for r in rows[1:]]
    eq(rec[0]["student name"], "Student 1", "row 1 name")
    eq(rec[6]["student name"], "O'Neil, Pat \"PJ\" 7", "row 7 name")
    eq(rec[12]["student name"], "Line\nBreak 13", "row 13 name")
    eq(rec[4]["student sis"], "", "row 5 sis")
    eq(rec[9]["current score"], "", "row 10 score")
    eq(rec[0]["term id"], "7", "term id")
    eq(rec[0]["current score"], "3.7", "row 1 score")
    eq(rec[1]["enrollment state"], "concluded", "row 2 state")
    st = [e for e in log() if e["listener"] == "storage"]
    assert st and st[-1]["authorization"] is False and st[-1]["status"] == 200, st


@test
def canvas_download_paths():
    """file_url is a web page: a bearer token is ignored there (login redirect);
    /files/:id/download takes the verifier or the token."""
    rep, polls = run_report_to_complete(rows=3)
    done = polls[-1]
    r = get_url(done["file_url"], AUTH)
    eq(r.status, 302, "file_url with a token")
    eq(r.header("Location"), "http://127.0.0.1:%d/login" % PORT, "to the login")
    r = get_url(r.header("Location"))
    eq((r.status, r.header("Location")), (302, "http://127.0.0.1:%d/login/canvas" % PORT), "login -> canvas")
    r = get_url(r.header("Location"))
    eq(r.status, 200, "login page")
    assert r.header("Content-Type").startswith("text/html") and b"<form" in r.body
    fid = done["attachment"]["id"]
    r = req("GET", "/files/%d/download?download_frd=1" % fid)
    eq((r.status, r.header("Location")), (302, "http://127.0.0.1:%d/login" % PORT), "no verifier, no token")
    r = req("GET", "/files/%d/download?download_frd=1&verifier=wrong" % fid)
    eq(r.header("Location"), "http://127.0.0.1:%d/login" % PORT, "a wrong verifier")
    r = req("GET", "/files/%d/download?download_frd=1" % fid, headers=AUTH)
    eq(urllib.parse.urlsplit(r.header("Location")).hostname, "127.0.0.2", "the token on /files/")
    assert r.header("X-Request-Cost") is not None, "a token request is metered"
    eq(req("GET", "/files/%d/download" % fid, headers={"Authorization": "Bearer "}).status, 302, "empty bearer")
    scenario(canvas_verifier=False)
    r = get_url(done["attachment"]["url"])
    eq(r.header("Location"), "http://127.0.0.1:%d/login" % PORT, "verifier retired: login")
    r = get_url(done["attachment"]["url"], AUTH)
    eq(urllib.parse.urlsplit(r.header("Location")).hostname, "127.0.0.2", "verifier retired: the token")
    # the gradebook CSV: no API route; the web route ignores the token
    eq(req("POST", "/api/v1/courses/5/gradebook_csv", "", AUTH).status, 404, "no API gradebook_csv")
    r = req("POST", "/courses/5/gradebook_csv", "", AUTH)
    eq((r.status, r.header("Location")), (302, "http://127.0.0.1:%d/login" % PORT), "web gradebook_csv")
    eq(req("GET", "/api/v1/progress/1", headers=AUTH).status, 404, "no Progress of a gradebook")


@test
def canvas_start_variants():
    reset()
    r = req("POST", "/api/v1/accounts/1/reports/grade_export_csv", {"parameters": {"enrollment_term_id": 3}}, AUTH)
    eq(r.status, 200, "json start")
    eq(r.json()["parameters"], {"enrollment_term_id": 3}, "json parameters")
    r = req("POST", "/api/v1/accounts/1/reports/grade_export_csv", "parameters[enrollment_term_id]=x", AUTH)
    eq(r.status, 400, "bad term")
    eq(r.json(), {"error": "invalid enrollment_term_id 'x'"}, "bad term body")
    r = req("POST", "/api/v1/accounts/1/reports/nope_csv", "", AUTH)
    eq(r.status, 404, "unknown report")
    eq(r.json(), {"errors": [{"message": "The specified resource does not exist."}]}, "404 body")
    r = req("GET", "/api/v1/accounts/1/reports/grade_export_csv/999999", headers=AUTH)
    eq(r.status, 404, "unknown id")
    scenario(reject_start={"status": 400, "body": {"error": "invalid enrollment_term_id 'q'"}})
    r = req("POST", "/api/v1/accounts/1/reports/grade_export_csv", "", AUTH)
    eq(r.status, 400, "reject_start")
    eq(r.json()["error"], "invalid enrollment_term_id 'q'", "reject body")


@test
def canvas_error_extra_text():
    reset(statuses=["created", "running", {"status": "error", "progress": 45}], error_message="disk full")
    rep = start_report()
    polls = poll_report(rep, 3)
    eq(polls[-1]["status"], "error", "status")
    assert "message" not in polls[-1], polls[-1]
    eq(polls[-1]["parameters"]["extra_text"], "disk full", "extra_text")
    eq(polls[-1]["progress"], 45, "progress")
    eq(polls[-1]["file_url"], None, "file_url")
    reset(statuses=["created", "error"])
    rep = start_report()
    eq(poll_report(rep, 2)[-1]["parameters"]["extra_text"],
       "Failed, the report failed to generate a file. Please try again.", "default extra_text")


@test
def canvas_skip_message():
    reset(statuses=["created", "complete"])
    a = start_report("parameters[skip_message]=true")
    b = start_report("parameters[enrollment_term_id]=2")
    c = start_report("parameters[skip_message]=false")     # Ruby: a non-nil string is true
    for rep in (a, b, c):
        poll_report(rep, 2)
    jobs = {j["id"]: j for j in mock("GET", "jobs")}
    eq([jobs[x["id"]]["extra"]["notified"] for x in (a, b, c)], [False, True, False], "notifications")


@test
def canvas_abort_delete_and_jobs():
    reset()
    rep = start_report()
    base = "/api/v1/accounts/1/reports/grade_export_csv/%d" % rep["id"]
    eq(req("PUT", base + "/abort", headers=AUTH).status, 404, "abort while created")
    poll_report(rep, 2)
    r = req("PUT", base + "/abort", headers=AUTH)
    eq(r.status, 200, "abort")
    eq(r.json()["status"], "aborted", "aborted")
    eq(r.json()["parameters"]["extra_text"], "Report has been aborted", "aborted extra_text")
    eq(poll_report(rep, 1)[0]["status"], "aborted", "sticky aborted")
    scenario(statuses=["created", "compiling"])
    rep3 = start_report()
    poll_report(rep3, 2)
    eq(req("PUT", "/api/v1/accounts/1/reports/grade_export_csv/%d/abort" % rep3["id"], headers=AUTH).status,
       404, "abort while compiling")
    rep2 = start_report()
    path2 = "/api/v1/accounts/1/reports/grade_export_csv/%d" % rep2["id"]
    r = req("DELETE", path2, headers=AUTH)
    eq(r.json()["status"], "deleted", "deleted")
    eq(req("GET", path2, headers=AUTH).status, 404, "a deleted report is not found")
    jobs = {j["id"]: j for j in mock("GET", "jobs")}
    assert jobs[rep["id"]]["abort_received"] and jobs[rep["id"]]["state"] == "aborted"
    assert jobs[rep2["id"]]["delete_received"]
    eq(jobs[rep["id"]]["polls"], 3, "polls")
    eq(jobs[rep["id"]]["kind"], "report", "kind")


@test
def canvas_list_and_index():
    reset()
    ids = [start_report()["id"] for _ in range(3)]
    r = req("GET", "/api/v1/accounts/1/reports/grade_export_csv?per_page=2", headers=AUTH)
    eq(r.status, 200, "index")
    eq([x["id"] for x in r.json()], ids[::-1][:2], "newest first")
    link = r.header("Link")
    assert 'rel="next"' in link and 'rel="current"' in link and "page=2" in link, link
    r = req("GET", "/api/v1/accounts/1/reports", headers=AUTH)
    names = {x["report"]: x for x in r.json()}
    assert "grade_export_csv" in names and names["grade_export_csv"]["last_run"]["id"] == ids[-1]
    for n in ("last_user_access_csv", "last_enrollment_activity_csv", "zero_activity_csv",
              "provisioning_csv", "mgp_grade_export_csv"):
        assert n in names, n


def report_file(report, body, **scen):
    reset(statuses=["created", "complete"], **scen)
    rep = start_report(body, report=report)
    done = poll_report(rep, 2, report=report)[-1]
    eq(done["status"], "complete", report)
    r = get_url(done["attachment"]["url"])
    return done, get_url(r.header("Location"))


@test
def canvas_engagement_reports():
    heads = {"last_user_access_csv": ["user id", "user sis id", "user name", "last access at", "last ip"],
             "last_enrollment_activity_csv": ["user id", "user name", "last activity at"],
             "zero_activity_csv": ["user id", "user sis id", "name", "section id", "section sis id",
                                   "section name", "course id", "course sis id", "course name"]}
    for report, head in heads.items():
        done, s = report_file(report, "parameters[course_id]=101", rows=12)
        rows = parse_csv(s.body)
        eq(rows[0], head, report + " header")
        eq(len(rows), 13, report + " rows")
    rows = parse_csv(report_file("last_user_access_csv", "", rows=4)[1].body)
    eq(rows[4][3:], ["", ""], "never logged in: empty cells")
    assert rows[1][3].endswith("Z") and rows[1][4].startswith("10.0."), rows[1]
    done, s = report_file("provisioning_csv", "parameters[enrollments]=true", rows=5)
    rows = parse_csv(s.body)
    eq(rows[0][:4], ["canvas_course_id", "course_id", "canvas_user_id", "user_id"], "provisioning header")
    eq(rows[0][-1], "canvas_enrollment_id", "provisioning last column")
    eq(len(rows), 6, "provisioning rows")
    reset()
    rep = start_report("parameters[users]=", report="provisioning_csv")
    done = poll_report(rep, 3, report="provisioning_csv")[-1]
    eq((done["status"], done["parameters"]["extra_text"]),
       ("error", "Failed, the report failed to generate a file. Please try again."), "provisioning without enrollments")


def unzip(data):
    import zipfile
    zf = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, zf.read(i).decode("utf-8")) for i in zf.infolist()]


@test
def canvas_mgp_zip():
    done, s = report_file("mgp_grade_export_csv", "", rows=6)
    att = done["attachment"]
    eq((att["content-type"], att["mime_class"]), ("application/zip", "zip"), "zip attachment")
    assert att["filename"].endswith(".zip"), att
    eq(s.header("Content-Type"), "application/zip", "zip body")
    eq(len(s.body), att["size"], "zip size")
    entries = unzip(s.body)
    eq([n for n, _ in entries], ["Fall 2026.csv", "Spring 2027.csv"], "one CSV per term")
    rows = parse_csv(entries[0][1].encode())
    eq(rows[0][12:16], ["grading period set", "grading period set id", "Quarter 1 grading period id",
                        "Quarter 1 current score"], "mgp header")
    eq(rows[0][-9:], ["current score", "final score", "enrollment state", "unposted current score",
                      "unposted final score", "current grade", "final grade", "unposted current grade",
                      "unposted final grade"], "mgp grading fields")
    eq(len(rows), 7, "mgp rows")
    eq(rows[1][11 - 1], "1", "term id of the first file")
    eq(parse_csv(entries[1][1].encode())[1][10], "2", "term id of the second file")
    done, s = report_file("mgp_grade_export_csv", "parameters[enrollment_term_id]=2", rows=2)
    eq([n for n, _ in unzip(s.body)], ["Spring 2027.csv"], "one term asked for")
    done, s = report_file("mgp_grade_export_csv", "", rows=2,
                          canvas_terms=[{"id": 5, "name": "Summer", "periods": None}])
    eq(unzip(s.body), [("Summer.csv", "no grading periods configured for this term\n")], "term without periods")


def page_chain(path, hdrs=AUTH):
    """Follow rel=next; returns (pages of items, Link headers)."""
    pages, links, url = [], [], "http://127.0.0.1:%d%s" % (PORT, path)
    while url:
        r = get_url(url, hdrs)
        eq(r.status, 200, url)
        pages.append(r.json())
        links.append(r.header("Link"))
        nxt = [p.split(">;")[0][1:] for p in r.header("Link").split(",") if p.endswith('rel="next"')]
        url = nxt[0] if nxt else None
    return pages, links


@test
def canvas_course_enrollments():
    reset(course_rows={"101": 250})
    pages, links = page_chain("/api/v1/courses/101/enrollments?type[]=StudentEnrollment&per_page=100")
    eq([len(p) for p in pages], [100, 100, 50], "three pages")
    first = links[0].split(",")
    eq([x.split("; ")[1] for x in first], ['rel="current"', 'rel="next"', 'rel="first"'], "rels, no last")
    assert first[1].startswith("<http://127.0.0.1:%d/api/v1/courses/101/enrollments?type%%5B%%5D=StudentEnrollment&page=bookmark:"
                               % PORT), first[1]
    e = pages[0][0]
    eq((e["type"], e["user_id"], e["course_id"]), ("StudentEnrollment", 1001, 101), "first enrollment")
    for k in ("current_score", "final_score", "current_grade", "final_grade"):
        assert k in e["grades"], k
    assert "last_activity_at" in e and "total_activity_time" in e and e["user"]["sortable_name"]
    everyone = page_chain("/api/v1/courses/101/enrollments?per_page=100")[0]
    eq(sum(len(p) for p in everyone), 251, "without type[] the teacher is listed too")
    eq(req("GET", "/api/v1/courses/101/enrollments?page=2", headers=AUTH).status, 404, "page=2 is no bookmark")
    eq(req("GET", "/api/v1/courses/x/enrollments", headers=AUTH).status, 404, "unknown course")
    r = req("GET", "/api/v1/courses/102/enrollments?per_page=500", headers=AUTH)
    eq(len(r.json()), 26, "per_page clamped to 100 (25 students + teacher)")
    eq(len(req("GET", "/api/v1/courses/102/enrollments", headers=AUTH).json()), 10, "default per_page 10")
    scenario(link_base="http://127.0.0.2:%d" % PORT)
    r = req("GET", "/api/v1/courses/102/enrollments", headers=AUTH)
    assert "<http://127.0.0.2:%d/api/v1/courses/102/enrollments?page=bookmark:" % PORT in r.header("Link")


@test
def canvas_course_submissions():
    reset(rows=10, assignments=3)
    eq(req("GET", "/api/v1/courses/101/students/submissions", headers=AUTH).json(), [], "only the caller's own")
    pages, _ = page_chain("/api/v1/courses/101/students/submissions?student_ids[]=all&per_page=12")
    subs = [s for p in pages for s in p]
    eq((len(pages), len(subs)), (3, 30), "all students, 3 pages")
    for k in ("id", "assignment_id", "user_id", "score", "grade", "workflow_state", "late", "missing",
              "excused", "submitted_at", "graded_at", "posted_at", "seconds_late", "late_policy_status"):
        assert k in subs[0], k
    since = "2024-10-28T00:00:00Z"
    got = [s for p in page_chain("/api/v1/courses/101/students/submissions?student_ids[]=all&per_page=100"
                                  "&submitted_since=" + since)[0] for s in p]
    want = [s for s in subs if s["submitted_at"] and s["submitted_at"] > since]
    assert 0 < len(got) < len(subs)
    eq([s["id"] for s in got], [s["id"] for s in want], "submitted_since")
    graded = [s for p in page_chain("/api/v1/courses/101/students/submissions?student_ids[]=all&per_page=100"
                                     "&graded_since=2024-01-01T00:00:00Z")[0] for s in p]
    eq(len(graded), len([s for s in subs if s["graded_at"]]), "graded_since")
    r = req("GET", "/api/v1/courses/101/students/submissions?student_ids[]=all&submitted_since=yesterday", headers=AUTH)
    eq(r.status, 400, "a malformed timestamp")


@test
def canvas_student_summaries():
    reset(rows=25)
    pages, links = page_chain("/api/v1/courses/101/analytics/student_summaries?per_page=10")
    eq([len(p) for p in pages], [10, 10, 5], "pages")
    eq([x.split("; ")[1] for x in links[1].split(",")],
       ['rel="current"', 'rel="next"', 'rel="prev"', 'rel="first"', 'rel="last"'], "rels of page 2")
    s = pages[0][0]
    eq(sorted(s["tardiness_breakdown"]), ["floating", "late", "missing", "on_time", "total"], "tardiness")
    assert "page_views" in s and "participations" in s


@test
def fault_after():
    reset(faults=[{"kind": "canvas_throttle_429", "path": "/enrollments$", "after": 1, "count": 1}])
    got = [req("GET", "/api/v1/courses/101/enrollments", headers=AUTH) for _ in range(3)]
    eq([r.status for r in got], [200, 429, 200], "the second matching request throttled")
    eq(got[1].header("X-Request-Cost"), None, "no X-Request-Cost when throttled")


@test
def canvas_direct_and_ttl():
    rep, polls = run_report_to_complete(direct=True, rows=5)
    r = get_url(polls[-1]["attachment"]["url"])
    eq(r.status, 200, "direct")
    eq(len(parse_csv(r.body)), 6, "direct rows")
    rep, polls = run_report_to_complete(storage_ttl_s=1, rows=5)
    loc = get_url(polls[-1]["attachment"]["url"]).header("Location")
    eq(get_url(loc).status, 200, "fresh url")
    time.sleep(1.3)
    r = get_url(loc)
    eq(r.status, 403, "expired url")
    assert b"<Code>AccessDenied</Code>" in r.body, r.body


@test
def faults_429_retry_after():
    reset()
    scenario(faults=[{"method": "GET", "path": r"/reports/grade_export_csv/\d+$", "status": 429,
                      "headers": {"Retry-After": "2"}, "body": {"errors": [{"message": "slow down"}]},
                      "count": 1}])
    rep = start_report()
    r = req("GET", "/api/v1/accounts/1/reports/grade_export_csv/%d" % rep["id"], headers=AUTH)
    eq(r.status, 429, "faulted")
    eq(r.header("Retry-After"), "2", "Retry-After")
    eq(r.json()["errors"][0]["message"], "slow down", "body")
    eq(poll_report(rep, 1)[0]["status"], "created", "fault did not consume a poll")
    eq(log()[-2]["status"], 429, "logged status")


@test
def faults_canvas_throttle_403():
    reset(faults=[{"kind": "canvas_throttle_403", "count": 1}, {"kind": "canvas_throttle_429", "count": 1,
                                                                  "headers": {"Retry-After": "3"}}])
    r = req("GET", "/api/v1/accounts/1/reports", headers=AUTH)
    eq(r.status, 403, "403")
    eq(r.header("Content-Type"), "text/plain; charset=utf-8", "ctype")
    eq(r.text(), "403 Forbidden (Rate Limit Exceeded)\n", "body")
    eq(r.header("X-Rate-Limit-Remaining"), "0.0", "remaining")
    eq(r.header("Retry-After"), None, "no Retry-After")
    r = req("GET", "/api/v1/accounts/1/reports", headers=AUTH)
    eq((r.status, r.header("Retry-After")), (429, "3"), "429")
    eq(req("GET", "/api/v1/accounts/1/reports", headers=AUTH).status, 200, "after faults")


@test
def faults_5xx_count_reset_delay():
    reset(faults=[{"path": "^/api/v1/accounts/1/reports$", "status": 503, "count": 2, "body": ""}])
    got = [req("GET", "/api/v1/accounts/1/reports", headers=AUTH).status for _ in range(3)]
    eq(got, [503, 503, 200], "5xx count")
    scenario(faults=[{"path": "reports$", "kind": "reset", "count": 1}])
    try:
        req("GET", "/api/v1/accounts/1/reports", headers=AUTH)
        raise AssertionError("expected a connection error")
    except (ConnectionError, http.client.HTTPException, OSError):
        pass
    eq(log()[-1]["status"], 0, "reset logged as 0")
    scenario(faults=[{"path": "reports$", "kind": "delay", "delay_s": 0.4, "count": 1}])
    t0 = time.time()
    eq(req("GET", "/api/v1/accounts/1/reports", headers=AUTH).status, 200, "delayed")
    assert time.time() - t0 >= 0.35
    scenario(faults=[{"listener": "storage", "status": 500, "count": -1}])
    eq(req("GET", "/api/v1/accounts/1/reports", headers=AUTH).status, 200, "main unaffected")
    eq(req("GET", "/__storage/1", host="127.0.0.2").status, 500, "storage faulted")
    eq(req("GET", "/__storage/1", host="127.0.0.2").status, 500, "storage faulted forever")


@test
def faults_long_body():
    reset(faults=[{"path": "reports$", "status": 500, "body": "oops", "body_size": 200000,
                   "fill": "x", "count": 1}])
    r = req("GET", "/api/v1/accounts/1/reports", headers=AUTH)
    eq((r.status, len(r.body), r.body[:5]), (500, 200000, b"oopsx"), "sized body")
    e = log()[-1]
    eq((e["body_sent"], e["closed_early"]), (200000, False), "sized body logged")
    # endless trickle: the client reads a few bytes and hangs up
    scenario(faults=[{"path": "reports$", "status": 200, "trickle_ms": 50,
                      "content_type": "application/json", "count": 1}])
    c = conn()
    c.request("GET", "/api/v1/accounts/1/reports", headers=AUTH)
    resp = c.getresponse()
    eq((resp.status, resp.read(3)), (200, b"   "), "trickled bytes")
    c.close()
    for _ in range(100):
        if log()[-1].get("closed_early"):
            break
        time.sleep(0.05)
    e = log()[-1]
    assert e["closed_early"] and e["body_sent"] < 100, e


@test
def truncation_chunked_and_length():
    rep, polls = run_report_to_complete(rows=200)
    loc = get_url(polls[-1]["attachment"]["url"]).header("Location")
    full = get_url(loc).body
    scenario(truncate_at=1000, chunk_size=300)
    u = urllib.parse.urlsplit(loc)
    for mode in ("chunked", "length"):
        scenario(truncate_mode=mode)
        c = conn(u.hostname, u.port)
        c.request("GET", u.path + "?" + u.query)
        resp = c.getresponse()
        if mode == "length":
            eq(int(resp.getheader("Content-Length")), len(full), "full Content-Length")
        else:
            eq(resp.getheader("Transfer-Encoding"), "chunked", "chunked")
        try:
            resp.read()
            raise AssertionError("expected IncompleteRead (%s)" % mode)
        except http.client.IncompleteRead as e:
            eq(e.partial, full[:1000], "partial body (%s)" % mode)
        c.close()


@test
def chunk_size_and_stall():
    rep, polls = run_report_to_complete(rows=30, chunk_size=100, stall_after=150, stall_s=0.5)
    loc = urllib.parse.urlsplit(get_url(polls[-1]["attachment"]["url"]).header("Location"))
    s = socket.create_connection((loc.hostname, loc.port), timeout=10)
    s.sendall(("GET %s?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (loc.path, loc.query)).encode())
    t0 = time.time()
    raw = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        raw += b
    s.close()
    assert time.time() - t0 >= 0.45, "stall"
    head, _, rest = raw.partition(b"\r\n\r\n")
    sizes = []
    while True:
        line, _, rest = rest.partition(b"\r\n")
        n = int(line, 16)
        sizes.append(n)
        if n == 0:
            break
        rest = rest[n + 2:]
    assert max(sizes) <= 100 and sizes[-1] == 0 and 50 in sizes, sizes


@test
def require_token_401():
    reset(require_token="sekret")
    for hdrs in ({}, AUTH, {"Authorization": "Basic dTpw"}):
        r = req("GET", "/api/v1/accounts/1/reports", headers=hdrs)
        eq(r.status, 401, "401 for %r" % hdrs)
        eq(r.header("WWW-Authenticate"), 'Bearer realm="canvas-lms"', "WWW-Authenticate")
        eq(r.json(), {"errors": [{"message": "Invalid access token."}]}, "401 body")
    eq(req("GET", "/api/v1/accounts/1/reports", headers={"Authorization": "Bearer sekret"}).status, 200, "ok")
    eq(req("GET", "/generic/exports/x", headers=AUTH).status, 401, "generic 401")
    reset()
    eq(req("GET", "/api/v1/accounts/1/reports", headers={"Authorization": "Bearer "}).status, 401, "empty bearer")


@test
def leaky_bucket_legacy_modern_off():
    for mode, code in (("legacy", 403), ("modern", 429)):
        reset(throttle=mode, bucket={"hwm": 100, "up_front": 50, "cost": 30, "outflow": 0})
        rs = [req("GET", "/api/v1/accounts/1/reports", headers=AUTH) for _ in range(3)]
        eq([r.status for r in rs], [200, 200, code], mode)
        eq(rs[0].header("X-Request-Cost"), "30.0", "cost")
        eq(rs[0].header("X-Rate-Limit-Remaining"), "70.0", "remaining 1")
        eq(rs[1].header("X-Rate-Limit-Remaining"), "40.0", "remaining 2")
        eq(rs[2].header("X-Request-Cost"), None, "no cost on throttled")
        eq(rs[2].header("X-Rate-Limit-Remaining"), "40.0", "remaining throttled")
        eq(rs[2].text(), "403 Forbidden (Rate Limit Exceeded)\n", "throttled body")
        eq(rs[2].header("Content-Type"), "text/plain; charset=utf-8", "throttled ctype")
        eq(rs[2].header("Retry-After"), None, "no Retry-After")
        # other tokens have their own bucket
        eq(req("GET", "/api/v1/accounts/1/reports", headers={"Authorization": "Bearer other"}).status, 200, "per token")
    reset(bucket={"hwm": 100, "up_front": 50, "cost": 30, "outflow": 0})
    rs = [req("GET", "/api/v1/accounts/1/reports", headers=AUTH) for _ in range(5)]
    eq([r.status for r in rs], [200] * 5, "off never throttles")
    assert all(r.header("X-Request-Cost") and r.header("X-Rate-Limit-Remaining") for r in rs)
    # leak: outflow 100/s drains the bucket
    reset(throttle="legacy", bucket={"hwm": 100, "up_front": 50, "cost": 30, "outflow": 100})
    for _ in range(2):
        req("GET", "/api/v1/accounts/1/reports", headers=AUTH)
    time.sleep(0.7)
    eq(req("GET", "/api/v1/accounts/1/reports", headers=AUTH).status, 200, "leaked")


@test
def leaky_bucket_negative_remaining():
    # overlapping throttled requests hold each other's up-front charge: the
    # count passes the high-water mark and remaining goes negative (1.7)
    reset(throttle="modern", bucket={"hwm": 100, "up_front": 50, "cost": 1, "outflow": 0, "hold_s": 0.5},
          faults=[{"method": "GET", "path": "/api/v1/accounts/1/reports$", "kind": "delay", "delay_s": 0.5, "count": -1}])
    out = []
    ths = [threading.Thread(target=lambda: out.append(req("GET", "/api/v1/accounts/1/reports", headers=AUTH)))
           for _ in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    throttled = [r for r in out if r.status == 429]
    eq(len(throttled) >= 2, True, "overlapping requests throttled")
    eq(any(float(r.header("X-Rate-Limit-Remaining")) < 0 for r in throttled), True, "negative remaining")
    eq(all(r.header("X-Request-Cost") is None for r in throttled), True, "no cost on throttled")


def generic_run(fmt, n=4, **scen):
    scen.setdefault("rows", 12)
    reset(format=fmt, **scen)
    r = req("POST", "/generic/exports", {"dataset": "grades", "term": 3}, AUTH)
    eq(r.status, 202, "start")
    jid = r.json()["data"]["id"]
    eq(r.json()["data"]["state"], "queued", "queued")
    states = [req("GET", "/generic/exports/" + jid, headers=AUTH).json()["data"] for _ in range(n)]
    return jid, states


@test
def generic_csv():
    jid, states = generic_run("csv")
    eq([s["state"] for s in states], ["queued", "processing", "processing", "done"], "states")
    eq([s["progress"] for s in states], [0, 30, 60, 100], "progress")
    assert states[0]["result"] is None and states[-1]["error"] is None
    url = states[-1]["result"]["url"]
    eq(url, "http://127.0.0.1:%d/generic/files/%s" % (PORT, jid), "result url")
    eq(get_url(url).status, 401, "file needs auth")
    r = get_url(url, AUTH)
    rows = parse_csv(r.body)
    eq(rows[0], HEADER, "header")
    eq(len(rows), 13, "rows")
    jobs = mock("GET", "jobs")
    eq(jobs[0]["params"], {"dataset": "grades", "term": 3}, "params recorded")


@test
def generic_jsonl_json_tsv_gzip():
    jid, states = generic_run("jsonl")
    r = get_url(states[-1]["result"]["url"], AUTH)
    eq(r.header("Content-Type"), "application/x-ndjson", "jsonl ctype")
    recs = [json.loads(line) for line in r.text().splitlines()]
    eq(len(recs), 12, "jsonl rows")
    eq(list(recs[0].keys()), HEADER, "jsonl keys")
    eq((recs[0]["student id"], recs[9]["current score"], recs[0]["current score"]), (1001, None, 3.7), "values")
    jid, states = generic_run("json")
    eq(len(json.loads(get_url(states[-1]["result"]["url"], AUTH).body)), 12, "json")
    jid, states = generic_run("json_nested")
    eq(len(json.loads(get_url(states[-1]["result"]["url"], AUTH).body)["data"]["rows"]), 12, "json_nested")
    jid, states = generic_run("tsv", rows=14)
    lines = get_url(states[-1]["result"]["url"], AUTH).text().split("\n")
    eq(len(lines), 16, "tsv lines")
    eq(lines[0].split("\t"), HEADER, "tsv header")
    assert "Line\\nBreak 13" in lines[13] and lines[10].split("\t")[12] == "\\N", lines[13]
    jid, states = generic_run("csv", gzip=True)
    r = get_url(states[-1]["result"]["url"], AUTH)
    eq(r.header("Content-Encoding"), "gzip", "gzip header")
    eq(len(parse_csv(gzip.decompress(r.body))), 13, "gzip rows")
    jid, states = generic_run("csv", gzip=True, gzip_header=False, crlf=True, bom=True)
    r = get_url(states[-1]["result"]["url"], AUTH)
    eq((r.header("Content-Type"), r.header("Content-Encoding")), ("application/gzip", None), "raw gzip")
    data = gzip.decompress(r.body)
    assert data.startswith(b"\xef\xbb\xbfstudent name,") and b"\r\n" in data


@test
def generic_fail_cancel_redirect():
    jid, states = generic_run("csv", n=3, statuses=["queued", "error"], error_message="quota")
    eq((states[-1]["state"], states[-1]["error"]), ("failed", {"message": "quota"}), "failed")
    jid, states = generic_run("csv", n=1)
    r = req("DELETE", "/generic/exports/" + jid, headers=AUTH)
    eq(r.json()["data"]["state"], "failed", "canceled")
    assert mock("GET", "jobs")[0]["cancel_received"]
    jid, states = generic_run("csv", generic_redirect=True)
    url = states[-1]["result"]["url"]
    eq(urllib.parse.urlsplit(url).path, "/generic/redirect/" + jid, "redirect url")
    r = get_url(url, AUTH)
    eq(r.status, 302, "302")
    loc = urllib.parse.urlsplit(r.header("Location"))
    eq((loc.hostname, loc.path), ("127.0.0.2", "/__storage/generic/" + jid), "storage location")
    assert "sig=" in loc.query
    eq(len(parse_csv(get_url(r.header("Location")).body)), 13, "rows via storage")


@test
def wall_clock_duration():
    reset(duration_s=1.0)
    rep = start_report()
    a = poll_report(rep, 1)[0]
    time.sleep(0.5)
    b = poll_report(rep, 1)[0]
    time.sleep(0.7)
    c = poll_report(rep, 1)[0]
    eq(a["status"], "created", "first")
    assert b["status"] == "running" and 30 <= b["progress"] <= 80, b
    eq(c["status"], "complete", "done")


@test
def request_log_fields():
    reset()
    req("POST", "/api/v1/accounts/1/reports/grade_export_csv?x=1", "parameters[enrollment_term_id]=2", AUTH)
    req("GET", "/api/v1/accounts/1/reports", headers={"Authorization": "Basic dTpw"})
    req("GET", "/nowhere")
    entries = log()
    eq([e["seq"] for e in entries], [1, 2, 3], "seq")
    e = entries[0]
    eq((e["listener"], e["method"], e["path"], e["query"], e["authorization"], e["auth_scheme"], e["status"]),
       ("main", "POST", "/api/v1/accounts/1/reports/grade_export_csv", "x=1", True, "Bearer", 200), "entry 1")
    eq(e["body"], "parameters[enrollment_term_id]=2", "body")
    assert isinstance(e["t"], float) and isinstance(e["client_port"], int)
    assert TOKEN not in json.dumps(entries)
    eq((entries[1]["auth_scheme"], entries[1]["status"]), ("Basic", 401), "entry 2")
    eq((entries[2]["authorization"], entries[2]["auth_scheme"], entries[2]["status"]), (False, None, 404), "entry 3")
    # control requests are not logged
    eq(len(log()), 3, "no control requests")


@test
def keep_alive_reuse():
    rep, polls = run_report_to_complete(rows=50)
    mock("POST", "reset")
    c = conn()
    rep = req("POST", "/api/v1/accounts/1/reports/grade_export_csv", "", AUTH, c=c).json()
    for _ in range(4):
        req("GET", "/api/v1/accounts/1/reports/grade_export_csv/%d" % rep["id"], headers=AUTH, c=c)
    scenario(direct=True)
    r = req("GET", "/files/%d/download" % rep["attachment"]["id"] if "attachment" in rep else
            "/files/%d/download" % mock("GET", "jobs")[0]["extra"]["file_id"], headers=AUTH, c=c)
    eq(r.status, 200, "streamed body on the kept connection")
    req("GET", "/api/v1/accounts/1/reports", headers=AUTH, c=c)
    c.close()
    ports = {e["client_port"] for e in log()}
    eq(len(log()), 7, "requests")
    eq(len(ports), 1, "one client port")
    # small replies on a kept-alive connection must not wait on delayed ACKs
    c = conn()
    t0 = time.time()
    for _ in range(50):
        eq(req("GET", "/api/v1/accounts/1/reports", headers=AUTH, c=c).status, 200, "fast reuse")
    c.close()
    assert time.time() - t0 < 1.5, "50 kept-alive requests took %.2fs" % (time.time() - t0)


@test
def scenario_validation():
    reset()
    r = req("POST", "/__mock/scenario", {"nope": 1})
    eq(r.status, 400, "unknown key")
    r = req("POST", "/__mock/scenario", {"format": "xml"})
    eq(r.status, 400, "bad format")
    s = scenario(bucket={"hwm": 5})
    eq((s["bucket"]["hwm"], s["bucket"]["max"]), (5, 800), "bucket merged")
    eq(mock("GET", "scenario")["rows"], 25, "default rows")


# -- Canvas Data 2 ------------------------------------------------------------

def b64json(seg):
    import base64
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def dap_login(cid="client-1", secret="s3cret"):
    import base64
    basic = base64.b64encode(("%s:%s" % (cid, secret)).encode()).decode()
    return req("POST", "/ids/auth/login", "grant_type=client_credentials", {"Authorization": "Basic " + basic})


def dap_token():
    r = dap_login()
    eq(r.status, 200, "login")
    return {"Authorization": "Bearer " + r.json()["access_token"]}


@test
def dap_login_jwt():
    reset(client_id="client-1", client_secret="s3cret", token_ttl_s=1)
    r = dap_login()
    tok = r.json()
    eq((tok["token_type"], tok["expires_in"]), ("Bearer", 1), "token fields")
    head, claims = b64json(tok["access_token"].split(".")[0]), b64json(tok["access_token"].split(".")[1])
    eq(head["alg"], "HS256", "alg")
    eq(claims["sub"], "client-1", "sub")
    assert claims["exp"] - claims["iat"] == 1, claims
    bad = dap_login(secret="wrong")
    eq(bad.status, 401, "bad credentials")
    eq(bad.json()["error"]["type"], "AuthenticationError", "error type")
    hdr = {"Authorization": "Bearer " + tok["access_token"]}
    eq(req("GET", "/dap/query/canvas/table", headers=hdr).status, 200, "token works")
    eq(req("GET", "/dap/query/canvas/table", headers={"x-instauth": tok["access_token"]}).status, 200, "x-instauth")
    time.sleep(2.1)
    r = req("GET", "/dap/query/canvas/table", headers=hdr)
    eq(r.status, 401, "expired token")
    assert r.header("Content-Type").startswith("application/json")
    eq(req("GET", "/dap/query/canvas/table", headers=AUTH).status, 401, "foreign token")


@test
def dap_snapshot_jsonl():
    reset(rows=25, objects=3)
    hdr = dap_token()
    eq(req("GET", "/dap/beta/query/canvas/table", headers=hdr).json()["tables"],
       ["assignments", "courses", "enrollments", "scores", "submissions", "users"], "tables")
    eq(req("GET", "/dap/query/canvas_logs/table", headers=hdr).json()["tables"], ["web_logs"], "log tables")
    sch = req("GET", "/dap/query/canvas/table/submissions/schema", headers=hdr).json()
    eq(sch["version"], 3, "schema version")
    assert "score" in sch["schema"]["properties"]["value"]["properties"]
    r = req("GET", "/dap/query/canvas/table/nope/schema", headers=hdr)
    eq((r.status, r.json()["error"]["kind"]), (404, "table"), "unknown table")
    r = req("POST", "/dap/query/canvas/table/submissions/data", {"format": "xml"}, hdr)
    eq((r.status, r.json()["error"]["type"]), (400, "ValidationError"), "bad format")
    r = req("POST", "/dap/query/canvas/table/submissions/data", {"format": "jsonl"}, hdr)
    eq((r.status, r.json()["status"]), (202, "waiting"), "start")
    jid = r.json()["id"]
    r2 = req("POST", "/dap/beta/query/canvas/table/submissions/data", {"format": "jsonl"}, hdr)
    eq(r2.json()["id"], jid, "idempotent")
    codes = []
    for _ in range(4):
        j = req("GET", "/dap/job/" + jid, headers=hdr)
        codes.append((j.status, j.json()["status"]))
    eq(codes, [(202, "waiting"), (202, "running"), (202, "running"), (200, "complete")], "job polls")
    job = j.json()
    eq((len(job["objects"]), job["schema_version"]), (3, 3), "objects")
    assert "at" in job and "since" not in job
    r = req("POST", "/dap/object/url", job["objects"], hdr)
    urls = r.json()["urls"]
    recs = []
    for o in job["objects"]:
        u = urls[o["id"]]["url"]
        eq(urllib.parse.urlsplit(u).hostname, "127.0.0.2", "storage host")
        g = get_url(u)
        eq((g.status, g.header("Content-Type")), (200, "application/octet-stream"), "object")
        recs += [json.loads(line) for line in gzip.decompress(g.body).decode().splitlines()]
    eq([x["key"]["id"] for x in recs], list(range(1, 26)), "record keys")
    eq(recs[0]["meta"]["action"], "U", "action")
    assert "score" not in recs[5]["value"], "null properties omitted"
    eq(req("POST", "/dap/object/url", [{"id": "nope"}], hdr).status, 404, "unknown object")
    eq(req("GET", "/dap/job/nope", headers=hdr).json()["error"]["kind"], "job", "unknown job")


@test
def dap_csv_incremental_failed_limits():
    reset(rows=10, objects=1)
    hdr = dap_token()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    jid = req("POST", "/dap/query/canvas/table/scores/data", {"format": "csv", "since": since}, hdr).json()["id"]
    for _ in range(4):
        job = req("GET", "/dap/job/" + jid, headers=hdr).json()
    eq((job["since"], "at" in job), (since, False), "incremental")
    u = req("POST", "/dap/object/url", job["objects"], hdr).json()["urls"][job["objects"][0]["id"]]["url"]
    rows = parse_csv(gzip.decompress(get_url(u).body))
    eq(rows[0][:4], ["meta.action", "meta.ts", "key.id", "value.enrollment_id"], "csv header")
    eq((len(rows), rows[10][0]), (11, "D"), "rows and a delete")
    r = req("POST", "/dap/query/canvas/table/scores/data", {"format": "csv", "since": "2000-01-01T00:00:00Z"}, hdr)
    eq(r.json()["error"]["type"], "SnapshotRequiredError", "too old")
    scenario(statuses=["running", "failed"], error_message="boom", job_schema_version=4)
    jid = req("POST", "/dap/query/canvas/table/scores/data", {"format": "tsv"}, hdr).json()["id"]
    rs = [req("GET", "/dap/job/" + jid, headers=hdr) for _ in range(2)]
    eq((rs[1].status, rs[1].json()["status"], rs[1].json()["error"]["message"]), (200, "failed", "boom"), "failed")
    scenario(dap_limits={"list": 2})
    got = [req("GET", "/dap/query/canvas/table", headers=hdr) for _ in range(3)]
    eq([g.status for g in got], [200, 200, 429], "list limit")
    assert int(got[2].header("Retry-After")) >= 1 and "error" in got[2].json()


def dap_run(table, body, hdr, ns="canvas"):
    """Start a query, poll it to completion; the complete job."""
    r = req("POST", "/dap/query/%s/table/%s/data" % (ns, table), body, hdr)
    assert r.status in (200, 202), (r.status, r.body)
    for _ in range(10):
        j = req("GET", "/dap/job/" + r.json()["id"], headers=hdr)
        if j.json()["status"] in ("complete", "failed"):
            return j.json()
    raise AssertionError("job did not complete")


def dap_jsonl(job, hdr):
    recs = []
    for o in job["objects"]:
        u = req("POST", "/dap/object/url", [o], hdr).json()["urls"][o["id"]]["url"]
        recs += [json.loads(x) for x in gzip.decompress(get_url(u).body).decode().splitlines()]
    return recs


@test
def dap_strict_query_body():
    reset()
    hdr = dap_token()
    raw = '{"format": "jsonl",\n "mode": "expanded"}'
    r = req("POST", "/dap/query/canvas/table/submissions/data", raw, dict(hdr, **{"Content-Type": "application/json"}))
    err = r.json()["error"]
    eq((r.status, err["type"]), (400, "ValidationError"), "mode refused")
    assert "mode" in err["message"] and err["uuid"], err
    eq(err["location"], {"line": 2, "column": 2, "character": 22}, "location of the unknown field")
    assert r.header("Content-Type").startswith("application/json")
    for body in ({"format": "csv", "filter": {"columns": ["id"]}}, {"format": "csv", "until": "2024-01-01T00:00:00Z"},
                 {"format": "csv", "since": 17}, {"since": "2024-01-01T00:00:00Z"}, ["format"]):
        r = req("POST", "/dap/query/canvas/table/submissions/data", body, hdr)
        eq((r.status, r.json()["error"]["type"]), (400, "ValidationError"), "refused: %r" % (body,))
    eq(req("POST", "/dap/query/canvas/table/submissions/data", {"format": "csv", "filter": None}, hdr).status,
       202, "filter null accepted")
    eq(req("POST", "/dap/object/url", [{"id": "x", "url": "y"}], hdr).json()["error"]["type"],
       "ValidationError", "object/url: only ids")


@test
def dap_schemas():
    reset()
    hdr = dap_token()
    for ns, t in (("canvas", "submissions"), ("canvas", "scores"), ("canvas", "enrollments"),
                  ("canvas", "assignments"), ("canvas", "courses"), ("canvas", "users"),
                  ("canvas_logs", "web_logs")):
        r = req("GET", "/dap/query/%s/table/%s/schema" % (ns, t), headers=hdr)
        eq(r.status, 200, t)
        sch = r.json()
        eq(sorted(sch), ["schema", "version"], "VersionedSchema fields")
        props = sch["schema"]["properties"]
        eq(sorted(props), ["key", "meta", "value"], t + " parts")
        eq(props["meta"]["properties"]["action"]["enum"], ["U", "D"], "meta.action enum")
        assert props["key"]["required"], t
    v = req("GET", "/dap/query/canvas/table/submissions/schema", headers=hdr).json()["schema"]["properties"]["value"]
    eq(v["properties"]["score"], {"type": "number", "format": "float64", "description": "score (mock)"}, "number")
    eq(v["properties"]["attempt"]["format"], "int32", "int32")
    eq(v["properties"]["submitted_at"]["format"], "date-time", "date-time")
    assert "late_policy_status" not in v["required"] and "workflow_state" in v["required"], "nullable = not required"
    assert "graded" in v["properties"]["workflow_state"]["enum"]
    k = req("GET", "/dap/query/canvas_logs/table/web_logs/schema", headers=hdr).json()["schema"]["properties"]["key"]
    eq(k["properties"]["id"]["type"], "string", "web_logs key")
    eq(req("GET", "/dap/query/canvas_logs/table/submissions/schema", headers=hdr).status, 404, "wrong namespace")
    scenario(schema_version=4, dap_extra_columns={"submissions": [["redo_request", "boolean", True]]})
    sch = req("GET", "/dap/query/canvas/table/submissions/schema", headers=hdr).json()
    eq(sch["version"], 4, "new version")
    assert "redo_request" in sch["schema"]["properties"]["value"]["properties"]
    recs = dap_jsonl(dap_run("courses", {"format": "jsonl"}, hdr), hdr)
    eq(recs[0]["value"]["settings"], {"hide_final_grades": False, "lock_all_announcements": False}, "object value")
    recs = dap_jsonl(dap_run("web_logs", {"format": "jsonl"}, hdr, ns="canvas_logs"), hdr)
    eq(recs[0]["key"], {"id": "wl-00000001"}, "string key")


@test
def dap_url_expiry_and_vanished():
    reset(objects=2, dap_url_ttl_s=1)
    hdr = dap_token()
    job = dap_run("scores", {"format": "csv"}, hdr)
    o = job["objects"][0]
    u = req("POST", "/dap/object/url", [o], hdr).json()["urls"][o["id"]]["url"]
    eq(urllib.parse.parse_qs(urllib.parse.urlsplit(u).query)["X-Amz-Expires"], ["1"], "X-Amz-Expires")
    eq(get_url(u).status, 200, "fresh URL")
    time.sleep(1.2)
    r = get_url(u)
    eq((r.status, r.header("Content-Type")), (403, "application/xml"), "expired URL")
    assert "<Code>AccessDenied</Code>" in r.text()
    u2 = req("POST", "/dap/object/url", [o], hdr).json()["urls"][o["id"]]["url"]
    eq(get_url(u2).status, 200, "a fresh URL works again")
    eq(get_url(u2.replace("part-00000", "part-00001")).status, 403, "signature bound to the object")
    eq(mock("POST", "dap/expire", {})["expired"], 1, "expire")
    eq(req("GET", "/dap/job/" + job["id"], headers=hdr).status, 404, "vanished job")
    eq(req("POST", "/dap/object/url", [o], hdr).json()["error"]["kind"], "object", "vanished object")
    job2 = dap_run("scores", {"format": "csv"}, hdr)
    assert job2["id"] != job["id"], "the same query starts a new job once the old one is gone"


@test
def dap_rate_limit_window_and_bandwidth():
    reset(dap_limits={"url": 2, "job": 100}, dap_limit_window_s=1, rows=2000, objects=1)
    hdr = dap_token()
    job = dap_run("submissions", {"format": "jsonl"}, hdr)
    got = [req("POST", "/dap/object/url", job["objects"], hdr) for _ in range(3)]
    eq([g.status for g in got], [200, 200, 429], "url limit")
    eq((got[2].header("Retry-After"), got[2].json()["error"]["type"]), ("1", "TooManyRequestsError"), "Retry-After")
    time.sleep(1.05)
    u = req("POST", "/dap/object/url", job["objects"], hdr).json()["urls"][job["objects"][0]["id"]]["url"]
    size = len(get_url(u).body)
    scenario(dap_storage_bps=size * 2)
    t0 = time.time()
    eq(len(get_url(u).body), size, "same object under the cap")
    assert time.time() - t0 >= 0.4, "the cap paces the body"


@test
def dap_live_rows():
    reset(objects=2)
    hdr = dap_token()
    eq(len(mock("POST", "dap/rows", {"table": "scores", "seed": 5})["rows"]), 5, "seeded")
    snap = dap_run("scores", {"format": "jsonl"}, hdr)
    eq(sorted(x["key"]["id"] for x in dap_jsonl(snap, hdr)), [1, 2, 3, 4, 5], "snapshot = live rows")
    time.sleep(0.01)
    mock("POST", "dap/rows", {"table": "scores", "upsert": [{"id": 2, "current_score": 12.5}, {"id": 9, "enrollment_id": 9}],
                              "delete": [{"id": 4}]})
    inc = dap_run("scores", {"format": "jsonl", "since": snap["at"]}, hdr)
    assert "until" in inc and "at" not in inc
    recs = {x["key"]["id"]: x for x in dap_jsonl(inc, hdr)}
    eq(sorted(recs), [2, 4, 9], "changes since the snapshot")
    eq((recs[2]["value"]["current_score"], recs[4]["meta"]["action"], "value" in recs[4]), (12.5, "D", False), "upsert, delete")
    live = mock("GET", "dap/rows?table=scores")["rows"]
    eq([r["id"] for r in live], [1, 2, 3, 5, 9], "live rows")
    inc2 = dap_run("scores", {"format": "csv", "since": inc["until"]}, hdr)
    o = inc2["objects"]
    n = 0
    for ob in o:
        u = req("POST", "/dap/object/url", [ob], hdr).json()["urls"][ob["id"]]["url"]
        n += len(parse_csv(gzip.decompress(get_url(u).body))) - 1
    eq(n, 0, "nothing changed since")


@test
def dap_clock_skew():
    reset(dap_clock_skew_s=-7200, token_ttl_s=3600)
    r = dap_login().json()
    claims = b64json(r["access_token"].split(".")[1])
    assert claims["exp"] < time.time(), "exp lies in the past by the client's clock"
    eq(r["expires_in"], 3600, "expires_in")
    eq(req("GET", "/dap/query/canvas/table", headers={"Authorization": "Bearer " + r["access_token"]}).status,
       200, "yet the server accepts it")


# -- Brightspace --------------------------------------------------------------

L = "/d2l/api/lp/1.28/dataExport"
D2L_BASIC = {"Authorization": "Basic " + __import__("base64").b64encode(b"app:secret").decode()}


def d2l_authorize():
    return mock("POST", "d2l/authorize", {"client_id": "app"})["refresh_token"]


def d2l_refresh(rt, scope="datahub:dataexports:*"):
    return req("POST", "/core/connect/token",
               "grant_type=refresh_token&refresh_token=%s&scope=%s" % (urllib.parse.quote(rt), urllib.parse.quote(scope)),
               D2L_BASIC)


def d2l_token(scope="datahub:dataexports:*"):
    r = d2l_refresh(d2l_authorize(), scope)
    eq(r.status, 200, "token")
    t = r.json()
    assert t["refresh_token"] and t["token_type"] == "Bearer" and t["access_token"].count(".") == 2
    eq(r.header("Cache-Control"), "no-store", "no-store")
    return {"Authorization": "Bearer " + t["access_token"]}


def unzip_one(data):
    import zipfile
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    eq(len(names), 1, "one member")
    return names[0], z.read(names[0])


@test
def d2l_refresh_rotation():
    reset(d2l_access_ttl_s=1.5)
    rt = d2l_authorize()
    before = mock("GET", "d2l/grants")
    r1 = d2l_refresh(rt)
    eq(r1.status, 200, "first refresh")
    rt2 = r1.json()["refresh_token"]
    assert rt2 != rt
    r2 = d2l_refresh(rt)
    eq((r2.status, r2.json()["error"]), (400, "invalid_grant"), "a used refresh token")
    r3 = d2l_refresh(rt2)
    eq(r3.status, 200, "the rotated token works")
    eq(d2l_refresh("rt-never-issued").json()["error"], "invalid_grant", "unknown token")
    g = mock("GET", "d2l/grants")
    eq((g["refreshed"] - before["refreshed"], g["reused"] - before["reused"]), (2, 1), "grant counters")
    eq([e["outcome"] for e in g["events"][-4:]], ["ok", "reused", "ok", "unknown"], "events")
    eq(req("POST", "/core/connect/token", "grant_type=client_credentials", D2L_BASIC).json()["error"],
       "unsupported_grant_type", "no client credentials grant")
    eq(req("POST", "/core/connect/token", {"grant_type": "refresh_token"}, D2L_BASIC).json()["error"],
       "invalid_request", "JSON body")
    eq(d2l_refresh(d2l_authorize(), "datahub dataexports").json()["error"], "invalid_scope", "bad scope")
    bad = dict(D2L_BASIC, Authorization="Basic " + __import__("base64").b64encode(b"app:").decode())
    eq(req("POST", "/core/connect/token", "grant_type=refresh_token&refresh_token=x", bad).status, 401, "no secret")
    # access tokens expire after d2l_access_ttl_s; grants survive a reset
    hdr = {"Authorization": "Bearer " + r3.json()["access_token"]}
    eq(r3.json()["expires_in"], 1, "expires_in")
    eq(req("GET", L + "/list", headers=hdr).status, 200, "fresh access token")
    time.sleep(1.6)
    eq(req("GET", L + "/list", headers=hdr).status, 401, "expired access token")
    mock("POST", "reset")
    eq(d2l_refresh(r3.json()["refresh_token"]).status, 200, "grants survive /__mock/reset")
    # a read-only scope may list but not download
    ro = d2l_token("datahub:dataexports:read")
    eq(req("GET", L + "/bds/list", headers=ro).status, 200, "read scope lists")
    eq(req("GET", L + "/bds/download/9d8a96b4-8145-416d-bd18-11402bc58f8d", headers=ro).status, 403,
       "read scope cannot download")


@test
def d2l_versions():
    reset()
    r = req("GET", "/d2l/api/versions/")
    lp = [p for p in r.json() if p["ProductCode"] == "lp"][0]
    eq((r.status, lp["LatestVersion"], lp["SupportedVersions"][9:11]), (200, "1.49", ["1.9", "1.10"]), "versions")
    hdr = d2l_token()
    eq(req("GET", "/d2l/api/lp/1.50/dataExport/list", headers=hdr).status, 404, "unsupported version")
    scenario(d2l_lp_versions=["1.40", "1.51"])
    eq(req("GET", "/d2l/api/lp/1.51/dataExport/list", headers=hdr).status, 200, "scenario versions")


@test
def d2l_export_job():
    reset(rows=15)
    hdr = d2l_token()
    sets = req("GET", L + "/list", headers=hdr).json()
    by = {s["Name"]: s for s in sets}
    assert {"Final Grades", "Enrollments and Withdrawals"} <= set(by), by
    fg = by["Final Grades"]
    assert any(f["Name"] == "startDate" and f["Type"] == 1 for f in fg["Filters"])
    eq(req("POST", L + "/create", {"DataSetId": "nope"}, hdr).status, 400, "bad data set")
    for bad in ("yesterday", "2024-01-01 00:00:00+00", "2024-01-01T00:00:00+01:00", "Mon Jan 01 00:00:00 2024",
                "2024-01-01T00:00:00.000"):
        eq(req("POST", L + "/create", {"DataSetId": fg["DataSetId"],
                                       "Filters": [{"Name": "startDate", "Value": bad}]}, hdr).status, 400,
           "bad date filter %r" % bad)
    for good in ("2024-01-01", "2024-01-01T00:00:00Z"):
        eq(req("POST", L + "/create", {"DataSetId": fg["DataSetId"],
                                       "Filters": [{"Name": "endDate", "Value": good}]}, hdr).status, 200,
           "good date filter %r" % good)
    r = req("POST", L + "/create", {"DataSetId": fg["DataSetId"], "Filters": [
        {"Name": "startDate", "Value": "2024-01-01T00:00:00.000Z"}, {"Name": "parentOrgUnitId", "Value": "6606"}]}, hdr)
    job = r.json()
    eq((r.status, job["Status"], job["Name"]), (200, 0, "Final Grades"), "create")
    eq(req("GET", L + "/download/" + job["ExportJobId"], headers=hdr).status, 400, "download too early")
    sts = [req("GET", L + "/jobs/" + job["ExportJobId"], headers=hdr).json()["Status"] for _ in range(4)]
    eq(sts, [0, 1, 1, 2], "status sequence")
    eq(req("GET", L + "/jobs", headers=hdr).json()[0]["ExportJobId"], job["ExportJobId"], "jobs list")
    r = req("GET", L + "/download/" + job["ExportJobId"], headers=hdr)
    eq((r.status, r.header("Content-Type")), (200, "application/zip"), "download")
    eq(r.header("Content-Disposition"), 'attachment; filename="FinalGrades.zip"', "disposition")
    name, data = unzip_one(r.body)
    rows = parse_csv(data)
    eq((name, len(rows), rows[0][0], rows[0][3], rows[0][6]), ("FinalGrades.csv", 16, "Org Unit Id", "User Id",
                                                               "First Name"), "csv, spaced headers")
    assert r.header("X-Rate-Limit-Remaining") and r.header("X-Request-Cost") == "10"
    eq(req("GET", L + "/jobs/nope", headers=hdr).status, 404, "unknown job")
    eq(req("GET", L + "/list", headers={}).status, 401, "no token")


@test
def d2l_bds_and_rate_limit():
    reset(rows=30)
    hdr = d2l_token()
    lst = req("GET", L + "/bds/list", headers=hdr).json()
    gr = [x for x in lst if x["Name"] == "Grade Results"][0]
    eq(gr["PluginId"], "9d8a96b4-8145-416d-bd18-11402bc58f8d", "plugin id")
    page = req("GET", L + "/bds?page=1&pageSize=10", headers=hdr).json()
    eq(page["NextPageUrl"], None, "one page")
    eq(len(page["BrightspaceDataSets"]), 3, "three plugins")
    diff = [x for x in page["BrightspaceDataSets"] if x["Name"] == "Grade Results" and not x["FullDataSet"]][0]
    assert diff["CreatedDate"] > gr["CreatedDate"], "the differential is newer"
    r = get_url(gr["DownloadLink"], hdr)
    eq(len(r.body), gr["DownloadSize"], "DownloadSize")
    name, data = unzip_one(r.body)
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 byte order mark"
    rows = parse_csv(data[3:])
    eq(rows[0], ["GradeObjectId", "OrgUnitId", "UserId", "PointsNumerator", "PointsDenominator",
                 "WeightedNumerator", "WeightedDenominator", "IsReleased", "IsDropped", "LastModified",
                 "LastModifiedBy", "Comments", "PrivateComments"], "grade results header")
    eq(len(rows), 31, "rows")
    eq(len({(x[0], x[1], x[2]) for x in rows[1:]}), 30, "primary key unique")
    eq(len(parse_csv(unzip_one(get_url(diff["DownloadLink"], hdr).body)[1][3:])), 7, "differential rows")
    prev = [x for x in page["BrightspaceDataSets"] if x["PluginId"] == gr["PluginId"]][0]["PreviousDataSets"]
    eq(len(prev), 2, "previous extracts")
    r = get_url(prev[0]["DownloadLink"], hdr)
    eq((len(r.body), len(parse_csv(unzip_one(r.body)[1][3:]))), (prev[0]["DownloadSize"], 29), "a previous extract")
    eq(req("GET", L + "/bds/%s/nope" % gr["PluginId"], headers=hdr).status, 404, "unknown identifier")
    eq(req("GET", "/d2l/api/lp/unstable/dataExport/bds/" + gr["PluginId"], headers=hdr).status, 200,
       "the example client's route")
    # paging
    scenario(bds_page_size=2)
    p1 = req("GET", L + "/bds?page=1", headers=hdr).json()
    eq(len(p1["BrightspaceDataSets"]), 2, "page 1")
    p2 = get_url(p1["NextPageUrl"], hdr).json()
    eq((len(p2["BrightspaceDataSets"]), p2["NextPageUrl"]), (1, None), "page 2")
    eq(req("GET", L + "/bds?page=0", headers=hdr).status, 400, "page 0")
    scenario(d2l_bucket={"limit": 30, "window_s": 60})
    got = [req("GET", L + "/list", headers=hdr) for _ in range(4)]
    eq([g.status for g in got], [200, 200, 200, 429], "credits")
    eq([g.header("X-Rate-Limit-Remaining") for g in got[:3]], ["20", "10", "0"], "remaining")
    assert int(got[3].header("Retry-After")) >= 1
    eq((got[3].header("X-Rate-Limit-Remaining"), got[3].header("X-Request-Cost")), (None, None), "no rate headers on 429")


# ---------------------------------------------------------------------------
# runner
# ---------------------------------------------------------------------------

def start_mock(tmp):
    global PORT, PROC
    pf = os.path.join(tmp, "port")
    errf = open(os.path.join(tmp, "mock.log"), "w")
    PROC = subprocess.Popen([sys.executable, MOCK, "--port", "0", "--port-file", pf, "--quiet"],
                            stdout=errf, stderr=errf)
    for _ in range(200):
        if os.path.exists(pf):
            PORT = int(open(pf).read().strip())
            return
        if PROC.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit("selftest: mock did not start:\n" + open(os.path.join(tmp, "mock.log")).read())


def main():
    only = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        start_mock(tmp)
        passed = failed = 0
        try:
            for t in TESTS:
                if only and t.__name__ not in only:
                    continue
                try:
                    t()
                    passed += 1
                    print("ok   %s" % t.__name__)
                except Exception:                           # noqa: BLE001
                    failed += 1
                    print("FAIL %s" % t.__name__)
                    traceback.print_exc(file=sys.stdout)
        finally:
            PROC.terminate()
            try:
                rc = PROC.wait(10)
            except subprocess.TimeoutExpired:
                PROC.kill()
                rc = None
            if rc != 0:
                failed += 1
                print("FAIL clean exit on SIGTERM (rc=%r)" % rc)
            else:
                passed += 1
                print("ok   clean_exit_on_sigterm")
            log_text = open(os.path.join(tmp, "mock.log")).read()
            if "Traceback" in log_text:
                failed += 1
                print("FAIL mock stderr has a traceback:\n" + log_text[-3000:])
    print("selftest: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
