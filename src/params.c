/*-------------------------------------------------------------------------
 *
 * params.c
 *		  Export parameters: from quals at plan time, their values at run
 *		  time, and their rendering
 *
 * A column with OPTIONS (param 'name') turns an equality qual on it into
 * the export parameter name.  At plan time lmsfdw_params_from_quals picks
 * the quals (their values become the plan's fdw_exprs); at run time
 * lmsfdw_params_eval computes the values and expands IN lists into one
 * parameter set per job (at most max_jobs).  lmsfdw_params_merge puts a
 * job's parameters together with the table's parameters option.
 *
 * Other values are sent as postgres_fdw sends values (its transmission
 * modes: IntervalStyle postgres, every float digit, DateStyle ISO), and
 * in UTF-8, whatever the session's settings and the database's encoding.
 *
 * A time from a param column is sent as ISO 8601 UTC with milliseconds
 * (2026-01-01T00:00:00.000Z; with microseconds when it has them, as a
 * Canvas Data 2 watermark does, so that the value read back equals the
 * qual's) whatever the session's DateStyle and TimeZone,
 * since the LMS APIs read that (Brightspace's startDate and endDate are
 * UTC), and since a DateStyle's text may not read back (an ambiguous zone
 * abbreviation such as IST); a timestamp without time zone and a date are
 * taken as UTC.  lmsfdw_param_iso8601_utc respells such a value (or one
 * written in the parameters option) for APIs that want it without the
 * milliseconds.  EXPLAIN shows the values in the session's style.
 *
 * IDENTIFICATION
 *		  src/params.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "document.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "options.h"
#include "params.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/datetime.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"

/*
 * lmsfdw_params_from_quals
 *		The export parameters the quals give: "param_column = value" or
 * "param_column IN (...)" / "= ANY (array)", where the value is a constant
 * or anything computed once per scan (a query parameter $1, an outer
 * reference) - no column of this table and nothing volatile.  Several values
 * mean one job each.  The first qual for a parameter wins; the quals stay as
 * local filters, so a contradicting second qual still filters rows out.
 */
void
lmsfdw_params_from_quals(PlannerInfo *root, RelOptInfo *baserel, Oid relid,
						 List *clauses, List **names, List **exprs,
						 List **is_list)
{
	ListCell   *lc;

	*names = NIL;
	*exprs = NIL;
	*is_list = NIL;
	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Expr	   *clause = rinfo->clause;
		Node	   *left,
				   *right;
		Oid			opno;
		bool		list;
		Var		   *var;
		char	   *param;
		char	   *opname;
		ListCell   *lc2;
		bool		seen = false;

		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) clause;

			opno = op->opno;
			list = false;
			left = strip_implicit_coercions(linitial(op->args));
			right = strip_implicit_coercions(lsecond(op->args));
			/* the column of this relation on the left */
			if (!(IsA(left, Var) && ((Var *) left)->varno == baserel->relid))
			{
				Node	   *tmp = left;

				left = right;
				right = tmp;
			}
		}
		else if (IsA(clause, ScalarArrayOpExpr) &&
				 ((ScalarArrayOpExpr *) clause)->useOr)
		{
			ScalarArrayOpExpr *op = (ScalarArrayOpExpr *) clause;

			opno = op->opno;
			list = true;
			left = strip_implicit_coercions(linitial(op->args));
			right = lsecond(op->args);
		}
		else
			continue;

		if (!IsA(left, Var))
			continue;
		var = (Var *) left;
		if (var->varno != baserel->relid || var->varlevelsup != 0 ||
			var->varattno <= 0)
			continue;
		if (bms_is_member(baserel->relid, pull_varnos(root, right)) ||
			contain_volatile_functions(right) ||
			(IsA(right, Const) && ((Const *) right)->constisnull))
			continue;
		opname = get_opname(opno);
		if (opname == NULL || strcmp(opname, "=") != 0)
			continue;
		param = lmsfdw_column_option(relid, var->varattno, "param");
		if (param == NULL)
			continue;
		foreach(lc2, *names)
			if (strcmp(strVal(lfirst(lc2)), param) == 0)
				seen = true;
		if (seen)
			continue;
		*names = lappend(*names, makeString(param));
		*exprs = lappend(*exprs, right);
		*is_list = lappend_int(*is_list, list ? 1 : 0);
	}
}

/* Does this parameter name appear among the scan's export parameters? */
bool
lmsfdw_params_include(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(strVal(lfirst(lc)), name) == 0)
			return true;
	return false;
}

/* A timestamp as ISO 8601 UTC with milliseconds: 2026-01-01T00:00:00.000Z */
static char *
iso8601_utc_ms(Timestamp ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a time given as an export parameter must lie between the years 1 and 9999")));
	/* microseconds only when there are some: the value must not change */
	if (fsec % 1000 != 0)
		return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
						tm.tm_year, tm.tm_mon, tm.tm_mday,
						tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
}

/*
 * An output function's text in the spelling that does not depend on the
 * session, as postgres_fdw's transmission modes do: DateStyle ISO,
 * IntervalStyle postgres, extra_float_digits 3 (every float digit).  The
 * settings are restored at once; on an ERROR, by the transaction's abort.
 */
static char *
output_as_sent(Oid outfunc, Datum value)
{
	int			nestlevel = NewGUCNestLevel();
	char	   *text;

	if (DateStyle != USE_ISO_DATES)
		(void) set_config_option("datestyle", "ISO", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (IntervalStyle != INTSTYLE_POSTGRES)
		(void) set_config_option("intervalstyle", "postgres", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (extra_float_digits < 3)
		(void) set_config_option("extra_float_digits", "3", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	text = OidOutputFunctionCall(outfunc, value);
	AtEOXact_GUC(true, nestlevel);
	return text;
}

/*
 * A value as text, through its type's output function; as_sent: times as
 * the parameter is sent, ISO 8601 UTC with milliseconds whatever DateStyle
 * and TimeZone (a timestamp without time zone and a date taken as UTC), so
 * that no session setting changes what the LMS receives.
 */
static char *
datum_text(Datum value, Oid type, bool as_sent)
{
	Oid			outfunc;
	bool		isvarlena;

	if (as_sent && type == TIMESTAMPTZOID)
		return iso8601_utc_ms(DatumGetTimestampTz(value));
	if (as_sent && type == TIMESTAMPOID)
		return iso8601_utc_ms(DatumGetTimestamp(value));
	if (as_sent && type == DATEOID)
	{
		DateADT		d = DatumGetDateADT(value);

		/* an infinite date meets the same error */
		return iso8601_utc_ms(DATE_NOT_FINITE(d) ? DT_NOEND :
							  (Timestamp) d * USECS_PER_DAY);
	}
	getTypeOutputInfo(type, &outfunc, &isvarlena);
	if (as_sent)
		return output_as_sent(outfunc, value);
	return OidOutputFunctionCall(outfunc, value);
}

/*
 * An export parameter's value as the LMS reads it: UTF-8 (converted from
 * the database's encoding; a character UTF-8 lacks is an ERROR there, and
 * bytes that are not UTF-8 in a SQL_ASCII database are one here), never
 * silently dropped.
 */
static char *
param_utf8(const char *name, char *text)
{
	/* a SQL_ASCII database's bytes are sent as they are: they must be UTF-8 */
	if (GetDatabaseEncoding() == PG_SQL_ASCII &&
		!pg_verify_mbstr(PG_UTF8, text, strlen(text), true))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("export parameter \"%s\" is not valid UTF-8", name),
				 errhint("The LMS reads parameters as UTF-8; in a SQL_ASCII database, give the value in UTF-8.")));
	return pg_server_to_any(text, strlen(text), PG_UTF8);
}

/* The non-NULL elements of an array, as text, in order. */
static List *
array_texts(Datum array, bool as_sent)
{
	ArrayType  *arr = DatumGetArrayTypeP(array);
	Oid			elemtype = ARR_ELEMTYPE(arr);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *elemnulls;
	int			n,
				i;
	List	   *texts = NIL;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  &elems, &elemnulls, &n);
	for (i = 0; i < n; i++)
		if (!elemnulls[i])
			texts = lappend(texts, datum_text(elems[i], elemtype, as_sent));
	return texts;
}

/*
 * The parameter sets of this scan, one per job: the values of the param
 * quals as text, and for IN lists every combination.  NIL when a value is
 * NULL or a list is empty: no row can match, so there is nothing to export.
 */
/*
 * lmsfdw_params_count
 *		How many parameter sets (jobs) the plan-time values give: the
 *		product of the distinct values of each IN list; 0 when a value is
 *		known only at run time ($1, an outer reference).
 */
int
lmsfdw_params_count(List *exprs, List *is_list)
{
	double		sets = 1;
	ListCell   *le,
			   *ll;

	forboth(le, exprs, ll, is_list)
	{
		Const	   *c = (Const *) lfirst(le);
		ArrayType  *arr;
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					distinct = 0;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		if (!IsA(c, Const))
			return 0;
		if (c->constisnull)
			return 1;
		if (!lfirst_int(ll))
			continue;
		arr = DatumGetArrayTypeP(c->constvalue);
		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			bool		seen = nulls[i];

			for (int j = 0; j < i && !seen; j++)
				seen = !nulls[j] && datumIsEqual(elems[i], elems[j], typbyval, typlen);
			if (!seen)
				distinct++;
		}
		sets *= Max(distinct, 1);
	}
	return (int) Min(sets, (double) INT_MAX);
}

List *
lmsfdw_params_eval(ExprContext *econtext, List *param_names,
				   List *param_states, List *param_is_list, int max_jobs)
{
	List	   *sets = list_make1(NIL);
	ListCell   *ln,
			   *ls,
			   *ll;

	forthree(ln, param_names, ls, param_states, ll, param_is_list)
	{
		ExprState  *es = (ExprState *) lfirst(ls);
		Oid			type = exprType((Node *) es->expr);
		List	   *values = NIL;
		List	   *next = NIL;
		ListCell   *lv,
				   *lsets;
		bool		isnull;
		Datum		value;

		value = ExecEvalExpr(es, econtext, &isnull);
		if (isnull)
			return NIL;
		if (lfirst_int(ll))
		{
			/* IN (3, 3) is one job */
			foreach(lv, array_texts(value, true))
			{
				char	   *text = param_utf8(strVal(lfirst(ln)), (char *) lfirst(lv));
				ListCell   *lseen;

				foreach(lseen, values)
					if (strcmp((char *) lfirst(lseen), text) == 0)
						break;
				if (lseen == NULL)
					values = lappend(values, text);
			}
		}
		else
			values = list_make1(param_utf8(strVal(lfirst(ln)),
										   datum_text(value, type, true)));
		if (values == NIL)
			return NIL;
		/* every combination is one export: refuse a flood before making it */
		if ((double) list_length(sets) * list_length(values) > max_jobs)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the export parameters of this scan ask for %.0f exports, more than max_jobs (%d)",
							(double) list_length(sets) * list_length(values),
							max_jobs),
					 errdetail("Each combination of the values of the param columns' IN lists is one export."),
					 errhint("Narrow the IN lists, or raise max_jobs on the server or the foreign table.")));

		foreach(lsets, sets)
		{
			foreach(lv, values)
			{
				LmsParam   *p = palloc(sizeof(LmsParam));

				p->name = strVal(lfirst(ln));
				p->value = (char *) lfirst(lv);
				next = lappend(next, lappend(list_copy((List *) lfirst(lsets)), p));
			}
		}
		sets = next;
	}
	return sets;
}

/* The parameter sets as one string, to tell whether a rescan changed them. */
char *
lmsfdw_params_text(List *sets)
{
	StringInfoData buf;
	ListCell   *ls,
			   *lp;

	initStringInfo(&buf);
	foreach(ls, sets)
	{
		foreach(lp, (List *) lfirst(ls))
		{
			LmsParam   *p = (LmsParam *) lfirst(lp);

			appendStringInfo(&buf, "%s=%s\x1f", p->name, p->value);
		}
		appendStringInfoChar(&buf, '\x1e');
	}
	return buf.data;
}

/*
 * lmsfdw_params_explain
 *		The EXPLAIN "Export Parameters" line: name=value,... in plan order;
 *		several values of a constant list print as name=1,2,3, an expression
 *		computed at run time as its deparsed text (context: the plan's
 *		deparse context).
 */
char *
lmsfdw_params_explain(List *names, List *exprs, List *is_list, List *context)
{
	StringInfoData buf;
	ListCell   *ln,
			   *le,
			   *ll;

	initStringInfo(&buf);
	forthree(ln, names, le, exprs, ll, is_list)
	{
		Node	   *value = (Node *) lfirst(le);
		char	   *text;

		if (IsA(value, Const) && lfirst_int(ll))
		{
			/* several values print as name=1,2,3 */
			StringInfoData list;
			ListCell   *lv;

			initStringInfo(&list);
			foreach(lv, array_texts(((Const *) value)->constvalue, false))
				appendStringInfo(&list, "%s%s", list.len ? "," : "",
								 (char *) lfirst(lv));
			text = list.data;
		}
		else if (IsA(value, Const))
			text = datum_text(((Const *) value)->constvalue,
							  ((Const *) value)->consttype, false);
		else
			text = deparse_expression(value, context, false, false);
		appendStringInfo(&buf, "%s%s=%s", buf.len ? "," : "",
						 strVal(lfirst(ln)), text);
	}
	return buf.data;
}

/*
 * lmsfdw_params_merge
 *		The export parameters of a job: the parameters option's entries, then those from
 * param columns (which replace an entry of the same name).
 */
List *
lmsfdw_params_merge(const LmsOptions *opts, List *qual_params)
{
	List	   *params = NIL;
	ListCell   *lc;

	foreach(lc, lmsfdw_json_object_params(opts->parameters))
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);
		bool		replaced = false;
		ListCell   *lc2;

		foreach(lc2, qual_params)
			if (strcmp(((LmsParam *) lfirst(lc2))->name, p->name) == 0)
				replaced = true;
		if (!replaced)
			params = lappend(params, p);
	}
	return list_concat(params, qual_params);
}

/*
 * lmsfdw_param_iso8601_utc
 *		An export parameter given as a time (a timestamptz column's text, or
 *		ISO 8601 in the parameters option) respelled as the ISO 8601 / RFC
 *		3339 UTC time APIs want (2026-11-20T00:00:00Z, with microseconds
 *		when it has them); a value without a zone is in the session's
 *		TimeZone.  A value PostgreSQL cannot read as a time is the user's
 *		error.
 */
char *
lmsfdw_param_iso8601_utc(const char *name, const char *value)
{
	TimestampTz ts;
	struct pg_tm tm;
	fsec_t		fsec;

	ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												 CStringGetDatum(value),
												 ObjectIdGetDatum(InvalidOid),
												 Int32GetDatum(-1)));
	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("export parameter \"%s\" must be a finite timestamp", name)));
	if (fsec != 0)
		return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year,
						tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
						tm.tm_sec, (int) fsec);
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon,
					tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * lmsfdw_params_get
 *		The value of the parameter named name in params, or NULL.
 */
char *
lmsfdw_params_get(List *params, const char *name)
{
	ListCell   *lc;

	foreach(lc, params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		if (strcmp(p->name, name) == 0)
			return p->value;
	}
	return NULL;
}
