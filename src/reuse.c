/*-------------------------------------------------------------------------
 *
 * reuse.c
 *		  reuse_window: the same export, started within the window, is
 *		  adopted instead of started again
 *
 * Two caches answer, behind one pair of functions: this backend's list of
 * finished jobs (in TopMemoryContext, at most LMS_REUSABLE_MAX), then, when
 * the library is preloaded, the shared table of shared.c, which also knows
 * other backends' running jobs.  Both are keyed by lmsfdw_reuse_key(), the
 * one definition of "the same export" (it includes the user mapping).
 *
 *	lmsfdw_reuse_find()		before a job is started: adopt a match
 *	lmsfdw_reuse_remember()	when a job has started (shared table only) and
 *							when it has finished (both)
 *
 * IDENTIFICATION
 *		  src/reuse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "providers/provider.h"
#include "reuse.h"
#include "shared.h"
#include "utils/memutils.h"

#define LMS_REUSABLE_MAX 32

typedef struct LmsReusable
{
	Oid			serverid;
	char	   *key;			/* the export: description and parameters */
	char	   *remote_id;
	char	   *remote_state;
	List	   *resolved_urls;
	TimestampTz started;
	TimestampTz finished;
} LmsReusable;

/* this backend's finished jobs, newest last, in TopMemoryContext */
static List *reusable_jobs = NIL;

/* one field of the key, length-prefixed so that no two lists read alike */
static void
key_field(StringInfo key, const char *name, const char *value)
{
	appendStringInfo(key, "%s=%d:%s\n", name,
					 value ? (int) strlen(value) : -1, value ? value : "");
}

/*
 * lmsfdw_reuse_key
 *		THE definition of "the same export", for both caches: the user
 *		mapping (one user's export is never handed to another, even in the
 *		same backend through a view or a SECURITY DEFINER function) and
 *		everything that shapes the requests or how the result is read:
 *		provider, base_url, api_version, resource, account_id, namespace,
 *		parameters, format, rows_path, differential, the generic provider's
 *		paths, method and body, and the job's export parameters.  Returned as the hex
 *		SHA-256 of that text, so that it has a fixed size (shared.c).
 */
char *
lmsfdw_reuse_key(const LmsJob *job)
{
	const LmsOptions *o = job->opts;
	StringInfoData key;
	ListCell   *lc;
	pg_cryptohash_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex;
	int			i;

	initStringInfo(&key);
	appendStringInfo(&key, "db=%u\nserver=%u\numid=%u\n",
					 MyDatabaseId, o->serverid, o->umid);
	key_field(&key, "provider", o->provider_name);
	key_field(&key, "base_url", o->base_url);
	key_field(&key, "api_version", o->api_version);
	key_field(&key, "resource", o->resource);
	key_field(&key, "account_id", o->account_id);
	key_field(&key, "namespace", o->namespace);
	key_field(&key, "parameters", o->parameters);
	key_field(&key, "format", o->format);
	key_field(&key, "rows_path", o->rows_path);
	key_field(&key, "differential", o->differential ? "true" : "false");
	key_field(&key, "start_path", o->start_path);
	key_field(&key, "start_method", o->start_method);
	key_field(&key, "start_body", o->start_body);
	key_field(&key, "job_id_path", o->job_id_path);
	key_field(&key, "status_path", o->status_path);
	key_field(&key, "state_path", o->state_path);
	key_field(&key, "done_states", o->done_states);
	key_field(&key, "failed_states", o->failed_states);
	key_field(&key, "result_url_path", o->result_url_path);
	key_field(&key, "error_path", o->error_path);
	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		key_field(&key, psprintf("param:%s", p->name), p->value);
	}

	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) key.data, key.len) < 0 ||
#if PG_VERSION_NUM >= 150000
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
#else
		pg_cryptohash_final(ctx, digest) < 0)
#endif
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not compute the reuse key")));
	pg_cryptohash_free(ctx);
	hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	pfree(key.data);
	return hex;
}

/*
 * lmsfdw_reuse_remember
 *		Make a started job known to other backends and keep a finished one
 *		for reuse_window.  Nothing when reuse_window is off.
 */
void
lmsfdw_reuse_remember(LmsJob *job)
{
	MemoryContext old;
	LmsReusable *r;
	ListCell   *lc;

	if (job->opts->reuse_window_ms <= 0)
		return;
	lmsfdw_shared_publish(job, lmsfdw_reuse_key(job));
	if (job->reused || job->state != LMS_JOB_DONE)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	r = palloc0(sizeof(LmsReusable));
	r->serverid = job->opts->serverid;
	r->key = lmsfdw_reuse_key(job);
	r->remote_id = pstrdup(job->remote_id);
	r->remote_state = job->remote_state ? pstrdup(job->remote_state) : NULL;
	foreach(lc, job->resolved_urls)
		r->resolved_urls = lappend(r->resolved_urls, pstrdup((char *) lfirst(lc)));
	r->started = job->started;
	r->finished = job->finished;
	reusable_jobs = lappend(reusable_jobs, r);
	if (list_length(reusable_jobs) > LMS_REUSABLE_MAX)
	{
		LmsReusable *oldest = (LmsReusable *) linitial(reusable_jobs);

		reusable_jobs = list_delete_first(reusable_jobs);
		list_free_deep(oldest->resolved_urls);
		pfree(oldest->key);
		pfree(oldest->remote_id);
		if (oldest->remote_state)
			pfree(oldest->remote_state);
		pfree(oldest);
	}
	MemoryContextSwitchTo(old);
}

/*
 * lmsfdw_reuse_find
 *		Adopt the same export started within reuse_window: finished by this
 *		backend, or (when preloaded) finished or still running in another.
 *		LMS_REUSE_DONE: the job is done, nothing sent; LMS_REUSE_RUNNING:
 *		the job is another backend's, to be watched, not started.
 */
LmsReuse
lmsfdw_reuse_find(LmsJob *job)
{
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext old;
	LmsReuse	found = LMS_REUSE_NONE;
	char	   *key;
	ListCell   *lc;

	if (job->opts->reuse_window_ms <= 0)
		return LMS_REUSE_NONE;
	old = MemoryContextSwitchTo(job->cxt);
	key = lmsfdw_reuse_key(job);
	foreach(lc, reusable_jobs)
	{
		LmsReusable *r = (LmsReusable *) lfirst(lc);
		ListCell   *lu;

		if (r->serverid != job->opts->serverid || strcmp(r->key, key) != 0 ||
			TimestampDifferenceExceeds(r->started, now, job->opts->reuse_window_ms))
			continue;
		job->remote_id = pstrdup(r->remote_id);
		job->remote_state = r->remote_state ? pstrdup(r->remote_state) : NULL;
		foreach(lu, r->resolved_urls)
			job->resolved_urls = lappend(job->resolved_urls, pstrdup((char *) lfirst(lu)));
		job->started = r->started;
		job->finished = r->finished;
		job->state = LMS_JOB_DONE;
		job->reused = true;
		job->phase = "download";
		found = LMS_REUSE_DONE;
		break;
	}
	if (found == LMS_REUSE_NONE && lmsfdw_shared_adopt(job, key))
		found = job->state == LMS_JOB_DONE ? LMS_REUSE_DONE : LMS_REUSE_RUNNING;
	if (found != LMS_REUSE_NONE)
		lmsfdw_job_note(job, NULL);
	MemoryContextSwitchTo(old);
	return found;
}
