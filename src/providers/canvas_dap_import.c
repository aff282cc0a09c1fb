/*-------------------------------------------------------------------------
 *
 * canvas_dap_import.c
 *		  IMPORT FOREIGN SCHEMA of a Canvas Data 2 namespace, from the LMS
 *
 * The remote schema is a DAP namespace (canvas, canvas_logs, ...; the
 * provider's name canvas_dap stands for canvas).  Its tables are those of
 * GET /dap/query/{namespace}/table, LIMIT TO / EXCEPT applied, and each
 * table's columns those of GET /dap/query/{namespace}/table/{table}/schema
 * (dap_schema.c maps the JSON schema to PostgreSQL types): the key's
 * columns, the value's, meta.action and meta.ts, each with its field
 * option, then the job's meta columns since (also the param since: a qual
 * on it is an incremental query), until, at and schema_version.  A name
 * taken twice gets its part as a prefix (meta_action).  The table comment
 * carries the schema version.
 *
 * The requests go through a job that is never started (its logins and
 * retries); when the table list cannot be read, import.c falls back to its
 * built-in tables with a WARNING saying why.
 *
 * IDENTIFICATION
 *		  src/providers/canvas_dap_import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/comment.h"
#include "commands/defrem.h"
#include "catalog/pg_class.h"
#include "dap_schema.h"
#include "foreign/foreign.h"
#include "import.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "providers/canvas_dap.h"
#include "providers/provider.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

/* A table comment to set once IMPORT has created the table. */
typedef struct DapPendingComment
{
	char	   *schema;
	char	   *table;
	char	   *comment;
} DapPendingComment;

/* of DapPendingComment *, in TopTransactionContext; see lmsfdw_dap_table_created */
static List *pending_comments = NIL;
static TransactionId pending_xid = InvalidTransactionId;

/* The namespace a remote schema names. */
static const char *
dap_namespace(const char *remote_schema)
{
	return strcmp(remote_schema, "canvas_dap") == 0 ? "canvas" : remote_schema;
}

/* One GET of the API through the job, as text; raises on failure. */
static char *
dap_get(LmsJob *job, const char *what, size_t *len,...)
{
	LmsRequestSpec spec;
	va_list		ap;
	const char *seg[8];
	int			n = 0;

	va_start(ap, len);
	while (n < 7 && (seg[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	memset(&spec, 0, sizeof(spec));
	spec.method = "GET";
	/* dap/query/{ns}/table[/{t}/schema] */
	if (n == 4)
		spec.url = lmsfdw_api_url_segments(job->opts, seg[0], seg[1], seg[2], seg[3], NULL);
	else
		spec.url = lmsfdw_api_url_segments(job->opts, seg[0], seg[1], seg[2], seg[3],
										   seg[4], seg[5], NULL);
	return lmsfdw_job_fetch(job, &spec, what, len);
}

/* name, or with a prefix if a column already has it */
static const char *
dap_column_name(List **taken, const char *name, const char *prefix)
{
	const char *try = name;
	ListCell   *lc;
	int			n = 1;

	for (;;)
	{
		bool		clash = false;

		foreach(lc, *taken)
			if (strcmp((char *) lfirst(lc), try) == 0)
				clash = true;
		if (!clash)
			break;
		try = n == 1 ? psprintf("%s_%s", prefix, name) : psprintf("%s_%s_%d", prefix, name, n);
		n++;
	}
	*taken = lappend(*taken, pstrdup(try));
	return try;
}

/* The CREATE FOREIGN TABLE of one table's schema document. */
static char *
dap_create_table(ImportForeignSchemaStmt *stmt, ForeignServer *server,
				 const char *ns, const char *table, const char *text,
				 size_t len, const char *extra)
{
	char		err[256];
	DapSchema  *schema = dap_schema_parse(text, len, err, sizeof(err));
	StringInfoData sql;
	List	   *taken = NIL;
	int			i;
	static const char *const meta[][2] = {
		{"since", "timestamp with time zone"}, {"until", "timestamp with time zone"},
		{"at", "timestamp with time zone"}, {"schema_version", "integer"}};

	if (schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("the schema of Canvas Data 2 table %s.%s cannot be read: %s",
						ns, table, err)));
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE FOREIGN TABLE %s (", quote_identifier(table));
	for (i = 0; i < schema->ncolumns; i++)
	{
		DapColumn  *c = &schema->columns[i];
		const char *part = pnstrdup(c->path, strchr(c->path, '.') - c->path);

		appendStringInfo(&sql, "%s%s %s OPTIONS (field %s)", i ? ", " : "",
						 quote_identifier(dap_column_name(&taken, c->name, part)),
						 c->type, quote_literal_cstr(c->path));
	}
	for (i = 0; i < lengthof(meta); i++)
	{
		const char *name = dap_column_name(&taken, meta[i][0], "meta");

		appendStringInfo(&sql, ", %s %s OPTIONS (meta %s%s)", quote_identifier(name),
						 meta[i][1], quote_literal_cstr(meta[i][0]),
						 i == 0 ? ", param 'since'" : "");
	}
	appendStringInfo(&sql, ") SERVER %s OPTIONS (resource %s",
					 quote_identifier(server->servername), quote_literal_cstr(table));
	if (strcmp(ns, "canvas") != 0)
		appendStringInfo(&sql, ", namespace %s", quote_literal_cstr(ns));
	appendStringInfo(&sql, "%s)", extra);

	/* the comment, set once the statement has run (see below) */
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		DapPendingComment *pc = palloc(sizeof(DapPendingComment));

		pc->schema = pstrdup(stmt->local_schema);
		pc->table = pstrdup(table);
		pc->comment = schema->title ?
			psprintf("Canvas Data 2 table %s.%s, schema version %ld: %s", ns, table,
					 schema->version, schema->title) :
			psprintf("Canvas Data 2 table %s.%s, schema version %ld", ns, table,
					 schema->version);
		pending_comments = lappend(pending_comments, pc);
		MemoryContextSwitchTo(old);
	}
	dap_schema_free(schema);
	return sql.data;
}

/* The statements of the import, or raise. */
static List *
dap_import_commands(ImportForeignSchemaStmt *stmt, ForeignServer *server,
					const char *extra)
{
	LmsOptions *opts = lmsfdw_get_server_options(server->serverid, GetUserId());
	const char *ns = dap_namespace(stmt->remote_schema);
	LmsJob	   *job = lmsfdw_job_create(opts, NIL);
	List	   *commands = NIL;
	char		err[256];
	char	   *text;
	size_t		len;
	char	  **tables;
	char	  **t;

	lmsfdw_check_credentials(opts, GetUserId());
	text = dap_get(job, "reading the table list", &len, "dap", "query", ns, "table", NULL);
	tables = dap_table_list_parse(text, len, err, sizeof(err));
	if (tables == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the Canvas Data 2 table list of namespace \"%s\" cannot be read: %s",
						ns, err)));
	PG_TRY();
	{
		for (t = tables; *t; t++)
		{
			if (!lmsfdw_import_wanted(stmt, *t))
				continue;
			text = dap_get(job, "reading a table's schema", &len,
						   "dap", "query", ns, "table", *t, "schema", NULL);
			commands = lappend(commands,
							   dap_create_table(stmt, server, ns, *t, text, len, extra));
		}
	}
	PG_FINALLY();
	{
		dap_table_list_free(tables);
	}
	PG_END_TRY();
	lmsfdw_job_release(job);
	return commands;
}

/*
 * lmsfdw_dap_import_schema
 *		The CREATE FOREIGN TABLE statements of a namespace, read from the LMS.
 *		*fallback: the LMS could not be read, a WARNING says so, and NIL is
 *		returned for the caller's built-in tables.
 */
List *
lmsfdw_dap_import_schema(ImportForeignSchemaStmt *stmt, ForeignServer *server,
						 const char *extra, bool *fallback)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	List	   *commands = NIL;

	*fallback = false;
	pending_comments = NIL;
	pending_xid = GetCurrentTransactionId();
	/* a subtransaction: a failure to reach the LMS is a WARNING, not the end */
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		commands = dap_import_commands(stmt, server, extra);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		/* a cancel is no reason to fall back */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("the Canvas Data 2 tables of server \"%s\" could not be read; importing the built-in tables instead",
						server->servername),
				 errdetail("%s", edata->message),
				 errhint("Import again once the LMS answers: the built-in tables' columns may lag behind its schema.")));
		pending_comments = NIL;
		*fallback = true;
		commands = NIL;
	}
	PG_END_TRY();
	return commands;
}

/*
 * lmsfdw_dap_table_created
 *		A CREATE FOREIGN TABLE has run (IMPORT runs them after
 *		ImportForeignSchema returned): if it made a table this import
 *		described, set its comment.
 */
void
lmsfdw_dap_table_created(CreateForeignTableStmt *stmt)
{
	ListCell   *lc;
	Oid			nsp;
	Oid			relid;

	if (pending_comments == NIL || pending_xid != GetCurrentTransactionIdIfAny())
	{
		pending_comments = NIL;
		return;
	}
	foreach(lc, pending_comments)
	{
		DapPendingComment *pc = (DapPendingComment *) lfirst(lc);

		if (strcmp(pc->table, stmt->base.relation->relname) != 0)
			continue;
		CommandCounterIncrement();
		nsp = get_namespace_oid(pc->schema, true);
		relid = OidIsValid(nsp) ? get_relname_relid(pc->table, nsp) : InvalidOid;
		if (OidIsValid(relid))
			CreateComments(relid, RelationRelationId, 0, pc->comment);
		pending_comments = foreach_delete_current(pending_comments, lc);
		break;
	}
}
