/*-------------------------------------------------------------------------
 *
 * fuzz_jsonl_reader.c
 *		  Differential fuzz target: the simdjson JSON lines reader against
 *		  the yajl reader
 *
 * Input layout: byte 0 picks the size limit (bits 0-2), byte 1 which of
 * eight wanted paths are asked for (one bit each), bytes 2-3 and 4-5 two
 * cut positions; the rest is the JSON lines stream.  The yajl reader
 * (json_reader.c) reads the stream whole; the simdjson reader
 * (jsonl_reader.cpp) reads it
 *
 *	 - whole,
 *	 - in three pieces at the two cut positions,
 *	 - byte by byte (short streams), reading records between feeds,
 *
 * and every result, rendered as one byte string (record numbers, values,
 * NULLs, final status and error message), must equal the yajl reader's.
 * The list of first keys must be equal too.  A difference is reported by
 * abort().  So that the seeds reach the fast path and not only the
 * hand-over, most of them are valid JSON lines (test/fuzz/corpus/jsonl).
 *
 * Build and run (from the project root; work on a copy of the seeds):
 *	 make -C test/fuzz fuzz_jsonl_reader
 *	 cp -r test/fuzz/corpus/jsonl /tmp/jsonl-corpus
 *	 test/fuzz/fuzz_jsonl_reader /tmp/jsonl-corpus -max_total_time=120
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_jsonl_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "json_reader.h"
#include "jsonl_reader.h"
#include "fuzz_out.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BYTEWISE_MAX	1024


/* One record or the end, in the common rendering; true once ended. */
static bool
render(Out *o, ReaderStatus st, const ReaderField *f, int n, int nwanted,
	   uint64_t number, const char *error)
{
	int			i;

	switch (st)
	{
		case READER_RECORD:
			if (n != nwanted || f == NULL)
				abort();
			out_tag(o, 'R');
			out_u64(o, number);
			for (i = 0; i < n; i++)
			{
				if (f[i].value == NULL || f[i].value[f[i].len] != '\0')
					abort();
				if (f[i].is_null)
				{
					if (f[i].len != 0)
						abort();
					out_tag(o, 'N');
					continue;
				}
				out_tag(o, 'V');
				out_u64(o, f[i].len);
				out_add(o, f[i].value, f[i].len);
			}
			return false;
		case READER_NEED_MORE:
			return false;
		case READER_EOF:
			out_tag(o, 'Z');
			return true;
		case READER_ERROR:
			out_tag(o, 'E');
			out_u64(o, number);
			out_add(o, error, strlen(error));
			return true;
	}
	abort();
}

static void
render_keys(Out *o, const char *const *names, int n)
{
	int			i;

	out_tag(o, 'K');
	for (i = 0; i < n; i++)
		out_add(o, names[i], strlen(names[i]) + 1);
}

static void
run_yajl(const char *doc, size_t len, const JsonWantedPath *w, int nw,
		 size_t limit, Out *o)
{
	JsonReader *r = json_reader_create(JSON_FORMAT_LINES, NULL, w, nw, limit);
	const ReaderField *f;
	const char *const *names;
	int			n;
	ReaderStatus	st;

	if (r == NULL || !json_reader_feed(r, doc, len))
		abort();
	json_reader_finish(r);
	do
		st = json_reader_next(r, &f, &n);
	while (!render(o, st, f, n, nw, json_reader_record_number(r),
				   json_reader_error(r)));
	json_reader_first_keys(r, &names, &n);
	render_keys(o, names, n);
	json_reader_free(r);
}

/* Feed in pieces ending at cuts[0..ncuts), reading between feeds. */
static void
run_fast(const char *doc, size_t len, const size_t *cuts, size_t ncuts,
		 const JsonWantedPath *w, int nw, size_t limit, Out *o)
{
	JsonlReader *r = jsonl_reader_create(w, nw, limit);
	const ReaderField *f;
	const char *const *names;
	int			n;
	size_t		pos = 0;
	size_t		i;
	bool		ended = false;
	ReaderStatus	st;

	if (r == NULL)
		abort();
	for (i = 0; i <= ncuts && !ended; i++)
	{
		size_t		next = (i < ncuts) ? cuts[i] : len;

		if (!jsonl_reader_feed(r, doc + pos, next - pos))
			abort();
		pos = next;
		do
		{
			st = jsonl_reader_next(r, &f, &n);
			ended = render(o, st, f, n, nw, jsonl_reader_record_number(r),
						   jsonl_reader_error(r));
		} while (!ended && st != READER_NEED_MORE);
	}
	if (!ended)
	{
		jsonl_reader_finish(r);
		do
		{
			st = jsonl_reader_next(r, &f, &n);
			if (st == READER_NEED_MORE)
				abort();
		} while (!render(o, st, f, n, nw, jsonl_reader_record_number(r),
						 jsonl_reader_error(r)));
	}
	/* sticky */
	if (jsonl_reader_next(r, &f, &n) != st)
		abort();
	jsonl_reader_first_keys(r, &names, &n);
	render_keys(o, names, n);
	jsonl_reader_free(r);
}

/* what: the way of feeding that differs */
static void
must_equal(const Out *a, const Out *b, const char *what)
{
	char		msg[128];

	snprintf(msg, sizeof(msg), "%s %s", what, "differs from the yajl reader");
	out_must_equal(a, b, "fuzz_jsonl_reader", msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[8] = {0, 1, 5, 16, 64, 200, 1000, 0};
	static const JsonWantedPath all_wanted[8] = {
		{"a", false}, {"b", true}, {"a.b", false}, {"Student ID", true},
		{"value.score", false}, {"value", true}, {"", false}, {"a", true}
	};
	JsonWantedPath wanted[8];
	int			nwanted = 0;
	size_t		limit;
	const char *doc;
	size_t		len;
	size_t		cuts[BYTEWISE_MAX];
	size_t		i;
	Out			ref = {0};
	Out			got = {0};

	if (size < 6)
		return 0;
	limit = limits[data[0] & 7];
	for (i = 0; i < 8; i++)
		if (data[1] & (1 << i))
			wanted[nwanted++] = all_wanted[i];
	doc = (const char *) data + 6;
	len = size - 6;
	cuts[0] = ((size_t) data[2] << 8 | data[3]) % (len + 1);
	cuts[1] = ((size_t) data[4] << 8 | data[5]) % (len + 1);
	if (cuts[0] > cuts[1])
	{
		size_t		t = cuts[0];

		cuts[0] = cuts[1];
		cuts[1] = t;
	}

	run_yajl(doc, len, wanted, nwanted, limit, &ref);

	run_fast(doc, len, NULL, 0, wanted, nwanted, limit, &got);
	must_equal(&ref, &got, "whole");

	got.len = 0;
	run_fast(doc, len, cuts, 2, wanted, nwanted, limit, &got);
	must_equal(&ref, &got, "three pieces");

	if (len <= BYTEWISE_MAX)
	{
		for (i = 1; i < len; i++)
			cuts[i - 1] = i;
		got.len = 0;
		run_fast(doc, len, cuts, len > 0 ? len - 1 : 0, wanted, nwanted,
				 limit, &got);
		must_equal(&ref, &got, "byte by byte");
	}

	free(ref.data);
	free(got.data);
	return 0;
}
