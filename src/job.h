/*-------------------------------------------------------------------------
 *
 * job.h
 *		  One export job's life: initiate, monitor, resolve, remote cancel
 *
 * IDENTIFICATION
 *		  src/job.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_JOB_H
#define LMS_JOB_H

#include "connection.h"
#include "http.h"
#include "nodes/pg_list.h"
#include "options.h"
#include "params.h"
#include "schedule.h"
#include "utils/timestamp.h"

typedef enum LmsJobState
{
	LMS_JOB_NEW,				/* not started */
	LMS_JOB_PENDING,			/* started, not yet running */
	LMS_JOB_RUNNING,
	LMS_JOB_DONE,				/* terminal: result available */
	LMS_JOB_FAILED				/* terminal: failed, aborted, deleted, expired */
} LmsJobState;

typedef struct LmsCounters
{
	int			status_checks;
	int			retries;
	int			retries_by_class[LMS_RETRY_NCLASSES];
	double		waited_ms;
	uint64		bytes;
	uint64		rows;
	int			files;			/* result files opened (pages of a paged list) */
} LmsCounters;

typedef struct LmsJob
{
	const LmsOptions *opts;
	LmsConn    *conn;
	MemoryContext cxt;			/* "lms_fdw job": the job and all it keeps */
	List	   *params;			/* of LmsParam * */
	int			set_index;		/* its parameter set's position in the scan's */

	char	   *remote_id;		/* the LMS's job id; a jobless resource's name, or NULL */
	bool		jobless;		/* a resource read without a job */
	void	   *provider_state; /* the provider's own struct (provider.h), in cxt */
	LmsJobState state;
	char	   *remote_state;	/* the LMS's own word for the state */
	double		progress;		/* 0..100, or -1 */
	char	   *message;		/* the LMS's message on failure */
	/*
	 * Result files known when the job was resolved (of char *, in order):
	 * what a provider without next_file hands out, and what reuse_window
	 * remembers and replays.  A provider with next_file may leave it NIL.
	 */
	List	   *resolved_urls;
	int			files_claimed;	/* result files handed out so far */
	char	   *bearer;			/* a token the provider obtained, or NULL */
	const char *phase;			/* for errcontext */

	TimestampTz started;
	TimestampTz finished;
	LmsCounters counters;
	LmsRng		rng;
	LmsPollSchedule poll;
	LmsRatePacer pacer;
	double		start_ms;		/* monotonic ms when the job was started */
	double		next_check_ms;	/* monotonic ms of the next status check */
	bool		cancel_sent;
	bool		reused;			/* a finished job's result, reused */
	bool		watching;		/* another backend's running job, watched */
	bool		adopted;		/* a parallel leader's finished job (a worker's) */
	int			history_slot;	/* index in the backend's job list */

	/* learned durations, the lms_fdw_activity row, the shared rate budget */
	uint64		history_key;	/* the export's key in history.c */
	int			activity_slot;	/* -1: not shown */
	double		activity_ms;	/* when the row was last refreshed */
	uint64		budget_key;		/* 0: pacing on this job's answers alone */
	double		budget_reserved;	/* units reserved for the request in flight */
} LmsJob;

/*
 * One result file of a job, as lmsfdw_job_next_file hands it out.  It is
 * filled in the memory context current at that call: the caller's file
 * context (see lms_fdw.c), which also holds the file's stream and reader,
 * so that several files of one job can be open at once, each with its own
 * state, none of it in the job.
 */
typedef struct LmsResultFile
{
	int			index;			/* 0, 1, ...: the file's number in the job */
	char	   *url;			/* absolute; checked against the URL policy */
	char	   *name;			/* file name for the format, or NULL: the URL's */
	void	   *provider_state; /* the provider's per-file data, or NULL */
} LmsResultFile;

/* one entry of this backend's recent jobs (lms_fdw_jobs()) */
typedef struct LmsJobRecord
{
	bool		used;
	char		server[NAMEDATALEN];
	char		resource[128];
	char		job_id[128];
	char		state[32];
	TimestampTz started;
	TimestampTz finished;
	LmsCounters counters;
	char		error[256];
	int			learned_runs;	/* the schedule's history; 0: none */
} LmsJobRecord;

/* life of one job */
extern LmsJob *lmsfdw_job_create(const LmsOptions *opts, List *params);
extern LmsJob *lmsfdw_job_adopt(const LmsOptions *opts, List *params,
								 const char *remote_id);
extern void lmsfdw_job_release(LmsJob *job);
extern void lmsfdw_job_flush_cancels(void);
extern bool lmsfdw_job_start(LmsJob *job);
extern void lmsfdw_job_watch(LmsJob *job);
extern bool lmsfdw_job_check(LmsJob *job);
extern void lmsfdw_job_wait(LmsJob *job, double ms);
extern bool lmsfdw_job_next_file(LmsJob *job, LmsResultFile *file);
extern char *lmsfdw_job_fetch(LmsJob *job, const LmsRequestSpec *spec,
							  const char *what, size_t *len);
extern bool lmsfdw_job_renew_bearer(LmsJob *job, const char *rejected);
extern bool lmsfdw_job_renew_file(LmsJob *job, LmsResultFile *file);
extern void lmsfdw_job_file_answered(LmsJob *job, LmsResultFile *file,
									 const LmsHttpResult *res);

/* requests made on the job's behalf (also by stream.c) */
extern void lmsfdw_job_retry_wait(LmsJob *job, LmsRetryClass cls,
								  const LmsHttpResult *res, int attempt);
extern void lmsfdw_job_pace(LmsJob *job);
extern void lmsfdw_job_observe(LmsJob *job, const LmsHttpResult *res);

extern char *lmsfdw_job_name(const LmsJob *job);

/* this backend's recent jobs */
extern void lmsfdw_job_note(LmsJob *job, const char *error);
extern int	lmsfdw_job_history(LmsJobRecord **records, int *first);

extern double lmsfdw_now_ms(void);

#endif							/* LMS_JOB_H */
