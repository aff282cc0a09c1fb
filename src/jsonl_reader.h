/*-------------------------------------------------------------------------
 *
 * jsonl_reader.h
 *		  JSON lines reader on simdjson, with the yajl reader as its fallback
 *		  (C interface to a C++ translation unit; no PostgreSQL headers)
 *
 * The same contract as json_reader.h with format JSON_FORMAT_LINES: the
 * same records, values, record numbers and errors for any input and any
 * chunking; only faster.  Each line is parsed whole with simdjson's
 * On-Demand API.  At the first line it does not take as one JSON object
 * (malformed, a record spanning lines, several records on one line, a line
 * longer than the limit, anything it is not sure of), the reader hands the
 * rest of the stream, from the end of the last record it returned, to the
 * yajl reader, which then reads it to the end: errors are yajl's, with the
 * record numbers and messages of json_reader.h.
 *
 * IDENTIFICATION
 *		  src/jsonl_reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_JSONL_READER_H
#define LMS_JSONL_READER_H

#ifdef __cplusplus
extern "C"
{
#endif

#include "json_reader.h"

typedef struct JsonlReader JsonlReader;

/*
 * As json_reader_create(JSON_FORMAT_LINES, NULL, wanted, nwanted,
 * max_record).  Returns NULL when out of memory or for unusable arguments.
 */
extern JsonlReader *jsonl_reader_create(const JsonWantedPath *wanted,
										int nwanted, size_t max_record);
extern void jsonl_reader_free(JsonlReader *r);

/* As json_reader_feed, json_reader_finish and json_reader_next. */
extern bool jsonl_reader_feed(JsonlReader *r, const char *data, size_t len);
extern void jsonl_reader_finish(JsonlReader *r);
extern ReaderStatus jsonl_reader_next(JsonlReader *r, const ReaderField **fields,
								   int *nfields);

/* As json_reader_error, json_reader_record_number, json_reader_first_keys. */
extern const char *jsonl_reader_error(const JsonlReader *r);
extern uint64_t jsonl_reader_record_number(const JsonlReader *r);
extern void jsonl_reader_first_keys(JsonlReader *r, const char *const **names,
									int *nnames);

/*
 * Whether the values of the record just returned are known to be valid
 * UTF-8 without a NUL byte (what pg_verifymbstr() accepts): true for a
 * record from the simdjson path, which checked the whole line, unless a
 * value holds a NUL (from \u0000).  The yajl reader checks UTF-8 less
 * strictly, so values it returns are not vouched for.
 */
extern bool jsonl_reader_values_utf8(const JsonlReader *r);

/* Whether the rest of the stream went to the yajl reader (for tests). */
extern bool jsonl_reader_fell_back(const JsonlReader *r);

#ifdef __cplusplus
}
#endif

#endif							/* LMS_JSONL_READER_H */
