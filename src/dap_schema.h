/*-------------------------------------------------------------------------
 *
 * dap_schema.h
 *		  Canvas Data 2 table schemas as PostgreSQL columns (pure C on
 *		  jansson, no PostgreSQL headers)
 *
 * GET /dap/query/{namespace}/table/{table}/schema answers a VersionedSchema,
 * {"schema": <JSON Schema>, "version": <integer>}, whose schema is an object
 * of "key", "value" and "meta" objects.  dap_schema_parse() reads one into
 * the columns of a foreign table: the key's properties, then the value's,
 * then meta.action and meta.ts, each with the dotted source path of its
 * field option and a PostgreSQL type:
 *
 *	integer			int16 smallint, int32 integer, otherwise bigint
 *	number			float32/float real, float64/double double precision,
 *					otherwise numeric (numeric(p,s) with x-precision/x-scale)
 *	string			date-time timestamptz, date date, time time, otherwise
 *					text (enums too)
 *	boolean			boolean
 *	object, array	jsonb
 *
 * A property that may be null ("type": [t, "null"], or oneOf/anyOf of
 * {"type": "null"} and one other schema) has the other schema's type.
 *
 * IDENTIFICATION
 *		  src/dap_schema.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_DAP_SCHEMA_H
#define LMS_DAP_SCHEMA_H

#include <stdbool.h>

typedef struct DapColumn
{
	char	   *name;			/* the property's name */
	char	   *path;			/* "key.id", "value.score", "meta.ts" */
	char	   *type;			/* PostgreSQL type, SQL */
	bool		is_key;
	bool		required;		/* listed in its object's "required" */
} DapColumn;

typedef struct DapSchema
{
	long		version;
	int			ncolumns;
	DapColumn  *columns;
	char	   *title;			/* the schema's title or description, or NULL */
} DapSchema;

/*
 * Parse a VersionedSchema document of len bytes.  NULL on failure, with a
 * message in errbuf (errlen bytes).  Free the result with dap_schema_free().
 */
extern DapSchema *dap_schema_parse(const char *text, size_t len,
								   char *errbuf, size_t errlen);
extern void dap_schema_free(DapSchema *schema);

/* The table names of a TableList document ({"tables": [...]}), NULL-terminated; NULL on failure. */
extern char **dap_table_list_parse(const char *text, size_t len,
								   char *errbuf, size_t errlen);
extern void dap_table_list_free(char **tables);

#endif							/* LMS_DAP_SCHEMA_H */
