/*-------------------------------------------------------------------------
 *
 * jsonl_shim.h
 *		  Runs test_json_reader.c's JSON lines cases on the simdjson reader
 *
 * Included before test_json_reader.c (cc -include): every reader the tests
 * create for JSON_FORMAT_LINES is a JsonlReader, arrays stay on the yajl
 * reader, and the tests' expectations, written for the yajl reader, must
 * hold unchanged.
 *
 * IDENTIFICATION
 *		  test/unit/jsonl_shim.h
 *
 *-------------------------------------------------------------------------
 */
#include "json_reader.h"
#include "jsonl_reader.h"

#include <stdlib.h>

typedef struct ShimReader
{
	JsonReader *yajl;			/* an array */
	JsonlReader *lines;			/* JSON lines */
} ShimReader;

static inline ShimReader *
shim_create(JsonFormat format, const char *rows_path,
			const JsonWantedPath *wanted, int nwanted, size_t max_record)
{
	ShimReader *s = calloc(1, sizeof(ShimReader));

	if (format == JSON_FORMAT_LINES && (rows_path == NULL || rows_path[0] == '\0'))
		s->lines = jsonl_reader_create(wanted, nwanted, max_record);
	else
		s->yajl = json_reader_create(format, rows_path, wanted, nwanted,
									 max_record);
	if (s->lines == NULL && s->yajl == NULL)
	{
		free(s);
		return NULL;
	}
	return s;
}

static inline void
shim_free(ShimReader *s)
{
	if (s->lines)
		jsonl_reader_free(s->lines);
	else
		json_reader_free(s->yajl);
	free(s);
}

#define SHIM_CALL(s, fn, ...) \
	((s)->lines ? jsonl_reader_##fn((s)->lines, __VA_ARGS__) : \
	 json_reader_##fn((s)->yajl, __VA_ARGS__))

static inline bool
shim_feed(ShimReader *s, const char *d, size_t n)
{
	return SHIM_CALL(s, feed, d, n);
}

static inline void
shim_finish(ShimReader *s)
{
	if (s->lines)
		jsonl_reader_finish(s->lines);
	else
		json_reader_finish(s->yajl);
}

static inline ReaderStatus
shim_next(ShimReader *s, const ReaderField **f, int *n)
{
	return SHIM_CALL(s, next, f, n);
}

static inline const char *
shim_error(const ShimReader *s)
{
	return s->lines ? jsonl_reader_error(s->lines) : json_reader_error(s->yajl);
}

static inline uint64_t
shim_record_number(const ShimReader *s)
{
	return s->lines ? jsonl_reader_record_number(s->lines) :
		json_reader_record_number(s->yajl);
}

static inline void
shim_first_keys(ShimReader *s, const char *const **names, int *nnames)
{
	SHIM_CALL(s, first_keys, names, nnames);
}

#define JsonReader ShimReader
#define json_reader_create shim_create
#define json_reader_free shim_free
#define json_reader_feed shim_feed
#define json_reader_finish shim_finish
#define json_reader_next shim_next
#define json_reader_error shim_error
#define json_reader_record_number shim_record_number
#define json_reader_first_keys shim_first_keys

/* the report says which reader ran */
#include "unit.h"
#undef UNIT_DONE
#define UNIT_DONE(name) \
	do { \
		printf("%s, JSON lines on jsonl_reader: %d passed, %d failed\n", (name), \
			   unit_passed, unit_failed); \
		return unit_failed == 0 ? 0 : 1; \
	} while (0)
