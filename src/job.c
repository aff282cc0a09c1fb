/*-------------------------------------------------------------------------
 *
 * job.c
 *		  One export job's life: initiate, monitor, resolve, remote cancel
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
 * memory context callback registered when the job was created queues the
 * LMS's cancel (cancel_on_abort); the job set's context callback sends the
 * queued cancels of the whole scan at once, about a second in all, without
 * throwing and without swallowing an interrupt (lmsfdw_job_flush_cancels).
 * A job another backend watches (reuse_window) is not cancelled.
 *
 * The job also keeps this backend's recent-jobs list for lms_fdw_jobs().
 * Several jobs of one scan are run by jobset.c; reuse_window by reuse.c.
 *
 * IDENTIFICATION
 *		  src/job.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "activity.h"
#include "budget.h"
#include "history.h"
#include "job.h"
#include "lms_fdw.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "providers/provider.h"
#include "reuse.h"
#include "shared.h"
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

static const char *job_state_name(LmsJobState state);
static void job_resolve(LmsJob *job);

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
			 job->remote_state ? job->remote_state : job_state_name(job->state),
			 job->reused ? " (reused)" : "");
	r->started = job->started;
	r->finished = job->finished;
	r->counters = job->counters;
	r->learned_runs = job->poll.learned_runs;
	if (error)
		strlcpy(r->error, error, sizeof(r->error));
	lmsfdw_activity_note(job);
}

static const char *
job_state_name(LmsJobState state)
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

/*
 * Cancels of abandoned jobs wait here, in a context of their own, until
 * lmsfdw_job_flush_cancels sends them all at once: the jobs of a scan are
 * deleted one by one (their contexts are children of the job set's), and
 * the job set's context callback then flushes, so that every cancel of a
 * scan shares one bounded wait.
 */
#define LMS_CANCEL_TOTAL_MS 1000

static MemoryContext cancel_cxt = NULL;
static List *pending_cancels = NIL;	/* of LmsQuietRequest *, in cancel_cxt */

/*
 * Does the job need a cancel at the LMS if the query leaves it now?  Not
 * for a job id that cannot be a path segment (url.c would raise an ERROR
 * while the cancel is described, which runs in cleanup): no job of that id
 * was ever checked.
 */
static bool
job_wants_cancel(LmsJob *job)
{
	const char *id = job->remote_id;

	return !(job_terminal(job) || id == NULL || job->cancel_sent ||
			 !job->opts->cancel_on_abort ||
			 job->opts->provider->cancel_request == NULL ||
			 id[0] == '\0' || strcmp(id, ".") == 0 || strcmp(id, "..") == 0);
}

/*
 * Queue the LMS's cancel of job, once; nothing when another backend
 * watches the job (reuse_window): it is theirs too.
 */
static void
job_queue_cancel(LmsJob *job)
{
	MemoryContext old;
	LmsQuietRequest *r;

	if (!job_wants_cancel(job))
		return;
	job->cancel_sent = true;
	if (lmsfdw_shared_watched(job))
		return;
	lmsfdw_shared_withdraw(job);
	if (cancel_cxt == NULL)
		cancel_cxt = AllocSetContextCreate(TopMemoryContext, "lms_fdw cancels",
										   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cancel_cxt);
	r = palloc0(sizeof(LmsQuietRequest));
	r->opts = job->opts;
	if (job->opts->provider->cancel_request(job, &r->spec))
	{
		/* the job's memory goes away before the flush */
		r->spec.url = pstrdup(r->spec.url);
		if (r->spec.body)
			r->spec.body = pstrdup(r->spec.body);
		r->spec.bearer = r->spec.bearer ? pstrdup(r->spec.bearer) :
			(job->bearer ? pstrdup(job->bearer) : NULL);
		pending_cancels = lappend(pending_cancels, r);
		elog(DEBUG1, "lms_fdw: cancelling job %s at the LMS", job->remote_id);
	}
	MemoryContextSwitchTo(old);
}

/*
 * lmsfdw_job_flush_cancels
 *		Send the queued cancels at once and wait for them about a second
 *		in all.  Never throws (it runs from memory context callbacks, on
 *		error cleanup too) and never swallows an interrupt: a cancel or
 *		timeout arriving meanwhile ends the wait and stays pending.
 *		The options the requests point to must still be alive.
 */
void
lmsfdw_job_flush_cancels(void)
{
	LmsQuietRequest *reqs;
	ListCell   *lc;
	int			n = list_length(pending_cancels);
	int			i = 0;

	if (n == 0)
		return;
	reqs = MemoryContextAlloc(cancel_cxt, n * sizeof(LmsQuietRequest));
	foreach(lc, pending_cancels)
		reqs[i++] = *(LmsQuietRequest *) lfirst(lc);
	pending_cancels = NIL;
	{
		MemoryContext old = MemoryContextSwitchTo(cancel_cxt);

		lmsfdw_http_send_quietly(reqs, n, LMS_CANCEL_TOTAL_MS);
		MemoryContextSwitchTo(old);
	}
	for (i = 0; i < n; i++)
		elog(DEBUG1, "lms_fdw: cancel %s answered HTTP %ld",
			 lmsfdw_redact_url(reqs[i].spec.url), reqs[i].status);
	MemoryContextReset(cancel_cxt);
}

/* memory context callback: a job the query leaves running is cancelled */
static void
job_abandon_callback(void *arg)
{
	LmsJob	   *job = (LmsJob *) arg;

	/* whatever happens next, the export is no longer in progress here */
	lmsfdw_activity_end(job->activity_slot);
	job->activity_slot = -1;

	job_queue_cancel(job);
	if (job->watching)
		lmsfdw_shared_unwatch(job);
}

/*
 * lmsfdw_job_create
 *		A new, not yet started job, in a memory context of its own (a child
 *		of the current one) that holds everything the job keeps: deleted by
 *		lmsfdw_job_release, or with its parent.
 */
LmsJob *
lmsfdw_job_create(const LmsOptions *opts, List *params)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "lms_fdw job",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	LmsJob	   *job = palloc0(sizeof(LmsJob));
	MemoryContextCallback *cb;
	uint64		seed;

	job->opts = opts;
	job->cxt = cxt;
	job->params = lmsfdw_params_merge(opts, params);
	job->state = LMS_JOB_NEW;
	job->progress = -1;
	job->phase = "initiate";
	job->conn = lmsfdw_get_connection(opts);
	if (opts->provider->state_size > 0)
		job->provider_state = palloc0(opts->provider->state_size);

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

	job->history_key = lmsfdw_history_key(opts->serverid, opts->umid,
										  lmsfdw_reuse_key(job));
	job->activity_slot = lmsfdw_activity_begin(opts->server_name,
											   opts->resource ? opts->resource :
											   opts->start_path);

	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = job_abandon_callback;
	cb->arg = job;
	MemoryContextRegisterResetCallback(job->cxt, cb);
	MemoryContextSwitchTo(old);
	return job;
}

/*
 * lmsfdw_job_adopt
 *		A job another backend started and saw finish (the leader of a
 *		parallel scan): nothing to start, poll or cancel.  Its provider
 *		state is empty.  A provider with file steps learns the job's files
 *		with them (Canvas Data 2 looks at the finished job once for its
 *		object list); for the others one status check, made here, resolves
 *		the job as it resolved for the leader (its result URLs).
 */
LmsJob *
lmsfdw_job_adopt(const LmsOptions *opts, List *params, const char *remote_id)
{
	LmsJob	   *job = lmsfdw_job_create(opts, params);

	job->remote_id = MemoryContextStrdup(job->cxt, remote_id);
	job->adopted = true;
	job->started = job->finished = GetCurrentTimestamp();
	if (opts->provider->file_request == NULL)
	{
		job->state = LMS_JOB_RUNNING;
		job->cancel_sent = true;	/* never cancelled from here */
		job->start_ms = lmsfdw_now_ms();
		job->phase = "resolve";
		if (!lmsfdw_job_check(job))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("%s is no longer complete at the LMS",
							lmsfdw_job_name(job))));
	}
	job->state = LMS_JOB_DONE;
	job->phase = "download";
	return job;
}

/*
 * lmsfdw_job_release
 *		Free a job the scan is done with; a job still running at the LMS is
 *		cancelled there first (cancel_on_abort).
 */
void
lmsfdw_job_release(LmsJob *job)
{
	MemoryContextDelete(job->cxt);
	lmsfdw_job_flush_cancels();
}

/*
 * lmsfdw_job_name
 *		What messages call the job: "export job <id>", or for a resource
 *		read without a job (a Canvas course list, a Brightspace Data Set)
 *		"resource \"<resource>\"", with the name its provider gave it, never
 *		"(null)".
 */
char *
lmsfdw_job_name(const LmsJob *job)
{
	const char *resource = job->opts->resource ? job->opts->resource : "";

	if (!job->jobless && job->remote_id)
		return psprintf("export job %s", job->remote_id);
	if (job->remote_id)
		return psprintf("resource \"%s\" (%s)", resource, job->remote_id);
	return psprintf("resource \"%s\"", resource);
}

/* errcontext: which job, in which phase */
static void
job_error_context(void *arg)
{
	LmsJob	   *job = (LmsJob *) arg;

	errcontext("lms_fdw %s on server \"%s\", phase %s",
			   lmsfdw_job_name(job), job->opts->server_name, job->phase);
}

/* Sleep, counting the time as waited. */
void
lmsfdw_job_wait(LmsJob *job, double ms)
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
	lmsfdw_job_wait(job, ms);
}

/*
 * With the library preloaded: wait for the credential's shared budget
 * (budget.c), and reserve this request's share of it.  The waits are
 * stretched like the job's own below.
 */
static void
job_pace_shared(LmsJob *job)
{
	const char *credential = job->bearer ? job->bearer : job->opts->token;

	job->budget_key = lmsfdw_budget_key(credential, job->opts->base_url);
	for (;;)
	{
		double		delay = lmsfdw_budget_acquire(job->budget_key, &job->pacer,
												  lmsfdw_now_ms(),
												  &job->budget_reserved);

		if (delay <= 0)
			return;
		delay *= 1.0 + 0.2 * lms_rng_uniform(&job->rng);
		elog(DEBUG1, "lms_fdw: pacing requests for %.0f ms (shared rate budget, remaining %.1f)",
			 delay, job->pacer.remaining);
		lmsfdw_job_wait(job, delay);
	}
}

/*
 * lmsfdw_job_pace
 *		Wait before a request to the LMS if the rate-limit headers seen so far
 *		say so.  The wait is stretched by up to 20% at random, never
 *		shortened: scans that saw the same quota must not come back in
 *		lockstep.  A pause longer than poll_timeout is an ERROR, as a
 *		Retry-After that long is.
 */
void
lmsfdw_job_pace(LmsJob *job)
{
	double		delay;

	if (lmsfdw_budget_shared())
	{
		job_pace_shared(job);
		return;
	}
	delay = lms_pacer_delay_ms(&job->pacer, lmsfdw_now_ms());

	if (delay > job->opts->poll_timeout_ms)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the LMS's rate limit asks to pause requests for %.0f s, longer than poll_timeout (%d ms)",
						delay / 1000.0, job->opts->poll_timeout_ms),
				 errdetail("The last answer said %.1f remaining (X-Rate-Limit-Remaining) during %s.",
						   job->pacer.remaining, job->phase),
				 errhint("Raise poll_timeout on the server or the foreign table, or run the query later.")));
	if (delay > 0)
	{
		delay *= 1.0 + 0.2 * lms_rng_uniform(&job->rng);
		elog(DEBUG1, "lms_fdw: pacing requests for %.0f ms (rate limit remaining %.1f)",
			 delay, job->pacer.remaining);
		lmsfdw_job_wait(job, delay);
	}
}

/*
 * Did the answer carry X-Rate-Limit-Remaining?  (One rule for both pacers.)
 * A throttled Canvas answer reports a negative remaining: pace on it.
 */
static bool
answer_has_remaining(const LmsHttpResult *res)
{
	return !isnan(res->rate_remaining);
}

/*
 * lmsfdw_job_observe
 *		Note an answer's rate-limit headers for pacing.
 */
void
lmsfdw_job_observe(LmsJob *job, const LmsHttpResult *res)
{
	if (answer_has_remaining(res))
		lms_pacer_observe(&job->pacer, lmsfdw_now_ms(), res->rate_remaining,
						  res->request_cost, res->rate_reset);
	if (job->budget_key != 0)
	{
		/* the shared budget: reservation back, the answer's figures in */
		double		retry_after = res->retry_after ?
			lms_retry_after_ms(res->retry_after, time(NULL)) : -1.0;

		lmsfdw_budget_release(job->budget_key, job->budget_reserved,
							  lmsfdw_now_ms(),
							  answer_has_remaining(res) ? res->rate_remaining : NAN,
							  res->request_cost, res->rate_reset, retry_after);
		job->budget_reserved = 0;
	}
}

static void job_request(LmsJob *job, const LmsRequestSpec *spec,
						LmsHttpResult *res, bool starting, const char *what);

/*
 * A login, when the provider wants one before a request (refused: the last
 * request was answered 401).  The login itself is a request like the
 * others; its answer gives job->bearer.
 */
static void
job_authenticate(LmsJob *job, bool refused)
{
	const LmsProvider *provider = job->opts->provider;
	LmsRequestSpec spec;
	MemoryContext tmp;
	MemoryContext old;
	LmsHttpResult res;
	LmsDoc	   *doc;

	memset(&spec, 0, sizeof(spec));
	if (provider->auth_request == NULL || !provider->auth_request(job, refused, &spec))
		return;
	tmp = AllocSetContextCreate(CurrentMemoryContext, "lms_fdw login",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(tmp);
	job_request(job, &spec, &res, false, "signing in");
	doc = lmsfdw_json_parse(res.body.data, res.body.len, "signing in");
	MemoryContextSwitchTo(job->cxt);
	provider->read_auth(job, doc);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

/*
 * Send a request with retries; return only with a 2xx answer in res (or a
 * 404 the request accepts).  A provider with logins signs in first when it
 * must, and once more after a 401.
 */
static void
job_request(LmsJob *job, const LmsRequestSpec *spec, LmsHttpResult *res,
			bool starting, const char *what)
{
	const LmsOptions *opts = job->opts;
	bool		start_rules = starting && !opts->provider->start_idempotent;
	bool		login = opts->provider->auth_request != NULL && !spec->basic_auth &&
		spec->bearer == NULL;
	bool		refused = false;
	int			attempt;
	bool		renewed = false;

	LmsRequestSpec authed = *spec;

	if (login)
		job_authenticate(job, false);
	if (authed.bearer == NULL)
		authed.bearer = job->bearer;
	spec = &authed;
	for (attempt = 0;; attempt++)
	{
		LmsRetryClass cls;

		lmsfdw_job_pace(job);
		lmsfdw_http_request(job->conn, opts, spec, res);
		lmsfdw_job_observe(job, res);
		if (lmsfdw_http_ok(res) || (res->status == 404 && spec->accept_not_found))
			return;
		if (res->status == 401 && login && !refused)
		{
			/* the token was refused (revoked, or expired early): once more */
			refused = true;
			job_authenticate(job, true);
			authed.bearer = job->bearer;
			attempt--;
			continue;
		}

		/* a refused token the provider can renew: once, not as a retry */
		if (res->status == 401 && !renewed &&
			lmsfdw_job_renew_bearer(job, authed.bearer))
		{
			renewed = true;
			authed.bearer = job->bearer;
			attempt--;
			continue;
		}

		cls = lmsfdw_retry_class(res, start_rules);
		if (cls == LMS_RETRY_NONE || attempt >= opts->retry_max)
		{
			lmsfdw_job_note(job, what);
			lmsfdw_http_raise(res, opts, what, starting);
		}
		lmsfdw_job_retry_wait(job, cls, res, attempt);
	}
}

/*
 * lmsfdw_job_fetch
 *		One request outside the job's life (IMPORT FOREIGN SCHEMA reads the
 *		LMS's catalogue through a job that is never started): its body, with
 *		the provider's logins and the retries of every request.
 */
char *
lmsfdw_job_fetch(LmsJob *job, const LmsRequestSpec *spec, const char *what,
				 size_t *len)
{
	LmsHttpResult res;

	job_request(job, spec, &res, false, what);
	*len = res.body.len;
	return res.body.data;
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
			 errmsg("%s on server \"%s\" ended in state \"%s\"",
					lmsfdw_job_name(job), job->opts->server_name,
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
		pstrdup(job_state_name(job->state));

	job_queue_cancel(job);
	lmsfdw_job_flush_cancels();
	lmsfdw_shared_withdraw(job);
	lmsfdw_job_note(job, "poll_timeout reached");
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("%s on server \"%s\" did not finish within poll_timeout (%d ms)",
					lmsfdw_job_name(job), job->opts->server_name,
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
 *		Sets the time of the first status check.  True when the resource
 *		needs no job (no start_request, a paged list, or jobless): the job
 *		is then DONE and resolved, with no status check to make.
 */
bool
lmsfdw_job_start(LmsJob *job)
{
	const LmsProvider *provider = job->opts->provider;
	ErrorContextCallback errcb;
	LmsRequestSpec spec;

	job_context_push(job, &errcb);
	job->phase = "initiate";
	job_steps(job, provider->prepare_request, provider->read_prepare,
			  "preparing the export");
	if (provider->start_request == NULL ||
		(provider->paged && provider->paged(job->opts)) ||
		(provider->jobless && provider->jobless(job)))
	{
		/* a resource without a job: its files are there to be read */
		job->jobless = true;
		job->started = GetCurrentTimestamp();
		job->state = LMS_JOB_DONE;
		job_resolve(job);
		job_context_pop(&errcb);
		return true;
	}
	memset(&spec, 0, sizeof(spec));
	provider->start_request(job, &spec);
	job_exchange(job, &spec, true, "starting the export", provider->read_start);
	job->started = GetCurrentTimestamp();
	if (job->state == LMS_JOB_NEW)
		job->state = LMS_JOB_PENDING;
	job->start_ms = lmsfdw_now_ms();
	{
		/* aim the status checks at what the last runs took */
		LmsLearnedRun runs[LMS_LEARN_RUNS];

		(void) lms_poll_learn(&job->poll, runs,
							  lmsfdw_history_get(job->history_key, runs));
	}
	job->next_check_ms = job->start_ms +
		Min(lms_poll_first_wait(&job->poll, &job->rng), job->opts->poll_timeout_ms);
	job->phase = "monitor";
	lmsfdw_job_note(job, NULL);
	lmsfdw_reuse_remember(job);
	job_context_pop(&errcb);
	return false;
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

/* ERROR unless the job's result file url may be downloaded. */
static void
job_check_file_url(LmsJob *job, const char *url)
{
	const char *problem = lmsfdw_request_url_problem(job->opts, url);

	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("%s points at a result the FDW may not download: %s",
						lmsfdw_job_name(job), problem),
				 errdetail("The result is at %s.", lmsfdw_redact_url(url))));
}

static void
job_raise_no_result(LmsJob *job)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("%s completed without a result to download",
					lmsfdw_job_name(job))));
}

/*
 * Resolve a finished job: the provider's resolve steps (the result files
 * known at once go to job->resolved_urls), or the ERROR of a failure.
 */
static void
job_resolve(LmsJob *job)
{
	const LmsProvider *provider = job->opts->provider;
	ListCell   *lc;

	job->finished = GetCurrentTimestamp();
	job->phase = "resolve";
	if (job->state == LMS_JOB_FAILED)
		job_raise_failed(job);
	job_steps(job, provider->resolve_request, provider->read_resolve,
			  "asking for the export's files");
	if (job->resolved_urls == NIL && provider->next_file == NULL)
		job_raise_no_result(job);
	foreach(lc, job->resolved_urls)
		job_check_file_url(job, (const char *) lfirst(lc));
	lmsfdw_job_note(job, NULL);
	lmsfdw_reuse_remember(job);
	job->phase = "download";
	lmsfdw_activity_note(job);
}

/*
 * lmsfdw_job_check
 *		One status check, made now (the caller waited until
 *		job->next_check_ms).  Returns true once the job has ended: then it is
 *		resolved (its result URLs known), or this raised its failure.
 *		poll_timeout is enforced here, after the check: the last check is
 *		made at the deadline, and only a job still unfinished then is late.
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
	memset(&spec, 0, sizeof(spec));
	provider->status_request(job, &spec);
	job_exchange(job, &spec, false, "checking the export's status",
				 provider->read_status);
	job->counters.status_checks++;
	now = lmsfdw_now_ms();
	if (!job_terminal(job))
	{
		double		deadline = job->start_ms + job->opts->poll_timeout_ms;

		/* the check was sent first: a job that just finished is not late */
		if (now >= deadline)
			job_raise_timeout(job);
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
	if (job->state == LMS_JOB_DONE && !job->reused && !job->adopted)
	{
		/* a completed run of this export, to learn from */
		LmsLearnedRun run;

		lms_poll_finished(&job->poll, now - job->start_ms, &run);
		lmsfdw_history_add(job->history_key, &run);
	}
	lmsfdw_job_note(job, NULL);
	if (job_terminal(job))
		job_resolve(job);
	job_context_pop(&errcb);
	return job_terminal(job);
}

/* The provider's file steps for file (in the caller's memory context). */
static void
job_file_steps(LmsJob *job, LmsResultFile *file)
{
	const LmsProvider *provider = job->opts->provider;
	MemoryContext file_cxt = CurrentMemoryContext;
	LmsRequestSpec spec;
	int			step;

	for (step = 0; provider->file_request; step++)
	{
		MemoryContext tmp;
		LmsHttpResult res;
		LmsDoc	   *doc;

		memset(&spec, 0, sizeof(spec));
		if (!provider->file_request(job, file, step, &spec))
			break;
		tmp = AllocSetContextCreate(file_cxt, "lms_fdw answer",
									ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(tmp);
		job_request(job, &spec, &res, false, "asking for a result file");
		doc = lmsfdw_json_parse(res.body.data, res.body.len,
								"asking for a result file");
		MemoryContextSwitchTo(file_cxt);
		provider->read_file(job, file, step, doc);
		MemoryContextDelete(tmp);
	}
}

/*
 * A reused finished job whose files have vanished (the provider said so
 * while asking for its first file): forget it and run the export afresh,
 * waiting here for it to finish.
 */
static void
job_restart(LmsJob *job)
{
	const LmsProvider *provider = job->opts->provider;

	elog(DEBUG1, "lms_fdw: reused export job %s has vanished; starting a new one",
		 job->remote_id ? job->remote_id : "?");
	job->reused = false;
	job->state = LMS_JOB_NEW;
	job->remote_id = NULL;
	job->remote_state = NULL;
	job->message = NULL;
	job->resolved_urls = NIL;
	job->files_claimed = 0;
	if (provider->state_size > 0)
		memset(job->provider_state, 0, provider->state_size);
	if (!lmsfdw_job_start(job))
	{
		for (;;)
		{
			double		now = lmsfdw_now_ms();

			if (job->next_check_ms > now)
				lmsfdw_job_wait(job, job->next_check_ms - now);
			if (lmsfdw_job_check(job))
				break;
		}
	}
}

/*
 * lmsfdw_job_next_file
 *		The job's next result file into *file, asked for now, just before it
 *		is read; false when every file has been handed out.  The provider's
 *		file steps run first (a presigned URL to ask for), then its
 *		next_file; without next_file the files are job->resolved_urls in
 *		order.  Everything is allocated in the caller's memory context (the
 *		file's).  A first file that does not exist is an ERROR.
 */
bool
lmsfdw_job_next_file(LmsJob *job, LmsResultFile *file)
{
	const LmsProvider *provider = job->opts->provider;
	ErrorContextCallback errcb;
	bool		found;

	memset(file, 0, sizeof(*file));
	file->index = job->files_claimed;
	job_context_push(job, &errcb);
	if (provider->next_file)
	{
		job_file_steps(job, file);
		if (job->reused && !job->adopted &&
			job->state == LMS_JOB_FAILED && file->index == 0)
		{
			job_restart(job);
			memset(file, 0, sizeof(*file));
			job_file_steps(job, file);
		}
		found = provider->next_file(job, file);
	}
	else
	{
		found = file->index < list_length(job->resolved_urls);
		if (found)
			file->url = pstrdup((const char *) list_nth(job->resolved_urls,
														file->index));
	}
	if (!found && file->index == 0)
		job_raise_no_result(job);
	if (found)
	{
		job_check_file_url(job, file->url);
		job->files_claimed++;
		job->counters.files++;
	}
	job_context_pop(&errcb);
	return found;
}

/*
 * lmsfdw_job_renew_bearer
 *		The token rejected was refused (a 401): if the provider can, put a
 *		new one in job->bearer and return true.
 */
bool
lmsfdw_job_renew_bearer(LmsJob *job, const char *rejected)
{
	const LmsProvider *provider = job->opts->provider;

	return rejected != NULL && provider->renew_bearer != NULL &&
		provider->renew_bearer(job, rejected);
}

/*
 * lmsfdw_job_renew_file
 *		The file's URL was refused (a 403: a presigned URL may have expired):
 *		if the provider can, ask for a fresh one now and return true.
 */
bool
lmsfdw_job_renew_file(LmsJob *job, LmsResultFile *file)
{
	const LmsProvider *provider = job->opts->provider;
	ErrorContextCallback errcb;

	if (provider->renew_file == NULL || !provider->renew_file(job, file))
		return false;
	job_context_push(job, &errcb);
	file->url = NULL;
	job_file_steps(job, file);
	if (!provider->next_file(job, file))
		job_raise_no_result(job);
	job_check_file_url(job, file->url);
	job_context_pop(&errcb);
	return true;
}

/*
 * lmsfdw_job_file_answered
 *		Hand the provider the answer (status and headers) of a result file's
 *		download, once it succeeded: a paginated list finds its next page
 *		there.
 */
void
lmsfdw_job_file_answered(LmsJob *job, LmsResultFile *file,
						 const LmsHttpResult *res)
{
	const LmsProvider *provider = job->opts->provider;

	if (provider->file_answered)
		provider->file_answered(job, file, res);
}
