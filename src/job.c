/*-------------------------------------------------------------------------
 *
 * job.c
 *		  The export job: initiate, monitor, resolve
 *
 * A job is started with one request (retried only when that cannot start a
 * second export), then watched with status checks spaced by the poll
 * schedule until the LMS says it is done or failed.  Every request goes
 * through job_request(), the single retry loop: rate-limit pacing before
 * sending, then on a retryable failure a full-jitter backoff that a
 * Retry-After can only lengthen.  Every wait is a latch wait, so a cancel
 * or statement_timeout ends the job at once.
 *
 * If the query fails or is cancelled while the job is still running, the
 * memory context callback registered when the job was created asks the LMS
 * to cancel it (cancel_on_abort), within a bounded time and without
 * throwing.
 *
 * The job also keeps this backend's recent-jobs list for lms_fdw_jobs().
 *
 * IDENTIFICATION
 *		  src/job.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "lms_fdw.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif

/* ----------------------------------------------------------------
 * This backend's recent jobs, for lms_fdw_jobs()
 * ----------------------------------------------------------------
 */
#define LMS_JOB_HISTORY 64

static LmsJobRecord job_history[LMS_JOB_HISTORY];
static int	job_history_next = 0;

/*
 * lmsfdw_job_history
 *		The recent-jobs ring: *records has LMS_JOB_HISTORY entries (unused
 *		ones have used = false), the oldest at index *first.
 */
int
lmsfdw_job_history(LmsJobRecord **records, int *first)
{
	*records = job_history;
	*first = job_history_next;
	return LMS_JOB_HISTORY;
}

/*
 * lmsfdw_job_note
 *		Copy the job's current figures into its history record.
 */
void
lmsfdw_job_note(LmsJob *job, const char *error)
{
	LmsJobRecord *r = &job_history[job->history_slot];

	r->used = true;
	strlcpy(r->server, job->opts->server_name, sizeof(r->server));
	strlcpy(r->resource, job->opts->resource ? job->opts->resource :
			(job->opts->start_path ? job->opts->start_path : ""),
			sizeof(r->resource));
	strlcpy(r->job_id, job->remote_id ? job->remote_id : "", sizeof(r->job_id));
	snprintf(r->state, sizeof(r->state), "%s%s",
			 job->remote_state ? job->remote_state : lmsfdw_job_state_name(job->state),
			 job->reused ? " (reused)" : "");
	r->started = job->started;
	r->finished = job->finished;
	r->counters = job->counters;
	if (error)
		strlcpy(r->error, error, sizeof(r->error));
}

const char *
lmsfdw_job_state_name(LmsJobState state)
{
	switch (state)
	{
		case LMS_JOB_NEW:
			return "new";
		case LMS_JOB_PENDING:
			return "pending";
		case LMS_JOB_RUNNING:
			return "running";
		case LMS_JOB_DONE:
			return "completed";
		case LMS_JOB_FAILED:
			return "failed";
	}
	return "unknown";
}

/* A monotonic clock in milliseconds, for the schedule's arithmetic. */
double
lmsfdw_now_ms(void)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	return INSTR_TIME_GET_MILLISEC(now);
}

static bool
job_terminal(const LmsJob *job)
{
	return job->state == LMS_JOB_DONE || job->state == LMS_JOB_FAILED;
}

/* memory context callback: cancel a job the query leaves running */
static void
job_abandon_callback(void *arg)
{
	LmsJob	   *job = (LmsJob *) arg;
	MemoryContext cxt;
	MemoryContext old;

	if (job_terminal(job) || job->remote_id == NULL || job->cancel_sent ||
		!job->opts->cancel_on_abort)
		return;

	/* the job's own context is going away: work in a scratch context */
	cxt = AllocSetContextCreate(TopMemoryContext, "lms_fdw cancel",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		lmsfdw_shared_withdraw(job);
		lmsfdw_job_cancel_remote(job);
	}
	PG_CATCH();
	{
		/* cleanup must not throw; the job may go on at the LMS */
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * The export parameters: the parameters option's entries, then those from
 * param columns (which replace an entry of the same name).
 */
static List *
job_merge_params(const LmsOptions *opts, List *qual_params)
{
	List	   *params = NIL;
	ListCell   *lc;

	foreach(lc, lmsfdw_json_object_params(opts->parameters))
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);
		bool		replaced = false;
		ListCell   *lc2;

		foreach(lc2, qual_params)
			if (strcmp(((LmsParam *) lfirst(lc2))->name, p->name) == 0)
				replaced = true;
		if (!replaced)
			params = lappend(params, p);
	}
	return list_concat(params, qual_params);
}

/*
 * lmsfdw_job_create
 *		A new, not yet started job; it lives in the current memory context.
 */
LmsJob *
lmsfdw_job_create(const LmsOptions *opts, List *params)
{
	LmsJob	   *job = palloc0(sizeof(LmsJob));
	MemoryContextCallback *cb;
	uint64		seed;

	job->opts = opts;
	job->cxt = CurrentMemoryContext;
	job->params = job_merge_params(opts, params);
	job->state = LMS_JOB_NEW;
	job->progress = -1;
	job->phase = "initiate";
	job->conn = lmsfdw_get_connection(opts);

#if PG_VERSION_NUM >= 150000
	seed = pg_prng_uint64(&pg_global_prng_state);
#else
	seed = ((uint64) random() << 32) ^ (uint64) random() ^ (uint64) MyProcPid;
#endif
	lms_rng_seed(&job->rng, seed);
	lms_poll_init(&job->poll, opts->poll_initial_ms, opts->poll_max_ms,
				  opts->poll_factor);
	/* Canvas's bucket leaks 10 units a second */
	lms_pacer_init(&job->pacer, opts->rate_limit_floor, 10.0);

	job->history_slot = job_history_next;
	job_history_next = (job_history_next + 1) % LMS_JOB_HISTORY;
	memset(&job_history[job->history_slot], 0, sizeof(LmsJobRecord));

	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = job_abandon_callback;
	cb->arg = job;
	MemoryContextRegisterResetCallback(job->cxt, cb);
	return job;
}

/* errcontext: which job, in which phase */
static void
job_error_context(void *arg)
{
	LmsJob	   *job = (LmsJob *) arg;

	if (job->remote_id)
		errcontext("lms_fdw export job %s on server \"%s\", phase %s",
				   job->remote_id, job->opts->server_name, job->phase);
	else
		errcontext("lms_fdw export on server \"%s\", phase %s",
				   job->opts->server_name, job->phase);
}

/* Sleep, counting the time as waited. */
static void
job_wait(LmsJob *job, double ms)
{
	double		start;

	if (ms <= 0)
		return;
	start = lmsfdw_now_ms();
	lmsfdw_wait_ms(ms);
	job->counters.waited_ms += lmsfdw_now_ms() - start;
}

/*
 * lmsfdw_job_retry_wait
 *		Count a retry of class cls and wait before it: full-jitter backoff
 *		for retry number attempt, never shorter than the answer's
 *		Retry-After.
 */
void
lmsfdw_job_retry_wait(LmsJob *job, LmsRetryClass cls,
					  const LmsHttpResult *res, int attempt)
{
	const LmsOptions *opts = job->opts;
	double		ms = lms_backoff_ms(&job->rng, attempt, opts->retry_base_ms,
									opts->retry_cap_ms);

	if (res->retry_after)
	{
		double		floor_ms = lms_retry_after_ms(res->retry_after, time(NULL));

		if (floor_ms > opts->poll_timeout_ms)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the LMS asked to wait %.0f s before retrying, longer than poll_timeout",
							floor_ms / 1000.0),
					 errdetail("HTTP %ld with Retry-After: %s during %s.",
							   res->status, res->retry_after, job->phase)));
		if (floor_ms > ms)
			ms = floor_ms;
	}
	job->counters.retries++;
	job->counters.retries_by_class[cls]++;
	elog(DEBUG1, "lms_fdw: %s answer (HTTP %ld) during %s; retry %d of %d in %.0f ms",
		 lmsfdw_retry_class_name(cls), res->status, job->phase, attempt + 1,
		 opts->retry_max, ms);
	job_wait(job, ms);
}

/*
 * lmsfdw_job_pace
 *		Wait before a request to the LMS if the rate-limit headers seen so far
 *		say so.  The wait is stretched by up to 20% at random, never
 *		shortened: scans that saw the same quota must not come back in
 *		lockstep.
 */
void
lmsfdw_job_pace(LmsJob *job)
{
	double		delay = lms_pacer_delay_ms(&job->pacer, lmsfdw_now_ms());

	if (delay > 0)
	{
		delay *= 1.0 + 0.2 * lms_rng_uniform(&job->rng);
		elog(DEBUG1, "lms_fdw: pacing requests for %.0f ms (rate limit remaining %.1f)",
			 delay, job->pacer.remaining);
		job_wait(job, delay);
	}
}

/*
 * lmsfdw_job_observe
 *		Note an answer's rate-limit headers for pacing.
 */
void
lmsfdw_job_observe(LmsJob *job, const LmsHttpResult *res)
{
	/* a throttled Canvas answer reports a negative remaining: pace on it */
	if (!isnan(res->rate_remaining))
		lms_pacer_observe(&job->pacer, lmsfdw_now_ms(), res->rate_remaining,
						  res->request_cost, res->rate_reset);
}

/*
 * Send a request with retries; return only with a 2xx answer in res.
 */
static void
job_request(LmsJob *job, const LmsRequestSpec *spec, LmsHttpResult *res,
			bool starting, const char *what)
{
	const LmsOptions *opts = job->opts;
	bool		start_rules = starting && !opts->provider->start_idempotent;
	int			attempt;

	LmsRequestSpec authed = *spec;

	if (authed.bearer == NULL)
		authed.bearer = job->bearer;
	spec = &authed;
	for (attempt = 0;; attempt++)
	{
		LmsRetryClass cls;

		lmsfdw_job_pace(job);
		lmsfdw_http_request(job->conn, opts, spec, res);
		lmsfdw_job_observe(job, res);
		if (lmsfdw_http_ok(res))
			return;

		cls = lmsfdw_retry_class(res, start_rules);
		if (cls == LMS_RETRY_NONE || attempt >= opts->retry_max)
		{
			lmsfdw_job_note(job, what);
			lmsfdw_http_raise(res, opts, what, starting);
		}
		lmsfdw_job_retry_wait(job, cls, res, attempt);
	}
}

/* The provider of a server's provider option. */
const LmsProvider *
lmsfdw_find_provider(const char *name)
{
	static const LmsProvider *const providers[] = {
		&lms_provider_canvas, &lms_provider_canvas_dap,
		&lms_provider_brightspace, &lms_provider_generic, NULL
	};
	int			i;

	for (i = 0; name && providers[i]; i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

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
 * One request whose JSON answer is handed to read(); the answer and its
 * document are freed before returning.
 */
static void
job_exchange(LmsJob *job, LmsRequestSpec *spec, bool starting,
			 const char *what, void (*read) (LmsJob *job, LmsDoc *doc))
{
	MemoryContext tmp = AllocSetContextCreate(job->cxt, "lms_fdw answer",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	LmsHttpResult res;
	LmsDoc	   *doc;

	job_request(job, spec, &res, starting, what);
	doc = lmsfdw_json_parse(res.body.data, res.body.len, what);
	/* what the provider keeps must outlive the answer */
	MemoryContextSwitchTo(job->cxt);
	read(job, doc);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

static void
job_raise_failed(LmsJob *job)
{
	lmsfdw_shared_withdraw(job);
	lmsfdw_job_note(job, job->message ? job->message : "job failed");
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("export job %s on server \"%s\" ended in state \"%s\"",
					job->remote_id, job->opts->server_name,
					job->remote_state ? job->remote_state : "failed"),
			 job->message ?
			 errdetail_internal("The LMS said: %s", job->message) :
			 errdetail("The LMS gave no message."),
			 errhint("Look at the export in the LMS, or run the query again.")));
}

static void
job_raise_timeout(LmsJob *job)
{
	char	   *state = job->remote_state ? pstrdup(job->remote_state) :
		pstrdup(lmsfdw_job_state_name(job->state));

	lmsfdw_job_cancel_remote(job);
	lmsfdw_shared_withdraw(job);
	lmsfdw_job_note(job, "poll_timeout reached");
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("export job %s on server \"%s\" did not finish within poll_timeout (%d ms)",
					job->remote_id, job->opts->server_name,
					job->opts->poll_timeout_ms),
			 errdetail("Its last state was \"%s\" after %d status checks%s.",
					   state, job->counters.status_checks,
					   job->cancel_sent ? "; the job was cancelled at the LMS" : ""),
			 errhint("Raise poll_timeout on the server or the foreign table.")));
}

/* The provider's optional steps: send each request it describes. */
static void
job_steps(LmsJob *job, bool (*describe) (LmsJob *, int, LmsRequestSpec *),
		  void (*read) (LmsJob *, int, LmsDoc *), const char *what)
{
	LmsRequestSpec spec;
	int			step;

	if (describe == NULL)
		return;
	for (step = 0;; step++)
	{
		MemoryContext tmp;
		MemoryContext old;
		LmsHttpResult res;
		LmsDoc	   *doc;

		memset(&spec, 0, sizeof(spec));
		if (!describe(job, step, &spec))
			break;
		tmp = AllocSetContextCreate(job->cxt, "lms_fdw answer", ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(tmp);
		job_request(job, &spec, &res, false, what);
		doc = lmsfdw_json_parse(res.body.data, res.body.len, what);
		MemoryContextSwitchTo(job->cxt);
		read(job, step, doc);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(tmp);
	}
}

static void job_remember(LmsJob *job);
static char *job_key(const LmsJob *job);

/* Push the errcontext naming the job; pop with job_context_pop. */
#define job_context_push(job, errcb) \
	do { \
		(errcb)->callback = job_error_context; \
		(errcb)->arg = (job); \
		(errcb)->previous = error_context_stack; \
		error_context_stack = (errcb); \
	} while (0)
#define job_context_pop(errcb) (error_context_stack = (errcb)->previous)

/*
 * lmsfdw_job_start
 *		Initiate: the provider's preparing steps, then the start request.
 *		Sets the time of the first status check.
 */
void
lmsfdw_job_start(LmsJob *job)
{
	const LmsProvider *provider = job->opts->provider;
	ErrorContextCallback errcb;
	LmsRequestSpec spec;

	job_context_push(job, &errcb);
	job->phase = "initiate";
	job_steps(job, provider->prepare_request, provider->read_prepare,
			  "preparing the export");
	memset(&spec, 0, sizeof(spec));
	provider->start_request(job, &spec);
	job_exchange(job, &spec, true, "starting the export", provider->read_start);
	job->started = GetCurrentTimestamp();
	if (job->state == LMS_JOB_NEW)
		job->state = LMS_JOB_PENDING;
	job->start_ms = lmsfdw_now_ms();
	job->next_check_ms = job->start_ms + lms_poll_first_wait(&job->poll, &job->rng);
	job->phase = "monitor";
	lmsfdw_job_note(job, NULL);
	if (job->opts->reuse_window_ms > 0)
		lmsfdw_shared_publish(job, job_key(job));
	job_context_pop(&errcb);
}

/*
 * lmsfdw_job_watch
 *		Take up an adopted running job: no start request, status checks from
 *		now on.
 */
void
lmsfdw_job_watch(LmsJob *job)
{
	job->start_ms = lmsfdw_now_ms();
	job->next_check_ms = job->start_ms + lms_poll_first_wait(&job->poll, &job->rng);
}

/* Resolve a finished job: its result URLs, or the ERROR of a failure. */
static void
job_resolve(LmsJob *job)
{
	const LmsOptions *opts = job->opts;
	const LmsProvider *provider = opts->provider;
	ListCell   *lc;

	job->finished = GetCurrentTimestamp();
	job->phase = "resolve";
	if (job->state == LMS_JOB_FAILED)
		job_raise_failed(job);
	job_steps(job, provider->resolve_request, provider->read_resolve,
			  "asking for the export's files");
	if (job->result_urls == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("export job %s completed without a result to download",
						job->remote_id)));
	foreach(lc, job->result_urls)
	{
		const char *url = (const char *) lfirst(lc);
		const char *problem = lmsfdw_url_problem(url, opts->allow_http);

		if (problem)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("export job %s points at a result the FDW may not download: %s",
							job->remote_id, problem),
					 errdetail("The result is at %s.", lmsfdw_redact_url(url))));
	}
	lmsfdw_job_note(job, NULL);
	job_remember(job);
	job->phase = "download";
}

/*
 * lmsfdw_job_check
 *		One status check, made now (the caller waited until
 *		job->next_check_ms).  Returns true once the job has ended: then it is
 *		resolved (its result URLs known), or this raised its failure.
 *		poll_timeout is enforced here.
 */
bool
lmsfdw_job_check(LmsJob *job)
{
	const LmsProvider *provider = job->opts->provider;
	ErrorContextCallback errcb;
	LmsRequestSpec spec;
	double		now;
	double		wait_ms = 0;

	job_context_push(job, &errcb);
	if (lmsfdw_now_ms() >= job->start_ms + job->opts->poll_timeout_ms)
		job_raise_timeout(job);

	memset(&spec, 0, sizeof(spec));
	provider->status_request(job, &spec);
	job_exchange(job, &spec, false, "checking the export's status",
				 provider->read_status);
	job->counters.status_checks++;
	now = lmsfdw_now_ms();
	if (!job_terminal(job))
	{
		double		deadline = job->start_ms + job->opts->poll_timeout_ms;

		wait_ms = lms_poll_next_wait(&job->poll, &job->rng,
									 now - job->start_ms, job->progress);
		/* never sleep past poll_timeout: the last check is at the deadline */
		job->next_check_ms = Min(now + wait_ms, deadline);
	}
	elog(DEBUG1, "lms_fdw: job %s status check %d: state %s, progress %s, next wait %s",
		 job->remote_id, job->counters.status_checks,
		 job->remote_state ? job->remote_state : "?",
		 job->progress >= 0 ? psprintf("%.1f", job->progress) : "unknown",
		 job_terminal(job) ? "none" : psprintf("%.0f ms", wait_ms));
	lmsfdw_job_note(job, NULL);
	if (job_terminal(job))
		job_resolve(job);
	job_context_pop(&errcb);
	return job_terminal(job);
}

/*
 * lmsfdw_job_run
 *		Start the job, wait for it to end, and leave its result URLs in
 *		job->result_urls; ERROR if it fails.
 */
void
lmsfdw_job_run(LmsJob *job)
{
	lmsfdw_job_start(job);
	for (;;)
	{
		job_wait(job, job->next_check_ms - lmsfdw_now_ms());
		if (lmsfdw_job_check(job))
			break;
	}
}

/* ----------------------------------------------------------------
 * Reuse: a finished job's result, for the same export within reuse_window
 * ----------------------------------------------------------------
 */

#define LMS_REUSABLE_MAX 32

typedef struct LmsReusable
{
	Oid			serverid;
	char	   *key;			/* the export: description and parameters */
	char	   *remote_id;
	char	   *remote_state;
	List	   *result_urls;
	TimestampTz started;
	TimestampTz finished;
} LmsReusable;

/* this backend's finished jobs, newest last, in TopMemoryContext */
static List *reusable_jobs = NIL;

/* What makes two exports the same: the resource and its parameters. */
static char *
job_key(const LmsJob *job)
{
	StringInfoData key;
	ListCell   *lc;

	initStringInfo(&key);
	appendStringInfoString(&key, job->opts->provider->describe(job->opts));
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		appendStringInfo(&key, "|%s=%s", p->name, p->value);
	}
	return key.data;
}

/* Keep a finished job for reuse_window. */
static void
job_remember(LmsJob *job)
{
	MemoryContext old;
	LmsReusable *r;
	ListCell   *lc;

	if (job->opts->reuse_window_ms <= 0)
		return;
	lmsfdw_shared_publish(job, job_key(job));
	if (job->reused)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	r = palloc0(sizeof(LmsReusable));
	r->serverid = job->opts->serverid;
	r->key = job_key(job);
	r->remote_id = pstrdup(job->remote_id);
	r->remote_state = job->remote_state ? pstrdup(job->remote_state) : NULL;
	foreach(lc, job->result_urls)
		r->result_urls = lappend(r->result_urls, pstrdup((char *) lfirst(lc)));
	r->started = job->started;
	r->finished = job->finished;
	reusable_jobs = lappend(reusable_jobs, r);
	if (list_length(reusable_jobs) > LMS_REUSABLE_MAX)
	{
		LmsReusable *oldest = (LmsReusable *) linitial(reusable_jobs);

		reusable_jobs = list_delete_first(reusable_jobs);
		list_free_deep(oldest->result_urls);
		pfree(oldest->key);
		pfree(oldest->remote_id);
		if (oldest->remote_state)
			pfree(oldest->remote_state);
		pfree(oldest);
	}
	MemoryContextSwitchTo(old);
}

/*
 * lmsfdw_job_reuse
 *		Adopt the same export started within reuse_window: finished by this
 *		backend, or (when preloaded) finished or still running in another.
 *		LMS_REUSE_DONE: the job is done, nothing sent; LMS_REUSE_RUNNING:
 *		the job is another backend's, to be watched, not started.
 */
LmsReuse
lmsfdw_job_reuse(LmsJob *job)
{
	TimestampTz now = GetCurrentTimestamp();
	char	   *key;
	ListCell   *lc;

	if (job->opts->reuse_window_ms <= 0)
		return LMS_REUSE_NONE;
	key = job_key(job);
	foreach(lc, reusable_jobs)
	{
		LmsReusable *r = (LmsReusable *) lfirst(lc);
		ListCell   *lu;

		if (r->serverid != job->opts->serverid || strcmp(r->key, key) != 0 ||
			TimestampDifferenceExceeds(r->started, now, job->opts->reuse_window_ms))
			continue;
		job->remote_id = pstrdup(r->remote_id);
		job->remote_state = r->remote_state ? pstrdup(r->remote_state) : NULL;
		foreach(lu, r->result_urls)
			job->result_urls = lappend(job->result_urls, pstrdup((char *) lfirst(lu)));
		job->started = r->started;
		job->finished = r->finished;
		job->state = LMS_JOB_DONE;
		job->reused = true;
		job->phase = "download";
		lmsfdw_job_note(job, NULL);
		return LMS_REUSE_DONE;
	}
	if (lmsfdw_shared_adopt(job, key))
	{
		lmsfdw_job_note(job, NULL);
		return job->state == LMS_JOB_DONE ? LMS_REUSE_DONE : LMS_REUSE_RUNNING;
	}
	return LMS_REUSE_NONE;
}

/* ----------------------------------------------------------------
 * Job sets: several exports of one scan, run concurrently
 * ----------------------------------------------------------------
 */

struct LmsJobSet
{
	const LmsOptions *opts;
	MemoryContext cxt;
	List	   *unstarted;		/* parameter lists of jobs not started */
	List	   *running;		/* LmsJob *: started, not ended */
	List	   *ready;			/* LmsJob *: ended and resolved, rows unread */
	int			started;
};

/*
 * lmsfdw_jobset_create
 *		Jobs for each of param_sets (a List of parameter Lists), to be run
 *		at most max_parallel_jobs at a time.  Nothing is sent yet.
 */
LmsJobSet *
lmsfdw_jobset_create(const LmsOptions *opts, List *param_sets)
{
	LmsJobSet  *set = palloc0(sizeof(LmsJobSet));

	set->opts = opts;
	set->cxt = CurrentMemoryContext;
	set->unstarted = param_sets;
	return set;
}

/* Start jobs while there are free slots. */
static void
jobset_fill(LmsJobSet *set)
{
	while (set->unstarted != NIL && list_length(set->running) < set->opts->max_parallel_jobs)
	{
		MemoryContext old = MemoryContextSwitchTo(set->cxt);
		List	   *params = (List *) linitial(set->unstarted);
		LmsJob	   *job;

		set->unstarted = list_delete_first(set->unstarted);
		job = lmsfdw_job_create(set->opts, params);
		switch (lmsfdw_job_reuse(job))
		{
			case LMS_REUSE_DONE:
				set->ready = lappend(set->ready, job);
				break;
			case LMS_REUSE_RUNNING:
				set->running = lappend(set->running, job);
				lmsfdw_job_watch(job);
				break;
			case LMS_REUSE_NONE:
				set->running = lappend(set->running, job);
				set->started++;
				MemoryContextSwitchTo(old);
				lmsfdw_job_start(job);
				continue;
		}
		MemoryContextSwitchTo(old);
	}
}

/*
 * lmsfdw_jobset_poll
 *		Without waiting: start jobs for free slots and make the status
 *		checks that are due.  Called between rows, so other jobs progress
 *		while one's rows stream.
 */
void
lmsfdw_jobset_poll(LmsJobSet *set)
{
	ListCell   *lc;
	double		now;

	jobset_fill(set);
	now = lmsfdw_now_ms();
	foreach(lc, set->running)
	{
		LmsJob	   *job = (LmsJob *) lfirst(lc);

		if (job->next_check_ms <= now && lmsfdw_job_check(job))
		{
			MemoryContext old = MemoryContextSwitchTo(set->cxt);

			set->ready = lappend(set->ready, job);
			set->running = foreach_delete_current(set->running, lc);
			MemoryContextSwitchTo(old);
			now = lmsfdw_now_ms();
		}
	}
	jobset_fill(set);
}

/* When the next status check of the set is due (monotonic ms). */
double
lmsfdw_jobset_next_due(LmsJobSet *set)
{
	ListCell   *lc;
	double		due = -1;

	foreach(lc, set->running)
	{
		LmsJob	   *job = (LmsJob *) lfirst(lc);

		if (due < 0 || job->next_check_ms < due)
			due = job->next_check_ms;
	}
	return due;
}

/*
 * lmsfdw_jobset_take
 *		Without waiting: the next job whose result is ready, or NULL.  Sets
 *		*more when jobs are still running (or to be started).
 */
LmsJob *
lmsfdw_jobset_take(LmsJobSet *set, bool *more)
{
	lmsfdw_jobset_poll(set);
	*more = set->running != NIL || set->unstarted != NIL;
	if (set->ready != NIL)
	{
		LmsJob	   *job = (LmsJob *) linitial(set->ready);

		set->ready = list_delete_first(set->ready);
		return job;
	}
	return NULL;
}

/*
 * lmsfdw_jobset_next
 *		The next job whose result is ready, waiting for one if needed; NULL
 *		when every job's result has been handed out.
 */
LmsJob *
lmsfdw_jobset_next(LmsJobSet *set)
{
	for (;;)
	{
		double		due;
		bool		more;
		LmsJob	   *job = lmsfdw_jobset_take(set, &more);

		if (job)
			return job;
		if (!more)
			return NULL;
		/* count the wait once, against the first running job */
		due = lmsfdw_jobset_next_due(set);
		job_wait((LmsJob *) linitial(set->running), due - lmsfdw_now_ms());
	}
}

/* Jobs started so far. */
int
lmsfdw_jobset_started(LmsJobSet *set)
{
	return set->started;
}

/*
 * lmsfdw_job_cancel_remote
 *		Ask the LMS to cancel the job, once, if the API can and the options
 *		say so.  One attempt with short timeouts: this runs during error
 *		cleanup too.
 */
void
lmsfdw_job_cancel_remote(LmsJob *job)
{
	LmsOptions	quick;
	LmsRequestSpec spec;
	LmsHttpResult res;

	if (job->cancel_sent || job->remote_id == NULL || job_terminal(job) ||
		!job->opts->cancel_on_abort)
		return;
	memset(&spec, 0, sizeof(spec));
	if (!job->opts->provider->cancel_request ||
		!job->opts->provider->cancel_request(job, &spec))
		return;
	job->cancel_sent = true;

	quick = *job->opts;
	quick.connect_timeout_ms = Min(quick.connect_timeout_ms, 1000);
	quick.stall_timeout_ms = Min(quick.stall_timeout_ms, 1000);
	lmsfdw_http_request(job->conn, &quick, &spec, &res);
	elog(DEBUG1, "lms_fdw: cancel of job %s answered HTTP %ld",
		 job->remote_id, res.status);
}
