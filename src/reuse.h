/*-------------------------------------------------------------------------
 *
 * reuse.h
 *		  reuse_window: find a recent job with the same key (this backend's
 *		  cache, then the shared one) and remember finished ones
 *
 * IDENTIFICATION
 *		  src/reuse.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_REUSE_H
#define LMS_REUSE_H

#include "job.h"

typedef enum LmsReuse
{
	LMS_REUSE_NONE,
	LMS_REUSE_DONE,				/* a finished job's result */
	LMS_REUSE_RUNNING			/* another backend's running job, to watch */
} LmsReuse;

extern LmsReuse lmsfdw_reuse_find(LmsJob *job);
extern void lmsfdw_reuse_remember(LmsJob *job);
extern char *lmsfdw_reuse_key(const LmsJob *job);

#endif							/* LMS_REUSE_H */
