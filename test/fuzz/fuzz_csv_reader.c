/*-------------------------------------------------------------------------
 *
 * fuzz_csv_reader.c
 *		  Fuzz target for the incremental CSV record reader
 *
 * Input layout: byte 0 picks the delimiter (bits 0-1) and the record size
 * limit (bits 2-4); bytes 1-2 and 3-4 pick two cut positions; the rest is
 * the document.  The document is parsed
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
 *		 test/fuzz/fuzz_csv_reader.c src/csv_reader.c -o fuzz_csv_reader
 *	 ./fuzz_csv_reader test/fuzz/corpus/csv -max_total_time=120
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_csv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "csv_reader.h"

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
drain(CsvReader *r, Out *o)
{
	const ReaderField *f;
	int			n;
	int			i;

	for (;;)
	{
		ReaderStatus	st = csv_reader_next(r, &f, &n);

		switch (st)
		{
			case READER_RECORD:
				if (n < 1)
					abort();
				out_record_begin(o, csv_reader_line(r), (uint64_t) n);
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
				if (csv_reader_next(r, &f, &n) != READER_EOF)
					abort();
				return true;
			case READER_ERROR:
				out_error(o, csv_reader_line(r), csv_reader_error(r));
				if (csv_reader_next(r, &f, &n) != READER_ERROR)
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
		   char delim, size_t max_record, bool drain_between, Out *o)
{
	CsvReader  *r = csv_reader_create(delim, max_record);
	size_t		pos = 0;
	size_t		i;
	bool		ended = false;

	if (r == NULL)
		abort();
	for (i = 0; i <= ncuts && !ended; i++)
	{
		size_t		next = (i < ncuts) ? cuts[i] : len;

		if (!csv_reader_feed(r, doc + pos, next - pos))
			abort();
		pos = next;
		if (drain_between)
			ended = drain(r, o);
	}
	if (!ended)
	{
		csv_reader_finish(r);
		if (!drain(r, o))
			abort();			/* NEED_MORE after finish */
	}
	csv_reader_free(r);
}

/* ---------------------------------------------------------------- */

/*
 * The reference: the whole document at once, one byte at a time, written
 * straight from the rules rather than for speed.  A record byte at offset
 * max_record or more from the record start is "too long", checked before
 * what the byte means; terminators (LF, CR LF) are not record bytes.  An
 * empty line is skipped, unless the first record had one field: then it is
 * a record of one NULL field (as COPY reads a one-column file).
 */
static void
run_reference(const unsigned char *s, size_t n, char delim, size_t max_record,
			  Out *o)
{
	size_t		pos = 0;
	uint64_t	line = 1;
	char		toolong[80];
	Out			fields = {0};
	Out			val = {0};
	int64_t		first_nf = -1;

	if (max_record == 0)
		max_record = SIZE_MAX;
	snprintf(toolong, sizeof(toolong), "record exceeds %zu bytes", max_record);

	if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		pos = 3;

#define IS_TERM(i) \
	(s[(i)] == '\n' || (s[(i)] == '\r' && (i) + 1 < n && s[(i) + 1] == '\n'))
#define CHECK_LEN(i) \
	do { \
		if ((i) - rec_start >= max_record) \
		{ \
			out_error(o, rec_line, toolong); \
			goto done; \
		} \
	} while (0)

	for (;;)
	{
		size_t		rec_start;
		uint64_t	rec_line;
		uint64_t	nf = 0;
		bool		rec_done = false;

		if (pos == n)
		{
			out_tag(o, 'Z');
			break;
		}
		if (IS_TERM(pos))
		{
			if (first_nf == 1)
			{
				fields.len = 0;
				out_field(&fields, true, "", 0);
				out_record_begin(o, line, 1);
				out_add(o, fields.data, fields.len);
			}
			pos += (s[pos] == '\r') ? 2 : 1;
			line++;
			continue;
		}

		rec_start = pos;
		rec_line = line;
		fields.len = 0;
		while (!rec_done)
		{
			bool		is_null = false;

			val.len = 0;
			if (pos < n && s[pos] == '"')
			{
				CHECK_LEN(pos);
				pos++;
				for (;;)
				{
					if (pos == n)
					{
						out_error(o, rec_line, "unterminated quoted field");
						goto done;
					}
					CHECK_LEN(pos);
					if (s[pos] == '"')
					{
						if (pos + 1 < n && s[pos + 1] == '"')
						{
							CHECK_LEN(pos + 1);
							out_add(&val, "\"", 1);
							pos += 2;
							continue;
						}
						pos++;
						break;
					}
					if (s[pos] == '\n')
						line++;
					out_add(&val, &s[pos], 1);
					pos++;
				}
				/* after the closing quote */
				if (pos == n)
					rec_done = true;
				else if (IS_TERM(pos))
				{
					pos += (s[pos] == '\r') ? 2 : 1;
					line++;
					rec_done = true;
				}
				else
				{
					CHECK_LEN(pos);
					if (s[pos] != (unsigned char) delim)
					{
						out_error(o, rec_line,
								  "unexpected character after closing quote");
						goto done;
					}
					pos++;
				}
			}
			else
			{
				for (;;)
				{
					if (pos == n)
					{
						rec_done = true;
						break;
					}
					if (IS_TERM(pos))
					{
						pos += (s[pos] == '\r') ? 2 : 1;
						line++;
						rec_done = true;
						break;
					}
					CHECK_LEN(pos);
					if (s[pos] == (unsigned char) delim)
					{
						pos++;
						break;
					}
					if (s[pos] == '"')
					{
						out_error(o, rec_line, "quote inside unquoted field");
						goto done;
					}
					out_add(&val, &s[pos], 1);
					pos++;
				}
				is_null = (val.len == 0);
			}
			out_field(&fields, is_null, (const char *) val.data, val.len);
			nf++;
		}
		out_record_begin(o, rec_line, nf);
		out_add(o, fields.data, fields.len);
		if (first_nf < 0)
			first_nf = (int64_t) nf;
	}

done:
	free(fields.data);
	free(val.data);
#undef IS_TERM
#undef CHECK_LEN
}

/* ---------------------------------------------------------------- */

static void
must_equal(const Out *a, const Out *b, const char *what)
{
	if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
	{
		fprintf(stderr, "fuzz_csv_reader: %s differs from feeding whole\n",
				what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[4] = {',', ';', '\t', '|'};
	static const size_t limits[8] = {0, 1, 2, 3, 5, 8, 16, 100};
	const char *doc;
	size_t		len;
	char		delim;
	size_t		max_record;
	size_t		cuts[BYTEWISE_MAX];
	size_t		i;
	Out			whole = {0};
	Out			other = {0};

	if (size < 5)
		return 0;
	delim = delims[data[0] & 3];
	max_record = limits[(data[0] >> 2) & 7];
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

	run_reader(doc, len, NULL, 0, delim, max_record, true, &whole);

	run_reference((const unsigned char *) doc, len, delim, max_record, &other);
	must_equal(&whole, &other, "reference parser");

	other.len = 0;
	run_reader(doc, len, cuts, 2, delim, max_record, true, &other);
	must_equal(&whole, &other, "three pieces");

	if (len <= BYTEWISE_MAX)
	{
		for (i = 1; i < len; i++)
			cuts[i - 1] = i;
		other.len = 0;
		run_reader(doc, len, cuts, len > 0 ? len - 1 : 0, delim, max_record,
				   true, &other);
		must_equal(&whole, &other, "byte by byte");
		other.len = 0;
		run_reader(doc, len, cuts, len > 0 ? len - 1 : 0, delim, max_record,
				   false, &other);
		must_equal(&whole, &other, "byte by byte, read at the end");
	}

	free(whole.data);
	free(other.data);
	return 0;
}
