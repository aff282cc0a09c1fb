/*-------------------------------------------------------------------------
 *
 * test_schedule.c
 *		  Unit tests for src/schedule.c: poll schedule (learned from past
 *		  runs, too), backoff, Retry-After and rate-limit pacing
 *
 * Everything runs on simulated clocks with fixed seeds, so the results are
 * the same on every run; nothing here measures wall-clock time.  Bounds on
 * random waits are checked for every sample, and means over many samples
 * with tolerances far wider than their sampling error.
 *
 * IDENTIFICATION
 *		  test/unit/test_schedule.c
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "schedule.h"
#include "unit.h"

#define INITIAL_MS	1000.0
#define MAX_MS		30000.0
#define FACTOR		1.5
#define EPS			1e-9

/* un-jittered width of wait number k (0 = the first wait) */
static double
geometric_width(int k)
{
	double		w = INITIAL_MS * pow(FACTOR, k);

	return w < MAX_MS ? w : MAX_MS;
}

/* seconds since the epoch of a UTC date, by the C library, for reference */
static time_t
utc(int year, int month, int day, int hour, int min, int sec)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	return timegm(&tm);
}

/*
 * Run one job that finishes at finish_ms and reports progress (a truncated
 * integer percentage, or a fraction when "fractional") linear in time from
 * queued_ms on.  Returns the number of status checks; *latency is the time
 * from the finish to the check that saw it.
 */
static int
run_job(double finish_ms, double queued_ms, bool fractional, uint64_t seed,
		double *latency)
{
	LmsPollSchedule s;
	LmsRng		rng;
	double		t;
	int			checks = 0;

	lms_rng_seed(&rng, seed);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	t = lms_poll_first_wait(&s, &rng);
	for (;;)
	{
		double		p = 0.0;

		checks++;
		if (t >= finish_ms || checks > 10000)
			break;
		if (t > queued_ms)
			p = 100.0 * (t - queued_ms) / (finish_ms - queued_ms);
		if (!fractional)
			p = floor(p);
		t += lms_poll_next_wait(&s, &rng, t, p);
	}
	*latency = t - finish_ms;
	return checks;
}

static void
test_rng(void)
{
	LmsRng		a;
	LmsRng		b;
	double		sum = 0.0;
	double		lo = 1.0;
	double		hi = 0.0;
	bool		same = true;
	bool		differ = false;
	int			i;

	lms_rng_seed(&a, 42);
	lms_rng_seed(&b, 42);
	for (i = 0; i < 100000; i++)
	{
		double		x = lms_rng_uniform(&a);

		if (x != lms_rng_uniform(&b))
			same = false;
		sum += x;
		if (x < lo)
			lo = x;
		if (x > hi)
			hi = x;
	}
	UNIT_CHECK(same, "same seed, same stream");
	UNIT_CHECK(lo >= 0.0 && hi < 1.0, "range [%g, %g]", lo, hi);
	UNIT_CHECK(lo < 0.001 && hi > 0.999, "covers [0, 1): [%g, %g]", lo, hi);
	UNIT_CHECK(fabs(sum / 100000 - 0.5) < 0.01, "mean %g", sum / 100000);

	lms_rng_seed(&a, 1);
	lms_rng_seed(&b, 2);
	for (i = 0; i < 10; i++)
		if (lms_rng_uniform(&a) != lms_rng_uniform(&b))
			differ = true;
	UNIT_CHECK(differ, "different seeds, different streams");

	/* seed 0 is as good as any */
	lms_rng_seed(&a, 0);
	UNIT_CHECK(lms_rng_uniform(&a) != lms_rng_uniform(&a), "seed 0 moves");
}

static void
test_poll_init(void)
{
	LmsPollSchedule s;

	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	UNIT_CHECK(s.initial_ms == INITIAL_MS && s.max_ms == MAX_MS &&
			   s.factor == FACTOR, "options kept");
	UNIT_CHECK(s.jitter == 0.2, "default jitter %g", s.jitter);
	UNIT_CHECK(s.base_ms == INITIAL_MS && s.checks == 0 && !s.have_progress,
			   "fresh state");

	lms_poll_init(&s, 5000.0, 1000.0, 0.5);
	UNIT_CHECK(s.max_ms == 5000.0 && s.factor == 1.0,
			   "max below initial and factor below 1 are tamed: %g %g",
			   s.max_ms, s.factor);
	lms_poll_init(&s, 0.0, 0.0, 2.0);
	UNIT_CHECK(s.initial_ms > 0.0, "initial must be positive: %g",
			   s.initial_ms);
}

/* The geometric schedule: growth, cap, jitter bounds and mean. */
static void
test_poll_geometric(void)
{
	enum
	{
		SEEDS = 2000,
		WAITS = 16
	};
	double		sum[WAITS] = {0};
	double		lowest[WAITS];
	double		highest[WAITS] = {0};
	int			out_of_bounds = 0;
	int			width_wrong = 0;
	uint64_t	seed;
	int			k;

	for (k = 0; k < WAITS; k++)
		lowest[k] = 1e300;
	for (seed = 1; seed <= SEEDS; seed++)
	{
		LmsPollSchedule s;
		LmsRng		rng;
		double		t;

		lms_rng_seed(&rng, seed);
		lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
		t = 0.0;
		for (k = 0; k < WAITS; k++)
		{
			double		b = geometric_width(k);
			double		w;

			w = k == 0 ? lms_poll_first_wait(&s, &rng)
				: lms_poll_next_wait(&s, &rng, t, -1.0);
			t += w;
			sum[k] += w;
			if (w < lowest[k])
				lowest[k] = w;
			if (w > highest[k])
				highest[k] = w;
			if (w < 0.8 * b - EPS || w > 1.2 * b + EPS)
				out_of_bounds++;
			/* the width grows without the jitter: it never compounds */
			if (fabs(s.base_ms - geometric_width(k + 1)) > EPS)
				width_wrong++;
		}
		if (seed == 1)
			UNIT_CHECK(s.checks == WAITS - 1, "checks counted: %d", s.checks);
	}
	UNIT_CHECK(out_of_bounds == 0, "%d waits outside [0.8, 1.2] x width",
			   out_of_bounds);
	UNIT_CHECK(width_wrong == 0, "%d widths off the un-jittered sequence",
			   width_wrong);
	for (k = 0; k < WAITS; k++)
	{
		double		mean = sum[k] / SEEDS;
		double		b = geometric_width(k);

		UNIT_CHECK(fabs(mean - b) < 0.01 * b,
				   "wait %d: mean %.1f, un-jittered %.1f", k, mean, b);
		UNIT_CHECK(lowest[k] < 0.805 * b && highest[k] > 1.195 * b,
				   "wait %d: jitter spans [%.3f, %.3f] x width", k,
				   lowest[k] / b, highest[k] / b);
	}
	UNIT_CHECK(geometric_width(WAITS - 1) == MAX_MS, "the test reaches the cap");

	/* the cap holds for a long job, and growth is visible before it */
	{
		LmsPollSchedule s;
		LmsRng		rng;
		double		w;
		double		biggest = 0.0;
		int			i;

		lms_rng_seed(&rng, 7);
		lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
		w = lms_poll_first_wait(&s, &rng);
		for (i = 0; i < 200; i++)
		{
			w = lms_poll_next_wait(&s, &rng, 1000.0 * i, -1.0);
			if (w > biggest)
				biggest = w;
		}
		UNIT_CHECK(biggest <= 1.2 * MAX_MS && biggest > 1.1 * MAX_MS,
				   "largest of 200 waits %.0f", biggest);
		UNIT_CHECK(s.base_ms == MAX_MS, "width stays at the cap");
	}

	/* without jitter the waits are exactly the sequence */
	{
		LmsPollSchedule s;
		LmsRng		rng;
		bool		exact = true;

		lms_rng_seed(&rng, 3);
		lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
		s.jitter = 0.0;
		if (lms_poll_first_wait(&s, &rng) != INITIAL_MS)
			exact = false;
		for (k = 1; k < WAITS; k++)
			if (fabs(lms_poll_next_wait(&s, &rng, 0.0, -1.0) -
					 geometric_width(k)) > EPS)
				exact = false;
		UNIT_CHECK(exact, "jitter 0 gives 1000, 1500, 2250, ... 30000");
	}
}

/* The same seed reproduces the jitter exactly; another seed does not. */
static void
test_poll_reproducible(void)
{
	LmsPollSchedule a;
	LmsPollSchedule b;
	LmsPollSchedule c;
	LmsRng		ra;
	LmsRng		rb;
	LmsRng		rc;
	bool		same = true;
	bool		differ = false;
	double		t = 0.0;
	int			k;

	lms_rng_seed(&ra, 12345);
	lms_rng_seed(&rb, 12345);
	lms_rng_seed(&rc, 12346);
	lms_poll_init(&a, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_init(&b, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_init(&c, INITIAL_MS, MAX_MS, FACTOR);
	if (lms_poll_first_wait(&a, &ra) != lms_poll_first_wait(&b, &rb))
		same = false;
	(void) lms_poll_first_wait(&c, &rc);
	for (k = 0; k < 30; k++)
	{
		/* a mix of statuses with and without progress */
		double		p = k < 10 ? -1.0 : 2.0 * k;
		double		wa = lms_poll_next_wait(&a, &ra, t, p);
		double		wb = lms_poll_next_wait(&b, &rb, t, p);
		double		wc = lms_poll_next_wait(&c, &rc, t, p);

		if (wa != wb)
			same = false;
		if (wa != wc)
			differ = true;
		t += wa;
	}
	UNIT_CHECK(same, "same seed, same waits");
	UNIT_CHECK(differ, "another seed, other waits");
}

/* A job with linear progress is seen soon after it ends, with few checks. */
static void
test_poll_progress_linear(void)
{
	static const double finishes[] = {
		5000.0, 12000.0, 30000.0, 47000.0, 120000.0, 333000.0, 600000.0
	};
	int			i;

	for (i = 0; i < (int) (sizeof(finishes) / sizeof(finishes[0])); i++)
	{
		double		finish = finishes[i];
		double		allowed = 0.1 * finish > INITIAL_MS ? 0.1 * finish :
			INITIAL_MS;
		double		worst = 0.0;
		double		checks_sum = 0.0;
		double		latency_sum = 0.0;
		double		plain_sum = 0.0;
		uint64_t	seed;

		for (seed = 1; seed <= 100; seed++)
		{
			LmsPollSchedule s;
			LmsRng		rng;
			double		latency;
			double		t;

			checks_sum += run_job(finish, 0.0, false, seed, &latency);
			latency_sum += latency;
			if (latency > worst)
				worst = latency;

			/* the same job without progress, for comparison */
			lms_rng_seed(&rng, seed);
			lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
			t = lms_poll_first_wait(&s, &rng);
			while (t < finish)
				t += lms_poll_next_wait(&s, &rng, t, -1.0);
			plain_sum += t - finish;
		}
		/* plus the jitter of the last, aimed wait (at most 5% late) */
		UNIT_CHECK(worst <= allowed * 1.05,
				   "finish %.0f ms: seen up to %.0f ms late (allowed %.0f)",
				   finish, worst, allowed);
		UNIT_CHECK(latency_sum < plain_sum,
				   "finish %.0f ms: mean latency %.0f ms, without progress %.0f",
				   finish, latency_sum / 100, plain_sum / 100);
		if (finish >= 30000.0)
		{
			double		fixed5 = ceil(finish / 5000.0);

			UNIT_CHECK(checks_sum / 100 < fixed5,
					   "finish %.0f ms: %.1f checks, polling every 5 s: %.0f",
					   finish, checks_sum / 100, fixed5);
		}
	}

	/* a mean latency well under a second for a two-minute job */
	{
		double		sum = 0.0;
		uint64_t	seed;

		for (seed = 1; seed <= 200; seed++)
		{
			double		latency;

			(void) run_job(120000.0, 0.0, false, seed, &latency);
			sum += latency;
		}
		UNIT_CHECK(sum / 200 < 1000.0, "2 min job: mean latency %.0f ms",
				   sum / 200);
	}

	/* fractional readings (Progress API floats) are even more precise */
	{
		double		worst = 0.0;
		uint64_t	seed;

		for (seed = 1; seed <= 100; seed++)
		{
			double		latency;

			(void) run_job(600000.0, 0.0, true, seed, &latency);
			if (latency > worst)
				worst = latency;
		}
		UNIT_CHECK(worst <= 1.05 * 2.0 * INITIAL_MS,
				   "fractional progress: up to %.0f ms late", worst);
	}

	/* a job that sat queued before progressing is not overshot */
	{
		double		worst = 0.0;
		uint64_t	seed;

		for (seed = 1; seed <= 100; seed++)
		{
			double		latency;

			(void) run_job(30000.0, 9000.0, false, seed, &latency);
			if (latency > worst)
				worst = latency;
		}
		UNIT_CHECK(worst <= 3000.0, "queued 9 s of 30 s: up to %.0f ms late",
				   worst);
	}
}

/* The waits of a job with progress in detail. */
static void
test_poll_progress_waits(void)
{
	LmsPollSchedule s;
	LmsRng		rng;
	double		w;
	int			i;

	/* 1% after 6 s, 10% at 60 s: the finish is ~540 s away, wait ~max */
	lms_rng_seed(&rng, 11);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_first_wait(&s, &rng);
	w = lms_poll_next_wait(&s, &rng, 6000.0, 1.0);
	UNIT_CHECK(w <= 1.2 * s.max_ms, "single reading: %.0f", w);
	w = lms_poll_next_wait(&s, &rng, 60000.0, 10.0);
	UNIT_CHECK(w >= 0.8 * MAX_MS && w <= 1.2 * MAX_MS,
			   "far finish: wait %.0f, about poll_max", w);
	UNIT_CHECK(s.have_progress && s.first_progress == 1.0 &&
			   s.last_progress == 10.0 && s.last_ms == 60000.0,
			   "readings remembered");

	/*
	 * Near the estimated finish the wait aims at it, and its jitter only
	 * delays: over many seeds, no wait is shorter than the un-jittered aim
	 * and none more than 5% longer.  Readings 20% at 20 s and 80% at 80 s
	 * put the finish near 100 s.
	 */
	{
		LmsPollSchedule ref;
		LmsRng		r0;
		double		aim;
		double		lo = 1e300;
		double		hi = 0.0;
		uint64_t	seed;

		lms_poll_init(&ref, INITIAL_MS, MAX_MS, FACTOR);
		ref.jitter = 0.0;
		lms_rng_seed(&r0, 1);
		(void) lms_poll_next_wait(&ref, &r0, 20000.0, 20.0);
		aim = lms_poll_next_wait(&ref, &r0, 80000.0, 80.0);
		UNIT_CHECK(80000.0 + aim > 95000.0 && 80000.0 + aim < 101000.0,
				   "aimed at %.0f, finish at about 100000", 80000.0 + aim);

		for (seed = 1; seed <= 1000; seed++)
		{
			LmsPollSchedule js;
			LmsRng		r;

			lms_rng_seed(&r, seed);
			lms_poll_init(&js, INITIAL_MS, MAX_MS, FACTOR);
			(void) lms_poll_next_wait(&js, &r, 20000.0, 20.0);
			w = lms_poll_next_wait(&js, &r, 80000.0, 80.0);
			if (w < lo)
				lo = w;
			if (w > hi)
				hi = w;
		}
		UNIT_CHECK(lo >= aim - EPS, "aimed wait never early: %.1f < %.1f",
				   lo, aim);
		UNIT_CHECK(hi <= aim * 1.05 + EPS && hi > aim * 1.03,
				   "late jitter within 5%%: %.1f vs %.1f", hi, aim);
	}

	/* a wait is never below poll_initial, even right at the finish */
	lms_rng_seed(&rng, 5);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_next_wait(&s, &rng, 10000.0, 10.0);
	w = lms_poll_next_wait(&s, &rng, 99000.0, 99.0);
	UNIT_CHECK(w >= INITIAL_MS && w <= 1.05 * INITIAL_MS,
			   "near the end: wait %.0f", w);

	/*
	 * The same value again, while the job may still be finishing, is
	 * rounding: the next check stays close.
	 */
	for (i = 0; i < 3; i++)
	{
		double		now = 99000.0 + 1000.0 * (i + 1);

		w = lms_poll_next_wait(&s, &rng, now, 99.0);
		UNIT_CHECK(w >= INITIAL_MS * 0.8 && w <= 1.2 * 2250.0,
				   "repeat %d of 99%%: wait %.0f", i, w);
	}
	UNIT_CHECK(s.last_ms == 99000.0, "a repeat keeps when 99%% first appeared");
}

/* Without progress (or with 0), the waits are the geometric ones exactly. */
static void
test_poll_no_progress(void)
{
	LmsPollSchedule a;
	LmsPollSchedule b;
	LmsPollSchedule c;
	LmsRng		ra;
	LmsRng		rb;
	LmsRng		rc;
	bool		same = true;
	double		t = 0.0;
	int			k;

	lms_rng_seed(&ra, 99);
	lms_rng_seed(&rb, 99);
	lms_rng_seed(&rc, 99);
	lms_poll_init(&a, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_init(&b, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_init(&c, INITIAL_MS, MAX_MS, FACTOR);
	t = lms_poll_first_wait(&a, &ra);
	(void) lms_poll_first_wait(&b, &rb);
	(void) lms_poll_first_wait(&c, &rc);
	for (k = 0; k < 25; k++)
	{
		double		wa = lms_poll_next_wait(&a, &ra, t, -1.0);
		double		wb = lms_poll_next_wait(&b, &rb, t, 0.0);
		double		wc = lms_poll_next_wait(&c, &rc, t, NAN);

		if (wa != wb || wa != wc)
			same = false;
		t += wa;
	}
	UNIT_CHECK(same, "no progress, progress 0 and NaN: the same waits");
	UNIT_CHECK(!a.have_progress && !b.have_progress && !c.have_progress,
			   "nothing to estimate from");

	/* a ten-minute job without progress: one check per ~30 s once wide */
	{
		double		latency;
		int			checks = 0;
		LmsRng		r;
		LmsPollSchedule s;

		lms_rng_seed(&r, 1);
		lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
		t = lms_poll_first_wait(&s, &r);
		for (checks = 1; t < 600000.0; checks++)
			t += lms_poll_next_wait(&s, &r, t, -1.0);
		latency = t - 600000.0;
		UNIT_CHECK(checks >= 20 && checks <= 32, "10 min job: %d checks",
				   checks);
		UNIT_CHECK(latency <= 1.2 * MAX_MS, "10 min job: %.0f ms late",
				   latency);
	}
}

/* Progress that drops, stalls or reaches 100 uses the geometric schedule. */
static void
test_poll_progress_fallback(void)
{
	LmsPollSchedule s;
	LmsRng		rng;
	double		w;
	double		b;
	double		t;
	int			k;

	/* a drop restarts the history and waits the geometric width */
	lms_rng_seed(&rng, 21);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_first_wait(&s, &rng);
	(void) lms_poll_next_wait(&s, &rng, 1000.0, 10.0);
	(void) lms_poll_next_wait(&s, &rng, 2500.0, 30.0);
	(void) lms_poll_next_wait(&s, &rng, 4750.0, 50.0);
	b = s.base_ms;
	w = lms_poll_next_wait(&s, &rng, 8000.0, 20.0);
	UNIT_CHECK(w >= 0.8 * b && w <= 1.2 * b,
			   "after a drop: wait %.0f, width %.0f", w, b);
	UNIT_CHECK(s.have_progress && s.first_progress == 20.0 &&
			   s.first_ms == 8000.0 && s.last_progress == 20.0,
			   "history restarted at the drop");
	UNIT_CHECK(s.base_ms == (b * FACTOR < MAX_MS ? b * FACTOR : MAX_MS),
			   "width keeps growing");

	/* progress 100 on an unfinished job: short geometric waits again */
	lms_rng_seed(&rng, 22);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_first_wait(&s, &rng);
	t = 1000.0;
	for (k = 0; k < 12; k++)
	{
		t += lms_poll_next_wait(&s, &rng, t, -1.0);
	}
	UNIT_CHECK(s.base_ms == MAX_MS, "width at the cap before progress");
	(void) lms_poll_next_wait(&s, &rng, t, 90.0);
	t += 20000.0;
	(void) lms_poll_next_wait(&s, &rng, t, 99.0);
	t += 5000.0;
	w = lms_poll_next_wait(&s, &rng, t, 100.0);
	UNIT_CHECK(w >= 0.8 * INITIAL_MS && w <= 1.2 * INITIAL_MS,
			   "at 100%%: wait %.0f restarts at poll_initial", w);
	UNIT_CHECK(!s.have_progress, "100%% leaves progress mode");
	w = lms_poll_next_wait(&s, &rng, t + w, 100.0);
	UNIT_CHECK(w >= 0.8 * INITIAL_MS * FACTOR && w <= 1.2 * INITIAL_MS * FACTOR,
			   "then grows: wait %.0f", w);

	/*
	 * A stall: steady progress to 50% by 50 s, then nothing.  The checks
	 * fall back to geometric waits that widen with the stall, capped at
	 * max, never below initial.
	 */
	{
		double		prev = 0.0;
		bool		bounded = true;
		bool		widened = false;

		lms_rng_seed(&rng, 23);
		lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
		t = lms_poll_first_wait(&s, &rng);
		while (t < 50000.0)
			t += lms_poll_next_wait(&s, &rng, t, floor(t / 1000.0));
		for (k = 0; k < 40; k++)
		{
			w = lms_poll_next_wait(&s, &rng, t, 49.0);
			if (w < 0.8 * INITIAL_MS || w > 1.2 * MAX_MS)
				bounded = false;
			if (k > 5 && w > 1.5 * prev && w > 2.0 * INITIAL_MS)
				widened = true;
			prev = w;
			t += w;
		}
		UNIT_CHECK(bounded, "stalled waits within [initial, max] +- jitter");
		UNIT_CHECK(widened, "stalled waits widen");
		UNIT_CHECK(w >= 0.8 * MAX_MS, "a long stall ends at poll_max: %.0f",
				   w);
	}
}

/* A job without progress ending at finish_ms, learned from n runs. */
static int
run_learned(double finish_ms, const LmsLearnedRun *runs, int n,
			uint64_t seed, double *latency, LmsLearnedRun *seen)
{
	LmsPollSchedule s;
	LmsRng		rng;
	double		t;
	int			checks = 1;

	lms_rng_seed(&rng, seed);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_learn(&s, runs, n);
	t = lms_poll_first_wait(&s, &rng);
	while (t < finish_ms && checks < 100000)
	{
		t += lms_poll_next_wait(&s, &rng, t, -1.0);
		checks++;
	}
	if (seen)
		lms_poll_finished(&s, t, seen);
	*latency = t - finish_ms;
	return checks;
}

/* Fewer than LMS_LEARN_MIN runs (or none usable): today's schedule, exactly. */
static void
test_learned_none(void)
{
	LmsLearnedRun one[1] = {{600000.0, 1000.0, {0}}};
	LmsLearnedRun junk[3] = {{-5.0, 1.0, {0}}, {NAN, 1.0, {0}}, {600000.0, 1.0, {0}}};
	LmsPollSchedule a;
	LmsPollSchedule b;
	LmsPollSchedule c;
	LmsRng		ra;
	LmsRng		rb;
	LmsRng		rc;
	bool		same;
	double		t;
	int			k;

	lms_rng_seed(&ra, 31);
	lms_rng_seed(&rb, 31);
	lms_rng_seed(&rc, 31);
	lms_poll_init(&a, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_init(&b, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_init(&c, INITIAL_MS, MAX_MS, FACTOR);
	UNIT_CHECK(lms_poll_learn(&b, one, 1) == 0, "one run is no history");
	UNIT_CHECK(lms_poll_learn(&c, junk, 3) == 0, "unusable runs are ignored");
	UNIT_CHECK(lms_poll_learn(&c, NULL, 0) == 0, "no runs");
	t = lms_poll_first_wait(&a, &ra);
	same = t == lms_poll_first_wait(&b, &rb) && t == lms_poll_first_wait(&c, &rc);
	for (k = 0; k < 40; k++)
	{
		double		p = k < 20 ? -1.0 : 3.0 * (k - 20);
		double		wa = lms_poll_next_wait(&a, &ra, t, p);

		if (wa != lms_poll_next_wait(&b, &rb, t, p) ||
			wa != lms_poll_next_wait(&c, &rc, t, p))
			same = false;
		t += wa;
	}
	UNIT_CHECK(same, "without history every wait is today's");
	UNIT_CHECK(b.learned_runs == 0 && !b.learned_active, "nothing learned");
}

/* The learned window and the waits in, before and after it. */
static void
test_learned_window(void)
{
	LmsLearnedRun runs[LMS_LEARN_RUNS] = {{0}};
	LmsPollSchedule s;
	LmsRng		rng;
	double		shortest = 1e300;
	double		longest = 0.0;
	double		t;
	double		w;
	double		prev;
	bool		in_bounds = true;
	bool		at_end = false;
	int			i;
	int			widening = 0;

	/* eight runs of 10 min +-10%, each known to within 2 s */
	for (i = 0; i < LMS_LEARN_RUNS; i++)
	{
		runs[i].duration_ms = 540000.0 + 120000.0 * ((i * 5) % 8) / 7.0;
		runs[i].spread_ms = 2000.0;
		if (runs[i].duration_ms < shortest)
			shortest = runs[i].duration_ms;
		if (runs[i].duration_ms > longest)
			longest = runs[i].duration_ms;
	}
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	UNIT_CHECK(lms_poll_learn(&s, runs, LMS_LEARN_RUNS) == LMS_LEARN_RUNS,
			   "eight runs learned");
	UNIT_CHECK(s.learn_lo_ms < shortest - 2000.0 &&
			   s.learn_lo_ms > shortest - 2000.0 - 2.0 * 120000.0 / 7.0,
			   "lo %.0f just below the shortest run %.0f", s.learn_lo_ms,
			   shortest);
	UNIT_CHECK(s.learn_hi_ms > longest + 2000.0 &&
			   s.learn_hi_ms < longest + 2000.0 + 2.0 * 120000.0 / 7.0,
			   "hi %.0f just above the longest run %.0f", s.learn_hi_ms,
			   longest);
	UNIT_CHECK(fabs(s.learn_expected_ms - 600000.0) < 120000.0 / 7.0,
			   "expected finish %.0f is the median", s.learn_expected_ms);
	UNIT_CHECK(s.dense_ms >= INITIAL_MS && s.dense_ms <= 5000.0,
			   "dense spacing %.0f", s.dense_ms);

	/* the first check: just before lo, never after (any seed) */
	for (i = 1; i <= 500; i++)
	{
		LmsPollSchedule js = s;

		lms_rng_seed(&rng, (uint64_t) i);
		w = lms_poll_first_wait(&js, &rng);
		if (w > js.learn_lo_ms - js.learn_reach_ms + EPS ||
			w < js.learn_lo_ms - js.learn_reach_ms - 0.2 * js.dense_ms - EPS)
			in_bounds = false;
	}
	UNIT_CHECK(in_bounds, "first wait within [lo - jitter, lo]");

	/* a job slower than ever: dense in the window, then widening again */
	lms_rng_seed(&rng, 41);
	t = lms_poll_first_wait(&s, &rng);
	in_bounds = true;
	while (t < s.learn_hi_ms)
	{
		w = lms_poll_next_wait(&s, &rng, t, -1.0);
		if (t >= s.learn_lo_ms &&
			(w > 1.2 * s.dense_ms + EPS || w < INITIAL_MS - EPS))
			in_bounds = false;
		t += w;
		/* at the end exactly, unless that was closer than poll_initial */
		if (fabs(t - s.learn_hi_ms) < 1e-6 ||
			(t > s.learn_hi_ms && w <= INITIAL_MS + EPS))
			at_end = true;
	}
	UNIT_CHECK(in_bounds, "waits within the window at most the dense spacing");
	UNIT_CHECK(at_end, "the last check of the window is at its end");
	UNIT_CHECK(s.learned_active, "still learned at the window's end");
	prev = 0.0;
	for (i = 0; i < 20; i++)
	{
		w = lms_poll_next_wait(&s, &rng, t, -1.0);
		if (i > 0 && w > prev)
			widening++;
		prev = w;
		t += w;
	}
	UNIT_CHECK(!s.learned_active, "past the window: today's schedule");
	UNIT_CHECK(widening >= 5, "the waits widen again (%d of 19 grew)",
			   widening);
	UNIT_CHECK(w >= 0.8 * MAX_MS && w <= 1.2 * MAX_MS,
			   "and reach poll_max: %.0f", w);

	/* only the last LMS_LEARN_RUNS runs count */
	{
		LmsLearnedRun many[LMS_LEARN_RUNS + 4] = {{0}};

		for (i = 0; i < LMS_LEARN_RUNS + 4; i++)
		{
			many[i].duration_ms = i < 4 ? 5000.0 : 60000.0;
			many[i].spread_ms = 500.0;
		}
		lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
		UNIT_CHECK(lms_poll_learn(&s, many, LMS_LEARN_RUNS + 4) ==
				   LMS_LEARN_RUNS, "at most %d runs", LMS_LEARN_RUNS);
		UNIT_CHECK(s.learn_lo_ms > 50000.0, "old runs forgotten: lo %.0f",
				   s.learn_lo_ms);
	}
}

/* What a job seen done is remembered as. */
static void
test_learned_finished(void)
{
	LmsPollSchedule s;
	LmsLearnedRun run;
	LmsLearnedRun runs[2] = {{10000.0, 100.0, {0}}, {10000.0, 100.0, {0}}};
	LmsRng		rng;

	lms_rng_seed(&rng, 1);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_first_wait(&s, &rng);
	(void) lms_poll_next_wait(&s, &rng, 1000.0, -1.0);
	(void) lms_poll_next_wait(&s, &rng, 2500.0, -1.0);
	lms_poll_finished(&s, 4750.0, &run);
	UNIT_CHECK(run.duration_ms == 3625.0 && run.spread_ms == 1125.0,
			   "between the last two checks: %.0f +- %.0f", run.duration_ms,
			   run.spread_ms);

	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_finished(&s, 1000.0, &run);
	UNIT_CHECK(run.duration_ms == 500.0 && run.spread_ms == 500.0,
			   "done at the first check: since the start");

	/* done at a learned first check: faster than ever, by a margin */
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_learn(&s, runs, 2);
	lms_poll_finished(&s, 9500.0, &run);
	UNIT_CHECK(run.duration_ms < 9500.0 && run.duration_ms >= 9500.0 - s.dense_ms &&
			   run.duration_ms - run.spread_ms >= 0.0,
			   "faster than ever: %.0f +- %.0f", run.duration_ms,
			   run.spread_ms);
}

/*
 * Repeated jobs learn from each other: a +-10% ten-minute job is seen far
 * sooner than today with no more checks, and a job of fixed length takes a
 * handful of checks once the rough first runs have left the history.
 */
static void
test_learned_repeats(void)
{
	LmsLearnedRun history[64];
	LmsRng		draw;
	double		checks[2] = {0, 0};
	double		late[2] = {0, 0};
	int			measured = 0;
	int			i;

	lms_rng_seed(&draw, 2024);
	for (i = 0; i < 48; i++)
	{
		double		finish = 600000.0 * (1.0 + 0.1 * (2.0 * lms_rng_uniform(&draw) - 1.0));
		int			from = i > LMS_LEARN_RUNS ? i - LMS_LEARN_RUNS : 0;
		double		latency;
		int			c;

		c = run_learned(finish, history + from, i - from, 100 + i, &latency,
						&history[i]);
		if (i < LMS_LEARN_RUNS)
			continue;
		measured++;
		checks[0] += c;
		late[0] += latency;
		checks[1] += run_learned(finish, NULL, 0, 100 + i, &latency, NULL);
		late[1] += latency;
	}
	UNIT_CHECK(checks[0] <= checks[1], "10 min +-10%%: %.1f checks, today %.1f",
			   checks[0] / measured, checks[1] / measured);
	UNIT_CHECK(late[0] < 0.25 * late[1] && late[0] / measured < 3000.0,
			   "10 min +-10%%: %.0f ms late on average, today %.0f",
			   late[0] / measured, late[1] / measured);
	UNIT_CHECK(checks[0] / measured < 600000.0 / 5000.0 / 4.0,
			   "a quarter of fixed 5 s polling's checks");

	/*
	 * A job of fixed length: once the two rough runs of today's schedule
	 * have left the history, a check or two before the end, one after.
	 */
	{
		LmsLearnedRun fixed[64];
		int			first_two = 0;
		int			worst = 0;
		double		worst_late = 0.0;

		for (i = 0; i < 24; i++)
		{
			int			from = i > LMS_LEARN_RUNS ? i - LMS_LEARN_RUNS : 0;
			double		latency;
			int			c;

			c = run_learned(90000.0, fixed + from, i - from, 7 + i, &latency,
							&fixed[i]);
			if (i < 2)
				first_two += c;
			if (i >= LMS_LEARN_RUNS + 2 && c > worst)
				worst = c;
			if (i >= LMS_LEARN_RUNS + 2 && latency > worst_late)
				worst_late = latency;
		}
		UNIT_CHECK(first_two >= 16, "fixed 90 s job: %d checks in the first "
				   "two runs", first_two);
		UNIT_CHECK(worst <= 5, "then at most %d checks", worst);
		UNIT_CHECK(worst_late <= 1.2 * 3200.0, "and at most %.0f ms late",
				   worst_late);
	}
}

/* Progress, when the status has it, is followed rather than history. */
static void
test_learned_progress(void)
{
	LmsLearnedRun runs[3] = {{100000.0, 500.0, {0}}, {101000.0, 500.0, {0}},
	{99000.0, 500.0, {0}}};
	LmsPollSchedule a;
	LmsPollSchedule b;
	LmsRng		ra;
	LmsRng		rb;
	double		wa;
	double		wb;

	lms_poll_init(&a, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_init(&b, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_learn(&b, runs, 3);
	lms_rng_seed(&ra, 8);
	lms_rng_seed(&rb, 8);
	(void) lms_poll_first_wait(&a, &ra);
	(void) lms_poll_first_wait(&b, &rb);
	(void) lms_poll_next_wait(&a, &ra, 20000.0, 20.0);
	(void) lms_poll_next_wait(&b, &rb, 20000.0, 20.0);
	wa = lms_poll_next_wait(&a, &ra, 80000.0, 80.0);
	wb = lms_poll_next_wait(&b, &rb, 80000.0, 80.0);
	UNIT_CHECK(wa == wb, "two readings aim the same with or without history: "
			   "%.0f vs %.0f", wa, wb);
	UNIT_CHECK(fabs(lms_poll_expected_ms(&b) - 100000.0) < 2000.0,
			   "expected finish from progress: %.0f", lms_poll_expected_ms(&b));
	wb = lms_poll_next_wait(&b, &rb, 80000.0 + wb, -1.0);
	UNIT_CHECK(wb <= 1.2 * b.dense_ms, "a status without progress: learned "
			   "window (%.0f)", wb);

	/* expected finish: history without progress, nothing without either */
	lms_poll_init(&b, INITIAL_MS, MAX_MS, FACTOR);
	UNIT_CHECK(lms_poll_expected_ms(&b) < 0.0, "no estimate without either");
	(void) lms_poll_learn(&b, runs, 3);
	UNIT_CHECK(lms_poll_expected_ms(&b) == 100000.0,
			   "expected finish: the median run, %.0f", lms_poll_expected_ms(&b));
}

/*
 * How progress advanced: remembered per quartile, and used to tell when a
 * job whose progress is front-loaded should end.
 */
static void
test_learned_progress_curve(void)
{
	LmsLearnedRun runs[3];
	LmsLearnedRun run;
	LmsPollSchedule a;
	LmsPollSchedule b;
	LmsRng		rng;
	int			i;

	/* a run seen at 25% at 10 s, 50% at 20 s, 90% at 90 s, done by 100 s */
	lms_rng_seed(&rng, 3);
	lms_poll_init(&a, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_first_wait(&a, &rng);
	(void) lms_poll_next_wait(&a, &rng, 10000.0, 25.0);
	(void) lms_poll_next_wait(&a, &rng, 20000.0, 50.0);
	(void) lms_poll_next_wait(&a, &rng, 90000.0, 90.0);
	(void) lms_poll_next_wait(&a, &rng, 99000.0, 99.0);
	lms_poll_finished(&a, 101000.0, &run);
	UNIT_CHECK(run.duration_ms == 100000.0, "run %.0f", run.duration_ms);
	UNIT_CHECK(fabs(run.progress_at[0] - 0.1) < EPS &&
			   fabs(run.progress_at[1] - 0.2) < EPS &&
			   fabs(run.progress_at[2] - 0.9) < EPS,
			   "quartiles first seen at %.2f %.2f %.2f of the run",
			   run.progress_at[0], run.progress_at[1], run.progress_at[2]);

	/* without progress nothing is remembered of it */
	lms_poll_init(&b, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_next_wait(&b, &rng, 5000.0, -1.0);
	lms_poll_finished(&b, 8000.0, &run);
	UNIT_CHECK(run.progress_at[0] == 0.0 && run.progress_at[1] == 0.0 &&
			   run.progress_at[2] == 0.0, "no progress, no quartiles");

	/* three such runs: a job at 50% after 30 s should end at 150 s */
	for (i = 0; i < 3; i++)
	{
		runs[i].duration_ms = 100000.0 + 1000.0 * i;
		runs[i].spread_ms = 500.0;
		runs[i].progress_at[0] = 0.1;
		runs[i].progress_at[1] = 0.2;
		runs[i].progress_at[2] = 0.9;
	}
	lms_poll_init(&a, INITIAL_MS, MAX_MS, FACTOR);
	lms_poll_init(&b, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_learn(&a, runs, 3);
	UNIT_CHECK(fabs(a.learn_progress_at[1] - 0.2) < EPS, "median quartile %.2f",
			   a.learn_progress_at[1]);
	(void) lms_poll_next_wait(&a, &rng, 15000.0, 25.0);
	(void) lms_poll_next_wait(&a, &rng, 30000.0, 50.0);
	(void) lms_poll_next_wait(&b, &rng, 15000.0, 25.0);
	(void) lms_poll_next_wait(&b, &rng, 30000.0, 50.0);
	UNIT_CHECK(fabs(lms_poll_expected_ms(&a) - 150000.0) < EPS,
			   "as past runs advanced: %.0f", lms_poll_expected_ms(&a));
	UNIT_CHECK(lms_poll_expected_ms(&b) < 70000.0,
			   "from the rate alone it looks nearer: %.0f",
			   lms_poll_expected_ms(&b));

	/* one run that reported progress is not enough */
	runs[1].progress_at[1] = runs[2].progress_at[1] = 0.0;
	lms_poll_init(&a, INITIAL_MS, MAX_MS, FACTOR);
	(void) lms_poll_learn(&a, runs, 3);
	UNIT_CHECK(a.learn_progress_at[1] == 0.0 && a.learn_progress_at[0] > 0.0,
			   "a quartile from fewer than two runs is unknown");
}

static void
test_backoff(void)
{
	LmsRng		rng;
	int			attempt;
	int			bad = 0;

	lms_rng_seed(&rng, 31);
	for (attempt = 0; attempt <= 10; attempt++)
	{
		double		ceiling = 1000.0 * pow(2.0, attempt);
		double		sum = 0.0;
		double		top = 0.0;
		int			i;

		if (ceiling > 60000.0)
			ceiling = 60000.0;
		for (i = 0; i < 20000; i++)
		{
			double		w = lms_backoff_ms(&rng, attempt, 1000.0, 60000.0);

			if (w < 0.0 || w >= ceiling)
				bad++;
			sum += w;
			if (w > top)
				top = w;
		}
		UNIT_CHECK(fabs(sum / 20000 - ceiling / 2) < 0.02 * ceiling,
				   "attempt %d: mean %.0f, half of %.0f", attempt,
				   sum / 20000, ceiling);
		UNIT_CHECK(top > 0.99 * ceiling, "attempt %d: top %.0f of %.0f",
				   attempt, top, ceiling);
	}
	UNIT_CHECK(bad == 0, "%d backoffs outside [0, ceiling)", bad);

	/* uniform: ten equal bins get about a tenth each */
	{
		int			bins[10] = {0};
		int			i;
		bool		flat = true;

		for (i = 0; i < 100000; i++)
		{
			double		w = lms_backoff_ms(&rng, 3, 1000.0, 60000.0);

			bins[(int) (w / 800.0)]++;
		}
		for (i = 0; i < 10; i++)
			if (bins[i] < 9300 || bins[i] > 10700)
				flat = false;
		UNIT_CHECK(flat, "full jitter is uniform (bin 0: %d)", bins[0]);
	}

	/* large and odd attempt numbers saturate at the cap, no overflow */
	{
		static const int attempts[] = {31, 62, 63, 64, 1000, 1024, 100000,
		INT_MAX};
		bool		ok = true;
		double		top = 0.0;
		int			i;
		int			j;

		for (i = 0; i < (int) (sizeof(attempts) / sizeof(attempts[0])); i++)
			for (j = 0; j < 1000; j++)
			{
				double		w = lms_backoff_ms(&rng, attempts[i], 1000.0,
											   60000.0);

				if (!(w >= 0.0 && w < 60000.0))
					ok = false;
				if (w > top)
					top = w;
			}
		UNIT_CHECK(ok && top > 59000.0, "large attempts: up to %.0f", top);
	}
	for (attempt = 0; attempt < 100; attempt++)
	{
		double		w = lms_backoff_ms(&rng, -5, 1000.0, 60000.0);

		if (w < 0.0 || w >= 1000.0)
			bad++;
	}
	UNIT_CHECK(bad == 0, "a negative attempt counts as 0");
	UNIT_CHECK(lms_backoff_ms(&rng, 3, 0.0, 60000.0) == 0.0, "base 0");
	UNIT_CHECK(lms_backoff_ms(&rng, 3, 1000.0, 0.0) == 0.0, "cap 0");
	UNIT_CHECK(lms_backoff_ms(&rng, 6, 1000.0, 5000.0) < 5000.0,
			   "cap below base * 2^n");
}

static void
test_retry_after(void)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT */
	time_t		date = utc(1994, 11, 6, 8, 49, 37);
	time_t		now = date - 30;
	/*
	 * Dates go through libcurl's parser, which is lenient about the
	 * spelling of a date (a missing zone, a two-digit year, a lone day
	 * digit): that is fine for a client.  What is not a date at all must
	 * be refused.
	 */
	static const char *const junk[] = {
		"", "   ", "\t", "-1", "-0", "+5", "abc", "5s", "5 s", "1.", ".5",
		"1.5.2", "0x10", "1e3",
		"Sun, 06 Foo 1994 08:49:37 GMT",
		"tomorrow",
	};
	/* accepted spellings of the same moment */
	static const char *const lenient[] = {
		"Sun, 06 Nov 1994 08:49:37",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",
	};
	int			i;

	UNIT_CHECK(lms_retry_after_ms(NULL, now) == -1.0, "NULL");
	for (i = 0; i < (int) (sizeof(junk) / sizeof(junk[0])); i++)
		UNIT_CHECK(lms_retry_after_ms(junk[i], now) == -1.0,
				   "junk \"%s\": %g", junk[i],
				   lms_retry_after_ms(junk[i], now));
	for (i = 0; i < (int) (sizeof(lenient) / sizeof(lenient[0])); i++)
		UNIT_CHECK(lms_retry_after_ms(lenient[i], now) == 30000.0,
				   "lenient \"%s\": %g", lenient[i],
				   lms_retry_after_ms(lenient[i], now));

	/* delta-seconds */
	UNIT_CHECK(lms_retry_after_ms("0", now) == 0.0, "0");
	UNIT_CHECK(lms_retry_after_ms("120", now) == 120000.0, "120");
	UNIT_CHECK(lms_retry_after_ms("007", now) == 7000.0, "007");
	UNIT_CHECK(lms_retry_after_ms(" 5 ", now) == 5000.0, "spaces around");
	UNIT_CHECK(lms_retry_after_ms("\t5", now) == 5000.0, "tab before");
	UNIT_CHECK(fabs(lms_retry_after_ms("1.5", now) - 1500.0) < EPS, "1.5");
	UNIT_CHECK(fabs(lms_retry_after_ms("0.25", now) - 250.0) < EPS, "0.25");
	UNIT_CHECK(lms_retry_after_ms("86400", now) == 86400000.0, "a day");
	UNIT_CHECK(lms_retry_after_ms("99999999999999999999", now) > 9e22,
			   "huge stays positive");

	/* the three HTTP-date forms of the same moment, 30 s from now */
	UNIT_CHECK(lms_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now) ==
			   30000.0, "IMF-fixdate");
	UNIT_CHECK(lms_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", now) ==
			   30000.0, "RFC 850");
	UNIT_CHECK(lms_retry_after_ms("Sun Nov  6 08:49:37 1994", now) ==
			   30000.0, "asctime");
	UNIT_CHECK(lms_retry_after_ms("Sun Nov 16 08:49:37 1994", now) ==
			   30000.0 + 10 * 86400000.0, "asctime, two-digit day");
	UNIT_CHECK(lms_retry_after_ms(" Sun, 06 Nov 1994 08:49:37 GMT ", now) ==
			   30000.0, "date with spaces around");

	/* past dates, and now itself, are 0 */
	UNIT_CHECK(lms_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT",
								  date + 3600) == 0.0, "past IMF-fixdate");
	UNIT_CHECK(lms_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT",
								  date + 1) == 0.0, "past RFC 850");
	UNIT_CHECK(lms_retry_after_ms("Sun Nov  6 08:49:37 1994", date) == 0.0,
			   "asctime, exactly now");

	/* days-from-civil agrees with the C library across years */
	{
		static const int dates[][6] = {
			{1970, 1, 1, 0, 0, 0}, {1999, 12, 31, 23, 59, 59},
			{2000, 2, 29, 12, 0, 0}, {2024, 2, 29, 6, 30, 0},
			{2025, 10, 8, 17, 5, 9}, {2038, 1, 19, 3, 14, 8},
			{2100, 3, 1, 0, 0, 0}
		};
		static const char *const months[] = {
			"Jan", "Feb", "Mar", "Apr", "May", "Jun",
			"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
		};
		time_t		base = utc(1969, 6, 1, 0, 0, 0);

		for (i = 0; i < (int) (sizeof(dates) / sizeof(dates[0])); i++)
		{
			char		buf[64];
			time_t		expect = utc(dates[i][0], dates[i][1], dates[i][2],
									 dates[i][3], dates[i][4], dates[i][5]);

			/* the day name is not checked against the date */
			snprintf(buf, sizeof(buf), "Mon, %02d %s %04d %02d:%02d:%02d GMT",
					 dates[i][2], months[dates[i][1] - 1], dates[i][0],
					 dates[i][3], dates[i][4], dates[i][5]);
			UNIT_CHECK(lms_retry_after_ms(buf, base) ==
					   ((double) expect - (double) base) * 1000.0,
					   "%s: %.0f", buf, lms_retry_after_ms(buf, base));
		}
	}

	/* RFC 850 two-digit years: more than 50 years ahead means the past */
	{
		time_t		now2025 = utc(2025, 6, 1, 0, 0, 0);
		time_t		y2030 = utc(2030, 1, 1, 0, 0, 0);

		UNIT_CHECK(lms_retry_after_ms("Tuesday, 01-Jan-30 00:00:00 GMT",
									  now2025) ==
				   ((double) y2030 - (double) now2025) * 1000.0,
				   "'30 is 2030 in 2025");
		UNIT_CHECK(lms_retry_after_ms("Friday, 01-Jan-99 00:00:00 GMT",
									  now2025) == 0.0,
				   "'99 is 1999 in 2025, in the past");
	}

	/* names are matched without regard to case or locale */
	UNIT_CHECK(lms_retry_after_ms("sun, 06 nov 1994 08:49:37 gmt", now) ==
			   30000.0, "lower case");
}

static void
test_pacer(void)
{
	LmsRatePacer p;

	/* nothing observed yet: no delay */
	lms_pacer_init(&p, 100.0, 10.0);
	UNIT_CHECK(lms_pacer_delay_ms(&p, 0.0) == 0.0, "no observation");
	UNIT_CHECK(!p.have && p.reset_ms < 0.0, "fresh pacer");

	/*
	 * Canvas: 120 left at t=1 s, cost 5.  The next request needs
	 * floor 100 + cost 5 + up-front 50 = 155, i.e. 35 more units, which
	 * leak back at 10/s: 3.5 s.
	 */
	lms_pacer_observe(&p, 1000.0, 120.0, 5.0, -1.0);
	UNIT_CHECK(fabs(lms_pacer_delay_ms(&p, 1000.0) - 3500.0) < EPS,
			   "Canvas delay %.3f", lms_pacer_delay_ms(&p, 1000.0));
	UNIT_CHECK(fabs(lms_pacer_delay_ms(&p, 2000.0) - 2500.0) < EPS,
			   "a second later %.3f", lms_pacer_delay_ms(&p, 2000.0));
	UNIT_CHECK(lms_pacer_delay_ms(&p, 4500.0) == 0.0, "refilled exactly");
	UNIT_CHECK(lms_pacer_delay_ms(&p, 60000.0) == 0.0, "long after");

	/* a throttled reply has no X-Request-Cost: the last cost stands */
	lms_pacer_observe(&p, 10000.0, -10.0, -1.0, -1.0);
	UNIT_CHECK(p.cost == 5.0, "cost kept");
	UNIT_CHECK(fabs(lms_pacer_delay_ms(&p, 10000.0) - 16500.0) < EPS,
			   "negative remaining: %.3f", lms_pacer_delay_ms(&p, 10000.0));
	/* an answer without the headers (NaN) leaves the pacer as it was */
	lms_pacer_observe(&p, 11000.0, NAN, NAN, NAN);
	UNIT_CHECK(p.remaining == -10.0 && p.observed_ms == 10000.0 && p.cost == 5.0,
			   "absent headers ignored");

	/* plenty left: no delay */
	lms_pacer_observe(&p, 20000.0, 598.98, 1.02, -1.0);
	UNIT_CHECK(lms_pacer_delay_ms(&p, 20000.0) == 0.0, "plenty");

	/* exactly at the line: remaining 155.5 - 0.5 - 50 = 105 >= 100 */
	lms_pacer_observe(&p, 30000.0, 155.5, 0.5, -1.0);
	UNIT_CHECK(lms_pacer_delay_ms(&p, 30000.0) == 0.0, "just enough");
	lms_pacer_observe(&p, 30000.0, 150.0, 0.5, -1.0);
	UNIT_CHECK(fabs(lms_pacer_delay_ms(&p, 30000.0) - 50.0) < EPS,
			   "half a unit short: %.3f", lms_pacer_delay_ms(&p, 30000.0));

	/* a different floor and leak */
	lms_pacer_init(&p, 0.0, 2.0);
	lms_pacer_observe(&p, 0.0, 10.0, 20.0, -1.0);
	UNIT_CHECK(fabs(lms_pacer_delay_ms(&p, 0.0) - 30000.0) < EPS,
			   "floor 0, leak 2/s: (20 + 50 - 10) / 2 s = %.3f",
			   lms_pacer_delay_ms(&p, 0.0));

	/* no known refill and no reset: leave it to the retries */
	lms_pacer_init(&p, 100.0, 0.0);
	lms_pacer_observe(&p, 0.0, 0.0, 1.0, -1.0);
	UNIT_CHECK(lms_pacer_delay_ms(&p, 0.0) == 0.0, "no leak rate");

	/*
	 * Brightspace: a window that refills at once.  105 left, cost 10,
	 * floor 100: the next request would dip below, so wait for the reset
	 * 30 s after the observation.
	 */
	lms_pacer_init(&p, 100.0, 10.0);
	lms_pacer_observe(&p, 5000.0, 105.0, 10.0, 30.0);
	UNIT_CHECK(p.reset_ms == 30000.0, "reset in ms");
	UNIT_CHECK(lms_pacer_delay_ms(&p, 5000.0) == 30000.0, "until the reset");
	UNIT_CHECK(lms_pacer_delay_ms(&p, 15000.0) == 20000.0,
			   "10 s later: 20 s");
	UNIT_CHECK(lms_pacer_delay_ms(&p, 35000.0) == 0.0, "at the reset");
	UNIT_CHECK(lms_pacer_delay_ms(&p, 90000.0) == 0.0, "after the reset");

	/* no leak in a window: even much later, the headers say reset */
	lms_pacer_observe(&p, 0.0, 50.0, 10.0, 60.0);
	UNIT_CHECK(lms_pacer_delay_ms(&p, 30000.0) == 30000.0,
			   "window does not leak: %.0f", lms_pacer_delay_ms(&p, 30000.0));

	/* enough in the window: no delay; exactly the floor after is enough */
	lms_pacer_observe(&p, 0.0, 49990.0, 10.0, 42.0);
	UNIT_CHECK(lms_pacer_delay_ms(&p, 0.0) == 0.0, "plenty in the window");
	lms_pacer_observe(&p, 0.0, 110.0, 10.0, 42.0);
	UNIT_CHECK(lms_pacer_delay_ms(&p, 0.0) == 0.0, "exactly the floor left");
	lms_pacer_observe(&p, 0.0, 109.0, 10.0, 42.0);
	UNIT_CHECK(lms_pacer_delay_ms(&p, 0.0) == 42000.0, "one short: %.0f",
			   lms_pacer_delay_ms(&p, 0.0));

	/* a later reply without the reset header is a leaky bucket again */
	lms_pacer_observe(&p, 0.0, 120.0, 5.0, -1.0);
	UNIT_CHECK(p.reset_ms < 0.0 &&
			   fabs(lms_pacer_delay_ms(&p, 0.0) - 3500.0) < EPS,
			   "reset forgotten: %.3f", lms_pacer_delay_ms(&p, 0.0));
}

/* One budget for several senders: reservations and the first answer. */
static void
test_pacer_shared(void)
{
	LmsRatePacer p;
	double		d;

	lms_pacer_init(&p, 0.0, 10.0);
	UNIT_CHECK(lms_pacer_shared_delay_ms(&p, 0.0, 0.0, 0) == 0.0,
			   "nothing seen, nothing in flight: send");
	UNIT_CHECK(lms_pacer_shared_delay_ms(&p, 0.0, 51.0, 1) == LMS_PACER_PROBE_MS,
			   "nothing seen, one in flight: wait for its answer");
	UNIT_CHECK(lms_pacer_reservation(&p) == 51.0,
			   "unknown cost: 1 plus the up-front 50");

	/* 300 left, cost 2: five requests in flight (260 reserved) leave room */
	lms_pacer_observe(&p, 0.0, 300.0, 2.0, -1.0);
	UNIT_CHECK(lms_pacer_reservation(&p) == 52.0, "reservation %.1f",
			   lms_pacer_reservation(&p));
	UNIT_CHECK(lms_pacer_shared_delay_ms(&p, 0.0, 4 * 52.0, 4) == 0.0,
			   "room for a fifth");
	d = lms_pacer_shared_delay_ms(&p, 0.0, 5 * 52.0, 5);
	UNIT_CHECK(d == LMS_PACER_PROBE_MS, "a sixth asks again soon: %.1f", d);
	/* with nothing in flight, the refill alone decides: 12 units at 10/s */
	lms_pacer_observe(&p, 0.0, 40.0, 2.0, -1.0);
	d = lms_pacer_shared_delay_ms(&p, 0.0, 0.0, 0);
	UNIT_CHECK(fabs(d - 1200.0) < EPS && d == lms_pacer_delay_ms(&p, 0.0),
			   "nothing in flight: as one sender, %.1f", d);
	UNIT_CHECK(lms_pacer_shared_delay_ms(&p, 1200.0, 0.0, 0) == 0.0,
			   "refilled");

	/* a reset window: the reservation is the cost alone */
	lms_pacer_init(&p, 0.0, 0.0);
	lms_pacer_observe(&p, 0.0, 100.0, 10.0, 30.0);
	UNIT_CHECK(lms_pacer_reservation(&p) == 10.0, "window reservation");
	UNIT_CHECK(lms_pacer_shared_delay_ms(&p, 0.0, 80.0, 8) == 0.0,
			   "10 left after 8 in flight: one more fits");
	UNIT_CHECK(lms_pacer_shared_delay_ms(&p, 0.0, 100.0, 10) == LMS_PACER_PROBE_MS,
			   "none left: ask again after the answers");
	UNIT_CHECK(lms_pacer_shared_delay_ms(&p, 0.0, 100.0, 0) == 30000.0,
			   "nothing in flight and none left: the reset");
}

int
main(void)
{
	test_rng();
	test_poll_init();
	test_poll_geometric();
	test_poll_reproducible();
	test_poll_progress_linear();
	test_poll_progress_waits();
	test_poll_no_progress();
	test_poll_progress_fallback();
	test_learned_none();
	test_learned_window();
	test_learned_finished();
	test_learned_repeats();
	test_learned_progress();
	test_learned_progress_curve();
	test_backoff();
	test_retry_after();
	test_pacer();
	test_pacer_shared();
	UNIT_DONE("test_schedule");
}
