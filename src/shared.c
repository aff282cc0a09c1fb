/*-------------------------------------------------------------------------
 *
 * shared.c
 *		  Jobs shared across backends for reuse_window (needs preloading)
 *
 * When lms_fdw is in shared_preload_libraries, a small table in shared
 * memory records the export jobs of every backend: running ones (so a
 * second backend asking for the same export watches the job already
 * started instead of starting another) and finished ones with their result
 * URLs.  An entry matches on database, server, user mapping (one user's
 * export is never handed to another) and the export's description and
 * parameters (reuse.c's key).  A running entry counts the backends that
 * watch it, and its owner does not cancel a job others watch.  The table
 * is a ring of LMS_SHARED_JOBS entries under one LWLock; entries whose
 * text does not fit are simply not shared.
 *
 * Without preloading nothing here is set up, and reuse stays within each
 * backend (job.c).
 *
 * The same hooks set up the shared state of history.c (learned durations),
 * activity.c (exports in progress) and budget.c (rate budgets), each laid
 * out by its own module under a lock of its own, and save the learned
 * durations when the postmaster shuts down cleanly; lmsfdw_area_lock hands
 * history.c and activity.c their table, shared or the backend's own.
 *
 * IDENTIFICATION
 *		  src/shared.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "activity.h"
#include "budget.h"
#include "history.h"
#include "lms_fdw.h"
#include "shared.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"

#define LMS_SHARED_JOBS		64
#define LMS_SHARED_KEY		512
#define LMS_SHARED_ID		128
#define LMS_SHARED_URLS		4096

typedef struct LmsSharedJob
{
	bool		used;
	bool		done;
	int			watchers;		/* other backends watching the running job */
	Oid			dbid;
	Oid			serverid;
	Oid			umid;
	TimestampTz started;
	TimestampTz finished;
	char		key[LMS_SHARED_KEY];
	char		remote_id[LMS_SHARED_ID];
	char		remote_state[32];
	char		urls[LMS_SHARED_URLS];	/* result URLs, one per line */
} LmsSharedJob;

typedef struct LmsSharedState
{
	LWLock	   *lock;
	int			next;			/* ring position of the next new entry */
	LmsSharedJob jobs[LMS_SHARED_JOBS];
} LmsSharedState;

static LmsSharedState *shared = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
shared_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(LmsSharedState)));
	/* learned durations, exports in progress, rate budgets: one lock each */
	RequestAddinShmemSpace(lmsfdw_history_shmem_size());
	RequestAddinShmemSpace(lmsfdw_activity_shmem_size());
	RequestAddinShmemSpace(lmsfdw_budget_shmem_size());
	RequestNamedLWLockTranche("lms_fdw", 4);
}

/* at the postmaster's clean shutdown: keep the learned durations */
static void
shared_shutdown(int code, Datum arg)
{
	/* not after a crash: the table may be inconsistent */
	if (code == 0)
		lmsfdw_history_save();
}

/* The other modules' shared state, each under its own lock. */
static void
shared_startup_modules(void)
{
	LWLockPadded *locks = GetNamedLWLockTranche("lms_fdw");
	bool		found;
	void	   *mem;

	mem = ShmemInitStruct("lms_fdw history", lmsfdw_history_shmem_size(), &found);
	lmsfdw_history_shmem_attach(mem, &locks[1].lock, found);
	mem = ShmemInitStruct("lms_fdw activity", lmsfdw_activity_shmem_size(), &found);
	lmsfdw_activity_shmem_attach(mem, &locks[2].lock, found);
	mem = ShmemInitStruct("lms_fdw budgets", lmsfdw_budget_shmem_size(), &found);
	lmsfdw_budget_shmem_attach(mem, &locks[3].lock, found);
	if (!IsUnderPostmaster)
		on_shmem_exit(shared_shutdown, (Datum) 0);
}

static void
shared_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("lms_fdw jobs", sizeof(LmsSharedState), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(LmsSharedState));
		shared->lock = &(GetNamedLWLockTranche("lms_fdw"))->lock;
	}
	shared_startup_modules();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * lmsfdw_shared_init
 *		From _PG_init: ask for the shared table, when preloaded.
 */
void
lmsfdw_shared_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shared_request;
#else
	shared_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shared_startup;
}

static bool
entry_matches(const LmsSharedJob *e, const LmsJob *job, const char *key)
{
	return e->used && e->dbid == MyDatabaseId &&
		e->serverid == job->opts->serverid && e->umid == job->opts->umid &&
		strcmp(e->key, key) == 0;
}

/*
 * lmsfdw_shared_publish
 *		Record job (running, or done with its result URLs) for other
 *		backends.  A no-op when not preloaded or when it does not fit.
 */
void
lmsfdw_shared_publish(const LmsJob *job, const char *key)
{
	StringInfoData urls;
	ListCell   *lc;
	LmsSharedJob *e = NULL;
	bool		done = job->state == LMS_JOB_DONE;
	int			i;

	if (shared == NULL || job->remote_id == NULL ||
		strlen(key) >= LMS_SHARED_KEY || strlen(job->remote_id) >= LMS_SHARED_ID)
		return;
	initStringInfo(&urls);
	foreach(lc, job->resolved_urls)
		appendStringInfo(&urls, "%s\n", (char *) lfirst(lc));
	if (urls.len >= LMS_SHARED_URLS)
		return;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < LMS_SHARED_JOBS; i++)
		if (entry_matches(&shared->jobs[i], job, key) &&
			strcmp(shared->jobs[i].remote_id, job->remote_id) == 0)
			e = &shared->jobs[i];
	if (e == NULL)
	{
		e = &shared->jobs[shared->next];
		shared->next = (shared->next + 1) % LMS_SHARED_JOBS;
	}
	{
		int			watchers = (e->used && strcmp(e->remote_id, job->remote_id) == 0) ?
			e->watchers : 0;

		memset(e, 0, sizeof(LmsSharedJob));
		e->watchers = watchers;
	}
	e->used = true;
	e->done = done;
	e->dbid = MyDatabaseId;
	e->serverid = job->opts->serverid;
	e->umid = job->opts->umid;
	e->started = job->started;
	e->finished = job->finished;
	strlcpy(e->key, key, sizeof(e->key));
	strlcpy(e->remote_id, job->remote_id, sizeof(e->remote_id));
	strlcpy(e->remote_state, job->remote_state ? job->remote_state : "",
			sizeof(e->remote_state));
	strlcpy(e->urls, urls.data, sizeof(e->urls));
	LWLockRelease(shared->lock);
}

/*
 * lmsfdw_shared_withdraw
 *		Forget job: it failed or was cancelled, so nobody should adopt it.
 */
void
lmsfdw_shared_withdraw(const LmsJob *job)
{
	int			i;

	if (shared == NULL || job->remote_id == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < LMS_SHARED_JOBS; i++)
	{
		LmsSharedJob *e = &shared->jobs[i];

		if (e->used && e->serverid == job->opts->serverid &&
			strcmp(e->remote_id, job->remote_id) == 0)
			e->used = false;
	}
	LWLockRelease(shared->lock);
}

/*
 * lmsfdw_shared_adopt
 *		Take over the newest matching job another backend started within
 *		reuse_window: a done one with its result URLs, or a running one to
 *		watch.  Returns false when there is none (or not preloaded).
 */
bool
lmsfdw_shared_adopt(LmsJob *job, const char *key)
{
	TimestampTz now = GetCurrentTimestamp();
	LmsSharedJob copy;
	bool		found = false;
	int			i;

	LmsSharedJob *newest = NULL;

	if (shared == NULL)
		return false;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < LMS_SHARED_JOBS; i++)
	{
		LmsSharedJob *e = &shared->jobs[i];

		if (!entry_matches(e, job, key) ||
			TimestampDifferenceExceeds(e->started, now, job->opts->reuse_window_ms))
			continue;
		if (newest == NULL || e->started > newest->started)
			newest = e;
	}
	if (newest)
	{
		/* the owner must not cancel a job this backend watches */
		if (!newest->done)
			newest->watchers++;
		copy = *newest;
		found = true;
	}
	LWLockRelease(shared->lock);
	if (!found)
		return false;

	job->remote_id = pstrdup(copy.remote_id);
	job->remote_state = copy.remote_state[0] ? pstrdup(copy.remote_state) : NULL;
	job->started = copy.started;
	job->reused = true;
	/* another backend's job: this one never cancels it */
	job->cancel_sent = true;
	if (copy.done)
	{
		char	   *line = copy.urls;
		char	   *nl;

		while ((nl = strchr(line, '\n')) != NULL)
		{
			job->resolved_urls = lappend(job->resolved_urls, pnstrdup(line, nl - line));
			line = nl + 1;
		}
		job->finished = copy.finished;
		job->state = LMS_JOB_DONE;
		job->phase = "download";
	}
	else
	{
		job->state = LMS_JOB_RUNNING;
		job->phase = "monitor";
		job->watching = true;
	}
	return true;
}

/* The entry of job (by server and remote id), or NULL; lock held. */
static LmsSharedJob *
entry_of(const LmsJob *job)
{
	int			i;

	for (i = 0; i < LMS_SHARED_JOBS; i++)
	{
		LmsSharedJob *e = &shared->jobs[i];

		if (e->used && e->dbid == MyDatabaseId &&
			e->serverid == job->opts->serverid &&
			strcmp(e->remote_id, job->remote_id) == 0)
			return e;
	}
	return NULL;
}

/*
 * lmsfdw_shared_unwatch
 *		This backend no longer watches job (it ended, or the query left it).
 */
void
lmsfdw_shared_unwatch(LmsJob *job)
{
	LmsSharedJob *e;

	if (shared == NULL || job->remote_id == NULL || !job->watching)
		return;
	job->watching = false;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	e = entry_of(job);
	if (e && e->watchers > 0)
		e->watchers--;
	LWLockRelease(shared->lock);
}

/*
 * lmsfdw_shared_watched
 *		Do other backends watch job?  Then its owner must not cancel it.
 */
bool
lmsfdw_shared_watched(const LmsJob *job)
{
	LmsSharedJob *e;
	bool		watched;

	if (shared == NULL || job->remote_id == NULL)
		return false;
	LWLockAcquire(shared->lock, LW_SHARED);
	e = entry_of(job);
	watched = e != NULL && e->watchers > 0;
	LWLockRelease(shared->lock);
	return watched;
}

/*
 * lmsfdw_area_lock
 *		The area's table, locked in mode when it is shared.
 */
void *
lmsfdw_area_lock(LmsSharedArea *area, LWLockMode mode)
{
	if (area->shared)
	{
		LWLockAcquire(area->lock, mode);
		return area->shared;
	}
	if (area->local == NULL)
		area->local = MemoryContextAllocZero(TopMemoryContext, area->size);
	return area->local;
}

void
lmsfdw_area_unlock(LmsSharedArea *area)
{
	if (area->shared)
		LWLockRelease(area->lock);
}
