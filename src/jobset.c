/*-------------------------------------------------------------------------
 *
 * jobset.c
 *		  The jobs of one scan, run concurrently
 *
 * A scan with several sets of export parameters (a param column compared
 * with several values) runs one job per set, at most max_parallel_jobs at
 * once.  The set starts jobs into free slots, makes the status checks that
 * are due without waiting (between rows, so other jobs progress while one's
 * rows stream), and hands out the jobs whose result is ready, in the order
 * they finish.  Jobs found by reuse_window are adopted, not started.
 *
 * The set and its jobs live in the memory context current at
 * lmsfdw_jobset_create() (the scan's); when that context goes, the jobs
 * left running are cancelled at the LMS together, in one bounded wait.
 *
 * IDENTIFICATION
 *		  src/jobset.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "jobset.h"
#include "reuse.h"

struct LmsJobSet
{
	const LmsOptions *opts;
	MemoryContext cxt;
	List	   *unstarted;		/* parameter lists of jobs not started */
	int			created;		/* jobs created so far */
	List	   *running;		/* LmsJob *: started, not ended */
	List	   *ready;			/* LmsJob *: ended and resolved, rows unread */
	MemoryContextCallback flush;	/* sends the cancels of abandoned jobs */
};

/*
 * Memory context callback of the set's context: the jobs (children) have
 * queued the cancels of those left running; send them all at once.
 */
static void
jobset_flush_cancels(void *arg)
{
	lmsfdw_job_flush_cancels();
}

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
	/* the jobs' contexts are children: their cancels are queued first */
	set->flush.func = jobset_flush_cancels;
	set->flush.arg = set;
	MemoryContextRegisterResetCallback(set->cxt, &set->flush);
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
		bool		resolved;

		set->unstarted = list_delete_first(set->unstarted);
		job = lmsfdw_job_create(set->opts, params);
		job->set_index = set->created++;
		switch (lmsfdw_reuse_find(job))
		{
			case LMS_REUSE_DONE:
				set->ready = lappend(set->ready, job);
				break;
			case LMS_REUSE_RUNNING:
				set->running = lappend(set->running, job);
				lmsfdw_job_watch(job);
				break;
			case LMS_REUSE_NONE:
				MemoryContextSwitchTo(old);
				resolved = lmsfdw_job_start(job);
				/* a resource without a job is ready once started */
				old = MemoryContextSwitchTo(set->cxt);
				if (resolved)
					set->ready = lappend(set->ready, job);
				else
					set->running = lappend(set->running, job);
				MemoryContextSwitchTo(old);
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
		lmsfdw_job_wait((LmsJob *) linitial(set->running), due - lmsfdw_now_ms());
	}
}
