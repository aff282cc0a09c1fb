/*-------------------------------------------------------------------------
 *
 * jobset.h
 *		  The jobs of one scan (one per set of export parameters), run
 *		  at most max_parallel_jobs at a time
 *
 * IDENTIFICATION
 *		  src/jobset.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_JOBSET_H
#define LMS_JOBSET_H

#include "job.h"

typedef struct LmsJobSet LmsJobSet;

extern LmsJobSet *lmsfdw_jobset_create(const LmsOptions *opts, List *param_sets);
extern LmsJob *lmsfdw_jobset_next(LmsJobSet *set);
extern LmsJob *lmsfdw_jobset_take(LmsJobSet *set, bool *more);
extern void lmsfdw_jobset_poll(LmsJobSet *set);
extern double lmsfdw_jobset_next_due(LmsJobSet *set);

#endif							/* LMS_JOBSET_H */
