/*-------------------------------------------------------------------------
 *
 * brightspace.c
 *		  D2L Brightspace Data Export (provider "brightspace")
 *
 * An advanced data set ("Final Grades", "Enrollments and Withdrawals", ...)
 * is exported by a job under /d2l/api/lp/:api_version/dataExport:
 * POST create with {"DataSetId", "Filters": [{"Name", "Value"}]} starts
 * it, GET jobs/:id watches its Status (0 queued, 1 processing, 2 complete,
 * 3 error, 4 deleted), and GET download/:id answers a zip holding one CSV
 * (the stream unzips it).  The download is on the LMS's own host, so it
 * carries the bearer token like every other call.
 *
 * The table's resource is the data set's id (a GUID) or its name; a name
 * is looked up, ignoring case, in GET list before the start.  The export
 * parameters (startDate, endDate, parentOrgUnitId, roles, userId ...)
 * become the job's filters, values as text.  The API cannot cancel a job.
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
#include "providers/provider.h"
#include "utils/json.h"

/* what a Brightspace job keeps besides its id */
typedef struct D2lJobState
{
	char	   *data_set_id;	/* the data set's GUID, looked up by name */
} D2lJobState;

#define d2l_state(job) ((D2lJobState *) (job)->provider_state)

/* s as a JSON string literal */
static char *
json_quote(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}

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

/*
 * /d2l/api/lp/<version>/dataExport/<what>[/<id>]: id may be NULL (the list
 * ends at the first NULL).
 */
static char *
d2l_url(const LmsOptions *opts, const char *what, const char *id)
{
	return lmsfdw_api_url_segments(opts, "d2l", "api", "lp", opts->api_version,
								   "dataExport", what, id, NULL);
}

static void
d2l_check_table(const LmsOptions *opts)
{
	if (opts->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("a foreign table of a brightspace server needs the option \"resource\""),
				 errhint("Name the data set or give its id, for example OPTIONS (resource 'Final Grades').")));
}

static char *
d2l_describe(const LmsOptions *opts)
{
	return psprintf("brightspace data set %s (API %s)", opts->resource,
					opts->api_version);
}

/*
 * Before the start: the data set's id.  A GUID is taken as it is; a name
 * is looked up in the list of data sets.
 */
static bool
d2l_prepare_request(LmsJob *job, int step, LmsRequestSpec *req)
{
	const LmsOptions *opts = job->opts;

	if (step > 0)
		return false;
	if (opts->token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the user mapping for server \"%s\" has no token",
						opts->server_name),
				 errhint("Add an OAuth2 access token with the Data Hub scopes: ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD token '...').",
						 opts->server_name)));
	if (is_guid(opts->resource))
	{
		d2l_state(job)->data_set_id = pstrdup(opts->resource);
		return false;
	}
	req->method = "GET";
	req->url = d2l_url(opts, "list", NULL);
	return true;
}

static void
d2l_read_prepare(LmsJob *job, int step, LmsDoc *doc)
{
	const LmsOptions *opts = job->opts;
	StringInfoData names;
	char	   *name;
	int			i;

	initStringInfo(&names);
	for (i = 0; (name = lmsfdw_json_string(doc, psprintf("%d.Name", i))) != NULL; i++)
	{
		if (pg_strcasecmp(name, opts->resource) == 0)
		{
			d2l_state(job)->data_set_id = lmsfdw_json_string(doc, psprintf("%d.DataSetId", i));
			if (d2l_state(job)->data_set_id == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("the Brightspace data set \"%s\" has no DataSetId",
								name)));
			return;
		}
		appendStringInfo(&names, "%s\"%s\"", names.len ? ", " : "", name);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
			 errmsg("Brightspace has no data set named \"%s\"", opts->resource),
			 names.len ?
			 errdetail_internal("The data sets are: %s.", names.data) :
			 errdetail("The list of data sets is empty."),
			 errhint("Use one of the names, or the data set's id.")));
}

static void
d2l_start_request(LmsJob *job, LmsRequestSpec *req)
{
	StringInfoData body;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&body);
	appendStringInfo(&body, "{\"DataSetId\":%s,\"Filters\":[", json_quote(d2l_state(job)->data_set_id));
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		appendStringInfo(&body, "%s{\"Name\":%s,\"Value\":%s}", first ? "" : ",",
						 json_quote(p->name), json_quote(p->value));
		first = false;
	}
	appendStringInfoString(&body, "]}");
	req->method = "POST";
	req->url = d2l_url(job->opts, "create", NULL);
	req->body = body.data;
	req->content_type = "application/json";
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
			job->resolved_urls = list_make1(d2l_url(job->opts, "download",
												  job->remote_id));
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
	req->url = d2l_url(job->opts, "jobs", job->remote_id);
}

/* The Data Export API has no cancel. */
static bool
d2l_cancel_request(LmsJob *job, LmsRequestSpec *req)
{
	return false;
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
};
