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

extern void lmsfdw_shared_init(void);
extern void lmsfdw_shared_publish(const LmsJob *job, const char *key);
extern void lmsfdw_shared_withdraw(const LmsJob *job);
extern bool lmsfdw_shared_adopt(LmsJob *job, const char *key);
extern void lmsfdw_shared_unwatch(LmsJob *job);
extern bool lmsfdw_shared_watched(const LmsJob *job);

#endif							/* LMS_SHARED_H */
