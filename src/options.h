/*-------------------------------------------------------------------------
 *
 * options.h
 *		  The option catalogue, validation and the effective options
 *
 * IDENTIFICATION
 *		  src/options.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_OPTIONS_H
#define LMS_OPTIONS_H

#include "access/attnum.h"
#include "nodes/pg_list.h"

struct LmsProvider;

/*
 * The effective options of one foreign table: defaults, then the server's,
 * then the table's, plus the user mapping's credentials.  Times are in
 * milliseconds.  Built by lmsfdw_get_options().
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
	int			max_jobs;		/* exports one scan may start */
	int			max_parallel_downloads;
	bool		cancel_on_abort;
	int			reuse_window_ms;
	bool		allow_http;
	char	   *user_agent;
	char	   *ca_file;
	char	   *token_url;		/* OAuth token endpoint (Brightspace) */
	char	   *scope;			/* OAuth scope asked for there */

	/* user mapping */
	char	   *token;
	char	   *client_id;
	char	   *client_secret;
	char	   *refresh_token;	/* seed of the rotating refresh token */

	/* table */
	char	   *resource;
	char	   *account_id;
	char	   *namespace;
	char	   *parameters;		/* JSON object text */
	char	   *format;
	char	   *rows_path;
	bool		differential;	/* Brightspace Data Sets: the differential extract */

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
	bool		superuser_server;	/* owned by a superuser, so only
									 * superusers set its options */
} LmsOptions;

extern void lmsfdw_validate_options(List *options_list, Oid catalog);
extern LmsOptions *lmsfdw_get_options(Oid foreigntableid, Oid userid);
extern LmsOptions *lmsfdw_get_server_options(Oid serverid, Oid userid);
extern char *lmsfdw_column_option(Oid relid, AttrNumber attnum,
								  const char *name);
extern void lmsfdw_check_credentials(const LmsOptions *opts, Oid userid);

#endif							/* LMS_OPTIONS_H */
