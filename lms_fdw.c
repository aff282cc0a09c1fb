/*-------------------------------------------------------------------------
 *
 * lms_fdw.c
 *		  Foreign-data wrapper for LMS bulk exports: the FDW glue
 *
 * A foreign scan runs export jobs: it starts them, waits for them, then
 * streams their result files into tuples.  Nothing remote happens until
 * the first row is asked for, so EXPLAIN and a cursor that is never
 * fetched from cost nothing.  This file holds the handler, the validator,
 * the planner and executor callbacks and the SQL-callable functions; the
 * jobs, transfers, readers and tuples are in src/.
 *
 * Quals: "param_column = value" (a constant, $1, an outer reference) or
 * "param_column IN (...)" becomes export parameters: one job per value,
 * run concurrently by a job set; every qual is still checked locally.  A
 * join on a param column also gets parameterized paths.
 *
 * Rescans: when the executor asks for cheap rescans (EXEC_FLAG_REWIND), or
 * the quals use outer values that are not export parameters (LATERAL, a
 * correlated subquery), the rows are spooled into a tuplestore as they
 * stream by and replayed, never starting a second export; a rescan with new
 * export parameters (or without a spool) starts new jobs.
 *
 * Under an Append the scan is asynchronous: it never blocks on its jobs,
 * and offers the Append a timer for its next status check.  Under a Gather
 * the leader starts the jobs once while the DSM is set up, and every
 * participant claims parts (Canvas Data 2 objects, the jobs of an IN list,
 * zip entries) from a shared counter.
 *
 * IDENTIFICATION
 *		  lms_fdw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/reloptions.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "activity.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "connection.h"
#include "executor/execAsync.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "history.h"
#include "import.h"
#include "jobset.h"
#include "lms_fdw.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "port/atomics.h"
#include "options.h"
#include "params.h"
#include "parser/parsetree.h"
#include "providers/canvas_dap.h"
#include "providers/provider.h"
#include "shared.h"
#include "storage/fd.h"
#include "storage/spin.h"
#include "stream.h"
#include "tcop/utility.h"
#include "tuple.h"
#include "url.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#ifdef PG_MODULE_MAGIC_EXT
PG_MODULE_MAGIC_EXT(.name = "lms_fdw",.version = LMS_FDW_VERSION);
#else
PG_MODULE_MAGIC;
#endif

/*
 * Costs.  An export is slow to start (a job on the LMS, status checks): its
 * startup cost is that of reading LMS_STARTUP_PAGES pages, more than any
 * modest local plan, so the planner avoids repeating it (it puts a Material
 * or a hash on it rather than rescanning).  It stays well below
 * jit_above_cost (100000), which a plain scan must not reach: compiling with
 * LLVM costs more than most exports' rows.  Each row costs a tuple's CPU
 * twice (parsing, input functions) plus the local filters, so a
 * million-row export (30000) is still below the JIT threshold, as a heap
 * scan of a million rows is.
 */
#define LMS_STARTUP_PAGES	10000.0
#define LMS_PARALLEL_ID_LEN	256
#define LMS_DEFAULT_ROWS	1000

/* fdw_private of a ForeignScan plan */
enum FdwScanPrivateIndex
{
	FdwScanPrivateParams,		/* list of String: parameter names; their
								 * values are the plan's fdw_exprs */
	FdwScanPrivateUsedAttrs,	/* integer list of attnums used (0: whole row) */
	FdwScanPrivateDescription,	/* String: the EXPLAIN "LMS" line */
	FdwScanPrivateParamIsList	/* integer list: 1 where the value is an array
								 * (IN, = ANY), 0 for one value */
};

/* planner state in baserel->fdw_private */
typedef struct LmsPlanState
{
	LmsOptions *opts;
	Bitmapset  *attrs_used;
} LmsPlanState;

/*
 * Memory lifetimes of a scan.  Each has one owner, which creates and deletes
 * it in one place; everything below a context goes with it.
 *
 *	es_query_cxt (the executor's)
 *		LmsFdwScanState, the effective options, the column map, the spool.
 *		Lives as long as the query.
 *	 +- scan_cxt "lms_fdw scan"		created in lmsBeginForeignScan
 *		The job set and the parameter sets of the current export.  Reset by
 *		lmsReScanForeignScan (after finish_export); deleted with its parent.
 *		 +- job->cxt "lms_fdw job"	lmsfdw_job_create / lmsfdw_job_release
 *			One job: its strings, its provider state, its resolved URLs, the
 *			answers of its requests (each in a short-lived "lms_fdw answer"
 *			child).  The scan releases a job in finish_export once its rows
 *			are read; a job the query leaves running is cancelled at the LMS
 *			by the context's reset callback (job.c).
 *		 +- "lms_fdw result file"	open_files / close_file (one per open file)
 *			One open result file: its LmsResultFile and provider data, its
 *			stream (transfer, gzip/zip state: stream.c) and its record reader
 *			(tuple.c).  stream.c and tuple.c allocate what a file needs in
 *			the context current at lmsfdw_stream_open / lmsfdw_rows_open,
 *			which is this one; several files open at once each get their own.
 *			 +- "lms_fdw row"		tuple.c: reset before each row
 *				The current row's values and the input functions' cruft.
 *
 * Backend-lifetime state lives in TopMemoryContext, owned by its module: the
 * curl handles (connection.c), the reuse cache (reuse.c), Canvas Data 2
 * tokens (providers/canvas_dap.c); the recent-jobs list is a static array
 * (job.c).
 */

/*
 * The first result file of a job, opened before its turn: a paged list's
 * first page of the next jobs downloads while the current job's rows are
 * read (one context each, a child of scan_cxt, as file_cxt).
 */
typedef struct LmsOpenFile
{
	LmsJob	   *job;
	MemoryContext cxt;
	LmsResultFile *file;
	LmsStream  *stream;
} LmsOpenFile;

/*
 * One result file of the current job being read: up to
 * max_parallel_downloads are open at once, downloading side by side on the
 * connection's multi handle.
 */
typedef struct LmsFileSlot
{
	MemoryContext cxt;			/* "lms_fdw result file": all of the below */
	LmsResultFile *file;
	LmsStream  *stream;
	LmsRowSource *rows;
} LmsFileSlot;

/*
 * What the participants of a parallel scan share out, claimed through one
 * atomic counter (next_unit):
 *	 FILES:   the result files of the one job, by number (Canvas Data 2's
 *			  objects: the provider hands them out independently);
 *	 ENTRIES: the files inside the one job's result (a zip of several CSV
 *			  files), by their position in the job's sequence of files and
 *			  entries: every participant downloads the result and walks the
 *			  same sequence, reading only the entries it claims;
 *	 JOBS:	  the jobs of several parameter sets (an IN list), each read
 *			  whole by the participant that claims it.
 */
typedef enum LmsParallelUnit
{
	LMS_PARALLEL_FILES,
	LMS_PARALLEL_ENTRIES,
	LMS_PARALLEL_JOBS
} LmsParallelUnit;

/* One job of a parallel scan, as the leader publishes it. */
typedef struct LmsParallelJob
{
	int			set_index;		/* its parameter set's position */
	bool		jobless;		/* a resource without a job: no id */
	char		remote_id[LMS_PARALLEL_ID_LEN];
} LmsParallelJob;

/*
 * A parallel scan's shared state (in the DSM of its Gather): the leader
 * runs the export and publishes its jobs (ids only: no token, no URL);
 * every participant, leader included, claims units from next_unit.
 */
typedef struct LmsParallelScan
{
	pg_atomic_uint32 next_unit; /* the next unit to claim */
	/* what the participants read, for the next estimate (remember_rows) */
	pg_atomic_uint32 parts_read;
	pg_atomic_uint64 rows_read;
	pg_atomic_uint32 partial;	/* 1: a participant did not read to the end */
	LmsParallelUnit unit;
	int			nsets;			/* parameter sets of the scan */
	int			njobs;			/* jobs published; 0: nothing to read */
	slock_t		mutex;			/* for workers */
	LmsCounters workers;		/* what the workers did, for EXPLAIN ANALYZE */
	LmsParallelJob jobs[FLEXIBLE_ARRAY_MEMBER];
} LmsParallelScan;

/* at most this many result files of one job open at once */
#define LMS_MAX_OPEN_FILES 32

/* executor state in node->fdw_state */
typedef struct LmsFdwScanState
{
	Oid			relid;
	LmsOptions *opts;
	List	   *param_names;	/* of String */
	List	   *param_states;	/* of ExprState, their values */
	List	   *param_is_list;	/* integer list: value is an array */
	LmsColumnMap *map;
	MemoryContext scan_cxt;		/* the job set and its jobs (see above) */
	LmsJobSet  *jobs;			/* this scan's jobs, or NULL before the first row */
	LmsJob	   *job;			/* the job whose rows are being read */
	LmsFileSlot *files;			/* the job's result files being read */
	int			nfiles;			/* how many are open */
	int			current;		/* the one whose rows are read, or -1 */
	bool		files_done;		/* the job has no more files to open */
	int			rows_since_poll;
	char	   *params_text;	/* the export parameters of the current jobs */
	int			nsets;			/* how many parameter sets (jobs) they are */
	uint64		set_rows;		/* rows of the current jobs read so far */
	int			set_files;		/* their result files opened */
	int			set_jobs;		/* how many of them were read */
	bool		set_partial;	/* one of them was not read to its end */
	bool		async;			/* run by an async Append: never block on jobs */
	bool		async_waiting;	/* jobs run, none ready: wait for the timer */
	int			timerfd;		/* wakes the Append for the next status check */
	MemoryContextCallback timer_cleanup;
	List	   *prefetched;		/* LmsOpenFile *: first files of the next paged jobs */
	bool		exhausted;		/* the current result has been read to its end */
	Tuplestorestate *spool;		/* rows kept for rescans, or NULL */
	TupleTableSlot *spool_slot; /* for reading the spool */
	/* figures of jobs already finished by this scan */
	int			jobs_done;
	int			jobs_reused;
	LmsCounters totals;
	int			learned_runs;	/* most runs a job's schedule learned from */
	int			set_more_entries;	/* zip entries read beyond each file's first */
	LmsParallelScan *pscan;		/* a parallel scan's shared state, or NULL */
	LmsJob	  **leader_jobs;	/* the leader's jobs, by published index */
	int			jobs_taken;		/* FILES, ENTRIES: the one job is taken */
	uint32		next_ordinal;	/* ENTRIES: position in the job's sequence */
	List	   *worker_sets;	/* a worker's parameter sets (the leader's) */
} LmsFdwScanState;

void		_PG_init(void);

static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static void lms_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree, ProcessUtilityContext context,
							   ParamListInfo params, QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);

PG_FUNCTION_INFO_V1(lms_fdw_handler);
PG_FUNCTION_INFO_V1(lms_fdw_validator);
PG_FUNCTION_INFO_V1(lms_fdw_version);
PG_FUNCTION_INFO_V1(lms_fdw_jobs);
PG_FUNCTION_INFO_V1(lms_fdw_disconnect);
PG_FUNCTION_INFO_V1(lms_fdw_disconnect_all);
PG_FUNCTION_INFO_V1(lms_fdw_forget);
PG_FUNCTION_INFO_V1(lms_fdw_activity);

/* FDW callback routines */
static void lmsGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
static void lmsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
							   Oid foreigntableid);
static ForeignScan *lmsGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									  Oid foreigntableid, ForeignPath *best_path,
									  List *tlist, List *scan_clauses,
									  Plan *outer_plan);
static void lmsBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *lmsIterateForeignScan(ForeignScanState *node);
static void lmsReScanForeignScan(ForeignScanState *node);
static void lmsEndForeignScan(ForeignScanState *node);
static void lmsExplainForeignScan(ForeignScanState *node, ExplainState *es);
static List *lmsImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);
static bool lmsIsForeignPathAsyncCapable(ForeignPath *path);
static void lmsForeignAsyncRequest(AsyncRequest *areq);
static void lmsForeignAsyncConfigureWait(AsyncRequest *areq);
static void lmsForeignAsyncNotify(AsyncRequest *areq);
static bool lmsIsForeignScanParallelSafe(PlannerInfo *root, RelOptInfo *rel,
										 RangeTblEntry *rte);
static Size lmsEstimateDSMForeignScan(ForeignScanState *node,
									  ParallelContext *pcxt);
static void lmsInitializeDSMForeignScan(ForeignScanState *node,
										ParallelContext *pcxt, void *coordinate);
static void lmsReInitializeDSMForeignScan(ForeignScanState *node,
										  ParallelContext *pcxt, void *coordinate);
static void lmsInitializeWorkerForeignScan(ForeignScanState *node,
										   shm_toc *toc, void *coordinate);
static void lmsShutdownForeignScan(ForeignScanState *node);

/*
 * _PG_init
 *		When preloaded, set up the shared table of jobs (reuse_window across
 *		backends).
 */
void
_PG_init(void)
{
	lmsfdw_shared_init();
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = lms_ProcessUtility;
}

/*
 * lms_ProcessUtility
 *		After a CREATE FOREIGN TABLE that IMPORT FOREIGN SCHEMA runs, a table
 *		comment the import prepared (Canvas Data 2's schema version).
 */
static void
lms_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
	if (context == PROCESS_UTILITY_SUBCOMMAND &&
		IsA(pstmt->utilityStmt, CreateForeignTableStmt))
		lmsfdw_dap_table_created((CreateForeignTableStmt *) pstmt->utilityStmt);
}

/*
 * lms_fdw_handler
 *		The FdwRoutine of lms_fdw.
 */
Datum
lms_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = lmsGetForeignRelSize;
	routine->GetForeignPaths = lmsGetForeignPaths;
	routine->GetForeignPlan = lmsGetForeignPlan;
	routine->BeginForeignScan = lmsBeginForeignScan;
	routine->IterateForeignScan = lmsIterateForeignScan;
	routine->ReScanForeignScan = lmsReScanForeignScan;
	routine->EndForeignScan = lmsEndForeignScan;
	routine->ExplainForeignScan = lmsExplainForeignScan;
	routine->ImportForeignSchema = lmsImportForeignSchema;
	routine->IsForeignPathAsyncCapable = lmsIsForeignPathAsyncCapable;
	routine->ForeignAsyncRequest = lmsForeignAsyncRequest;
	routine->ForeignAsyncConfigureWait = lmsForeignAsyncConfigureWait;
	routine->ForeignAsyncNotify = lmsForeignAsyncNotify;
	routine->IsForeignScanParallelSafe = lmsIsForeignScanParallelSafe;
	routine->EstimateDSMForeignScan = lmsEstimateDSMForeignScan;
	routine->InitializeDSMForeignScan = lmsInitializeDSMForeignScan;
	routine->ReInitializeDSMForeignScan = lmsReInitializeDSMForeignScan;
	routine->InitializeWorkerForeignScan = lmsInitializeWorkerForeignScan;
	routine->ShutdownForeignScan = lmsShutdownForeignScan;

	PG_RETURN_POINTER(routine);
}

/*
 * lms_fdw_validator
 *		Check the options of CREATE/ALTER SERVER, USER MAPPING, FOREIGN
 *		TABLE and their columns against the option catalogue.
 */
Datum
lms_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);

	lmsfdw_validate_options(options, catalog);
	PG_RETURN_VOID();
}

/* The role whose user mapping a scan of baserel uses. */
static Oid
planning_user(PlannerInfo *root, RelOptInfo *baserel)
{
#if PG_VERSION_NUM >= 160000
	return OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
#else
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

static Oid
executing_user(ForeignScanState *node)
{
#if PG_VERSION_NUM >= 160000
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;

	return OidIsValid(plan->checkAsUser) ? plan->checkAsUser : GetUserId();
#else
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	RangeTblEntry *rte = exec_rt_fetch(plan->scan.scanrelid, node->ss.ps.state);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

/*
 * Rows of the last export of each foreign table read by this backend, for
 * the planner's estimate (LMS_DEFAULT_ROWS until one has been read).
 */
typedef struct LmsRowCount
{
	Oid			relid;			/* hash key */
	double		rows;
	int			parts;			/* what a parallel scan could share of its
								 * one job (export_parts); 0: unknown */
} LmsRowCount;

static HTAB *last_row_counts = NULL;

static LmsRowCount *
row_count_entry(Oid relid)
{
	LmsRowCount *entry;
	bool		found;

	if (last_row_counts == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(LmsRowCount);
		last_row_counts = hash_create("lms_fdw row counts", 16, &ctl,
									  HASH_ELEM | HASH_BLOBS);
	}
	entry = hash_search(last_row_counts, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->rows = LMS_DEFAULT_ROWS;
		entry->parts = 0;
	}
	return entry;
}

/* parts < 0: an export of several jobs, which leaves the one-job count */
static void
remember_rows(Oid relid, double rows, int parts)
{
	LmsRowCount *entry = row_count_entry(relid);

	entry->rows = rows;
	if (parts >= 0)
		entry->parts = parts;
}

/* parts of the last whole one-job export of relid; 0: unknown */
static int
known_parts(Oid relid)
{
	LmsRowCount *entry = last_row_counts ?
		hash_search(last_row_counts, &relid, HASH_FIND, NULL) : NULL;

	return entry ? entry->parts : 0;
}

static double
known_rows(Oid relid)
{
	LmsRowCount *entry = last_row_counts ?
		hash_search(last_row_counts, &relid, HASH_FIND, NULL) : NULL;

	return entry ? entry->rows : LMS_DEFAULT_ROWS;
}

/*
 * The restriction quals that are not export parameters.  The row count the
 * estimate starts from is that of an export the parameters already
 * filtered: their quals' selectivity must not be applied a second time.
 * A second qual on a parameter already given stays (it only filters).
 */
static List *
filter_only_quals(PlannerInfo *root, RelOptInfo *baserel, Oid relid)
{
	List	   *filters = NIL;
	List	   *seen = NIL;
	ListCell   *lc;

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		List	   *names;
		List	   *exprs;
		List	   *is_list;

		lmsfdw_params_from_quals(root, baserel, relid, list_make1(rinfo),
								 &names, &exprs, &is_list);
		if (names != NIL && !lmsfdw_params_include(seen, strVal(linitial(names))))
			seen = lappend(seen, linitial(names));
		else
			filters = lappend(filters, rinfo);
	}
	return filters;
}

/*
 * lmsGetForeignRelSize
 *		Options, export parameters, the columns needed and a row estimate.
 */
static void
lmsGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
					 Oid foreigntableid)
{
	LmsPlanState *ps = palloc0(sizeof(LmsPlanState));
	ListCell   *lc;

	ps->opts = lmsfdw_get_options(foreigntableid, planning_user(root, baserel));

	/* the columns the query reads, as file_fdw collects them */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &ps->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		pull_varattnos((Node *) rinfo->clause, baserel->relid, &ps->attrs_used);
	}

	baserel->fdw_private = ps;
	baserel->rows = clamp_row_est(known_rows(foreigntableid) *
								  clauselist_selectivity(root,
														 filter_only_quals(root, baserel,
																		   foreigntableid),
														 0, JOIN_INNER, NULL));
}

/* startup and total cost of an export of rows rows (see LMS_STARTUP_PAGES) */
static void
export_costs(RelOptInfo *baserel, double rows,
			 Cost *startup_cost, Cost *total_cost)
{
	Cost		per_row = cpu_tuple_cost * 2 + baserel->baserestrictcost.per_tuple;

	*startup_cost = LMS_STARTUP_PAGES * seq_page_cost +
		baserel->baserestrictcost.startup;
	*total_cost = *startup_cost + rows * per_row;
}

/* An unparameterized or parameterized path of the export (not yet added) */
static ForeignPath *
export_path(PlannerInfo *root, RelOptInfo *baserel, double rows,
			Cost startup_cost, Cost total_cost, Relids required_outer)
{
	return create_foreignscan_path(root, baserel, NULL, rows,
								   startup_cost, total_cost,
								   NIL, required_outer, NULL,
#if PG_VERSION_NUM >= 170000
								   NIL,
#endif
								   NIL);
}

/* equivalence-class callback: is em this relation's column arg? */
static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	Var		   *var = (Var *) em->em_expr;

	return IsA(var, Var) && var->varno == rel->relid && var->varlevelsup == 0 &&
		var->varattno == *(AttrNumber *) arg;
}

/* A parameterized path for join clause rinfo, if it feeds a param column. */
static ParamPathInfo *
param_path_info(PlannerInfo *root, RelOptInfo *baserel, Oid relid,
				RestrictInfo *rinfo)
{
	List	   *names;
	List	   *exprs;
	List	   *is_list;
	Relids		required_outer;

	if (!join_clause_is_movable_to(rinfo, baserel))
		return NULL;
	lmsfdw_params_from_quals(root, baserel, relid, list_make1(rinfo),
							 &names, &exprs, &is_list);
	if (names == NIL)
		return NULL;
	required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
	required_outer = bms_del_member(required_outer, baserel->relid);
	if (bms_is_empty(required_outer))
		return NULL;
	return get_baserel_parampathinfo(root, baserel, required_outer);
}

/* a parallel scan's share count not known yet (no export read so far) */
#define LMS_PARTS_UNKNOWN (-1)

/*
 * What a parallel scan of this export could share out among a Gather's
 * participants: the jobs of an IN list (counted from the plan's constant
 * values), else the one job's result files where the provider hands them
 * out independently (Canvas Data 2's objects: unknown before the table's
 * first export), else the files and zip entries of the table's last
 * export in this backend (unknown counts as one: a single-file export
 * stays serial).  A paginated list is one: its next page is known only
 * from the previous one.
 */
static int
export_parts(Oid relid, const LmsOptions *opts, List *exprs, List *is_list)
{
	const LmsProvider *provider = opts->provider;
	int			sets = lmsfdw_params_count(exprs, is_list);
	int			known = known_parts(relid);

	if (sets != 1)
		return sets;
	if (provider->paged && provider->paged(opts))
		return 1;
	if (provider->next_file && provider->concurrent_files)
		return known > 0 ? known : LMS_PARTS_UNKNOWN;
	return known;
}

/*
 * A partial path: the export's jobs, files or zip entries shared out among
 * a Gather's participants, one worker per part beyond the leader's (none
 * for a single part), before the first export of a provider with
 * independent files max_parallel_workers_per_gather.
 */
static void
add_parallel_path(PlannerInfo *root, RelOptInfo *baserel, int parts)
{
	int			workers = parts == LMS_PARTS_UNKNOWN ? max_parallel_workers_per_gather :
		Min(parts - 1, max_parallel_workers_per_gather);
	double		divisor = workers;
	double		rows;
	Cost		startup_cost;
	Cost		total_cost;
	ForeignPath *path;

	if (!baserel->consider_parallel || baserel->lateral_relids != NULL ||
		workers < 1)
		return;
	/* the leader's share, as costsize.c's get_parallel_divisor counts it */
	if (parallel_leader_participation && 1.0 - 0.3 * workers > 0)
		divisor += 1.0 - 0.3 * workers;
	rows = clamp_row_est(baserel->rows / divisor);
	export_costs(baserel, rows, &startup_cost, &total_cost);
	path = export_path(root, baserel, rows, startup_cost, total_cost, NULL);
	path->path.parallel_aware = true;
	path->path.parallel_safe = true;
	path->path.parallel_workers = workers;
	add_partial_path(baserel, (Path *) path);
}

/*
 * lmsGetForeignPaths
 *		The export, with a startup cost that reflects its latency; and,
 *		for a join on a param column, parameterized paths: a nested loop
 *		then runs one export per outer value.
 *
 * A resource that cannot be exported without a parameter (a gradebook
 * needs its course) makes the unparameterized path prohibitively
 * expensive unless the quals supply that parameter, so a join that does
 * is planned as such a nested loop.
 */
static void
lmsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	LmsPlanState *ps = (LmsPlanState *) baserel->fdw_private;
	const char *required = ps->opts->provider->required_param ?
		ps->opts->provider->required_param(ps->opts) : NULL;
	Cost		startup_cost;
	Cost		total_cost;
	List	   *names;
	List	   *exprs;
	List	   *is_list;
	List	   *ppis = NIL;
	ListCell   *lc;
	ForeignPath *path;
	AttrNumber	attnum;
	TupleDesc	tupdesc;
	Relation	rel;

	lmsfdw_params_from_quals(root, baserel, foreigntableid,
							 baserel->baserestrictinfo, &names, &exprs,
							 &is_list);
	export_costs(baserel, baserel->rows,
				 &startup_cost, &total_cost);
	if (required && !lmsfdw_params_include(names, required))
	{
		startup_cost += disable_cost;
		total_cost += disable_cost;
	}
	path = export_path(root, baserel, baserel->rows,
					   startup_cost, total_cost, NULL);
	/* only a parallel-aware scan may run in a worker (see add_parallel_path) */
	path->path.parallel_safe = false;
	add_path(baserel, (Path *) path);
	if (required == NULL || lmsfdw_params_include(names, required))
		add_parallel_path(root, baserel,
						  export_parts(foreigntableid, ps->opts, exprs, is_list));

	/* join clauses on param columns, written out or implied by equivalence */
	foreach(lc, baserel->joininfo)
	{
		ParamPathInfo *ppi = param_path_info(root, baserel, foreigntableid,
											 lfirst_node(RestrictInfo, lc));

		if (ppi)
			ppis = list_append_unique_ptr(ppis, ppi);
	}
	if (baserel->has_eclass_joins)
	{
		rel = table_open(foreigntableid, NoLock);
		tupdesc = RelationGetDescr(rel);
		for (attnum = 1; attnum <= tupdesc->natts; attnum++)
		{
			List	   *clauses;
			ListCell   *lc2;

			if (TupleDescAttr(tupdesc, attnum - 1)->attisdropped ||
				lmsfdw_column_option(foreigntableid, attnum, "param") == NULL)
				continue;
			clauses = generate_implied_equalities_for_column(root, baserel,
															 ec_member_is_column,
															 &attnum,
															 baserel->lateral_referencers);
			foreach(lc2, clauses)
			{
				ParamPathInfo *ppi = param_path_info(root, baserel, foreigntableid,
													 lfirst_node(RestrictInfo, lc2));

				if (ppi)
					ppis = list_append_unique_ptr(ppis, ppi);
			}
		}
		table_close(rel, NoLock);
	}
	foreach(lc, ppis)
	{
		ParamPathInfo *ppi = (ParamPathInfo *) lfirst(lc);

		export_costs(baserel, ppi->ppi_rows,
					 &startup_cost, &total_cost);
		path = export_path(root, baserel, ppi->ppi_rows,
						   startup_cost, total_cost, ppi->ppi_req_outer);
		path->path.parallel_safe = false;
		add_path(baserel, (Path *) path);
	}
}

/*
 * lmsGetForeignPlan
 *		Keep every qual as a local filter; pass parameters, used columns and
 *		the EXPLAIN description to the executor.
 */
static ForeignScan *
lmsGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				  ForeignPath *best_path, List *tlist, List *scan_clauses,
				  Plan *outer_plan)
{
	LmsPlanState *ps = (LmsPlanState *) baserel->fdw_private;
	List	   *used = NIL;
	List	   *names;
	List	   *exprs;
	List	   *is_list;
	List	   *fdw_private;
	int			k;

	/* scan_clauses holds a parameterized path's join clauses too */
	lmsfdw_params_from_quals(root, baserel, foreigntableid, scan_clauses,
							 &names, &exprs, &is_list);
	k = -1;
	while ((k = bms_next_member(ps->attrs_used, k)) >= 0)
		used = lappend_int(used, k + FirstLowInvalidHeapAttributeNumber);

	fdw_private = list_make4(names, used,
							 makeString(ps->opts->provider->describe(ps->opts)),
							 is_list);
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, baserel->relid,
							exprs, fdw_private, NIL, NIL, outer_plan);
}

/*
 * Should the scan keep its rows for rescans?  When the executor asks for
 * cheap rescans (EXEC_FLAG_REWIND), and whenever the node's quals use outer
 * values that do not reach the export (a LATERAL or correlated subquery
 * filtering on a plain column): a rescan for a new outer value then replays
 * the export instead of running it again.  A node whose outer values are all
 * export parameters needs no spool: each new value is a new export.  The
 * node's extParam is not the test: under a ModifyTable every scan depends
 * on the EvalPlanQual rescan parameter, which no expression uses, and an
 * INSERT ... SELECT must not spool its rows.
 */
static bool
may_replay(ForeignScan *plan, int eflags)
{
	Bitmapset  *used;

	if (eflags & EXEC_FLAG_REWIND)
		return true;
	if (bms_is_empty(plan->scan.plan.extParam))
		return false;
	used = bms_union(pull_paramids((Expr *) plan->scan.plan.qual),
					 pull_paramids((Expr *) plan->scan.plan.targetlist));
	return !bms_is_subset(used, pull_paramids((Expr *) plan->fdw_exprs));
}

/*
 * lmsBeginForeignScan
 *		Prepare the column map; nothing is sent until the first row is
 *		asked for.
 */
static void
lmsBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	LmsFdwScanState *state;
	Oid			userid;
	Bitmapset  *attrs_used = NULL;
	ListCell   *lc;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(LmsFdwScanState));
	state->relid = RelationGetRelid(rel);
	userid = executing_user(node);
	state->opts = lmsfdw_get_options(RelationGetRelid(rel), userid);
	lmsfdw_check_credentials(state->opts, userid);

	state->param_names = (List *) list_nth(plan->fdw_private,
										   FdwScanPrivateParams);
	state->param_states = ExecInitExprList(plan->fdw_exprs, (PlanState *) node);
	state->param_is_list = (List *) list_nth(plan->fdw_private,
											 FdwScanPrivateParamIsList);
	foreach(lc, (List *) list_nth(plan->fdw_private, FdwScanPrivateUsedAttrs))
		attrs_used = bms_add_member(attrs_used,
									lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
	state->map = lmsfdw_column_map_create(rel, attrs_used);
	state->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"lms_fdw scan",
											ALLOCSET_DEFAULT_SIZES);
	/* a parallel scan's rescan is a new export (see parallel_start) */
	if (!plan->scan.plan.parallel_aware && may_replay(plan, eflags))
	{
		state->spool = tuplestore_begin_heap(false, false, work_mem);
		tuplestore_set_eflags(state->spool, EXEC_FLAG_REWIND);
		state->spool_slot = ExecInitExtraTupleSlot(estate,
												   RelationGetDescr(rel),
												   &TTSOpsMinimalTuple);
	}
	state->timerfd = -1;
	state->async = node->ss.ps.async_capable;
	node->fdw_state = state;
}

/* The parameter sets of this scan, one per job (params.c). */
static List *
scan_param_sets(ForeignScanState *node, LmsFdwScanState *state)
{
	return lmsfdw_params_eval(node->ss.ps.ps_ExprContext, state->param_names,
							  state->param_states, state->param_is_list,
							  state->opts->max_jobs);
}

/* Close the open result file, if any: its stream, its reader, its context. */
/* Close the open file number i. */
static void
close_file(LmsFdwScanState *state, int i)
{
	LmsFileSlot *f = &state->files[i];

	if (f->rows)
		lmsfdw_rows_close(f->rows);
	if (f->stream)
		lmsfdw_stream_close(f->stream);
	MemoryContextDelete(f->cxt);
	state->nfiles--;
	memmove(f, f + 1, sizeof(LmsFileSlot) * (state->nfiles - i));
	if (state->current == i)
		state->current = -1;
	else if (state->current > i)
		state->current--;
}

static void
close_files(LmsFdwScanState *state)
{
	while (state->nfiles > 0)
		close_file(state, state->nfiles - 1);
}

/* A new slot for an open file, its context a child of scan_cxt. */
static LmsFileSlot *
add_slot(LmsFdwScanState *state, MemoryContext cxt)
{
	LmsFileSlot *f;

	if (state->files == NULL)
		state->files = MemoryContextAllocZero(GetMemoryChunkContext(state),
											  sizeof(LmsFileSlot) * LMS_MAX_OPEN_FILES);
	f = &state->files[state->nfiles++];
	memset(f, 0, sizeof(*f));
	f->cxt = cxt ? cxt : AllocSetContextCreate(state->scan_cxt, "lms_fdw result file",
											   ALLOCSET_DEFAULT_SIZES);
	return f;
}

/* Is this a parallel scan sharing out units of this kind? */
static inline bool
claims(LmsFdwScanState *state, LmsParallelUnit unit)
{
	return state->pscan != NULL && state->pscan->unit == unit;
}

/*
 * A parallel scan sharing out the entries of its one job: the stream's
 * current entry if this participant claims it, else the next one it
 * claims; false when the others have claimed the rest of the stream.
 * Every participant meets the job's files and their entries in the same
 * order, so the shared counter (the entries claimed so far) is never
 * below this participant's position: equal, the entry is free to claim.
 */
static bool
claim_entry(LmsFdwScanState *state, LmsStream *stream)
{
	for (;;)
	{
		uint32		position = state->next_ordinal++;
		uint32		expected = position;

		if (pg_atomic_compare_exchange_u32(&state->pscan->next_unit,
										   &expected, position + 1))
		{
			pg_atomic_fetch_add_u32(&state->pscan->parts_read, 1);
			return true;
		}
		Assert(expected > position);
		if (!lmsfdw_stream_next_entry(stream))
			return false;
	}
}

/*
 * How many files of the job may be read at once: max_parallel_downloads,
 * where the provider hands out files independently of each other (a list
 * of files, or Canvas Data 2's objects), else one (the next page of a
 * paginated list is known only from the previous one's answer; a
 * participant of a parallel scan).
 */
static int
parallel_files(LmsFdwScanState *state)
{
	const LmsProvider *provider = state->opts->provider;

	if (provider->next_file != NULL && !provider->concurrent_files)
		return 1;
	/*
	 * a parallel scan's participant claims one file at a time: the processes
	 * read side by side, and a file claimed early by one is not left to wait
	 * while the others run out; walking a job's entries, every participant
	 * meets them in the same order
	 */
	if (state->pscan && state->pscan->unit != LMS_PARALLEL_JOBS)
		return 1;
	return Min(state->opts->max_parallel_downloads, LMS_MAX_OPEN_FILES);
}

/*
 * Open the job's next result files until max_parallel_downloads are open
 * (each asked for just before it is opened, each in its own context); they
 * download side by side from then on.
 */
static void
open_files(LmsFdwScanState *state)
{
	int			want = parallel_files(state);

	while (!state->files_done && state->nfiles < want)
	{
		LmsFileSlot *f = add_slot(state, NULL);
		MemoryContext old = MemoryContextSwitchTo(f->cxt);

		f->file = palloc0(sizeof(LmsResultFile));
		if (claims(state, LMS_PARALLEL_FILES))
			state->job->files_claimed = (int)
				pg_atomic_fetch_add_u32(&state->pscan->next_unit, 1);
		if (!lmsfdw_job_next_file(state->job, f->file))
		{
			MemoryContextSwitchTo(old);
			state->files_done = true;
			close_file(state, state->nfiles - 1);
			break;
		}
		if (claims(state, LMS_PARALLEL_FILES))
			pg_atomic_fetch_add_u32(&state->pscan->parts_read, 1);
		f->stream = lmsfdw_stream_open(state->job, f->file);
		if (claims(state, LMS_PARALLEL_ENTRIES) && !claim_entry(state, f->stream))
		{
			/* every entry of this file is another participant's */
			MemoryContextSwitchTo(old);
			close_file(state, state->nfiles - 1);
			continue;
		}
		f->rows = lmsfdw_rows_open(state->map, state->job, f->stream);
		MemoryContextSwitchTo(old);
	}
}

/*
 * The open file to read rows from: the current one while it has bytes at
 * hand, else another that has, else the current (or first) one, waited for
 * (its wait drives every open download).
 */
static int
choose_file(LmsFdwScanState *state)
{
	int			i;

	if (state->current >= 0 && lmsfdw_stream_ready(state->files[state->current].stream))
		return state->current;
	for (i = 0; i < state->nfiles; i++)
		if (lmsfdw_stream_ready(state->files[i].stream))
			return state->current = i;
	if (state->current < 0)
		state->current = 0;
	return state->current;
}

/* A job becomes the one whose rows are read: its files are opened anew. */
static void
set_job(LmsFdwScanState *state, LmsJob *job)
{
	state->job = job;
	state->files_done = false;
	state->current = -1;
}

static void finish_export(LmsFdwScanState *state);
static bool parallel_next_job(LmsFdwScanState *state);

/*
 * What a parallel scan could share out of the one job just read (see
 * export_parts): its files where they are independent, else its files and
 * zip entries; a paginated list is one.
 */
static int
one_job_parts(LmsFdwScanState *state)
{
	const LmsProvider *provider = state->opts->provider;

	if (provider->paged && provider->paged(state->opts))
		return 1;
	if (provider->next_file && provider->concurrent_files)
		return state->set_files;
	return state->set_files + state->set_more_entries;
}

/*
 * Paged lists of several jobs (IN over courses): open the first page of
 * the next ready jobs now, up to max_parallel_jobs chains in all, so that
 * their downloads run while the current job's rows are read.
 */
static void
prefetch_jobs(LmsFdwScanState *state)
{
	const LmsProvider *provider = state->opts->provider;

	if (state->async || provider->paged == NULL || !provider->paged(state->opts))
		return;
	while (list_length(state->prefetched) + 1 < state->opts->max_parallel_jobs)
	{
		bool		more;
		LmsJob	   *job;
		LmsOpenFile *f;
		MemoryContext old = MemoryContextSwitchTo(state->scan_cxt);

		job = lmsfdw_jobset_take(state->jobs, &more);
		if (job == NULL)
		{
			MemoryContextSwitchTo(old);
			return;
		}
		f = palloc0(sizeof(LmsOpenFile));
		f->job = job;
		f->cxt = AllocSetContextCreate(state->scan_cxt, "lms_fdw result file",
									   ALLOCSET_DEFAULT_SIZES);
		state->prefetched = lappend(state->prefetched, f);
		MemoryContextSwitchTo(f->cxt);
		f->file = palloc0(sizeof(LmsResultFile));
		if (lmsfdw_job_next_file(job, f->file))
			f->stream = lmsfdw_stream_open(job, f->file);
		MemoryContextSwitchTo(old);
	}
}

/* Make the next prefetched job the current one; false if there is none. */
static bool
take_prefetched(LmsFdwScanState *state)
{
	LmsOpenFile *f;

	if (state->prefetched == NIL)
		return false;
	f = (LmsOpenFile *) linitial(state->prefetched);
	state->prefetched = list_delete_first(state->prefetched);
	set_job(state, f->job);
	if (f->stream)
	{
		LmsFileSlot *slot = add_slot(state, f->cxt);
		MemoryContext old = MemoryContextSwitchTo(f->cxt);

		slot->file = f->file;
		slot->stream = f->stream;
		slot->rows = lmsfdw_rows_open(state->map, state->job, f->stream);
		MemoryContextSwitchTo(old);
	}
	else
	{
		MemoryContextDelete(f->cxt);
		state->files_done = true;
		finish_export(state);
	}
	return true;
}

/*
 * The next file inside open file i (a zip of several CSV files): its rows
 * are read with a reader of its own; false when there is none.
 */
static bool
next_entry(LmsFdwScanState *state, int i)
{
	LmsFileSlot *f = &state->files[i];
	MemoryContext old;

	if (!lmsfdw_stream_next_entry(f->stream))
		return false;
	if (claims(state, LMS_PARALLEL_ENTRIES) && !claim_entry(state, f->stream))
		return false;
	state->set_more_entries++;
	lmsfdw_rows_close(f->rows);
	old = MemoryContextSwitchTo(f->cxt);
	f->rows = lmsfdw_rows_open(state->map, state->job, f->stream);
	MemoryContextSwitchTo(old);
	return true;
}

/* Plan this scan's jobs; false if there is nothing to export. */
static bool
start_export(ForeignScanState *node, LmsFdwScanState *state)
{
	MemoryContext old = MemoryContextSwitchTo(state->scan_cxt);
	List	   *sets = scan_param_sets(node, state);

	state->params_text = lmsfdw_params_text(sets);
	state->nsets = list_length(sets);
	state->set_rows = 0;
	state->set_files = 0;
	state->set_more_entries = 0;
	state->set_jobs = 0;
	state->set_partial = false;
	if (sets != NIL)
		state->jobs = lmsfdw_jobset_create(state->opts, sets);
	MemoryContextSwitchTo(old);
	return sets != NIL;
}

static void
add_counters(LmsCounters *into, const LmsCounters *c)
{
	into->status_checks += c->status_checks;
	into->retries += c->retries;
	for (int i = 0; i < LMS_RETRY_NCLASSES; i++)
		into->retries_by_class[i] += c->retries_by_class[i];
	into->waited_ms += c->waited_ms;
	into->bytes += c->bytes;
	into->rows += c->rows;
	into->files += c->files;
}

/* A job the scan is done with: its figures join the scan's (EXPLAIN). */
static void
count_job(LmsFdwScanState *state, LmsJob *job)
{
	state->jobs_done++;
	if (job->reused)
		state->jobs_reused++;
	add_counters(&state->totals, &job->counters);
	state->learned_runs = Max(state->learned_runs, job->poll.learned_runs);
}

/* Close the current result and count its job as done. */
static void
finish_export(LmsFdwScanState *state)
{
	bool		whole = state->files_done && state->nfiles == 0;	/* every file read */

	close_files(state);
	if (state->job)
	{
		LmsCounters *c = &state->job->counters;

		lmsfdw_job_note(state->job, NULL);
		if (state->pscan && IsParallelWorker())
		{
			/* the leader shows the job; what this worker did is added */
			SpinLockAcquire(&state->pscan->mutex);
			add_counters(&state->pscan->workers, c);
			SpinLockRelease(&state->pscan->mutex);
		}
		else
			count_job(state, state->job);
		state->set_rows += c->rows;
		state->set_files += c->files;
		state->set_jobs++;
		if (!whole)
			state->set_partial = true;
		if (state->pscan)
		{
			pg_atomic_fetch_add_u64(&state->pscan->rows_read, c->rows);
			if (!whole)
				pg_atomic_write_u32(&state->pscan->partial, 1);
		}
		lmsfdw_job_release(state->job);
	}
	state->job = NULL;
}

/* rows between two looks at the other jobs' status checks */
#define LMS_ROWS_PER_POLL 256

/*
 * The next row of the scan's exports into slot; false at their end.  The
 * jobs run concurrently; each one's rows are read as soon as it is ready,
 * and the others are looked after between rows.
 */
static bool
next_export_row(ForeignScanState *node, LmsFdwScanState *state,
				TupleTableSlot *slot)
{
	if (state->exhausted)
		return false;
	if (state->pscan && state->job == NULL && !parallel_next_job(state))
	{
		/* a parallel scan's participant has claimed its last job */
		state->exhausted = true;
		return false;
	}
	if (state->jobs == NULL && state->pscan == NULL &&
		!start_export(node, state))
	{
		state->exhausted = true;
		return false;
	}
	for (;;)
	{
		MemoryContext old;
		LmsJob	   *job;

		if (state->job)
		{
			open_files(state);
			if (state->nfiles > 0)
			{
				int			i = choose_file(state);

				if (lmsfdw_rows_next(state->files[i].rows, slot))
				{
					/* (a parallel worker has no jobs of its own to look after) */
					if (state->jobs && ++state->rows_since_poll >= LMS_ROWS_PER_POLL)
					{
						state->rows_since_poll = 0;
						lmsfdw_jobset_poll(state->jobs);
					}
					return true;
				}
				if (!next_entry(state, i))
					close_file(state, i);
				continue;
			}
			finish_export(state);
			if (state->pscan)
			{
				if (parallel_next_job(state))
					continue;
				break;
			}
		}
		if (take_prefetched(state))
		{
			prefetch_jobs(state);
			continue;
		}
		old = MemoryContextSwitchTo(state->scan_cxt);
		if (state->async)
		{
			/* under an async Append: never wait here, say so instead */
			bool		more;

			job = lmsfdw_jobset_take(state->jobs, &more);
			if (job == NULL && more)
			{
				MemoryContextSwitchTo(old);
				state->async_waiting = true;
				return false;
			}
		}
		else
			job = lmsfdw_jobset_next(state->jobs);
		MemoryContextSwitchTo(old);
		if (job == NULL)
		{
			/*
			 * every job read to its end: their total is the next estimate
			 * (not in a parallel scan, whose participant read only a part)
			 */
			if (!state->set_partial && state->pscan == NULL)
				remember_rows(state->relid, (double) state->set_rows,
							  state->set_jobs == 1 ? one_job_parts(state) : -1);
			break;
		}
		set_job(state, job);
		open_files(state);
		prefetch_jobs(state);
	}
	state->exhausted = true;
	return false;
}

/*
 * lmsIterateForeignScan
 *		The next row: from the spool when replaying, else from the export.
 */
static TupleTableSlot *
lmsIterateForeignScan(ForeignScanState *node)
{
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	state->async_waiting = false;

	if (state->spool)
	{
		/* as a Material node does: replay, then extend from the stream */
		if (!tuplestore_ateof(state->spool) &&
			tuplestore_gettupleslot(state->spool, true, false,
									state->spool_slot))
			return ExecCopySlot(slot, state->spool_slot);
		if (next_export_row(node, state, slot))
		{
			tuplestore_puttupleslot(state->spool, slot);
			return slot;
		}
		return ExecClearTuple(slot);
	}

	if (next_export_row(node, state, slot))
		return slot;
	return ExecClearTuple(slot);
}

/* Forget the scan's export: the next row starts a new one. */
static void
forget_export(LmsFdwScanState *state)
{
	finish_export(state);
	state->jobs = NULL;
	state->prefetched = NIL;
	state->leader_jobs = NULL;
	MemoryContextReset(state->scan_cxt);
	state->exhausted = false;
}

/*
 * lmsReScanForeignScan
 *		Replay the spool, or forget the job so the next row starts another.
 */
static void
lmsReScanForeignScan(ForeignScanState *node)
{
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;

	/*
	 * A parallel scan's new export is started by the Gather's
	 * ReInitializeDSMForeignScan (parallel_start), which may come first.
	 */
	if (state->pscan)
		return;
	/* the same export parameters: replay what has been read */
	if (state->spool && state->params_text &&
		(node->ss.ps.chgParam == NULL ||
		 strcmp(lmsfdw_params_text(scan_param_sets(node, state)),
				state->params_text) == 0))
	{
		tuplestore_rescan(state->spool);
		return;
	}
	/* new parameter values (or no spool): the next row starts a new job */
	if (state->spool)
		tuplestore_clear(state->spool);
	forget_export(state);
}

/*
 * lmsEndForeignScan
 *		Stop the download if rows remain (LIMIT, a closed cursor): the
 *		connection is dropped, not drained.
 */
static void
lmsEndForeignScan(ForeignScanState *node)
{
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;

	if (state == NULL)
		return;
	finish_export(state);
	if (state->spool)
		tuplestore_end(state->spool);
	/* the scan's memory contexts go with the executor state */
}

static char *
format_bytes(uint64 bytes)
{
	if (bytes < 1024 * 1024)
		return psprintf("%.1f kB", bytes / 1024.0);
	return psprintf("%.1f MB", bytes / (1024.0 * 1024.0));
}

/*
 * lmsExplainForeignScan
 *		The LMS line and export parameters; with ANALYZE, the job figures.
 */
static void
lmsExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	List	   *fdw_private = ((ForeignScan *) node->ss.ps.plan)->fdw_private;
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	List	   *names = (List *) list_nth(fdw_private, FdwScanPrivateParams);

	ExplainPropertyText("LMS",
						strVal(list_nth(fdw_private, FdwScanPrivateDescription)),
						es);
	if (names != NIL)
		ExplainPropertyText("Export Parameters",
							lmsfdw_params_explain(names, plan->fdw_exprs,
												  (List *) list_nth(fdw_private,
																	FdwScanPrivateParamIsList),
												  set_deparse_context_plan(es->deparse_cxt,
																		   (Plan *) plan, NIL)),
							es);

	if (es->analyze && state)
	{
		LmsCounters c = state->totals;
		bool		paged = state->opts->provider->paged &&
			state->opts->provider->paged(state->opts);
		int			jobs = state->jobs_done;
		int			reused = state->jobs_reused;
		StringInfoData retries;
		int			i;

		if (state->job)
		{
			jobs += state->job->state == LMS_JOB_DONE ? 1 : 0;
			reused += state->job->reused ? 1 : 0;
			add_counters(&c, &state->job->counters);
		}
		initStringInfo(&retries);
		for (i = 1; i < LMS_RETRY_NCLASSES; i++)
			if (c.retries_by_class[i] > 0)
				appendStringInfo(&retries, "%s%s: %d", retries.len ? ", " : "",
								 lmsfdw_retry_class_name((LmsRetryClass) i),
								 c.retries_by_class[i]);

		if (es->format == EXPLAIN_FORMAT_TEXT)
		{
			ExplainPropertyText("Jobs",
								psprintf("%d completed%s   Status Checks: %d%s   Retries: %d%s%s%s   Waited: %.1f s   Downloaded: %s",
										 jobs,
										 reused ? psprintf(" (%d reused)", reused) : "",
										 c.status_checks,
										 paged ? psprintf("   Pages: %d", c.files) : "",
										 c.retries,
										 retries.len ? " (" : "", retries.data,
										 retries.len ? ")" : "",
										 c.waited_ms / 1000.0,
										 format_bytes(c.bytes)),
								es);
		}
		else
		{
			ExplainPropertyInteger("Jobs", NULL, jobs, es);
			ExplainPropertyInteger("Jobs Reused", NULL, reused, es);
			ExplainPropertyInteger("Status Checks", NULL, c.status_checks, es);
			if (paged)
				ExplainPropertyInteger("Pages", NULL, c.files, es);
			ExplainPropertyInteger("Retries", NULL, c.retries, es);
			ExplainPropertyFloat("Waited", "s", c.waited_ms / 1000.0, 1, es);
			ExplainPropertyInteger("Downloaded", "bytes", (int64) c.bytes, es);
		}
		/* status checks aimed at the durations of past runs */
		{
			int			learned = state->learned_runs;

			if (state->job)
				learned = Max(learned, state->job->poll.learned_runs);
			if (learned > 0)
				ExplainPropertyText("Schedule",
									psprintf("learned (%d runs)", learned), es);
		}
	}
}

/* ----------------------------------------------------------------
 * Parallel scans
 *
 * The leader runs the export when the Gather sets up its shared memory
 * (before any worker starts): it starts the jobs (or reuses them), waits
 * for all of them and publishes their ids; the units (see LmsParallelUnit)
 * are claimed through an atomic counter by every participant, the leader
 * included unless it only gathers (parallel_leader_participation off).  A
 * worker never starts or polls a job: it adopts a finished one
 * (lmsfdw_job_adopt, which resolves it afresh) with the parameter set it
 * evaluates itself, and logs in with the user mapping itself, so no token
 * and no URL travels through shared memory.  An ERROR in a worker reaches
 * the leader through the Gather, which ends the query.
 * ----------------------------------------------------------------
 */

static bool
lmsIsForeignScanParallelSafe(PlannerInfo *root, RelOptInfo *rel,
							 RangeTblEntry *rte)
{
	return true;
}

/* room for max_jobs jobs: no scan has more (lmsfdw_params_eval) */
static Size
lmsEstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt)
{
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;

	return add_size(offsetof(LmsParallelScan, jobs),
					mul_size(sizeof(LmsParallelJob), Max(state->opts->max_jobs, 1)));
}

/*
 * A reused job is asked for its first file here, so that one that has
 * vanished is started again by the leader, as serially; the file is
 * claimed again by whoever reads it (the leader may only gather).
 */
static void
probe_reused(LmsFdwScanState *state, LmsJob *job)
{
	MemoryContext probe = AllocSetContextCreate(state->scan_cxt,
												"lms_fdw result file",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(probe);

	job->files_claimed = 0;
	(void) lmsfdw_job_next_file(job, palloc0(sizeof(LmsResultFile)));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(probe);
	job->files_claimed = 0;
}

/* Run the export for a parallel scan and publish its jobs in pscan. */
static void
parallel_start(ForeignScanState *node, LmsFdwScanState *state,
			   LmsParallelScan *pscan)
{
	const LmsProvider *provider = state->opts->provider;
	MemoryContext old;
	LmsJob	   *job;
	int			n = 0;

	/* a rescan: the previous export is forgotten (see lmsReScanForeignScan) */
	state->pscan = NULL;
	forget_export(state);
	pg_atomic_write_u32(&pscan->next_unit, 0);
	pg_atomic_write_u32(&pscan->parts_read, 0);
	pg_atomic_write_u64(&pscan->rows_read, 0);
	pg_atomic_write_u32(&pscan->partial, 0);
	pscan->njobs = 0;
	pscan->nsets = 0;
	memset(&pscan->workers, 0, sizeof(LmsCounters));
	state->pscan = pscan;
	state->jobs_taken = 0;
	if (!start_export(node, state))
		return;
	pscan->nsets = state->nsets;
	state->leader_jobs = MemoryContextAllocZero(state->scan_cxt,
												sizeof(LmsJob *) * state->nsets);
	for (;;)
	{
		LmsParallelJob *pj = &pscan->jobs[n];

		old = MemoryContextSwitchTo(state->scan_cxt);
		job = lmsfdw_jobset_next(state->jobs);
		MemoryContextSwitchTo(old);
		if (job == NULL)
			break;
		if (job->reused)
			probe_reused(state, job);
		pj->set_index = job->set_index;
		pj->jobless = job->jobless;
		pj->remote_id[0] = '\0';
		if (!job->jobless)
		{
			if (job->remote_id == NULL || strlen(job->remote_id) >= LMS_PARALLEL_ID_LEN)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("%s cannot be read by a parallel scan", lmsfdw_job_name(job)),
						 errhint("Set max_parallel_workers_per_gather to 0.")));
			strlcpy(pj->remote_id, job->remote_id, LMS_PARALLEL_ID_LEN);
		}
		state->leader_jobs[n++] = job;
	}
	pscan->unit = n > 1 ? LMS_PARALLEL_JOBS :
		(provider->next_file && provider->concurrent_files) ?
		LMS_PARALLEL_FILES : LMS_PARALLEL_ENTRIES;
	pscan->njobs = n;
}

static void
lmsInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
							void *coordinate)
{
	LmsParallelScan *pscan = (LmsParallelScan *) coordinate;

	pg_atomic_init_u32(&pscan->next_unit, 0);
	pg_atomic_init_u32(&pscan->parts_read, 0);
	pg_atomic_init_u64(&pscan->rows_read, 0);
	pg_atomic_init_u32(&pscan->partial, 0);
	SpinLockInit(&pscan->mutex);
	parallel_start(node, (LmsFdwScanState *) node->fdw_state, pscan);
}

/* A rescan: a new export, as serially. */
static void
lmsReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
							  void *coordinate)
{
	parallel_start(node, (LmsFdwScanState *) node->fdw_state,
				   (LmsParallelScan *) coordinate);
}

/*
 * The next job this participant reads, made the current one: of several
 * jobs, the next one claimed; else the one job, once.  The leader reads
 * its own job objects; a worker adopts the job the leader published.
 */
static bool
parallel_next_job(LmsFdwScanState *state)
{
	LmsParallelScan *pscan = state->pscan;
	const LmsParallelJob *pj;
	MemoryContext old;
	LmsJob	   *job;
	uint32		i;

	if (pscan->unit == LMS_PARALLEL_JOBS)
		i = pg_atomic_fetch_add_u32(&pscan->next_unit, 1);
	else
		i = state->jobs_taken++;
	if (i >= (uint32) pscan->njobs)
		return false;
	if (pscan->unit == LMS_PARALLEL_JOBS)
		pg_atomic_fetch_add_u32(&pscan->parts_read, 1);
	pj = &pscan->jobs[i];
	old = MemoryContextSwitchTo(state->scan_cxt);
	if (state->leader_jobs)
	{
		job = state->leader_jobs[i];
		state->leader_jobs[i] = NULL;
	}
	else
	{
		List	   *params = (List *) list_nth(state->worker_sets, pj->set_index);

		if (pj->jobless)
		{
			/* a resource without a job: nothing remote to adopt */
			job = lmsfdw_job_create(state->opts, params);
			(void) lmsfdw_job_start(job);
		}
		else
			job = lmsfdw_job_adopt(state->opts, params, pj->remote_id);
	}
	MemoryContextSwitchTo(old);
	set_job(state, job);
	state->next_ordinal = 0;
	return true;
}

/*
 * Before the Gather frees the shared memory: the participant is done with
 * its jobs (lmsEndForeignScan comes after, when pscan would be gone).  The
 * leader, once every participant has read its share (the Gather saw all of
 * them finish), makes the export's rows and parts the table's next
 * estimate, as after a serial scan.
 */
static void
lmsShutdownForeignScan(ForeignScanState *node)
{
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;
	LmsParallelScan *pscan;

	if (state == NULL || state->pscan == NULL)
		return;
	pscan = state->pscan;
	if (!IsParallelWorker() && state->exhausted && pscan->njobs > 0 &&
		pg_atomic_read_u32(&pscan->partial) == 0)
		remember_rows(state->relid,
					  (double) pg_atomic_read_u64(&pscan->rows_read),
					  pscan->njobs > 1 ? -1 : (int) pg_atomic_read_u32(&pscan->parts_read));
	finish_export(state);
	if (!IsParallelWorker())
	{
		/* the jobs other participants read, and what the workers did */
		if (state->leader_jobs)
			for (int i = 0; i < pscan->njobs; i++)
				if (state->leader_jobs[i])
				{
					count_job(state, state->leader_jobs[i]);
					lmsfdw_job_release(state->leader_jobs[i]);
				}
		add_counters(&state->totals, &pscan->workers);
	}
	state->leader_jobs = NULL;
	state->pscan = NULL;
}

static void
lmsInitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc,
							   void *coordinate)
{
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;
	LmsParallelScan *pscan = (LmsParallelScan *) coordinate;
	MemoryContext old;

	state->pscan = pscan;
	state->jobs_taken = 0;
	if (pscan->njobs == 0)
		return;
	/* the leader's parameter sets, in the same order */
	old = MemoryContextSwitchTo(state->scan_cxt);
	state->worker_sets = scan_param_sets(node, state);
	MemoryContextSwitchTo(old);
	if (list_length(state->worker_sets) != pscan->nsets)
		elog(ERROR, "lms_fdw: a parallel worker computed %d export parameter sets, the leader %d",
			 list_length(state->worker_sets), pscan->nsets);
}

/* ----------------------------------------------------------------
 * Asynchronous execution under Append
 *
 * Several foreign scans under one Append (a partitioned table, UNION ALL)
 * start their jobs at once and the Append waits for whichever is ready.
 * A scan has no socket to offer while its jobs run at the LMS, only the
 * time of its next status check, so it offers a timerfd armed for then
 * (at most LMS_ASYNC_TICK_MS away, so that interrupts are seen promptly:
 * the Append's wait does not watch the latch).
 * ----------------------------------------------------------------
 */
#define LMS_ASYNC_TICK_MS 100

static bool
lmsIsForeignPathAsyncCapable(ForeignPath *path)
{
	return true;
}

static void
timer_cleanup(void *arg)
{
	LmsFdwScanState *state = (LmsFdwScanState *) arg;

	if (state->timerfd >= 0)
	{
		close(state->timerfd);
		ReleaseExternalFD();
	}
	state->timerfd = -1;
}

/* Answer the Append: a row, no more rows, or come back later. */
static void
produce_async(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;
	TupleTableSlot *result;

	CHECK_FOR_INTERRUPTS();
	/* the Append's request already runs the node's instrumentation */
	result = node->ss.ps.ExecProcNodeReal((PlanState *) node);
	if (!TupIsNull(result))
		ExecAsyncRequestDone(areq, result);
	else if (state->async_waiting)
		ExecAsyncRequestPending(areq);
	else
		ExecAsyncRequestDone(areq, NULL);
}

static void
lmsForeignAsyncRequest(AsyncRequest *areq)
{
	produce_async(areq);
}

/* Offer a timer for the next status check of this scan's jobs. */
static void
lmsForeignAsyncConfigureWait(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;
	AppendState *requestor = (AppendState *) areq->requestor;
	struct itimerspec when;
	double		wait_ms = LMS_ASYNC_TICK_MS;

	if (state->timerfd < 0)
	{
		if (!AcquireExternalFD())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("out of file descriptors for an asynchronous foreign scan")));
		state->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (state->timerfd < 0)
		{
			ReleaseExternalFD();
			ereport(ERROR,
					(errcode_for_socket_access(),
					 errmsg("could not create a timer: %m")));
		}
		state->timer_cleanup.func = timer_cleanup;
		state->timer_cleanup.arg = state;
		MemoryContextRegisterResetCallback(node->ss.ps.state->es_query_cxt,
										   &state->timer_cleanup);
	}
	if (state->jobs)
	{
		double		due = lmsfdw_jobset_next_due(state->jobs);

		if (due >= 0)
			wait_ms = Min(wait_ms, Max(1, due - lmsfdw_now_ms()));
	}
	memset(&when, 0, sizeof(when));
	when.it_value.tv_sec = (time_t) (wait_ms / 1000);
	when.it_value.tv_nsec = (long) ((wait_ms - 1000.0 * when.it_value.tv_sec) * 1000000.0);
	if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
		when.it_value.tv_nsec = 1000000;
	timerfd_settime(state->timerfd, 0, &when, NULL);
	AddWaitEventToSet(requestor->as_eventset, WL_SOCKET_READABLE,
					  state->timerfd, NULL, areq);
}

static void
lmsForeignAsyncNotify(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	LmsFdwScanState *state = (LmsFdwScanState *) node->fdw_state;
	uint64		expirations;

	if (state->timerfd >= 0 &&
		read(state->timerfd, &expirations, sizeof(expirations)) < 0 &&
		errno != EAGAIN)
		elog(DEBUG1, "lms_fdw: reading the timer failed: %m");
	produce_async(areq);
}

/*
 * lmsImportForeignSchema
 *		The known resources of the server's LMS as foreign tables.
 */
static List *
lmsImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	return lmsfdw_import_schema(stmt, serverOid);
}

/* ----------------------------------------------------------------
 * SQL-callable functions
 * ----------------------------------------------------------------
 */

Datum
lms_fdw_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(LMS_FDW_VERSION));
}

/*
 * The tuplestore a set-returning function in materialize mode fills, with
 * its row type in *tupdesc (InitMaterializedSRF, which PostgreSQL 14 lacks).
 */
static Tuplestorestate *
materialize_srf(FunctionCallInfo fcinfo, TupleDesc *tupdesc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Tuplestorestate *store;
	MemoryContext old;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	*tupdesc = CreateTupleDescCopy(*tupdesc);
	store = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = *tupdesc;
	MemoryContextSwitchTo(old);
	return store;
}

/*
 * lms_fdw_jobs
 *		This backend's recent jobs, oldest first.
 */
Datum
lms_fdw_jobs(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Tuplestorestate *store = materialize_srf(fcinfo, &tupdesc);
	LmsJobRecord *records;
	int			n;
	int			first;
	int			i;

	n = lmsfdw_job_history(&records, &first);
	for (i = 0; i < n; i++)
	{
		LmsJobRecord *r = &records[(first + i) % n];
		Datum		values[13];
		bool		nulls[13];
		Interval   *waited;

		if (!r->used)
			continue;
		memset(nulls, false, sizeof(nulls));
		values[0] = CStringGetTextDatum(r->server);
		values[1] = CStringGetTextDatum(r->resource);
		values[2] = CStringGetTextDatum(r->job_id);
		nulls[2] = r->job_id[0] == '\0';
		values[3] = CStringGetTextDatum(r->state);
		values[4] = TimestampTzGetDatum(r->started);
		nulls[4] = r->started == 0;
		values[5] = TimestampTzGetDatum(r->finished);
		nulls[5] = r->finished == 0;
		values[6] = Int32GetDatum(r->counters.status_checks);
		values[7] = Int32GetDatum(r->counters.retries);
		waited = palloc0(sizeof(Interval));
		waited->time = (int64) (r->counters.waited_ms * 1000.0);
		values[8] = IntervalPGetDatum(waited);
		values[9] = Int64GetDatum((int64) r->counters.bytes);
		values[10] = Int64GetDatum((int64) r->counters.rows);
		values[11] = CStringGetTextDatum(r->error);
		nulls[11] = r->error[0] == '\0';
		/* schedule, since 1.1: a 1.0 install's row type takes the first 12 */
		values[12] = CStringGetTextDatum(r->learned_runs > 0 ?
										 psprintf("learned (%d runs)", r->learned_runs) :
										 "default");
		nulls[12] = false;
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
lms_fdw_disconnect(PG_FUNCTION_ARGS)
{
	ForeignServer *server = GetForeignServerByName(text_to_cstring(PG_GETARG_TEXT_PP(0)),
												   false);

	PG_RETURN_BOOL(lmsfdw_disconnect_server(server->serverid));
}

Datum
lms_fdw_disconnect_all(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(lmsfdw_disconnect_all());
}

/*
 * lms_fdw_forget
 *		Forget the learned durations; the number of exports forgotten.
 */
Datum
lms_fdw_forget(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(lmsfdw_history_forget());
}

/*
 * lms_fdw_activity
 *		The exports in progress the caller may see (activity.c).
 */
Datum
lms_fdw_activity(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Tuplestorestate *store = materialize_srf(fcinfo, &tupdesc);

	lmsfdw_activity_rows(store, tupdesc);
	return (Datum) 0;
}
