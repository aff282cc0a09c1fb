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

#include "nodes/pg_list.h"

/* One export parameter: name=value (from the parameters option or a param column). */
typedef struct LmsParam
{
	char	   *name;
	char	   *value;
} LmsParam;

#endif							/* LMS_PARAMS_H */
