/*-------------------------------------------------------------------------
 *
 * fuzz_tsv_reader.c
 *		  Fuzz target for the incremental COPY text format (TSV) reader
 *
 * Input layout: byte 0 picks the record size limit (bits 0-2); bytes 1-2
 * and 3-4 pick two cut positions; the rest is the document.  The document
 * is parsed
 *
 *	 - whole (one feed),
 *	 - in three pieces at the two cut positions,
 *	 - byte by byte (short documents), once reading records between feeds
 *	   and once only after the last feed, and
 *	 - by a deliberately simple, non-incremental reference parser below,
 *
 * and every result, rendered as one byte string (records, fields, NULLs,
 * line numbers, final status and error message), must be identical.  Each
 * returned field must be NUL-terminated, a NULL must be empty, and EOF and
 * errors must be sticky.  A difference is reported by abort().
 *
 * Build (from the project root):
 *	 clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *		 test/fuzz/fuzz_tsv_reader.c src/tsv_reader.c -o fuzz_tsv_reader
 *	 ./fuzz_tsv_reader test/fuzz/corpus/tsv -max_total_time=120
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_tsv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "tsv_reader.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BYTEWISE_MAX	2048

typedef struct Out
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} Out;

static void
out_add(Out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap)
	{
		size_t		cap = o->cap ? o->cap : 256;

		while (cap < o->len + n)
			cap *= 2;
		o->data = realloc(o->data, cap);
		if (o->data == NULL)
			abort();
		o->cap = cap;
	}
	if (n > 0)
		memcpy(o->data + o->len, p, n);
	o->len += n;
}

static void
out_u64(Out *o, uint64_t v)
{
	out_add(o, &v, sizeof(v));
}

static void
out_tag(Out *o, char tag)
{
	out_add(o, &tag, 1);
}

/* Rendering shared by the reader and the reference parser. */
static void
out_record_begin(Out *o, uint64_t line, uint64_t nfields)
{
	out_tag(o, 'R');
	out_u64(o, line);
	out_u64(o, nfields);
}

static void
out_field(Out *o, bool is_null, const char *v, size_t len)
{
	if (is_null)
		out_tag(o, 'N');
	else
	{
		out_tag(o, 'V');
		out_u64(o, len);
		out_add(o, v, len);
	}
}

static void
out_error(Out *o, uint64_t line, const char *msg)
{
	out_tag(o, 'E');
	out_u64(o, line);
	out_add(o, msg, strlen(msg));
}

/* ---------------------------------------------------------------- */

/* Returns true once the reader has ended (EOF or error). */
static bool
drain(TsvReader *r, Out *o)
{
	const ReaderField *f;
	int			n;
	int			i;

	for (;;)
	{
		ReaderStatus	st = tsv_reader_next(r, &f, &n);

		switch (st)
		{
			case READER_RECORD:
				if (n < 1)
					abort();
				out_record_begin(o, tsv_reader_line(r), (uint64_t) n);
				for (i = 0; i < n; i++)
				{
					if (f[i].value == NULL || f[i].value[f[i].len] != '\0')
						abort();
					if (f[i].is_null && f[i].len != 0)
						abort();
					out_field(o, f[i].is_null, f[i].value, f[i].len);
				}
				break;
			case READER_NEED_MORE:
				return false;
			case READER_EOF:
				out_tag(o, 'Z');
				if (tsv_reader_next(r, &f, &n) != READER_EOF)
					abort();
				return true;
			case READER_ERROR:
				out_error(o, tsv_reader_line(r), tsv_reader_error(r));
				if (tsv_reader_next(r, &f, &n) != READER_ERROR)
					abort();
				return true;
			default:
				abort();
		}
	}
}

/* Feed doc in pieces ending at cuts[0..ncuts) (ascending), then the rest. */
static void
run_reader(const char *doc, size_t len, const size_t *cuts, size_t ncuts,
		   size_t max_record, bool drain_between, Out *o)
{
	TsvReader  *r = tsv_reader_create(max_record);
	size_t		pos = 0;
	size_t		i;
	bool		ended = false;

	if (r == NULL)
		abort();
	for (i = 0; i <= ncuts && !ended; i++)
	{
		size_t		next = (i < ncuts) ? cuts[i] : len;

		if (!tsv_reader_feed(r, doc + pos, next - pos))
			abort();
		pos = next;
		if (drain_between)
			ended = drain(r, o);
	}
	if (!ended)
	{
		tsv_reader_finish(r);
		if (!drain(r, o))
			abort();			/* NEED_MORE after finish */
	}
	tsv_reader_free(r);
}

/* ---------------------------------------------------------------- */

static int
ref_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The reference: the whole document at once, written straight from the
 * rules rather than for speed.  Each line is cut off first (LF, and a CR
 * right before it), then checked for length, then decoded byte by byte.
 */
static void
run_reference(const unsigned char *s, size_t n, size_t max_record, Out *o)
{
	size_t		pos = 0;
	uint64_t	line = 0;
	char		toolong[80];
	Out			fields = {0};
	Out			val = {0};

	if (max_record == 0)
		max_record = SIZE_MAX;
	snprintf(toolong, sizeof(toolong), "record exceeds %zu bytes", max_record);

	if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		pos = 3;

	while (pos < n)
	{
		size_t		start = pos;
		size_t		end;
		size_t		next;
		size_t		i;
		uint64_t	nf = 0;

		line++;
		while (pos < n && s[pos] != '\n')
			pos++;
		if (pos < n)
		{
			next = pos + 1;
			end = (pos > start && s[pos - 1] == '\r') ? pos - 1 : pos;
		}
		else
			next = end = n;
		pos = next;
		if (end == start)
			continue;			/* blank line */
		if (end - start > max_record)
		{
			out_error(o, line, toolong);
			goto done;
		}

		fields.len = 0;
		i = start;
		for (;;)
		{
			bool		is_null = false;

			val.len = 0;
			if (end - i >= 2 && s[i] == '\\' && s[i + 1] == 'N' &&
				(end - i == 2 || s[i + 2] == '\t'))
			{
				is_null = true;
				i += 2;
			}
			while (!is_null && i < end && s[i] != '\t')
			{
				unsigned char c = s[i++];
				int			v;

				if (c == '\\')
				{
					if (i == end)
					{
						out_error(o, line, "backslash at the end of a record");
						goto done;
					}
					c = s[i++];
					if (c == 'b')
						c = '\b';
					else if (c == 'f')
						c = '\f';
					else if (c == 'n')
						c = '\n';
					else if (c == 'r')
						c = '\r';
					else if (c == 't')
						c = '\t';
					else if (c == 'v')
						c = '\v';
					else if (c >= '0' && c <= '7')
					{
						v = c - '0';
						if (i < end && s[i] >= '0' && s[i] <= '7')
						{
							v = v * 8 + (s[i++] - '0');
							if (i < end && s[i] >= '0' && s[i] <= '7')
								v = v * 8 + (s[i++] - '0');
						}
						c = (unsigned char) v;
					}
					else if (c == 'x' && i < end && ref_hex(s[i]) >= 0)
					{
						v = ref_hex(s[i++]);
						if (i < end && ref_hex(s[i]) >= 0)
							v = v * 16 + ref_hex(s[i++]);
						c = (unsigned char) v;
					}
				}
				out_add(&val, &c, 1);
			}
			out_field(&fields, is_null, (const char *) val.data, val.len);
			nf++;
			if (i == end)
				break;
			i++;				/* the TAB */
		}
		out_record_begin(o, line, nf);
		out_add(o, fields.data, fields.len);
	}
	out_tag(o, 'Z');

done:
	free(fields.data);
	free(val.data);
}

/* ---------------------------------------------------------------- */

static void
must_equal(const Out *a, const Out *b, const char *what)
{
	if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
	{
		fprintf(stderr, "fuzz_tsv_reader: %s differs from feeding whole\n",
				what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[8] = {0, 1, 2, 3, 5, 8, 16, 100};
	const char *doc;
	size_t		len;
	size_t		max_record;
	size_t		cuts[BYTEWISE_MAX];
	size_t		i;
	Out			whole = {0};
	Out			other = {0};

	if (size < 5)
		return 0;
	max_record = limits[data[0] & 7];
	doc = (const char *) data + 5;
	len = size - 5;
	cuts[0] = ((size_t) data[1] << 8 | data[2]) % (len + 1);
	cuts[1] = ((size_t) data[3] << 8 | data[4]) % (len + 1);
	if (cuts[0] > cuts[1])
	{
		size_t		t = cuts[0];

		cuts[0] = cuts[1];
		cuts[1] = t;
	}

	run_reader(doc, len, NULL, 0, max_record, true, &whole);

	run_reference((const unsigned char *) doc, len, max_record, &other);
	must_equal(&whole, &other, "reference parser");

	other.len = 0;
	run_reader(doc, len, cuts, 2, max_record, true, &other);
	must_equal(&whole, &other, "three pieces");

	if (len <= BYTEWISE_MAX)
	{
		for (i = 1; i < len; i++)
			cuts[i - 1] = i;
		other.len = 0;
		run_reader(doc, len, cuts, len > 0 ? len - 1 : 0, max_record, true,
				   &other);
		must_equal(&whole, &other, "byte by byte");
		other.len = 0;
		run_reader(doc, len, cuts, len > 0 ? len - 1 : 0, max_record, false,
				   &other);
		must_equal(&whole, &other, "byte by byte, read at the end");
	}

	free(whole.data);
	free(other.data);
	return 0;
}
