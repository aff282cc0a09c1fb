/*
 * test_gunzip.c
 *		Unit tests for the incremental gzip decoder.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gunzip.h"
#include "unit.h"

/* gzip-compress src into a malloc'd buffer */
static unsigned char *
gz(const char *src, size_t len, size_t *outlen)
{
	z_stream	z;
	size_t		cap = len + 64 + len / 10;
	unsigned char *out = malloc(cap);

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *) src;
	z.avail_in = (uInt) len;
	z.next_out = out;
	z.avail_out = (uInt) cap;
	deflate(&z, Z_FINISH);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/*
 * Decode in in pieces of `step` bytes (0: whole) into out buffers of
 * `outcap`; returns 0 complete, 1 incomplete, 2 corrupt.
 */
static int
decode(const unsigned char *in, size_t len, size_t step, size_t outcap,
	   char *result, size_t *rlen)
{
	Gunzip	   *g = gunzip_create();
	char		out[4096];
	size_t		pos = 0;
	int			outcome = 0;

	*rlen = 0;
	while (pos < len)
	{
		size_t		n = step ? (len - pos < step ? len - pos : step) : len;
		size_t		got;
		GunzipStatus st;

		gunzip_input(g, (const char *) in + pos, n);
		pos += n;
		while ((st = gunzip_read(g, out, outcap, &got)) == GUNZIP_OUTPUT)
		{
			memcpy(result + *rlen, out, got);
			*rlen += got;
		}
		if (st == GUNZIP_ERROR)
		{
			outcome = 2;
			break;
		}
	}
	if (outcome == 0 && !gunzip_complete(g))
		outcome = 1;
	gunzip_free(g);
	return outcome;
}

int
main(void)
{
	static char text[200000];
	static char result[400000];
	unsigned char *a,
			   *b,
			   *both;
	size_t		alen,
				blen,
				rlen,
				i,
				step;
	int			outcome;

	for (i = 0; i < sizeof(text); i++)
		text[i] = "student,score\n1,90.5\n"[i % 21] + (char) ((i / 997) % 3);

	/* one member, whole and in every piece size up to 64, small outputs */
	a = gz(text, sizeof(text), &alen);
	outcome = decode(a, alen, 0, sizeof(((char[4096]) {0})), result, &rlen);
	UNIT_CHECK(outcome == 0 && rlen == sizeof(text) && memcmp(result, text, rlen) == 0,
			   "whole: outcome %d, %zu bytes", outcome, rlen);
	for (step = 1; step <= 64; step++)
	{
		outcome = decode(a, alen, step, 1 + step % 7, result, &rlen);
		UNIT_CHECK(outcome == 0 && rlen == sizeof(text) &&
				   memcmp(result, text, rlen) == 0,
				   "pieces of %zu: outcome %d, %zu bytes", step, outcome, rlen);
	}

	/* two members read as one stream */
	b = gz("tail,1\n", 7, &blen);
	both = malloc(alen + blen);
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);
	outcome = decode(both, alen + blen, 1000, 333, result, &rlen);
	UNIT_CHECK(outcome == 0 && rlen == sizeof(text) + 7 &&
			   memcmp(result + sizeof(text), "tail,1\n", 7) == 0,
			   "two members: outcome %d, %zu bytes", outcome, rlen);

	/* cut short anywhere: incomplete, and never more than the text */
	for (i = 1; i < alen; i += alen / 50)
	{
		outcome = decode(a, i, 17, 100, result, &rlen);
		UNIT_CHECK(outcome == 1 && rlen <= sizeof(text) &&
				   memcmp(result, text, rlen) == 0,
				   "cut at %zu: outcome %d", i, outcome);
	}

	/* corrupt: not a gzip header, and damage inside the data */
	outcome = decode((const unsigned char *) "not gzip at all", 15, 0, 100, result, &rlen);
	UNIT_CHECK(outcome == 2, "not gzip: outcome %d", outcome);
	a[alen / 2] ^= 0x55;
	a[alen / 2 + 1] ^= 0xaa;
	outcome = decode(a, alen, 0, 4096, result, &rlen);
	/* corrupt, or (if the damage reshaped the blocks) short of its end */
	UNIT_CHECK(outcome != 0, "damaged data: outcome %d", outcome);

	free(a);
	free(b);
	free(both);
	UNIT_DONE("test_gunzip");
}
