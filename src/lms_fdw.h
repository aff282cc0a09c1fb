/*-------------------------------------------------------------------------
 *
 * lms_fdw.h
 *		  What every source file of lms_fdw shares: the version and limits
 *
 * Each module declares its own interface in its own header (options.h,
 * url.h, http.h, connection.h, job.h, jobset.h, reuse.h, shared.h,
 * params.h, document.h, stream.h, tuple.h, import.h, providers/provider.h).
 *
 * Which way the calls go: lms_fdw.c (the FDW glue) calls the job set, the
 * stream and the tuple builder; the job calls the providers, http and the
 * schedule; the stream calls http and the record readers.  Providers only
 * describe requests and read answers; only the job and the stream send
 * anything.
 *
 * IDENTIFICATION
 *		  src/lms_fdw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_FDW_H
#define LMS_FDW_H

#define LMS_FDW_VERSION "1.0"

/* Status documents are read whole, up to this size. */
#define LMS_MAX_DOCUMENT_BYTES	(1024 * 1024)
/* Of an error (or redirect) body, this much is kept; the rest is not read. */
#define LMS_MAX_ERROR_BODY_BYTES	(64 * 1024)
/* One record of a result file may not exceed this. */
#define LMS_MAX_RECORD_BYTES	(64 * 1024 * 1024)
/* Redirects followed for one request. */
#define LMS_MAX_REDIRECTS		5

#endif							/* LMS_FDW_H */
