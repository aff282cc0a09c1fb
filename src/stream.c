/*-------------------------------------------------------------------------
 *
 * stream.c
 *		  The export's result as a pull-based byte stream
 *
 * The reader asks for bytes only when it has no complete record; the
 * transfer holds at most one buffer of unread bytes and is paused by curl
 * when that buffer is full, so a result of any size costs one buffer.  An
 * answer that fails before its body starts (429, 5xx, a dropped
 * connection) is retried under the job's retry rules; once rows have been
 * handed out a failure is an ERROR, since rows cannot be taken back.
 * Content-Encoding: gzip is decoded by libcurl.
 *
 * IDENTIFICATION
 *		  src/stream.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lms_fdw.h"

/* unread bytes held for the reader before the transfer pauses */
#define LMS_STREAM_BUFFER	(128 * 1024)

struct LmsStream
{
	LmsJob	   *job;
	LmsTransfer *xfer;
	bool		eof;
};

/*
 * lmsfdw_stream_open
 *		Start downloading url for job; returns once the body begins.
 */
LmsStream *
lmsfdw_stream_open(LmsJob *job, const char *url)
{
	const LmsOptions *opts = job->opts;
	LmsStream  *stream = palloc0(sizeof(LmsStream));
	int			attempt;

	stream->job = job;
	for (attempt = 0;; attempt++)
	{
		LmsHttpResult res;
		LmsRetryClass cls;

		stream->xfer = lmsfdw_transfer_start(job->conn, opts, url,
											 LMS_STREAM_BUFFER);
		lmsfdw_transfer_wait_headers(stream->xfer, &res);
		if (lmsfdw_http_ok(&res))
			break;
		lmsfdw_transfer_close(stream->xfer);
		cls = lmsfdw_retry_class(&res, false);
		if (cls == LMS_RETRY_NONE || attempt >= opts->retry_max)
		{
			lmsfdw_job_note(job, "download failed");
			lmsfdw_http_raise(&res, opts, "downloading the export's result",
							  false);
		}
		lmsfdw_job_retry_wait(job, cls, &res, attempt);
	}
	return stream;
}

/*
 * lmsfdw_stream_read
 *		The next bytes (valid until the next call), or false at the end.
 */
bool
lmsfdw_stream_read(LmsStream *stream, const char **data, size_t *len)
{
	if (stream->eof)
		return false;
	if (lmsfdw_transfer_read(stream->xfer, data, len))
	{
		stream->job->counters.bytes += *len;
		return true;
	}
	stream->eof = true;
	return false;
}

/*
 * lmsfdw_stream_close
 *		Stop at once; an unfinished body is abandoned, not drained.
 */
void
lmsfdw_stream_close(LmsStream *stream)
{
	if (stream->xfer)
		lmsfdw_transfer_close(stream->xfer);
	stream->xfer = NULL;
	stream->eof = true;
}
