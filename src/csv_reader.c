/*-------------------------------------------------------------------------
 *
 * csv_reader.c
 *		  Incremental RFC 4180 record reader (pure C, no PostgreSQL headers)
 *
 * The byte buffer (fed by csv_reader_feed(), consumed lazily, one spare
 * byte after the data), the sticky error, line numbers, the byte order mark
 * and the field array are the reader base's (reader.c); this file is the
 * CSV syntax.
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
 *	  unquoting can only shrink).  The ReaderField array is reused across
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

#include <string.h>

#define CSV_QUOTE			'"'
#define CSV_INITIAL_BUFFER	(64 * 1024)

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

struct CsvReader
{
	/* the buffer, error, lines, fields; base.scan is the scanner's next byte */
	ReaderBase	base;

	/* resumable scanner state for the current record */
	ScanState	state;
	uint64_t	rec_lfs;		/* LFs inside quotes in [start, scan) */

	char		delim;
};

/*
 * Put the reader into the sticky error state.  The failing record began on
 * the line "start" lies on.
 */
static ReaderStatus
csv_fail(CsvReader *r, const char *msg)
{
	r->base.rec_line = r->base.line;
	return reader_base_fail(&r->base, msg);
}

CsvReader *
csv_reader_create(char delimiter, size_t max_record)
{
	CsvReader  *r;

	if (delimiter == CSV_QUOTE || delimiter == '\r' || delimiter == '\n')
		return NULL;

	r = reader_base_create(sizeof(CsvReader), CSV_INITIAL_BUFFER, max_record);
	if (r == NULL)
		return NULL;
	r->state = SCAN_UNQUOTED;
	r->delim = delimiter;
	return r;
}

void
csv_reader_free(CsvReader *r)
{
	if (r != NULL)
		reader_base_destroy(&r->base);
}

bool
csv_reader_feed(CsvReader *r, const char *data, size_t len)
{
	return reader_base_feed(&r->base, data, len);
}

void
csv_reader_finish(CsvReader *r)
{
	r->base.finished = true;
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
	return ((size_t) (e - rs) > r->base.max_record) ? rs + r->base.max_record : e;
}

/*
 * Stage 1 (ReaderSyntax.scan): find the end of the current record.
 * READER_SCAN_MORE means every available byte was examined; the position and
 * state are saved.
 */
static ReaderScan
scan_record(ReaderBase *base, size_t *rec_start, size_t *rec_end)
{
	CsvReader  *r = (CsvReader *) base;
	const char *buf = r->base.buf;
	const char *p = buf + r->base.scan;
	const char *e = buf + r->base.len;
	const char *rs = buf + r->base.start;
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
				if (p == rs && !r->base.one_field)
				{
					/* blank line */
					p++;
					rs = p;
					r->base.line++;
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
					if (!r->base.finished)
						goto more;	/* CR LF or data? wait and see */
				}
				else if (p[1] == '\n')
				{
					if (p == rs && !r->base.one_field)
					{
						/* blank line ending in CRLF */
						p += 2;
						rs = p;
						r->base.line++;
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
				return READER_SCAN_FAILED;
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
				if (!r->base.finished)
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
					if (!r->base.finished)
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
				return READER_SCAN_FAILED;
			}
			p++;
		}
	}

found:
	*rec_start = (size_t) (rs - buf);
	*rec_end = (size_t) (p - buf);
	r->base.rec_line = r->base.line;
	r->base.line += lfs + (term > 0 ? 1 : 0);
	r->base.start = r->base.scan = (size_t) (p - buf) + term;
	r->state = SCAN_UNQUOTED;
	r->rec_lfs = 0;
	return READER_SCAN_FOUND;

more:
	r->base.start = (size_t) (rs - buf);
	r->base.scan = (size_t) (p - buf);
	r->state = st;
	r->rec_lfs = lfs;
	return READER_SCAN_MORE;

too_long:
	r->base.start = (size_t) (rs - buf);
	reader_base_fail_too_long(&r->base);
	return READER_SCAN_FAILED;
}

/*
 * Stage 2 (ReaderSyntax.split): split the validated record [p, end) into
 * fields in place.
 */
static int
split_record(ReaderBase *base, char *p, char *end)
{
	const char	delim = ((CsvReader *) base)->delim;
	ReaderField   *f;
	int			n = 0;

	for (;;)
	{
		f = reader_base_field(base, n++);
		if (f == NULL)
			return -1;

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

	return n;
}

/* ReaderSyntax.final_record: the input ended inside the record. */
static bool
final_record(ReaderBase *base)
{
	CsvReader  *r = (CsvReader *) base;

	if (r->state == SCAN_QUOTED)
	{
		csv_fail(r, "unterminated quoted field");
		return false;
	}
	r->base.line += r->rec_lfs;
	r->rec_lfs = 0;
	r->state = SCAN_UNQUOTED;
	return true;
}

static const ReaderSyntax csv_syntax = {
	.scan = scan_record,
	.final_record = final_record,
	.split = split_record,
};

ReaderStatus
csv_reader_next(CsvReader *r, const ReaderField **fields, int *nfields)
{
	return reader_base_next(&r->base, &csv_syntax, fields, nfields);
}

const char *
csv_reader_error(const CsvReader *r)
{
	return r->base.errmsg;
}

uint64_t
csv_reader_line(const CsvReader *r)
{
	return r->base.rec_line;
}
