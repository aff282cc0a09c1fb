/*-------------------------------------------------------------------------
 *
 * lms_fdw.h
 *		  Internal declarations shared by lms_fdw's source files
 *
 * Which way the calls go: lms_fdw.c (the FDW glue) calls the job, the
 * stream and the tuple builder; the job calls the providers, http and the
 * schedule; the stream calls http and the record readers.  Providers only
 * describe requests and read answers; only the job and the stream send
 * anything.
 *
 * IDENTIFICATION
 *		  src/lms_fdw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_FDW_H
#define LMS_FDW_H

#include <curl/curl.h>

#include "executor/tuptable.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "schedule.h"

#define LMS_FDW_VERSION "1.0"

/* Status documents and error bodies are read whole, up to this size. */
#define LMS_MAX_DOCUMENT_BYTES	(1024 * 1024)
/* One record of a result file may not exceed this. */
#define LMS_MAX_RECORD_BYTES	(64 * 1024 * 1024)
/* Redirects followed for one request. */
#define LMS_MAX_REDIRECTS		5

struct LmsProvider;

/*
 * The effective options of one foreign table: defaults, then the server's,
 * then the table's, plus the user mapping's credentials.  Times are in
 * milliseconds.  Built by lmsfdw_get_options() in options.c.
 */
typedef struct LmsOptions
{
	/* server (table may override those marked S* in the catalogue) */
	char	   *provider_name;
	const struct LmsProvider *provider;
	char	   *base_url;
	int			poll_initial_ms;
	int			poll_max_ms;
	double		poll_factor;
	char	   *api_version;
	int			poll_timeout_ms;
	int			retry_max;
	int			retry_base_ms;
	int			retry_cap_ms;
	double		rate_limit_floor;
	int			connect_timeout_ms;
	int			stall_timeout_ms;
	int			max_parallel_jobs;
	bool		cancel_on_abort;
	int			reuse_window_ms;
	bool		allow_http;
	char	   *user_agent;
	char	   *ca_file;

	/* user mapping */
	char	   *token;
	char	   *client_id;
	char	   *client_secret;

	/* table */
	char	   *resource;
	char	   *account_id;
	char	   *namespace;
	char	   *parameters;		/* JSON object text */
	char	   *format;
	char	   *rows_path;

	/* table, generic provider */
	char	   *start_path;
	char	   *start_method;
	char	   *start_body;
	char	   *job_id_path;
	char	   *status_path;
	char	   *state_path;
	char	   *done_states;
	char	   *failed_states;
	char	   *result_url_path;
	char	   *error_path;

	/* identity, for messages and the job list */
	Oid			serverid;
	char	   *server_name;
	Oid			umid;
} LmsOptions;

/* One export parameter: name=value (from the parameters option or a param column). */
typedef struct LmsParam
{
	char	   *name;
	char	   *value;
} LmsParam;

/* ---- http.c: requests, waits, failures ---- */

/* A cached per-user-mapping curl state: one multi handle, reused easy handles. */
typedef struct LmsConn LmsConn;

typedef struct LmsRequestSpec
{
	const char *method;			/* "GET", "POST", "PUT", "DELETE" */
	char	   *url;			/* absolute */
	char	   *body;			/* NULL for none */
	const char *content_type;	/* of body */
	const char *bearer;			/* token to send; NULL: the mapping's token */
	bool		basic_auth;		/* send client_id:client_secret instead */
} LmsRequestSpec;

/* What came back from one request (after redirects). */
typedef struct LmsHttpResult
{
	CURLcode	curl_code;		/* CURLE_OK if an HTTP answer arrived */
	char		curl_error[CURL_ERROR_SIZE];
	bool		reached_server; /* the request may have been processed */
	long		status;			/* HTTP status, 0 if none */
	StringInfoData body;		/* captured body, at most max_body bytes */
	bool		body_overflow;	/* body was larger than the cap */
	char	   *content_type;
	char	   *retry_after;	/* raw header value, or NULL */
	/* rate-limit headers; NaN when absent (a throttled Canvas answer's
	 * remaining quota is negative) */
	double		rate_remaining; /* X-Rate-Limit-Remaining */
	double		request_cost;	/* X-Request-Cost */
	double		rate_reset;		/* X-Rate-Limit-Reset seconds */
	char	   *url;			/* the final URL asked, for messages (redact!) */
} LmsHttpResult;

/* Why a failed answer may be retried; LMS_RETRY_NONE means it may not. */
typedef enum LmsRetryClass
{
	LMS_RETRY_NONE = 0,
	LMS_RETRY_429,
	LMS_RETRY_5XX,
	LMS_RETRY_THROTTLE_403,
	LMS_RETRY_TRANSPORT,
	LMS_RETRY_NCLASSES
} LmsRetryClass;

typedef struct LmsTransfer LmsTransfer;

extern void lmsfdw_http_request(LmsConn *conn, const LmsOptions *opts,
								const LmsRequestSpec *spec,
								LmsHttpResult *res);
extern bool lmsfdw_http_ok(const LmsHttpResult *res);
extern LmsRetryClass lmsfdw_retry_class(const LmsHttpResult *res,
										bool starting_job);
extern const char *lmsfdw_retry_class_name(LmsRetryClass cls);
extern void lmsfdw_http_raise(const LmsHttpResult *res, const LmsOptions *opts,
							  const char *what, bool starting) pg_attribute_noreturn();
extern void lmsfdw_wait_ms(double ms);

/* streaming transfers (used by stream.c) */
extern LmsTransfer *lmsfdw_transfer_start(LmsConn *conn, const LmsOptions *opts,
										  const char *url, const char *bearer,
										  size_t buffer_size);
extern bool lmsfdw_transfer_read(LmsTransfer *xfer, const char **data,
								 size_t *len);
extern void lmsfdw_transfer_wait_headers(LmsTransfer *xfer,
										 LmsHttpResult *res);
extern void lmsfdw_transfer_finish(LmsTransfer *xfer, LmsHttpResult *res);
extern void lmsfdw_transfer_close(LmsTransfer *xfer);
extern uint64 lmsfdw_transfer_bytes(const LmsTransfer *xfer);

/* URL policy */
extern const char *lmsfdw_url_problem(const char *url, bool allow_http);
extern bool lmsfdw_same_origin(const char *a, const char *b);
extern char *lmsfdw_redact_url(const char *url);
extern char *lmsfdw_redact_text(const char *text, size_t len,
								const LmsOptions *opts);
extern char *lmsfdw_resolve_url(const char *base, const char *ref);

/* ---- connection.c: the per-backend cache of curl state ---- */
extern LmsConn *lmsfdw_get_connection(const LmsOptions *opts);
extern CURLM *lmsfdw_conn_multi(LmsConn *conn);
extern int	lmsfdw_conn_acquire(LmsConn *conn, CURL **easy);
extern void lmsfdw_conn_release(LmsConn *conn, int index);
extern bool lmsfdw_disconnect_server(Oid serverid);
extern bool lmsfdw_disconnect_all(void);
extern void lmsfdw_conn_sockets(LmsConn *conn, int **fds, int **what,
								int *nsockets);


/* ---- import.c ---- */
struct ImportForeignSchemaStmt;
extern List *lmsfdw_import_schema(struct ImportForeignSchemaStmt *stmt, Oid serverOid);

/* ---- options.c ---- */
extern void lmsfdw_validate_options(List *options_list, Oid catalog);
extern LmsOptions *lmsfdw_get_options(Oid foreigntableid, Oid userid);
extern char *lmsfdw_column_option(Oid relid, AttrNumber attnum,
								  const char *name);
extern void lmsfdw_check_credentials(const LmsOptions *opts, Oid userid);

/* ---- job.c: initiate, monitor, resolve ---- */
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
} LmsCounters;

typedef struct LmsJob
{
	const LmsOptions *opts;
	LmsConn    *conn;
	MemoryContext cxt;			/* owns the job's strings */
	List	   *params;			/* of LmsParam * */

	char	   *remote_id;		/* the LMS's job id */
	char	   *aux_id;			/* provider-specific second id */
	LmsJobState state;
	char	   *remote_state;	/* the LMS's own word for the state */
	double		progress;		/* 0..100, or -1 */
	char	   *message;		/* the LMS's message on failure */
	List	   *result_urls;	/* of char *: the result files, in order */
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
	int			history_slot;	/* index in the backend's job list */
} LmsJob;

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
} LmsJobRecord;

extern int	lmsfdw_job_history(LmsJobRecord **records, int *first);
extern LmsJob *lmsfdw_job_create(const LmsOptions *opts, List *params);
extern void lmsfdw_job_start(LmsJob *job);
typedef enum LmsReuse
{
	LMS_REUSE_NONE,
	LMS_REUSE_DONE,				/* a finished job's result */
	LMS_REUSE_RUNNING			/* another backend's running job, to watch */
} LmsReuse;

extern LmsReuse lmsfdw_job_reuse(LmsJob *job);
extern void lmsfdw_job_watch(LmsJob *job);

/* ---- shared.c: jobs shared across backends (when preloaded) ---- */
extern void lmsfdw_shared_init(void);
extern void lmsfdw_shared_publish(const LmsJob *job, const char *key);
extern void lmsfdw_shared_withdraw(const LmsJob *job);
extern bool lmsfdw_shared_adopt(LmsJob *job, const char *key);
extern bool lmsfdw_job_check(LmsJob *job);
extern void lmsfdw_job_run(LmsJob *job);

/* several jobs of one scan, run concurrently */
typedef struct LmsJobSet LmsJobSet;

extern LmsJobSet *lmsfdw_jobset_create(const LmsOptions *opts, List *param_sets);
extern LmsJob *lmsfdw_jobset_next(LmsJobSet *set);
extern LmsJob *lmsfdw_jobset_take(LmsJobSet *set, bool *more);
extern void lmsfdw_jobset_poll(LmsJobSet *set);
extern double lmsfdw_jobset_next_due(LmsJobSet *set);
extern int	lmsfdw_jobset_started(LmsJobSet *set);
extern void lmsfdw_job_retry_wait(LmsJob *job, LmsRetryClass cls,
								  const LmsHttpResult *res, int attempt);
extern void lmsfdw_job_cancel_remote(LmsJob *job);
extern void lmsfdw_job_pace(LmsJob *job);
extern void lmsfdw_job_observe(LmsJob *job, const LmsHttpResult *res);
extern void lmsfdw_job_note(LmsJob *job, const char *error);
extern const char *lmsfdw_job_state_name(LmsJobState state);
extern double lmsfdw_now_ms(void);

/*
 * ---- document.c: small JSON documents (jansson) ----
 * jansson's json_object() collides with PostgreSQL's SQL function of that
 * name, so only document.c includes <jansson.h>; the rest see LmsDoc.
 */
typedef struct json_t LmsDoc;

extern LmsDoc *lmsfdw_json_parse(const char *data, size_t len,
								 const char *what);
extern char *lmsfdw_json_string(LmsDoc *doc, const char *path);
extern bool lmsfdw_json_is_object(const char *text);
extern List *lmsfdw_json_object_params(const char *text);
extern char *lmsfdw_params_to_json(List *params);
extern char *lmsfdw_form_encode(const char *s);
extern char *lmsfdw_path_escape(const char *s);

/* ---- providers/ ---- */
typedef struct LmsProvider
{
	const char *name;
	const char *default_format;
	bool		start_idempotent;	/* may the start request be repeated? */
	/*
	 * Where a column without a field option is looked for after its own
	 * name, in order (Canvas Data 2: "key", "value", "meta"); NULL: nowhere.
	 */
	const char *const *field_prefixes;
	/* required table options, checked at plan time */
	void		(*check_table) (const LmsOptions *opts);
	/* "canvas report grade_export_csv (account self)" */
	char	   *(*describe) (const LmsOptions *opts);
	/* the export parameter the resource cannot do without, or NULL */
	const char *(*required_param) (const LmsOptions *opts);
	/*
	 * Optional steps before the start (a token, a name to look up) and
	 * after completion (result URLs to ask for): while the *_request
	 * function fills req and returns true, the job sends it and hands the
	 * answer to the matching read function.
	 */
	bool		(*prepare_request) (LmsJob *job, int step, LmsRequestSpec *req);
	void		(*read_prepare) (LmsJob *job, int step, LmsDoc *doc);
	bool		(*resolve_request) (LmsJob *job, int step, LmsRequestSpec *req);
	void		(*read_resolve) (LmsJob *job, int step, LmsDoc *doc);
	void		(*start_request) (LmsJob *job, LmsRequestSpec *req);
	void		(*read_start) (LmsJob *job, LmsDoc *doc);
	void		(*status_request) (LmsJob *job, LmsRequestSpec *req);
	void		(*read_status) (LmsJob *job, LmsDoc *doc);
	/* false when the API cannot cancel a job in its current state */
	bool		(*cancel_request) (LmsJob *job, LmsRequestSpec *req);
} LmsProvider;

extern const LmsProvider lms_provider_canvas;
extern const LmsProvider lms_provider_canvas_dap;
extern const LmsProvider lms_provider_brightspace;
extern const LmsProvider lms_provider_generic;
extern const LmsProvider *lmsfdw_find_provider(const char *name);
extern char *lmsfdw_api_url(const LmsOptions *opts, const char *path);

/* ---- stream.c: the result as a pull-based byte stream ---- */
typedef struct LmsStream LmsStream;

extern LmsStream *lmsfdw_stream_open(LmsJob *job, const char *url);
extern bool lmsfdw_stream_read(LmsStream *stream, const char **data,
							   size_t *len);
extern bool lmsfdw_stream_peek(LmsStream *stream, const char **data,
							   size_t *len);
extern void lmsfdw_stream_describe(LmsStream *stream, const char **content_type,
								   const char **name);
extern void lmsfdw_stream_close(LmsStream *stream);

/* ---- tuple.c: records to tuples ---- */
typedef struct LmsColumnMap LmsColumnMap;
typedef struct LmsRowSource LmsRowSource;

extern LmsColumnMap *lmsfdw_column_map_create(Relation rel,
											  Bitmapset *attrs_used);
extern LmsRowSource *lmsfdw_rows_open(LmsColumnMap *map, LmsJob *job,
									  LmsStream *stream);
extern bool lmsfdw_rows_next(LmsRowSource *src, TupleTableSlot *slot);
extern void lmsfdw_rows_close(LmsRowSource *src);

#endif							/* LMS_FDW_H */
