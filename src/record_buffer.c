/*-------------------------------------------------------------------------
 *
 * record_buffer.c
 *		  The growable byte buffer of the CSV and TSV readers (pure C)
 *
 * See record_buffer.h.  Making room moves the unconsumed tail to the
 * front, and when that leaves the buffer more than half full it also grows
 * the buffer in place: to twice its size, but not past the limit a record
 * can need, so a record refused at the limit never costs twice the limit.
 *
 * IDENTIFICATION
 *		  src/record_buffer.c
 *
 *-------------------------------------------------------------------------
 */
#include "record_buffer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool
record_buffer_init(RecordBuffer *b, size_t initial, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->buf = malloc(initial);
	if (b->buf == NULL)
		return false;
	b->cap = initial;
	b->limit = (limit == 0) ? SIZE_MAX : limit;
	return true;
}

void
record_buffer_free(RecordBuffer *b)
{
	free(b->buf);
	b->buf = NULL;
}

/* Make room for add more bytes plus the spare byte. */
static bool
make_room(RecordBuffer *b, size_t add)
{
	size_t		used = b->len - b->start;
	size_t		need;
	size_t		newcap;
	char	   *nbuf;

	if (add > SIZE_MAX - 1 - used)
		return false;
	need = used + add + 1;

	if (b->start > 0)
		memmove(b->buf, b->buf + b->start, used);
	b->scan -= b->start;
	b->len = used;
	b->start = 0;
	if (need <= b->cap / 2)
		return true;

	newcap = (b->cap > SIZE_MAX / 2) ? SIZE_MAX : b->cap * 2;
	if (newcap > b->limit)
		newcap = (b->cap < b->limit) ? b->limit : b->cap;
	if (newcap < need)
		newcap = need;
	if (newcap == b->cap)
		return true;
	nbuf = realloc(b->buf, newcap);
	if (nbuf == NULL)
		return false;
	b->buf = nbuf;
	b->cap = newcap;
	return true;
}

bool
record_buffer_append(RecordBuffer *b, const char *data, size_t len)
{
	if (len == 0)
		return true;
	/* everything consumed: start over at the front, for free */
	if (b->start == b->len)
		b->start = b->scan = b->len = 0;
	if (len >= b->cap - b->len && !make_room(b, len))
		return false;
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	return true;
}

/* the UTF-8 byte order mark */
static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

bool
record_buffer_skip_bom(RecordBuffer *b, bool finished)
{
	size_t		avail = b->len - b->start;

	if (avail >= sizeof(utf8_bom) || finished)
	{
		if (avail >= sizeof(utf8_bom) &&
			memcmp(b->buf + b->start, utf8_bom, sizeof(utf8_bom)) == 0)
			b->start = b->scan = b->start + sizeof(utf8_bom);
		return true;
	}
	/* a partial mark can still become one; anything else is not */
	return avail > 0 && memcmp(b->buf + b->start, utf8_bom, avail) != 0;
}
