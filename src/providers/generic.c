/*-------------------------------------------------------------------------
 *
 * generic.c
 *		  A configurable job API (provider "generic")
 *
 * For an LMS or gateway without a provider of its own: the foreign table
 * says where to start a job (start_path, start_method, start_body), where
 * the job id is in the answer (job_id_path), where its status lives
 * (status_path, with {id}), where the state is (state_path) and which
 * states mean done or failed, and where the result URL and the error are
 * (result_url_path, error_path).  Paths into JSON are dotted ("data.id").
 * Without start_body, the export parameters are sent as a JSON object.
 * There is no remote cancel.
 *
 * IDENTIFICATION
 *		  src/providers/generic.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lms_fdw.h"
#include "providers/provider.h"

static void
generic_check_table(const LmsOptions *opts)
{
	if (opts->start_path == NULL || opts->status_path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("a foreign table of a generic server needs the options \"start_path\" and \"status_path\""),
				 errhint("For example: OPTIONS (start_path '/exports', status_path '/exports/{id}').")));
	if (strstr(opts->status_path, "{id}") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"status_path\" must contain {id}"),
				 errdetail("The job id from the start answer replaces {id}.")));
}

static char *
generic_describe(const LmsOptions *opts)
{
	return psprintf("generic export %s %s", opts->start_method,
					lmsfdw_redact_path(opts->start_path));
}

static void
generic_start_request(LmsJob *job, LmsRequestSpec *req)
{
	const LmsOptions *opts = job->opts;

	req->method = opts->start_method;
	req->url = lmsfdw_resolve_url(opts->base_url,
								  lmsfdw_api_url(opts, opts->start_path));
	if (opts->start_body)
		req->body = pstrdup(opts->start_body);
	else if (strcmp(opts->start_method, "GET") != 0)
		req->body = lmsfdw_params_to_json(job->params);
	req->content_type = "application/json";
}

static bool
state_in_list(const char *state, const char *list)
{
	char	   *copy = pstrdup(list);
	char	   *save = NULL;
	char	   *tok;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		while (*tok == ' ')
			tok++;
		if (pg_strcasecmp(tok, state) == 0)
			return true;
	}
	return false;
}

static void
generic_read_status(LmsJob *job, LmsDoc *doc)
{
	const LmsOptions *opts = job->opts;
	char	   *state = lmsfdw_json_string(doc, opts->state_path);

	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the job status has nothing at state_path \"%s\"",
						opts->state_path)));
	job->remote_state = state;
	if (state_in_list(state, opts->done_states))
	{
		char	   *url = lmsfdw_json_string(doc, opts->result_url_path);

		job->state = LMS_JOB_DONE;
		if (url)
			job->resolved_urls = list_make1(lmsfdw_resolve_url(opts->base_url, url));
	}
	else if (state_in_list(state, opts->failed_states))
	{
		char	   *message = lmsfdw_json_string(doc,
												 psprintf("%s.message", opts->error_path));

		job->state = LMS_JOB_FAILED;
		job->message = message ? message :
			lmsfdw_json_string(doc, opts->error_path);
	}
	else
		job->state = LMS_JOB_RUNNING;
}

static void
generic_read_start(LmsJob *job, LmsDoc *doc)
{
	job->remote_id = lmsfdw_json_string(doc, job->opts->job_id_path);
	if (job->remote_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the start answer has no job id at job_id_path \"%s\"",
						job->opts->job_id_path)));
	/* the start answer may already carry a state */
	if (lmsfdw_json_string(doc, job->opts->state_path))
		generic_read_status(job, doc);
}

static void
generic_status_request(LmsJob *job, LmsRequestSpec *req)
{
	const LmsOptions *opts = job->opts;
	StringInfoData path;
	const char *p;

	initStringInfo(&path);
	for (p = opts->status_path; *p; p++)
	{
		if (strncmp(p, "{id}", 4) == 0)
		{
			appendStringInfoString(&path, lmsfdw_path_escape(job->remote_id));
			p += 3;
		}
		else
			appendStringInfoChar(&path, *p);
	}
	req->method = "GET";
	req->url = lmsfdw_resolve_url(opts->base_url, lmsfdw_api_url(opts, path.data));
}

const LmsProvider lms_provider_generic = {
	.name = "generic",
	.default_format = "csv",
	.start_idempotent = false,
	.check_table = generic_check_table,
	.describe = generic_describe,
	.start_request = generic_start_request,
	.read_start = generic_read_start,
	.status_request = generic_status_request,
	.read_status = generic_read_status,
	.cancel_request = NULL,
};
