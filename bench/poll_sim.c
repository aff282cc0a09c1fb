/*-------------------------------------------------------------------------
 *
 * poll_sim.c
 *		  Status checks and detection latency of lms_fdw's poll schedule
 *		  against fixed-interval polling, on a simulated clock
 *
 * Runs the real src/schedule.c: for each job length and trial, the job
 * reports linear progress as a truncated integer percentage (as Canvas
 * reports do) and completes at its finish time; a status check at time t
 * sees the job complete when t >= finish.  Nothing sleeps.  Request latency
 * (the 50-200 ms before a status reply arrives) is ignored for every
 * strategy alike.
 *
 * A fixed-interval poller's latency depends only on where the finish falls
 * between its checks.  Every nominal length here is a multiple of 2 s and
 * 5 s, so with exact finish times fixed polling would see every job the
 * moment it ends, a coincidence no real job offers.  Each trial therefore
 * draws its finish uniformly within +-10% of the nominal length, and all
 * strategies see the same draws; the aligned case is printed as a note.
 *
 * A second part runs repeated exports without progress whose durations
 * vary +-10% or +-50% (uniformly) around 30 s, 2 min, 10 min and 1 h: each
 * sequence runs the export LMS_LEARN_RUNS times to build a history (the
 * first runs on today's schedule, then learned from what the previous runs
 * were seen to take, exactly as the FDW remembers them), then measures the
 * following runs, each learned from the last LMS_LEARN_RUNS.  For the
 * +-10% targets it also prints the best any schedule could do knowing the
 * window exactly (a dynamic programme over check times for a finish
 * uniform in the window), to say why a target is out of reach.
 *
 * The program is a report, not a test: it always exits 0 and prints each
 * target as "met" or "not met (why)" (PASS and FAIL belong to tests).
 *
 * IDENTIFICATION
 *		  bench/poll_sim.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/schedule.h"

#define TRIALS			200
#define SPREAD			0.10	/* finish drawn within +-10% of nominal */
#define INITIAL_MS		1000.0
#define MAX_MS			30000.0
#define FACTOR			1.5
#define CHECK_LIMIT		100000	/* a runaway schedule, not a result */

typedef enum Strategy
{
	S_PROGRESS,
	S_NO_PROGRESS,
	S_FIXED_2S,
	S_FIXED_5S,
	S_COUNT
} Strategy;

static const char *const strategy_names[S_COUNT] = {
	"lms_fdw, progress",
	"lms_fdw, no progress",
	"fixed 2 s",
	"fixed 5 s"
};

typedef struct Tally
{
	double		checks;			/* sum over trials */
	double		latency;		/* sum over trials, ms */
	double		latency_max;	/* ms */
	int			trials;
} Tally;

static const double durations_ms[] = {5000.0, 30000.0, 120000.0, 600000.0};
static const char *const duration_names[] = {"5 s", "30 s", "2 min", "10 min"};
#define N_DURATIONS ((int) (sizeof(durations_ms) / sizeof(durations_ms[0])))

/*
 * Run schedule s (set up, not yet started) on a job ending at finish_ms,
 * reporting linear progress as a truncated integer percentage if progress
 * is set; returns the number of status checks and sets *seen_ms to the
 * check that saw the job done and *first_ms to the first check.
 */
static int
run_schedule(LmsPollSchedule *s, LmsRng *rng, double finish_ms, bool progress,
			 double *seen_ms, double *first_ms)
{
	double		t = lms_poll_first_wait(s, rng);
	int			checks = 0;

	*first_ms = t;
	for (;;)
	{
		double		reported = -1.0;

		checks++;
		if (t >= finish_ms || checks >= CHECK_LIMIT)
			break;
		if (progress)
		{
			reported = floor(100.0 * t / finish_ms);
			if (reported > 99.0)
				reported = 99.0;
		}
		t += lms_poll_next_wait(s, rng, t, reported);
	}
	*seen_ms = t;
	return checks;
}

/*
 * One job under lms_fdw's schedule; returns the number of status checks and
 * sets *latency to the time from the finish to the check that saw it.
 */
static int
simulate_lms(double finish_ms, uint64_t seed, bool progress, double *latency)
{
	LmsPollSchedule s;
	LmsRng		rng;
	double		seen;
	double		first;
	int			checks;

	lms_rng_seed(&rng, seed);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	checks = run_schedule(&s, &rng, finish_ms, progress, &seen, &first);
	*latency = seen - finish_ms;
	return checks;
}

/* One job polled every interval_ms, the first check one interval in. */
static int
simulate_fixed(double finish_ms, double interval_ms, double *latency)
{
	double		t = interval_ms;
	int			checks = 1;

	while (t < finish_ms)
	{
		t += interval_ms;
		checks++;
	}
	*latency = t - finish_ms;
	return checks;
}

static int
simulate(Strategy st, double finish_ms, uint64_t seed, double *latency)
{
	switch (st)
	{
		case S_PROGRESS:
			return simulate_lms(finish_ms, seed, true, latency);
		case S_NO_PROGRESS:
			return simulate_lms(finish_ms, seed, false, latency);
		case S_FIXED_2S:
			return simulate_fixed(finish_ms, 2000.0, latency);
		case S_FIXED_5S:
			return simulate_fixed(finish_ms, 5000.0, latency);
		case S_COUNT:
			break;
	}
	return 0;
}

static void
tally_add(Tally *t, int checks, double latency)
{
	t->checks += checks;
	t->latency += latency;
	if (latency > t->latency_max)
		t->latency_max = latency;
	t->trials++;
}

static double
mean_checks(const Tally *t)
{
	return t->checks / t->trials;
}

static double
mean_latency_s(const Tally *t)
{
	return t->latency / t->trials / 1000.0;
}

/* Run every strategy over the same trials; spread 0 means exact finishes. */
static void
run_all(Tally tally[][S_COUNT], double spread)
{
	int			d;
	int			st;
	int			i;

	for (d = 0; d < N_DURATIONS; d++)
	{
		LmsRng		draw;

		for (st = 0; st < S_COUNT; st++)
			tally[d][st] = (Tally) {0};
		lms_rng_seed(&draw, UINT64_C(0x5eed0000) + (uint64_t) d);
		for (i = 0; i < TRIALS; i++)
		{
			double		finish = durations_ms[d] *
				(1.0 + spread * (2.0 * lms_rng_uniform(&draw) - 1.0));

			for (st = 0; st < S_COUNT; st++)
			{
				double		latency;
				int			checks;

				checks = simulate((Strategy) st, finish,
								  UINT64_C(1000) + (uint64_t) i, &latency);
				tally_add(&tally[d][st], checks, latency);
			}
		}
	}
}

/* ----------------------------------------------------------------
 * Repeated exports: the learned schedule
 * ----------------------------------------------------------------
 */
#define SEQUENCES		40
#define MEASURED_RUNS	25

typedef enum RepeatStrategy
{
	R_LEARNED,
	R_TODAY,
	R_FIXED_5S,
	R_COUNT
} RepeatStrategy;

static const char *const repeat_names[R_COUNT] = {
	"lms_fdw, learned",
	"lms_fdw, no history",
	"fixed 5 s"
};

static const double repeat_ms[] = {30000.0, 120000.0, 600000.0, 3600000.0};
static const char *const repeat_names_d[] = {"30 s", "2 min", "10 min", "1 h"};
#define N_REPEAT ((int) (sizeof(repeat_ms) / sizeof(repeat_ms[0])))
static const double repeat_spreads[] = {0.10, 0.50};
#define N_SPREADS ((int) (sizeof(repeat_spreads) / sizeof(repeat_spreads[0])))

/*
 * One job without progress under lms_fdw's schedule, learned from history
 * when n >= LMS_LEARN_MIN; *run is what the FDW would remember of it.
 */
typedef enum Seen
{
	SEEN_IN_WINDOW,				/* or no window */
	SEEN_EARLY,					/* done before the window */
	SEEN_LATE					/* slower than the window */
} Seen;

static int
simulate_repeat(double finish_ms, uint64_t seed, const LmsLearnedRun *history,
				int n, double *latency, LmsLearnedRun *run, bool *learned,
				Seen *seen, double *first_ms, double *dense_ms)
{
	LmsPollSchedule s;
	LmsRng		rng;
	double		t;
	int			checks;

	lms_rng_seed(&rng, seed);
	lms_poll_init(&s, INITIAL_MS, MAX_MS, FACTOR);
	*learned = lms_poll_learn(&s, history, n) > 0;
	*dense_ms = s.dense_ms;
	checks = run_schedule(&s, &rng, finish_ms, false, &t, first_ms);
	lms_poll_finished(&s, t, run);
	*latency = t - finish_ms;
	*seen = SEEN_IN_WINDOW;
	if (*learned && finish_ms < s.learn_lo_ms)
		*seen = SEEN_EARLY;
	else if (*learned && finish_ms > s.learn_hi_ms)
		*seen = SEEN_LATE;
	return checks;
}

/* Run every strategy over the same sequences of durations. */
/* where the learned schedule's latency came from, per row */
typedef struct Split
{
	int			early;
	int			late;
	double		early_latency;	/* sum, ms */
	double		late_latency;
	double		skipped;		/* sum of first check / finish */
	double		dense_ms;		/* sum of the dense spacing */
} Split;

static void
run_repeats(Tally tally[][N_SPREADS][R_COUNT], Split split[][N_SPREADS],
			int *unlearned)
{
	int			d;
	int			sp;
	int			st;

	*unlearned = 0;
	for (d = 0; d < N_REPEAT; d++)
		for (sp = 0; sp < N_SPREADS; sp++)
		{
			LmsRng		draw;
			int			q;

			for (st = 0; st < R_COUNT; st++)
				tally[d][sp][st] = (Tally) {0};
			split[d][sp] = (Split) {0};
			lms_rng_seed(&draw, UINT64_C(0x7e9ea7) + (uint64_t) (d * 10 + sp));
			for (q = 0; q < SEQUENCES; q++)
			{
				LmsLearnedRun history[LMS_LEARN_RUNS + MEASURED_RUNS];
				int			i;

				for (i = 0; i < LMS_LEARN_RUNS + MEASURED_RUNS; i++)
				{
					double		finish = repeat_ms[d] *
						(1.0 + repeat_spreads[sp] *
						 (2.0 * lms_rng_uniform(&draw) - 1.0));
					int			from = i > LMS_LEARN_RUNS ? i - LMS_LEARN_RUNS : 0;
					uint64_t	seed = UINT64_C(5000) + (uint64_t) (q * 1000 + i);
					double		latency;
					bool		learned;
					Seen		seen;
					int			checks;
					LmsLearnedRun ignored;
					double		first;
					double		dense;

					checks = simulate_repeat(finish, seed, history + from,
											 i - from, &latency, &history[i],
											 &learned, &seen, &first, &dense);
					if (i < LMS_LEARN_RUNS)
						continue;	/* building the history */
					if (!learned)
						(*unlearned)++;
					tally_add(&tally[d][sp][R_LEARNED], checks, latency);
					split[d][sp].skipped += first < finish ? first / finish : 1.0;
					split[d][sp].dense_ms += dense;
					if (seen == SEEN_EARLY)
					{
						split[d][sp].early++;
						split[d][sp].early_latency += latency;
					}
					else if (seen == SEEN_LATE)
					{
						split[d][sp].late++;
						split[d][sp].late_latency += latency;
					}
					checks = simulate_repeat(finish, seed, NULL, 0, &latency,
											 &ignored, &learned, &seen, &first,
											 &dense);
					tally_add(&tally[d][sp][R_TODAY], checks, latency);
					checks = simulate_fixed(finish, 5000.0, &latency);
					tally_add(&tally[d][sp][R_FIXED_5S], checks, latency);
				}
			}
		}
}

/*
 * The best any schedule can do for a finish uniform in a window of width_ms
 * that it knows exactly, with the first check at the window's start: for a
 * price lambda_ms of latency per check, V(r) = min over the next gap g of
 * 1 + g^2 / (2 lambda r) + (r - g) / r * V(r - g), r the window left, on a
 * grid.  Returns mean checks (the first included) and mean latency.
 */
#define DP_STEPS	400

static void
best_schedule(double width_ms, double lambda_ms, double *checks,
			  double *latency)
{
	static double value[DP_STEPS + 1];
	static double count[DP_STEPS + 1];
	static double late[DP_STEPS + 1];
	double		h = width_ms / DP_STEPS;
	int			k;

	value[0] = count[0] = late[0] = 0.0;
	for (k = 1; k <= DP_STEPS; k++)
	{
		double		r = k * h;
		double		best = INFINITY;
		int			best_j = k;
		int			j;

		for (j = 1; j <= k; j++)
		{
			double		g = j * h;
			double		c = 1.0 + g * g / (2.0 * lambda_ms * r) +
				(r - g) / r * value[k - j];

			if (c < best)
			{
				best = c;
				best_j = j;
			}
		}
		value[k] = best;
		count[k] = 1.0 + (r - best_j * h) / r * count[k - best_j];
		late[k] = (best_j * h) * (best_j * h) / (2.0 * r) +
			(r - best_j * h) / r * late[k - best_j];
	}
	*checks = 1.0 + count[DP_STEPS];
	*latency = late[DP_STEPS];
}

/*
 * The best schedule within a limit, by bisection on the price of a check:
 * with on_checks, the least mean latency of any schedule making at most
 * limit checks on average; otherwise the fewest mean checks of any with a
 * mean latency of at most limit ms.
 */
static double
best_within(double width_ms, bool on_checks, double limit)
{
	double		lo = 1e-3;
	double		hi = width_ms * 10.0;
	double		best = on_checks ? width_ms : INFINITY;
	int			i;

	for (i = 0; i < 40; i++)
	{
		double		mid = sqrt(lo * hi);
		double		c;
		double		l;

		best_schedule(width_ms, mid, &c, &l);
		/* a dearer check means fewer checks and more latency */
		if (on_checks ? c <= limit : l <= limit)
		{
			best = on_checks ? l : c;
			if (on_checks)
				hi = mid;
			else
				lo = mid;
		}
		else if (on_checks)
			lo = mid;
		else
			hi = mid;
	}
	return best;
}

static void
report_repeats(void)
{
	static Tally tally[N_REPEAT][N_SPREADS][R_COUNT];
	static Split split[N_REPEAT][N_SPREADS];
	int			unlearned;
	int			d;
	int			sp;
	int			st;

	run_repeats(tally, split, &unlearned);

	printf("\nRepeated exports without progress, after %d runs of history\n",
		   LMS_LEARN_RUNS);
	printf("%d sequences of %d measured runs per row; durations uniform "
		   "within the spread of the nominal length\n",
		   SEQUENCES, MEASURED_RUNS);
	printf("(the history is what earlier runs were seen to take; %d "
		   "measured runs had no learned schedule)\n\n", unlearned);
	printf("%-13s", "");
	for (st = 0; st < R_COUNT; st++)
		printf(" | %-23s", repeat_names[st]);
	printf("\n%-13s", "job");
	for (st = 0; st < R_COUNT; st++)
		printf(" | %6s %7s %8s", "checks", "lat avg", "lat max");
	printf("\n-------------");
	for (st = 0; st < R_COUNT; st++)
		printf("-+------------------------");
	printf("\n");
	for (d = 0; d < N_REPEAT; d++)
		for (sp = 0; sp < N_SPREADS; sp++)
		{
			char		label[32];

			snprintf(label, sizeof(label), "%s +-%.0f%%", repeat_names_d[d],
					 repeat_spreads[sp] * 100.0);
			printf("%-13s", label);
			for (st = 0; st < R_COUNT; st++)
				printf(" | %6.1f %6.2fs %7.2fs",
					   mean_checks(&tally[d][sp][st]),
					   mean_latency_s(&tally[d][sp][st]),
					   tally[d][sp][st].latency_max / 1000.0);
			printf("\n");
		}

	printf("\nTargets (learned schedule)\n");
	for (d = 0; d < N_REPEAT; d++)
	{
		Tally	   *l = &tally[d][0][R_LEARNED];
		bool		few = mean_checks(l) <= 6.0;
		bool		soon = mean_latency_s(l) <= 2.0;
		double		width = 2.0 * repeat_spreads[0] * repeat_ms[d];

		if (repeat_ms[d] < 600000.0)
			continue;
		printf("  +-10%% %-6s: %.1f checks <= 6 and mean latency %.2fs <= 2s: %s",
			   repeat_names_d[d], mean_checks(l), mean_latency_s(l),
			   few && soon ? "met" : "not met");
		if (!(few && soon))
			printf(" (%s%s%s)\n"
				   "    (why: the finish is spread over %.0f s and the status "
				   "says nothing of it; knowing that\n"
				   "    window exactly, the best schedule with <= 6 checks is "
				   "%.1f s late on average, and the\n"
				   "    best one with <= 2 s needs %.1f checks: both targets at "
				   "once are out of reach)",
				   few ? "" : "checks", few || soon ? "" : " and ",
				   soon ? "" : "latency", width / 1000.0,
				   best_within(width, true, 6.0) / 1000.0,
				   best_within(width, false, 2000.0));
		printf("\n");
	}
	for (d = 0; d < N_REPEAT; d++)
	{
		Tally	   *l = &tally[d][1][R_LEARNED];
		Tally	   *f = &tally[d][1][R_FIXED_5S];
		bool		fewer = mean_checks(l) < mean_checks(f);
		bool		sooner = mean_latency_s(l) <= mean_latency_s(f);

		printf("  +-50%% %-6s: %.1f checks < fixed 5 s %.1f and mean "
			   "latency %.2fs <= %.2fs: %s",
			   repeat_names_d[d], mean_checks(l), mean_checks(f),
			   mean_latency_s(l), mean_latency_s(f),
			   fewer && sooner ? "met" : "not met");
		if (!(fewer && sooner))
		{
			Split	   *x = &split[d][1];
			int			n = l->trials;

			printf(" (%s)\n", !fewer ? "more checks" : "later");
			if (!fewer)
				printf("    (why: the first check skips %.0f%% of the job, but "
					   "within a window as wide as the\n"
					   "    spread the checks are %.1f s apart, closer than 5 s "
					   "to see the end as soon;\n",
					   100.0 * x->skipped / n, x->dense_ms / n / 1000.0);
			printf("    %s %d runs bound a +-50%% job's finish only roughly: "
				   "%.1f%% of the jobs ended before\n"
				   "    the window, where checks are sparser (%.2fs of the "
				   "mean latency), %.1f%% after it,\n"
				   "    when the checks widen again (%.2fs); within the "
				   "window the mean is about half the\n"
				   "    dense spacing)",
				   !fewer ? "and" : "(why:", LMS_LEARN_RUNS,
				   100.0 * x->early / n, x->early_latency / n / 1000.0,
				   100.0 * x->late / n, x->late_latency / n / 1000.0);
		}
		printf("\n");
	}
}

int
main(void)
{
	Tally		tally[N_DURATIONS][S_COUNT];
	Tally		aligned[N_DURATIONS][S_COUNT];
	int			d;
	int			st;
	Tally	   *ten;
	double		bound;

	run_all(tally, SPREAD);
	run_all(aligned, 0.0);

	printf("lms_fdw poll schedule vs fixed polling, simulated clock\n");
	printf("options: poll_initial 1s, poll_max 30s, poll_factor 1.5, jitter +-20%%; "
		   "%d trials per job length,\n", TRIALS);
	printf("finish drawn uniformly within +-%.0f%% of the nominal length "
		   "(same draws for every strategy)\n\n", SPREAD * 100.0);

	printf("%-8s", "");
	for (st = 0; st < S_COUNT; st++)
		printf(st < S_COUNT - 1 ? " | %-23s" : " | %s", strategy_names[st]);
	printf("\n%-8s", "job");
	for (st = 0; st < S_COUNT; st++)
		printf(" | %6s %7s %8s", "checks", "lat avg", "lat max");
	printf("\n");
	printf("--------");
	for (st = 0; st < S_COUNT; st++)
		printf("-+------------------------");
	printf("\n");
	for (d = 0; d < N_DURATIONS; d++)
	{
		printf("%-8s", duration_names[d]);
		for (st = 0; st < S_COUNT; st++)
			printf(" | %6.1f %6.2fs %7.2fs",
				   mean_checks(&tally[d][st]), mean_latency_s(&tally[d][st]),
				   tally[d][st].latency_max / 1000.0);
		printf("\n");
	}
	printf("(checks: mean status checks per job; lat: time from the job's end "
		   "to the check that sees it, mean and max)\n\n");

	printf("Targets\n");
	for (d = 0; d < N_DURATIONS; d++)
	{
		Tally	   *p = &tally[d][S_PROGRESS];
		Tally	   *f = &tally[d][S_FIXED_5S];
		bool		fewer = mean_checks(p) < mean_checks(f);
		bool		sooner = mean_latency_s(p) < mean_latency_s(f);

		printf("  progress, %-6s: checks %.1f < fixed 5 s %.1f and "
			   "mean latency %.2fs < %.2fs: %s\n",
			   duration_names[d], mean_checks(p), mean_checks(f),
			   mean_latency_s(p), mean_latency_s(f),
			   fewer && sooner ? "met" : "not met");
		if (fewer && sooner)
			continue;
		if (!fewer && durations_ms[d] * (1.0 - SPREAD) > INITIAL_MS * 1.2)
			printf("    (not achievable: the first check comes at poll_initial "
				   "(at most 1.2 s), before any\n"
				   "    %.1f-%.1f s job can end, so every job takes >= 2 checks; "
				   "fixed 5 s takes 1 when the\n"
				   "    job ends by 5 s and 2 otherwise (mean %.1f))\n",
				   durations_ms[d] * (1.0 - SPREAD) / 1000.0,
				   durations_ms[d] * (1.0 + SPREAD) / 1000.0,
				   mean_checks(f));
		else
			printf("    (%s)\n", !fewer ? "more checks than fixed 5 s polling" :
				   "later than fixed 5 s polling on average");
	}

	ten = &tally[N_DURATIONS - 1][S_NO_PROGRESS];
	bound = ceil(durations_ms[N_DURATIONS - 1] * (1.0 - SPREAD) /
				 (MAX_MS * 1.2));
	printf("  no progress, 10 min: checks %.1f <= 10: %s\n",
		   mean_checks(ten), mean_checks(ten) <= 10.0 ? "met" : "not met");
	if (mean_checks(ten) > 10.0)
		printf("    (not achievable with poll_max 30 s: no wait exceeds 36 s "
			   "(30 s + 20%% jitter), so\n"
			   "    covering even %.0f s takes >= %.0f checks; the geometric "
			   "schedule needs about 9 checks\n"
			   "    to widen from 1 s to 30 s, then one per 30 s)\n",
			   durations_ms[N_DURATIONS - 1] * (1.0 - SPREAD) / 1000.0, bound);

	printf("\nNote: with exact finish times (5 s, 30 s, 2 min, 10 min), "
		   "fixed polling is aligned by construction:\n");
	for (d = 0; d < N_DURATIONS; d++)
		printf("  %-6s  fixed 5 s %5.1f checks, %.2fs latency;  "
			   "lms_fdw with progress %4.1f checks, %.2fs mean, %.2fs max\n",
			   duration_names[d],
			   mean_checks(&aligned[d][S_FIXED_5S]),
			   mean_latency_s(&aligned[d][S_FIXED_5S]),
			   mean_checks(&aligned[d][S_PROGRESS]),
			   mean_latency_s(&aligned[d][S_PROGRESS]),
			   aligned[d][S_PROGRESS].latency_max / 1000.0);

	report_repeats();
	return 0;
}
