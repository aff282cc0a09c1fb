/*-------------------------------------------------------------------------
 *
 * canvas_dap.h
 *		  Canvas Data 2: IMPORT FOREIGN SCHEMA from the LMS's table list and
 *		  schemas (canvas_dap_import.c)
 *
 * IDENTIFICATION
 *		  src/providers/canvas_dap.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_CANVAS_DAP_H
#define LMS_CANVAS_DAP_H

#include "foreign/foreign.h"
#include "nodes/parsenodes.h"

extern List *lmsfdw_dap_import_schema(ImportForeignSchemaStmt *stmt,
									  ForeignServer *server, const char *extra,
									  bool *fallback);
extern void lmsfdw_dap_table_created(CreateForeignTableStmt *stmt);

#endif							/* LMS_CANVAS_DAP_H */
