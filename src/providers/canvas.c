/*-------------------------------------------------------------------------
 *
 * canvas.c
 *		  Canvas LMS: account reports and course lists (provider "canvas")
 *
 * Account reports (grade_export_csv, last_user_access_csv, ...) are jobs.
 * POST /api/v1/accounts/:account/reports/:report (form parameters
 * parameters[name]=value, with parameters[skip_message]=true unless the
 * table's parameters say otherwise: without it Canvas notifies the token's
 * user of every report) starts one; GET .../reports/:report/:id watches it.
 * Its status goes created -> running -> (compiling) -> complete, or ends in
 * error, aborted or deleted; progress is 0-100.  The status JSON has no
 * message: a failed report's text is in parameters.extra_text.  A complete
 * report's file is read from attachment.url (/files/:id/download with its
 * verifier; Canvas accepts the token there), not from file_url
 * (/accounts/:id/files/:id/download), a web page where Canvas ignores
 * access tokens and redirects to its login: file_url serves only a report
 * without an attachment.  PUT .../:id/abort finds only a running report;
 * one created or compiling is cancelled with DELETE .../:id.  A report may
 * be a zip of several CSV files (mgp_grade_export_csv: one per term), read
 * in turn by the stream.
 *
 * Course lists (course_enrollments, course_submissions,
 * course_student_summaries) need no job: they are Canvas's paginated REST
 * lists of one course (the export parameter course_id), read page by page.
 * The first page is built here; every next one is the Link: rel="next" URL
 * of the page before, followed only on base_url's origin.  Each page is a
 * JSON array of records.
 *
 * gradebook_csv (the gradebook page's export) is refused: Canvas serves it
 * only outside /api/, to a browser session with a CSRF token.
 *
 * Sources: instructure/canvas-lms app/controllers/account_reports_controller.rb,
 * lib/api/v1/account_report.rb, gems/plugins/account_reports/lib/account_reports.rb,
 * lib/authentication_methods.rb, lib/api.rb (pagination),
 * app/controllers/{enrollments_api,submissions_api}_controller.rb and the
 * analytics plugin.
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
	char	   *file_name;		/* the report's attachment file name */
	char	   *next_page;		/* a course list's next page, or NULL */
} CanvasJobState;

#define canvas_job_state(job) ((CanvasJobState *) (job)->provider_state)

/* a course list: GET /api/v1/courses/:course_id/<path>?<fixed>&per_page=100 */
typedef struct CanvasList
{
	const char *resource;
	const char *path[2];		/* segments after the course id */
	const char *fixed_name;		/* a query parameter always sent, or NULL */
	const char *fixed_value;
} CanvasList;

static const CanvasList canvas_lists[] = {
	{"course_enrollments", {"enrollments", NULL}, "type[]", "StudentEnrollment"},
	{"course_submissions", {"students", "submissions"}, "student_ids[]", "all"},
	{"course_student_summaries", {"analytics", "student_summaries"}, NULL, NULL},
	{NULL}
};

/* Canvas's maximum page size (Api::MAX_PER_PAGE) */
#define CANVAS_PER_PAGE "100"

/* export parameters of course_submissions that are times (ISO 8601 UTC) */
static const char *const canvas_time_params[] = {"submitted_since", "graded_since", NULL};

static const CanvasList *
canvas_list(const LmsOptions *opts)
{
	const CanvasList *l;

	for (l = canvas_lists; opts->resource && l->resource; l++)
		if (strcmp(l->resource, opts->resource) == 0)
			return l;
	return NULL;
}

static bool
canvas_paged(const LmsOptions *opts)
{
	return canvas_list(opts) != NULL;
}

/*
 * lmsfdw_canvas_refuse_resource
 *		ERROR for a resource no token can read (gradebook_csv); called by the
 *		option validator and at scan time.
 */
void
lmsfdw_canvas_refuse_resource(const char *resource)
{
	if (resource && strcmp(resource, "gradebook_csv") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("the Canvas gradebook CSV cannot be exported with an access token"),
				 errdetail("Canvas serves it only outside /api/, to a browser session with a CSRF token."),
				 errhint("Use resource 'course_enrollments' (grades.current_score, grades.final_score per student) or 'course_submissions' (every submission's score) with a param 'course_id' column.")));
}

static void
canvas_check_table(const LmsOptions *opts)
{
	if (opts->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("a foreign table of a canvas server needs the option \"resource\""),
				 errhint("Name the account report, for example OPTIONS (resource 'grade_export_csv').")));
	lmsfdw_canvas_refuse_resource(opts->resource);
}

static char *
canvas_describe(const LmsOptions *opts)
{
	if (canvas_list(opts))
		return psprintf("canvas %s (paginated course list)", opts->resource);
	return psprintf("canvas report %s (account %s)", opts->resource,
					opts->account_id);
}

/* a course list is one course's: it cannot be read without one */
static const char *
canvas_required_param(const LmsOptions *opts)
{
	return canvas_list(opts) ? "course_id" : NULL;
}

/* ----------------------------------------------------------------
 * Course lists
 * ----------------------------------------------------------------
 */

static const char *
list_course(LmsJob *job)
{
	const char *course = lmsfdw_params_get(job->params, "course_id");

	if (course == NULL || course[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("the canvas resource %s needs the export parameter \"course_id\"",
						job->opts->resource),
				 errhint("Add WHERE course_id = ... (or IN (...)) on a column with OPTIONS (param 'course_id'), or put \"course_id\" in the table's parameters option.")));
	return course;
}

/* A course list has no job: name it after its course, for messages. */
static bool
canvas_prepare_request(LmsJob *job, int step, LmsRequestSpec *req)
{
	const CanvasList *l = canvas_list(job->opts);

	if (l && step == 0)
		job->remote_id = MemoryContextStrdup(job->cxt,
											 psprintf("courses/%s/%s%s%s", list_course(job),
													  l->path[0], l->path[1] ? "/" : "",
													  l->path[1] ? l->path[1] : ""));
	return false;
}

/* The first page: the course's list with the fixed and the export parameters. */
static char *
list_first_page(LmsJob *job, const CanvasList *l)
{
	char	   *url;
	ListCell   *lc;

	url = lmsfdw_api_url_segments(job->opts, "api", "v1", "courses",
								  list_course(job), l->path[0], l->path[1]);
	if (l->fixed_name)
		url = lmsfdw_url_add_query(url, l->fixed_name, l->fixed_value);
	url = lmsfdw_url_add_query(url, "per_page", CANVAS_PER_PAGE);
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);
		const char *value = p->value;
		int			i;

		if (strcmp(p->name, "course_id") == 0)
			continue;
		for (i = 0; canvas_time_params[i]; i++)
			if (strcmp(p->name, canvas_time_params[i]) == 0)
				value = lmsfdw_param_iso8601_utc(p->name, p->value);
		url = lmsfdw_url_add_query(url, p->name, value);
	}
	return url;
}

/* ----------------------------------------------------------------
 * Account reports
 * ----------------------------------------------------------------
 */

/*
 * /api/v1/accounts/<account>/reports/<report>[/<id>[/<action>]]: id and
 * action may be NULL when absent (an action without an id is an ERROR).
 */
static char *
report_url(LmsJob *job, const char *id, const char *action)
{
	const LmsOptions *opts = job->opts;

	return lmsfdw_api_url_segments(opts, "api", "v1", "accounts",
								   opts->account_id, "reports", opts->resource,
								   id, action);
}

static void
append_form_param(StringInfo body, const char *name, const char *value)
{
	appendStringInfo(body, "%sparameters%%5B%s%%5D=%s", body->len ? "&" : "",
					 lmsfdw_form_encode(name), lmsfdw_form_encode(value));
}

/*
 * The report's parameters as form fields.  skip_message=true unless the
 * table's parameters set it: Canvas skips the notification for any value
 * it is given, so "false" is left out.
 */
static void
canvas_start_request(LmsJob *job, LmsRequestSpec *req)
{
	StringInfoData body;
	bool		skip_given = false;
	ListCell   *lc;

	initStringInfo(&body);
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		if (strcmp(p->name, "skip_message") == 0)
		{
			skip_given = true;
			if (pg_strcasecmp(p->value, "false") == 0)
				continue;
		}
		append_form_param(&body, p->name, p->value);
	}
	if (!skip_given)
		append_form_param(&body, "skip_message", "true");
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
	if (job->state == LMS_JOB_FAILED)
	{
		char	   *text = lmsfdw_json_string(doc, "parameters.extra_text");

		job->message = text ? lmsfdw_redact_text(text, strlen(text), job->opts) : NULL;
	}
	if (job->state == LMS_JOB_DONE)
	{
		/* attachment.url takes the token; file_url is a web page */
		char	   *url = lmsfdw_json_string(doc, "attachment.url");

		if (url)
			canvas_job_state(job)->file_name = lmsfdw_json_string(doc, "attachment.filename");
		else
			url = lmsfdw_json_string(doc, "file_url");
		if (url)
			job->resolved_urls = list_make1(lmsfdw_resolve_url(job->opts->base_url, url));
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
	req->url = report_url(job, job->remote_id, NULL);
}

/* abort finds only a running report; created or compiling: delete it */
static bool
canvas_cancel_request(LmsJob *job, LmsRequestSpec *req)
{
	if (job->remote_state && strcmp(job->remote_state, "running") == 0)
	{
		req->method = "PUT";
		req->url = report_url(job, job->remote_id, "abort");
	}
	else
	{
		req->method = "DELETE";
		req->url = report_url(job, job->remote_id, NULL);
	}
	return true;
}

/* ----------------------------------------------------------------
 * Result files: the report's one file, or a list's pages
 * ----------------------------------------------------------------
 */

static bool
canvas_next_file(LmsJob *job, LmsResultFile *file)
{
	const CanvasList *l = canvas_list(job->opts);
	CanvasJobState *st = canvas_job_state(job);

	if (l == NULL)
	{
		/* a report: its file (a reused job keeps only resolved_urls) */
		if (file->index >= list_length(job->resolved_urls))
			return false;
		file->url = pstrdup((const char *) list_nth(job->resolved_urls, file->index));
		file->name = st->file_name ? pstrdup(st->file_name) : NULL;
		return true;
	}
	if (file->index == 0)
		file->url = list_first_page(job, l);
	else if (st->next_page)
		file->url = pstrdup(st->next_page);
	else
		return false;
	st->next_page = NULL;
	file->name = psprintf("page%d.json", file->index + 1);
	return true;
}

/* A list's page answered: its Link: rel="next", on base_url's origin only. */
static void
canvas_file_answered(LmsJob *job, LmsResultFile *file,
					 const LmsHttpResult *res)
{
	CanvasJobState *st = canvas_job_state(job);
	MemoryContext old;
	char	   *next;

	if (!canvas_paged(job->opts) || res->link == NULL)
		return;
	next = lmsfdw_link_target(res->link, "next");
	if (next == NULL)
		return;
	next = lmsfdw_resolve_url(res->url ? res->url : file->url, next);
	if (next == NULL || !lmsfdw_same_origin(next, job->opts->base_url))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the next page of %s is not on the origin of base_url",
						lmsfdw_job_name(job)),
				 errdetail("The Link header points at %s.",
						   next ? lmsfdw_redact_url(next) : "an invalid URL"),
				 errhint("Set base_url to the host Canvas answers from.")));
	old = MemoryContextSwitchTo(job->cxt);
	st->next_page = pstrdup(next);
	MemoryContextSwitchTo(old);
}

const LmsProvider lms_provider_canvas = {
	.name = "canvas",
	.default_format = "csv",
	.start_idempotent = false,
	.state_size = sizeof(CanvasJobState),
	.check_table = canvas_check_table,
	.describe = canvas_describe,
	.required_param = canvas_required_param,
	.paged = canvas_paged,
	.prepare_request = canvas_prepare_request,
	.start_request = canvas_start_request,
	.read_start = canvas_read_start,
	.status_request = canvas_status_request,
	.read_status = canvas_read_report,
	.cancel_request = canvas_cancel_request,
	.next_file = canvas_next_file,
	.file_answered = canvas_file_answered,
};
