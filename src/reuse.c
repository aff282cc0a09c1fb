/*-------------------------------------------------------------------------
 *
 * reuse.c
 *		  reuse_window: the same export, started within the window, is
 *		  adopted instead of started again
 *
 * Two caches answer, behind one pair of functions: this backend's list of
 * finished jobs (in TopMemoryContext, at most LMS_REUSABLE_MAX), then, when
 * the library is preloaded, the shared table of shared.c, which also knows
 * other backends' running jobs.  Both are keyed by lmsfdw_reuse_key(), the one
 * definition of "the same export".
 *
 *	lmsfdw_reuse_find()		before a job is started: adopt a match
 *	lmsfdw_reuse_remember()	when a job has started (shared table only) and
 *							when it has finished (both)
 *
 * IDENTIFICATION
 *		  src/reuse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "providers/provider.h"
#include "reuse.h"
#include "shared.h"
#include "utils/memutils.h"

#define LMS_REUSABLE_MAX 32

typedef struct LmsReusable
{
	Oid			serverid;
	char	   *key;			/* the export: description and parameters */
	char	   *remote_id;
	char	   *remote_state;
	List	   *resolved_urls;
	TimestampTz started;
	TimestampTz finished;
} LmsReusable;

/* this backend's finished jobs, newest last, in TopMemoryContext */
static List *reusable_jobs = NIL;

/* What makes two exports the same: the resource and its parameters. */
char *
lmsfdw_reuse_key(const LmsJob *job)
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

/*
 * lmsfdw_reuse_remember
 *		Make a started job known to other backends and keep a finished one
 *		for reuse_window.  Nothing when reuse_window is off.
 */
void
lmsfdw_reuse_remember(LmsJob *job)
{
	MemoryContext old;
	LmsReusable *r;
	ListCell   *lc;

	if (job->opts->reuse_window_ms <= 0)
		return;
	lmsfdw_shared_publish(job, lmsfdw_reuse_key(job));
	if (job->reused || job->state != LMS_JOB_DONE)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	r = palloc0(sizeof(LmsReusable));
	r->serverid = job->opts->serverid;
	r->key = lmsfdw_reuse_key(job);
	r->remote_id = pstrdup(job->remote_id);
	r->remote_state = job->remote_state ? pstrdup(job->remote_state) : NULL;
	foreach(lc, job->resolved_urls)
		r->resolved_urls = lappend(r->resolved_urls, pstrdup((char *) lfirst(lc)));
	r->started = job->started;
	r->finished = job->finished;
	reusable_jobs = lappend(reusable_jobs, r);
	if (list_length(reusable_jobs) > LMS_REUSABLE_MAX)
	{
		LmsReusable *oldest = (LmsReusable *) linitial(reusable_jobs);

		reusable_jobs = list_delete_first(reusable_jobs);
		list_free_deep(oldest->resolved_urls);
		pfree(oldest->key);
		pfree(oldest->remote_id);
		if (oldest->remote_state)
			pfree(oldest->remote_state);
		pfree(oldest);
	}
	MemoryContextSwitchTo(old);
}

/*
 * lmsfdw_reuse_find
 *		Adopt the same export started within reuse_window: finished by this
 *		backend, or (when preloaded) finished or still running in another.
 *		LMS_REUSE_DONE: the job is done, nothing sent; LMS_REUSE_RUNNING:
 *		the job is another backend's, to be watched, not started.
 */
LmsReuse
lmsfdw_reuse_find(LmsJob *job)
{
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext old;
	LmsReuse	found = LMS_REUSE_NONE;
	char	   *key;
	ListCell   *lc;

	if (job->opts->reuse_window_ms <= 0)
		return LMS_REUSE_NONE;
	old = MemoryContextSwitchTo(job->cxt);
	key = lmsfdw_reuse_key(job);
	foreach(lc, reusable_jobs)
	{
		LmsReusable *r = (LmsReusable *) lfirst(lc);
		ListCell   *lu;

		if (r->serverid != job->opts->serverid || strcmp(r->key, key) != 0 ||
			TimestampDifferenceExceeds(r->started, now, job->opts->reuse_window_ms))
			continue;
		job->remote_id = pstrdup(r->remote_id);
		job->remote_state = r->remote_state ? pstrdup(r->remote_state) : NULL;
		foreach(lu, r->resolved_urls)
			job->resolved_urls = lappend(job->resolved_urls, pstrdup((char *) lfirst(lu)));
		job->started = r->started;
		job->finished = r->finished;
		job->state = LMS_JOB_DONE;
		job->reused = true;
		job->phase = "download";
		found = LMS_REUSE_DONE;
		break;
	}
	if (found == LMS_REUSE_NONE && lmsfdw_shared_adopt(job, key))
		found = job->state == LMS_JOB_DONE ? LMS_REUSE_DONE : LMS_REUSE_RUNNING;
	if (found != LMS_REUSE_NONE)
		lmsfdw_job_note(job, NULL);
	MemoryContextSwitchTo(old);
	return found;
}
