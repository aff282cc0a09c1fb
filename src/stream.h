/*-------------------------------------------------------------------------
 *
 * stream.h
 *		  The bytes of one result file as a pull-based stream (gzip, zip)
 *
 * IDENTIFICATION
 *		  src/stream.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_STREAM_H
#define LMS_STREAM_H

#include "job.h"

typedef struct LmsStream LmsStream;

extern LmsStream *lmsfdw_stream_open(LmsJob *job, LmsResultFile *file);
extern bool lmsfdw_stream_read(LmsStream *stream, const char **data,
							   size_t *len);
extern bool lmsfdw_stream_peek(LmsStream *stream, const char **data,
							   size_t *len);
extern void lmsfdw_stream_describe(LmsStream *stream, const char **content_type,
								   const char **name);
extern bool lmsfdw_stream_ready(LmsStream *stream);
extern bool lmsfdw_stream_next_entry(LmsStream *stream);
extern void lmsfdw_stream_close(LmsStream *stream);

#endif							/* LMS_STREAM_H */
