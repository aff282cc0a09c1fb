/*-------------------------------------------------------------------------
 *
 * shared.h
 *		  Jobs shared across backends through shared memory (when preloaded)
 *
 * IDENTIFICATION
 *		  src/shared.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_SHARED_H
#define LMS_SHARED_H

#include "job.h"
#include "storage/lwlock.h"

extern void lmsfdw_shared_init(void);
extern void lmsfdw_shared_publish(const LmsJob *job, const char *key);
extern void lmsfdw_shared_withdraw(const LmsJob *job);
extern bool lmsfdw_shared_adopt(LmsJob *job, const char *key);
extern void lmsfdw_shared_unwatch(LmsJob *job);
extern bool lmsfdw_shared_watched(const LmsJob *job);

/*
 * The table of a module that is in shared memory when the library is
 * preloaded (the module sets shared and lock when shared memory is set up)
 * and the backend's own otherwise (made zeroed on first use): history.c's
 * learned durations, activity.c's exports in progress.
 */
typedef struct LmsSharedArea
{
	Size		size;
	void	   *shared;
	LWLock	   *lock;
	void	   *local;
} LmsSharedArea;

extern void *lmsfdw_area_lock(LmsSharedArea *area, LWLockMode mode);
extern void lmsfdw_area_unlock(LmsSharedArea *area);

#endif							/* LMS_SHARED_H */
