/*
 * fuzz_gunzip.c
 *		libFuzzer target for the gzip decoder feeding the CSV reader.
 *
 * The input is a gzip body (seeds are real gzip files).  Its first byte
 * picks where to split it; the body is decoded whole and in two pieces,
 * with small output buffers, and the two decodings must agree byte for
 * byte, as must the outcome (complete, incomplete or corrupt).  The
 * decoded bytes then go through the CSV reader, as they do in a scan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_reader.h"
#include "gunzip.h"

typedef struct Decoded
{
	char	   *data;
	size_t		len;
	int			outcome;		/* 0 complete, 1 incomplete, 2 corrupt */
} Decoded;

static void
decode(const uint8_t *in, size_t len, size_t cut, size_t outcap, Decoded *d)
{
	Gunzip	   *g = gunzip_create();
	char		out[257];
	size_t		pieces[2][2] = {{0, cut}, {cut, len - cut}};
	int			i;

	d->data = NULL;
	d->len = 0;
	d->outcome = 0;
	if (g == NULL)
		abort();
	for (i = 0; i < 2; i++)
	{
		GunzipStatus st;
		size_t		n;

		gunzip_input(g, (const char *) in + pieces[i][0], pieces[i][1]);
		while ((st = gunzip_read(g, out, outcap, &n)) == GUNZIP_OUTPUT)
		{
			d->data = realloc(d->data, d->len + n);
			memcpy(d->data + d->len, out, n);
			d->len += n;
			if (d->len > (1 << 22))		/* a bomb: stop, both ways alike */
				break;
		}
		if (st == GUNZIP_ERROR)
		{
			d->outcome = 2;
			break;
		}
		if (d->len > (1 << 22))
			break;
	}
	if (d->outcome == 0 && !gunzip_complete(g))
		d->outcome = 1;
	gunzip_free(g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Decoded		whole,
				split;
	size_t		cut;
	CsvReader  *r;
	const ReaderField *fields;
	int			nfields;

	if (size < 1)
		return 0;
	cut = (size - 1) ? data[0] % size : 0;
	data++;
	size--;
	if (cut > size)
		cut = size;

	decode(data, size, size, 256, &whole);
	decode(data, size, cut, 7, &split);
	if (whole.len <= (1 << 22) &&
		(whole.outcome != split.outcome ||
		 (whole.outcome == 0 && (whole.len != split.len ||
								 (whole.len && memcmp(whole.data, split.data, whole.len) != 0)))))
	{
		fprintf(stderr, "whole and split decodings differ\n");
		abort();
	}

	r = csv_reader_create(',', 1 << 20);
	if (r && whole.len)
		csv_reader_feed(r, whole.data, whole.len);
	if (r)
	{
		csv_reader_finish(r);
		while (csv_reader_next(r, &fields, &nfields) == READER_RECORD)
			;
		csv_reader_free(r);
	}
	free(whole.data);
	free(split.data);
	return 0;
}
