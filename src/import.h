/*-------------------------------------------------------------------------
 *
 * import.h
 *		  IMPORT FOREIGN SCHEMA: the known resources of each provider
 *
 * IDENTIFICATION
 *		  src/import.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_IMPORT_H
#define LMS_IMPORT_H

#include "nodes/pg_list.h"

struct ImportForeignSchemaStmt;

extern List *lmsfdw_import_schema(struct ImportForeignSchemaStmt *stmt,
								  Oid serverOid);
extern bool lmsfdw_import_wanted(struct ImportForeignSchemaStmt *stmt,
								 const char *name);

#endif							/* LMS_IMPORT_H */
