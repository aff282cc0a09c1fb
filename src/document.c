/*-------------------------------------------------------------------------
 *
 * document.c
 *		  Small JSON documents: status answers, start answers, options
 *
 * jansson reads documents that are small by contract (status answers are
 * capped at LMS_MAX_DOCUMENT_BYTES); row streams never come here.  A parsed
 * document is released by a callback on the memory context that was
 * current when it was parsed, so an ERROR while reading it leaks nothing.
 *
 * This is the only file that includes <jansson.h>: its json_object()
 * collides with the SQL function of that name declared in fmgrprotos.h,
 * so nothing here includes utils/builtins.h, and json_object() itself is
 * never called (the server's own symbol would win at run time).
 *
 * IDENTIFICATION
 *		  src/document.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "document.h"
#include "lms_fdw.h"
#include "url.h"
#include "utils/json.h"

static void
json_release(void *arg)
{
	json_decref((json_t *) arg);
}

/*
 * lmsfdw_json_parse
 *		A JSON document, freed when the current memory context goes.
 *		Text that is not JSON is the LMS misbehaving: HV000 with a redacted
 *		excerpt.  what: the action, for the message.
 */
LmsDoc *
lmsfdw_json_parse(const char *data, size_t len, const char *what)
{
	json_error_t jerr;
	json_t	   *doc = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
	MemoryContextCallback *cb;

	if (doc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the LMS answered %s with something that is not JSON", what),
				 errdetail_internal("%s at offset %d; the answer begins: %s",
									jerr.text, jerr.position,
									lmsfdw_redact_text(data, len, NULL))));
	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = json_release;
	cb->arg = doc;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return doc;
}

/* The value at a dotted path ("data.result.url"), or NULL. */
static json_t *
json_at(json_t *doc, const char *path)
{
	char	   *copy = pstrdup(path);
	char	   *part;
	char	   *save = NULL;
	json_t	   *v = doc;

	for (part = strtok_r(copy, ".", &save); part && v;
		 part = strtok_r(NULL, ".", &save))
	{
		if (json_is_object(v))
			v = json_object_get(v, part);
		else if (json_is_array(v) && part[0] >= '0' && part[0] <= '9')
			v = json_array_get(v, (size_t) strtoul(part, NULL, 10));
		else
			v = NULL;
	}
	pfree(copy);
	return v;
}

static void report_oom(void) pg_attribute_noreturn();

static void
report_oom(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
			 errmsg("out of memory")));
}

/*
 * v in JSON spelling (json_dumps flags), palloc'd.  release: v is a
 * reference of ours, dropped before any ERROR.
 */
static char *
dump_text(json_t *v, size_t flags, bool release)
{
	char	   *text = json_dumps(v, flags);
	char	   *copy;

	if (release)
		json_decref(v);
	if (text == NULL)
		report_oom();
	copy = pstrdup(text);
	free(text);
	return copy;
}

/* A scalar's text: strings as they are, anything else in JSON spelling. */
static char *
value_text(json_t *v)
{
	if (json_is_string(v))
		return pstrdup(json_string_value(v));
	return dump_text(v, JSON_ENCODE_ANY | JSON_COMPACT, false);
}

/*
 * lmsfdw_json_string
 *		The value at path as text (numbers in their JSON spelling, never
 *		through a double), palloc'd; NULL when absent or null.
 */
char *
lmsfdw_json_string(LmsDoc *doc, const char *path)
{
	json_t	   *v = json_at(doc, path);

	if (v == NULL || json_is_null(v))
		return NULL;
	return value_text(v);
}

/* Is text a JSON object? (the parameters option) */
bool
lmsfdw_json_is_object(const char *text)
{
	json_error_t jerr;
	json_t	   *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	bool		ok = doc != NULL && json_is_object(doc);

	if (doc)
		json_decref(doc);
	return ok;
}

/*
 * lmsfdw_json_object_params
 *		The members of a JSON object as a list of LmsParam.
 */
List *
lmsfdw_json_object_params(const char *text)
{
	LmsDoc	   *obj = lmsfdw_json_parse(text, strlen(text), "a parameters option");
	const char *key;
	json_t	   *value;
	List	   *params = NIL;

	json_object_foreach(obj, key, value)
	{
		LmsParam   *p = palloc(sizeof(LmsParam));

		p->name = pstrdup(key);
		p->value = value_text(value);
		params = lappend(params, p);
	}
	return params;
}

/*
 * lmsfdw_params_to_json
 *		A JSON object of the parameters, values as strings.
 */
char *
lmsfdw_params_to_json(List *params)
{
	/*
	 * Not json_object(): the postgres executable exports a function of that
	 * name, which the dynamic linker would bind our call to.
	 */
	json_t	   *obj = json_pack("{}");
	ListCell   *lc;

	if (obj == NULL)
		report_oom();
	foreach(lc, params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		json_object_set_new(obj, p->name, json_string(p->value));
	}
	return dump_text(obj, JSON_COMPACT | JSON_SORT_KEYS, true);
}

/*
 * lmsfdw_json_quote
 *		s as a JSON string literal (PostgreSQL's escaping), palloc'd: for
 *		request bodies.
 */
char *
lmsfdw_json_quote(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}
