/*-------------------------------------------------------------------------
 *
 * gunzip.c
 *		  Incremental gzip decoding (pure C on zlib, no PostgreSQL headers)
 *
 * A thin loop around zlib's inflate with a gzip wrapper (16 + MAX_WBITS).
 * When a member ends and input remains, the inflater is reset and the
 * next member decodes into the same output, so "cat a.gz b.gz" reads as
 * one file.  Input that ends inside a member is incomplete, which the
 * caller learns from gunzip_complete(); anything zlib rejects is an error.
 *
 * IDENTIFICATION
 *		  src/gunzip.c
 *
 *-------------------------------------------------------------------------
 */
#include "gunzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct Gunzip
{
	z_stream	z;
	bool		member_done;	/* the last member ended with its trailer */
	bool		output_pending; /* the last inflate filled the buffer */
	bool		failed;
	char		error[128];
};

Gunzip *
gunzip_create(void)
{
	Gunzip	   *g = calloc(1, sizeof(Gunzip));

	if (g == NULL)
		return NULL;
	if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK)
	{
		free(g);
		return NULL;
	}
	return g;
}

void
gunzip_free(Gunzip *g)
{
	if (g == NULL)
		return;
	inflateEnd(&g->z);
	free(g);
}

void
gunzip_input(Gunzip *g, const char *data, size_t len)
{
	g->z.next_in = (Bytef *) data;
	g->z.avail_in = (uInt) len;
}

GunzipStatus
gunzip_read(Gunzip *g, char *out, size_t cap, size_t *produced)
{
	*produced = 0;
	if (g->failed)
		return GUNZIP_ERROR;
	for (;;)
	{
		int			rc;

		/* zlib may hold output back after filling the last buffer */
		if (g->z.avail_in == 0 && !g->output_pending)
			return GUNZIP_NEED_INPUT;
		if (g->member_done)
		{
			if (g->z.avail_in == 0)
				return GUNZIP_NEED_INPUT;
			/* another member follows the one that ended */
			inflateReset(&g->z);
			g->member_done = false;
		}
		g->z.next_out = (Bytef *) out;
		g->z.avail_out = (uInt) cap;
		rc = inflate(&g->z, Z_NO_FLUSH);
		*produced = cap - g->z.avail_out;
		g->output_pending = g->z.avail_out == 0;
		if (rc == Z_STREAM_END)
		{
			g->member_done = true;
			g->output_pending = false;
		}
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
		{
			g->failed = true;
			snprintf(g->error, sizeof(g->error), "%s",
					 g->z.msg ? g->z.msg : "inflate failed");
			return GUNZIP_ERROR;
		}
		if (*produced > 0)
			return GUNZIP_OUTPUT;
		if (rc == Z_BUF_ERROR)
			return GUNZIP_NEED_INPUT;	/* no progress without more input */
	}
}

bool
gunzip_complete(const Gunzip *g)
{
	return g->member_done && !g->failed;
}

const char *
gunzip_error(const Gunzip *g)
{
	return g->failed ? g->error : "the compressed data ends before its end marker";
}
