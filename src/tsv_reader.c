/*-------------------------------------------------------------------------
 *
 * tsv_reader.c
 *		  Incremental reader for PostgreSQL's COPY text format (pure C, no
 *		  PostgreSQL headers)
 *
 * The byte buffer, the sticky error, line numbers, the byte order mark and
 * the field array are the reader base's (reader.c), shared with
 * csv_reader.c; this file is the text format's syntax.
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
 *	  found with memchr() alone.  The ReaderField array is reused across
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

#include <string.h>

#define TSV_INITIAL_BUFFER	(64 * 1024)

struct TsvReader
{
	/* the buffer, error, lines, fields; base.scan: where the search resumes */
	ReaderBase	base;
};

TsvReader *
tsv_reader_create(size_t max_record)
{
	return reader_base_create(sizeof(TsvReader), TSV_INITIAL_BUFFER,
							  max_record);
}

void
tsv_reader_free(TsvReader *r)
{
	if (r != NULL)
		reader_base_destroy(&r->base);
}

bool
tsv_reader_feed(TsvReader *r, const char *data, size_t len)
{
	return reader_base_feed(&r->base, data, len);
}

void
tsv_reader_finish(TsvReader *r)
{
	r->base.finished = true;
}

/*
 * Stage 1 (ReaderSyntax.scan): find the end of the current record.
 *
 * Only the first max_record + 2 bytes of a record are ever searched: if
 * none of them is an LF, the record has at least max_record + 1 bytes of
 * data whatever follows.
 */
static ReaderScan
scan_record(ReaderBase *base, size_t *rec_start, size_t *rec_end)
{
	const char *buf = base->buf;
	const char *e = buf + base->len;
	const char *rs = buf + base->start;
	const char *p = buf + base->scan;
	const size_t maxw = (base->max_record > SIZE_MAX - 2) ?
		SIZE_MAX : base->max_record + 2;

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
				(rs[base->max_record] != '\r' || base->finished))
				goto too_long;	/* that byte is data, one too many */
			base->start = (size_t) (rs - buf);
			base->scan = base->len;
			return READER_SCAN_MORE;
		}

		ce = lf;
		if (ce > rs && ce[-1] == '\r')
			ce--;
		if (ce == rs)
		{
			/* blank line */
			rs = p = lf + 1;
			base->line++;
			continue;
		}
		if ((size_t) (ce - rs) > base->max_record)
			goto too_long;

		*rec_start = (size_t) (rs - buf);
		*rec_end = (size_t) (ce - buf);
		base->rec_line = base->line;
		base->line++;
		base->start = base->scan = (size_t) (lf - buf) + 1;
		return READER_SCAN_FOUND;
	}

too_long:
	base->start = base->scan = (size_t) (rs - buf);
	reader_base_fail_too_long(base);
	return READER_SCAN_FAILED;
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
 * Stage 2 (ReaderSyntax.split): split the record [p, end) into fields in
 * place, decoding escapes.
 */
static int
split_record(ReaderBase *base, char *p, char *end)
{
	char	   *bs = memchr(p, '\\', (size_t) (end - p));
	ReaderField   *f;
	int			n = 0;

	for (;;)
	{
		char	   *tab;

		f = reader_base_field(base, n++);
		if (f == NULL)
			return -1;
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
			{
				reader_base_fail(base, "backslash at the end of a record");
				return -1;
			}
			bs = (p < end) ? memchr(p, '\\', (size_t) (end - p)) : NULL;
		}

		if (p == end)
			break;
		p++;					/* past the TAB */
	}

	return n;
}

static const ReaderSyntax tsv_syntax = {
	.scan = scan_record,
	.final_record = NULL,
	.split = split_record,
};

ReaderStatus
tsv_reader_next(TsvReader *r, const ReaderField **fields, int *nfields)
{
	return reader_base_next(&r->base, &tsv_syntax, fields, nfields);
}

const char *
tsv_reader_error(const TsvReader *r)
{
	return r->base.errmsg;
}

uint64_t
tsv_reader_line(const TsvReader *r)
{
	return r->base.rec_line;
}
