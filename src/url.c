/*-------------------------------------------------------------------------
 *
 * url.c
 *		  Everything about URLs, in one place
 *
 * - building API URLs: base_url joined with path segments, each segment
 *   percent-escaped (lmsfdw_api_url_segments), so that a value from an
 *   option, a qual or an LMS answer can never become '/', '.' or '..' of
 *   the path; form encoding of query strings and bodies;
 * - the address policy: http and https only, plain http only to loopback
 *   hosts unless allow_http (lmsfdw_url_problem);
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

#include <arpa/inet.h>
#include <stdarg.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "lib/stringinfo.h"
#include "url.h"

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

static bool
host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char		buf[64];
	size_t		n = strlen(host);

	if (pg_strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	/* curl gives IPv6 hosts in brackets */
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(buf))
	{
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/*
 * lmsfdw_url_problem
 *		NULL if url may be asked, else what is wrong with it.
 */
const char *
lmsfdw_url_problem(const char *url, bool allow_http)
{
	CURLU	   *h = url_parse(url);
	char	   *scheme;
	char	   *host;
	const char *problem = NULL;

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
			 !host_is_loopback(host))
		problem = "plain http is allowed only to loopback hosts";
	return problem;
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

/*
 * lmsfdw_redact_text
 *		A printable excerpt of a remote body for errdetail: at most 200
 *		bytes, credentials masked, URL signatures and tokens removed.
 */
char *
lmsfdw_redact_text(const char *text, size_t len, const LmsOptions *opts)
{
	static const char *const secret_keys[] = {
		"signature=", "sig=", "verifier=", "token=", "secret=",
		"credential=", "x-amz-security-token=",
		/* a token in a JSON answer (an OAuth login echoed in an error) */
		"token\":\"", "token\": \"", NULL
	};
	size_t		take = Min(len, 200);
	char	   *out;
	char	   *p;
	int			i;

	out = palloc(take + 4);
	memcpy(out, text, take);
	out[take] = '\0';
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
	if (len > take)
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

/* base_url joined with an API path */
char *
lmsfdw_api_url(const LmsOptions *opts, const char *path)
{
	size_t		n = strlen(opts->base_url);

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
	return NULL;
}

/*
 * lmsfdw_api_url_segments
 *		base_url joined with the path segments given (a NULL-terminated
 *		list), each one percent-escaped: "a/b" becomes one segment "a%2Fb".
 *		ERROR (HV00A) for a segment that cannot be one.
 *
 *		lmsfdw_api_url_segments(opts, "api", "v1", "accounts", id, NULL)
 */
char *
lmsfdw_api_url_segments(const LmsOptions *opts,...)
{
	StringInfoData path;
	va_list		ap;
	const char *seg;

	initStringInfo(&path);
	va_start(ap, opts);
	while ((seg = va_arg(ap, const char *)) != NULL)
	{
		const char *problem = url_segment_problem(seg);

		if (problem)
		{
			va_end(ap);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
					 errmsg("cannot build an API URL from %s", problem),
					 errdetail("The value is \"%s\".", seg)));
		}
		appendStringInfoChar(&path, '/');
		appendStringInfoString(&path, lmsfdw_path_escape(seg));
	}
	va_end(ap);
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
