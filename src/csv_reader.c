/*-------------------------------------------------------------------------
 *
 * csv_reader.c
 *		  Incremental RFC 4180 record reader (pure C, no PostgreSQL headers)
 *
 * The reader owns one growable byte buffer.  csv_reader_feed() appends to
 * it; the bytes before "start" belong to records already returned and are
 * dropped lazily: only when an append does not fit is the unconsumed tail
 * moved to the front (or the buffer grown), never on every feed.  One spare
 * byte is always kept after the data so that the last field of a record
 * that ends at the end of the data can still be NUL-terminated in place.
 *
 * csv_reader_next() works in two stages:
 *
 * 1. scan_record() finds where the current record ends.  It is a small
 *	  resumable state machine (outside quotes / inside quotes / just after a
 *	  quote inside quotes) whose position, state and count of quoted
 *	  newlines are kept in the reader, so a record that arrives in many
 *	  chunks is scanned exactly once: O(n) in total, never rescanned from
 *	  the record start.  Ordinary bytes are skipped eight at a time with a
 *	  word-at-a-time test for the few bytes that matter (quote, CR and LF;
 *	  the delimiter does not matter to this stage).  The scanner also
 *	  validates the record, so every syntax error and the size limit are
 *	  reported here, at the same byte whatever the chunking was.
 *
 * 2. split_record() cuts the complete, already validated record into
 *	  fields in place: delimiters and the terminator are overwritten with
 *	  NUL, and quoted fields are unquoted by moving their bytes left (
 *	  unquoting can only shrink).  The CsvField array is reused across
 *	  records and grown by doubling.
 *
 * Semantics: LF or CRLF ends a record; a CR not followed by LF is data (at
 * the end of a chunk the decision waits for the next chunk or the finish).
 * Inside quotes, "" is one quote and delimiters, CR and LF are data.  A UTF-8
 * byte order mark at the very start of the stream is skipped.  A line with
 * no bytes at all is what COPY makes of it once the first record (the
 * header) has shown the number of fields: with one field, a record whose
 * field is NULL; with several, nothing (it is skipped, as are blank lines
 * before the first record).  An empty unquoted field is NULL, "" is an
 * empty string.
 *
 * The size limit counts a record's bytes as received, quotes included and
 * terminator excluded.  A byte of a record at offset max_record or later is
 * the error, so the outcome does not depend on how the input was chunked,
 * and the buffer never has to hold more than max_record bytes of a record
 * that will be rejected (plus whatever one feed brought).
 *
 * IDENTIFICATION
 *		  src/csv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "csv_reader.h"
#include "record_buffer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_QUOTE			'"'
#define CSV_INITIAL_BUFFER	(64 * 1024)
#define CSV_INITIAL_FIELDS	16

/* Word-at-a-time byte search: nonzero iff some byte of v equals byte b. */
#define CSV_ONES			UINT64_C(0x0101010101010101)
#define CSV_HIGHS			UINT64_C(0x8080808080808080)
#define CSV_HAS_BYTE(v, b) \
	((((v) ^ (CSV_ONES * (unsigned char) (b))) - CSV_ONES) & \
	 ~((v) ^ (CSV_ONES * (unsigned char) (b))) & CSV_HIGHS)

typedef enum ScanState
{
	SCAN_UNQUOTED,				/* outside quotes (or at a field start) */
	SCAN_QUOTED,				/* inside a quoted field */
	SCAN_AFTER_QUOTE			/* just after a quote inside a quoted field */
} ScanState;

typedef enum ScanResult
{
	SCAN_FOUND,					/* a complete record is in the buffer */
	SCAN_MORE,					/* the data ended before the record did */
	SCAN_FAILED					/* syntax error or limit; r->failed is set */
} ScanResult;

struct CsvReader
{
	/* the bytes; b.scan is the resumable scanner's next byte */
	RecordBuffer b;

	/* resumable scanner state for the current record */
	ScanState	state;
	uint64_t	rec_lfs;		/* LFs inside quotes in [start, scan) */

	/* line numbers */
	uint64_t	line;			/* physical line on which "start" lies */
	uint64_t	rec_line;		/* line of the last returned/failing record */

	/* settings */
	size_t		max_record;		/* SIZE_MAX when unlimited */
	char		delim;

	/* flags */
	bool		bom_pending;	/* stream start not yet checked for a BOM */
	bool		finished;		/* csv_reader_finish() was called */
	bool		failed;			/* sticky CSV_ERROR */
	bool		oom;			/* failed for lack of memory */
	bool		seen_record;	/* a record has been returned */
	bool		one_field;		/* the first record had one field */

	const char *errmsg;
	char		errbuf[80];

	/* reusable output array */
	CsvField   *fields;
	int			fields_cap;
};



/*
 * Put the reader into the sticky error state.  The failing record began on
 * the line "start" lies on.
 */
static CsvStatus
csv_fail(CsvReader *r, const char *msg)
{
	r->failed = true;
	r->errmsg = msg;
	r->rec_line = r->line;
	return CSV_ERROR;
}

static void
csv_fail_oom(CsvReader *r)
{
	csv_fail(r, "out of memory");
	r->oom = true;
}

CsvReader *
csv_reader_create(char delimiter, size_t max_record)
{
	CsvReader  *r;

	if (delimiter == CSV_QUOTE || delimiter == '\r' || delimiter == '\n')
		return NULL;

	r = calloc(1, sizeof(CsvReader));
	if (r == NULL)
		return NULL;
	r->fields = malloc(CSV_INITIAL_FIELDS * sizeof(CsvField));
	if (r->fields == NULL || !record_buffer_init(&r->b, CSV_INITIAL_BUFFER,
										   max_record == 0 || max_record > SIZE_MAX - 3 ?
										   0 : max_record + 3))
	{
		free(r->fields);
		free(r);
		return NULL;
	}
	r->fields_cap = CSV_INITIAL_FIELDS;
	r->state = SCAN_UNQUOTED;
	r->line = 1;
	r->rec_line = 0;
	r->max_record = (max_record == 0) ? SIZE_MAX : max_record;
	r->delim = delimiter;
	r->bom_pending = true;
	r->errmsg = "no error";
	return r;
}

void
csv_reader_free(CsvReader *r)
{
	if (r == NULL)
		return;
	record_buffer_free(&r->b);
	free(r->fields);
	free(r);
}

bool
csv_reader_feed(CsvReader *r, const char *data, size_t len)
{
	if (r->failed)
		return !r->oom;
	if (r->finished)
	{
		csv_fail(r, "data fed after the end of input");
		return true;
	}
	if (len == 0)
		return true;

	if (!record_buffer_append(&r->b, data, len))
	{
		csv_fail_oom(r);
		return false;
	}
	return true;
}

void
csv_reader_finish(CsvReader *r)
{
	r->finished = true;
}

/* Is c one of the bytes the scanner must stop at outside quotes? */
static inline bool
csv_special_unquoted(unsigned char c)
{
	return c <= CSV_QUOTE && (c == CSV_QUOTE || c == '\n' || c == '\r');
}

/* Is c one of the bytes the scanner must stop at inside quotes? */
static inline bool
csv_special_quoted(unsigned char c)
{
	return c == CSV_QUOTE || c == '\n';
}

/* First byte in [p, end) that is a quote, CR or LF; end if none. */
static inline const char *
csv_skip_unquoted(const char *p, const char *end)
{
	uint64_t	v;

	while (end - p >= 8)
	{
		memcpy(&v, p, 8);
		if (CSV_HAS_BYTE(v, CSV_QUOTE) | CSV_HAS_BYTE(v, '\n') |
			CSV_HAS_BYTE(v, '\r'))
			break;
		p += 8;
	}
	while (p < end && !csv_special_unquoted((unsigned char) *p))
		p++;
	return p;
}

/* First byte in [p, end) that is a quote or LF; end if none. */
static inline const char *
csv_skip_quoted(const char *p, const char *end)
{
	uint64_t	v;

	while (end - p >= 8)
	{
		memcpy(&v, p, 8);
		if (CSV_HAS_BYTE(v, CSV_QUOTE) | CSV_HAS_BYTE(v, '\n'))
			break;
		p += 8;
	}
	while (p < end && !csv_special_quoted((unsigned char) *p))
		p++;
	return p;
}

/*
 * Bytes of the record starting at rs may lie before the returned pointer;
 * a record byte at or after it (when it is below e) exceeds max_record.
 */
static inline const char *
csv_content_limit(const CsvReader *r, const char *rs, const char *e)
{
	return ((size_t) (e - rs) > r->max_record) ? rs + r->max_record : e;
}

/*
 * Stage 1: find the end of the current record, resuming where the last call
 * stopped.  On SCAN_FOUND, [*rec_start, *rec_end) is the record (without its
 * terminator) and the reader already points past it.  SCAN_MORE means every
 * available byte was examined; the position and state are saved.
 */
static ScanResult
scan_record(CsvReader *r, size_t *rec_start, size_t *rec_end)
{
	const char *buf = r->b.buf;
	const char *p = buf + r->b.scan;
	const char *e = buf + r->b.len;
	const char *rs = buf + r->b.start;
	const char *lim = csv_content_limit(r, rs, e);
	const char	delim = r->delim;
	ScanState	st = r->state;
	uint64_t	lfs = r->rec_lfs;
	size_t		term;
	unsigned char c;

	for (;;)
	{
		if (st == SCAN_UNQUOTED)
		{
			p = csv_skip_unquoted(p, lim);
			if (p == e)
				goto more;
			c = (unsigned char) *p;
			if (c == '\n')
			{
				if (p == rs && !r->one_field)
				{
					/* blank line */
					p++;
					rs = p;
					r->line++;
					lim = csv_content_limit(r, rs, e);
					continue;
				}
				term = 1;
				goto found;
			}
			if (c == '\r')
			{
				if (p + 1 == e)
				{
					if (!r->finished)
						goto more;	/* CR LF or data? wait and see */
				}
				else if (p[1] == '\n')
				{
					if (p == rs && !r->one_field)
					{
						/* blank line ending in CRLF */
						p += 2;
						rs = p;
						r->line++;
						lim = csv_content_limit(r, rs, e);
						continue;
					}
					term = 2;
					goto found;
				}
				/* a lone CR is data */
				if (p >= lim)
					goto too_long;
				p++;
				continue;
			}
			/* any other byte here is data: a quote, or one past the limit */
			if (p >= lim)
				goto too_long;
			if (p != rs && p[-1] != delim)
			{
				csv_fail(r, "quote inside unquoted field");
				return SCAN_FAILED;
			}
			st = SCAN_QUOTED;
			p++;
		}
		else if (st == SCAN_QUOTED)
		{
			for (;;)
			{
				p = csv_skip_quoted(p, lim);
				if (p == e)
					goto more;
				if (p >= lim)
					goto too_long;
				if (*p != '\n')
					break;
				lfs++;
				p++;
			}
			/* a quote: closing, or the first half of "" */
			p++;
			st = SCAN_AFTER_QUOTE;
		}
		else
		{
			if (p == e)
			{
				if (!r->finished)
					goto more;
				term = 0;
				goto found;
			}
			c = (unsigned char) *p;
			if (c == '\n')
			{
				term = 1;
				goto found;
			}
			if (c == '\r')
			{
				if (p + 1 == e)
				{
					if (!r->finished)
						goto more;
				}
				else if (p[1] == '\n')
				{
					term = 2;
					goto found;
				}
			}
			if (p >= lim)
				goto too_long;
			if (c == CSV_QUOTE)
				st = SCAN_QUOTED;	/* "" inside quotes */
			else if (c == (unsigned char) delim)
				st = SCAN_UNQUOTED;
			else
			{
				csv_fail(r, "unexpected character after closing quote");
				return SCAN_FAILED;
			}
			p++;
		}
	}

found:
	*rec_start = (size_t) (rs - buf);
	*rec_end = (size_t) (p - buf);
	r->rec_line = r->line;
	r->line += lfs + (term > 0 ? 1 : 0);
	r->b.start = r->b.scan = (size_t) (p - buf) + term;
	r->state = SCAN_UNQUOTED;
	r->rec_lfs = 0;
	return SCAN_FOUND;

more:
	r->b.start = (size_t) (rs - buf);
	r->b.scan = (size_t) (p - buf);
	r->state = st;
	r->rec_lfs = lfs;
	return SCAN_MORE;

too_long:
	r->b.start = (size_t) (rs - buf);
	snprintf(r->errbuf, sizeof(r->errbuf), "record exceeds %zu bytes",
			 r->max_record);
	csv_fail(r, r->errbuf);
	return SCAN_FAILED;
}

/*
 * Stage 2: split the validated record [rec_start, rec_end) into fields in
 * place.  The byte at rec_end (terminator or the spare byte) is writable.
 */
static CsvStatus
split_record(CsvReader *r, size_t rec_start, size_t rec_end,
			 const CsvField **fields, int *nfields)
{
	char	   *p = r->b.buf + rec_start;
	char	   *end = r->b.buf + rec_end;
	const char	delim = r->delim;
	CsvField   *f;
	int			n = 0;

	for (;;)
	{
		if (n == r->fields_cap)
		{
			CsvField   *nf;
			size_t		newcap;

			if (r->fields_cap > INT_MAX / 2)
				return csv_fail(r, "too many fields in record");
			newcap = (size_t) r->fields_cap * 2;
			nf = realloc(r->fields, newcap * sizeof(CsvField));
			if (nf == NULL)
			{
				csv_fail_oom(r);
				return CSV_ERROR;
			}
			r->fields = nf;
			r->fields_cap = (int) newcap;
		}
		f = &r->fields[n++];

		if (p < end && *p == CSV_QUOTE)
		{
			/*
			 * Quoted: the scanner guarantees a closing quote followed by a
			 * delimiter or the record end.  Copy the pieces between doubled
			 * quotes leftwards over the quote bytes.
			 */
			char	   *value = p + 1;
			char	   *src = value;
			char	   *dst = value;

			for (;;)
			{
				char	   *q = memchr(src, CSV_QUOTE, (size_t) (end - src));
				size_t		seg = (size_t) (q - src);

				if (dst != src)
					memmove(dst, src, seg);
				dst += seg;
				if (q + 1 < end && q[1] == CSV_QUOTE)
				{
					*dst++ = CSV_QUOTE;
					src = q + 2;
				}
				else
				{
					src = q + 1;
					break;
				}
			}
			f->value = value;
			f->len = (size_t) (dst - value);
			f->is_null = false;
			*dst = '\0';
			p = src;
		}
		else
		{
			char	   *d = memchr(p, delim, (size_t) (end - p));

			if (d == NULL)
				d = end;
			f->value = p;
			f->len = (size_t) (d - p);
			f->is_null = (d == p);
			*d = '\0';
			p = d;
		}

		if (p == end)
			break;
		p++;					/* past the delimiter */
	}

	if (!r->seen_record)
	{
		r->seen_record = true;
		r->one_field = (n == 1);
	}
	*fields = r->fields;
	*nfields = n;
	return CSV_RECORD;
}

CsvStatus
csv_reader_next(CsvReader *r, const CsvField **fields, int *nfields)
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
			if (r->state == SCAN_QUOTED)
				return csv_fail(r, "unterminated quoted field");
			if (r->b.start == r->b.len)
				return CSV_EOF;
			/* the final record has no terminator */
			rec_start = r->b.start;
			rec_end = r->b.len;
			r->rec_line = r->line;
			r->line += r->rec_lfs;
			r->rec_lfs = 0;
			r->b.start = r->b.scan = r->b.len;
			r->state = SCAN_UNQUOTED;
			break;
	}

	return split_record(r, rec_start, rec_end, fields, nfields);
}

const char *
csv_reader_error(const CsvReader *r)
{
	return r->errmsg;
}

uint64_t
csv_reader_line(const CsvReader *r)
{
	return r->rec_line;
}
