/*-------------------------------------------------------------------------
 *
 * oauth.c
 *		  Access tokens from a rotating OAuth 2.0 refresh token
 *
 * A user mapping with client_id, client_secret and refresh_token gets its
 * access tokens here: the refresh_token grant (RFC 6749 section 6) at the
 * server's token_url, with HTTP Basic client authentication and the
 * server's scope, as Brightspace's headless example client does.  Every
 * answer carries a new refresh token and the old one stops working, so the
 * new one is saved durably (token_store.c) before the access token is used,
 * under the store's lock, so that no two backends ever send the same
 * refresh token.
 *
 * A backend keeps the access token of each mapping until shortly before it
 * expires (a fifth of its lifetime, at most a minute), and asks the store
 * first: a token another backend has just obtained is used as it is.
 *
 * The token request runs with interrupts held: a cancel or statement_timeout
 * that arrives while it is on the wire takes effect only once the answer is
 * stored (the request is bounded by connect_timeout and stall_timeout), so
 * a cancel can never lose a refresh token the server has already rotated.
 * Only a lost answer can (the server rotated, the reply never arrived);
 * then a person must authorise the app again.  Should saving fail (a full
 * disk), the backend keeps the new token in memory, reports the error, and
 * saves it first at its next call.
 *
 * IDENTIFICATION
 *		  src/oauth.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "document.h"
#include "http.h"
#include "miscadmin.h"
#include "oauth.h"
#include "token_store.h"
#include "url.h"
#include "utils/memutils.h"

/* one mapping's access token in this backend */
typedef struct OAuthCacheEntry
{
	Oid			umid;
	char		seed_hash[65];
	char	   *access_token;	/* in TopMemoryContext */
	int64		renew_ms;		/* when to get a new one, Unix epoch ms */
	char	   *unsaved;		/* a rotated refresh token the store refused */
	struct OAuthCacheEntry *next;
} OAuthCacheEntry;

static OAuthCacheEntry *oauth_cache = NULL;

static OAuthCacheEntry *
cache_entry(Oid umid)
{
	OAuthCacheEntry *e;

	for (e = oauth_cache; e; e = e->next)
		if (e->umid == umid)
			return e;
	e = MemoryContextAllocZero(TopMemoryContext, sizeof(OAuthCacheEntry));
	e->umid = umid;
	e->next = oauth_cache;
	oauth_cache = e;
	return e;
}

static void
forget_unsaved(OAuthCacheEntry *e)
{
	if (e->unsaved)
	{
		explicit_bzero(e->unsaved, strlen(e->unsaved));
		pfree(e->unsaved);
		e->unsaved = NULL;
	}
}

/* refresh this long before expiry: a fifth of the lifetime, at most 60 s */
static int64
renew_at(int64 issued_ms, int64 expires_ms)
{
	return expires_ms - Min(60000, Max(expires_ms - issued_ms, 0) / 5);
}

static void
cache_set(OAuthCacheEntry *e, const char *seed_hash, const char *token,
		  int64 issued_ms, int64 expires_ms)
{
	if (e->access_token)
	{
		explicit_bzero(e->access_token, strlen(e->access_token));
		pfree(e->access_token);
	}
	e->access_token = token ? MemoryContextStrdup(TopMemoryContext, token) : NULL;
	strlcpy(e->seed_hash, seed_hash, sizeof(e->seed_hash));
	e->renew_ms = renew_at(issued_ms, expires_ms);
}

/* Is token usable until renew_ms, and not the one the LMS just refused? */
static bool
still_fresh(const char *token, int64 renew_ms, const char *rejected)
{
	if (token == NULL || (rejected && strcmp(token, rejected) == 0))
		return false;
	return lmsfdw_epoch_ms() < renew_ms;
}

/* The "error" code of an OAuth error answer, if it has one (never a token). */
static char *
oauth_error_code(const LmsHttpResult *res)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *volatile code = NULL;

	if (res->body.len > 0 && res->body.data[0] == '{')
	{
		PG_TRY();
		{
			code = lmsfdw_json_string(lmsfdw_json_parse(res->body.data, res->body.len,
														"the token request"),
									  "error");
		}
		PG_CATCH();
		{
			/* not JSON after all: the status alone says what happened */
			MemoryContextSwitchTo(cxt);
			FlushErrorState();
			code = NULL;
		}
		PG_END_TRY();
	}
	if (code && strspn(code, "abcdefghijklmnopqrstuvwxyz_") != strlen(code))
		code = NULL;
	return code;
}

static void refresh_failed(const LmsOptions *opts, const LmsHttpResult *res) pg_attribute_noreturn();

static void
refresh_failed(const LmsOptions *opts, const LmsHttpResult *res)
{
	char	   *code = oauth_error_code(res);

	if (res->status == 400 && code && strcmp(code, "invalid_grant") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the OAuth token endpoint of server \"%s\" refused the refresh token (invalid_grant)",
						opts->server_name),
				 errdetail("The refresh token was already used, revoked or expired."),
				 errhint("Authorise the app again and store the new token: ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (SET refresh_token '...').",
						 opts->server_name)));
	if (res->status == 401 || (code && strcmp(code, "invalid_client") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the OAuth token endpoint of server \"%s\" refused the client credentials",
						opts->server_name),
				 errhint("Check client_id and client_secret of the user mapping.")));
	if (code)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the OAuth token endpoint of server \"%s\" answered %ld (%s)",
						opts->server_name, res->status, code),
				 strcmp(code, "invalid_scope") == 0 ?
				 errhint("Check the server's scope option against the app's registered scopes.") : 0));
	lmsfdw_http_raise(res, opts, "asking for an access token", true);
}

/* One refresh_token grant; the answer in res.  Interrupts are held. */
static void
send_refresh(LmsConn *conn, const LmsOptions *opts, const char *refresh_token,
			 LmsHttpResult *res)
{
	LmsRequestSpec spec = {0};
	char	   *body;

	body = psprintf("grant_type=refresh_token&refresh_token=%s&scope=%s",
					lmsfdw_form_encode(refresh_token),
					lmsfdw_form_encode(opts->scope));
	spec.method = "POST";
	spec.url = opts->token_url;
	spec.body = body;
	spec.content_type = "application/x-www-form-urlencoded";
	spec.basic_auth = true;
	spec.auth_origin = opts->token_url;
	spec.bearer = "";			/* never a bearer token, even after a redirect */
	lmsfdw_http_request(conn, opts, &spec, res);
	explicit_bzero(body, strlen(body));
}

/*
 * Under the store's lock: spend the live refresh token and save the new
 * one.  Retries only where the server cannot have rotated the token: a
 * connection that never reached it, or a 429/503 refusal.
 */
static void
refresh(LmsConn *conn, const LmsOptions *opts, LmsTokenStore *ts,
		OAuthCacheEntry *e)
{
	int			attempt;

	for (attempt = 0;; attempt++)
	{
		LmsHttpResult res;
		int64		now;

		HOLD_INTERRUPTS();
		send_refresh(conn, opts, ts->refresh_token, &res);
		now = lmsfdw_epoch_ms();
		if (lmsfdw_http_ok(&res))
		{
			LmsDoc	   *doc = lmsfdw_json_parse(res.body.data, res.body.len,
												"the token request");
			char	   *access = lmsfdw_json_string(doc, "access_token");
			char	   *rotated = lmsfdw_json_string(doc, "refresh_token");
			char	   *expires_in = lmsfdw_json_string(doc, "expires_in");
			int64		lifetime_ms = expires_in ? (int64) (strtod(expires_in, NULL) * 1000) : 60000;

			/*
			 * Saved durably before anything else can fail.  Should the save
			 * fail (a full disk), the backend keeps the token and saves it
			 * at its next call.
			 */
			if (rotated && rotated[0])
			{
				forget_unsaved(e);
				e->unsaved = MemoryContextStrdup(TopMemoryContext, rotated);
				strlcpy(e->seed_hash, ts->seed_hash, sizeof(e->seed_hash));
			}
			if ((rotated && rotated[0]) || access)
				lmsfdw_token_store_save(ts, (rotated && rotated[0]) ? rotated : ts->refresh_token,
										access, now, now + lifetime_ms);
			forget_unsaved(e);
			explicit_bzero(res.body.data, res.body.len);
			RESUME_INTERRUPTS();
			if (access == NULL || access[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("the OAuth token endpoint of server \"%s\" answered without an access_token",
								opts->server_name)));
			cache_set(e, ts->seed_hash, access, now, now + lifetime_ms);
			elog(DEBUG1, "lms_fdw: new access token for user mapping %u, valid for " INT64_FORMAT " ms%s",
				 opts->umid, lifetime_ms, rotated ? ", refresh token rotated and saved" : "");
			CHECK_FOR_INTERRUPTS();
			return;
		}
		RESUME_INTERRUPTS();
		CHECK_FOR_INTERRUPTS();
		if ((res.reached_server && res.status != 429 && res.status != 503) ||
			attempt >= opts->retry_max)
			refresh_failed(opts, &res);
		lmsfdw_wait_ms(Min((double) opts->retry_cap_ms,
						   (double) opts->retry_base_ms * (1 << Min(attempt, 16))));
	}
}

/*
 * lmsfdw_oauth_access_token
 *		A fresh access token for the user mapping of opts.
 *
 * rejected: a token the LMS has just refused (401), never to be handed out
 * again; NULL normally.  The result lives in TopMemoryContext until the
 * next call for the same mapping.
 */
const char *
lmsfdw_oauth_access_token(LmsConn *conn, const LmsOptions *opts,
						  const char *rejected)
{
	char	   *seed_hash = lmsfdw_token_seed_hash(opts->refresh_token);
	OAuthCacheEntry *e = cache_entry(opts->umid);
	LmsTokenStore *ts;

	/* this backend's token, unless the seed changed or it is nearly due */
	if (e->access_token && e->unsaved == NULL &&
		strcmp(e->seed_hash, seed_hash) == 0 &&
		still_fresh(e->access_token, e->renew_ms, rejected))
		return e->access_token;

	ts = lmsfdw_token_store_open(MyDatabaseId, opts->umid, opts->refresh_token);
	/* a token this backend received but could not save: it is the live one */
	if (e->unsaved && strcmp(e->seed_hash, seed_hash) == 0)
	{
		lmsfdw_token_store_save(ts, e->unsaved, NULL, 0, 0);
		forget_unsaved(e);
	}
	else if (ts->reseeded)
		elog(LOG, "lms_fdw: user mapping %u has a new refresh_token option; it replaces the stored token",
			 opts->umid);
	/* another backend's fresh token */
	if (still_fresh(ts->access_token,
					renew_at(ts->access_issued_ms, ts->access_expires_ms), rejected))
	{
		cache_set(e, seed_hash, ts->access_token, ts->access_issued_ms,
				  ts->access_expires_ms);
		lmsfdw_token_store_close(ts);
		return e->access_token;
	}
	refresh(conn, opts, ts, e);
	lmsfdw_token_store_close(ts);
	return e->access_token;
}
