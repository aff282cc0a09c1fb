/*-------------------------------------------------------------------------
 *
 * record_buffer.c
 *		  The growable byte buffer of the CSV and TSV readers (pure C)
 *
 * See record_buffer.h.  Making room either moves the unconsumed tail to
 * the front (when that leaves the buffer at most half full) or copies it
 * into a buffer twice as large, never both.
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
record_buffer_init(RecordBuffer *b, size_t initial)
{
	memset(b, 0, sizeof(*b));
	b->buf = malloc(initial);
	if (b->buf == NULL)
		return false;
	b->cap = initial;
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

	if (need <= b->cap / 2)
		memmove(b->buf, b->buf + b->start, used);
	else
	{
		newcap = (b->cap > SIZE_MAX / 2) ? SIZE_MAX : b->cap * 2;
		if (newcap < need)
			newcap = need;
		nbuf = malloc(newcap);
		if (nbuf == NULL)
			return false;
		memcpy(nbuf, b->buf + b->start, used);
		free(b->buf);
		b->buf = nbuf;
		b->cap = newcap;
	}
	b->scan -= b->start;
	b->len = used;
	b->start = 0;
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
