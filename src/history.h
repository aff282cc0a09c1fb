/*-------------------------------------------------------------------------
 *
 * history.h
 *		  Learned durations: the last runs of each export, for the poll
 *		  schedule (shared and kept across restarts when preloaded)
 *
 * IDENTIFICATION
 *		  src/history.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_HISTORY_H
#define LMS_HISTORY_H

#include "schedule.h"
#include "storage/lwlock.h"

/* the export's identity: database, server, user mapping, resource+params */
extern uint64 lmsfdw_history_key(Oid serverid, Oid umid,
								 const char *export_key);

/* the remembered runs of key, oldest first, into runs[LMS_LEARN_RUNS] */
extern int	lmsfdw_history_get(uint64 key, LmsLearnedRun *runs);
extern void lmsfdw_history_add(uint64 key, const LmsLearnedRun *run);
extern int	lmsfdw_history_forget(void);

/* shared memory, set up by shared.c when preloaded */
extern Size lmsfdw_history_shmem_size(void);
extern void lmsfdw_history_shmem_attach(void *mem, LWLock *lock, bool found);
extern void lmsfdw_history_save(void);

#endif							/* LMS_HISTORY_H */
