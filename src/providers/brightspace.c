/*-------------------------------------------------------------------------
 *
 * brightspace.c
 *		  D2L Brightspace Data Hub (provider "brightspace")
 *
 * Two kinds of data sets live under /d2l/api/lp/<version>/dataExport
 * (docs.valence.desire2learn.com/res/dataExport.html):
 *
 * Advanced Data Sets ("Final Grades", "Enrollments and Withdrawals", ...)
 * are exported by a job: POST create with {"DataSetId", "Filters": [{"Name",
 * "Value"}]} starts it, GET jobs/:id watches its Status (0 queued,
 * 1 processing, 2 complete, 3 error, 4 deleted), and GET download/:id
 * answers a zip holding one CSV.  The export parameters (startDate,
 * endDate, parentOrgUnitId, roles, userId) become the job's filters; times
 * from param columns arrive in ISO 8601 UTC (params.c).  The API cannot
 * cancel a job.
 *
 * Brightspace Data Sets ("Grade Results", "Organizational Units", ...) are
 * nightly full and differential extracts that are just there: no job.  GET
 * bds?page=n lists them ({"BrightspaceDataSets": [...], "NextPageUrl"}),
 * each entry one plugin with its current extract and PreviousDataSets; the
 * table reads the newest full extract, the newest differential one with
 * the table option differential 'true', or the one an "identifier"
 * parameter names (bds/<plugin>/<identifier>).  Its zip holds one CSV with
 * a UTF-8 byte order mark.  meta 'extract_date' is the extract's
 * CreatedDate.
 *
 * The resource is a name or a GUID.  A name is looked up in the Advanced
 * Data Sets, then in the Brightspace Data Sets; a GUID among the plugins,
 * else taken as an Advanced Data Set's id.  differential or identifier
 * mean a Brightspace Data Set at once.
 *
 * api_version 'auto' asks GET /d2l/api/versions/ once per backend and
 * server address for the newest LP version the site offers.
 *
 * Credentials: a fixed bearer token, or client_id, client_secret and a
 * refresh_token, from which oauth.c obtains and renews access tokens; each
 * request asks for a fresh one just before it is sent (downloads too: the
 * download is on the LMS's own host and carries the token), and a 401 on
 * one of them is answered once with a new token.
 *
 * This file only describes requests and reads answers; job.c sends them.
 *
 * IDENTIFICATION
 *		  src/providers/brightspace.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lms_fdw.h"
#include "oauth.h"
#include "providers/provider.h"
#include "utils/memutils.h"

/* what the prepare steps are doing */
typedef enum D2lLookup
{
	D2L_LOOKUP_START,
	D2L_LOOKUP_VERSION,			/* GET /d2l/api/versions/ */
	D2L_LOOKUP_ADS,				/* GET dataExport/list */
	D2L_LOOKUP_BDS,				/* GET dataExport/bds?page=n, following NextPageUrl */
	D2L_LOOKUP_DONE
} D2lLookup;

/* what a Brightspace job keeps besides its id */
typedef struct D2lJobState
{
	const char *version;		/* the LP version in URLs */
	D2lLookup	lookup;
	bool		bds;			/* a Brightspace Data Set: no job */
	char	   *data_set_id;	/* an Advanced Data Set's GUID */
	char	   *bds_page;		/* the next page of the BDS list, or NULL */
	char	   *extract_date;	/* the chosen extract's CreatedDate */
	StringInfoData names;		/* the names seen, for "not found" */
} D2lJobState;

#define d2l_state(job) ((D2lJobState *) (job)->provider_state)

/* the negotiated LP version of each server address, for this backend */
typedef struct D2lVersion
{
	char	   *base_url;
	char	   *version;
	struct D2lVersion *next;
} D2lVersion;

static D2lVersion *d2l_versions = NULL;

/* Is s spelled like a GUID (8-4-4-4-12 hex digits)? */
static bool
is_guid(const char *s)
{
	int			i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}

/* The value of export parameter name, or NULL. */
#define d2l_param(job, name) lmsfdw_params_get((job)->params, (name))

/*
 * /d2l/api/lp/<version>/dataExport/<what>[/<a>[/<b>]]: a and b may be NULL
 * when absent (b without a is an ERROR).
 */
static char *
d2l_url(LmsJob *job, const char *what, const char *a, const char *b)
{
	return lmsfdw_api_url_segments(job->opts, "d2l", "api", "lp",
								   d2l_state(job)->version, "dataExport",
								   what, a, b);
}

/*
 * The token for the next request: NULL for the mapping's fixed token, else
 * a fresh access token from the refresh token (also kept as job->bearer,
 * which downloads use).
 */
static const char *
d2l_bearer(LmsJob *job)
{
	const char *token;

	if (job->opts->refresh_token == NULL)
		return NULL;
	token = lmsfdw_oauth_access_token(job->conn, job->opts, NULL);
	if (job->bearer == NULL || strcmp(job->bearer, token) != 0)
		job->bearer = MemoryContextStrdup(job->cxt, token);
	return job->bearer;
}

/* After a 401: an access token that is not the one just refused. */
static bool
d2l_renew_bearer(LmsJob *job, const char *rejected)
{
	const char *token;

	if (job->opts->refresh_token == NULL)
		return false;
	token = lmsfdw_oauth_access_token(job->conn, job->opts, rejected);
	job->bearer = MemoryContextStrdup(job->cxt, token);
	return true;
}

static void
d2l_check_table(const LmsOptions *opts)
{
	if (opts->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("a foreign table of a brightspace server needs the option \"resource\""),
				 errhint("Name the data set or give its id, for example OPTIONS (resource 'Final Grades') or OPTIONS (resource 'Grade Results').")));
}

static char *
d2l_describe(const LmsOptions *opts)
{
	return psprintf("brightspace data set %s%s (API %s)", opts->resource,
					opts->differential ? ", differential" : "",
					opts->api_version);
}

/* ERROR unless the user mapping carries a usable credential. */
static void
d2l_check_credentials(const LmsOptions *opts)
{
	if (opts->refresh_token && (opts->client_id == NULL || opts->client_secret == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the user mapping for server \"%s\" has a refresh_token but no client_id and client_secret",
						opts->server_name),
				 errhint("The token endpoint needs the app's credentials: ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD client_id '...', ADD client_secret '...').",
						 opts->server_name)));
	if (opts->token == NULL && opts->refresh_token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the user mapping for server \"%s\" has no token",
						opts->server_name),
				 errhint("Add an OAuth 2.0 refresh token with client_id and client_secret (or a fixed access token with the Data Hub scopes): ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD client_id '...', ADD client_secret '...', ADD refresh_token '...').",
						 opts->server_name)));
}

/* "1.47" as a number to compare: major * 10000 + minor; -1 if not a version */
static long
version_rank(const char *v)
{
	char	   *end;
	long		major = strtol(v, &end, 10);
	long		minor;

	if (end == v || *end != '.')
		return -1;
	v = end + 1;
	minor = strtol(v, &end, 10);
	if (end == v || *end != '\0' || major < 0 || minor < 0 || minor >= 10000)
		return -1;
	return major * 10000 + minor;
}

/* The newest LP version in a versions answer (ProductVersions array). */
static void
d2l_read_versions(LmsJob *job, LmsDoc *doc)
{
	const char *best = NULL;
	char	   *code;
	int			i;

	for (i = 0; (code = lmsfdw_json_string(doc, psprintf("%d.ProductCode", i))) != NULL; i++)
	{
		char	   *v;
		int			k;

		if (pg_strcasecmp(code, "lp") != 0)
			continue;
		for (k = 0; (v = lmsfdw_json_string(doc, psprintf("%d.SupportedVersions.%d", i, k))) != NULL; k++)
			if (version_rank(v) >= 0 && (best == NULL || version_rank(v) > version_rank(best)))
				best = v;
		v = lmsfdw_json_string(doc, psprintf("%d.LatestVersion", i));
		if (v && version_rank(v) >= 0 && (best == NULL || version_rank(v) > version_rank(best)))
			best = v;
	}
	if (best == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Brightspace at server \"%s\" lists no LP API version",
						job->opts->server_name),
				 errhint("Set the server option api_version, for example api_version '1.47'.")));
	{
		D2lVersion *e = MemoryContextAllocZero(TopMemoryContext, sizeof(D2lVersion));

		e->base_url = MemoryContextStrdup(TopMemoryContext, job->opts->base_url);
		e->version = MemoryContextStrdup(TopMemoryContext, best);
		e->next = d2l_versions;
		d2l_versions = e;
		d2l_state(job)->version = e->version;
	}
	elog(DEBUG1, "lms_fdw: server \"%s\" offers LP API %s", job->opts->server_name, best);
}

/* Where the lookup goes after the version is known. */
static D2lLookup
d2l_first_lookup(LmsJob *job)
{
	const LmsOptions *opts = job->opts;

	if (opts->differential || d2l_param(job, "identifier") || is_guid(opts->resource))
		return D2L_LOOKUP_BDS;
	return D2L_LOOKUP_ADS;
}

/*
 * Before the start: the version, then the data set.  While a lookup is
 * under way, each step asks for one more answer.
 */
static bool
d2l_prepare_request(LmsJob *job, int step, LmsRequestSpec *req)
{
	const LmsOptions *opts = job->opts;
	D2lJobState *st = d2l_state(job);
	MemoryContext old = MemoryContextSwitchTo(job->cxt);
	bool		more = true;

	if (step == 0)
	{
		D2lVersion *e;

		d2l_check_credentials(opts);
		initStringInfo(&st->names);
		st->lookup = D2L_LOOKUP_START;
		st->version = opts->api_version;
		if (strcmp(opts->api_version, "auto") == 0)
		{
			st->version = NULL;
			for (e = d2l_versions; e; e = e->next)
				if (strcmp(e->base_url, opts->base_url) == 0)
					st->version = e->version;
			if (st->version == NULL)
			{
				st->lookup = D2L_LOOKUP_VERSION;
				req->method = "GET";
				req->url = lmsfdw_api_url(opts, "/d2l/api/versions/");
				req->bearer = d2l_bearer(job);
				MemoryContextSwitchTo(old);
				return true;
			}
		}
	}
	if (st->lookup == D2L_LOOKUP_START || st->lookup == D2L_LOOKUP_VERSION)
	{
		st->lookup = d2l_first_lookup(job);
		if (st->lookup == D2L_LOOKUP_BDS)
			st->bds_page = lmsfdw_url_add_query(d2l_url(job, "bds", NULL, NULL),
												"page", "1");
	}
	switch (st->lookup)
	{
		case D2L_LOOKUP_ADS:
			req->method = "GET";
			req->url = d2l_url(job, "list", NULL, NULL);
			break;
		case D2L_LOOKUP_BDS:
			req->method = "GET";
			req->url = st->bds_page;
			break;
		default:
			more = false;
			break;
	}
	if (more)
		req->bearer = d2l_bearer(job);
	MemoryContextSwitchTo(old);
	return more;
}

static void d2l_raise_not_found(LmsJob *job) pg_attribute_noreturn();

static void
d2l_raise_not_found(LmsJob *job)
{
	const LmsOptions *opts = job->opts;
	StringInfo	names = &d2l_state(job)->names;

	ereport(ERROR,
			(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
			 errmsg("Brightspace has no %sdata set named \"%s\"",
					opts->differential ? "differential " : "", opts->resource),
			 names->len ?
			 errdetail_internal("The data sets are: %s.", names->data) :
			 errdetail("The lists of data sets are empty."),
			 errhint("Use one of the names, or the data set's id (a Brightspace Data Set's plugin id).")));
}

/* Note a name for the "not found" message, once. */
static void
d2l_note_name(D2lJobState *st, const char *name)
{
	char	   *quoted = psprintf("\"%s\"", name);

	if (strstr(st->names.data, quoted) == NULL)
		appendStringInfo(&st->names, "%s%s", st->names.len ? ", " : "", quoted);
}

/* Look for the resource among the Advanced Data Sets. */
static void
d2l_read_ads_list(LmsJob *job, LmsDoc *doc)
{
	D2lJobState *st = d2l_state(job);
	char	   *name;
	int			i;

	for (i = 0; (name = lmsfdw_json_string(doc, psprintf("%d.Name", i))) != NULL; i++)
	{
		if (pg_strcasecmp(name, job->opts->resource) == 0)
		{
			st->data_set_id = lmsfdw_json_string(doc, psprintf("%d.DataSetId", i));
			if (st->data_set_id == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("the Brightspace data set \"%s\" has no DataSetId",
								name)));
			st->lookup = D2L_LOOKUP_DONE;
			return;
		}
		d2l_note_name(st, name);
	}
	/* not an Advanced Data Set: perhaps a Brightspace Data Set */
	st->lookup = D2L_LOOKUP_BDS;
	st->bds_page = lmsfdw_url_add_query(d2l_url(job, "bds", NULL, NULL),
										"page", "1");
}

/* Is BDS entry at prefix ("BrightspaceDataSets.3") the table's data set? */
static bool
d2l_bds_matches(LmsJob *job, LmsDoc *doc, const char *prefix)
{
	const LmsOptions *opts = job->opts;
	char	   *pid = lmsfdw_json_string(doc, psprintf("%s.PluginId", prefix));
	char	   *name = lmsfdw_json_string(doc, psprintf("%s.Name", prefix));
	char	   *full = lmsfdw_json_string(doc, psprintf("%s.FullDataSet", prefix));
	bool		is_full = full == NULL || strcmp(full, "false") != 0;

	if (pid && pg_strcasecmp(pid, opts->resource) == 0)
	{
		if (opts->differential && is_full)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("Brightspace Data Set plugin %s is a full data set, not a differential one",
							pid),
					 errhint("Name the data set instead, or drop the option differential.")));
		return true;
	}
	if (name == NULL || is_full == opts->differential)
		return false;
	if (pg_strcasecmp(name, opts->resource) == 0)
		return true;
	/* "Grade Results Differential" for resource 'Grade Results' */
	return opts->differential &&
		pg_strcasecmp(name, psprintf("%s Differential", opts->resource)) == 0;
}

/*
 * The extract of the matched entry: the one the identifier parameter names,
 * else the newest of the current one and its PreviousDataSets.
 */
static void
d2l_choose_extract(LmsJob *job, LmsDoc *doc, const char *prefix)
{
	D2lJobState *st = d2l_state(job);
	const char *identifier = d2l_param(job, "identifier");
	char	   *pid = lmsfdw_json_string(doc, psprintf("%s.PluginId", prefix));
	char	   *url = NULL;
	char	   *date = NULL;
	char	   *link;
	int			k;

	if (pid == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("a Brightspace Data Set entry has no \"PluginId\"")));
	job->remote_id = pid;
	if (identifier)
	{
		char	   *suffix = psprintf("/%s", lmsfdw_path_escape(identifier));

		url = d2l_url(job, "bds", pid, identifier);
		/* its date, when the list shows it */
		for (k = 0; (link = lmsfdw_json_string(doc, psprintf("%s.PreviousDataSets.%d.DownloadLink", prefix, k))) != NULL; k++)
			if (strlen(link) >= strlen(suffix) &&
				strcmp(link + strlen(link) - strlen(suffix), suffix) == 0)
				date = lmsfdw_json_string(doc, psprintf("%s.PreviousDataSets.%d.CreatedDate", prefix, k));
	}
	else
	{
		/* k = -1: the current extract */
		for (k = -1;; k++)
		{
			char	   *at = k < 0 ? pstrdup(prefix) :
				psprintf("%s.PreviousDataSets.%d", prefix, k);
			char	   *created = lmsfdw_json_string(doc, psprintf("%s.CreatedDate", at));

			link = lmsfdw_json_string(doc, psprintf("%s.DownloadLink", at));
			if (k >= 0 && link == NULL && created == NULL)
				break;
			if (link == NULL)
				continue;
			/* ISO 8601 in one spelling: the text orders like the time */
			if (url == NULL || (created && (date == NULL || strcmp(created, date) > 0)))
			{
				url = lmsfdw_resolve_url(job->opts->base_url, link);
				date = created;
			}
		}
		if (url == NULL)
			url = d2l_url(job, "bds", "download", pid);
	}
	st->extract_date = date;
	st->bds = true;
	st->lookup = D2L_LOOKUP_DONE;
	job->resolved_urls = list_make1(url);
}

/* One page of the Brightspace Data Sets. */
static void
d2l_read_bds_page(LmsJob *job, LmsDoc *doc)
{
	D2lJobState *st = d2l_state(job);
	char	   *name;
	char	   *next;
	int			i;

	for (i = 0; (name = lmsfdw_json_string(doc, psprintf("BrightspaceDataSets.%d.Name", i))) != NULL; i++)
	{
		char	   *prefix = psprintf("BrightspaceDataSets.%d", i);

		if (d2l_bds_matches(job, doc, prefix))
		{
			d2l_choose_extract(job, doc, prefix);
			return;
		}
		d2l_note_name(st, name);
	}
	next = lmsfdw_json_string(doc, "NextPageUrl");
	if (next && next[0])
	{
		char	   *url = lmsfdw_resolve_url(st->bds_page, next);

		if (strcmp(url, st->bds_page) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Brightspace's list of data sets points at the same page again")));
		st->bds_page = url;
		return;
	}
	/* the last page: a GUID may still be an Advanced Data Set's id */
	if (is_guid(job->opts->resource) && !job->opts->differential &&
		d2l_param(job, "identifier") == NULL)
	{
		st->data_set_id = pstrdup(job->opts->resource);
		st->lookup = D2L_LOOKUP_DONE;
		return;
	}
	d2l_raise_not_found(job);
}

static void
d2l_read_prepare(LmsJob *job, int step, LmsDoc *doc)
{
	switch (d2l_state(job)->lookup)
	{
		case D2L_LOOKUP_VERSION:
			d2l_read_versions(job, doc);
			break;
		case D2L_LOOKUP_ADS:
			d2l_read_ads_list(job, doc);
			break;
		case D2L_LOOKUP_BDS:
			d2l_read_bds_page(job, doc);
			break;
		default:
			break;
	}
}

/* A Brightspace Data Set is read as it is: no job. */
static bool
d2l_jobless(LmsJob *job)
{
	ListCell   *lc;

	if (!d2l_state(job)->bds)
		return false;
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		if (strcmp(p->name, "identifier") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("Brightspace Data Set \"%s\" takes no export parameter \"%s\"",
							job->opts->resource, p->name),
					 errdetail("Brightspace Data Sets are extracts made every night; only \"identifier\" picks an older extract."),
					 errhint("Filter the rows with WHERE, or use an Advanced Data Set with filters.")));
	}
	return true;
}

static void
d2l_start_request(LmsJob *job, LmsRequestSpec *req)
{
	StringInfoData body;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&body);
	appendStringInfo(&body, "{\"DataSetId\":%s,\"Filters\":[", lmsfdw_json_quote(d2l_state(job)->data_set_id));
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		appendStringInfo(&body, "%s{\"Name\":%s,\"Value\":%s}", first ? "" : ",",
						 lmsfdw_json_quote(p->name), lmsfdw_json_quote(p->value));
		first = false;
	}
	appendStringInfoString(&body, "]}");
	req->method = "POST";
	req->url = d2l_url(job, "create", NULL, NULL);
	req->body = body.data;
	req->content_type = "application/json";
	req->bearer = d2l_bearer(job);
}

/* An ExportJobData document (start or status answer). */
static void
d2l_read_job(LmsJob *job, LmsDoc *doc)
{
	static const char *const words[] = {"queued", "processing", "complete", "error", "deleted"};
	char	   *status = lmsfdw_json_string(doc, "Status");
	char	   *end;
	long		code;

	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Brightspace export job answer has no \"Status\"")));
	code = strtol(status, &end, 10);
	if (*end != '\0' || end == status)
	{
		/* a word instead of the number: match it */
		for (code = 0; code < lengthof(words); code++)
			if (pg_strcasecmp(status, words[code]) == 0)
				break;
	}
	job->progress = -1;
	switch (code)
	{
		case 0:
			job->state = LMS_JOB_PENDING;
			break;
		case 1:
			job->state = LMS_JOB_RUNNING;
			break;
		case 2:
			job->state = LMS_JOB_DONE;
			job->progress = 100;
			job->resolved_urls = list_make1(d2l_url(job, "download",
													job->remote_id, NULL));
			break;
		case 3:
		case 4:
			job->state = LMS_JOB_FAILED;
			if (code == 4)
				job->message = pstrdup("Brightspace deleted the export job.");
			break;
		default:
			/* a newer status: keep watching */
			job->state = LMS_JOB_RUNNING;
			break;
	}
	job->remote_state = (code >= 0 && code < lengthof(words)) ?
		pstrdup(words[code]) : status;
}

static void
d2l_read_start(LmsJob *job, LmsDoc *doc)
{
	job->remote_id = lmsfdw_json_string(doc, "ExportJobId");
	if (job->remote_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Brightspace export job answer has no \"ExportJobId\"")));
	if (lmsfdw_json_string(doc, "Status") != NULL)
		d2l_read_job(job, doc);
}

static void
d2l_status_request(LmsJob *job, LmsRequestSpec *req)
{
	req->method = "GET";
	req->url = d2l_url(job, "jobs", job->remote_id, NULL);
	req->bearer = d2l_bearer(job);
}

/* The Data Export API has no cancel. */
static bool
d2l_cancel_request(LmsJob *job, LmsRequestSpec *req)
{
	return false;
}

/*
 * The result file, handed out just before it is downloaded: the access
 * token is renewed here if it is due, since the download carries it.
 */
static bool
d2l_next_file(LmsJob *job, LmsResultFile *file)
{
	if (file->index >= list_length(job->resolved_urls))
		return false;
	file->url = pstrdup((const char *) list_nth(job->resolved_urls, file->index));
	(void) d2l_bearer(job);
	return true;
}

static char *
d2l_meta_value(LmsJob *job, const char *meta)
{
	if (strcmp(meta, "extract_date") == 0 && job->provider_state)
		return d2l_state(job)->extract_date;
	return NULL;
}

const LmsProvider lms_provider_brightspace = {
	.name = "brightspace",
	.default_format = "csv",
	.start_idempotent = false,
	.state_size = sizeof(D2lJobState),
	.field_prefixes = NULL,
	.check_table = d2l_check_table,
	.describe = d2l_describe,
	.prepare_request = d2l_prepare_request,
	.read_prepare = d2l_read_prepare,
	.start_request = d2l_start_request,
	.read_start = d2l_read_start,
	.status_request = d2l_status_request,
	.read_status = d2l_read_job,
	.cancel_request = d2l_cancel_request,
	.jobless = d2l_jobless,
	.renew_bearer = d2l_renew_bearer,
	.next_file = d2l_next_file,
	.meta_value = d2l_meta_value,
};
