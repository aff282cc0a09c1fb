/*-------------------------------------------------------------------------
 *
 * canvas_dap.c
 *		  Canvas Data 2, the Data Access Platform (provider "canvas_dap")
 *
 * A table of a namespace (canvas, canvas_logs, ...) is exported by a query
 * job: POST /dap/query/:namespace/table/:table/data with a JSON body
 * {"format": "jsonl" | "csv" | "tsv", "since", "until", "mode"} starts it
 * (or, the API being idempotent, returns the live job of the same query),
 * GET /dap/job/:id watches it (202 while waiting or running, 200 once
 * complete or failed), and POST /dap/object/url trades the complete job's
 * object ids for presigned URLs, one gzip file per object.  The rows are
 * {"key": {...}, "value": {...}, "meta": {...}} records, so a column
 * without a field option is also looked for under key, value and meta.
 *
 * Every call carries a short-lived bearer token obtained with the user
 * mapping's client_id and client_secret (OAuth2 client credentials,
 * POST /ids/auth/login with HTTP Basic).  The token is a JWT; its payload's
 * exp claim is read without verifying the signature, as the official
 * client does, and the token is kept for this backend in a cache keyed by
 * user mapping until it comes within five minutes of expiry (a quarter of
 * its lifetime, for tokens living less than twenty minutes).  So a scan
 * sends a login only when no fresh token is at hand, and a job that
 * outlives its token renews it between two status checks.
 *
 * The API has no cancel: a job left behind expires after 24 hours.
 *
 * This file only describes requests and reads answers; job.c sends them.
 *
 * IDENTIFICATION
 *		  src/providers/canvas_dap.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "common/base64.h"
#include "common/hashfn.h"
#include "lms_fdw.h"
#include "providers/provider.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

/* what a Canvas Data 2 job keeps besides its id */
typedef struct DapJobState
{
	char	   *objects;		/* the complete job's objects: [{"id":...},...] */
} DapJobState;

#define dap_state(job) ((DapJobState *) (job)->provider_state)

/* renew a token this long before it expires (the official client's rule) */
#define DAP_RENEW_MARGIN_S	300.0

/*
 * One cached token per user mapping, in TopMemoryContext: it lives as long
 * as the backend.  cred_hash tells whether the server's base_url or the
 * mapping's credentials changed since the token was issued.
 */
typedef struct DapToken
{
	Oid			umid;			/* hash key */
	uint32		cred_hash;
	char	   *token;			/* NULL: none */
	double		expires;		/* Unix time */
	double		margin;			/* renew when expires - margin <= now */
	bool		in_doubt;		/* handed out, not yet accepted by a start */
} DapToken;

static HTAB *dap_tokens = NULL;

static const char *const dap_field_prefixes[] = {"key", "value", "meta", NULL};

/* ----------------------------------------------------------------
 * Helpers
 * ----------------------------------------------------------------
 */

static double
unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* s as a JSON string literal */
static char *
json_quote(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static long
days_from_civil(int y, int m, int d)
{
	long		era;
	long		yoe;
	long		doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/*
 * An ISO 8601 timestamp ("2024-01-01T00:00:00.123Z", "+02:00" offsets, no
 * zone = UTC) as Unix time; false if s is not one.  Never throws: the LMS's
 * spelling must not turn a readable answer into an ERROR.
 */
static bool
parse_iso_time(const char *s, double *result)
{
	int			y,
				mo,
				d,
				h,
				mi,
				sec,
				n = 0;
	double		t;
	const char *p;

	if (s == NULL ||
		sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
		n == 0)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	t = (double) days_from_civil(y, mo, d) * 86400.0 + h * 3600 + mi * 60 + sec;
	p = s + n;
	if (*p == '.')
	{
		double		scale = 0.1;

		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			t += (*p - '0') * scale;
	}
	if (*p == '+' || *p == '-')
	{
		int			oh = 0,
					om = 0;

		if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1 &&
			sscanf(p + 1, "%2d%2d", &oh, &om) < 1)
			return false;
		t += (*p == '+' ? -1 : 1) * (oh * 3600.0 + om * 60.0);
	}
	else if (*p != 'Z' && *p != 'z' && *p != '\0')
		return false;
	*result = t;
	return true;
}

/* ----------------------------------------------------------------
 * The token cache
 * ----------------------------------------------------------------
 */

static uint32
dap_cred_hash(const LmsOptions *opts)
{
	char	   *key = psprintf("%s\n%s\n%s", opts->base_url,
							   opts->client_id ? opts->client_id : "",
							   opts->client_secret ? opts->client_secret : "");
	uint32		h = hash_bytes((const unsigned char *) key, strlen(key));

	explicit_bzero(key, strlen(key));
	pfree(key);
	return h;
}

/* This mapping's cache entry (created empty), or a fresh one if its credentials changed. */
static DapToken *
dap_token_entry(const LmsOptions *opts)
{
	DapToken   *entry;
	bool		found;
	uint32		h = dap_cred_hash(opts);

	if (dap_tokens == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(DapToken);
		ctl.hcxt = TopMemoryContext;
		dap_tokens = hash_create("lms_fdw canvas_dap tokens", 8, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(dap_tokens, &opts->umid, HASH_ENTER, &found);
	if (!found || entry->cred_hash != h)
	{
		if (found && entry->token)
		{
			explicit_bzero(entry->token, strlen(entry->token));
			pfree(entry->token);
		}
		entry->cred_hash = h;
		entry->token = NULL;
		entry->expires = 0;
		entry->margin = 0;
		entry->in_doubt = false;
	}
	return entry;
}

/* The cached token if it may still be used for a while, else NULL. */
static const char *
dap_fresh_token(const LmsOptions *opts)
{
	DapToken   *entry = dap_token_entry(opts);

	if (entry->token == NULL || entry->in_doubt ||
		entry->expires - entry->margin <= unix_now())
		return NULL;
	return entry->token;
}

/*
 * The claims of a JWT's payload (base64url JSON), not verified; NULL if
 * the token is not shaped like one.
 */
static LmsDoc *
jwt_claims(const char *jwt)
{
	const char *dot1 = strchr(jwt, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	StringInfoData b64;
	const char *p;
	char	   *json;
	int			len;

	if (dot2 == NULL || dot2 - dot1 < 2)
		return NULL;
	initStringInfo(&b64);
	for (p = dot1 + 1; p < dot2; p++)
		appendStringInfoChar(&b64, *p == '-' ? '+' : (*p == '_' ? '/' : *p));
	while (b64.len % 4 != 0)
		appendStringInfoChar(&b64, '=');
	json = palloc(pg_b64_dec_len(b64.len) + 1);
	len = pg_b64_decode(b64.data, b64.len, json, pg_b64_dec_len(b64.len));
	if (len <= 0 || json[0] != '{')
		return NULL;
	return lmsfdw_json_parse(json, len, "the access token's claims");
}

/*
 * Keep the token of a login answer in the cache; returns it.  Its expiry
 * is the JWT's exp claim, else now + expires_in, else one hour.
 */
static const char *
dap_store_token(LmsJob *job, LmsDoc *doc)
{
	const LmsOptions *opts = job->opts;
	char	   *token = lmsfdw_json_string(doc, "access_token");
	char	   *expires_in = lmsfdw_json_string(doc, "expires_in");
	double		now = unix_now();
	double		expires = now + (expires_in ? strtod(expires_in, NULL) : 3600.0);
	double		issued = now;
	DapToken   *entry;
	LmsDoc	   *claims;

	if (token == NULL || token[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas Data 2 login answer has no \"access_token\"")));
	claims = jwt_claims(token);
	if (claims)
	{
		char	   *exp = lmsfdw_json_string(claims, "exp");
		char	   *iat = lmsfdw_json_string(claims, "iat");

		if (exp && strtod(exp, NULL) > 0)
			expires = strtod(exp, NULL);
		if (iat && strtod(iat, NULL) > 0)
			issued = strtod(iat, NULL);
	}

	entry = dap_token_entry(opts);
	if (entry->token)
	{
		explicit_bzero(entry->token, strlen(entry->token));
		pfree(entry->token);
	}
	entry->token = MemoryContextStrdup(TopMemoryContext, token);
	entry->expires = expires;
	entry->margin = Min(DAP_RENEW_MARGIN_S, Max(expires - issued, 0) / 4);
	entry->in_doubt = false;
	elog(DEBUG1, "lms_fdw: canvas_dap token for server \"%s\" obtained, expires in %.0f s",
		 opts->server_name, expires - now);
	return entry->token;
}

/* The login request: OAuth2 client credentials with HTTP Basic. */
static void
dap_login_request(LmsJob *job, LmsRequestSpec *req)
{
	const LmsOptions *opts = job->opts;

	if (opts->client_id == NULL || opts->client_secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the user mapping for server \"%s\" has no client_id and client_secret",
						opts->server_name),
				 errdetail("Canvas Data 2 signs in with OAuth2 client credentials."),
				 errhint("Add them: ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD client_id '...', ADD client_secret '...').",
						 opts->server_name)));
	req->method = "POST";
	req->url = lmsfdw_api_url_segments(opts, "ids", "auth", "login", NULL);
	req->body = pstrdup("grant_type=client_credentials");
	req->content_type = "application/x-www-form-urlencoded";
	req->basic_auth = true;
}

static void
dap_use_token(LmsJob *job, const char *token)
{
	job->bearer = MemoryContextStrdup(job->cxt, token);
}

/* ----------------------------------------------------------------
 * Provider callbacks
 * ----------------------------------------------------------------
 */

static void
dap_check_table(const LmsOptions *opts)
{
	if (opts->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("a foreign table of a canvas_dap server needs the option \"resource\""),
				 errhint("Name the Canvas Data 2 table, for example OPTIONS (resource 'submissions').")));
	if (strcmp(opts->format, "json") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("Canvas Data 2 cannot export format \"json\""),
				 errhint("Use format 'jsonl' (the default), 'csv' or 'tsv'.")));
}

static char *
dap_describe(const LmsOptions *opts)
{
	return psprintf("canvas_dap table %s.%s", opts->namespace, opts->resource);
}

/*
 * Before the start: a login, unless this backend holds a fresh token for
 * the user mapping.
 */
static bool
dap_prepare_request(LmsJob *job, int step, LmsRequestSpec *req)
{
	const char *token;
	DapToken   *entry;

	if (step > 0)
		return false;
	token = dap_fresh_token(job->opts);
	if (token)
	{
		/* until a start accepts it: if the LMS rejects it, log in next time */
		entry = dap_token_entry(job->opts);
		entry->in_doubt = true;
		dap_use_token(job, token);
		return false;
	}
	dap_login_request(job, req);
	return true;
}

static void
dap_read_prepare(LmsJob *job, int step, LmsDoc *doc)
{
	dap_use_token(job, dap_store_token(job, doc));
}

static void
dap_start_request(LmsJob *job, LmsRequestSpec *req)
{
	const LmsOptions *opts = job->opts;
	const char *format = strcmp(opts->format, "auto") == 0 ? "jsonl" : opts->format;
	StringInfoData body;
	char	   *scope = NULL;
	ListCell   *lc;

	initStringInfo(&body);
	appendStringInfo(&body, "{\"format\":%s", json_quote(format));
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		if (strcmp(p->name, "since") == 0 || strcmp(p->name, "until") == 0)
			appendStringInfo(&body, ",\"%s\":%s", p->name,
							 json_quote(lmsfdw_param_iso8601_utc(p->name, p->value)));
		else if (strcmp(p->name, "mode") == 0)
			appendStringInfo(&body, ",\"mode\":%s", json_quote(p->value));
		else if (strcmp(p->name, "scope") == 0)
			scope = p->value;
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("Canvas Data 2 has no export parameter \"%s\"", p->name),
					 errhint("Valid export parameters are \"since\" and \"until\" (an incremental query), \"mode\" and \"scope\".")));
	}
	appendStringInfoChar(&body, '}');

	req->url = lmsfdw_api_url_segments(opts, "dap", "query", opts->namespace,
									   "table", opts->resource, "data", NULL);
	if (scope)
		req->url = lmsfdw_url_add_query(req->url, "scope", scope);
	req->method = "POST";
	req->body = body.data;
	req->content_type = "application/json";
}

/* A job document (start or status answer). */
static void
dap_read_job(LmsJob *job, LmsDoc *doc)
{
	char	   *status = lmsfdw_json_string(doc, "status");
	char	   *expires_at = lmsfdw_json_string(doc, "expires_at");
	double		expires;

	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas Data 2 job answer has no \"status\"")));
	job->remote_state = status;
	job->progress = -1;
	if (strcmp(status, "waiting") == 0)
		job->state = LMS_JOB_PENDING;
	else if (strcmp(status, "complete") == 0)
		job->state = LMS_JOB_DONE;
	else if (strcmp(status, "failed") == 0)
	{
		job->state = LMS_JOB_FAILED;
		job->message = lmsfdw_json_string(doc, "error.message");
		if (job->message == NULL)
			job->message = lmsfdw_json_string(doc, "error.type");
	}
	else
		job->state = LMS_JOB_RUNNING;	/* running, and anything newer */

	/* a job's files are deleted 24 hours after its start */
	if (job->state != LMS_JOB_FAILED && parse_iso_time(expires_at, &expires) &&
		expires <= unix_now())
	{
		job->state = LMS_JOB_FAILED;
		job->remote_state = pstrdup("expired");
		job->message = psprintf("the job expired at %s (its expires_at); its files are deleted 24 hours after the start", expires_at);
	}

	if (job->state == LMS_JOB_DONE)
	{
		StringInfoData objects;
		char	   *id;
		int			i;

		/* keep the object list as the body of the object/url request */
		initStringInfo(&objects);
		appendStringInfoChar(&objects, '[');
		for (i = 0; (id = lmsfdw_json_string(doc, psprintf("objects.%d.id", i))) != NULL; i++)
			appendStringInfo(&objects, "%s{\"id\":%s}", i ? "," : "", json_quote(id));
		appendStringInfoChar(&objects, ']');
		dap_state(job)->objects = objects.data;
		elog(DEBUG1, "lms_fdw: canvas_dap job %s complete: %d objects, schema_version %s, at %s, since %s, until %s",
			 job->remote_id, i,
			 lmsfdw_json_string(doc, "schema_version") ? lmsfdw_json_string(doc, "schema_version") : "?",
			 lmsfdw_json_string(doc, "at") ? lmsfdw_json_string(doc, "at") : "-",
			 lmsfdw_json_string(doc, "since") ? lmsfdw_json_string(doc, "since") : "-",
			 lmsfdw_json_string(doc, "until") ? lmsfdw_json_string(doc, "until") : "-");
		if (i == 0)
		{
			job->state = LMS_JOB_FAILED;
			job->message = pstrdup("The complete job lists no objects.");
		}
	}
}

static void
dap_read_start(LmsJob *job, LmsDoc *doc)
{
	DapToken   *entry;

	job->remote_id = lmsfdw_json_string(doc, "id");
	if (job->remote_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas Data 2 query answer has no job \"id\"")));
	/* the token was accepted */
	entry = dap_token_entry(job->opts);
	entry->in_doubt = false;
	/* the same query's job may already be running or complete */
	dap_read_job(job, doc);
}

/*
 * A status check; or, when the token is about to expire, a login instead
 * (its answer leaves the job's state as it was, and the next check uses
 * the new token).
 */
static void
dap_status_request(LmsJob *job, LmsRequestSpec *req)
{
	const char *token = dap_fresh_token(job->opts);

	if (token == NULL)
	{
		dap_login_request(job, req);
		return;
	}
	if (job->bearer == NULL || strcmp(job->bearer, token) != 0)
		dap_use_token(job, token);
	req->method = "GET";
	req->url = lmsfdw_api_url_segments(job->opts, "dap", "job", job->remote_id,
									   NULL);
}

static void
dap_read_status(LmsJob *job, LmsDoc *doc)
{
	if (lmsfdw_json_string(doc, "access_token") != NULL &&
		lmsfdw_json_string(doc, "status") == NULL)
	{
		dap_use_token(job, dap_store_token(job, doc));
		return;
	}
	dap_read_job(job, doc);
}

/*
 * The member named key of a JSON object's text, as the text of its "url"
 * member; NULL if absent.  Object ids contain dots, so the dotted paths of
 * lmsfdw_json_string cannot name them.
 */
static char *
url_of_member(Jsonb *jb, const char *key)
{
	JsonbValue	vbuf;
	JsonbValue	ubuf;
	JsonbValue *v;
	JsonbValue *u;

	if (!JB_ROOT_IS_OBJECT(jb))
		return NULL;
	v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &vbuf);
	if (v == NULL || v->type != jbvBinary)
		return NULL;
	u = getKeyJsonValueFromContainer(v->val.binary.data, "url", 3, &ubuf);
	if (u == NULL || u->type != jbvString)
		return NULL;
	return pnstrdup(u->val.string.val, u->val.string.len);
}

/* After completion: a login if the token ran out, then the objects' URLs. */
static bool
dap_resolve_request(LmsJob *job, int step, LmsRequestSpec *req)
{
	const char *token;

	if (job->resolved_urls != NIL || step > 1)
		return false;
	token = dap_fresh_token(job->opts);
	if (token == NULL)
	{
		if (step > 0)
			return false;
		dap_login_request(job, req);
		return true;
	}
	dap_use_token(job, token);
	req->method = "POST";
	req->url = lmsfdw_api_url_segments(job->opts, "dap", "object", "url", NULL);
	req->body = pstrdup(dap_state(job)->objects);
	req->content_type = "application/json";
	return true;
}

static void
dap_read_resolve(LmsJob *job, int step, LmsDoc *doc)
{
	LmsDoc	   *objects;
	char	   *urls;
	Jsonb	   *urls_jb;
	char	   *id;
	int			i;

	if (lmsfdw_json_string(doc, "access_token") != NULL)
	{
		dap_use_token(job, dap_store_token(job, doc));
		return;
	}
	urls = lmsfdw_json_string(doc, "urls");
	if (urls == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas Data 2 object URL answer has no \"urls\"")));
	objects = lmsfdw_json_parse(dap_state(job)->objects, strlen(dap_state(job)->objects), "the object list");
	/* parsed once: once per object made the job's memory grow with n^2 */
	urls_jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(urls)));
	for (i = 0; (id = lmsfdw_json_string(objects, psprintf("%d.id", i))) != NULL; i++)
	{
		char	   *url = url_of_member(urls_jb, id);

		if (url == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the Canvas Data 2 object URL answer has no URL for object %d of export job %s",
							i + 1, job->remote_id),
					 errdetail_internal("The object id is %s.", id)));
		job->resolved_urls = lappend(job->resolved_urls,
								   lmsfdw_resolve_url(job->opts->base_url, url));
	}
}

/* The API cannot cancel a job: it expires after 24 hours. */
static bool
dap_cancel_request(LmsJob *job, LmsRequestSpec *req)
{
	return false;
}

const LmsProvider lms_provider_canvas_dap = {
	.name = "canvas_dap",
	.default_format = "jsonl",
	.start_idempotent = true,
	.state_size = sizeof(DapJobState),
	.field_prefixes = dap_field_prefixes,
	.check_table = dap_check_table,
	.describe = dap_describe,
	.prepare_request = dap_prepare_request,
	.read_prepare = dap_read_prepare,
	.resolve_request = dap_resolve_request,
	.read_resolve = dap_read_resolve,
	.start_request = dap_start_request,
	.read_start = dap_read_start,
	.status_request = dap_status_request,
	.read_status = dap_read_status,
	.cancel_request = dap_cancel_request,
};
