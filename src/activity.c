/*-------------------------------------------------------------------------
 *
 * activity.c
 *		  Exports in progress, for the lms_fdw_activity view
 *
 * Each export job, from its creation until its scan lets go of it, holds a
 * slot with its figures (phase, the LMS's state and progress, expected
 * finish, status checks, retries, waits, bytes and rows so far), refreshed
 * by lmsfdw_activity_note whenever the job notes its figures, and every
 * LMS_ACTIVITY_TICK_MS while its result streams.  With the library preloaded the slots are in
 * shared memory (shared.c asks for LMS_ACTIVITY_SLOTS of them) under one
 * LWLock, so every backend's exports are seen; otherwise they are this
 * backend's own.  A backend that exits frees its slots (a shmem exit
 * callback), so a row never outlives its export.  When the slots run out,
 * an export is simply not shown.
 *
 * Nothing a slot holds is secret: names of server and resource, the LMS's
 * job id and state, numbers.  No URL (a result URL may be presigned) and no
 * credential is ever copied in.  lms_fdw_activity() shows a user their own
 * exports, and every export to members of pg_read_all_stats (as
 * pg_stat_activity does for query texts).
 *
 * IDENTIFICATION
 *		  src/activity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "activity.h"
#include "catalog/pg_authid.h"
#include "job.h"
#include "miscadmin.h"
#include "shared.h"
#include "storage/ipc.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#define LMS_ACTIVITY_SLOTS	256

typedef struct LmsActivitySlot
{
	bool		used;
	LmsActivityRow row;
} LmsActivitySlot;

typedef struct LmsActivityTable
{
	LmsActivitySlot slots[LMS_ACTIVITY_SLOTS];
} LmsActivityTable;

/* shared (when preloaded) or this backend's own */
static LmsSharedArea area = {sizeof(LmsActivityTable), NULL, NULL, NULL};
static bool exit_callback_registered = false;

/* at backend exit: free this backend's slots */
static void
activity_exit(int code, Datum arg)
{
	LmsActivityTable *t;
	int			i;

	if (area.shared == NULL)
		return;
	t = lmsfdw_area_lock(&area, LW_EXCLUSIVE);
	for (i = 0; i < LMS_ACTIVITY_SLOTS; i++)
		if (t->slots[i].used && t->slots[i].row.pid == MyProcPid)
			t->slots[i].used = false;
	lmsfdw_area_unlock(&area);
}

/*
 * lmsfdw_activity_begin
 *		A slot for a new export of server's resource, or -1 if none is free.
 */
int
lmsfdw_activity_begin(const char *server, const char *resource)
{
	LmsActivityTable *t;
	int			slot = -1;
	int			i;

	if (area.shared && !exit_callback_registered)
	{
		before_shmem_exit(activity_exit, (Datum) 0);
		exit_callback_registered = true;
	}
	t = lmsfdw_area_lock(&area, LW_EXCLUSIVE);
	for (i = 0; i < LMS_ACTIVITY_SLOTS && slot < 0; i++)
		if (!t->slots[i].used)
			slot = i;
	if (slot >= 0)
	{
		LmsActivityRow *r = &t->slots[slot].row;

		memset(r, 0, sizeof(LmsActivityRow));
		t->slots[slot].used = true;
		r->pid = MyProcPid;
		r->userid = GetUserId();
		r->dbid = MyDatabaseId;
		r->started = GetCurrentTimestamp();
		r->progress = -1;
		strlcpy(r->server, server ? server : "", sizeof(r->server));
		strlcpy(r->resource, resource ? resource : "", sizeof(r->resource));
		strlcpy(r->phase, "starting", sizeof(r->phase));
	}
	lmsfdw_area_unlock(&area);
	return slot;
}

/* Refresh the figures of slot (its identity stays as begun). */
static void
activity_update(int slot, const LmsActivityRow *row)
{
	LmsActivityTable *t;
	LmsActivityRow *r;

	if (slot < 0 || slot >= LMS_ACTIVITY_SLOTS)
		return;
	t = lmsfdw_area_lock(&area, LW_EXCLUSIVE);
	r = &t->slots[slot].row;
	if (t->slots[slot].used && r->pid == MyProcPid)
	{
		strlcpy(r->job_id, row->job_id, sizeof(r->job_id));
		strlcpy(r->phase, row->phase, sizeof(r->phase));
		strlcpy(r->lms_state, row->lms_state, sizeof(r->lms_state));
		r->progress = row->progress;
		r->expected_finish = row->expected_finish;
		r->status_checks = row->status_checks;
		r->retries = row->retries;
		r->waited_ms = row->waited_ms;
		r->bytes = row->bytes;
		r->rows = row->rows;
		r->learned_runs = row->learned_runs;
	}
	lmsfdw_area_unlock(&area);
}

/*
 * lmsfdw_activity_end
 *		The export is over: its row goes.
 */
void
lmsfdw_activity_end(int slot)
{
	LmsActivityTable *t;

	if (slot < 0 || slot >= LMS_ACTIVITY_SLOTS)
		return;
	t = lmsfdw_area_lock(&area, LW_EXCLUSIVE);
	if (t->slots[slot].row.pid == MyProcPid)
		t->slots[slot].used = false;
	lmsfdw_area_unlock(&area);
}

/*
 * lmsfdw_activity_rows
 *		lms_fdw_activity() into store: a copy of the slots taken under the
 *		lock, then the rows the caller may see, oldest export first.
 */
void
lmsfdw_activity_rows(Tuplestorestate *store, TupleDesc tupdesc)
{
	LmsActivityTable *copy = palloc(sizeof(LmsActivityTable));
	LmsActivityTable *t;
	bool		see_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	int			i;

	t = lmsfdw_area_lock(&area, LW_SHARED);
	memcpy(copy, t, sizeof(LmsActivityTable));
	lmsfdw_area_unlock(&area);

	for (;;)
	{
		LmsActivityRow *r = NULL;
		int			oldest = -1;
		Datum		values[16];
		bool		nulls[16];
		Interval   *waited;
		char	   *user;

		/* the oldest export not yet shown */
		for (i = 0; i < LMS_ACTIVITY_SLOTS; i++)
			if (copy->slots[i].used &&
				(oldest < 0 ||
				 copy->slots[i].row.started < copy->slots[oldest].row.started))
				oldest = i;
		if (oldest < 0)
			break;
		copy->slots[oldest].used = false;
		r = &copy->slots[oldest].row;
		if (r->userid != GetUserId() && !see_all)
			continue;

		memset(nulls, false, sizeof(nulls));
		values[0] = Int32GetDatum(r->pid);
		user = GetUserNameFromId(r->userid, true);
		values[1] = user ? DirectFunctionCall1(namein, CStringGetDatum(user)) : (Datum) 0;
		nulls[1] = user == NULL;
		values[2] = CStringGetTextDatum(r->server);
		values[3] = CStringGetTextDatum(r->resource);
		values[4] = CStringGetTextDatum(r->job_id);
		nulls[4] = r->job_id[0] == '\0';
		values[5] = CStringGetTextDatum(r->phase);
		values[6] = CStringGetTextDatum(r->lms_state);
		nulls[6] = r->lms_state[0] == '\0';
		values[7] = Float8GetDatum(r->progress);
		nulls[7] = r->progress < 0;
		values[8] = TimestampTzGetDatum(r->expected_finish);
		nulls[8] = r->expected_finish == 0;
		values[9] = Int32GetDatum(r->status_checks);
		values[10] = Int32GetDatum(r->retries);
		waited = palloc0(sizeof(Interval));
		waited->time = (int64) (r->waited_ms * 1000.0);
		values[11] = IntervalPGetDatum(waited);
		values[12] = Int64GetDatum((int64) r->bytes);
		values[13] = Int64GetDatum((int64) r->rows);
		values[14] = TimestampTzGetDatum(r->started);
		values[15] = r->learned_runs > 0 ?
			CStringGetTextDatum(psprintf("learned (%d runs)", r->learned_runs)) :
			CStringGetTextDatum("default");
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	pfree(copy);
}

/* ----------------------------------------------------------------
 * A job's row
 * ----------------------------------------------------------------
 */
#define LMS_ACTIVITY_TICK_MS	250.0

/* the job's phase, as lms_fdw_activity names it */
static const char *
activity_phase(const LmsJob *job)
{
	if (strcmp(job->phase, "initiate") == 0)
		return "starting";
	if (strcmp(job->phase, "monitor") == 0)
		return "waiting";
	if (strcmp(job->phase, "resolve") == 0)
		return "resolving";
	if (strcmp(job->phase, "download") == 0)
		return "downloading";
	return job->phase;
}

/*
 * lmsfdw_activity_note
 *		Refresh the job's row: phase, state, progress, expected finish and
 *		figures.
 */
void
lmsfdw_activity_note(LmsJob *job)
{
	LmsActivityRow row;
	double		expected;

	if (job->activity_slot < 0)
		return;
	memset(&row, 0, sizeof(row));
	strlcpy(row.job_id, job->remote_id ? job->remote_id : "", sizeof(row.job_id));
	strlcpy(row.phase, activity_phase(job), sizeof(row.phase));
	strlcpy(row.lms_state, job->remote_state ? job->remote_state : "",
			sizeof(row.lms_state));
	row.progress = job->progress;
	expected = job->state == LMS_JOB_DONE || job->state == LMS_JOB_FAILED ?
		-1.0 : lms_poll_expected_ms(&job->poll);
	if (expected >= 0 && job->started != 0)
		row.expected_finish = job->started + (TimestampTz) (expected * 1000.0);
	row.status_checks = job->counters.status_checks;
	row.retries = job->counters.retries;
	row.waited_ms = job->counters.waited_ms;
	row.bytes = job->counters.bytes;
	row.rows = job->counters.rows;
	row.learned_runs = job->poll.learned_runs;
	activity_update(job->activity_slot, &row);
	job->activity_ms = lmsfdw_now_ms();
}

/*
 * lmsfdw_activity_tick
 *		While the job's result streams: refresh its row now and then.
 */
void
lmsfdw_activity_tick(LmsJob *job)
{
	if (job->activity_slot >= 0 &&
		lmsfdw_now_ms() - job->activity_ms >= LMS_ACTIVITY_TICK_MS)
		lmsfdw_activity_note(job);
}

/* ----------------------------------------------------------------
 * Shared memory (shared.c calls these when preloaded)
 * ----------------------------------------------------------------
 */

Size
lmsfdw_activity_shmem_size(void)
{
	return MAXALIGN(sizeof(LmsActivityTable));
}

void
lmsfdw_activity_shmem_attach(void *mem, LWLock *lock, bool found)
{
	area.shared = mem;
	area.lock = lock;
	if (!found)
		memset(mem, 0, sizeof(LmsActivityTable));
}
