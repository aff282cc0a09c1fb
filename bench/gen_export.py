#!/usr/bin/env python3
"""Write the same grade export as CSV, JSON lines, gzip CSV and gzip JSON lines.

usage: gen_export.py ROWS OUTDIR
Rows come from the mock LMS's own generator, so the files are exactly what
the mock would serve for a grade_export_csv of that many rows.
"""
import gzip
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "mock_lms"))
import mock_lms  # noqa: E402


def write(path, blocks):
    with open(path, "wb") as f:
        for b in blocks:
            f.write(b)


def main():
    rows, outdir = int(sys.argv[1]), sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    header = mock_lms.GRADE_HEADER
    base = os.path.join(outdir, "grades_%d" % rows)
    write(base + ".csv", mock_lms.table_blocks(
        header, lambda i: mock_lms.grade_row(i, 1, True), rows, "csv", {}))
    write(base + ".jsonl", mock_lms.table_blocks(
        header, lambda i: mock_lms.grade_row(i, 1, False), rows, "jsonl", {}))
    for ext in ("csv", "jsonl"):
        with open(base + "." + ext, "rb") as src, \
                gzip.open(base + "." + ext + ".gz", "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    for ext in ("csv", "jsonl", "csv.gz", "jsonl.gz"):
        print("%s.%s %d bytes" % (base, ext, os.path.getsize(base + "." + ext)))


if __name__ == "__main__":
    main()
