/*-------------------------------------------------------------------------
 *
 * budget.h
 *		  One rate budget per credential, shared by all backends (when
 *		  preloaded)
 *
 * IDENTIFICATION
 *		  src/budget.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_BUDGET_H
#define LMS_BUDGET_H

#include "schedule.h"
#include "storage/lwlock.h"

/* is there a shared budget (the library was preloaded)? */
extern bool lmsfdw_budget_shared(void);

/* the budget's key: a hash of the credential and the LMS's address */
extern uint64 lmsfdw_budget_key(const char *credential, const char *base_url);

/*
 * Before a request: the delay to wait before asking again, or 0 when the
 * request may go now, with *reserved units reserved for it.  The shared
 * observation is copied into *pacer (for messages).
 */
extern double lmsfdw_budget_acquire(uint64 key, LmsRatePacer *pacer,
									double now_ms, double *reserved);

/*
 * After the answer (or the failure) of a request that reserved units: the
 * reservation goes, the answer's rate-limit headers (remaining NaN: none)
 * become the budget's freshest observation, and a Retry-After holds every
 * sender until now_ms + retry_after_ms (<= 0: none).
 */
extern void lmsfdw_budget_release(uint64 key, double reserved, double now_ms,
								  double remaining, double cost,
								  double reset_s, double retry_after_ms);

/* shared memory, set up by shared.c when preloaded */
extern Size lmsfdw_budget_shmem_size(void);
extern void lmsfdw_budget_shmem_attach(void *mem, LWLock *lock, bool found);

#endif							/* LMS_BUDGET_H */
