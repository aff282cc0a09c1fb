/*-------------------------------------------------------------------------
 *
 * budget.c
 *		  One rate budget per credential, shared by all backends
 *
 * Canvas and Brightspace meter each token, not each connection: twenty
 * backends using one token draw on one quota, but each backend's own pacer
 * (schedule.c) only sees the figures of its own answers, so together they
 * overdraw it.  With the library preloaded, this table in shared memory
 * keeps, per credential (keyed by a 64-bit hash of the token and the LMS's
 * address; the token itself is never stored), the freshest rate-limit
 * observation any backend received (X-Rate-Limit-Remaining, X-Request-Cost,
 * X-Rate-Limit-Reset), the units reserved by requests in flight, and how
 * long a Retry-After holds every sender.  A backend about to send asks
 * lms_pacer_shared_delay_ms for the delay against that budget; at 0 it
 * reserves the request's expected cost and sends; the answer returns the
 * reservation and updates the observation.
 *
 * A reservation names its backend.  If a query fails between sending and
 * the answer, the transaction's abort releases the backend's reservations
 * (an XactCallback), and a reservation older than LMS_BUDGET_HOLD_MS
 * counts no more in any case, so an exited backend cannot block a token.
 *
 * Times are lmsfdw_now_ms(), the monotonic clock, which all processes of
 * the machine share.  A budget keeps the rate_limit_floor (and leak rate)
 * of the first job that used it; servers on the same LMS with the same
 * token but other floors share it all the same.
 *
 * Without preloading nothing here is used: every job paces on its own
 * answers, as before.
 *
 * IDENTIFICATION
 *		  src/budget.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "budget.h"
#include "common/hashfn.h"
#include "miscadmin.h"

#define LMS_BUDGETS				64
#define LMS_BUDGET_HOLDS		64
#define LMS_BUDGET_HOLD_MS		60000.0

typedef struct LmsBudgetHold
{
	int			pid;			/* 0: free */
	double		units;
	double		since_ms;
} LmsBudgetHold;

typedef struct LmsBudget
{
	uint64		key;			/* 0: free */
	double		used_ms;		/* last use, for eviction */
	LmsRatePacer pacer;			/* the freshest observation */
	double		hold_until_ms;	/* Retry-After */
	LmsBudgetHold holds[LMS_BUDGET_HOLDS];
} LmsBudget;

typedef struct LmsBudgetTable
{
	LmsBudget	budgets[LMS_BUDGETS];
} LmsBudgetTable;

static LmsBudgetTable *table = NULL;
static LWLock *table_lock = NULL;
static bool xact_callback_registered = false;

bool
lmsfdw_budget_shared(void)
{
	return table != NULL;
}

/*
 * lmsfdw_budget_key
 *		A hash of the credential and the address it is used at (never 0).
 */
uint64
lmsfdw_budget_key(const char *credential, const char *base_url)
{
	uint64		h = hash_bytes_extended((const unsigned char *) (credential ? credential : ""),
										credential ? (int) strlen(credential) : 0,
										UINT64CONST(0x6c6d735f627564));

	h = hash_bytes_extended((const unsigned char *) (base_url ? base_url : ""),
							base_url ? (int) strlen(base_url) : 0, h);
	return h != 0 ? h : 1;
}

/* the budget of key, made if missing (caller holds the lock exclusively) */
static LmsBudget *
budget_get(uint64 key, double now_ms, const LmsRatePacer *like)
{
	LmsBudget  *b = NULL;
	int			i;

	for (i = 0; i < LMS_BUDGETS; i++)
		if (table->budgets[i].key == key)
			return &table->budgets[i];
	/* a free one, or the one used least recently */
	for (i = 0; i < LMS_BUDGETS; i++)
	{
		LmsBudget  *c = &table->budgets[i];

		if (b == NULL || c->key == 0 || (b->key != 0 && c->used_ms < b->used_ms))
			b = c;
		if (b->key == 0)
			break;
	}
	memset(b, 0, sizeof(LmsBudget));
	b->key = key;
	b->used_ms = now_ms;
	lms_pacer_init(&b->pacer, like->floor, like->leak_per_s);
	return b;
}

/* units reserved by requests in flight, forgetting stale reservations */
static double
budget_reserved(LmsBudget *b, double now_ms, int *in_flight)
{
	double		sum = 0.0;
	int			i;

	*in_flight = 0;
	for (i = 0; i < LMS_BUDGET_HOLDS; i++)
	{
		LmsBudgetHold *h = &b->holds[i];

		if (h->pid == 0)
			continue;
		if (now_ms - h->since_ms > LMS_BUDGET_HOLD_MS)
		{
			h->pid = 0;
			continue;
		}
		sum += h->units;
		(*in_flight)++;
	}
	return sum;
}

/* at the end of a failed transaction: this backend's reservations go */
static void
budget_xact_callback(XactEvent event, void *arg)
{
	int			i;
	int			j;

	if (table == NULL ||
		(event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT))
		return;
	LWLockAcquire(table_lock, LW_EXCLUSIVE);
	for (i = 0; i < LMS_BUDGETS; i++)
		for (j = 0; j < LMS_BUDGET_HOLDS; j++)
			if (table->budgets[i].holds[j].pid == MyProcPid)
				table->budgets[i].holds[j].pid = 0;
	LWLockRelease(table_lock);
}

/*
 * lmsfdw_budget_acquire
 *		The delay before the request may go; 0 with the reservation made.
 */
double
lmsfdw_budget_acquire(uint64 key, LmsRatePacer *pacer, double now_ms,
					  double *reserved)
{
	LmsBudget  *b;
	double		delay;
	double		held;
	int			in_flight;
	int			i;

	*reserved = 0.0;
	if (table == NULL)
		return 0.0;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(budget_xact_callback, NULL);
		xact_callback_registered = true;
	}
	LWLockAcquire(table_lock, LW_EXCLUSIVE);
	b = budget_get(key, now_ms, pacer);
	b->used_ms = now_ms;
	held = budget_reserved(b, now_ms, &in_flight);
	if (b->hold_until_ms > now_ms)
		delay = b->hold_until_ms - now_ms;
	else
		delay = lms_pacer_shared_delay_ms(&b->pacer, now_ms, held, in_flight);
	if (delay <= 0.0)
	{
		for (i = 0; i < LMS_BUDGET_HOLDS; i++)
			if (b->holds[i].pid == 0)
			{
				b->holds[i].pid = MyProcPid;
				b->holds[i].units = lms_pacer_reservation(&b->pacer);
				b->holds[i].since_ms = now_ms;
				*reserved = b->holds[i].units;
				break;
			}
		/* no hold free: the request goes unreserved */
	}
	/* this backend's pacer sees what the budget sees */
	{
		double		floor = pacer->floor;
		double		leak = pacer->leak_per_s;

		if (b->pacer.have)
		{
			*pacer = b->pacer;
			pacer->floor = floor;
			pacer->leak_per_s = leak;
		}
	}
	LWLockRelease(table_lock);
	return delay;
}

/*
 * lmsfdw_budget_release
 *		Return a reservation and record what the answer said.
 */
void
lmsfdw_budget_release(uint64 key, double reserved, double now_ms,
					  double remaining, double cost, double reset_s,
					  double retry_after_ms)
{
	LmsBudget  *b = NULL;
	int			i;

	if (table == NULL)
		return;
	LWLockAcquire(table_lock, LW_EXCLUSIVE);
	for (i = 0; i < LMS_BUDGETS; i++)
		if (table->budgets[i].key == key)
			b = &table->budgets[i];
	if (b)
	{
		/* one of this backend's reservations of that size */
		if (reserved > 0.0)
			for (i = 0; i < LMS_BUDGET_HOLDS; i++)
				if (b->holds[i].pid == MyProcPid && b->holds[i].units == reserved)
				{
					b->holds[i].pid = 0;
					break;
				}
		/* the freshest answer wins */
		if (!isnan(remaining) && now_ms >= b->pacer.observed_ms)
			lms_pacer_observe(&b->pacer, now_ms, remaining, cost, reset_s);
		if (retry_after_ms > 0.0 && now_ms + retry_after_ms > b->hold_until_ms)
			b->hold_until_ms = now_ms + retry_after_ms;
		b->used_ms = now_ms;
	}
	LWLockRelease(table_lock);
}

Size
lmsfdw_budget_shmem_size(void)
{
	return MAXALIGN(sizeof(LmsBudgetTable));
}

void
lmsfdw_budget_shmem_attach(void *mem, LWLock *lock, bool found)
{
	table = (LmsBudgetTable *) mem;
	table_lock = lock;
	if (!found)
		memset(table, 0, sizeof(LmsBudgetTable));
}
