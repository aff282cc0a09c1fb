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
 *
 * Compression is undone here, whatever the headers say: libcurl decodes a
 * Content-Encoding, and the first bytes of the body are sniffed for a gzip
 * member (1f 8b: decoded by gunzip.c, concatenated members included) or a
 * zip archive ("PK\3\4": its entries are read in turn with libarchive's
 * streaming zip reader, which needs no seeking, fed by the transfer; the
 * reader starts again on each entry, lmsfdw_stream_next_entry).
 *
 * A web page where a result file is expected (a text/html answer, or a body
 * that begins like HTML: a login page behind a redirect) is an ERROR naming
 * the host that served it, never data.
 *
 * zlib and libarchive state is released by a memory context callback, so
 * an ERROR leaks neither.  libarchive pulls bytes through a callback; an
 * ERROR raised while it does so is caught there and raised again once
 * libarchive has returned.
 *
 * IDENTIFICATION
 *		  src/stream.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <archive.h>
#include <archive_entry.h>

#include "activity.h"
#include "gunzip.h"
#include "http.h"
#include "lms_fdw.h"
#include "stream.h"
#include "url.h"
#include "utils/memutils.h"

/* unread bytes held for the reader before the transfer pauses */
#define LMS_STREAM_BUFFER	(128 * 1024)
/* decompressed bytes handed to the reader at a time */
#define LMS_INFLATE_BUFFER	(128 * 1024)

typedef enum LmsCodec
{
	LMS_CODEC_NONE,
	LMS_CODEC_GZIP,
	LMS_CODEC_ZIP
} LmsCodec;

struct LmsStream
{
	LmsJob	   *job;
	LmsTransfer *xfer;
	MemoryContextCallback cleanup;
	bool		eof;			/* no more decoded bytes */
	bool		raw_eof;		/* the transfer has ended */
	char	   *content_type;
	char	   *name;			/* file name: URL's last segment or zip entry */
	LmsCodec	codec;

	/* raw bytes read from the transfer but not yet consumed */
	const char *raw;
	size_t		raw_len;

	/* gzip */
	Gunzip	   *gz;
	char	   *out;			/* palloc'd, LMS_INFLATE_BUFFER */

	/* decoded bytes read ahead by lmsfdw_stream_peek */
	const char *peeked;
	size_t		peeked_len;
	bool		have_peeked;

	/* zip */
	struct archive *ar;
	ErrorData  *ar_error;		/* raised inside the read callback */
};

static void
stream_cleanup(void *arg)
{
	LmsStream  *s = (LmsStream *) arg;

	if (s->gz)
		gunzip_free(s->gz);
	s->gz = NULL;
	if (s->ar)
		archive_read_free(s->ar);
	s->ar = NULL;
}

/* Next raw chunk of the body into s->raw; false at its end. */
static bool
raw_fill(LmsStream *s)
{
	if (s->raw_len > 0)
		return true;
	if (s->raw_eof)
		return false;
	if (lmsfdw_transfer_read(s->xfer, &s->raw, &s->raw_len))
	{
		s->job->counters.bytes += s->raw_len;
		lmsfdw_activity_tick(s->job);
		return true;
	}
	s->raw_eof = true;
	return false;
}

static void
raise_corrupt(LmsStream *s, const char *kind, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("corrupt %s data in the result of %s",
					kind, lmsfdw_job_name(s->job)),
			 detail ? errdetail_internal("%s", detail) : 0));
}

/* Does a body begin like an HTML page ("<!DOCTYPE html", "<html")? */
static bool
looks_like_html(const char *data, size_t len)
{
	size_t		i = 0;

	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' ||
					   data[i] == '\t'))
		i++;
	return (len - i >= 9 && pg_strncasecmp(data + i, "<!doctype", 9) == 0) ||
		(len - i >= 5 && pg_strncasecmp(data + i, "<html", 5) == 0);
}

/*
 * A web page where the result file was expected: most likely a login page
 * that a redirect led to (a URL that does not take the token).  Never parsed.
 */
static void
raise_web_page(LmsStream *s, const char *url)
{
	lmsfdw_job_note(s->job, "the LMS answered with a web page");
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("the LMS answered with a web page (likely a login redirect) from host \"%s\" where the result file of %s was expected",
					lmsfdw_url_host(url), lmsfdw_job_name(s->job)),
			 errdetail("The page is at %s.", lmsfdw_redact_url(url)),
			 errhint("The LMS does not accept the token at that address, or sent its login page; check the export's file URL and the token's permissions.")));
}

/* ---- gzip ---- */

static void
gzip_begin(LmsStream *s)
{
	s->gz = gunzip_create();
	if (s->gz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("could not start gzip decompression")));
	s->out = palloc(LMS_INFLATE_BUFFER);
	gunzip_input(s->gz, s->raw, s->raw_len);
}

static bool
gzip_read(LmsStream *s, const char **data, size_t *len)
{
	for (;;)
	{
		switch (gunzip_read(s->gz, s->out, LMS_INFLATE_BUFFER, len))
		{
			case GUNZIP_OUTPUT:
				*data = s->out;
				return true;
			case GUNZIP_ERROR:
				raise_corrupt(s, "gzip", gunzip_error(s->gz));
				break;
			case GUNZIP_NEED_INPUT:
				s->raw_len = 0;
				if (!raw_fill(s))
				{
					if (!gunzip_complete(s->gz))
						raise_corrupt(s, "gzip", gunzip_error(s->gz));
					return false;
				}
				gunzip_input(s->gz, s->raw, s->raw_len);
				break;
		}
	}
}

/* ---- zip ---- */

/* libarchive's read callback: the next raw chunk; never throws */
static la_ssize_t
zip_read_callback(struct archive *a, void *client_data, const void **buffer)
{
	LmsStream  *s = (LmsStream *) client_data;
	MemoryContext cxt = CurrentMemoryContext;
	volatile la_ssize_t n = 0;

	PG_TRY();
	{
		/* the first chunk, read to sniff the format, comes first */
		if (raw_fill(s))
		{
			*buffer = s->raw;
			n = (la_ssize_t) s->raw_len;
			s->raw_len = 0;
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		s->ar_error = CopyErrorData();
		FlushErrorState();
		archive_set_error(a, EIO, "the download failed");
		n = -1;
	}
	PG_END_TRY();
	return n;
}

static void
zip_check(LmsStream *s, int rc)
{
	if (s->ar_error)
		ReThrowError(s->ar_error);
	if (rc < ARCHIVE_WARN)
		raise_corrupt(s, "zip", archive_error_string(s->ar));
}

/* Move to the archive's next regular file; false after the last one. */
static bool
zip_next_file(LmsStream *s)
{
	struct archive_entry *entry;
	int			rc;

	for (;;)
	{
		rc = archive_read_next_header(s->ar, &entry);
		if (rc == ARCHIVE_EOF)
			return false;
		zip_check(s, rc);
		if (archive_entry_filetype(entry) == AE_IFREG)
			break;
	}
	s->name = pstrdup(archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "");
	return true;
}

static void
zip_begin(LmsStream *s)
{
	int			rc;

	s->ar = archive_read_new();
	if (s->ar == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	archive_read_support_format_zip_streamable(s->ar);
	rc = archive_read_open(s->ar, s, NULL, zip_read_callback, NULL);
	zip_check(s, rc);

	s->out = palloc(LMS_INFLATE_BUFFER);
	if (!zip_next_file(s))
		raise_corrupt(s, "zip", "The archive holds no file.");
}

/*
 * The entry's next bytes.  Any negative answer is an ERROR: libarchive
 * reports a bad CRC (or a truncated entry) as ARCHIVE_WARN, after the
 * data, and ending the file there would load a corrupt export silently.
 */
static bool
zip_read(LmsStream *s, const char **data, size_t *len)
{
	la_ssize_t	n = archive_read_data(s->ar, s->out, LMS_INFLATE_BUFFER);

	if (n < 0)
	{
		zip_check(s, (int) n);
		raise_corrupt(s, "zip", archive_error_string(s->ar));
	}
	if (n == 0)
		return false;
	*data = s->out;
	*len = (size_t) n;
	return true;
}

/* ---- the stream ---- */

/* The last segment of a URL's path, without the query. */
static char *
url_file_name(const char *url)
{
	const char *end = url + strcspn(url, "?#");
	const char *start = end;

	while (start > url && start[-1] != '/')
		start--;
	return pnstrdup(start, end - start);
}

/*
 * lmsfdw_stream_open
 *		Start downloading the result file for job; returns once the body
 *		begins, its compression recognised.  The provider sees the answer
 *		(lmsfdw_job_file_answered).  The stream lives in the current memory
 *		context (the file's).
 */
LmsStream *
lmsfdw_stream_open(LmsJob *job, LmsResultFile *file)
{
	const LmsOptions *opts = job->opts;
	const char *url = file->url;
	LmsStream  *s = palloc0(sizeof(LmsStream));
	LmsHttpResult res;
	int			attempt;
	bool		renewed = false;
	bool		renewed_token = false;

	s->job = job;
	s->cleanup.func = stream_cleanup;
	s->cleanup.arg = s;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &s->cleanup);

	for (attempt = 0;; attempt++)
	{
		LmsRetryClass cls;

		/* the file is usually fetched through the LMS's API host first */
		if (lmsfdw_same_origin(url, opts->base_url))
			lmsfdw_job_pace(job);
		s->xfer = lmsfdw_transfer_start(job->conn, opts, url, job->bearer,
										LMS_STREAM_BUFFER);
		lmsfdw_transfer_wait_headers(s->xfer, &res);
		lmsfdw_job_observe(job, &res);
		if (lmsfdw_http_ok(&res))
			break;
		lmsfdw_transfer_close(s->xfer);
		/* a presigned URL refused (it may have expired): once, a fresh one */
		if (res.status == 403 && !renewed && lmsfdw_job_renew_file(job, file))
		{
			renewed = true;
			url = file->url;
			attempt--;
			continue;
		}
		/*
		 * the token refused (revoked, expired early): once, a new one; only
		 * base_url's origin is sent the token, so only its 401 is about it
		 */
		if (res.status == 401 && !renewed_token &&
			lmsfdw_same_origin(res.url ? res.url : url, opts->base_url) &&
			lmsfdw_job_renew_bearer(job, job->bearer))
		{
			renewed_token = true;
			attempt--;
			continue;
		}
		cls = lmsfdw_retry_class(&res, false);
		if (cls == LMS_RETRY_NONE || attempt >= opts->retry_max)
		{
			lmsfdw_job_note(job, "download failed");
			lmsfdw_http_raise(&res, opts, "downloading the export's result",
							  false);
		}
		lmsfdw_job_retry_wait(job, cls, &res, attempt);
	}
	if (res.content_type && pg_strncasecmp(res.content_type, "text/html", 9) == 0)
		raise_web_page(s, res.url ? res.url : url);
	lmsfdw_job_file_answered(job, file, &res);
	s->content_type = res.content_type;
	s->name = file->name ? pstrdup(file->name) :
		url_file_name(res.url ? res.url : url);

	/* sniff the first bytes */
	if (raw_fill(s) && s->raw_len >= 2 &&
		(unsigned char) s->raw[0] == 0x1f && (unsigned char) s->raw[1] == 0x8b)
	{
		s->codec = LMS_CODEC_GZIP;
		gzip_begin(s);
		/* a name such as grades.csv.gz says what is inside */
		if (strlen(s->name) > 3 &&
			pg_strcasecmp(s->name + strlen(s->name) - 3, ".gz") == 0)
			s->name[strlen(s->name) - 3] = '\0';
		s->content_type = NULL;
	}
	else if (s->raw_len >= 4 && memcmp(s->raw, "PK\003\004", 4) == 0)
	{
		s->codec = LMS_CODEC_ZIP;
		zip_begin(s);
		s->content_type = NULL;
	}
	else if (looks_like_html(s->raw, s->raw_len))
		raise_web_page(s, res.url ? res.url : url);
	return s;
}

/*
 * lmsfdw_stream_next_entry
 *		For a zip holding several files: move to the next one (its name is
 *		then what lmsfdw_stream_describe says); false after the last one,
 *		and always for other bodies.  The current entry need not be read to
 *		its end.
 */
bool
lmsfdw_stream_next_entry(LmsStream *s)
{
	if (s->codec != LMS_CODEC_ZIP || s->ar == NULL)
		return false;
	if (!zip_next_file(s))
		return false;
	s->eof = false;
	s->have_peeked = false;
	s->peeked_len = 0;
	return true;
}

/*
 * lmsfdw_stream_describe
 *		What the body says it is: its media type (NULL when unknown or
 *		compressed) and a file name (the URL's, less ".gz", or the zip
 *		entry's).
 */
void
lmsfdw_stream_describe(LmsStream *s, const char **content_type,
					   const char **name)
{
	*content_type = s->content_type;
	*name = s->name;
}

static bool stream_read_decoded(LmsStream *s, const char **data, size_t *len);

/*
 * lmsfdw_stream_peek
 *		The first decoded bytes, without consuming them: the next
 *		lmsfdw_stream_read returns them again.  False for an empty body.
 */
bool
lmsfdw_stream_peek(LmsStream *s, const char **data, size_t *len)
{
	if (!s->have_peeked)
	{
		s->have_peeked = true;
		if (!stream_read_decoded(s, &s->peeked, &s->peeked_len))
			s->peeked_len = 0;
	}
	*data = s->peeked;
	*len = s->peeked_len;
	return s->peeked_len > 0;
}

/*
 * lmsfdw_stream_read
 *		The next decoded bytes (valid until the next call), or false at the
 *		end.
 */
bool
lmsfdw_stream_read(LmsStream *s, const char **data, size_t *len)
{
	if (s->have_peeked)
	{
		s->have_peeked = false;
		if (s->peeked_len > 0)
		{
			*data = s->peeked;
			*len = s->peeked_len;
			return true;
		}
		return false;
	}
	return stream_read_decoded(s, data, len);
}

static bool
stream_read_decoded(LmsStream *s, const char **data, size_t *len)
{
	bool		got;

	if (s->eof)
		return false;
	switch (s->codec)
	{
		case LMS_CODEC_GZIP:
			got = gzip_read(s, data, len);
			break;
		case LMS_CODEC_ZIP:
			got = zip_read(s, data, len);
			break;
		default:
			got = raw_fill(s);
			if (got)
			{
				*data = s->raw;
				*len = s->raw_len;
				s->raw_len = 0;
			}
			break;
	}
	if (!got)
		s->eof = true;
	return got;
}

/*
 * lmsfdw_stream_ready
 *		Are decoded bytes at hand without waiting for the network (or is the
 *		body at its end)?
 */
bool
lmsfdw_stream_ready(LmsStream *s)
{
	return s->eof || s->have_peeked || s->raw_len > 0 || s->raw_eof ||
		(s->xfer != NULL && lmsfdw_transfer_ready(s->xfer));
}

/*
 * lmsfdw_stream_close
 *		Stop at once; an unfinished body is abandoned, not drained.
 */
void
lmsfdw_stream_close(LmsStream *s)
{
	if (s->xfer)
		lmsfdw_transfer_close(s->xfer);
	s->xfer = NULL;
	stream_cleanup(s);
	s->eof = true;
	s->raw_eof = true;
}
