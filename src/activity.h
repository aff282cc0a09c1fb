/*-------------------------------------------------------------------------
 *
 * activity.h
 *		  Exports in progress, for the lms_fdw_activity view (every
 *		  backend's when preloaded, this backend's otherwise)
 *
 * IDENTIFICATION
 *		  src/activity.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_ACTIVITY_H
#define LMS_ACTIVITY_H

#include "access/tupdesc.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

/* What one export in progress shows; strings are cut to fit. */
typedef struct LmsActivityRow
{
	int			pid;
	Oid			userid;
	Oid			dbid;
	TimestampTz started;
	char		server[NAMEDATALEN];
	char		resource[128];
	char		job_id[128];
	char		phase[16];
	char		lms_state[32];
	double		progress;		/* 0..100, or -1 */
	TimestampTz expected_finish;	/* 0: unknown */
	int			status_checks;
	int			retries;
	double		waited_ms;
	uint64		bytes;
	uint64		rows;
	int			learned_runs;	/* 0: today's schedule */
} LmsActivityRow;

struct LmsJob;

/* a slot index, or -1 when there is no room (the export is not shown) */
extern int	lmsfdw_activity_begin(const char *server, const char *resource);
extern void lmsfdw_activity_end(int slot);

/* a job's row from its current figures; at most every 250 ms while it streams */
extern void lmsfdw_activity_note(struct LmsJob *job);
extern void lmsfdw_activity_tick(struct LmsJob *job);

/* lms_fdw_activity(): the rows the caller may see, into store */
extern void lmsfdw_activity_rows(Tuplestorestate *store, TupleDesc tupdesc);

/* shared memory, set up by shared.c when preloaded */
extern Size lmsfdw_activity_shmem_size(void);
extern void lmsfdw_activity_shmem_attach(void *mem, LWLock *lock, bool found);

#endif							/* LMS_ACTIVITY_H */
