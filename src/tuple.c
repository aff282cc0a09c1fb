/*-------------------------------------------------------------------------
 *
 * tuple.c
 *		  Records of the result file to tuples, through the column map
 *
 * The column map says, for each column of the foreign table, where its
 * value comes from: a field of the file (the "field" option, else the field
 * whose name equals the column's ignoring case and treating spaces and
 * punctuation as '_'), the job itself ("meta" job_id / fetched_at), or the
 * job's parameter value (a "param" column the file does not carry).
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
#include "executor/tuptable.h"
#include "csv_reader.h"
#include "lms_fdw.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

typedef enum LmsColumnSource
{
	LMS_COL_FIELD,				/* a field of the file */
	LMS_COL_META_JOB_ID,
	LMS_COL_META_FETCHED_AT,
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
	bool		const_isnull;	/* meta/param: value fixed for the job */
	Datum		const_value;
	FmgrInfo	in;
	Oid			ioparam;
	int32		typmod;
} LmsColumn;

struct LmsColumnMap
{
	TupleDesc	tupdesc;
	int			ncolumns;		/* non-dropped columns */
	LmsColumn  *columns;
};

struct LmsRowSource
{
	LmsColumnMap *map;
	LmsJob	   *job;
	LmsStream  *stream;
	CsvReader  *csv;
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
 * A name as the matching rule sees it: lower case, and every ASCII byte
 * that is not a letter or digit as '_' ("current score" -> current_score).
 */
static char *
normalize_name(const char *name)
{
	char	   *out = pstrdup(name);
	char	   *p;

	for (p = out; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c >= 'A' && c <= 'Z')
			*p = (char) (c - 'A' + 'a');
		else if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			*p = '_';
	}
	return out;
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
		getTypeInputInfo(att->atttypid, &infunc, &col->ioparam);
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
		errcontext("column \"%s\" of data row %llu of export job %s",
				   src->current->name, (unsigned long long) src->row,
				   src->job->remote_id ? src->job->remote_id : "(none)");
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

	if (src->csv)
		csv_reader_free(src->csv);
	src->csv = NULL;
}

/*
 * lmsfdw_rows_open
 *		Rows of job's result read from stream.
 */
LmsRowSource *
lmsfdw_rows_open(LmsColumnMap *map, LmsJob *job, LmsStream *stream)
{
	LmsRowSource *src = palloc0(sizeof(LmsRowSource));
	int			i;

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
	src->csv = csv_reader_create(',', LMS_MAX_RECORD_BYTES);
	if (src->csv == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	src->verify_utf8 = GetDatabaseEncoding() == PG_UTF8;
	src->convert_utf8 = !src->verify_utf8 &&
		GetDatabaseEncoding() != PG_SQL_ASCII;

	/* values fixed for the whole job */
	for (i = 0; i < map->ncolumns; i++)
	{
		LmsColumn  *col = &map->columns[i];

		if (col->source == LMS_COL_META_JOB_ID)
		{
			col->const_isnull = job->remote_id == NULL;
			if (!col->const_isnull)
				col->const_value = column_input(col, job->remote_id);
		}
		else if (col->source == LMS_COL_META_FETCHED_AT)
			col->const_value =
				column_input(col, (char *) timestamptz_to_str(job->finished));
	}
	return src;
}

/* The value of the job parameter named name, or NULL. */
static char *
job_param_value(LmsJob *job, const char *name)
{
	ListCell   *lc;

	foreach(lc, job->params)
	{
		LmsParam   *p = (LmsParam *) lfirst(lc);

		if (strcmp(p->name, name) == 0)
			return p->value;
	}
	return NULL;
}

/* Bind the columns to the fields named by the header record. */
static void
bind_header(LmsRowSource *src, const CsvField *fields, int nfields)
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
			for (j = 0; j < nfields; j++)
				if (strcmp(fields[j].value, col->field) == 0)
					break;
			if (j == nfields)
			{
				want = normalize_name(col->field);
				for (j = 0; j < nfields; j++)
					if (strcmp(normalized[j], want) == 0)
						break;
			}
		}
		else
		{
			want = normalize_name(col->name);
			for (j = 0; j < nfields; j++)
				if (strcmp(normalized[j], want) == 0)
					break;
		}
		if (j < nfields)
		{
			col->field_index = j;
			continue;
		}

		/* a param column the file lacks carries the job's parameter */
		if (col->param)
		{
			char	   *value = job_param_value(src->job, col->param);

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
					 errmsg("column \"%s\" matches no field of the result of export job %s",
							col->name, src->job->remote_id),
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
	if (strcmp(csv_reader_error(src->csv), "out of memory") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory while reading the result of export job %s",
						src->job->remote_id)));
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("malformed CSV in the result of export job %s: %s",
					src->job->remote_id, csv_reader_error(src->csv)),
			 errdetail("The bad record begins on line %llu of the file.",
					   (unsigned long long) csv_reader_line(src->csv))));
}

/*
 * Fill slot from one data record.
 */
static void
store_record(LmsRowSource *src, const CsvField *fields, int nfields,
			 TupleTableSlot *slot)
{
	LmsColumnMap *map = src->map;
	Datum	   *values = slot->tts_values;
	bool	   *nulls = slot->tts_isnull;
	ErrorContextCallback errcb;
	int			i;

	if (nfields != src->nfields)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("data row %llu of export job %s has %d fields, the header has %d",
						(unsigned long long) src->row, src->job->remote_id,
						nfields, src->nfields),
				 errdetail("The row begins on line %llu of the file.",
						   (unsigned long long) csv_reader_line(src->csv))));

	memset(nulls, true, sizeof(bool) * map->tupdesc->natts);

	errcb.callback = conversion_error_context;
	errcb.arg = src;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (i = 0; i < map->ncolumns; i++)
	{
		LmsColumn  *col = &map->columns[i];
		int			k = col->attnum - 1;
		const CsvField *f;
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
		if (f->is_null)
			continue;
		src->current = col;
		text = (char *) f->value;
		if (src->verify_utf8)
			(void) pg_verifymbstr(text, (int) f->len, false);
		else if (src->convert_utf8)
			text = pg_any_to_server(text, (int) f->len, PG_UTF8);
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
		const CsvField *fields;
		int			nfields;
		const char *data;
		size_t		len;

		switch (csv_reader_next(src->csv, &fields, &nfields))
		{
			case CSV_RECORD:
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
			case CSV_NEED_MORE:
				if (lmsfdw_stream_read(src->stream, &data, &len))
				{
					if (!csv_reader_feed(src->csv, data, len))
						ereport(ERROR,
								(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
								 errmsg("out of memory while reading the result of export job %s",
										src->job->remote_id)));
				}
				else
					csv_reader_finish(src->csv);
				continue;
			case CSV_EOF:
				MemoryContextSwitchTo(old);
				return false;
			case CSV_ERROR:
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
