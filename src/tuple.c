/*-------------------------------------------------------------------------
 *
 * tuple.c
 *		  Records of the result file to tuples, through the column map
 *
 * The column map says, for each column of the foreign table, where its
 * value comes from: a field of the file (the "field" option, else the field
 * whose name equals the column's by the name rule: letters and digits only,
 * case ignored), the job itself ("meta" job_id / fetched_at, or what the
 * provider knows: extract_date), the file ("meta" file_name: a zip entry's
 * or the file's name), or the job's parameter value (a "param" column the
 * file does not carry).
 *
 * Only the columns the query references are converted, as file_fdw does:
 * count(*) converts nothing.  Each row's conversions run in a per-tuple
 * memory context that is reset before the next row, so nothing grows with
 * the row count.  A value the column's type rejects raises the type's own
 * error with a context naming the column, the data row (1-based, header not
 * counted) and the job.
 *
 * IDENTIFICATION
 *		  src/tuple.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "csv_reader.h"
#include "lms_fdw.h"
#include "options.h"
#include "providers/provider.h"
#include "tuple.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "json_reader.h"
#include "jsonl_reader.h"
#include "tsv_reader.h"

typedef enum LmsColumnSource
{
	LMS_COL_FIELD,				/* a field of the file */
	LMS_COL_META_JOB_ID,
	LMS_COL_META_FETCHED_AT,
	LMS_COL_META_FILE_NAME,		/* the result file's (or zip entry's) name */
	LMS_COL_META_PROVIDER,		/* another meta value, from the provider */
	LMS_COL_PARAM				/* the job's parameter (not in the file) */
} LmsColumnSource;

typedef struct LmsColumn
{
	AttrNumber	attnum;
	char	   *name;
	char	   *field;			/* "field" option, or NULL */
	char	   *param;			/* "param" option, or NULL */
	char	   *meta;			/* "meta" option, or NULL */
	bool		used;			/* referenced by the query */
	LmsColumnSource source;
	int			field_index;	/* in the record, once the header is read */
	int			nalternatives;	/* JSON: further paths tried, in order */
	char	   *param_value;	/* JSON: the job's value for a param column */
	bool		const_isnull;	/* meta/param: value fixed for the job */
	Datum		const_value;
	FmgrInfo	in;
	Oid			ioparam;
	int32		typmod;
	bool		is_text;		/* text: built directly, no input function */
} LmsColumn;

struct LmsColumnMap
{
	TupleDesc	tupdesc;
	int			ncolumns;		/* non-dropped columns */
	LmsColumn  *columns;
};

/*
 * A record reader, whatever the format: bytes in, records of fields out.
 * CSV and TSV records are positional, bound to columns by a header record;
 * JSON records are extracted by path, one field per column.
 */
typedef struct LmsRecordReader
{
	const char *kind;			/* "CSV", "TSV", "JSON", for messages */
	bool		by_header;
	void	   *state;
	bool		(*feed) (void *state, const char *data, size_t len);
	void		(*finish) (void *state);
	ReaderStatus	(*next) (void *state, const ReaderField **fields, int *nfields);
	const char *(*error) (const void *state);
	uint64_t	(*position) (const void *state);	/* line or record number */
	void		(*destroy) (void *state);
	/* optional: the last record's values are valid UTF-8 without NUL */
	bool		(*values_utf8) (const void *state);
} LmsRecordReader;

/*
 * Adapters from a reader's own typed functions to LmsRecordReader's: one
 * set per reader, all alike.
 */
#define RECORD_READER_ADAPTERS(prefix, Type, position_fn) \
static bool \
prefix##_feed(void *r, const char *d, size_t n) \
{ \
	return prefix##_reader_feed((Type *) r, d, n); \
} \
static void \
prefix##_finish(void *r) \
{ \
	prefix##_reader_finish((Type *) r); \
} \
static ReaderStatus \
prefix##_next(void *r, const ReaderField **f, int *n) \
{ \
	return prefix##_reader_next((Type *) r, f, n); \
} \
static const char * \
prefix##_error(const void *r) \
{ \
	return prefix##_reader_error((const Type *) r); \
} \
static uint64_t \
prefix##_position(const void *r) \
{ \
	return position_fn((const Type *) r); \
} \
static void \
prefix##_destroy(void *r) \
{ \
	prefix##_reader_free((Type *) r); \
}

RECORD_READER_ADAPTERS(csv, CsvReader, csv_reader_line)
RECORD_READER_ADAPTERS(tsv, TsvReader, tsv_reader_line)
RECORD_READER_ADAPTERS(json, JsonReader, json_reader_record_number)
RECORD_READER_ADAPTERS(jsonl, JsonlReader, jsonl_reader_record_number)

static bool
jsonl_values_utf8(const void *r)
{
	return jsonl_reader_values_utf8((const JsonlReader *) r);
}

/* fill *r with a reader's adapters */
#define RECORD_READER_SET(r, prefix) \
	((r)->feed = prefix##_feed, (r)->finish = prefix##_finish, \
	 (r)->next = prefix##_next, (r)->error = prefix##_error, \
	 (r)->position = prefix##_position, (r)->destroy = prefix##_destroy, \
	 (r)->values_utf8 = NULL)

struct LmsRowSource
{
	LmsColumnMap *map;
	LmsJob	   *job;
	LmsStream  *stream;
	LmsRecordReader reader;
	MemoryContextCallback cleanup;
	bool		header_done;
	int			nfields;		/* of the header */
	uint64		row;			/* data rows read */
	MemoryContext cxt;			/* lives as long as the source */
	MemoryContext row_cxt;		/* reset before each row */
	LmsColumn  *current;		/* being converted, for errcontext */
	bool		verify_utf8;
	bool		convert_utf8;
};

/*
 * A name as the name rule sees it, the same for every provider: ASCII
 * letters lower-cased, every other ASCII byte that is not a letter or digit
 * dropped, other bytes kept ("Org Unit Id", "OrgUnitId" and "org_unit_id"
 * all become "orgunitid").  The JSON reader applies the same rule.
 */
static char *
normalize_name(const char *name)
{
	char	   *out = palloc(strlen(name) + 1);
	char	   *q = out;
	const unsigned char *p;

	for (p = (const unsigned char *) name; *p; p++)
	{
		if (*p >= 'A' && *p <= 'Z')
			*q++ = (char) (*p - 'A' + 'a');
		else if (*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
			*q++ = (char) *p;
	}
	*q = '\0';
	return out;
}

/*
 * The index of the one header field whose normalized name is want, or
 * nfields when none is; two or more are an error naming them.
 */
static int
match_field(const LmsColumn *col, const ReaderField *fields, char **normalized,
			int nfields, const char *want)
{
	int			found = nfields;
	int			j;

	for (j = 0; j < nfields; j++)
	{
		if (strcmp(normalized[j], want) != 0)
			continue;
		if (found < nfields)
		{
			StringInfoData list;

			initStringInfo(&list);
			for (j = 0; j < nfields; j++)
				if (strcmp(normalized[j], want) == 0)
					appendStringInfo(&list, "%s\"%s\"", list.len ? ", " : "",
									 fields[j].value);
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_COLUMN),
					 errmsg("column \"%s\" matches more than one field of the file",
							col->name),
					 errdetail_internal("The fields %s all match it by the name rule (letters and digits only, case ignored).",
										list.data),
					 errhint("Name the field with ALTER FOREIGN TABLE ... ALTER COLUMN %s OPTIONS (ADD field '...').",
							 quote_identifier(col->name))));
		}
		found = j;
	}
	return found;
}

/*
 * lmsfdw_column_map_create
 *		Describe rel's columns; attrs_used (offset by
 *		FirstLowInvalidHeapAttributeNumber) says which the query needs.
 */
LmsColumnMap *
lmsfdw_column_map_create(Relation rel, Bitmapset *attrs_used)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	LmsColumnMap *map = palloc0(sizeof(LmsColumnMap));
	bool		whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber,
										  attrs_used);
	int			i;

	map->tupdesc = tupdesc;
	map->columns = palloc0(sizeof(LmsColumn) * tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		LmsColumn  *col;
		Oid			infunc;

		if (att->attisdropped)
			continue;
		col = &map->columns[map->ncolumns++];
		col->attnum = att->attnum;
		col->name = pstrdup(NameStr(att->attname));
		col->field = lmsfdw_column_option(RelationGetRelid(rel), att->attnum, "field");
		col->param = lmsfdw_column_option(RelationGetRelid(rel), att->attnum, "param");
		col->meta = lmsfdw_column_option(RelationGetRelid(rel), att->attnum, "meta");
		col->used = whole_row ||
			bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber,
						  attrs_used);
		col->field_index = -1;
		col->source = LMS_COL_FIELD;
		if (col->meta && strcmp(col->meta, "job_id") == 0)
			col->source = LMS_COL_META_JOB_ID;
		else if (col->meta && strcmp(col->meta, "fetched_at") == 0)
			col->source = LMS_COL_META_FETCHED_AT;
		else if (col->meta && strcmp(col->meta, "file_name") == 0)
			col->source = LMS_COL_META_FILE_NAME;
		else if (col->meta)
			col->source = LMS_COL_META_PROVIDER;
		getTypeInputInfo(att->atttypid, &infunc, &col->ioparam);
		col->is_text = att->atttypid == TEXTOID;
		fmgr_info(infunc, &col->in);
		col->typmod = att->atttypmod;
	}
	return map;
}

/* errcontext while a value is converted */
static void
conversion_error_context(void *arg)
{
	LmsRowSource *src = (LmsRowSource *) arg;

	if (src->current)
		errcontext("column \"%s\" of data row %llu of %s",
				   src->current->name, (unsigned long long) src->row,
				   lmsfdw_job_name(src->job));
}

/* Convert text through a column's input function (NULL for SQL NULL). */
static Datum
column_input(LmsColumn *col, char *text)
{
	return InputFunctionCall(&col->in, text, col->ioparam, col->typmod);
}

static void
rows_cleanup(void *arg)
{
	LmsRowSource *src = (LmsRowSource *) arg;

	if (src->reader.state)
		src->reader.destroy(src->reader.state);
	src->reader.state = NULL;
}

typedef enum LmsFormat
{
	LMS_FORMAT_CSV,
	LMS_FORMAT_TSV,
	LMS_FORMAT_JSONL,
	LMS_FORMAT_JSON
} LmsFormat;

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && pg_strcasecmp(s + n - m, suffix) == 0;
}

/*
 * The result's format: the format option, else the media type, else the
 * file name, else the provider's default.
 */
static LmsFormat
choose_format(LmsRowSource *src)
{
	const LmsOptions *opts = src->job->opts;
	const char *format = opts->format;
	const char *ctype;
	const char *name;

	if (strcmp(format, "auto") == 0)
	{
		lmsfdw_stream_describe(src->stream, &ctype, &name);
		format = opts->provider->default_format;
		if (ctype && pg_strncasecmp(ctype, "text/csv", 8) == 0)
			format = "csv";
		else if (ctype && pg_strncasecmp(ctype, "text/tab-separated-values", 25) == 0)
			format = "tsv";
		else if (ctype && (pg_strncasecmp(ctype, "application/x-ndjson", 20) == 0 ||
						   pg_strncasecmp(ctype, "application/jsonl", 17) == 0 ||
						   pg_strncasecmp(ctype, "application/x-jsonl", 19) == 0))
			format = "jsonl";
		else if (ctype && pg_strncasecmp(ctype, "application/json", 16) == 0)
			format = "json";
		else if (ends_with(name, ".csv"))
			format = "csv";
		else if (ends_with(name, ".tsv") || ends_with(name, ".tab"))
			format = "tsv";
		else if (ends_with(name, ".jsonl") || ends_with(name, ".ndjson"))
			format = "jsonl";
		else if (ends_with(name, ".json"))
			format = "json";
		else
		{
			/* no hint at all: look at the first bytes */
			const char *data;
			size_t		len,
						i = 0;

			if (lmsfdw_stream_peek(src->stream, &data, &len))
			{
				if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
					i = 3;
				while (i < len && (data[i] == ' ' || data[i] == '\n' ||
								   data[i] == '\r' || data[i] == '\t'))
					i++;
				if (i < len && data[i] == '{')
					format = opts->rows_path ? "json" : "jsonl";
				else if (i < len && data[i] == '[')
					format = "json";
			}
		}
	}
	if (strcmp(format, "tsv") == 0)
		return LMS_FORMAT_TSV;
	if (strcmp(format, "jsonl") == 0)
		return LMS_FORMAT_JSONL;
	if (strcmp(format, "json") == 0)
		return LMS_FORMAT_JSON;
	return LMS_FORMAT_CSV;
}

/*
 * A JSON reader extracting one path per column the query uses (the field
 * option exactly, else the column's name by the matching rule), plus the
 * provider's fallbacks; columns are bound to their paths at once.  JSON
 * lines are read by the simdjson reader (jsonl_reader.h), arrays by yajl.
 */
static void
open_json_reader(LmsRowSource *src, LmsRecordReader *r, JsonFormat format)
{
	LmsColumnMap *map = src->map;
	const char *const *prefixes = src->job->opts->provider->field_prefixes;
	int			nprefixes = 0;
	JsonWantedPath *wanted;
	int			nwanted = 0;
	int			i;

	while (prefixes && prefixes[nprefixes])
		nprefixes++;
	wanted = palloc(sizeof(JsonWantedPath) * (map->ncolumns * (nprefixes + 1) + 1));

	for (i = 0; i < map->ncolumns; i++)
	{
		LmsColumn  *col = &map->columns[i];

		if (col->source != LMS_COL_FIELD || !col->used)
			continue;
		col->field_index = nwanted;
		col->nalternatives = 0;
		wanted[nwanted].path = col->field ? col->field : col->name;
		wanted[nwanted].loose = col->field == NULL;
		nwanted++;
		/* without a field option: also the provider's prefixes, in order */
		if (col->field == NULL)
		{
			int			p;

			for (p = 0; p < nprefixes; p++)
			{
				wanted[nwanted].path = psprintf("%s.%s", prefixes[p], col->name);
				wanted[nwanted].loose = true;
				nwanted++;
				col->nalternatives++;
			}
		}
		if (col->param)
			col->param_value = lmsfdw_params_get(src->job->params, col->param);
	}
	src->nfields = nwanted;
	src->header_done = true;
	if (format == JSON_FORMAT_LINES &&
		(src->job->opts->rows_path == NULL || src->job->opts->rows_path[0] == '\0'))
	{
		r->state = jsonl_reader_create(nwanted ? wanted : NULL, nwanted,
									   LMS_MAX_RECORD_BYTES);
		RECORD_READER_SET(r, jsonl);
		r->values_utf8 = jsonl_values_utf8;
		return;
	}
	r->state = json_reader_create(format, src->job->opts->rows_path,
								  nwanted ? wanted : NULL, nwanted,
								  LMS_MAX_RECORD_BYTES);
	RECORD_READER_SET(r, json);
}

static void
open_reader(LmsRowSource *src)
{
	LmsRecordReader *r = &src->reader;

	switch (choose_format(src))
	{
		case LMS_FORMAT_JSONL:
		case LMS_FORMAT_JSON:
			r->kind = "JSON";
			r->by_header = false;
			open_json_reader(src, r, choose_format(src) == LMS_FORMAT_JSON ?
							 JSON_FORMAT_ARRAY : JSON_FORMAT_LINES);
			break;
		case LMS_FORMAT_TSV:
			r->kind = "TSV";
			r->by_header = true;
			r->state = tsv_reader_create(LMS_MAX_RECORD_BYTES);
			RECORD_READER_SET(r, tsv);
			break;
		case LMS_FORMAT_CSV:
			r->kind = "CSV";
			r->by_header = true;
			r->state = csv_reader_create(',', LMS_MAX_RECORD_BYTES);
			RECORD_READER_SET(r, csv);
			break;
	}
	if (r->state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
}

/*
 * lmsfdw_rows_open
 *		Rows of job's result read from stream.
 */
LmsRowSource *
lmsfdw_rows_open(LmsColumnMap *map, LmsJob *job, LmsStream *stream)
{
	LmsRowSource *src = palloc0(sizeof(LmsRowSource));
	LmsColumnMap *own = palloc(sizeof(LmsColumnMap));
	int			i;

	/*
	 * The source binds its own copy of the columns: several files of a job
	 * may be read at once, each with its header.
	 */
	*own = *map;
	own->columns = palloc(sizeof(LmsColumn) * Max(map->ncolumns, 1));
	for (i = 0; i < map->ncolumns; i++)
	{
		own->columns[i] = map->columns[i];
		fmgr_info_copy(&own->columns[i].in, &map->columns[i].in, CurrentMemoryContext);
	}
	map = own;
	src->map = map;
	src->job = job;
	src->stream = stream;
	src->cxt = CurrentMemoryContext;
	src->row_cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "lms_fdw row",
										 ALLOCSET_DEFAULT_SIZES);
	src->cleanup.func = rows_cleanup;
	src->cleanup.arg = src;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &src->cleanup);
	src->verify_utf8 = GetDatabaseEncoding() == PG_UTF8;
	src->convert_utf8 = !src->verify_utf8 &&
		GetDatabaseEncoding() != PG_SQL_ASCII;

	/* values fixed for the whole job; the bindings of a former job go */
	for (i = 0; i < map->ncolumns; i++)
	{
		LmsColumn  *col = &map->columns[i];

		if (col->source == LMS_COL_PARAM)
			col->source = LMS_COL_FIELD;
		col->field_index = -1;
		col->param_value = NULL;

		if (col->source == LMS_COL_META_JOB_ID)
		{
			col->const_isnull = job->remote_id == NULL;
			if (!col->const_isnull)
				col->const_value = column_input(col, job->remote_id);
		}
		else if (col->source == LMS_COL_META_FETCHED_AT)
			col->const_value =
				column_input(col, (char *) timestamptz_to_str(job->finished));
		else if (col->source == LMS_COL_META_FILE_NAME)
		{
			const char *ctype;
			const char *name;

			lmsfdw_stream_describe(stream, &ctype, &name);
			col->const_isnull = name == NULL;
			if (name)
				col->const_value = column_input(col, (char *) name);
		}
		else if (col->source == LMS_COL_META_PROVIDER)
		{
			const LmsProvider *provider = job->opts->provider;
			/* meta and param: the parameter's value, which the qual checks */
			char	   *value = col->param ?
				lmsfdw_params_get(job->params, col->param) : NULL;

			if (value == NULL && provider->meta_value)
				value = provider->meta_value(job, col->meta);
			col->const_isnull = value == NULL;
			if (value)
				col->const_value = column_input(col, value);
		}
	}
	/* a JSON reader binds the columns to their paths here */
	open_reader(src);
	return src;
}

/* Bind the columns to the fields named by the header record. */
static void
bind_header(LmsRowSource *src, const ReaderField *fields, int nfields)
{
	LmsColumnMap *map = src->map;
	MemoryContext old = MemoryContextSwitchTo(src->cxt);
	char	  **normalized = palloc(sizeof(char *) * nfields);
	int			i,
				j;

	for (j = 0; j < nfields; j++)
		normalized[j] = normalize_name(fields[j].value);

	for (i = 0; i < map->ncolumns; i++)
	{
		LmsColumn  *col = &map->columns[i];
		char	   *want;

		if (col->source != LMS_COL_FIELD)
			continue;
		if (col->field)
		{
			/* a field spelled exactly as the option wins */
			for (j = 0; j < nfields; j++)
				if (strcmp(fields[j].value, col->field) == 0)
					break;
			if (j == nfields)
				j = match_field(col, fields, normalized, nfields,
								normalize_name(col->field));
		}
		else
		{
			const char *const *prefix = src->job->opts->provider->field_prefixes;

			j = match_field(col, fields, normalized, nfields,
							normalize_name(col->name));
			/* then the provider's prefixes, in order: key.id, value.id ... */
			for (; j == nfields && prefix && *prefix; prefix++)
			{
				want = normalize_name(psprintf("%s.%s", *prefix, col->name));
				j = match_field(col, fields, normalized, nfields, want);
			}
		}
		if (j < nfields)
		{
			col->field_index = j;
			continue;
		}

		/* a param column the file lacks carries the job's parameter */
		if (col->param)
		{
			char	   *value = lmsfdw_params_get(src->job->params, col->param);

			col->source = LMS_COL_PARAM;
			col->const_isnull = value == NULL;
			if (value)
				col->const_value = column_input(col, value);
			continue;
		}

		{
			StringInfoData list;

			initStringInfo(&list);
			for (j = 0; j < nfields; j++)
				appendStringInfo(&list, "%s\"%s\"", j ? ", " : "", fields[j].value);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("column \"%s\" matches no field of the result of %s",
							col->name, lmsfdw_job_name(src->job)),
					 errdetail_internal("The fields are: %s.", list.data),
					 errhint("Name the field with ALTER FOREIGN TABLE ... ALTER COLUMN %s OPTIONS (ADD field '...').",
							 quote_identifier(col->name))));
		}
	}
	src->nfields = nfields;
	src->header_done = true;
	MemoryContextSwitchTo(old);
}

static void raise_malformed(LmsRowSource *src) pg_attribute_noreturn();

static void
raise_malformed(LmsRowSource *src)
{
	const char *error = src->reader.error(src->reader.state);

	if (strcmp(error, "out of memory") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory while reading the result of %s",
						lmsfdw_job_name(src->job))));
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("malformed %s in the result of %s: %s",
					src->reader.kind, lmsfdw_job_name(src->job), error),
			 src->reader.by_header ?
			 errdetail("The bad record begins on line %llu of the file.",
					   (unsigned long long) src->reader.position(src->reader.state)) :
			 errdetail("The bad record is record %llu of the file.",
					   (unsigned long long) src->reader.position(src->reader.state))));
}

/*
 * Fill slot from one data record.
 */
static void
store_record(LmsRowSource *src, const ReaderField *fields, int nfields,
			 TupleTableSlot *slot)
{
	LmsColumnMap *map = src->map;
	Datum	   *values = slot->tts_values;
	bool	   *nulls = slot->tts_isnull;
	ErrorContextCallback errcb;
	bool		checked;
	int			i,
				a;

	if (src->reader.by_header && nfields != src->nfields)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("data row %llu of %s has %d fields, the header has %d",
						(unsigned long long) src->row, lmsfdw_job_name(src->job),
						nfields, src->nfields),
				 errdetail("The row begins on line %llu of the file.",
						   (unsigned long long) src->reader.position(src->reader.state))));

	memset(nulls, true, sizeof(bool) * map->tupdesc->natts);

	/* values the reader vouches for need no pg_verifymbstr() */
	checked = src->verify_utf8 && src->reader.values_utf8 &&
		src->reader.values_utf8(src->reader.state);

	errcb.callback = conversion_error_context;
	errcb.arg = src;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (i = 0; i < map->ncolumns; i++)
	{
		LmsColumn  *col = &map->columns[i];
		int			k = col->attnum - 1;
		const ReaderField *f;
		char	   *text;

		if (!col->used)
			continue;
		if (col->source != LMS_COL_FIELD)
		{
			nulls[k] = col->const_isnull;
			values[k] = col->const_value;
			continue;
		}
		f = &fields[col->field_index];
		for (a = 1; f->is_null && a <= col->nalternatives; a++)
			f = &fields[col->field_index + a];
		if (f->is_null)
		{
			/* JSON leaves out what it does not have: a param column's value */
			if (col->param_value)
			{
				src->current = col;
				values[k] = column_input(col, col->param_value);
				nulls[k] = false;
			}
			continue;
		}
		src->current = col;
		text = (char *) f->value;
		if (src->verify_utf8 && !checked)
			(void) pg_verifymbstr(text, (int) f->len, false);
		else if (src->convert_utf8)
			text = pg_any_to_server(text, (int) f->len, PG_UTF8);
		/* text needs no parsing, and the reader knows its length */
		if (col->is_text && text == f->value)
			values[k] = PointerGetDatum(cstring_to_text_with_len(text, (int) f->len));
		else
			values[k] = column_input(col, text);
		nulls[k] = false;
	}
	src->current = NULL;
	error_context_stack = errcb.previous;
}

/*
 * lmsfdw_rows_next
 *		The next row into slot; false at the end of the result.
 */
bool
lmsfdw_rows_next(LmsRowSource *src, TupleTableSlot *slot)
{
	MemoryContext old;

	ExecClearTuple(slot);
	MemoryContextReset(src->row_cxt);
	old = MemoryContextSwitchTo(src->row_cxt);

	for (;;)
	{
		const ReaderField *fields;
		int			nfields;
		const char *data;
		size_t		len;

		switch (src->reader.next(src->reader.state, &fields, &nfields))
		{
			case READER_RECORD:
				if (!src->header_done)
				{
					bind_header(src, fields, nfields);
					continue;
				}
				src->row++;
				store_record(src, fields, nfields, slot);
				src->job->counters.rows++;
				MemoryContextSwitchTo(old);
				ExecStoreVirtualTuple(slot);
				return true;
			case READER_NEED_MORE:
				if (lmsfdw_stream_read(src->stream, &data, &len))
				{
					if (!src->reader.feed(src->reader.state, data, len))
						ereport(ERROR,
								(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
								 errmsg("out of memory while reading the result of %s",
										lmsfdw_job_name(src->job))));
				}
				else
					src->reader.finish(src->reader.state);
				continue;
			case READER_EOF:
				MemoryContextSwitchTo(old);
				return false;
			case READER_ERROR:
				raise_malformed(src);
		}
	}
}

/*
 * lmsfdw_rows_close
 *		Release the reader now rather than at the end of the query.
 */
void
lmsfdw_rows_close(LmsRowSource *src)
{
	rows_cleanup(src);
}
