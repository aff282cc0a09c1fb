/*-------------------------------------------------------------------------
 *
 * tuple.h
 *		  Records of a result file to tuples, through the column map
 *
 * IDENTIFICATION
 *		  src/tuple.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_TUPLE_H
#define LMS_TUPLE_H

#include "executor/tuptable.h"
#include "job.h"
#include "nodes/bitmapset.h"
#include "stream.h"
#include "utils/relcache.h"

typedef struct LmsColumnMap LmsColumnMap;
typedef struct LmsRowSource LmsRowSource;

extern LmsColumnMap *lmsfdw_column_map_create(Relation rel,
											  Bitmapset *attrs_used);
extern LmsRowSource *lmsfdw_rows_open(LmsColumnMap *map, LmsJob *job,
									  LmsStream *stream);
extern bool lmsfdw_rows_next(LmsRowSource *src, TupleTableSlot *slot);
extern void lmsfdw_rows_close(LmsRowSource *src);

#endif							/* LMS_TUPLE_H */
