/*-------------------------------------------------------------------------
 *
 * tsv_reader.c
 *		  Incremental reader for PostgreSQL's COPY text format (pure C, no
 *		  PostgreSQL headers)
 *
 * The buffering is that of csv_reader.c: one growable byte buffer that
 * tsv_reader_feed() appends to, whose consumed head is dropped lazily (only
 * when an append does not fit is the unconsumed tail moved to the front, or
 * the buffer grown), with one spare byte after the data so that the last
 * field of a record ending at the end of the data can be NUL-terminated in
 * place.
 *
 * tsv_reader_next() works in two stages:
 *
 * 1. scan_record() finds where the current record ends.  In this format a
 *	  record can only end at an LF (line feeds in data are written \n), so
 *	  the scan is a memchr() for LF, resumed where the previous call stopped:
 *	  a record that arrives in many chunks is scanned once.  The search
 *	  never looks further than the size limit allows, so an overlong record
 *	  is refused before the rest of it arrives.
 *
 * 2. split_record() cuts the complete record into fields in place and
 *	  decodes escapes in place (decoding only shrinks).  A backslash quotes
 *	  the byte after it, a TAB included, so splitting and decoding are one
 *	  left-to-right pass; but most records contain no backslash at all, and
 *	  for those (and for every field before the first backslash) fields are
 *	  found with memchr() alone.  The CsvField array is reused across
 *	  records and grown by doubling.
 *
 * Semantics, as COPY ... (FORMAT text) writes them: TAB separates fields;
 * LF ends a record and a CR right before that LF is part of the terminator
 * (a CR anywhere else is data, also at the very end of the input).  A field
 * of exactly the two bytes \N is NULL; an empty field is an empty string.
 * \b \f \n \r \t \v \\ are the usual control characters and the backslash;
 * \ followed by one to three octal digits is that byte (the value is taken
 * modulo 256); \x followed by one or two hex digits is that byte; a
 * backslash before any other byte (a TAB included) stands for that byte, so
 * \N inside a longer field is just N.  A record whose last byte is an
 * unescaped backslash is an error.  A UTF-8 byte order mark at the very start
 * of the stream is skipped, and lines with no bytes (or only the CR of a CR
 * LF) are skipped.
 *
 * The size limit counts a record's bytes as received, escapes undecoded and
 * terminator excluded.  Whether a record is too long does not depend on how
 * the input was chunked; when its LF is missing the reader knows it is too
 * long after max_record + 2 bytes (max_record + 1 when that byte is not a CR
 * that a following LF would make part of the terminator).
 *
 * IDENTIFICATION
 *		  src/tsv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "tsv_reader.h"
#include "record_buffer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TSV_INITIAL_BUFFER	(64 * 1024)
#define TSV_INITIAL_FIELDS	16

typedef enum ScanResult
{
	SCAN_FOUND,					/* a complete record is in the buffer */
	SCAN_MORE,					/* the data ended before the record did */
	SCAN_FAILED					/* limit exceeded; r->failed is set */
} ScanResult;

struct TsvReader
{
	/* the bytes; b.scan is where the record-end search resumes */
	RecordBuffer b;

	/* line numbers */
	uint64_t	line;			/* physical line on which "start" lies */
	uint64_t	rec_line;		/* line of the last returned/failing record */

	/* settings */
	size_t		max_record;		/* SIZE_MAX when unlimited */

	/* flags */
	bool		bom_pending;	/* stream start not yet checked for a BOM */
	bool		finished;		/* tsv_reader_finish() was called */
	bool		failed;			/* sticky CSV_ERROR */
	bool		oom;			/* failed for lack of memory */

	const char *errmsg;
	char		errbuf[80];

	/* reusable output array */
	CsvField   *fields;
	int			fields_cap;
};



/* Put the reader into the sticky error state. */
static CsvStatus
tsv_fail(TsvReader *r, const char *msg)
{
	r->failed = true;
	r->errmsg = msg;
	return CSV_ERROR;
}

static void
tsv_fail_oom(TsvReader *r)
{
	tsv_fail(r, "out of memory");
	r->oom = true;
}

TsvReader *
tsv_reader_create(size_t max_record)
{
	TsvReader  *r;

	r = calloc(1, sizeof(TsvReader));
	if (r == NULL)
		return NULL;
	r->fields = malloc(TSV_INITIAL_FIELDS * sizeof(CsvField));
	if (r->fields == NULL || !record_buffer_init(&r->b, TSV_INITIAL_BUFFER,
										   max_record == 0 || max_record > SIZE_MAX - 3 ?
										   0 : max_record + 3))
	{
		free(r->fields);
		free(r);
		return NULL;
	}
	r->fields_cap = TSV_INITIAL_FIELDS;
	r->line = 1;
	r->rec_line = 0;
	r->max_record = (max_record == 0) ? SIZE_MAX : max_record;
	r->bom_pending = true;
	r->errmsg = "no error";
	return r;
}

void
tsv_reader_free(TsvReader *r)
{
	if (r == NULL)
		return;
	record_buffer_free(&r->b);
	free(r->fields);
	free(r);
}

bool
tsv_reader_feed(TsvReader *r, const char *data, size_t len)
{
	if (r->failed)
		return !r->oom;
	if (r->finished)
	{
		r->rec_line = r->line;
		tsv_fail(r, "data fed after the end of input");
		return true;
	}
	if (len == 0)
		return true;

	if (!record_buffer_append(&r->b, data, len))
	{
		tsv_fail_oom(r);
		return false;
	}
	return true;
}

void
tsv_reader_finish(TsvReader *r)
{
	r->finished = true;
}

/*
 * Stage 1: find the end of the current record, resuming where the last call
 * stopped.  On SCAN_FOUND, [*rec_start, *rec_end) is the record without its
 * terminator and the reader already points past it.
 *
 * Only the first max_record + 2 bytes of a record are ever searched: if
 * none of them is an LF, the record has at least max_record + 1 bytes of
 * data whatever follows.
 */
static ScanResult
scan_record(TsvReader *r, size_t *rec_start, size_t *rec_end)
{
	const char *buf = r->b.buf;
	const char *e = buf + r->b.len;
	const char *rs = buf + r->b.start;
	const char *p = buf + r->b.scan;
	const size_t maxw = (r->max_record > SIZE_MAX - 2) ?
		SIZE_MAX : r->max_record + 2;

	for (;;)
	{
		size_t		avail = (size_t) (e - rs);
		const char *lim = (avail > maxw) ? rs + maxw : e;
		const char *lf = (p < lim) ? memchr(p, '\n', (size_t) (lim - p)) : NULL;
		const char *ce;

		if (lf == NULL)
		{
			if (avail >= maxw)
				goto too_long;
			if (avail == maxw - 1 &&
				(rs[r->max_record] != '\r' || r->finished))
				goto too_long;	/* that byte is data, one too many */
			r->b.start = (size_t) (rs - buf);
			r->b.scan = r->b.len;
			return SCAN_MORE;
		}

		ce = lf;
		if (ce > rs && ce[-1] == '\r')
			ce--;
		if (ce == rs)
		{
			/* blank line */
			rs = p = lf + 1;
			r->line++;
			continue;
		}
		if ((size_t) (ce - rs) > r->max_record)
			goto too_long;

		*rec_start = (size_t) (rs - buf);
		*rec_end = (size_t) (ce - buf);
		r->rec_line = r->line;
		r->line++;
		r->b.start = r->b.scan = (size_t) (lf - buf) + 1;
		return SCAN_FOUND;
	}

too_long:
	r->b.start = r->b.scan = (size_t) (rs - buf);
	r->rec_line = r->line;
	snprintf(r->errbuf, sizeof(r->errbuf), "record exceeds %zu bytes",
			 r->max_record);
	tsv_fail(r, r->errbuf);
	return SCAN_FAILED;
}

static inline int
tsv_hex_value(unsigned char c)
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
 * Decode the field that starts at "field" and has its first backslash at
 * "bs", in place, up to the first unescaped TAB or "end".  Returns the
 * position of that TAB (or end), and the decoded length in *len; NULL when
 * the record ends in a backslash.
 */
static char *
decode_field(char *field, char *bs, char *end, size_t *len)
{
	char	   *src = bs;
	char	   *dst = bs;

	while (src < end)
	{
		unsigned char c = (unsigned char) *src;
		int			v;
		int			k;

		if (c == '\t')
			break;
		src++;
		if (c != '\\')
		{
			*dst++ = (char) c;
			continue;
		}
		if (src == end)
			return NULL;
		c = (unsigned char) *src++;
		switch (c)
		{
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'v':
				c = '\v';
				break;
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
				v = c - '0';
				for (k = 0; k < 2 && src < end && *src >= '0' && *src <= '7'; k++)
					v = v * 8 + (*src++ - '0');
				c = (unsigned char) (v & 0xFF);
				break;
			case 'x':
				if (src < end && (v = tsv_hex_value((unsigned char) *src)) >= 0)
				{
					int			v2;

					src++;
					if (src < end &&
						(v2 = tsv_hex_value((unsigned char) *src)) >= 0)
					{
						v = v * 16 + v2;
						src++;
					}
					c = (unsigned char) v;
				}
				break;
			default:
				/* \\, and any other byte stands for itself */
				break;
		}
		*dst++ = (char) c;
	}
	*len = (size_t) (dst - field);
	*dst = '\0';
	return src;
}

/*
 * Stage 2: split the record [rec_start, rec_end) into fields in place,
 * decoding escapes.  The byte at rec_end (terminator or the spare byte) is
 * writable.
 */
static CsvStatus
split_record(TsvReader *r, size_t rec_start, size_t rec_end,
			 const CsvField **fields, int *nfields)
{
	char	   *p = r->b.buf + rec_start;
	char	   *end = r->b.buf + rec_end;
	char	   *bs = memchr(p, '\\', (size_t) (end - p));
	CsvField   *f;
	int			n = 0;

	for (;;)
	{
		char	   *tab;

		if (n == r->fields_cap)
		{
			CsvField   *nf;
			size_t		newcap;

			if (r->fields_cap > INT_MAX / 2)
				return tsv_fail(r, "too many fields in record");
			newcap = (size_t) r->fields_cap * 2;
			nf = realloc(r->fields, newcap * sizeof(CsvField));
			if (nf == NULL)
			{
				tsv_fail_oom(r);
				return CSV_ERROR;
			}
			r->fields = nf;
			r->fields_cap = (int) newcap;
		}
		f = &r->fields[n++];
		f->value = p;
		f->is_null = false;

		/* a field before the next backslash needs no decoding */
		tab = memchr(p, '\t', (size_t) ((bs != NULL ? bs : end) - p));
		if (tab != NULL || bs == NULL)
		{
			if (tab == NULL)
				tab = end;
			f->len = (size_t) (tab - p);
			*tab = '\0';
			p = tab;
		}
		else if (bs == p && end - p >= 2 && p[1] == 'N' &&
				 (end - p == 2 || p[2] == '\t'))
		{
			/* exactly \N */
			f->is_null = true;
			f->len = 0;
			p[0] = '\0';
			p += 2;
			bs = (p < end) ? memchr(p, '\\', (size_t) (end - p)) : NULL;
		}
		else
		{
			p = decode_field(p, bs, end, &f->len);
			if (p == NULL)
				return tsv_fail(r, "backslash at the end of a record");
			bs = (p < end) ? memchr(p, '\\', (size_t) (end - p)) : NULL;
		}

		if (p == end)
			break;
		p++;					/* past the TAB */
	}

	*fields = r->fields;
	*nfields = n;
	return CSV_RECORD;
}

CsvStatus
tsv_reader_next(TsvReader *r, const CsvField **fields, int *nfields)
{
	size_t		rec_start;
	size_t		rec_end;

	*fields = NULL;
	*nfields = 0;
	if (r->failed)
		return CSV_ERROR;

	if (r->bom_pending)
	{
		if (!record_buffer_skip_bom(&r->b, r->finished))
			return CSV_NEED_MORE;
		r->bom_pending = false;
	}

	switch (scan_record(r, &rec_start, &rec_end))
	{
		case SCAN_FOUND:
			break;
		case SCAN_FAILED:
			return CSV_ERROR;
		case SCAN_MORE:
			if (!r->finished)
				return CSV_NEED_MORE;
			if (r->b.start == r->b.len)
				return CSV_EOF;
			/* the final record has no terminator */
			rec_start = r->b.start;
			rec_end = r->b.len;
			r->rec_line = r->line;
			r->b.start = r->b.scan = r->b.len;
			break;
	}

	return split_record(r, rec_start, rec_end, fields, nfields);
}

const char *
tsv_reader_error(const TsvReader *r)
{
	return r->errmsg;
}

uint64_t
tsv_reader_line(const TsvReader *r)
{
	return r->rec_line;
}
