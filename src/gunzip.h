/*-------------------------------------------------------------------------
 *
 * gunzip.h
 *		  Incremental gzip decoding (pure C on zlib, no PostgreSQL headers)
 *
 * Bytes go in as they arrive, decoded bytes come out into the caller's
 * buffer; concatenated gzip members decode as one stream, as gunzip does.
 *
 * IDENTIFICATION
 *		  src/gunzip.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_GUNZIP_H
#define LMS_GUNZIP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct Gunzip Gunzip;

typedef enum GunzipStatus
{
	GUNZIP_OUTPUT,				/* *produced > 0 bytes were written */
	GUNZIP_NEED_INPUT,			/* all input consumed: give more, or stop */
	GUNZIP_ERROR				/* corrupt data; see gunzip_error() */
} GunzipStatus;

/* NULL when out of memory */
extern Gunzip *gunzip_create(void);
extern void gunzip_free(Gunzip *g);

/*
 * The next input; it must stay valid until gunzip_read() asks for more.
 */
extern void gunzip_input(Gunzip *g, const char *data, size_t len);

extern GunzipStatus gunzip_read(Gunzip *g, char *out, size_t cap,
								size_t *produced);

/* At the end of the input: did the last member end with its trailer? */
extern bool gunzip_complete(const Gunzip *g);

extern const char *gunzip_error(const Gunzip *g);

#endif							/* LMS_GUNZIP_H */
