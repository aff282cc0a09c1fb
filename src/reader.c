/*-------------------------------------------------------------------------
 *
 * reader.c
 *		  The common base of the CSV and TSV record readers (pure C)
 *
 * See reader.h.  Making room moves the unconsumed tail to the front, and
 * when that leaves the buffer more than half full it also grows the buffer
 * in place: to twice its size, but not past what a record at the limit
 * needs (the record, a CR LF terminator, the spare byte), so a record
 * refused at the limit never costs twice the limit.
 *
 * IDENTIFICATION
 *		  src/reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "reader.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READER_INITIAL_FIELDS	16

bool
reader_base_init(ReaderBase *r, size_t initial_buffer, size_t max_record)
{
	memset(r, 0, sizeof(*r));
	r->buf = malloc(initial_buffer);
	r->fields = malloc(READER_INITIAL_FIELDS * sizeof(ReaderField));
	if (r->buf == NULL || r->fields == NULL)
	{
		reader_base_free(r);
		return false;
	}
	r->cap = initial_buffer;
	r->fields_cap = READER_INITIAL_FIELDS;
	r->max_record = (max_record == 0) ? SIZE_MAX : max_record;
	r->limit = (r->max_record > SIZE_MAX - 3) ? SIZE_MAX : r->max_record + 3;
	r->line = 1;
	r->rec_line = 0;
	r->bom_pending = true;
	r->errmsg = "no error";
	return true;
}

void
reader_base_free(ReaderBase *r)
{
	free(r->buf);
	free(r->fields);
	r->buf = NULL;
	r->fields = NULL;
}

void *
reader_base_create(size_t size, size_t initial_buffer, size_t max_record)
{
	ReaderBase *r = calloc(1, size);

	if (r == NULL)
		return NULL;
	if (!reader_base_init(r, initial_buffer, max_record))
	{
		free(r);
		return NULL;
	}
	return r;
}

void
reader_base_destroy(ReaderBase *r)
{
	if (r == NULL)
		return;
	reader_base_free(r);
	free(r);
}

ReaderStatus
reader_base_fail(ReaderBase *r, const char *msg)
{
	r->failed = true;
	r->errmsg = msg;
	return READER_ERROR;
}

ReaderStatus
reader_base_fail_oom(ReaderBase *r)
{
	r->oom = true;
	return reader_base_fail(r, "out of memory");
}

ReaderStatus
reader_base_fail_too_long(ReaderBase *r)
{
	r->rec_line = r->line;
	snprintf(r->errbuf, sizeof(r->errbuf), "record exceeds %zu bytes",
			 r->max_record);
	return reader_base_fail(r, r->errbuf);
}

/* Make room for add more bytes plus the spare byte. */
static bool
make_room(ReaderBase *r, size_t add)
{
	size_t		used = r->len - r->start;
	size_t		need;
	size_t		newcap;
	char	   *nbuf;

	if (add > SIZE_MAX - 1 - used)
		return false;
	need = used + add + 1;

	if (r->start > 0)
		memmove(r->buf, r->buf + r->start, used);
	r->scan -= r->start;
	r->len = used;
	r->start = 0;
	if (need <= r->cap / 2)
		return true;

	newcap = (r->cap > SIZE_MAX / 2) ? SIZE_MAX : r->cap * 2;
	if (newcap > r->limit)
		newcap = (r->cap < r->limit) ? r->limit : r->cap;
	if (newcap < need)
		newcap = need;
	if (newcap == r->cap)
		return true;
	nbuf = realloc(r->buf, newcap);
	if (nbuf == NULL)
		return false;
	r->buf = nbuf;
	r->cap = newcap;
	return true;
}

bool
reader_base_feed(ReaderBase *r, const char *data, size_t len)
{
	if (r->failed)
		return !r->oom;
	if (r->finished)
	{
		r->rec_line = r->line;
		reader_base_fail(r, "data fed after the end of input");
		return true;
	}
	if (len == 0)
		return true;
	/* everything consumed: start over at the front, for free */
	if (r->start == r->len)
		r->start = r->scan = r->len = 0;
	if (len >= r->cap - r->len && !make_room(r, len))
	{
		reader_base_fail_oom(r);
		return false;
	}
	memcpy(r->buf + r->len, data, len);
	r->len += len;
	return true;
}

/* the UTF-8 byte order mark */
static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

bool
reader_base_skip_bom(ReaderBase *r)
{
	size_t		avail = r->len - r->start;

	if (!r->bom_pending)
		return true;
	if (avail < sizeof(utf8_bom) && !r->finished &&
		(avail == 0 || memcmp(r->buf + r->start, utf8_bom, avail) == 0))
		return false;			/* a partial mark can still become one */
	if (avail >= sizeof(utf8_bom) &&
		memcmp(r->buf + r->start, utf8_bom, sizeof(utf8_bom)) == 0)
		r->start = r->scan = r->start + sizeof(utf8_bom);
	r->bom_pending = false;
	return true;
}

ReaderField *
reader_base_field(ReaderBase *r, int n)
{
	if (n == r->fields_cap)
	{
		ReaderField *nf;
		size_t		newcap;

		if (r->fields_cap > INT_MAX / 2)
		{
			reader_base_fail(r, "too many fields in record");
			return NULL;
		}
		newcap = (size_t) r->fields_cap * 2;
		nf = realloc(r->fields, newcap * sizeof(ReaderField));
		if (nf == NULL)
		{
			reader_base_fail_oom(r);
			return NULL;
		}
		r->fields = nf;
		r->fields_cap = (int) newcap;
	}
	return &r->fields[n];
}

static ReaderStatus
reader_base_record(ReaderBase *r, int n, const ReaderField **fields,
				   int *nfields)
{
	if (!r->seen_record)
	{
		r->seen_record = true;
		r->one_field = (n == 1);
	}
	*fields = r->fields;
	*nfields = n;
	return READER_RECORD;
}

ReaderStatus
reader_base_next(ReaderBase *r, const ReaderSyntax *syntax,
				 const ReaderField **fields, int *nfields)
{
	size_t		rec_start;
	size_t		rec_end;
	int			n;

	*fields = NULL;
	*nfields = 0;
	if (r->failed)
		return READER_ERROR;

	if (!reader_base_skip_bom(r))
		return READER_NEED_MORE;

	switch (syntax->scan(r, &rec_start, &rec_end))
	{
		case READER_SCAN_FOUND:
			break;
		case READER_SCAN_FAILED:
			return READER_ERROR;
		case READER_SCAN_MORE:
			if (!r->finished)
				return READER_NEED_MORE;
			if (r->start == r->len)
				return READER_EOF;
			/* the final record has no terminator */
			r->rec_line = r->line;
			if (syntax->final_record != NULL && !syntax->final_record(r))
				return READER_ERROR;
			rec_start = r->start;
			rec_end = r->len;
			r->start = r->scan = r->len;
			break;
	}

	n = syntax->split(r, r->buf + rec_start, r->buf + rec_end);
	if (n < 0)
		return READER_ERROR;
	return reader_base_record(r, n, fields, nfields);
}
