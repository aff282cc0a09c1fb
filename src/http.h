/*-------------------------------------------------------------------------
 *
 * http.h
 *		  One request or streamed transfer, waits, retry class, SQLSTATEs
 *
 * IDENTIFICATION
 *		  src/http.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_HTTP_H
#define LMS_HTTP_H

#include <curl/curl.h>

#include "connection.h"
#include "lib/stringinfo.h"
#include "options.h"

typedef struct LmsRequestSpec
{
	const char *method;			/* "GET", "POST", "PUT", "DELETE" */
	char	   *url;			/* absolute */
	char	   *body;			/* NULL for none */
	const char *content_type;	/* of body */
	const char *bearer;			/* token to send; NULL: the mapping's token */
	bool		basic_auth;		/* send client_id:client_secret instead */
	const char *auth_origin;	/* where basic_auth may go; NULL: base_url's */
	bool		accept_not_found;	/* a 404 is an answer for the provider, not an ERROR */
} LmsRequestSpec;

/* What came back from one request (after redirects). */
typedef struct LmsHttpResult
{
	CURLcode	curl_code;		/* CURLE_OK if an HTTP answer arrived */
	char		curl_error[CURL_ERROR_SIZE];
	bool		reached_server; /* the request may have been processed */
	long		status;			/* HTTP status, 0 if none */
	StringInfoData body;		/* captured body, at most max_body bytes */
	bool		body_overflow;	/* body was larger than the cap */
	char	   *content_type;
	char	   *retry_after;	/* raw header value, or NULL */
	char	   *link;			/* the first Link header, raw, or NULL
								 * (rel="next" of a paginated list) */
	/* rate-limit headers; NaN when absent (a throttled Canvas answer's
	 * remaining quota is negative) */
	double		rate_remaining; /* X-Rate-Limit-Remaining */
	double		request_cost;	/* X-Request-Cost */
	double		rate_reset;		/* X-Rate-Limit-Reset seconds */
	char	   *url;			/* the final URL asked, for messages (redact!) */
} LmsHttpResult;

/* Why a failed answer may be retried; LMS_RETRY_NONE means it may not. */
typedef enum LmsRetryClass
{
	LMS_RETRY_NONE = 0,
	LMS_RETRY_429,
	LMS_RETRY_5XX,
	LMS_RETRY_THROTTLE_403,
	LMS_RETRY_TRANSPORT,
	LMS_RETRY_NCLASSES
} LmsRetryClass;

typedef struct LmsTransfer LmsTransfer;

/* One request of lmsfdw_http_send_quietly. */
typedef struct LmsQuietRequest
{
	const LmsOptions *opts;
	LmsRequestSpec spec;		/* bearer NULL: the mapping's token */
	long		status;			/* out: the HTTP status, 0 if none came */
} LmsQuietRequest;

extern void lmsfdw_http_request(LmsConn *conn, const LmsOptions *opts,
								const LmsRequestSpec *spec,
								LmsHttpResult *res);
extern bool lmsfdw_http_ok(const LmsHttpResult *res);
extern LmsRetryClass lmsfdw_retry_class(const LmsHttpResult *res,
										bool starting_job);
extern const char *lmsfdw_retry_class_name(LmsRetryClass cls);
extern void lmsfdw_http_raise(const LmsHttpResult *res, const LmsOptions *opts,
							  const char *what, bool starting) pg_attribute_noreturn();
extern void lmsfdw_wait_ms(double ms);
extern void lmsfdw_http_send_quietly(LmsQuietRequest *reqs, int n,
									 int total_ms);

/* streaming transfers (used by stream.c) */
extern LmsTransfer *lmsfdw_transfer_start(LmsConn *conn, const LmsOptions *opts,
										  const char *url, const char *bearer,
										  size_t buffer_size);
extern bool lmsfdw_transfer_read(LmsTransfer *xfer, const char **data,
								 size_t *len);
extern void lmsfdw_transfer_wait_headers(LmsTransfer *xfer,
										 LmsHttpResult *res);
extern bool lmsfdw_transfer_ready(const LmsTransfer *xfer);
extern void lmsfdw_transfer_close(LmsTransfer *xfer);

#endif							/* LMS_HTTP_H */
