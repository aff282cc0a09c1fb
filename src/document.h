/*-------------------------------------------------------------------------
 *
 * document.h
 *		  Small JSON documents (jansson): status answers, tokens, lists
 *
 * jansson's json_object() collides with PostgreSQL's SQL function of that
 * name, so only document.c includes <jansson.h>; the rest see LmsDoc.
 *
 * IDENTIFICATION
 *		  src/document.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_DOCUMENT_H
#define LMS_DOCUMENT_H

#include "nodes/pg_list.h"
#include "params.h"

typedef struct json_t LmsDoc;

extern LmsDoc *lmsfdw_json_parse(const char *data, size_t len,
								 const char *what);
extern char *lmsfdw_json_string(LmsDoc *doc, const char *path);
extern bool lmsfdw_json_is_object(const char *text);
extern List *lmsfdw_json_object_params(const char *text);
extern char *lmsfdw_params_to_json(List *params);
extern char *lmsfdw_json_quote(const char *s);

#endif							/* LMS_DOCUMENT_H */
