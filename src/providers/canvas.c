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
 * The resource gradebook_csv is a course's gradebook instead, exported
 * through the Progress API: POST /api/v1/courses/:course_id/gradebook_csv
 * answers {attachment_id, progress_id}; GET /api/v1/progress/:id goes
 * queued -> running (waiting_for_external_tool) -> completed, or failed /
 * canceled with a message, completion being the percentage; once completed,
 * GET /api/v1/users/self/files/:attachment_id gives the file's url.  The
 * course comes from the export parameter course_id; the other parameters
 * are sent as form fields.  POST /api/v1/progress/:id/cancel cancels it.
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
#include "providers/provider.h"

/* what a Canvas job keeps besides its id */
typedef struct CanvasJobState
{
	char	   *attachment_id;	/* the report's (or gradebook's) file */
} CanvasJobState;

#define canvas_job_state(job) ((CanvasJobState *) (job)->provider_state)

/* the resource served by the Progress API rather than account reports */
#define CANVAS_GRADEBOOK "gradebook_csv"

static bool
is_gradebook(const LmsOptions *opts)
{
	return opts->resource && strcmp(opts->resource, CANVAS_GRADEBOOK) == 0;
}

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
	if (is_gradebook(opts))
		return pstrdup("canvas course gradebook_csv (Progress)");
	return psprintf("canvas report %s (account %s)", opts->resource,
					opts->account_id);
}

/*
 * /api/v1/accounts/<account>/reports/<report>[/<id>[/<action>]]: id and
 * action may be NULL (the list ends at the first NULL).
 */
static char *
report_url(LmsJob *job, const char *id, const char *action)
{
	const LmsOptions *opts = job->opts;

	return lmsfdw_api_url_segments(opts, "api", "v1", "accounts",
								   opts->account_id, "reports", opts->resource,
								   id, action, NULL);
}

/*
 * The gradebook of the course named by the export parameter course_id; the
 * other parameters go as form fields.
 */
static void
gradebook_start_request(LmsJob *job, LmsRequestSpec *req)
{
	StringInfoData body;
	const char *course_id = NULL;
	ListCell   *lc;

	initStringInfo(&body);
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		if (strcmp(p->name, "course_id") == 0)
			course_id = p->value;
		else
			appendStringInfo(&body, "%s%s=%s", body.len ? "&" : "",
							 lmsfdw_form_encode(p->name),
							 lmsfdw_form_encode(p->value));
	}
	if (course_id == NULL || course_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("the canvas gradebook_csv export needs the export parameter \"course_id\""),
				 errhint("Add WHERE course_id = ... on a column with OPTIONS (param 'course_id'), or put \"course_id\" in the table's parameters option.")));
	req->method = "POST";
	req->url = lmsfdw_api_url_segments(job->opts, "api", "v1", "courses",
									   course_id, "gradebook_csv", NULL);
	req->body = body.data;
	req->content_type = "application/x-www-form-urlencoded";
}

static void
canvas_start_request(LmsJob *job, LmsRequestSpec *req)
{
	StringInfoData body;
	ListCell   *lc;

	if (is_gradebook(job->opts))
	{
		gradebook_start_request(job, req);
		return;
	}
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
	req->url = report_url(job, NULL, NULL);
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
			job->resolved_urls = list_make1(lmsfdw_resolve_url(job->opts->base_url, file_url));
	}
}

/* A Progress document: the state of a gradebook export. */
static void
canvas_read_progress(LmsJob *job, LmsDoc *doc)
{
	char	   *state = lmsfdw_json_string(doc, "workflow_state");
	char	   *completion = lmsfdw_json_string(doc, "completion");

	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas progress answer has no \"workflow_state\"")));
	job->remote_state = state;
	job->progress = completion ? strtod(completion, NULL) : -1;
	if (strcmp(state, "completed") == 0)
		job->state = LMS_JOB_DONE;
	else if (strcmp(state, "failed") == 0 || strcmp(state, "canceled") == 0)
	{
		job->state = LMS_JOB_FAILED;
		job->message = lmsfdw_json_string(doc, "message");
	}
	else if (strcmp(state, "queued") == 0)
		job->state = LMS_JOB_PENDING;
	else
		job->state = LMS_JOB_RUNNING;	/* running, waiting_for_external_tool */
	if (job->state == LMS_JOB_DONE && canvas_job_state(job)->attachment_id == NULL)
		canvas_job_state(job)->attachment_id = lmsfdw_json_string(doc, "results.attachment_id");
}

static void
gradebook_read_start(LmsJob *job, LmsDoc *doc)
{
	job->remote_id = lmsfdw_json_string(doc, "progress_id");
	canvas_job_state(job)->attachment_id = lmsfdw_json_string(doc, "attachment_id");
	if (job->remote_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas gradebook export answer has no \"progress_id\"")));
	job->state = LMS_JOB_PENDING;
	job->remote_state = pstrdup("queued");
}

static void
canvas_read_start(LmsJob *job, LmsDoc *doc)
{
	if (is_gradebook(job->opts))
	{
		gradebook_read_start(job, doc);
		return;
	}
	job->remote_id = lmsfdw_json_string(doc, "id");
	if (job->remote_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas report answer has no \"id\"")));
	canvas_read_report(job, doc);
}

static void
canvas_read_status(LmsJob *job, LmsDoc *doc)
{
	if (is_gradebook(job->opts))
		canvas_read_progress(job, doc);
	else
		canvas_read_report(job, doc);
}

static void
canvas_status_request(LmsJob *job, LmsRequestSpec *req)
{
	req->method = "GET";
	if (is_gradebook(job->opts))
	{
		req->url = lmsfdw_api_url_segments(job->opts, "api", "v1", "progress",
										   job->remote_id, NULL);
		return;
	}
	req->url = report_url(job, job->remote_id, NULL);
}

/* After a gradebook export: the file's URL, from its File object. */
static bool
canvas_resolve_request(LmsJob *job, int step, LmsRequestSpec *req)
{
	if (!is_gradebook(job->opts) || step > 0 || job->resolved_urls != NIL)
		return false;
	if (canvas_job_state(job)->attachment_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas gradebook export %s named no attachment",
						job->remote_id)));
	req->method = "GET";
	req->url = lmsfdw_api_url_segments(job->opts, "api", "v1", "users", "self",
									   "files", canvas_job_state(job)->attachment_id, NULL);
	return true;
}

static void
canvas_read_resolve(LmsJob *job, int step, LmsDoc *doc)
{
	char	   *url = lmsfdw_json_string(doc, "url");

	if (url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas file %s of export %s has no \"url\"",
						canvas_job_state(job)->attachment_id, job->remote_id)));
	job->resolved_urls = list_make1(lmsfdw_resolve_url(job->opts->base_url, url));
}

static bool
canvas_cancel_request(LmsJob *job, LmsRequestSpec *req)
{
	const char *id = job->remote_id;

	if (is_gradebook(job->opts))
	{
		req->method = "POST";
		req->url = lmsfdw_api_url_segments(job->opts, "api", "v1", "progress",
										   id, "cancel", NULL);
		return true;
	}

	if (job->state == LMS_JOB_RUNNING)
	{
		req->method = "PUT";
		req->url = report_url(job, id, "abort");
	}
	else
	{
		req->method = "DELETE";
		req->url = report_url(job, id, NULL);
	}
	return true;
}

/* a gradebook is one course's: it cannot be exported without one */
static const char *
canvas_required_param(const LmsOptions *opts)
{
	return is_gradebook(opts) ? "course_id" : NULL;
}

const LmsProvider lms_provider_canvas = {
	.name = "canvas",
	.default_format = "csv",
	.start_idempotent = false,
	.state_size = sizeof(CanvasJobState),
	.check_table = canvas_check_table,
	.describe = canvas_describe,
	.required_param = canvas_required_param,
	.start_request = canvas_start_request,
	.read_start = canvas_read_start,
	.status_request = canvas_status_request,
	.read_status = canvas_read_status,
	.resolve_request = canvas_resolve_request,
	.read_resolve = canvas_read_resolve,
	.cancel_request = canvas_cancel_request,
};
