/*-------------------------------------------------------------------------
 *
 * options.c
 *		  The option catalogue of lms_fdw: validation and effective options
 *
 * One table describes every option: where it may appear, how its value is
 * parsed, its default and where it lands in LmsOptions.  The validator, the
 * defaults and the merging of server and table options all read that table,
 * so an option is added in one place.
 *
 * Precedence: defaults, then the server's options, then the table's (for
 * options allowed on both), then the user mapping's credentials.
 * Credentials are accepted only on user mappings.  Times use PostgreSQL's
 * interval syntax ('500ms', '2 min') and are kept in milliseconds.
 *
 * IDENTIFICATION
 *		  src/options.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "document.h"
#include "foreign/foreign.h"
#include "lms_fdw.h"
#include "options.h"
#include "providers/provider.h"
#include "url.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/rel.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

/* where an option may appear */
#define ON_SERVER	0x01
#define ON_TABLE	0x02
#define ON_MAPPING	0x04
#define ON_COLUMN	0x08

typedef enum LmsOptionKind
{
	OPT_STRING,
	OPT_URL,
	OPT_INTERVAL,				/* > 0 ms */
	OPT_INTERVAL_OR_ZERO,		/* >= 0 ms */
	OPT_REAL,
	OPT_INT,
	OPT_BOOL,
	OPT_ENUM,
	OPT_JSON_OBJECT,
	OPT_VERSION,
	OPT_CREDENTIAL
} LmsOptionKind;

typedef struct LmsOptionDef
{
	const char *name;
	int			where;
	LmsOptionKind kind;
	const char *defval;			/* NULL: no default */
	int			offset;			/* in LmsOptions, -1 for column options */
	double		min;			/* OPT_REAL / OPT_INT lower bound */
	const char *const *choices; /* OPT_ENUM */
	int			superuser_where;	/* where only a superuser may set it */
} LmsOptionDef;

static const char *const provider_choices[] = {"canvas", "canvas_dap", "brightspace", "generic", NULL};
static const char *const format_choices[] = {"auto", "csv", "tsv", "jsonl", "json", NULL};
static const char *const method_choices[] = {"POST", "GET", "PUT", NULL};
static const char *const meta_choices[] = {"job_id", "fetched_at", "file_name", "extract_date",
"since", "until", "at", "schema_version", NULL};

#define OFF(field) offsetof(LmsOptions, field)
#define S_T (ON_SERVER | ON_TABLE)

static const LmsOptionDef option_catalogue[] = {
	{"provider", ON_SERVER, OPT_ENUM, NULL, OFF(provider_name), 0, provider_choices, 0},
	{"base_url", ON_SERVER, OPT_URL, NULL, OFF(base_url), 0, NULL, 0},
	{"poll_initial", S_T, OPT_INTERVAL, "1s", OFF(poll_initial_ms), 0, NULL, 0},
	{"poll_max", S_T, OPT_INTERVAL, "30s", OFF(poll_max_ms), 0, NULL, 0},
	{"poll_factor", S_T, OPT_REAL, "1.5", OFF(poll_factor), 1, NULL, 0},
	{"api_version", ON_SERVER, OPT_VERSION, "auto", OFF(api_version), 0, NULL, 0},
	{"poll_timeout", S_T, OPT_INTERVAL, "1h", OFF(poll_timeout_ms), 0, NULL, 0},
	{"retry_max", S_T, OPT_INT, "5", OFF(retry_max), 0, NULL, 0},
	{"retry_base", S_T, OPT_INTERVAL, "1s", OFF(retry_base_ms), 0, NULL, 0},
	{"retry_cap", S_T, OPT_INTERVAL, "60s", OFF(retry_cap_ms), 0, NULL, 0},
	{"rate_limit_floor", S_T, OPT_REAL, "100", OFF(rate_limit_floor), 0, NULL, 0},
	{"connect_timeout", ON_SERVER, OPT_INTERVAL, "10s", OFF(connect_timeout_ms), 0, NULL, 0},
	{"stall_timeout", S_T, OPT_INTERVAL, "60s", OFF(stall_timeout_ms), 0, NULL, 0},
	{"max_jobs", S_T, OPT_INT, "100", OFF(max_jobs), 1, NULL, 0},
	{"max_parallel_jobs", S_T, OPT_INT, "4", OFF(max_parallel_jobs), 1, NULL, 0},
	{"max_parallel_downloads", S_T, OPT_INT, "4", OFF(max_parallel_downloads), 1, NULL, 0},
	{"cancel_on_abort", S_T, OPT_BOOL, "true", OFF(cancel_on_abort), 0, NULL, 0},
	{"reuse_window", S_T, OPT_INTERVAL_OR_ZERO, "0", OFF(reuse_window_ms), 0, NULL, 0},
	{"allow_http", ON_SERVER, OPT_BOOL, "false", OFF(allow_http), 0, NULL, ON_SERVER},
	{"user_agent", ON_SERVER, OPT_STRING, "lms_fdw/" LMS_FDW_VERSION, OFF(user_agent), 0, NULL, 0},
	{"ca_file", ON_SERVER, OPT_STRING, NULL, OFF(ca_file), 0, NULL, ON_SERVER},
	/* OAuth refresh (Brightspace: auth.brightspace.com, Data Hub scopes) */
	{"token_url", ON_SERVER, OPT_URL, "https://auth.brightspace.com/core/connect/token", OFF(token_url), 0, NULL, 0},
	{"scope", ON_SERVER, OPT_STRING, "datahub:dataexports:* datahub:dataexports:download", OFF(scope), 0, NULL, 0},

	{"token", ON_MAPPING, OPT_CREDENTIAL, NULL, OFF(token), 0, NULL, 0},
	{"client_id", ON_MAPPING, OPT_CREDENTIAL, NULL, OFF(client_id), 0, NULL, 0},
	{"client_secret", ON_MAPPING, OPT_CREDENTIAL, NULL, OFF(client_secret), 0, NULL, 0},
	{"refresh_token", ON_MAPPING, OPT_CREDENTIAL, NULL, OFF(refresh_token), 0, NULL, 0},

	{"resource", ON_TABLE, OPT_STRING, NULL, OFF(resource), 0, NULL, 0},
	{"account_id", ON_TABLE, OPT_STRING, "self", OFF(account_id), 0, NULL, 0},
	{"namespace", ON_TABLE, OPT_STRING, "canvas", OFF(namespace), 0, NULL, 0},
	{"parameters", ON_TABLE, OPT_JSON_OBJECT, "{}", OFF(parameters), 0, NULL, 0},
	{"format", ON_TABLE, OPT_ENUM, "auto", OFF(format), 0, format_choices, 0},
	{"rows_path", ON_TABLE, OPT_STRING, NULL, OFF(rows_path), 0, NULL, 0},
	{"differential", ON_TABLE, OPT_BOOL, "false", OFF(differential), 0, NULL, 0},
	{"start_path", S_T, OPT_STRING, NULL, OFF(start_path), 0, NULL, ON_TABLE},
	{"start_method", S_T, OPT_ENUM, "POST", OFF(start_method), 0, method_choices, ON_TABLE},
	{"start_body", S_T, OPT_STRING, NULL, OFF(start_body), 0, NULL, ON_TABLE},
	{"job_id_path", ON_TABLE, OPT_STRING, "id", OFF(job_id_path), 0, NULL, 0},
	{"status_path", ON_TABLE, OPT_STRING, NULL, OFF(status_path), 0, NULL, 0},
	{"state_path", ON_TABLE, OPT_STRING, "status", OFF(state_path), 0, NULL, 0},
	{"done_states", ON_TABLE, OPT_STRING, "complete,completed,done,succeeded,success", OFF(done_states), 0, NULL, 0},
	{"failed_states", ON_TABLE, OPT_STRING, "failed,error,aborted,cancelled,canceled,deleted,expired", OFF(failed_states), 0, NULL, 0},
	{"result_url_path", ON_TABLE, OPT_STRING, "url", OFF(result_url_path), 0, NULL, 0},
	{"error_path", ON_TABLE, OPT_STRING, "error", OFF(error_path), 0, NULL, 0},

	{"field", ON_COLUMN, OPT_STRING, NULL, -1, 0, NULL, 0},
	{"param", ON_COLUMN, OPT_STRING, NULL, -1, 0, NULL, 0},
	{"meta", ON_COLUMN, OPT_ENUM, NULL, -1, 0, meta_choices, 0},

	{NULL}						/* sentinel */
};

static int
catalog_to_where(Oid catalog)
{
	switch (catalog)
	{
		case ForeignServerRelationId:
			return ON_SERVER;
		case ForeignTableRelationId:
			return ON_TABLE;
		case UserMappingRelationId:
			return ON_MAPPING;
		case AttributeRelationId:
			return ON_COLUMN;
		default:
			return 0;			/* the wrapper itself takes no options */
	}
}

static const char *
where_name(int where)
{
	switch (where)
	{
		case ON_SERVER:
			return "server";
		case ON_TABLE:
			return "foreign table";
		case ON_MAPPING:
			return "user mapping";
		case ON_COLUMN:
			return "column";
		default:
			return "foreign-data wrapper";
	}
}

static const LmsOptionDef *
find_option(const char *name)
{
	const LmsOptionDef *def;

	for (def = option_catalogue; def->name; def++)
		if (strcmp(def->name, name) == 0)
			return def;
	return NULL;
}

static char *
valid_options_list(int where)
{
	StringInfoData buf;
	const LmsOptionDef *def;

	initStringInfo(&buf);
	for (def = option_catalogue; def->name; def++)
	{
		if (!(def->where & where))
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, def->name);
	}
	return buf.data;
}

/*
 * Parse an interval option into milliseconds.  Any PostgreSQL interval is
 * accepted; months count as 30 days, as interval arithmetic does.
 */
static int64
interval_option_ms(const char *name, const char *value)
{
	Datum		d;
	Interval   *iv;
	double		ms;

	d = DirectFunctionCall3(interval_in, CStringGetDatum(value),
							ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	iv = DatumGetIntervalP(d);
	ms = (double) iv->time / 1000.0 +
		((double) iv->day + (double) iv->month * DAYS_PER_MONTH) * 86400000.0;
	if (ms > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value for option \"%s\" is too large: \"%s\"",
						name, value),
				 errhint("The largest accepted value is about 24 days.")));
	return (int64) ms;
}

static void
option_value_error(const char *name, const char *value, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
			 errdetail("The value must be %s.", expected)));
}

/* errcontext naming the option whose value is being parsed */
static void
option_error_context(void *arg)
{
	errcontext("option \"%s\"", ((const LmsOptionDef *) arg)->name);
}

/*
 * Check one value against its definition; store it into *opts when given.
 */
static void
parse_option_value(const LmsOptionDef *def, const char *value,
				   LmsOptions *opts)
{
	void	   *dest = (opts && def->offset >= 0) ? (char *) opts + def->offset : NULL;
	ErrorContextCallback errcb;

	errcb.callback = option_error_context;
	errcb.arg = (void *) def;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	switch (def->kind)
	{
		case OPT_STRING:
		case OPT_CREDENTIAL:
		case OPT_URL:
			if (value[0] == '\0' && def->kind != OPT_STRING)
				option_value_error(def->name, value, "a non-empty string");
			/* what reaches a header (or a configured path) breaks no line */
			if ((def->kind == OPT_CREDENTIAL || strcmp(def->name, "user_agent") == 0 ||
				 strcmp(def->name, "start_path") == 0 ||
				 strcmp(def->name, "status_path") == 0) &&
				strpbrk(value, "\r\n") != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
						 errmsg("invalid value for option \"%s\": it contains a line break",
								def->name),
						 errdetail("The value is sent in a request line or a header, where CR and LF would start another.")));
			if (def->kind == OPT_URL)
			{
				/* the http rule is checked with allow_http in check_server */
				const char *problem = lmsfdw_base_url_problem(value, true);

				if (problem)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": %s",
									def->name, problem),
							 errhint("Use http(s)://host[:port][/prefix].")));
			}
			if (dest)
				*(char **) dest = pstrdup(value);
			break;
		case OPT_INTERVAL:
		case OPT_INTERVAL_OR_ZERO:
			{
				int64		ms = interval_option_ms(def->name, value);

				if (ms < 0 || (ms < 1 && def->kind == OPT_INTERVAL))
					option_value_error(def->name, value,
									   def->kind == OPT_INTERVAL ?
									   "a positive interval of at least 1 millisecond, such as '500ms' or '2 min'" :
									   "zero or a positive interval");
				if (dest)
					*(int *) dest = (int) ms;
			}
			break;
		case OPT_REAL:
			{
				double		v;

				if (!parse_real(value, &v, 0, NULL) || isnan(v) || isinf(v) ||
					v < def->min)
					option_value_error(def->name, value,
									   psprintf("a number not less than %g", def->min));
				if (dest)
					*(double *) dest = v;
			}
			break;
		case OPT_INT:
			{
				int			v;

				if (!parse_int(value, &v, 0, NULL) || v < def->min)
					option_value_error(def->name, value,
									   psprintf("an integer not less than %d", (int) def->min));
				if (dest)
					*(int *) dest = v;
			}
			break;
		case OPT_BOOL:
			{
				bool		v;

				if (!parse_bool(value, &v))
					option_value_error(def->name, value, "a boolean");
				if (dest)
					*(bool *) dest = v;
			}
			break;
		case OPT_ENUM:
			{
				const char *const *c;

				for (c = def->choices; *c; c++)
					if (strcmp(*c, value) == 0)
						break;
				if (*c == NULL)
				{
					StringInfoData list;

					initStringInfo(&list);
					for (c = def->choices; *c; c++)
						appendStringInfo(&list, "%s\"%s\"",
										 list.len ? ", " : "", *c);
					option_value_error(def->name, value,
									   psprintf("one of %s", list.data));
				}
				if (dest)
					*(char **) dest = pstrdup(value);
			}
			break;
		case OPT_JSON_OBJECT:
			{
				if (!lmsfdw_json_is_object(value))
					option_value_error(def->name, value,
									   "a JSON object, such as '{\"include_deleted\": true}'");
				if (dest)
					*(char **) dest = pstrdup(value);
			}
			break;
		case OPT_VERSION:
			{
				const char *p = value;
				int			dots = 0;

				for (; *p; p++)
				{
					if (*p == '.')
						dots++;
					else if (*p < '0' || *p > '9')
						break;
				}
				/* 'auto': the newest the LMS offers (Brightspace) */
				if (strcmp(value, "auto") != 0 &&
					(*p || dots != 1 || value[0] == '.' || p[-1] == '.'))
					option_value_error(def->name, value,
									   "a version number such as '1.47', or 'auto'");
				if (dest)
					*(char **) dest = pstrdup(value);
			}
			break;
	}
	error_context_stack = errcb.previous;
}

/* Is fdwid lms_fdw's wrapper (its validator is ours)? */
static bool
is_lms_wrapper(Oid fdwid)
{
	ForeignDataWrapper *fdw = GetForeignDataWrapper(fdwid);
	char	   *name = OidIsValid(fdw->fdwvalidator) ?
		get_func_name(fdw->fdwvalidator) : NULL;

	return name && strcmp(name, "lms_fdw_validator") == 0;
}

/*
 * owned_object_has_option
 *		Does an lms_fdw server (or foreign table) that the current user owns
 *		already carry option name with this value?
 *
 * The validator sees the whole new option list, not what changed, so a
 * superuser-only option a superuser set would block every later ALTER by
 * the object's owner.  A value the user already has on an object they own
 * is no new power (they could use that object), so it may stay.
 */
static bool
owned_object_has_option(Oid catalog, const char *name, const char *value)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (catalog != ForeignServerRelationId && catalog != ForeignTableRelationId)
		return false;
	rel = table_open(catalog, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum		options;
		bool		isnull;
		ListCell   *lc;

		if (catalog == ForeignServerRelationId)
		{
			Form_pg_foreign_server srv = (Form_pg_foreign_server) GETSTRUCT(tup);

			if (!has_privs_of_role(GetUserId(), srv->srvowner) ||
				!is_lms_wrapper(srv->srvfdw))
				continue;
			options = heap_getattr(tup, Anum_pg_foreign_server_srvoptions,
								   RelationGetDescr(rel), &isnull);
		}
		else
		{
			Form_pg_foreign_table ft = (Form_pg_foreign_table) GETSTRUCT(tup);

#if PG_VERSION_NUM >= 160000
			if (!object_ownercheck(RelationRelationId, ft->ftrelid, GetUserId()))
				continue;
#else
			if (!pg_class_ownercheck(ft->ftrelid, GetUserId()))
				continue;
#endif
			if (!is_lms_wrapper(GetForeignServer(ft->ftserver)->fdwid))
				continue;
			options = heap_getattr(tup, Anum_pg_foreign_table_ftoptions,
								   RelationGetDescr(rel), &isnull);
		}
		if (isnull)
			continue;
		foreach(lc, untransformRelOptions(options))
		{
			DefElem    *d = (DefElem *) lfirst(lc);

			if (strcmp(d->defname, name) == 0 &&
				strcmp(defGetString(d), value) == 0)
				found = true;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Only a superuser may point a server at a loopback, link-local or private
 * host (the address rule, url.c); a value already on a server the user
 * owns may stay.
 */
static void
check_private_host(const char *name, const char *url)
{
	if (lmsfdw_url_names_private_host(url) && !superuser() &&
		!owned_object_has_option(ForeignServerRelationId, name, url))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set option \"%s\" to a loopback, link-local or private host",
						name),
				 errdetail("Only superusers may point a server at such a host."),
				 errhint("Loopback, link-local and private addresses are reachable only from a server owned by a superuser whose base_url names such a host.")));
}

/*
 * Checks that need several options of the server at once.
 */
static void
check_server_options(List *options)
{
	const char *base_url = NULL;
	const char *token_url = NULL;
	bool		allow_http = false;
	bool		have_provider = false;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "base_url") == 0)
			base_url = defGetString(d);
		else if (strcmp(d->defname, "token_url") == 0)
			token_url = defGetString(d);
		else if (strcmp(d->defname, "allow_http") == 0)
			allow_http = defGetBoolean(d);
		else if (strcmp(d->defname, "provider") == 0)
			have_provider = true;
	}

	if (!have_provider)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("option \"provider\" is required for an lms_fdw server"),
				 errhint("Valid providers are \"canvas\", \"canvas_dap\", \"brightspace\" and \"generic\".")));
	if (base_url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("option \"base_url\" is required for an lms_fdw server"),
				 errhint("For example: base_url 'https://school.instructure.com'.")));
	if (lmsfdw_base_url_problem(base_url, allow_http) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"base_url\": %s",
						lmsfdw_base_url_problem(base_url, allow_http)),
				 errhint("Plain http is allowed only to loopback hosts unless a superuser sets allow_http 'true'.")));
	if (token_url && lmsfdw_url_problem(token_url, allow_http) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"token_url\": %s",
						lmsfdw_url_problem(token_url, allow_http)),
				 errhint("Plain http is allowed only to loopback hosts unless a superuser sets allow_http 'true'.")));
	check_private_host("base_url", base_url);
	if (token_url)
		check_private_host("token_url", token_url);
}

/*
 * lmsfdw_validate_options
 *		The validator: every option known, allowed here, and well-formed.
 */
void
lmsfdw_validate_options(List *options_list, Oid catalog)
{
	int			where = catalog_to_where(catalog);
	ListCell   *lc;

	foreach(lc, options_list)
	{
		DefElem    *d = (DefElem *) lfirst(lc);
		const LmsOptionDef *def = find_option(d->defname);

		if (def && def->kind == OPT_CREDENTIAL && where != ON_MAPPING)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" is allowed only on user mappings",
							d->defname),
					 errhint("Put credentials in CREATE USER MAPPING ... OPTIONS (%s '...'), where only the mapped user and superusers can read them.",
							 d->defname)));
		if (def == NULL || !(def->where & where))
		{
			char	   *valid = valid_options_list(where);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for an lms_fdw %s",
							d->defname, where_name(where)),
					 valid[0] ?
					 errhint("Valid options in this context are: %s.", valid) :
					 errhint("There are no valid options in this context.")));
		}
		if ((def->superuser_where & where) && !superuser() &&
			!owned_object_has_option(catalog, def->name, defGetString(d)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to set option \"%s\"", def->name),
					 errdetail("Only superusers may set this option on a %s.",
							   where_name(where)),
					 errhint("A value a superuser set may stay while other options change.")));
		parse_option_value(def, defGetString(d), NULL);
		/* a resource no token can read is refused at once (the server is not known here) */
		if (where == ON_TABLE && strcmp(def->name, "resource") == 0)
			lmsfdw_canvas_refuse_resource(defGetString(d));
	}

	if (where == ON_SERVER)
		check_server_options(options_list);
}

/* Apply a list of DefElem options to opts, for one kind of object. */
static void
apply_options(LmsOptions *opts, List *options, int where)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);
		const LmsOptionDef *def = find_option(d->defname);

		/* the validator saw these already; skip anything not ours here */
		if (def == NULL || !(def->where & where) || def->offset < 0)
			continue;
		parse_option_value(def, defGetString(d), opts);
	}
}

/*
 * lmsfdw_get_options
 *		The effective options for a scan of foreigntableid by userid.
 *
 * Allocated in the current memory context.
 */
/* The options of a server (and of one of its tables, if tableoptions). */
static LmsOptions *
get_options(ForeignServer *server, List *tableoptions, Oid userid)
{
	LmsOptions *opts = palloc0(sizeof(LmsOptions));
	UserMapping *mapping = GetUserMapping(userid, server->serverid);
	const LmsOptionDef *def;

	for (def = option_catalogue; def->name; def++)
		if (def->defval && def->offset >= 0)
			parse_option_value(def, def->defval, opts);

	apply_options(opts, server->options, ON_SERVER);
	apply_options(opts, tableoptions, ON_TABLE);
	apply_options(opts, mapping->options, ON_MAPPING);

	opts->serverid = server->serverid;
	opts->server_name = pstrdup(server->servername);
	opts->umid = mapping->umid;
	opts->superuser_server = superuser_arg(server->owner);
	opts->provider = lmsfdw_find_provider(opts->provider_name);
	if (opts->provider == NULL || opts->base_url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("server \"%s\" lacks options \"provider\" and \"base_url\"",
						server->servername)));
	if (opts->poll_max_ms < opts->poll_initial_ms)
		opts->poll_max_ms = opts->poll_initial_ms;
	if (opts->retry_cap_ms < opts->retry_base_ms)
		opts->retry_cap_ms = opts->retry_base_ms;
	return opts;
}

LmsOptions *
lmsfdw_get_options(Oid foreigntableid, Oid userid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	LmsOptions *opts = get_options(GetForeignServer(table->serverid),
								   table->options, userid);

	opts->provider->check_table(opts);
	return opts;
}

/*
 * lmsfdw_get_server_options
 *		A server's options with the user mapping's, for requests that
 *		concern no table (IMPORT FOREIGN SCHEMA).
 */
LmsOptions *
lmsfdw_get_server_options(Oid serverid, Oid userid)
{
	return get_options(GetForeignServer(serverid), NIL, userid);
}

/*
 * lmsfdw_check_credentials
 *		A non-superuser must use a user mapping that carries a credential:
 *		otherwise the server's own network identity would stand in for theirs.
 */
void
lmsfdw_check_credentials(const LmsOptions *opts, Oid userid)
{
	if (opts->token || opts->client_id || opts->refresh_token)
		return;
	if (superuser_arg(userid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("a credential is required for non-superusers to read from server \"%s\"",
					opts->server_name),
			 errhint("Add the option token '...' to the user mapping for this user.")));
}

/*
 * lmsfdw_column_option
 *		One option of a column, or NULL.
 */
char *
lmsfdw_column_option(Oid relid, AttrNumber attnum, const char *name)
{
	List	   *options = GetForeignColumnOptions(relid, attnum);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, name) == 0)
			return defGetString(d);
	}
	return NULL;
}
