/*-------------------------------------------------------------------------
 *
 * json_reader.h
 *		  Incremental JSON row reader with selective extraction (pure C on
 *		  yajl, no PostgreSQL headers)
 *
 * Rows arrive either as JSON lines (a stream of top-level objects) or as a
 * JSON array of objects, at the top of the document or at a dotted
 * rows_path inside it ("data.rows").  The caller names, once, the fields it
 * wants (dotted paths of object keys); for each record the reader returns
 * one ReaderField per wanted path, in the order given, so records from CSV,
 * TSV and JSON are handled alike.  The caller feeds bytes as they arrive and
 * never hands over the whole document; nothing outside the wanted values is
 * kept.
 *
 * IDENTIFICATION
 *		  src/json_reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_JSON_READER_H
#define LMS_JSON_READER_H

#include "reader.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct JsonReader JsonReader;

typedef enum JsonFormat
{
	JSON_FORMAT_LINES,			/* a stream of top-level objects */
	JSON_FORMAT_ARRAY			/* an array of objects (see rows_path) */
} JsonFormat;

/*
 * One wanted field: dot-separated object keys, matched level by level.
 * With loose, a key matches after normalizing both sides by the name rule:
 * ASCII letters lower-cased, every other ASCII byte that is not a letter or
 * digit dropped, other bytes kept ("Current Score", "current_score" and
 * "CurrentScore" all match).
 */
typedef struct JsonWantedPath
{
	const char *path;
	bool		loose;
} JsonWantedPath;

/*
 * format: JSON_FORMAT_LINES, or JSON_FORMAT_ARRAY with rows_path NULL or ""
 * (the document is the array) or a dotted path of object keys to the array
 * (exact keys; the first match is used, a missing path or a null there means
 * no rows, anything else there is an error).  rows_path must be NULL or ""
 * for JSON lines.
 *
 * wanted[0 .. nwanted): the fields of every record, in output order; the
 * strings are copied.  The same path may be given twice.
 *
 * max_record: at most this many bytes of wanted values per record (a nested
 * object or array counts as its JSON text), and no JSON token (with the
 * whitespace and separators before it) longer than this; either is
 * READER_ERROR.  0 means no limit.
 *
 * Returns NULL when out of memory or for unusable arguments.
 */
extern JsonReader *json_reader_create(JsonFormat format, const char *rows_path,
									  const JsonWantedPath *wanted,
									  int nwanted, size_t max_record);
extern void json_reader_free(JsonReader *r);

/*
 * Append bytes.  Returns false when out of memory (the reader is unusable and
 * json_reader_next() returns READER_ERROR).  Bytes fed after json_reader_finish()
 * make the next call fail; bytes fed after an error are ignored.
 */
extern bool json_reader_feed(JsonReader *r, const char *data, size_t len);

/* No more bytes will come: a document that has not ended is an error. */
extern void json_reader_finish(JsonReader *r);

/*
 * The next record, or why there is none.  *nfields is always nwanted and
 * fields[i] is the value of wanted[i]:
 *
 *	- a string: its text, unescaped (UTF-8; may contain NUL from \u0000),
 *	- a number: its JSON text exactly as written ("0.10", "1e400"),
 *	- true or false: "true" or "false",
 *	- an object or array: its compact JSON text ({"a":[1,2]}),
 *	- null, or no such key in the record: is_null, value "".
 *
 * When several keys of a record match a path, the first one wins.  Values
 * are NUL-terminated and stay valid until the next json_reader_feed() or
 * json_reader_next().  After READER_ERROR every later call returns READER_ERROR;
 * after READER_EOF, READER_EOF.
 */
extern ReaderStatus json_reader_next(JsonReader *r, const ReaderField **fields,
								  int *nfields);

/* The message for the last READER_ERROR (reader-owned text). */
extern const char *json_reader_error(const JsonReader *r);

/*
 * 1-based number of the last returned record, or of the failing one after
 * READER_ERROR (the record being read, or the last one before an error outside
 * any record); 0 before the first record.
 */
extern uint64_t json_reader_record_number(const JsonReader *r);

/*
 * The keys of the first record, for messages ("the fields are: ..."): each
 * top-level key, except that a key whose value is a non-empty object is
 * replaced by its own keys as dotted names ("value.score").  Complete once
 * the first record was returned; empty when there was none.  The array and
 * the names stay valid until the next call to any json_reader function.
 */
extern void json_reader_first_keys(JsonReader *r, const char *const **names,
								   int *nnames);

#endif							/* LMS_JSON_READER_H */
