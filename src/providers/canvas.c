/*-------------------------------------------------------------------------
 *
 * canvas.c
 *		  Canvas LMS account reports (provider "canvas")
 *
 * A report such as grade_export_csv is started with
 * POST /api/v1/accounts/:account/reports/:report (form parameters
 * parameters[name]=value) and watched with GET .../reports/:report/:id.
 * Its status goes created -> running -> (compiling) -> complete, or ends in
 * error, aborted or deleted; progress is 0-100.  On completion file_url
 * points at the file, which Canvas answers with a redirect to presigned
 * storage.  A running report is cancelled with PUT .../:id/abort, one not
 * yet running with DELETE .../:id.
 *
 * This file only describes requests and reads answers; job.c sends them.
 *
 * IDENTIFICATION
 *		  src/providers/canvas.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lms_fdw.h"

static void
canvas_check_table(const LmsOptions *opts)
{
	if (opts->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("a foreign table of a canvas server needs the option \"resource\""),
				 errhint("Name the account report, for example OPTIONS (resource 'grade_export_csv').")));
}

static char *
canvas_describe(const LmsOptions *opts)
{
	return psprintf("canvas report %s (account %s)", opts->resource,
					opts->account_id);
}

static char *
report_url(LmsJob *job, const char *suffix)
{
	const LmsOptions *opts = job->opts;

	return lmsfdw_api_url(opts,
						  psprintf("/api/v1/accounts/%s/reports/%s%s",
								   lmsfdw_path_escape(opts->account_id),
								   lmsfdw_path_escape(opts->resource),
								   suffix));
}

static void
canvas_start_request(LmsJob *job, LmsRequestSpec *req)
{
	StringInfoData body;
	ListCell   *lc;

	initStringInfo(&body);
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		appendStringInfo(&body, "%sparameters%%5B%s%%5D=%s",
						 body.len ? "&" : "",
						 lmsfdw_form_encode(p->name),
						 lmsfdw_form_encode(p->value));
	}
	req->method = "POST";
	req->url = report_url(job, "");
	req->body = body.data;
	req->content_type = "application/x-www-form-urlencoded";
}

/* Canvas's workflow_state of a report, as a job state */
static LmsJobState
canvas_state(const char *status)
{
	if (strcmp(status, "complete") == 0)
		return LMS_JOB_DONE;
	if (strcmp(status, "error") == 0 || strcmp(status, "aborted") == 0 ||
		strcmp(status, "deleted") == 0)
		return LMS_JOB_FAILED;
	if (strcmp(status, "created") == 0)
		return LMS_JOB_PENDING;
	/* running, compiling, and anything newer: keep watching */
	return LMS_JOB_RUNNING;
}

static void
canvas_read_report(LmsJob *job, LmsDoc *doc)
{
	char	   *status = lmsfdw_json_string(doc, "status");
	char	   *progress = lmsfdw_json_string(doc, "progress");

	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas report answer has no \"status\"")));
	job->remote_state = status;
	job->state = canvas_state(status);
	job->progress = progress ? strtod(progress, NULL) : -1;
	job->message = lmsfdw_json_string(doc, "message");
	if (job->state == LMS_JOB_DONE)
	{
		char	   *file_url = lmsfdw_json_string(doc, "file_url");

		if (file_url == NULL)
			file_url = lmsfdw_json_string(doc, "attachment.url");
		if (file_url)
			job->result_urls = list_make1(lmsfdw_resolve_url(job->opts->base_url, file_url));
	}
}

static void
canvas_read_start(LmsJob *job, LmsDoc *doc)
{
	job->remote_id = lmsfdw_json_string(doc, "id");
	if (job->remote_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas report answer has no \"id\"")));
	canvas_read_report(job, doc);
}

static void
canvas_status_request(LmsJob *job, LmsRequestSpec *req)
{
	req->method = "GET";
	req->url = report_url(job, psprintf("/%s", lmsfdw_path_escape(job->remote_id)));
}

static bool
canvas_cancel_request(LmsJob *job, LmsRequestSpec *req)
{
	const char *id = lmsfdw_path_escape(job->remote_id);

	if (job->state == LMS_JOB_RUNNING)
	{
		req->method = "PUT";
		req->url = report_url(job, psprintf("/%s/abort", id));
	}
	else
	{
		req->method = "DELETE";
		req->url = report_url(job, psprintf("/%s", id));
	}
	return true;
}

const LmsProvider lms_provider_canvas = {
	.name = "canvas",
	.default_format = "csv",
	.start_idempotent = false,
	.check_table = canvas_check_table,
	.describe = canvas_describe,
	.start_request = canvas_start_request,
	.read_start = canvas_read_start,
	.status_request = canvas_status_request,
	.read_status = canvas_read_report,
	.cancel_request = canvas_cancel_request,
};
