/*-------------------------------------------------------------------------
 *
 * canvas_dap.c
 *		  Canvas Data 2, the Data Access Platform (provider "canvas_dap")
 *
 * A table of a namespace (canvas, canvas_logs, ...) is exported by a query
 * job: POST /dap/query/:namespace/table/:table/data with a JSON body
 * {"format": "jsonl" | "csv" | "tsv"[, "since"[, "until"]]} (SnapshotQuery
 * or IncrementalQuery of the OpenAPI document, additionalProperties false:
 * nothing else) starts it (or, the API being idempotent, returns the live
 * job of the same query), GET /dap/job/:id watches it (202 while waiting or
 * running, 200 once complete or failed).  Each object of the complete job
 * is one gzip file; its presigned URL (valid for about 15 minutes) is asked
 * for with POST /dap/object/url just before the object is read, as the
 * official client (instructure-dap-client, dap/downloader.py) does, so no
 * URL is stale however long the export takes to read, and one answer never
 * lists hundreds of URLs.  A storage 403 (an expired URL) gets one fresh
 * URL.  A job reused by reuse_window is asked for again first: if it has
 * vanished (404), a new job is started.  The rows are {"key": {...},
 * "value": {...}, "meta": {...}} records, so a column without a field
 * option is also looked for under key, value and meta; the job's at, since,
 * until and schema_version fill meta columns of those names.
 *
 * Every call carries a short-lived bearer token obtained with the user
 * mapping's client_id and client_secret (OAuth2 client credentials,
 * POST /ids/auth/login with HTTP Basic), signed in by job.c before a
 * request when no fresh token is at hand and once more after a 401.  The
 * token's lifetime is the answer's expires_in, counted from when it was
 * received, shortened to exp - iat of the JWT's claims (read without
 * verifying the signature, as the official client does) and to exp itself
 * if those are sooner; an exp already behind our clock (the LMS's clock is
 * behind) is not taken to mean the token is stale on arrival.  It is kept
 * for this backend in a cache keyed by user mapping until five minutes
 * before it expires (a quarter of its lifetime, for tokens living less than
 * twenty minutes).
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
#include "utils/jsonb.h"
#include "utils/memutils.h"

/* what a Canvas Data 2 job keeps besides its id */
typedef struct DapJobState
{
	int			nobjects;		/* of the complete job */
	char	  **objects;		/* their ids; NULL: not known (a reused job) */
	bool		refreshed;		/* the job was asked for again (reused) */
	/* the complete job's watermarks and schema version, for meta columns */
	char	   *at;
	char	   *since;
	char	   *until;
	char	   *schema_version;
} DapJobState;

/* what one object being read keeps */
typedef struct DapFileState
{
	bool		asked;			/* its URL was asked for */
	bool		renewed;		/* once more, after a 403 */
} DapFileState;

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
	}
	return entry;
}

/* The cached token if it may still be used for a while, else NULL. */
static const char *
dap_fresh_token(const LmsOptions *opts)
{
	DapToken   *entry = dap_token_entry(opts);

	if (entry->token == NULL || entry->expires - entry->margin <= unix_now())
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
 * Keep the token of a login answer in the cache; returns it.  It lives
 * expires_in seconds from now (one hour without one), or exp - iat if the
 * JWT says less, or until exp if that is ahead of our clock and sooner.
 */
static const char *
dap_store_token(const LmsOptions *opts, LmsDoc *doc)
{
	char	   *token = lmsfdw_json_string(doc, "access_token");
	char	   *expires_in = lmsfdw_json_string(doc, "expires_in");
	double		now = unix_now();
	double		lifetime = expires_in ? strtod(expires_in, NULL) : 0;
	DapToken   *entry;
	LmsDoc	   *claims;

	if (token == NULL || token[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas Data 2 login answer has no \"access_token\"")));
	if (lifetime <= 0)
		lifetime = 3600.0;
	claims = jwt_claims(token);
	if (claims)
	{
		char	   *exp_text = lmsfdw_json_string(claims, "exp");
		char	   *iat_text = lmsfdw_json_string(claims, "iat");
		double		exp = exp_text ? strtod(exp_text, NULL) : 0;
		double		iat = iat_text ? strtod(iat_text, NULL) : 0;

		/* both on the LMS's clock: their difference is a lifetime */
		if (exp > iat && iat > 0 && exp - iat < lifetime)
			lifetime = exp - iat;
		/* an exp still ahead of our clock and sooner: it wins */
		if (exp > now && exp < now + lifetime)
			lifetime = exp - now;
	}

	entry = dap_token_entry(opts);
	if (entry->token)
	{
		explicit_bzero(entry->token, strlen(entry->token));
		pfree(entry->token);
	}
	entry->token = MemoryContextStrdup(TopMemoryContext, token);
	entry->expires = now + lifetime;
	entry->margin = Min(DAP_RENEW_MARGIN_S, lifetime / 4);
	elog(DEBUG1, "lms_fdw: canvas_dap token for server \"%s\" obtained, expires in %.0f s",
		 opts->server_name, lifetime);
	return entry->token;
}

/* Drop the mapping's cached token (the LMS refused it). */
static void
dap_drop_token(const LmsOptions *opts)
{
	DapToken   *entry = dap_token_entry(opts);

	if (entry->token)
	{
		explicit_bzero(entry->token, strlen(entry->token));
		pfree(entry->token);
	}
	entry->token = NULL;
	entry->expires = 0;
}

/* The login request: OAuth2 client credentials with HTTP Basic. */
static void
dap_login_request(const LmsOptions *opts, LmsRequestSpec *req)
{
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
	if (job->bearer == NULL || strcmp(job->bearer, token) != 0)
		job->bearer = MemoryContextStrdup(job->cxt, token);
}

/*
 * Before a request: a login when no fresh token is cached (or the last one
 * was refused), else the cached token.
 */
static bool
dap_auth_request(LmsJob *job, bool refused, LmsRequestSpec *req)
{
	const char *token;

	if (refused)
		dap_drop_token(job->opts);
	token = dap_fresh_token(job->opts);
	if (token)
	{
		dap_use_token(job, token);
		return false;
	}
	dap_login_request(job->opts, req);
	return true;
}

static void
dap_read_auth(LmsJob *job, LmsDoc *doc)
{
	dap_use_token(job, dap_store_token(job->opts, doc));
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
 * The query: {"format": ...} (a snapshot) or with since and until (an
 * incremental query); scope goes into the query string.
 */
static void
dap_start_request(LmsJob *job, LmsRequestSpec *req)
{
	const LmsOptions *opts = job->opts;
	const char *format = strcmp(opts->format, "auto") == 0 ? "jsonl" : opts->format;
	StringInfoData body;
	char	   *scope = NULL;
	char	   *since = NULL;
	char	   *until = NULL;
	ListCell   *lc;

	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		if (strcmp(p->name, "since") == 0)
			since = lmsfdw_param_iso8601_utc(p->name, p->value);
		else if (strcmp(p->name, "until") == 0)
			until = lmsfdw_param_iso8601_utc(p->name, p->value);
		else if (strcmp(p->name, "scope") == 0)
			scope = p->value;
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("Canvas Data 2 has no export parameter \"%s\"", p->name),
					 errdetail("A query carries only format, since and until (the API refuses other fields)."),
					 errhint("Valid export parameters are \"since\" and \"until\" (an incremental query) and \"scope\".")));
	}
	if (until && !since)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("Canvas Data 2 export parameter \"until\" needs \"since\""),
				 errhint("until ends an incremental query; a snapshot has neither.")));

	initStringInfo(&body);
	appendStringInfo(&body, "{\"format\":%s", lmsfdw_json_quote(format));
	if (since)
		appendStringInfo(&body, ",\"since\":%s", lmsfdw_json_quote(since));
	if (until)
		appendStringInfo(&body, ",\"until\":%s", lmsfdw_json_quote(until));
	appendStringInfoChar(&body, '}');

	req->url = lmsfdw_api_url_segments(opts, "dap", "query", opts->namespace,
									   "table", opts->resource, "data", NULL);
	if (scope)
		req->url = lmsfdw_url_add_query(req->url, "scope", scope);
	req->method = "POST";
	req->body = body.data;
	req->content_type = "application/json";
}

/* A complete job's objects and watermarks, into the job state. */
static void
dap_keep_complete(LmsJob *job, LmsDoc *doc)
{
	DapJobState *st = dap_state(job);
	char	   *id;
	int			n;

	for (n = 0; lmsfdw_json_string(doc, psprintf("objects.%d.id", n)) != NULL; n++)
		;
	st->nobjects = n;
	st->objects = palloc(sizeof(char *) * Max(n, 1));
	for (n = 0; (id = lmsfdw_json_string(doc, psprintf("objects.%d.id", n))) != NULL; n++)
		st->objects[n] = id;
	st->at = lmsfdw_json_string(doc, "at");
	st->since = lmsfdw_json_string(doc, "since");
	st->until = lmsfdw_json_string(doc, "until");
	st->schema_version = lmsfdw_json_string(doc, "schema_version");
	elog(DEBUG1, "lms_fdw: canvas_dap job %s complete: %d objects, schema_version %s, at %s, since %s, until %s",
		 job->remote_id, n, st->schema_version ? st->schema_version : "?",
		 st->at ? st->at : "-", st->since ? st->since : "-", st->until ? st->until : "-");
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
		dap_keep_complete(job, doc);
		if (dap_state(job)->nobjects == 0)
		{
			job->state = LMS_JOB_FAILED;
			job->message = pstrdup("The complete job lists no objects.");
		}
	}
}

static void
dap_read_start(LmsJob *job, LmsDoc *doc)
{
	job->remote_id = lmsfdw_json_string(doc, "id");
	if (job->remote_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas Data 2 query answer has no job \"id\"")));
	/* the same query's job may already be running or complete */
	dap_read_job(job, doc);
}

static void
dap_status_request(LmsJob *job, LmsRequestSpec *req)
{
	req->method = "GET";
	req->url = lmsfdw_api_url_segments(job->opts, "dap", "job", job->remote_id, NULL);
}

/*
 * The member named key of a JSON object's text, as the text of its "url"
 * member; NULL if absent.  Object ids contain dots, so the dotted paths of
 * lmsfdw_json_string cannot name them.
 */
static char *
url_of_member(const char *object_text, const char *key)
{
	Jsonb	   *jb;
	JsonbValue	vbuf;
	JsonbValue	ubuf;
	JsonbValue *v;
	JsonbValue *u;

	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(object_text)));
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

static DapFileState *
dap_file_state(LmsResultFile *file)
{
	if (file->provider_state == NULL)
		file->provider_state = palloc0(sizeof(DapFileState));
	return (DapFileState *) file->provider_state;
}

/*
 * The requests for one object: the job itself first when it was reused
 * (its objects are not known here, and it may have vanished), then the
 * object's presigned URL, now, just before it is read.
 */
static bool
dap_file_request(LmsJob *job, LmsResultFile *file, int step, LmsRequestSpec *req)
{
	DapJobState *st = dap_state(job);
	DapFileState *fs = dap_file_state(file);

	if (st->objects == NULL && !st->refreshed)
	{
		dap_status_request(job, req);
		req->accept_not_found = true;
		return true;
	}
	if (st->objects == NULL || file->index >= st->nobjects || fs->asked)
		return false;
	fs->asked = true;
	req->method = "POST";
	req->url = lmsfdw_api_url_segments(job->opts, "dap", "object", "url", NULL);
	req->body = psprintf("[{\"id\":%s}]", lmsfdw_json_quote(st->objects[file->index]));
	req->content_type = "application/json";
	req->accept_not_found = job->reused;
	return true;
}

/* Is doc the API's NotFoundError? */
static bool
dap_not_found(LmsDoc *doc)
{
	char	   *type = lmsfdw_json_string(doc, "error.type");

	return type != NULL && lmsfdw_json_string(doc, "status") == NULL &&
		lmsfdw_json_string(doc, "urls") == NULL;
}

static void
dap_read_file(LmsJob *job, LmsResultFile *file, int step, LmsDoc *doc)
{
	DapJobState *st = dap_state(job);
	MemoryContext old;
	char	   *urls;
	char	   *url;

	if (st->objects == NULL)
	{
		/* the reused job, asked for again */
		st->refreshed = true;
		if (dap_not_found(doc))
		{
			job->state = LMS_JOB_FAILED;
			return;
		}
		old = MemoryContextSwitchTo(job->cxt);
		dap_read_job(job, doc);
		MemoryContextSwitchTo(old);
		if (job->state != LMS_JOB_DONE)
			job->state = LMS_JOB_FAILED;	/* gone or not whole: a new one */
		return;
	}
	if (dap_not_found(doc))
	{
		/* the reused job's objects have vanished */
		job->state = LMS_JOB_FAILED;
		return;
	}
	urls = lmsfdw_json_string(doc, "urls");
	url = urls ? url_of_member(urls, st->objects[file->index]) : NULL;
	if (url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas Data 2 object URL answer has no URL for object %d of export job %s",
						file->index + 1, job->remote_id),
				 errdetail_internal("The object id is %s.", st->objects[file->index])));
	file->url = lmsfdw_resolve_url(job->opts->base_url, url);
}

static bool
dap_next_file(LmsJob *job, LmsResultFile *file)
{
	DapJobState *st = dap_state(job);

	if (st->objects == NULL || file->index >= st->nobjects)
		return false;
	if (job->state != LMS_JOB_DONE || file->url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("object %d of Canvas Data 2 export job %s has vanished",
						file->index + 1, job->remote_id),
				 errdetail("Jobs and their objects are deleted 24 hours after the start.")));
	return true;
}

/* A 403 on an object's URL: it may have expired; one fresh URL. */
static bool
dap_renew_file(LmsJob *job, LmsResultFile *file)
{
	DapFileState *fs = dap_file_state(file);

	if (fs->renewed)
		return false;
	fs->renewed = true;
	fs->asked = false;
	elog(DEBUG1, "lms_fdw: object %d of canvas_dap job %s refused (403): asking for a fresh URL",
		 file->index + 1, job->remote_id);
	return true;
}

/* meta columns since, until, at, schema_version: the complete job's */
static char *
dap_meta_value(LmsJob *job, const char *name)
{
	DapJobState *st = dap_state(job);

	if (strcmp(name, "at") == 0)
		return st->at;
	if (strcmp(name, "since") == 0)
		return st->since;
	if (strcmp(name, "until") == 0)
		return st->until;
	if (strcmp(name, "schema_version") == 0)
		return st->schema_version;
	return NULL;
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
	.field_prefixes = dap_field_prefixes,
	.concurrent_files = true,
	.state_size = sizeof(DapJobState),
	.check_table = dap_check_table,
	.describe = dap_describe,
	.start_request = dap_start_request,
	.read_start = dap_read_start,
	.status_request = dap_status_request,
	.read_status = dap_read_job,
	.cancel_request = dap_cancel_request,
	.file_request = dap_file_request,
	.read_file = dap_read_file,
	.next_file = dap_next_file,
	.renew_file = dap_renew_file,
	.auth_request = dap_auth_request,
	.read_auth = dap_read_auth,
	.meta_value = dap_meta_value,
};
