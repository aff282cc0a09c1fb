/*-------------------------------------------------------------------------
 *
 * url.c
 *		  Everything about URLs, in one place
 *
 * - building API URLs: base_url joined with path segments, each segment
 *   percent-escaped (lmsfdw_api_url_segments), so that a value from an
 *   option, a qual or an LMS answer can never become '/', '.' or '..' of
 *   the path; form encoding of query strings and bodies;
 * - the URL policy: http and https only, plain http only to loopback
 *   hosts unless allow_http (lmsfdw_url_problem); no userinfo, query or
 *   fragment in base_url (lmsfdw_base_url_problem); the address rule
 *   (lmsfdw_url_may_reach_private): loopback, link-local and private hosts
 *   only for a superuser's server whose base_url is such a host (the
 *   classification is address.c's, the socket check http.c's);
 * - origin comparison (Authorization goes only to base_url's origin) and
 *   resolution of relative references from LMS answers;
 * - redaction: a URL loses its query string (presigned signatures and
 *   tokens live there) and a body excerpt loses credentials before any
 *   text reaches a message.
 *
 * Parsing is libcurl's (CURLU), so the URL we check is the URL curl asks.
 *
 * IDENTIFICATION
 *		  src/url.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "address.h"
#include "lib/stringinfo.h"
#include "url.h"

/* how much of a body redaction reads, and how much of it a message shows */
#define LMS_REDACT_SCAN		65536
#define LMS_REDACT_EXCERPT	200

/* ----------------------------------------------------------------
 * URLs
 * ----------------------------------------------------------------
 */

static char *
url_part(CURLU *h, CURLUPart part, unsigned int flags)
{
	char	   *v = NULL;
	char	   *copy;

	if (curl_url_get(h, part, &v, flags) != CURLUE_OK || v == NULL)
		return NULL;
	copy = pstrdup(v);
	curl_free(v);
	return copy;
}

static CURLU *
url_parse(const char *url)
{
	CURLU	   *h = curl_url();

	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
	{
		curl_url_cleanup(h);
		return NULL;
	}
	return h;
}

/*
 * lmsfdw_has_control_char
 *		Does s hold a byte that may never reach a URL or a header: a control
 *		character (CR and LF would end the request line or a header and
 *		start another), DEL or a space?
 */
bool
lmsfdw_has_control_char(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *) s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return true;
	return false;
}

/*
 * lmsfdw_url_problem
 *		NULL if url may be asked, else what is wrong with it.
 */
const char *
lmsfdw_url_problem(const char *url, bool allow_http)
{
	CURLU	   *h;
	char	   *scheme;
	char	   *host;
	const char *problem = NULL;

	if (lmsfdw_has_control_char(url))
		return "a control character (CR, LF, ...) or a space in the URL";
	h = url_parse(url);
	if (h == NULL)
		return "not a valid URL";
	scheme = url_part(h, CURLUPART_SCHEME, 0);
	host = url_part(h, CURLUPART_HOST, 0);
	curl_url_cleanup(h);

	if (scheme == NULL ||
		(pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0))
		problem = "only http and https URLs are allowed";
	else if (host == NULL || host[0] == '\0')
		problem = "the URL has no host";
	else if (pg_strcasecmp(scheme, "http") == 0 && !allow_http &&
			 lms_host_class(host) != LMS_ADDR_LOOPBACK)
		problem = "plain http is allowed only to loopback hosts";
	return problem;
}

/*
 * lmsfdw_base_url_problem
 *		NULL if url may be a server's base_url, else what is wrong with it:
 *		besides lmsfdw_url_problem's rules, no user name or password (a
 *		credential belongs in the user mapping), no query string and no
 *		fragment (API paths are appended to it).
 */
const char *
lmsfdw_base_url_problem(const char *url, bool allow_http)
{
	const char *problem = lmsfdw_url_problem(url, allow_http);
	CURLU	   *h;
	char	   *user,
			   *password,
			   *query,
			   *fragment;

	if (problem)
		return problem;
	h = url_parse(url);
	if (h == NULL)
		return "not a valid URL";
	user = url_part(h, CURLUPART_USER, 0);
	password = url_part(h, CURLUPART_PASSWORD, 0);
	query = url_part(h, CURLUPART_QUERY, 0);
	fragment = url_part(h, CURLUPART_FRAGMENT, 0);
	curl_url_cleanup(h);
	if (user || password)
		return "a user name or password in the URL (put credentials in the user mapping)";
	if (query)
		return "a query string in the URL";
	if (fragment)
		return "a fragment in the URL";
	return NULL;
}

/* The class of url's host as written (address.c); public if unparsable. */
static LmsAddressClass
url_host_class(const char *url)
{
	return lms_host_class(lmsfdw_url_host(url));
}

/*
 * lmsfdw_url_names_private_host
 *		Does url's host, as written, name a loopback, link-local or private
 *		address ("127.0.0.1", "[::1]", "localhost", "10.1.2.3")?  Then only
 *		a superuser may make it a server's base_url (options.c).
 */
bool
lmsfdw_url_names_private_host(const char *url)
{
	return url_host_class(url) != LMS_ADDR_PUBLIC;
}

/*
 * lmsfdw_url_may_reach_private
 *		THE address rule: may a request for url (any hop: the API, a
 *		redirect, a result URL the LMS handed back) connect to a loopback,
 *		link-local or private address?
 *
 * Only for a server owned by a superuser (so only superusers set its
 * options) whose base_url itself names such a host (then every hop may:
 * a local LMS hands out local storage URLs), or, when base_url is a DNS
 * name, for requests to that very host (an LMS inside the network).
 * Everything else must connect to public addresses: http.c checks every
 * resolved address when the socket opens, so a DNS name or a redirect that
 * leads to 127.0.0.1 or 169.254.169.254 is refused.
 */
bool
lmsfdw_url_may_reach_private(const LmsOptions *opts, const char *url)
{
	char	   *host,
			   *base_host;

	if (!opts->superuser_server)
		return false;
	if (lmsfdw_url_names_private_host(opts->base_url))
		return true;
	host = lmsfdw_url_host(url);
	base_host = lmsfdw_url_host(opts->base_url);
	return pg_strcasecmp(host, base_host) == 0;
}

/*
 * lmsfdw_request_url_problem
 *		NULL if a request for url may be sent for opts, else why not: the
 *		scheme rules of lmsfdw_url_problem, then the address rule for a host
 *		that names a non-public address (a name that resolves to one is
 *		caught when the socket opens).
 */
const char *
lmsfdw_request_url_problem(const LmsOptions *opts, const char *url)
{
	const char *problem = lmsfdw_url_problem(url, opts->allow_http);
	LmsAddressClass cls;

	if (problem)
		return problem;
	cls = url_host_class(url);
	if (cls != LMS_ADDR_PUBLIC && !lmsfdw_url_may_reach_private(opts, url))
		return psprintf("its host is %s, reachable only from a server owned by a superuser whose base_url names such a host",
						lms_address_class_name(cls));
	return NULL;
}

static char *
url_origin(const char *url)
{
	CURLU	   *h = url_parse(url);
	char	   *scheme,
			   *host,
			   *port;
	char	   *origin;

	if (h == NULL)
		return NULL;
	scheme = url_part(h, CURLUPART_SCHEME, 0);
	host = url_part(h, CURLUPART_HOST, 0);
	port = url_part(h, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	curl_url_cleanup(h);
	if (!scheme || !host || !port)
		return NULL;
	origin = psprintf("%s://%s:%s", scheme, host, port);
	return origin;
}

/*
 * lmsfdw_same_origin
 *		Same scheme, host and port (case-insensitively)?
 */
bool
lmsfdw_same_origin(const char *a, const char *b)
{
	char	   *oa = url_origin(a);
	char	   *ob = url_origin(b);

	return oa && ob && pg_strcasecmp(oa, ob) == 0;
}

/*
 * lmsfdw_url_host
 *		The host of url, for messages; "(unknown)" if it has none.
 */
char *
lmsfdw_url_host(const char *url)
{
	CURLU	   *h = url ? url_parse(url) : NULL;
	char	   *host = NULL;

	if (h)
	{
		host = url_part(h, CURLUPART_HOST, 0);
		curl_url_cleanup(h);
	}
	return host ? host : pstrdup("(unknown)");
}

/*
 * lmsfdw_link_target
 *		The target of the entry of a Link header (RFC 8288: <url>; rel="next",
 *		<url>; rel="last") whose rel names rel, or NULL.  rel is compared
 *		ignoring case; an entry may name several relations ("next last").
 */
char *
lmsfdw_link_target(const char *link, const char *rel)
{
	const char *p = link;
	size_t		want = strlen(rel);

	while (p && *p)
	{
		const char *start,
				   *end;
		bool		match = false;

		p = strchr(p, '<');
		if (p == NULL)
			break;
		start = ++p;
		end = strchr(p, '>');
		if (end == NULL)
			break;
		p = end + 1;
		/* the parameters, up to the next entry (a ',' outside quotes) */
		while (*p && *p != ',')
		{
			while (*p == ' ' || *p == '\t' || *p == ';')
				p++;
			if (pg_strncasecmp(p, "rel", 3) == 0 && (p[3] == '=' || p[3] == ' '))
			{
				const char *v,
						   *vend,
						   *w;

				p += 3;
				while (*p == ' ' || *p == '=')
					p++;
				/* the value: quoted, or a token */
				if (*p == '"')
				{
					v = ++p;
					while (*p && *p != '"')
						p++;
					vend = p;
					if (*p)
						p++;
				}
				else
				{
					v = p;
					while (*p && *p != ';' && *p != ',' && *p != ' ')
						p++;
					vend = p;
				}
				/* its space-separated relation types */
				for (w = v; w < vend;)
				{
					const char *we;

					while (w < vend && *w == ' ')
						w++;
					for (we = w; we < vend && *we != ' '; we++)
						;
					if ((size_t) (we - w) == want && pg_strncasecmp(w, rel, want) == 0)
						match = true;
					w = we;
				}
			}
			else
			{
				bool		quoted = false;

				while (*p && (quoted || (*p != ';' && *p != ',')))
				{
					if (*p == '"')
						quoted = !quoted;
					p++;
				}
			}
		}
		if (match)
			return pnstrdup(start, end - start);
	}
	return NULL;
}

/*
 * lmsfdw_resolve_url
 *		ref (absolute or relative) resolved against base, or NULL.
 */
char *
lmsfdw_resolve_url(const char *base, const char *ref)
{
	CURLU	   *h = url_parse(base);
	char	   *out = NULL;

	if (h == NULL)
		return NULL;
	if (curl_url_set(h, CURLUPART_URL, ref, 0) == CURLUE_OK)
		out = url_part(h, CURLUPART_URL, 0);
	curl_url_cleanup(h);
	return out;
}

/*
 * lmsfdw_redact_url
 *		The URL for messages: scheme, host, port and path; a query string
 *		(where presigned signatures and tokens live) is replaced.
 */
char *
lmsfdw_redact_url(const char *url)
{
	CURLU	   *h = url_parse(url);
	char	   *query;
	char	   *out;

	if (h == NULL)
		return pstrdup("(invalid URL)");
	query = url_part(h, CURLUPART_QUERY, 0);
	curl_url_set(h, CURLUPART_QUERY, NULL, 0);
	curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0);
	curl_url_set(h, CURLUPART_USER, NULL, 0);
	curl_url_set(h, CURLUPART_PASSWORD, NULL, 0);
	out = url_part(h, CURLUPART_URL, 0);
	curl_url_cleanup(h);
	if (out == NULL)
		return pstrdup("(invalid URL)");
	if (query && query[0])
		out = psprintf("%s?[redacted]", out);
	return out;
}

/*
 * lmsfdw_redact_path
 *		An API path as configured (a generic start_path) for messages and
 *		EXPLAIN: a query string or fragment, where an API key may live, is
 *		replaced.
 */
char *
lmsfdw_redact_path(const char *path)
{
	size_t		n = strcspn(path, "?#");

	if (path[n] == '\0')
		return pstrdup(path);
	return psprintf("%.*s?[redacted]", (int) n, path);
}

/* strstr, ignoring ASCII case */
static char *
find_nocase(char *text, const char *needle)
{
	size_t		n = strlen(needle);

	for (; *text; text++)
		if (pg_strncasecmp(text, needle, n) == 0)
			return text;
	return NULL;
}

static void
mask_all(char *text, const char *secret)
{
	size_t		n;
	char	   *p;

	if (secret == NULL || (n = strlen(secret)) < 4)
		return;
	while ((p = strstr(text, secret)) != NULL)
		memset(p, '*', n);
}

/* a base64url character, as in a JWT's parts */
static bool
is_b64url(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '=';
}

/*
 * Mask every JSON Web Token (header.payload.signature, the header starting
 * "eyJ": a Canvas Data 2 access token, a Brightspace one) in text.
 */
static void
mask_jwts(char *text)
{
	char	   *p = text;

	while ((p = strstr(p, "eyJ")) != NULL)
	{
		char	   *e = p;
		int			dots = 0;

		while (is_b64url(*e) || *e == '.')
			dots += (*e++ == '.');
		if (dots >= 2 && e - p >= 20)
			memset(p, '*', e - p);
		p = e;
	}
}

/*
 * lmsfdw_redact_text
 *		A printable excerpt of a remote body for errdetail: credentials
 *		masked (the mapping's token and client secret, any JSON Web Token,
 *		"Bearer ..." and key=value / "key": "value" secrets), URL
 *		signatures and tokens removed, and only then shortened to about 200
 *		bytes, so a secret across the cut is masked whole.
 */
char *
lmsfdw_redact_text(const char *text, size_t len, const LmsOptions *opts)
{
	static const char *const secret_keys[] = {
		"signature=", "sig=", "verifier=", "token=", "secret=",
		"credential=", "x-amz-security-token=", "bearer ",
		/* a token in a JSON answer (an OAuth login echoed in an error) */
		"token\":\"", "token\": \"", "secret\":\"", "secret\": \"", NULL
	};
	size_t		scan = Min(len, LMS_REDACT_SCAN);
	size_t		cut;
	char	   *out;
	char	   *p;
	int			i;

	out = palloc(scan + 4);
	memcpy(out, text, scan);
	out[scan] = '\0';
	/* stop at an embedded NUL, make the rest printable on one line */
	for (p = out; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	if (opts)
	{
		mask_all(out, opts->token);
		mask_all(out, opts->client_secret);
		mask_all(out, opts->refresh_token);
	}
	mask_jwts(out);
	for (i = 0; secret_keys[i]; i++)
	{
		char	   *hit = out;

		while ((hit = find_nocase(hit, secret_keys[i])) != NULL)
		{
			char	   *v = hit + strlen(secret_keys[i]);

			while (*v && *v != '&' && *v != '"' && *v != '\'' && *v != ' ' &&
				   *v != '<')
				*v++ = '*';
			hit = v;
		}
	}
	/* now shorten, at a character boundary */
	cut = strlen(out);
	if (cut > LMS_REDACT_EXCERPT)
	{
		cut = LMS_REDACT_EXCERPT;
		while (cut > 0 && (((unsigned char) out[cut]) & 0xC0) == 0x80)
			cut--;
		out[cut] = '\0';
	}
	if (len > cut)
		strcat(out, "...");
	return out;
}

/* ----------------------------------------------------------------
 * Building
 * ----------------------------------------------------------------
 */

/* percent-encoding of s; spaces as '+' in forms, as %20 in paths */
static char *
percent_encode(const char *s, bool form)
{
	StringInfoData buf;
	const unsigned char *p;

	initStringInfo(&buf);
	for (p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
			*p == '~')
			appendStringInfoChar(&buf, (char) *p);
		else if (*p == ' ' && form)
			appendStringInfoChar(&buf, '+');
		else
			appendStringInfo(&buf, "%%%02X", *p);
	}
	return buf.data;
}

/* application/x-www-form-urlencoded spelling of s */
char *
lmsfdw_form_encode(const char *s)
{
	return percent_encode(s, true);
}

/* s as one URL path segment */
char *
lmsfdw_path_escape(const char *s)
{
	return percent_encode(s, false);
}

/* is the segment [s, s+n) "." or "..", also when spelled %2e? */
static bool
is_dot_segment(const char *s, size_t n)
{
	int			dots = 0;

	while (n > 0)
	{
		if (*s == '.')
			s++, n--;
		else if (n >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E'))
			s += 3, n -= 3;
		else
			return false;
		if (++dots > 2)
			return false;
	}
	return dots > 0;
}

/*
 * base_url joined with an API path as it stands (an administrator's
 * start_path or status_path, with escaped values in it): ERROR (HV00A) for
 * a control character or a "." or ".." segment, which would move the
 * request elsewhere on the host.
 */
char *
lmsfdw_api_url(const LmsOptions *opts, const char *path)
{
	size_t		n = strlen(opts->base_url);
	const char *seg = path;

	if (lmsfdw_has_control_char(path))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("cannot build an API URL from a path with a control character or a space"),
				 errdetail("The path is \"%s\".", lmsfdw_redact_url(path))));
	while (*seg)
	{
		size_t		len = strcspn(seg, "/?#");

		if (is_dot_segment(seg, len))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
					 errmsg("cannot build an API URL from a path segment \".\" or \"..\""),
					 errdetail("The path is \"%s\".", lmsfdw_redact_path(path))));
		if (seg[len] != '/')
			break;
		seg += len + 1;
	}

	while (n > 0 && opts->base_url[n - 1] == '/')
		n--;
	return psprintf("%.*s%s%s", (int) n, opts->base_url,
					path[0] == '/' ? "" : "/", path);
}

/*
 * url_segment_problem
 *		NULL if s may be one path segment, else what is wrong with it.
 *
 * THE single check point for the values put into API paths: escaping
 * already keeps '/' from splitting a segment and CR/LF from reaching the
 * request line, but "." and ".." stay themselves after escaping and would
 * move up the path.  Anything else to refuse in a segment goes here.
 */
static const char *
url_segment_problem(const char *s)
{
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return "a path segment \".\" or \"..\"";
	if (s[0] == '\0')
		return "an empty path segment";
	return NULL;
}

/*
 * lmsfdw_api_url_segv
 *		base_url joined with the path segments segs[0..n), each one
 *		percent-escaped: "a/b" becomes one segment "a%2Fb".  ERROR (HV00A)
 *		for a segment that cannot be one.  Called through the macro
 *		lmsfdw_api_url_segments (url.h), which counts the list:
 *
 *		lmsfdw_api_url_segments(opts, "api", "v1", "accounts", id)
 *
 *		A NULL is an absent segment: trailing ones are optional segments
 *		left out; one before a segment that is present is an ERROR, never a
 *		shorter URL naming another resource (url_segments.h).
 */
char *
lmsfdw_api_url_segv(const LmsOptions *opts, const char *const *segs, int n)
{
	StringInfoData path;
	int			used = lms_url_segments_used(segs, n);
	int			i;

	initStringInfo(&path);
	if (used < 0)
	{
		for (i = 0; i < -1 - used; i++)
			appendStringInfo(&path, "/%s", segs[i]);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("cannot build an API URL: path segment %d of %d is missing",
						-used, n),
				 errdetail("The segments before it are \"%s\".", path.data)));
	}
	for (i = 0; i < used; i++)
	{
		const char *problem = url_segment_problem(segs[i]);

		if (problem)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
					 errmsg("cannot build an API URL from %s", problem),
					 errdetail("The value is \"%s\".", segs[i])));
		appendStringInfoChar(&path, '/');
		appendStringInfoString(&path, lmsfdw_path_escape(segs[i]));
	}
	return lmsfdw_api_url(opts, path.data);
}

/*
 * lmsfdw_url_add_query
 *		url with name=value appended to its query string, both form-encoded.
 */
char *
lmsfdw_url_add_query(const char *url, const char *name, const char *value)
{
	return psprintf("%s%c%s=%s", url, strchr(url, '?') ? '&' : '?',
					lmsfdw_form_encode(name), lmsfdw_form_encode(value));
}
