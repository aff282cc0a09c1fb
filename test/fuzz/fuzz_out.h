/*-------------------------------------------------------------------------
 *
 * fuzz_out.h
 *		  A growable byte string the fuzz targets render each parse into, so
 *		  that two parses are compared with one memcmp
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_out.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_FUZZ_OUT_H
#define LMS_FUZZ_OUT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Out
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} Out;

static inline void
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

static inline void
out_u64(Out *o, uint64_t v)
{
	out_add(o, &v, sizeof(v));
}

static inline void
out_tag(Out *o, char tag)
{
	out_add(o, &tag, 1);
}

/* abort() unless a and b hold the same bytes; the message names both */
static inline void
out_must_equal(const Out *a, const Out *b, const char *target, const char *what)
{
	if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
	{
		fprintf(stderr, "%s: %s\n", target, what);
		abort();
	}
}

#endif
