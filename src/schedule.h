/*-------------------------------------------------------------------------
 *
 * schedule.h
 *		  When to send the next request: poll intervals, retry backoff,
 *		  Retry-After and rate-limit pacing (pure C, no PostgreSQL headers)
 *
 * Everything here is arithmetic on milliseconds and a seeded random
 * generator, so the same code runs inside the backend, in the unit tests and
 * in bench/poll_sim on a simulated clock.
 *
 * IDENTIFICATION
 *		  src/schedule.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_SCHEDULE_H
#define LMS_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A small seedable generator (each backend seeds its own). */
typedef struct LmsRng
{
	uint64_t	state;
} LmsRng;

extern void lms_rng_seed(LmsRng *rng, uint64_t seed);
extern double lms_rng_uniform(LmsRng *rng);	/* in [0, 1) */

/*
 * Learned durations.  A run of an export is remembered as when it ended,
 * duration_ms after it was started, known to within +-spread_ms (the job
 * ended between two status checks), and, when the LMS reported progress,
 * how it advanced: when 25, 50 and 75 percent were first seen, as fractions
 * of the duration (0: never seen).  LMS_LEARN_RUNS runs are kept per
 * export; LMS_LEARN_MIN of them make a learned schedule.
 */
#define LMS_LEARN_RUNS	8
#define LMS_LEARN_MIN	2
#define LMS_LEARN_QUARTILES 3

typedef struct LmsLearnedRun
{
	double		duration_ms;
	double		spread_ms;
	double		progress_at[LMS_LEARN_QUARTILES];
} LmsLearnedRun;

/*
 * Status-check schedule of one job.  Times are milliseconds since the job
 * was started (the caller's clock).
 */
typedef struct LmsPollSchedule
{
	double		initial_ms;
	double		max_ms;
	double		factor;
	double		jitter;			/* 0.2 = +-20% */
	double		base_ms;		/* un-jittered width of the next wait */
	int			checks;			/* calls of lms_poll_next_wait */
	/* progress observations, for the finish-time estimate */
	bool		have_progress;	/* first_* and last_* are set */
	double		zero_ms;		/* when progress last (re)started: a
								 * reading of 0 or 100, or a drop; 0 if
								 * never */
	double		first_ms;		/* first positive reading since then */
	double		first_progress;
	double		last_ms;		/* when the current value first appeared */
	double		last_progress;
	double		prev_check_ms;	/* the last check's now_ms; <0 none yet */
	double		quartile_ms[LMS_LEARN_QUARTILES];	/* when progress first
													 * reached 25/50/75; 0
													 * not yet */
	/* the learned window (learned_runs > 0), see schedule.c */
	int			learned_runs;	/* runs behind it; 0: no history */
	bool		learned_active; /* not yet past the window */
	double		learn_lo_ms;	/* shortest plausible finish */
	double		learn_hi_ms;	/* longest: beyond it, slower than ever */
	double		learn_expected_ms;	/* median of the runs */
	double		learn_margin_ms;	/* how far lo and hi reach past the runs */
	double		learn_reach_ms;	/* first check this far before lo */
	double		dense_ms;		/* spacing of checks within the window */
	double		learn_progress_at[LMS_LEARN_QUARTILES];	/* median of the runs'
														 * progress_at; 0
														 * unknown */
} LmsPollSchedule;

extern void lms_poll_init(LmsPollSchedule *s, double initial_ms,
						  double max_ms, double factor);

/* The wait between starting the job and its first status check. */
extern double lms_poll_first_wait(LmsPollSchedule *s, LmsRng *rng);

/*
 * After a status check made at now_ms that saw progress in [0, 100] (or a
 * negative value when the status carries none): the wait before the next
 * check, in ms, within [initial_ms, max_ms] give or take the jitter.  With
 * progress, the wait aims at the estimated finish (see schedule.c).
 */
extern double lms_poll_next_wait(LmsPollSchedule *s, LmsRng *rng,
								 double now_ms, double progress);

/*
 * Aim the schedule of a job not yet started at the finishes of n past runs
 * of the same export (any order).  Returns the runs used: 0 (and the
 * schedule unchanged) when n < LMS_LEARN_MIN.
 */
extern int	lms_poll_learn(LmsPollSchedule *s, const LmsLearnedRun *runs,
						   int n);

/*
 * When the job should end (ms since its start), for display: from the last
 * quartile its progress reached, scaled as the past runs advanced; else
 * from its progress rate when two readings give one; else the median of
 * the learned runs; -1 when nothing is known.
 */
extern double lms_poll_expected_ms(const LmsPollSchedule *s);

/* The run to remember of a job seen done by a status check at done_ms. */
extern void lms_poll_finished(const LmsPollSchedule *s, double done_ms,
							  LmsLearnedRun *run);

/* Full-jitter backoff before retry number attempt (0 = first retry). */
extern double lms_backoff_ms(LmsRng *rng, int attempt, double base_ms,
							 double cap_ms);

/*
 * A Retry-After header value (delta-seconds or an IMF-fixdate/RFC 850/asctime
 * HTTP-date) as milliseconds from now (>= 0), or -1 when it cannot be parsed.
 */
extern double lms_retry_after_ms(const char *value, time_t now);

/*
 * Rate-limit pacing from X-Rate-Limit-Remaining / X-Request-Cost (and
 * X-Rate-Limit-Reset where the LMS sends it).  A leaky bucket (Canvas)
 * refills leak_per_s units per second; a reset window (Brightspace) refills
 * at once when reset_s runs out.
 */
typedef struct LmsRatePacer
{
	double		floor;			/* keep the remaining quota above this */
	double		leak_per_s;		/* refill rate when no reset is known */
	bool		have;			/* a response carried the headers */
	double		remaining;
	double		cost;			/* last observed request cost */
	double		observed_ms;	/* when remaining was observed */
	double		reset_ms;		/* window reset, ms after observed_ms; <0 none */
} LmsRatePacer;

extern void lms_pacer_init(LmsRatePacer *p, double floor, double leak_per_s);

/* header values (remaining may be negative); NaN when absent; cost and
 * reset_s below 0 count as absent too.  A NaN remaining is ignored. */
extern void lms_pacer_observe(LmsRatePacer *p, double now_ms, double remaining,
							  double cost, double reset_s);

/* How long to wait before the next request may be sent (0 = now). */
extern double lms_pacer_delay_ms(const LmsRatePacer *p, double now_ms);

/*
 * One rate budget shared by several senders using the same credential:
 * in_flight requests have been sent and not yet answered, holding
 * reserved units between them.  The delay before one more request may be
 * sent (0 = now, reserving lms_pacer_reservation(p) units); with nothing
 * observed yet only one request at a time goes out, and the others ask
 * again after LMS_PACER_PROBE_MS.
 */
#define LMS_PACER_PROBE_MS	50.0

extern double lms_pacer_reservation(const LmsRatePacer *p);
extern double lms_pacer_shared_delay_ms(const LmsRatePacer *p, double now_ms,
										double reserved, int in_flight);

#endif							/* LMS_SCHEDULE_H */
