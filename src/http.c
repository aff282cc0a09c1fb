/*-------------------------------------------------------------------------
 *
 * http.c
 *		  One HTTP request at a time, driven through the latch
 *
 * Every transfer runs on the user mapping's curl multi handle.  Instead of
 * letting curl block, we wait on curl's sockets with a WaitEventSet that
 * also holds MyLatch, and call CHECK_FOR_INTERRUPTS() after every wait, so a
 * cancel or statement_timeout ends a transfer at once.  curl callbacks never
 * throw: they only copy bytes into malloc'd buffers.
 *
 * Policy lives here too, in one place each:
 *	- redirects are followed by hand (at most LMS_MAX_REDIRECTS), each hop
 *	  checked: http/https only, plain http only to loopback unless
 *	  allow_http, and the Authorization header only to base_url's origin;
 *	- every address a socket is opened to, on every hop, is checked against
 *	  url.c's address rule (open_socket): loopback, link-local and private
 *	  addresses only for a superuser's server whose base_url is such a host;
 *	- which failed answers may be retried (lmsfdw_retry_class);
 *	- which SQLSTATE a failure raises (lmsfdw_http_raise);
 *	- redaction: URLs lose their query strings and credentials are masked
 *	  before any text reaches a message.
 *
 * A transfer's curl state (the easy handle's attachment to the multi
 * handle, its header list and buffers) is released by a memory context
 * callback registered before anything can fail, so an ERROR anywhere
 * leaks nothing.
 *
 * IDENTIFICATION
 *		  src/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

#include "address.h"
#include "http.h"
#include "lms_fdw.h"
#include "miscadmin.h"
#include "providers/provider.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "url.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

/*
 * The wait event a backend waiting on the LMS shows in pg_stat_activity:
 * class Extension; on PostgreSQL 17 and later named LmsFdwRequest (an
 * answer, or a transfer's data) or LmsFdwPoll (the wait before a status
 * check, a retry or a paced request).
 */
static uint32
http_wait_event(bool poll)
{
#if PG_VERSION_NUM >= 170000
	static uint32 request_event = 0;
	static uint32 poll_event = 0;

	if (poll)
	{
		if (poll_event == 0)
			poll_event = WaitEventExtensionNew("LmsFdwPoll");
		return poll_event;
	}
	if (request_event == 0)
		request_event = WaitEventExtensionNew("LmsFdwRequest");
	return request_event;
#else
	return PG_WAIT_EXTENSION;
#endif
}

/* the longest we sleep without looking at curl's timers */
#define LMS_MAX_WAIT_MS		1000

struct LmsTransfer
{
	LmsConn    *conn;
	const LmsOptions *opts;
	const char *bearer;			/* token for base_url's origin */
	bool		basic_auth;		/* client_id:client_secret instead */
	const char *auth_origin;	/* where basic_auth goes; NULL: base_url's */
	int			handle;			/* index in the connection's handles, or -1 */
	CURL	   *easy;
	struct curl_slist *headers;
	MemoryContextCallback cleanup;
	bool		attached;		/* added to the multi handle */
	bool		closed;
	bool		done;
	CURLcode	result;
	char		errbuf[CURL_ERROR_SIZE];
	char	   *url;			/* this hop */
	int			hops;
	bool		private_ok;		/* this hop may reach a non-public address */
	char		refused[INET6_ADDRSTRLEN + 32];	/* an address refused, or "" */
	LmsAddressClass refused_class;

	/* body: capture (bounded) or stream (pausing when full) */
	bool		streaming;
	char	   *buf;			/* malloc'd */
	size_t		len;
	size_t		cap;
	size_t		max;			/* capture: cap on the kept body */
	bool		overflow;
	bool		error_body_cut; /* an error body was cut short */
	TimestampTz error_since;	/* streaming: an error answer began */
	bool		handed_out;		/* buf[0..len) given to the reader */
	bool		paused;
	long		status;			/* of this hop, once known */
	uint64		bytes;			/* 2xx body bytes received */
	bool		got_data;
	TimestampTz last_activity;
};

/* ----------------------------------------------------------------
 * Transfers
 * ----------------------------------------------------------------
 */

/*
 * curl's socket open and close callbacks: every address curl is about to
 * connect to, on every hop (after DNS: a name that resolves to 127.0.0.1
 * counts), is checked against the address rule of url.c; and the socket
 * is counted against the backend's file descriptor budget, as libpq's
 * connections from a backend are.  Never throw; a refused socket fails
 * the connect, and the refusal is raised by transfer_drive.
 */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	LmsTransfer *x = (LmsTransfer *) clientp;
	curl_socket_t fd;
	LmsAddressClass cls = lms_address_class(&address->addr, address->addrlen);

	if (cls != LMS_ADDR_PUBLIC && (x == NULL || !x->private_ok))
	{
		if (x != NULL && x->refused[0] == '\0')
		{
			lms_address_text(&address->addr, address->addrlen, x->refused,
							 sizeof(x->refused));
			x->refused_class = cls;
		}
		return CURL_SOCKET_BAD;
	}
	if (!AcquireExternalFD())
		return CURL_SOCKET_BAD;
	fd = socket(address->family, address->socktype, address->protocol);
	if (fd == CURL_SOCKET_BAD)
		ReleaseExternalFD();
	return fd;
}

static int
close_socket(void *clientp, curl_socket_t fd)
{
	int			rc = close(fd);

	ReleaseExternalFD();
	return rc;
}

/* curl write callback: never throws */
static size_t
transfer_write(char *data, size_t size, size_t nmemb, void *userp)
{
	LmsTransfer *x = (LmsTransfer *) userp;
	size_t		n = size * nmemb;

	if (x->status == 0)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	x->got_data = true;

	if (x->streaming && x->status >= 200 && x->status < 300)
	{
		/* hold at most one buffer of unread bytes: pause when full */
		if (x->handed_out || (x->len > 0 && x->len + n > x->cap))
		{
			x->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		if (x->len + n > x->cap)
		{
			char	   *nb = realloc(x->buf, x->len + n);

			if (nb == NULL)
				return 0;
			x->buf = nb;
			x->cap = x->len + n;
		}
		memcpy(x->buf + x->len, data, n);
		x->len += n;
		x->bytes += n;
		return n;
	}

	/* capture: a status document or an error body, bounded */
	if (x->status < 200 || x->status >= 300)
	{
		/*
		 * An error (or redirect) body: its start is enough for the message;
		 * stop reading at the cap instead of draining an endless body (the
		 * write error makes curl drop the connection).
		 */
		if (x->len + n > LMS_MAX_ERROR_BODY_BYTES)
		{
			n = LMS_MAX_ERROR_BODY_BYTES - x->len;
			x->error_body_cut = true;
		}
	}
	else if (x->len + n > x->max)
	{
		x->overflow = true;
		return 0;				/* aborts: CURLE_WRITE_ERROR */
	}
	if (x->len + n > x->cap)
	{
		size_t		newcap = Max(x->cap * 2, x->len + n);
		char	   *nb = realloc(x->buf, newcap);

		if (nb == NULL)
			return 0;
		x->buf = nb;
		x->cap = newcap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	return x->error_body_cut ? 0 : size * nmemb;
}

/*
 * Give the transfer's easy handle back to the connection: off the multi
 * handle, holding no pointer into memory about to be freed.  Never throws.
 */
static void
transfer_release_handle(LmsTransfer *x)
{
	if (x->handle < 0)
		return;
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
	curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, NULL);
	lmsfdw_conn_release(x->conn, x->handle);
	x->handle = -1;
	x->easy = NULL;
	x->attached = false;
}

/* memory context callback: release everything curl-side; never throws */
static void
transfer_cleanup(void *arg)
{
	LmsTransfer *x = (LmsTransfer *) arg;

	if (x->closed)
		return;
	x->closed = true;
	transfer_release_handle(x);
	if (x->headers)
		curl_slist_free_all(x->headers);
	x->headers = NULL;
	free(x->buf);
	x->buf = NULL;
}

/*
 * What every request's easy handle is set up with: the URL, http(s) only,
 * no redirect followed by curl, no signals, the user agent, the connect
 * timeout, the socket callbacks (the address rule: x->private_ok), the CA
 * bundle, the method and the body.
 */
static void
easy_setup(CURL *easy, LmsTransfer *x, const char *method, const char *url,
		   const char *body, long connect_timeout_ms)
{
	const LmsOptions *opts = x->opts;

	curl_easy_setopt(easy, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, opts->user_agent);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
	if (opts->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, opts->ca_file);

	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	if (body)
	{
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
		curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body);
	}
	else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
	{
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, "");
	}
}

/*
 * Set up and attach one hop of a transfer.  x is zeroed except for conn,
 * opts, streaming, cap/max, and its cleanup callback is registered.
 */
static void
transfer_hop(LmsTransfer *x, const char *method, const char *url,
			 const char *body, const char *content_type)
{
	const LmsOptions *opts = x->opts;
	CURL	   *easy;
	const char *problem = lmsfdw_request_url_problem(opts, url);
	CURLMcode	mc;

	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("refusing to request %s: %s",
						lmsfdw_redact_url(url), problem),
				 errhint("Plain http is allowed only to loopback hosts unless the server sets allow_http 'true'; loopback, link-local and private hosts only from a server owned by a superuser whose base_url names such a host.")));

	x->url = pstrdup(url);
	x->private_ok = lmsfdw_url_may_reach_private(opts, url);
	x->refused[0] = '\0';
	x->done = false;
	x->result = CURLE_OK;
	x->errbuf[0] = '\0';
	x->status = 0;
	x->len = 0;
	x->overflow = false;
	x->error_body_cut = false;
	x->error_since = 0;
	x->handed_out = false;
	x->paused = false;
	x->last_activity = GetCurrentTimestamp();

	x->handle = lmsfdw_conn_acquire(x->conn, &easy);
	x->easy = easy;

	easy_setup(easy, x, method, url, body, opts->connect_timeout_ms);
	/* a status document must arrive whole within stall_timeout */
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
					 x->streaming ? 0L : (long) opts->stall_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, transfer_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);

	if (x->headers)
		curl_slist_free_all(x->headers);
	x->headers = NULL;
	x->headers = curl_slist_append(x->headers, "Expect:");
	if (content_type && body)
	{
		char		line[128];

		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		x->headers = curl_slist_append(x->headers, line);
	}
	if (!x->streaming)
		x->headers = curl_slist_append(x->headers, "Accept: application/json");

	/*
	 * The credential goes to base_url's origin only (client credentials: to
	 * the token endpoint's, when the request names it), never to storage.
	 */
	if (x->basic_auth)
	{
		if (opts->client_id &&
			lmsfdw_same_origin(url, x->auth_origin ? x->auth_origin : opts->base_url))
		{
			curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
			curl_easy_setopt(easy, CURLOPT_USERNAME, opts->client_id);
			curl_easy_setopt(easy, CURLOPT_PASSWORD,
							 opts->client_secret ? opts->client_secret : "");
		}
	}
	else if (x->bearer && x->bearer[0] && lmsfdw_same_origin(url, opts->base_url))
	{
		size_t		n = strlen(x->bearer) + 32;
		char	   *line;

		if (strpbrk(x->bearer, "\r\n") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
					 errmsg("refusing to send a token with a line break to %s",
							lmsfdw_redact_url(url))));
		line = malloc(n);

		if (line)
		{
			snprintf(line, n, "Authorization: Bearer %s", x->bearer);
			x->headers = curl_slist_append(x->headers, line);
			explicit_bzero(line, n);
			free(line);
		}
	}
	if (x->headers == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, x->headers);

	mc = curl_multi_add_handle(lmsfdw_conn_multi(x->conn), easy);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start a transfer: %s", curl_multi_strerror(mc))));
	x->attached = true;
}

/* Detach the current hop so the easy handle can be used again. */
static void
transfer_detach(LmsTransfer *x)
{
	transfer_release_handle(x);
}

static LmsTransfer *
transfer_create(LmsConn *conn, const LmsOptions *opts, bool streaming,
				size_t cap)
{
	LmsTransfer *x = palloc0(sizeof(LmsTransfer));

	x->conn = conn;
	x->opts = opts;
	x->handle = -1;
	x->streaming = streaming;
	x->max = LMS_MAX_DOCUMENT_BYTES;
	x->cap = streaming ? cap : 0;
	x->cleanup.func = transfer_cleanup;
	x->cleanup.arg = x;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &x->cleanup);
	if (streaming)
	{
		x->buf = malloc(cap);
		if (x->buf == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	return x;
}

/* Record the completions curl reports on the multi handle. */
static void
collect_completions(LmsConn *conn)
{
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(lmsfdw_conn_multi(conn), &queued)) != NULL)
	{
		LmsTransfer *x = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &x);
		if (x == NULL || x->closed || x->easy != msg->easy_handle)
			continue;
		x->done = true;
		x->result = msg->data.result;
		if (x->status == 0)
			curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	}
}

/* Let curl act on its timers (and on handles just added). */
static void
run_curl_timers(LmsConn *conn)
{
	int			running;

	curl_multi_socket_action(lmsfdw_conn_multi(conn), CURL_SOCKET_TIMEOUT, 0,
							 &running);
	collect_completions(conn);
}

/*
 * Wait until one of curl's sockets is ready, curl's timer expires or the
 * latch is set (at most timeout_ms), then let curl act.  Cancels and
 * timeouts surface here through CHECK_FOR_INTERRUPTS().
 */
static void
transfer_wait_and_run(LmsTransfer *x, long timeout_ms)
{
	CURLM	   *multi = lmsfdw_conn_multi(x->conn);
	int		   *fds;
	int		   *what;
	int			nsockets;
	volatile int nevents = 0;
	int			running;
	int			i;
	long		curl_timeout = -1;
	WaitEventSet *set;
	WaitEvent	events[8];

	lmsfdw_conn_sockets(x->conn, &fds, &what, &nsockets);
#if PG_VERSION_NUM >= 170000
	set = CreateWaitEventSet(NULL, nsockets + 2);
#else
	set = CreateWaitEventSet(CurrentMemoryContext, nsockets + 2);
#endif
	/*
	 * An ERROR while the set is filled or waited on (an epoll failure) must
	 * not leak its descriptor: before PostgreSQL 17 no resource owner frees
	 * it, so it is freed here on every path.
	 */
	PG_TRY();
	{
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (i = 0; i < nsockets; i++)
		{
			uint32		ev = 0;

			if (what[i] & CURL_POLL_IN)
				ev |= WL_SOCKET_READABLE;
			if (what[i] & CURL_POLL_OUT)
				ev |= WL_SOCKET_WRITEABLE;
			if (ev)
				AddWaitEventToSet(set, ev, fds[i], NULL, NULL);
		}
		nevents = WaitEventSetWait(set, timeout_ms, events, lengthof(events),
								   http_wait_event(false));
	}
	PG_FINALLY();
	{
		FreeWaitEventSet(set);
	}
	PG_END_TRY();

	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();

	for (i = 0; i < nevents; i++)
	{
		int			flags = 0;

		if (events[i].events & WL_SOCKET_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events[i].events & WL_SOCKET_WRITEABLE)
			flags |= CURL_CSELECT_OUT;
		if (flags)
			curl_multi_socket_action(multi, events[i].fd, flags, &running);
	}
	curl_multi_timeout(multi, &curl_timeout);
	if (curl_timeout == 0)
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_completions(x->conn);
}

/*
 * Run curl until the transfer completes or (when streaming) has bytes for
 * the reader.  Enforces stall_timeout: no byte for that long ends it; and
 * an error (or redirect) body of a streamed transfer, which has no total
 * timeout of curl's, is read for that long at most, however it trickles
 * (what arrived is kept, as when it reaches LMS_MAX_ERROR_BODY_BYTES).
 */
static void
transfer_drive(LmsTransfer *x, bool want_data)
{
	CURLM	   *multi = lmsfdw_conn_multi(x->conn);

	run_curl_timers(x->conn);

	for (;;)
	{
		long		timeout = -1;
		TimestampTz now;

		if (x->done && x->refused[0] != '\0' && x->status == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("refusing to connect to %s, %s, for %s",
							x->refused, lms_address_class_name(x->refused_class),
							lmsfdw_redact_url(x->url)),
					 errdetail("Loopback, link-local and private addresses are reachable only from a server owned by a superuser whose base_url names such a host."),
					 errhint("A DNS name, a redirect or a result URL that leads to such an address is refused too.")));
		if (x->done)
			return;
		/* streaming: bytes are ready, or an error answer has begun */
		if (want_data && x->status != 0 &&
			(x->len > 0 || x->status < 200 || x->status >= 300))
			return;

		now = GetCurrentTimestamp();
		if (x->streaming && x->status != 0 &&
			(x->status < 200 || x->status >= 300))
		{
			if (x->error_since == 0)
				x->error_since = now;
			else if (TimestampDifferenceExceeds(x->error_since, now,
												x->opts->stall_timeout_ms))
			{
				/* the handle is dropped, with its connection, on close */
				x->error_body_cut = true;
				x->done = true;
				return;
			}
		}
		if (x->got_data)
		{
			x->last_activity = now;
			x->got_data = false;
		}
		else if (TimestampDifferenceExceeds(x->last_activity, now,
											x->opts->stall_timeout_ms))
		{
			/* give up on this transfer as curl would on a timeout */
			transfer_detach(x);
			x->done = true;
			x->result = CURLE_OPERATION_TIMEDOUT;
			snprintf(x->errbuf, sizeof(x->errbuf),
					 "no data received for %d ms (stall_timeout)",
					 x->opts->stall_timeout_ms);
			return;
		}

		curl_multi_timeout(multi, &timeout);
		if (timeout < 0 || timeout > LMS_MAX_WAIT_MS)
			timeout = LMS_MAX_WAIT_MS;
		transfer_wait_and_run(x, timeout);
	}
}

static void
result_init(LmsHttpResult *res)
{
	memset(res, 0, sizeof(*res));
	initStringInfo(&res->body);
	res->rate_remaining = NAN;
	res->request_cost = NAN;
	res->rate_reset = NAN;
}

static char *
header_value(CURL *easy, const char *name)
{
	struct curl_header *h = NULL;

	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
		h == NULL)
		return NULL;
	return pstrdup(h->value);
}

/* A numeric header's value (negative ones too), or NaN when it is absent
 * or not a number. */
static double
header_number(CURL *easy, const char *name)
{
	char	   *v = header_value(easy, name);
	char	   *end;
	double		d;

	if (v == NULL)
		return NAN;
	d = strtod(v, &end);
	if (end == v)
		return NAN;
	return d;
}

/* Fill res from the finished (or header-complete) hop of x. */
static void
transfer_fill_result(LmsTransfer *x, LmsHttpResult *res, bool with_body)
{
	char	   *ct = NULL;

	/*
	 * An error answer whose body was cut arrived all the same; so did a
	 * streamed 2xx body whose end was cut before the headers were looked
	 * at (all of it came at once): its reader meets the cut, with the byte
	 * count, in lmsfdw_transfer_read.
	 */
	res->curl_code = x->error_body_cut ||
		(x->streaming && x->status >= 200 && x->status < 300 && x->bytes > 0) ?
		CURLE_OK : x->result;
	strlcpy(res->curl_error, x->errbuf, sizeof(res->curl_error));
	if (res->curl_error[0] == '\0' && x->result != CURLE_OK)
		strlcpy(res->curl_error, curl_easy_strerror(x->result),
				sizeof(res->curl_error));
	res->status = x->status;
	res->reached_server = !(x->result == CURLE_COULDNT_CONNECT ||
							x->result == CURLE_COULDNT_RESOLVE_HOST ||
							x->result == CURLE_COULDNT_RESOLVE_PROXY ||
							x->result == CURLE_SSL_CONNECT_ERROR ||
							x->result == CURLE_PEER_FAILED_VERIFICATION);
	if (x->result == CURLE_OPERATION_TIMEDOUT && x->easy && x->status == 0)
	{
		long		sent = 0;

		/* curl's connect_timeout: no request was ever sent */
		curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &sent);
		res->reached_server = sent > 0;
	}
	res->url = x->url;
	resetStringInfo(&res->body);
	if (with_body && x->len > 0)
		appendBinaryStringInfo(&res->body, x->buf, x->len);
	res->body_overflow = x->overflow || x->error_body_cut;
	if (x->status > 0 && x->easy)
	{
		curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
		res->content_type = ct ? pstrdup(ct) : NULL;
		res->retry_after = header_value(x->easy, "Retry-After");
		res->link = header_value(x->easy, "Link");
		res->rate_remaining = header_number(x->easy, "X-Rate-Limit-Remaining");
		res->request_cost = header_number(x->easy, "X-Request-Cost");
		res->rate_reset = header_number(x->easy, "X-Rate-Limit-Reset");
	}
}

/* The next URL of a redirect answer, or NULL if x's answer is not one. */
static char *
redirect_target(LmsTransfer *x)
{
	char	   *loc = NULL;

	if (x->result != CURLE_OK || x->status < 300 || x->status >= 400 ||
		x->status == 304 || x->easy == NULL)
		return NULL;
	curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc);
	if (loc == NULL)
		return NULL;
	if (x->hops >= LMS_MAX_REDIRECTS)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("too many redirects (more than %d) starting at %s",
						LMS_MAX_REDIRECTS, lmsfdw_redact_url(x->url))));
	return pstrdup(loc);
}

/*
 * lmsfdw_http_request
 *		Send one request and read its (small) answer into res.
 *
 * GET redirects are followed under the URL policy.  Transport failures and
 * HTTP errors are returned in res, not raised: the caller decides whether
 * to retry (lmsfdw_retry_class) or to raise (lmsfdw_http_raise).  A body
 * over LMS_MAX_DOCUMENT_BYTES is an ERROR.
 */
void
lmsfdw_http_request(LmsConn *conn, const LmsOptions *opts,
					const LmsRequestSpec *spec, LmsHttpResult *res)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "lms_fdw request",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext caller = CurrentMemoryContext;
	char	   *url = pstrdup(spec->url);
	LmsTransfer *x;
	int			hops = 0;

	result_init(res);
	for (;;)
	{
		char	   *next;

		MemoryContextSwitchTo(cxt);
		x = transfer_create(conn, opts, false, 0);
		x->bearer = spec->bearer ? spec->bearer : opts->token;
		x->basic_auth = spec->basic_auth && hops == 0;
		x->auth_origin = spec->auth_origin;
		x->hops = hops;
		transfer_hop(x, spec->method, url, hops == 0 ? spec->body : NULL,
					 spec->content_type);
		transfer_drive(x, false);
		MemoryContextSwitchTo(caller);

		if (x->overflow)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("answer from %s exceeds %d bytes",
							lmsfdw_redact_url(url), LMS_MAX_DOCUMENT_BYTES),
					 errdetail("Status documents are read whole and must be small.")));

		next = (strcmp(spec->method, "GET") == 0) ? redirect_target(x) : NULL;
		if (next == NULL)
			break;
		url = next;
		hops++;
		MemoryContextReset(cxt);
	}
	transfer_fill_result(x, res, true);
	res->url = pstrdup(url);
	MemoryContextDelete(cxt);
}

bool
lmsfdw_http_ok(const LmsHttpResult *res)
{
	return res->curl_code == CURLE_OK && res->status >= 200 && res->status < 300;
}

/* ----------------------------------------------------------------
 * Streaming transfers (the result download)
 * ----------------------------------------------------------------
 */

/*
 * lmsfdw_transfer_start
 *		Begin a GET of url whose 2xx body will be read with
 *		lmsfdw_transfer_read, holding at most about buffer_size unread
 *		bytes.  bearer: the token for base_url's origin (NULL: the user
 *		mapping's).  The transfer belongs to the current memory context.
 */
LmsTransfer *
lmsfdw_transfer_start(LmsConn *conn, const LmsOptions *opts, const char *url,
					  const char *bearer, size_t buffer_size)
{
	LmsTransfer *x = transfer_create(conn, opts, true, buffer_size);

	x->bearer = bearer ? bearer : opts->token;
	transfer_hop(x, "GET", url, NULL, NULL);
	return x;
}

/*
 * lmsfdw_transfer_wait_headers
 *		Follow redirects until a final answer starts; describe it in res.
 *
 * On a 2xx, the body is ready to be read.  Otherwise the transfer is
 * complete and res holds the status and the (bounded) error body.
 */
void
lmsfdw_transfer_wait_headers(LmsTransfer *x, LmsHttpResult *res)
{
	result_init(res);
	for (;;)
	{
		char	   *next;

		transfer_drive(x, true);
		if (!x->done && x->status >= 200 && x->status < 300)
			break;
		if (!x->done)
		{
			/* a redirect or error body is small: read it all */
			transfer_drive(x, false);
		}
		next = redirect_target(x);
		if (next == NULL)
			break;
		transfer_detach(x);
		x->hops++;
		transfer_hop(x, "GET", next, NULL, NULL);
	}
	transfer_fill_result(x, res, !(x->status >= 200 && x->status < 300));
}

/*
 * lmsfdw_transfer_read
 *		The next bytes of the body: true with data and len set (valid until the
 *		next call), or false at its end.  A body cut short is an ERROR.
 */
bool
lmsfdw_transfer_read(LmsTransfer *x, const char **data, size_t *len)
{
	if (x->handed_out)
	{
		x->handed_out = false;
		x->len = 0;
		if (x->paused && !x->done)
		{
			x->paused = false;
			x->last_activity = GetCurrentTimestamp();
			/* curl may deliver the held bytes right here */
			curl_easy_pause(x->easy, CURLPAUSE_CONT);
		}
	}

	for (;;)
	{
		if (x->len > 0)
		{
			*data = x->buf;
			*len = x->len;
			x->handed_out = true;
			return true;
		}
		if (x->done)
			break;
		transfer_drive(x, true);
	}

	if (x->result != CURLE_OK)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("download of %s was cut short after %llu bytes",
						lmsfdw_redact_url(x->url),
						(unsigned long long) x->bytes),
				 errdetail_internal("%s", x->errbuf[0] ? x->errbuf :
									curl_easy_strerror(x->result))));
	}
	return false;
}

/*
 * lmsfdw_transfer_ready
 *		Would lmsfdw_transfer_read answer without waiting?  (Bytes not yet
 *		handed out, or the end.)  Other transfers of the connection fill
 *		their buffers while one is waited for: a reader of several picks a
 *		ready one.
 */
bool
lmsfdw_transfer_ready(const LmsTransfer *x)
{
	return x->done || (x->len > 0 && !x->handed_out);
}

/*
 * lmsfdw_transfer_close
 *		Stop the transfer now (a LIMIT needs no more rows): the connection
 *		is dropped rather than drained.
 */
void
lmsfdw_transfer_close(LmsTransfer *x)
{
	transfer_cleanup(x);
}

/* ----------------------------------------------------------------
 * Requests sent during cleanup (cancel on abort)
 * ----------------------------------------------------------------
 */

/* curl write callback of quiet requests: the answer is not needed */
static size_t
discard_write(char *data, size_t size, size_t nmemb, void *userp)
{
	return size * nmemb;
}

/*
 * lmsfdw_http_send_quietly
 *		Send every request at once, on a multi handle of their own, and
 *		wait for their answers at most total_ms in all; never throws for a
 *		failed request, never calls CHECK_FOR_INTERRUPTS.
 *
 * For cleanup (asking the LMS to cancel abandoned jobs), which runs while
 * an error is being handled or while the executor ends: a trickling LMS
 * cannot hold it past total_ms, and a cancel or statement_timeout that
 * arrives meanwhile ends the wait at once and is left pending, to be
 * raised by the next CHECK_FOR_INTERRUPTS (nothing here swallows it).  The
 * URL policy, the address rule and the credential rule are those of every
 * other request.  No redirect is followed.
 */
void
lmsfdw_http_send_quietly(LmsQuietRequest *reqs, int n, int total_ms)
{
	CURLM	   *multi;
	LmsTransfer **xs;
	TimestampTz deadline;
	int			running = 0;
	int			i;

	if (n <= 0 || (multi = curl_multi_init()) == NULL)
		return;
	xs = palloc0(n * sizeof(LmsTransfer *));
	for (i = 0; i < n; i++)
	{
		LmsQuietRequest *r = &reqs[i];
		const LmsOptions *opts = r->opts;
		const char *bearer = r->spec.bearer ? r->spec.bearer : opts->token;
		LmsTransfer *x;
		CURL	   *easy;

		r->status = 0;
		if (lmsfdw_request_url_problem(opts, r->spec.url) != NULL ||
			(easy = curl_easy_init()) == NULL)
			continue;
		x = palloc0(sizeof(LmsTransfer));
		x->opts = opts;
		x->easy = easy;
		x->handle = -1;
		x->url = r->spec.url;
		x->private_ok = lmsfdw_url_may_reach_private(opts, r->spec.url);
		easy_setup(easy, x, r->spec.method, r->spec.url, r->spec.body, total_ms);
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) total_ms);
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_write);
		x->headers = curl_slist_append(NULL, "Expect:");
		if (x->headers && r->spec.body && r->spec.content_type)
			x->headers = curl_slist_append(x->headers,
										   psprintf("Content-Type: %s", r->spec.content_type));
		if (x->headers && bearer && strpbrk(bearer, "\r\n") == NULL &&
			lmsfdw_same_origin(r->spec.url, opts->base_url))
		{
			char	   *line = psprintf("Authorization: Bearer %s", bearer);

			x->headers = curl_slist_append(x->headers, line);
			explicit_bzero(line, strlen(line));
		}
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, x->headers);
		if (curl_multi_add_handle(multi, easy) != CURLM_OK)
		{
			curl_easy_cleanup(easy);
			curl_slist_free_all(x->headers);
			continue;
		}
		xs[i] = x;
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), total_ms);
	for (;;)
	{
		long		left;
		int			numfds;

		curl_multi_perform(multi, &running);
		if (running == 0 || InterruptPending)
			break;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0)
			break;
		curl_multi_wait(multi, NULL, 0, (int) Min(left, 50), &numfds);
	}

	for (i = 0; i < n; i++)
	{
		LmsTransfer *x = xs[i];

		if (x == NULL)
			continue;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &reqs[i].status);
		curl_multi_remove_handle(multi, x->easy);
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->headers);
	}
	curl_multi_cleanup(multi);
}

/* ----------------------------------------------------------------
 * Failures: retry or raise
 * ----------------------------------------------------------------
 */

/*
 * lmsfdw_retry_class
 *		May this failed answer be retried, and as what?
 *
 * starting_job: the request starts a job on an API that does not make that
 * idempotent; then only answers that prove the job was not started (429, a
 * throttling 403, a connection that never opened) may be retried.
 */
LmsRetryClass
lmsfdw_retry_class(const LmsHttpResult *res, bool starting_job)
{
	if (res->curl_code != CURLE_OK)
	{
		if (res->curl_code == CURLE_COULDNT_CONNECT)
			return LMS_RETRY_TRANSPORT;
		if (starting_job)
			return LMS_RETRY_NONE;
		switch (res->curl_code)
		{
			case CURLE_RECV_ERROR:
			case CURLE_SEND_ERROR:
			case CURLE_OPERATION_TIMEDOUT:
			case CURLE_GOT_NOTHING:
			case CURLE_PARTIAL_FILE:
			case CURLE_HTTP2:
			case CURLE_HTTP2_STREAM:
				return LMS_RETRY_TRANSPORT;
			default:
				return LMS_RETRY_NONE;
		}
	}
	if (res->status == 429)
		return LMS_RETRY_429;
	if (res->status == 403 && res->body.data &&
		strstr(res->body.data, "Rate Limit Exceeded") != NULL)
		return LMS_RETRY_THROTTLE_403;
	if (starting_job)
		return LMS_RETRY_NONE;
	if (res->status == 500 || res->status == 502 || res->status == 503 ||
		res->status == 504)
		return LMS_RETRY_5XX;
	return LMS_RETRY_NONE;
}

const char *
lmsfdw_retry_class_name(LmsRetryClass cls)
{
	switch (cls)
	{
		case LMS_RETRY_429:
			return "429";
		case LMS_RETRY_5XX:
			return "5xx";
		case LMS_RETRY_THROTTLE_403:
			return "403";
		case LMS_RETRY_TRANSPORT:
			return "network";
		default:
			return "none";
	}
}

/*
 * lmsfdw_http_raise
 *		Raise the ERROR for a failed request: the one place where HTTP
 *		statuses and curl failures become SQLSTATEs.
 *
 * what: the action, for the message ("starting the export").  starting:
 * the request started a job, where a 404 means an unknown resource.
 */
void
lmsfdw_http_raise(const LmsHttpResult *res, const LmsOptions *opts,
				  const char *what, bool starting)
{
	char	   *url = res->url ? lmsfdw_redact_url(res->url) : pstrdup("(none)");
	char	   *excerpt;

	/* a cancel or timeout is what happened, whatever curl says */
	CHECK_FOR_INTERRUPTS();

	if (res->curl_code != CURLE_OK)
	{
		int			code = ERRCODE_FDW_ERROR;
		char	   *reason = lmsfdw_redact_text(res->curl_error,
												strlen(res->curl_error), opts);

		if (!res->reached_server)
			code = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
		else if (res->curl_code == CURLE_OPERATION_TIMEDOUT)
			ereport(ERROR,
					(errcode(code),
					 errmsg("the answer from %s did not arrive whole within stall_timeout (%d ms) while %s",
							url, opts->stall_timeout_ms, what),
					 errdetail_internal("%s", reason),
					 errhint("Raise stall_timeout on the server or the foreign table.")));
		ereport(ERROR,
				(errcode(code),
				 !res->reached_server ?
				 errmsg("could not connect to the LMS at %s while %s", url, what) :
				 errmsg("request to %s failed while %s", url, what),
				 errdetail_internal("%s", reason),
				 res->curl_code == CURLE_OPERATION_TIMEDOUT ?
				 errhint("The connection must open within connect_timeout (%d ms); raise connect_timeout on the server.",
						 opts->connect_timeout_ms) : 0));
	}

	excerpt = lmsfdw_redact_text(res->body.data, res->body.len, opts);

	/*
	 * A result URL on another host (presigned storage) carries no
	 * credential of ours: its 401, 403 or 404 says the URL was refused or
	 * has expired, not that the token lacks a permission.
	 */
	if ((res->status == 401 || res->status == 403 || res->status == 404) &&
		res->url && !lmsfdw_same_origin(res->url, opts->base_url) &&
		!(res->body.data && strstr(res->body.data, "Rate Limit Exceeded")))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the storage host %s refused the result URL (HTTP %ld) while %s",
						lmsfdw_url_host(res->url), res->status, what),
				 errdetail_internal("The export's result URL was refused or has expired; HTTP %ld from %s: %s",
									res->status, url, excerpt),
				 errhint("Result URLs are valid for a limited time; run the query again to get fresh ones.")));

	switch (res->status)
	{
		case 401:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("the LMS rejected the credential of the user mapping for server \"%s\" (HTTP 401)",
							opts->server_name),
					 errdetail_internal("HTTP 401 from %s: %s", url, excerpt),
					 opts->client_id ?
					 errhint("Check the client_id and client_secret options of the user mapping.") :
					 errhint("Check the token option of the user mapping (ALTER USER MAPPING ... OPTIONS (SET token '...')).")));
			break;
		case 403:
			if (strstr(res->body.data, "Rate Limit Exceeded"))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("the LMS kept rate-limiting requests while %s", what),
						 errdetail_internal("HTTP 403 from %s after %d retries: %s",
											url, opts->retry_max, excerpt),
						 errhint("Raise retry_max or retry_cap, or run fewer exports at once.")));
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("the LMS refused access while %s (HTTP 403)", what),
					 errdetail_internal("HTTP 403 from %s: %s", url, excerpt),
					 errhint("The token's user may lack the permission this export needs.")));
			break;
		case 404:
			if (starting)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
						 errmsg("the LMS does not know resource \"%s\" (HTTP 404)",
								opts->resource ? opts->resource : "(none)"),
						 errdetail_internal("HTTP 404 from %s: %s", url, excerpt),
						 strcmp(opts->provider->name, "canvas") == 0 ?
						 errhint("Check the resource and account_id options of the foreign table.") :
						 errhint("Check the resource option of the foreign table.")));
			break;
		case 429:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the LMS kept rate-limiting requests while %s", what),
					 errdetail_internal("HTTP 429 from %s: %s", url, excerpt),
					 errhint("Raise retry_max or retry_cap, or run fewer exports at once.")));
			break;
		default:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("the LMS answered HTTP %ld while %s", res->status, what),
			 errdetail_internal("HTTP %ld from %s: %s", res->status, url, excerpt)));
}

/*
 * lmsfdw_wait_ms
 *		Sleep through the latch, ending at once on cancel or timeout.
 */
void
lmsfdw_wait_ms(double ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  (int64) ms);

	for (;;)
	{
		long		left;

		CHECK_FOR_INTERRUPTS();
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, http_wait_event(true));
		ResetLatch(MyLatch);
	}
}
