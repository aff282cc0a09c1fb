/*-------------------------------------------------------------------------
 *
 * params.h
 *		  Export parameters: name=value pairs from options and quals
 *
 * IDENTIFICATION
 *		  src/params.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_PARAMS_H
#define LMS_PARAMS_H

#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "nodes/pg_list.h"

/* One export parameter: name=value (from the parameters option or a param column). */
typedef struct LmsParam
{
	char	   *name;
	char	   *value;
} LmsParam;

struct LmsOptions;

/* plan time */
extern void lmsfdw_params_from_quals(PlannerInfo *root, RelOptInfo *baserel,
									 Oid relid, List *clauses, List **names,
									 List **exprs, List **is_list);
extern bool lmsfdw_params_include(List *names, const char *name);
extern char *lmsfdw_params_explain(List *names, List *exprs, List *is_list,
								   List *context);

/* run time */
extern int	lmsfdw_params_count(List *exprs, List *is_list);
extern List *lmsfdw_params_eval(ExprContext *econtext, List *param_names,
								List *param_states, List *param_is_list,
								int max_jobs);
extern char *lmsfdw_params_text(List *sets);
extern char *lmsfdw_params_get(List *params, const char *name);
extern char *lmsfdw_param_iso8601_utc(const char *name, const char *value);
extern List *lmsfdw_params_merge(const struct LmsOptions *opts,
								 List *qual_params);

#endif							/* LMS_PARAMS_H */
