/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  Per-backend cache of curl state, keyed by user mapping
 *
 * Each user mapping gets one curl multi handle and a few easy handles that
 * are reused request after request, so the TCP/TLS connections behind them
 * stay alive across the status checks of a scan and across scans.  The
 * multi handle owns curl's connection pool; its socket callback records
 * which sockets curl wants watched, so http.c can wait on them through the
 * latch.
 *
 * curl allocates with malloc, outside any memory context: entries live as
 * long as the backend (or until lms_fdw_disconnect), and are dropped after
 * ALTER SERVER / ALTER USER MAPPING once nothing uses them.  An entry is in
 * use while a transfer runs on it and as long as the memory context it was
 * asked for in lives (a job's: the job keeps using it between requests,
 * also between two FETCHes of a cursor); lms_fdw_disconnect refuses to
 * close an entry in use.
 *
 * IDENTIFICATION
 *		  src/connection.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "connection.h"
#include "foreign/foreign.h"
#include "lms_fdw.h"
#include "storage/fd.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

struct LmsConn
{
	Oid			umid;			/* hash key */
	Oid			serverid;
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
	bool		invalidated;
	int			users;			/* memory contexts that asked for it, alive */
	CURLM	   *multi;
	/* easy handles, reused; as many as transfers run at once (malloc'd) */
	CURL	  **easy;
	bool	   *easy_busy;
	int			neasy;
	/* sockets curl wants watched: fds[i] with CURL_POLL_* in what[i] */
	int		   *fds;
	int		   *what;
	int			nsockets;
	int			maxsockets;
};

static HTAB *ConnectionHash = NULL;
static bool curl_initialized = false;

static void conn_inval_callback(Datum arg, int cacheid, uint32 hashvalue);

/*
 * curl's socket callback: remember the sockets and the events it wants.
 * Runs inside curl calls, so it must not throw; the arrays are malloc'd.
 */
static int
conn_socket_callback(CURL *easy, curl_socket_t s, int what, void *userp,
					 void *socketp)
{
	LmsConn    *conn = (LmsConn *) userp;
	int			i;

	for (i = 0; i < conn->nsockets; i++)
		if (conn->fds[i] == (int) s)
			break;

	if (what == CURL_POLL_REMOVE)
	{
		if (i < conn->nsockets)
		{
			conn->fds[i] = conn->fds[conn->nsockets - 1];
			conn->what[i] = conn->what[conn->nsockets - 1];
			conn->nsockets--;
		}
		return 0;
	}
	if (i == conn->nsockets)
	{
		if (conn->nsockets == conn->maxsockets)
		{
			int			newmax = conn->maxsockets ? conn->maxsockets * 2 : 8;
			int		   *fds = realloc(conn->fds, newmax * sizeof(int));
			int		   *whats;

			if (fds == NULL)
				return -1;
			conn->fds = fds;
			whats = realloc(conn->what, newmax * sizeof(int));
			if (whats == NULL)
				return -1;
			conn->what = whats;
			conn->maxsockets = newmax;
		}
		conn->fds[i] = (int) s;
		conn->nsockets++;
	}
	conn->what[i] = what;
	return 0;
}

static void
conn_close(LmsConn *conn)
{
	int			i;

	for (i = 0; i < conn->neasy; i++)
	{
		if (conn->multi)
			curl_multi_remove_handle(conn->multi, conn->easy[i]);
		curl_easy_cleanup(conn->easy[i]);
	}
	free(conn->easy);
	free(conn->easy_busy);
	conn->easy = NULL;
	conn->easy_busy = NULL;
	conn->neasy = 0;
	if (conn->multi)
	{
		curl_multi_cleanup(conn->multi);
		conn->multi = NULL;
	}
	free(conn->fds);
	free(conn->what);
	conn->fds = conn->what = NULL;
	conn->nsockets = conn->maxsockets = 0;
}

/* Is conn in use: a transfer on it, or a job that will send more? */
static bool
conn_busy(LmsConn *conn)
{
	int			i;

	if (conn->users > 0)
		return true;
	for (i = 0; i < conn->neasy; i++)
		if (conn->easy_busy[i])
			return true;
	return false;
}

/* reset callback of a context that asked for the connection; never throws */
static void
conn_user_gone(void *arg)
{
	LmsConn    *conn = (LmsConn *) arg;

	if (conn->users > 0)
		conn->users--;
}

/*
 * lmsfdw_get_connection
 *		The cached curl state for the options' user mapping, made if needed.
 *		It counts as in use until CurrentMemoryContext is reset or deleted.
 */
LmsConn *
lmsfdw_get_connection(const LmsOptions *opts)
{
	LmsConn    *conn;
	MemoryContextCallback *cb;
	bool		found;

	if (!curl_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
					 errmsg("could not initialize libcurl")));
		curl_initialized = true;
	}

	if (ConnectionHash == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(LmsConn);
		ConnectionHash = hash_create("lms_fdw connections", 8, &ctl,
									 HASH_ELEM | HASH_BLOBS);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID,
									  conn_inval_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID,
									  conn_inval_callback, (Datum) 0);
	}

	conn = hash_search(ConnectionHash, &opts->umid, HASH_ENTER, &found);
	if (!found)
	{
		memset((char *) conn + sizeof(Oid), 0, sizeof(LmsConn) - sizeof(Oid));
	}
	else if (conn->invalidated && !conn_busy(conn))
	{
		conn_close(conn);
		conn->invalidated = false;
	}

	if (conn->multi == NULL)
	{
		conn->serverid = opts->serverid;
		conn->server_hashvalue =
			GetSysCacheHashValue1(FOREIGNSERVEROID,
								  ObjectIdGetDatum(opts->serverid));
		conn->mapping_hashvalue =
			GetSysCacheHashValue1(USERMAPPINGOID,
								  ObjectIdGetDatum(opts->umid));
		conn->multi = curl_multi_init();
		if (conn->multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create a curl multi handle")));
		curl_multi_setopt(conn->multi, CURLMOPT_SOCKETFUNCTION,
						  conn_socket_callback);
		curl_multi_setopt(conn->multi, CURLMOPT_SOCKETDATA, conn);
		/* a few idle connections per LMS host are plenty */
		curl_multi_setopt(conn->multi, CURLMOPT_MAXCONNECTS, 8L);
	}

	/* dynahash entries never move: the callback may keep the pointer */
	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = conn_user_gone;
	cb->arg = conn;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	conn->users++;
	return conn;
}

CURLM *
lmsfdw_conn_multi(LmsConn *conn)
{
	return conn->multi;
}

/*
 * lmsfdw_conn_acquire
 *		An idle easy handle, reset for a new request and marked busy; its
 *		index is returned for lmsfdw_conn_release.
 *
 * curl_easy_reset keeps the handle's DNS cache; the connections themselves
 * are pooled in the multi handle, so any handle reuses them.
 */
int
lmsfdw_conn_acquire(LmsConn *conn, CURL **easy)
{
	int			i;

	for (i = 0; i < conn->neasy; i++)
		if (!conn->easy_busy[i])
			break;
	if (i == conn->neasy)
	{
		CURL	  **handles = realloc(conn->easy, (i + 1) * sizeof(CURL *));
		bool	   *busy;

		if (handles == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		conn->easy = handles;
		busy = realloc(conn->easy_busy, (i + 1) * sizeof(bool));
		if (busy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		conn->easy_busy = busy;
		conn->easy[i] = curl_easy_init();
		if (conn->easy[i] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create a curl handle")));
		conn->easy_busy[i] = false;
		conn->neasy++;
	}
	else
		curl_easy_reset(conn->easy[i]);
	conn->easy_busy[i] = true;
	*easy = conn->easy[i];
	return i;
}

/*
 * lmsfdw_conn_release
 *		Detach a handle from the multi handle and mark it idle.  Never
 *		throws: called from memory context callbacks during abort.
 */
void
lmsfdw_conn_release(LmsConn *conn, int index)
{
	if (index < 0 || index >= conn->neasy)
		return;
	if (conn->multi)
		curl_multi_remove_handle(conn->multi, conn->easy[index]);
	conn->easy_busy[index] = false;
}

void
lmsfdw_conn_sockets(LmsConn *conn, int **fds, int **what, int *nsockets)
{
	*fds = conn->fds;
	*what = conn->what;
	*nsockets = conn->nsockets;
}

/*
 * Mark entries of a changed server or user mapping; they are closed the next
 * time they are looked up while idle.
 */
static void
conn_inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	LmsConn    *conn;

	hash_seq_init(&scan, ConnectionHash);
	while ((conn = (LmsConn *) hash_seq_search(&scan)))
	{
		if (conn->multi == NULL)
			continue;
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && conn->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID && conn->mapping_hashvalue == hashvalue))
			conn->invalidated = true;
	}
}

static bool
disconnect_matching(Oid serverid)
{
	HASH_SEQ_STATUS scan;
	LmsConn    *conn;
	bool		any = false;

	if (ConnectionHash == NULL)
		return false;
	hash_seq_init(&scan, ConnectionHash);
	while ((conn = (LmsConn *) hash_seq_search(&scan)))
	{
		if (conn->multi == NULL)
			continue;
		if (OidIsValid(serverid) && conn->serverid != serverid)
			continue;
		if (conn_busy(conn))
		{
			ForeignServer *server = GetForeignServerExtended(conn->serverid,
															 FSV_MISSING_OK);

			ereport(WARNING,
					(errmsg("cannot close the connection to server \"%s\" while a scan uses it",
							server ? server->servername : "?"),
					 errhint("Close the cursor or end the query first.")));
			continue;
		}
		conn_close(conn);
		any = true;
	}
	return any;
}

/* lms_fdw_disconnect(server): close the cached connections of one server */
bool
lmsfdw_disconnect_server(Oid serverid)
{
	return disconnect_matching(serverid);
}

/* lms_fdw_disconnect_all() */
bool
lmsfdw_disconnect_all(void)
{
	return disconnect_matching(InvalidOid);
}
