/*-------------------------------------------------------------------------
 *
 * schedule.c
 *		  When to send the next request: poll intervals, retry backoff,
 *		  Retry-After and rate-limit pacing (pure C, no PostgreSQL headers)
 *
 * All times are milliseconds as doubles; nothing here reads a clock or
 * sleeps.  The caller passes "now" in and gets a wait back, so the backend,
 * the unit tests and bench/poll_sim drive the same code, the latter two on a
 * simulated clock.  Randomness comes from a caller-owned splitmix64
 * generator, so a fixed seed reproduces every jittered wait.
 *
 * Status checks of an export job
 * ------------------------------
 * Without progress information the schedule is geometric: the un-jittered
 * widths are initial, initial*f, initial*f^2, ... capped at max, and each
 * wait is that width times a uniform factor in [1 - jitter, 1 + jitter].
 * The jitter is applied to the wait only, never fed back into the width, so
 * it cannot compound.  The width advances once per status check whatever
 * the check saw, so falling back to it later continues where it would be.
 *
 * When statuses carry progress (0-100), the schedule aims at the estimated
 * finish instead, so the job is seen soon after it ends with few checks:
 *
 * - Readings.  An integral reading p may be truncated (Canvas reports
 *	 integer percentages) or rounded, so the true value lies in
 *	 [p - 1/2, p + 1): we count it as p + 1/4, give or take 3/4.  A
 *	 fractional reading is taken at face value.  We remember the first
 *	 positive reading (first_ms, first_progress), the moment the current
 *	 value first appeared (last_ms, last_progress; a repeated reading does
 *	 not move it, since the moment a value appears says more than a later
 *	 sighting), and when progress last started or started over (zero_ms:
 *	 a reading of 0 or 100, or a drop).
 *
 * - Rate.  Two positive values give rate = (last - first) / (last_ms -
 *	 first_ms), good to +-1 over the progress between them.  A single value
 *	 gives its progress over the time since zero_ms (or since the job was
 *	 started); that cannot tell a slow job from one that sat queued, so it
 *	 may only shorten the geometric wait, never lengthen it.
 *
 * - Window.  The estimated finish E = last_ms + (100 - p)/rate, and u is
 *	 the half-width of its plausible window: the reading's own uncertainty
 *	 plus the rate's error times the work left.  The window [E - u, E + u]
 *	 is cut at now (the job was not done), and the check is aimed a quarter
 *	 of the way into it.  A check that comes too early sees a later reading
 *	 or the same one, and the next aim is a quarter into what is left.
 *
 * - Far aims.  An aim more than max_ms away, or one from a rough rate (two
 *	 values less than 10 percent apart), is not jumped to at once (early
 *	 estimates are noisy): the wait is half the distance, capped at max_ms,
 *	 and the estimate is refined at the next check.
 *
 * - Jitter.  Every wait is clamped to [initial_ms, max_ms].  Aimed waits
 *	 get a small jitter that only delays (up to jitter/4 of the wait), so
 *	 jitter never moves checks before the estimate systematically; far
 *	 waits, which need only land before the finish, keep the symmetric one.
 *
 * - Fallback.  The geometric schedule is used for a status without
 *	 progress, a reading of 0, progress 100 on an unfinished job (the LMS is
 *	 packaging the file: the widths restart at initial_ms, the end is near),
 *	 a reading lower than the last (the history restarts from it), and a
 *	 value that has not moved although the window in which the job should
 *	 have finished has passed (a stall).  In a stall the width is also held
 *	 to (factor - 1) times how long the value has stood still, so a job that
 *	 was followed closely is not suddenly left for max_ms: the checks fall
 *	 at ages growing by factor, as if the geometric schedule had begun when
 *	 the value last moved.
 *
 * Progress that moves in large steps (say 10 percent at a time) defeats
 * the estimate: it is late by up to a step.  Waits still never exceed
 * max_ms, so the job is seen within about max_ms of its end, as without
 * progress.
 *
 * Learned durations
 * -----------------
 * The same export usually takes about as long as it did the last times.
 * Given the finishes of past runs (each known to within the gap between
 * the two status checks around it), lms_poll_learn sets a plausible
 * window [lo, hi]: from the earliest past finish to the latest, widened
 * by a margin of one mean gap between sorted past durations (range /
 * (n - 1): with n runs a new one falls below the shortest with odds
 * 1/(n + 1), and about that far below), at least LMS_LEARN_SLACK of the
 * median and at least the uncertainty of the most precise run (the
 * midpoints are what is compared; a rough run, such as one followed by
 * the widening geometric schedule, moves the window by its midpoint but
 * does not widen it for good).  Then:
 *
 * - The first check comes just before lo (jittered only earlier, by up to
 *	 the jitter times the dense spacing), never before poll_initial.  When
 *	 the runs are few for their spread (the margin exceeds LMS_LEARN_WIDE
 *	 dense spacings), lo itself is uncertain by about a margin, and a job
 *	 finishing before it would be seen only at the first check: then the
 *	 first check comes LMS_LEARN_REACH margins earlier and the next ones
 *	 approach lo by the poll factor (the geometric widening in reverse),
 *	 so an early finish is seen about a third of its distance to lo late,
 *	 for a handful more checks.
 * - Within the window the checks are dense_ms apart (LMS_LEARN_DENSE_MS,
 *	 or a quarter of the window if that is narrower, within [initial, max]),
 *	 jittered +-jitter, and the last one lands at hi.  Without progress the
 *	 finish may be anywhere in the window, so no spacing is better than
 *	 another there except through its cost: the mean latency is about
 *	 half the spacing, the checks about the window's width over it.
 * - Past hi the job is slower than any before: the schedule falls back to
 *	 the geometric one, widening again from dense_ms by factor up to max.
 * - A status with usable progress is aimed by the progress rules above,
 *	 which know more than history; the learned window is used otherwise.
 *
 * How progress advanced in past runs (when 25, 50 and 75 percent were
 * first seen, as fractions of each run) does not move the checks, which
 * follow this run's own progress, but tells when the job should end: a
 * job whose progress is front-loaded or back-loaded ends when its last
 * quartile suggests, scaled as the past runs advanced (lms_poll_expected_ms).
 *
 * With fewer than LMS_LEARN_MIN runs nothing changes: the schedule and
 * every random draw are exactly those without history.  lms_poll_finished
 * turns a job seen done into the run to remember: the midpoint between the
 * last check that saw it running and the one that saw it done.  A job done
 * at its first check is known only to have taken at most that long: it is
 * counted as ending within one margin (or since its start) before.
 *
 * Retry backoff and Retry-After
 * -----------------------------
 * Backoff is "full jitter": uniform in [0, min(cap, base * 2^attempt)).
 * Retry-After is delta-seconds (a decimal fraction is accepted too) or an
 * HTTP-date in any of the three forms HTTP allows; dates are converted with
 * our own days-from-civil arithmetic, independent of locale and time zone.
 *
 * Rate-limit pacing
 * -----------------
 * Canvas throttles with a leaky bucket: X-Rate-Limit-Remaining is hwm minus
 * the bucket's level, which leaks leak_per_s units a second, and a request
 * is refused when, after leaking, the remaining quota minus a transient 50
 * unit up-front charge would reach zero.  We delay the next request until
 * the refilled quota, less the expected cost (the last X-Request-Cost) and
 * the up-front charge, is at least the floor.  The bucket's maximum is not
 * sent, so the refill is not capped; overestimating it only means the
 * server throttles and the retry logic backs off.  Brightspace sends
 * X-Rate-Limit-Reset instead: the quota refills all at once when the window
 * ends, so when remaining minus the cost is below the floor we wait for the
 * reset, and otherwise not at all.
 *
 * IDENTIFICATION
 *		  src/schedule.c
 *
 *-------------------------------------------------------------------------
 */
#include "schedule.h"

#include <curl/curl.h>

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define LMS_DEFAULT_JITTER		0.2

/* the transient charge Canvas adds before running a request */
#define LMS_CANVAS_UP_FRONT		50.0

/*
 * A progress-aimed check goes this far into the plausible finish window
 * [lo, hi]: early enough that a late one is rare, late enough that an early
 * one still narrows the window by a quarter.
 */
#define LMS_PROGRESS_AIM		0.25

/* an aim is jumped to only if the rate is known this well (relative) */
#define LMS_PROGRESS_TRUST		0.1

/* a far or uncertain aim is approached by this fraction of the distance */
#define LMS_PROGRESS_FAR		0.5

/* aimed waits are delayed by up to jitter * this fraction, never hastened */
#define LMS_PROGRESS_LATE		0.25

/* checks within a learned window are this far apart, at most */
#define LMS_LEARN_DENSE_MS		3200.0

/* a learned window is widened by at least this fraction of the median */
#define LMS_LEARN_SLACK			0.02

/*
 * When the margin exceeds LMS_LEARN_WIDE dense spacings, the first check
 * comes LMS_LEARN_REACH margins before lo, and the checks approach lo
 * closing the distance by the poll factor each time.
 */
#define LMS_LEARN_WIDE			4.0
#define LMS_LEARN_REACH			3.0

/* beyond this attempt number base * 2^attempt exceeds any sane cap */
#define LMS_BACKOFF_MAX_SHIFT	62


/* ----------------------------------------------------------------
 *		Random numbers
 * ----------------------------------------------------------------
 */

/*
 * lms_rng_seed
 *		Start the generator from seed; any value, zero included, is fine.
 */
void
lms_rng_seed(LmsRng *rng, uint64_t seed)
{
	rng->state = seed;
}

/*
 * splitmix64: a Weyl sequence scrambled by two multiply-xorshift rounds.
 * Every seed gives a full-period, well-mixed stream.
 */
static uint64_t
lms_rng_next(LmsRng *rng)
{
	uint64_t	z;

	rng->state += UINT64_C(0x9E3779B97F4A7C15);
	z = rng->state;
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * lms_rng_uniform
 *		A double in [0, 1) from the top 53 bits.
 */
double
lms_rng_uniform(LmsRng *rng)
{
	return (double) (lms_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}


/* ----------------------------------------------------------------
 *		Status-check schedule
 * ----------------------------------------------------------------
 */

/*
 * lms_poll_init
 *		Set up the schedule of one job.  Nonsense options are tamed rather
 *		than rejected (the option validator has already checked them): a
 *		non-positive initial wait becomes 1 ms, max is at least initial and
 *		factor at least 1.
 */
void
lms_poll_init(LmsPollSchedule *s, double initial_ms, double max_ms,
			  double factor)
{
	memset(s, 0, sizeof(*s));
	if (!(initial_ms > 0.0))
		initial_ms = 1.0;
	if (!(max_ms >= initial_ms))
		max_ms = initial_ms;
	if (!(factor >= 1.0))
		factor = 1.0;
	s->initial_ms = initial_ms;
	s->max_ms = max_ms;
	s->factor = factor;
	s->jitter = LMS_DEFAULT_JITTER;
	s->base_ms = initial_ms;
	s->checks = 0;
	s->have_progress = false;
	s->prev_check_ms = -1.0;
	s->learned_runs = 0;
	s->learned_active = false;
}

/* jitter in [0, 1]; anything else would allow negative waits */
static double
poll_jitter(const LmsPollSchedule *s)
{
	if (!(s->jitter > 0.0))
		return 0.0;
	return s->jitter < 1.0 ? s->jitter : 1.0;
}

/*
 * The next geometric wait: the current width, jittered symmetrically.  The
 * width itself is advanced by poll_advance_width, once per check.
 */
static double
poll_geometric(const LmsPollSchedule *s, LmsRng *rng)
{
	double		j = poll_jitter(s);

	return s->base_ms * (1.0 + j * (2.0 * lms_rng_uniform(rng) - 1.0));
}

static void
poll_advance_width(LmsPollSchedule *s)
{
	double		next = s->base_ms * s->factor;

	s->base_ms = next < s->max_ms ? next : s->max_ms;
}

/*
 * lms_poll_first_wait
 *		The wait between starting the job and its first status check.
 */
double
lms_poll_first_wait(LmsPollSchedule *s, LmsRng *rng)
{
	double		wait;

	s->base_ms = s->initial_ms;
	if (s->learned_active)
	{
		/* just before the shortest plausible finish, never after it */
		wait = s->learn_lo_ms - s->learn_reach_ms -
			poll_jitter(s) * s->dense_ms * lms_rng_uniform(rng);
		if (wait < s->initial_ms)
			wait = s->initial_ms;
	}
	else
		wait = poll_geometric(s, rng);
	poll_advance_width(s);
	return wait;
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Sort v[0..m-1] (m > 0) and return its median. */
static double
sorted_median(double *v, int m)
{
	qsort(v, m, sizeof(double), compare_doubles);
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2.0;
}

/*
 * How the learned runs' progress advanced: per quartile, the median of the
 * fractions of the runs that reported it (at least LMS_LEARN_MIN), else 0.
 */
static void
learn_progress(LmsPollSchedule *s, const LmsLearnedRun *runs, int n)
{
	int			k;

	for (k = 0; k < LMS_LEARN_QUARTILES; k++)
	{
		double		f[LMS_LEARN_RUNS];
		int			m = 0;
		int			i;

		for (i = n > LMS_LEARN_RUNS ? n - LMS_LEARN_RUNS : 0; i < n; i++)
			if (runs[i].progress_at[k] > 0.0 && runs[i].progress_at[k] <= 1.0)
				f[m++] = runs[i].progress_at[k];
		s->learn_progress_at[k] = 0.0;
		if (m < LMS_LEARN_MIN)
			continue;
		s->learn_progress_at[k] = sorted_median(f, m);
	}
}

/*
 * lms_poll_learn
 *		Set the learned window from past runs (see the file header).  Runs
 *		with a non-positive or non-finite duration are ignored; of more than
 *		LMS_LEARN_RUNS only the last LMS_LEARN_RUNS count.
 */
int
lms_poll_learn(LmsPollSchedule *s, const LmsLearnedRun *runs, int n)
{
	double		d[LMS_LEARN_RUNS];
	double		sharpest = INFINITY;
	double		lo;
	double		hi;
	double		median;
	double		margin;
	double		dense;
	int			m = 0;
	int			i;

	for (i = n > LMS_LEARN_RUNS ? n - LMS_LEARN_RUNS : 0; i < n; i++)
	{
		double		dur = runs[i].duration_ms;
		double		spread = runs[i].spread_ms;

		if (!isfinite(dur) || !(dur > 0.0))
			continue;
		if (!isfinite(spread) || !(spread > 0.0))
			spread = 0.0;
		d[m++] = dur;
		if (spread < sharpest)
			sharpest = spread;
	}
	if (m < LMS_LEARN_MIN)
		return 0;

	median = sorted_median(d, m);
	margin = (d[m - 1] - d[0]) / (m - 1);
	if (margin < LMS_LEARN_SLACK * median)
		margin = LMS_LEARN_SLACK * median;
	if (margin < sharpest)
		margin = sharpest;
	lo = d[0] - margin;
	hi = d[m - 1] + margin;
	if (lo < 0.0)
		lo = 0.0;

	dense = LMS_LEARN_DENSE_MS;
	if (dense > (hi - lo) / 4.0)
		dense = (hi - lo) / 4.0;
	if (dense > s->max_ms)
		dense = s->max_ms;
	if (dense < s->initial_ms)
		dense = s->initial_ms;

	s->learned_runs = m;
	s->learned_active = true;
	s->learn_lo_ms = lo;
	s->learn_hi_ms = hi;
	s->learn_expected_ms = median;
	s->learn_margin_ms = margin;
	learn_progress(s, runs, n);
	s->learn_reach_ms = 0.0;
	if (margin > LMS_LEARN_WIDE * dense)
		s->learn_reach_ms = LMS_LEARN_REACH * margin;
	if (s->learn_reach_ms > lo)
		s->learn_reach_ms = lo;
	s->dense_ms = dense;
	return m;
}

/*
 * lms_poll_finished
 *		The run to remember of a job that a status check at done_ms saw
 *		done: between the last check that saw it running and this one.
 */
void
lms_poll_finished(const LmsPollSchedule *s, double done_ms,
				  LmsLearnedRun *run)
{
	double		prev = s->prev_check_ms;
	int			k;

	if (!(prev >= 0.0) || prev >= done_ms)
	{
		/*
		 * Done at the first check: it took at most done_ms.  Aimed at a
		 * learned window, it was faster than the shortest plausible run:
		 * count it as ending within one margin before, so that the next
		 * window reaches that much further down.
		 */
		double		gap = done_ms;

		if (s->learned_runs > 0)
			gap = s->learn_margin_ms > s->dense_ms ? s->learn_margin_ms :
				s->dense_ms;
		if (gap > done_ms)
			gap = done_ms;
		prev = done_ms - gap;
	}
	run->duration_ms = (prev + done_ms) / 2.0;
	run->spread_ms = (done_ms - prev) / 2.0;
	for (k = 0; k < LMS_LEARN_QUARTILES; k++)
	{
		double		f = s->quartile_ms[k] / run->duration_ms;

		run->progress_at[k] = s->quartile_ms[k] > 0.0 && f <= 1.0 ? f : 0.0;
	}
}

/*
 * The wait within the learned window, or a negative value when there is no
 * window or the job has outlived it (then the geometric widths restart at
 * the dense spacing).
 */
static double
learned_wait(LmsPollSchedule *s, LmsRng *rng, double now_ms)
{
	double		jitter = poll_jitter(s);
	double		wait;

	if (!s->learned_active)
		return -1.0;
	if (now_ms >= s->learn_hi_ms)
	{
		/* slower than ever before */
		s->learned_active = false;
		s->base_ms = s->dense_ms;
		return -1.0;
	}
	if (now_ms < s->learn_lo_ms - s->dense_ms)
	{
		/* approaching lo: each check closes the distance by the factor */
		double		left = s->learn_lo_ms - now_ms;

		wait = left - left / s->factor;
		if (wait < s->dense_ms)
			wait = left;
		wait *= 1.0 - jitter * 0.5 * lms_rng_uniform(rng);
	}
	else
		wait = s->dense_ms * (1.0 + jitter * (2.0 * lms_rng_uniform(rng) - 1.0));
	/* the last check of the window is at its end */
	if (now_ms + wait > s->learn_hi_ms)
		wait = s->learn_hi_ms - now_ms;
	if (wait < s->initial_ms)
		wait = s->initial_ms;
	return wait;
}

/* a reading's truncation uncertainty: 1 percent if integral, else none */
static double
progress_quantum(double progress)
{
	return progress == floor(progress) ? 1.0 : 0.0;
}

/*
 * What the readings say about the finish.  rate is in percent per ms;
 * finish is the estimated finish and spread the half-width of its plausible
 * window; two_point tells whether two positive values were behind it.
 */
typedef struct ProgressEstimate
{
	double		rate;
	double		finish;
	double		spread;
	double		rel_error;		/* of the rate */
	bool		two_point;
} ProgressEstimate;

static bool
progress_estimate(const LmsPollSchedule *s, ProgressEstimate *est)
{
	double		q = progress_quantum(s->last_progress);
	double		rel_error;
	double		left;

	if (s->last_progress > s->first_progress && s->last_ms > s->first_ms)
	{
		/* two positive values: truncation can be off by q at either end */
		double		done = s->last_progress - s->first_progress;

		est->rate = done / (s->last_ms - s->first_ms);
		rel_error = q / done;
		est->two_point = true;
	}
	else if (s->first_ms > s->zero_ms)
	{
		/*
		 * One positive value: progress since the last reading of 0, or since
		 * the job was started (when progress was exactly 0).  This cannot
		 * tell a slow job from one that sat queued.
		 */
		double		done = s->first_progress;

		if (s->zero_ms <= 0.0)
			done += q / 4.0;
		est->rate = done / (s->first_ms - s->zero_ms);
		rel_error = q / done;
		est->two_point = false;
	}
	else
		return false;

	if (!(est->rate > 0.0) || !isfinite(est->rate))
		return false;

	/*
	 * Percent still to do after last_ms.  A reading p is truncated or
	 * rounded: the true value lies in [p - q/2, p + q), so it counts as
	 * p + q/4, give or take 3q/4.
	 */
	left = 100.0 - s->last_progress - q / 4.0;
	if (left < 0.0)
		left = 0.0;
	est->rel_error = rel_error;
	est->finish = s->last_ms + left / est->rate;
	est->spread = (left * rel_error + 0.75 * q) / est->rate;
	return true;
}

/*
 * The progress-aimed wait (see the file header), or a negative value when
 * the readings give no usable estimate or the job has overrun the window in
 * which it should have finished (a stall).
 */
static double
progress_wait(const LmsPollSchedule *s, LmsRng *rng, double now_ms)
{
	double		jitter = poll_jitter(s);
	ProgressEstimate est;
	double		lo;
	double		hi;
	double		to_aim;
	double		wait;

	if (!progress_estimate(s, &est))
		return -1.0;

	/* the finish lies in [lo, hi], and not before now: it was not done */
	lo = est.finish - est.spread;
	hi = est.finish + est.spread;
	if (now_ms >= hi)
		return -1.0;
	if (lo < now_ms)
		lo = now_ms;
	to_aim = lo + LMS_PROGRESS_AIM * (hi - lo) - now_ms;

	if (!est.two_point || est.rel_error > LMS_PROGRESS_TRUST ||
		to_aim > s->max_ms)
	{
		/*
		 * Far, or too little known: close part of the distance.  A single
		 * value may only shorten the geometric wait, never lengthen it.
		 */
		double		limit = est.two_point ? s->max_ms : s->base_ms;

		wait = LMS_PROGRESS_FAR * to_aim;
		if (wait > limit)
			wait = limit;
		if (wait < s->initial_ms)
			wait = s->initial_ms;
		return wait * (1.0 + jitter * (2.0 * lms_rng_uniform(rng) - 1.0));
	}

	/* near: aim at the estimate, jittering only later */
	wait = to_aim;
	if (wait < s->initial_ms)
		wait = s->initial_ms;
	return wait * (1.0 + jitter * LMS_PROGRESS_LATE * lms_rng_uniform(rng));
}

/*
 * lms_poll_expected_ms
 *		The expected finish: the last quartile reached as past runs
 *		advanced, else the progress rate (two readings), else the median
 *		past run.
 */
double
lms_poll_expected_ms(const LmsPollSchedule *s)
{
	ProgressEstimate est;
	int			k;

	/* the last quartile reached, where past runs were then */
	for (k = LMS_LEARN_QUARTILES - 1; k >= 0; k--)
		if (s->quartile_ms[k] > 0.0 && s->learn_progress_at[k] > 0.0)
			return s->quartile_ms[k] / s->learn_progress_at[k];
	if (s->have_progress && progress_estimate(s, &est) && est.two_point)
		return est.finish;
	if (s->learned_runs > 0)
		return s->learn_expected_ms;
	return -1.0;
}

/*
 * lms_poll_next_wait
 *		The wait before the next status check, after a check at now_ms that
 *		saw progress (negative: the status carries none).
 */
double
lms_poll_next_wait(LmsPollSchedule *s, LmsRng *rng, double now_ms,
				   double progress)
{
	double		wait = -1.0;
	int			k;

	s->checks++;
	/* when progress first reached each quartile, for the history */
	for (k = 0; k < LMS_LEARN_QUARTILES; k++)
		if (progress >= 25.0 * (k + 1) && s->quartile_ms[k] == 0.0 && now_ms > 0.0)
			s->quartile_ms[k] = now_ms;

	if (isnan(progress) || progress < 0.0)
	{
		/* no progress in this status: plain geometric */
	}
	else if (progress >= 100.0)
	{
		/* done but for packaging: restart short waits once */
		if (s->have_progress)
			s->base_ms = s->initial_ms;
		s->have_progress = false;
		s->zero_ms = now_ms;
	}
	else if (progress == 0.0)
	{
		/* not started (or started over) */
		s->have_progress = false;
		s->zero_ms = now_ms;
	}
	else if (s->have_progress && progress < s->last_progress)
	{
		/*
		 * Progress went backwards (a new phase?): the history is worthless.
		 * Start over from this reading; until the value moves again there is
		 * no rate, so this wait is geometric.
		 */
		s->zero_ms = now_ms;
		s->first_ms = s->last_ms = now_ms;
		s->first_progress = s->last_progress = progress;
	}
	else if (!s->have_progress)
	{
		s->have_progress = true;
		s->first_ms = s->last_ms = now_ms;
		s->first_progress = s->last_progress = progress;
		wait = progress_wait(s, rng, now_ms);
	}
	else
	{
		/* a repeated value keeps the moment it first appeared */
		if (progress > s->last_progress)
		{
			s->last_ms = now_ms;
			s->last_progress = progress;
		}
		wait = progress_wait(s, rng, now_ms);
	}

	if (wait < 0.0)
		wait = learned_wait(s, rng, now_ms);
	if (wait < 0.0)
	{
		/*
		 * Geometric.  While progress stands still, the width is also kept
		 * to a fraction of how long it has stood still, so a job that was
		 * followed closely is not suddenly left for poll_max.
		 */
		if (s->have_progress && progress == s->last_progress &&
			now_ms > s->last_ms)
		{
			double		age = (s->factor - 1.0) * (now_ms - s->last_ms);

			if (age < s->initial_ms)
				age = s->initial_ms;
			if (age < s->base_ms)
				s->base_ms = age;
		}
		wait = poll_geometric(s, rng);
	}
	poll_advance_width(s);
	s->prev_check_ms = now_ms;
	return wait;
}


/* ----------------------------------------------------------------
 *		Retry backoff
 * ----------------------------------------------------------------
 */

/*
 * lms_backoff_ms
 *		Full jitter: uniform in [0, min(cap, base * 2^attempt)).  Attempt
 *		numbers below 0 count as 0; large ones saturate at the cap instead of
 *		overflowing.
 */
double
lms_backoff_ms(LmsRng *rng, int attempt, double base_ms, double cap_ms)
{
	double		ceiling;

	if (!(base_ms > 0.0) || !(cap_ms > 0.0))
		return 0.0;
	if (attempt < 0)
		attempt = 0;
	if (attempt > LMS_BACKOFF_MAX_SHIFT)
		ceiling = cap_ms;
	else
	{
		ceiling = ldexp(base_ms, attempt);
		if (!(ceiling < cap_ms))
			ceiling = cap_ms;
	}
	return ceiling * lms_rng_uniform(rng);
}


/* ----------------------------------------------------------------
 *		Retry-After
 * ----------------------------------------------------------------
 */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * lms_retry_after_ms
 *		A Retry-After value as milliseconds from now, or -1 if unusable.
 *
 * delta-seconds is a non-negative integer; "1.5" is accepted as well, since
 * some servers send fractions.  An HTTP-date in the past gives 0.
 */
double
lms_retry_after_ms(const char *value, time_t now)
{
	const char *p;
	const char *end;

	if (value == NULL)
		return -1.0;

	/* trim optional whitespace around the field value */
	p = value;
	while (is_ows(*p))
		p++;
	end = p + strlen(p);
	while (end > p && is_ows(end[-1]))
		end--;
	if (p == end)
		return -1.0;

	if (is_digit(*p))
	{
		double		seconds = 0.0;
		double		scale = 0.1;

		while (p < end && is_digit(*p))
			seconds = seconds * 10.0 + (*p++ - '0');
		if (p < end && *p == '.')
		{
			p++;
			if (p == end || !is_digit(*p))
				return -1.0;
			while (p < end && is_digit(*p))
			{
				seconds += (*p++ - '0') * scale;
				scale /= 10.0;
			}
		}
		if (p != end || !isfinite(seconds))
			return -1.0;
		return seconds * 1000.0;
	}
	else
	{
		/* an HTTP-date: libcurl parses all three RFC 9110 forms */
		char		date[64];
		time_t		when;
		double		ms;

		if ((size_t) (end - p) >= sizeof(date))
			return -1.0;
		memcpy(date, p, end - p);
		date[end - p] = '\0';
		when = curl_getdate(date, NULL);
		if (when == (time_t) -1)
			return -1.0;
		ms = ((double) when - (double) now) * 1000.0;
		return ms > 0.0 ? ms : 0.0;
	}
}


/* ----------------------------------------------------------------
 *		Rate-limit pacing
 * ----------------------------------------------------------------
 */

/*
 * lms_pacer_init
 *		A pacer that has seen nothing yet (and so never delays).
 */
void
lms_pacer_init(LmsRatePacer *p, double floor, double leak_per_s)
{
	memset(p, 0, sizeof(*p));
	p->floor = floor;
	p->leak_per_s = leak_per_s;
	p->have = false;
	p->cost = -1.0;
	p->reset_ms = -1.0;
}

/*
 * lms_pacer_observe
 *		Remember the rate-limit headers of a response received at now_ms.  A
 *		response without X-Request-Cost (Canvas omits it on a throttled
 *		reply) keeps the last known cost.
 */
void
lms_pacer_observe(LmsRatePacer *p, double now_ms, double remaining,
				  double cost, double reset_s)
{
	if (!isfinite(remaining))
		return;
	p->have = true;
	p->remaining = remaining;
	p->observed_ms = now_ms;
	if (cost >= 0.0 && isfinite(cost))
		p->cost = cost;
	if (reset_s >= 0.0 && isfinite(reset_s))
		p->reset_ms = reset_s * 1000.0;
	else
		p->reset_ms = -1.0;
}

/*
 * lms_pacer_delay_ms
 *		How long to hold the next request so the quota stays above the
 *		floor (see the file header).
 */
double
lms_pacer_delay_ms(const LmsRatePacer *p, double now_ms)
{
	double		cost;

	if (!p->have)
		return 0.0;
	cost = p->cost > 0.0 ? p->cost : 0.0;

	if (p->reset_ms >= 0.0)
	{
		/* fixed window: nothing refills until the reset */
		double		until_reset = p->observed_ms + p->reset_ms - now_ms;

		if (p->remaining - cost >= p->floor)
			return 0.0;
		return until_reset > 0.0 ? until_reset : 0.0;
	}
	else
	{
		/* leaky bucket: the quota grows leak_per_s a second, uncapped */
		double		need = p->floor + cost + LMS_CANVAS_UP_FRONT;
		double		elapsed = now_ms - p->observed_ms;
		double		now_remaining;

		if (elapsed < 0.0)
			elapsed = 0.0;
		if (!(p->leak_per_s > 0.0))
			return 0.0;		/* no refill known: leave it to the retries */
		now_remaining = p->remaining + p->leak_per_s * elapsed / 1000.0;
		if (now_remaining >= need)
			return 0.0;
		return (need - now_remaining) / p->leak_per_s * 1000.0;
	}
}


/* ----------------------------------------------------------------
 *		A rate budget shared between senders
 * ----------------------------------------------------------------
 */

/*
 * lms_pacer_reservation
 *		What one more request is expected to take from the quota: its cost
 *		(the last one seen, or 1), and on a leaky bucket Canvas's up-front
 *		charge, which it holds until it is answered.
 */
double
lms_pacer_reservation(const LmsRatePacer *p)
{
	double		cost = p->cost > 0.0 ? p->cost : 1.0;

	if (p->reset_ms >= 0.0)
		return cost;
	return cost + LMS_CANVAS_UP_FRONT;
}

/*
 * lms_pacer_shared_delay_ms
 *		The delay of lms_pacer_delay_ms for a quota of which reserved units
 *		are already promised to in_flight requests.  Before any answer has
 *		shown the quota, requests go one at a time.
 */
double
lms_pacer_shared_delay_ms(const LmsRatePacer *p, double now_ms,
						  double reserved, int in_flight)
{
	LmsRatePacer left = *p;
	double		delay;

	if (!p->have)
		return in_flight > 0 ? LMS_PACER_PROBE_MS : 0.0;
	if (reserved > 0.0)
		left.remaining -= reserved;
	delay = lms_pacer_delay_ms(&left, now_ms);
	/* answers still to come may show more room: ask again soon */
	if (in_flight > 0 && delay > LMS_PACER_PROBE_MS)
		delay = LMS_PACER_PROBE_MS;
	return delay;
}
