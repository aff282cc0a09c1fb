/*-------------------------------------------------------------------------
 *
 * provider.h
 *		  The provider vtable: what one LMS's export API looks like
 *
 * A provider describes requests and reads their answers; it never sends
 * anything (the job does, through job.c's one retry loop) and builds every
 * URL through url.h (lmsfdw_api_url_segments: each segment escaped).
 *
 * THE LIFE OF AN EXPORT, AS THE PROVIDER SEES IT
 *
 *	1. prepare:  prepare_request/read_prepare, steps 0, 1, ... while
 *	             prepare_request returns true (a token, a name to look up).
 *	2. start:    start_request/read_start.  read_start sets job->remote_id
 *	             and may already set job->state.
 *	             A resource that needs no job (a paginated REST list, a
 *	             data set that is just there) leaves start_request NULL
 *	             (or, for some resources only, says so through jobless):
 *	             the job is then DONE at once, without start or status
 *	             requests, and goes straight to 3.
 *	3. monitor:  status_request/read_status, spaced by the poll schedule,
 *	             until read_status sets job->state to LMS_JOB_DONE or
 *	             LMS_JOB_FAILED (with job->message).
 *	4. resolve:  resolve_request/read_resolve, steps 0, 1, ... (optional).
 *	             A provider whose files are all known now appends their
 *	             absolute URLs to job->resolved_urls and needs nothing of 5.
 *	5. files:    the scan asks for the result files one at a time, each just
 *	             before it reads it (lmsfdw_job_next_file):
 *	               file_request/read_file, steps 0, 1, ... for this file
 *	                   (optional: e.g. ask for one object's presigned URL);
 *	               next_file fills file->url (and file->name if the URL's
 *	                   last segment does not say the format), returns false
 *	                   when there is no file number file->index;
 *	               file_answered receives the file's HTTP answer (status,
 *	                   headers: res->link is the Link header) once its
 *	                   download has started, before its first byte is read:
 *	                   a paginated list keeps the rel="next" URL (resolved
 *	                   with lmsfdw_resolve_url) for the next call of
 *	                   next_file.
 *	             Without next_file, the files are job->resolved_urls in
 *	             order.  A job with no first file is an ERROR.
 *	             A file refused with a 403 (a presigned URL that may have
 *	             expired) is asked for once more when the provider has
 *	             renew_file and it returns true: the file steps run again for
 *	             the same file->index, before any of its rows was read.
 *	             A reused finished job whose files vanished: the provider's
 *	             file steps set job->state to LMS_JOB_FAILED, and the job is
 *	             started again (not reused).
 *	6. cancel:   cancel_request, when the query fails or is cancelled while
 *	             the job runs (once, short timeouts, must not assume more
 *	             than remote_id and the provider state).
 *
 * Every read_* function is called with the job's memory context (job->cxt)
 * current, so what it keeps lives as long as the job; the answer document
 * is freed after it returns.  read_file and next_file are called with the
 * file's context current (the caller's): keep per-file data there.
 *
 * AUTHENTICATION
 *
 * A provider whose API wants a token obtained by a login (OAuth2 client
 * credentials) has auth_request/read_auth: before each request to the API
 * the job asks auth_request(job, false, req) for a login (true when it
 * filled one: no token, or one about to expire), sends it and hands the
 * answer to read_auth, which sets job->bearer.  A 401 answer to a request
 * calls auth_request(job, true, req): the provider drops its token and
 * logs in once more, and the request is sent again; a second 401 is the
 * ERROR.  So no status check is ever spent on a login.
 *
 * STATE
 *
 * Per job: set state_size to the size of the provider's own struct; the
 * job allocates it zeroed in its context as job->provider_state before the
 * first callback.  Inside the provider file:
 *
 *		typedef struct CanvasJobState { char *attachment_id; } CanvasJobState;
 *		#define canvas_job_state(job) ((CanvasJobState *) (job)->provider_state)
 *
 * Per file: file->provider_state, allocated by read_file or next_file in
 * the file's context.  Job-wide data that several files share (a page
 * cursor, the object list) stays in the job state.
 *
 * CONCURRENCY (to come: max_parallel_downloads, parallel workers)
 *
 * Several files of one job may be open at once: file numbers are handed
 * out in order (file->index = 0, 1, ...) by lmsfdw_job_next_file, each file
 * has its own LmsResultFile and context, and nothing of one file's
 * download lives in the job.  A provider must therefore not keep "the
 * current file" in its job state; it may rely on next_file being called in
 * index order, and on file_answered of file n coming before next_file of
 * file n+1 only when it says so (a provider following Link: rel="next" can
 * only have one file in flight: that is its own limit).
 *
 * reuse_window replays job->resolved_urls (finished jobs) or watches the
 * job (running ones); a provider with next_file gets its job state zeroed
 * on a reused finished job, so its next_file must cope with that (or leave
 * reuse to resolved_urls).
 *
 * IDENTIFICATION
 *		  src/providers/provider.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_PROVIDER_H
#define LMS_PROVIDER_H

#include "document.h"
#include "http.h"
#include "job.h"
#include "options.h"
#include "url.h"

typedef struct LmsProvider
{
	const char *name;
	const char *default_format;
	bool		start_idempotent;	/* may the start request be repeated? */
	/*
	 * Where a column without a field option is looked for after its own
	 * name, in order (Canvas Data 2: "key", "value", "meta"); NULL: nowhere.
	 */
	const char *const *field_prefixes;
	/*
	 * next_file may hand out file n+1 before file n was read (its files
	 * are known apart from each other): up to max_parallel_downloads are
	 * then read at once.  Without next_file, always.
	 */
	bool		concurrent_files;
	/* size of the provider's job state (job->provider_state); 0: none */
	size_t		state_size;

	/* required table options, checked at plan time */
	void		(*check_table) (const LmsOptions *opts);
	/* "canvas report grade_export_csv (account self)" */
	char	   *(*describe) (const LmsOptions *opts);
	/* the export parameter the resource cannot do without, or NULL */
	const char *(*required_param) (const LmsOptions *opts);

	/*
	 * Optional steps before the start (a token, a name to look up) and
	 * after completion (result URLs to ask for): while the *_request
	 * function fills req and returns true, the job sends it and hands the
	 * answer to the matching read function.
	 */
	bool		(*prepare_request) (LmsJob *job, int step, LmsRequestSpec *req);
	void		(*read_prepare) (LmsJob *job, int step, LmsDoc *doc);
	bool		(*resolve_request) (LmsJob *job, int step, LmsRequestSpec *req);
	void		(*read_resolve) (LmsJob *job, int step, LmsDoc *doc);
	/*
	 * True for a resource that is a paginated list read without a job
	 * (start_request is then not used, as if NULL); each result file is a
	 * page, and EXPLAIN ANALYZE counts them as Pages.  NULL: never.
	 */
	bool		(*paged) (const LmsOptions *opts);
	/* NULL start_request: the resource needs no job (see above) */
	void		(*start_request) (LmsJob *job, LmsRequestSpec *req);
	void		(*read_start) (LmsJob *job, LmsDoc *doc);
	void		(*status_request) (LmsJob *job, LmsRequestSpec *req);
	void		(*read_status) (LmsJob *job, LmsDoc *doc);
	/* false when the API cannot cancel a job in its current state */
	bool		(*cancel_request) (LmsJob *job, LmsRequestSpec *req);
	/*
	 * Optional: true when this table's resource needs no job although the
	 * provider has a start_request (Brightspace Data Sets beside Advanced
	 * Data Sets); asked after the prepare steps.
	 */
	bool		(*jobless) (LmsJob *job);
	/*
	 * Optional: after a 401, put a new token in job->bearer in place of
	 * rejected; false if there is none to be had.  The request is then sent
	 * once more.
	 */
	bool		(*renew_bearer) (LmsJob *job, const char *rejected);
	/* Optional: the text of a column's meta value the job does not know itself, or NULL */
	char	   *(*meta_value) (LmsJob *job, const char *meta);

	/*
	 * Result files, one at a time (all optional; see 5. above).
	 * file->index is set before any of them is called.
	 */
	bool		(*file_request) (LmsJob *job, LmsResultFile *file, int step,
								 LmsRequestSpec *req);
	void		(*read_file) (LmsJob *job, LmsResultFile *file, int step,
							  LmsDoc *doc);
	bool		(*next_file) (LmsJob *job, LmsResultFile *file);
	void		(*file_answered) (LmsJob *job, LmsResultFile *file,
								  const LmsHttpResult *res);
	/* a 403 on the file's URL: true if a fresh one may be asked for */
	bool		(*renew_file) (LmsJob *job, LmsResultFile *file);

	/* logins (see AUTHENTICATION) */
	bool		(*auth_request) (LmsJob *job, bool refused, LmsRequestSpec *req);
	void		(*read_auth) (LmsJob *job, LmsDoc *doc);
} LmsProvider;

extern const LmsProvider lms_provider_canvas;
extern const LmsProvider lms_provider_canvas_dap;
extern const LmsProvider lms_provider_brightspace;
extern const LmsProvider lms_provider_generic;
extern const LmsProvider *lmsfdw_find_provider(const char *name);

/* canvas.c: ERROR for a Canvas resource no token can read (gradebook_csv) */
extern void lmsfdw_canvas_refuse_resource(const char *resource);

#endif							/* LMS_PROVIDER_H */
