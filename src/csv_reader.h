/*-------------------------------------------------------------------------
 *
 * csv_reader.h
 *		  Incremental RFC 4180 record reader (pure C, no PostgreSQL headers)
 *
 * The caller feeds bytes as they arrive and asks for records; the reader
 * never sees a socket and never needs the whole document.  A record's fields
 * point into the reader's own buffer and stay valid until the next call to
 * csv_reader_feed() or csv_reader_next().
 *
 * IDENTIFICATION
 *		  src/csv_reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_CSV_READER_H
#define LMS_CSV_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CsvReader CsvReader;

typedef struct CsvField
{
	const char *value;			/* NUL-terminated, quotes removed */
	size_t		len;			/* bytes in value, not counting the NUL */
	bool		is_null;		/* empty and unquoted: SQL NULL */
} CsvField;

typedef enum CsvStatus
{
	CSV_RECORD,					/* *fields and *nfields describe one record */
	CSV_NEED_MORE,				/* feed more bytes, or call csv_reader_finish() */
	CSV_EOF,					/* finished and every record returned */
	CSV_ERROR					/* malformed input or limit; see csv_reader_error() */
} CsvStatus;

/*
 * delimiter: ',' for CSV; it may not be the quote, CR or LF.  max_record: the
 * largest record accepted, in bytes as received (quotes included, the
 * terminator not); a longer one is CSV_ERROR.  0 means no limit.  Returns
 * NULL when out of memory or for an unusable delimiter.
 */
extern CsvReader *csv_reader_create(char delimiter, size_t max_record);
extern void csv_reader_free(CsvReader *r);

/*
 * Append bytes.  Returns false when out of memory (the reader is unusable and
 * csv_reader_next() returns CSV_ERROR).  Bytes fed after csv_reader_finish()
 * make the next call fail; bytes fed after an error are ignored.
 */
extern bool csv_reader_feed(CsvReader *r, const char *data, size_t len);

/* No more bytes will come: a final record without a newline is returned. */
extern void csv_reader_finish(CsvReader *r);

/*
 * The next record, or why there is none.  Field values are NUL-terminated,
 * and stay valid until the next csv_reader_feed() or csv_reader_next().  After
 * CSV_ERROR every later call returns CSV_ERROR; after CSV_EOF, CSV_EOF.
 */
extern CsvStatus csv_reader_next(CsvReader *r, const CsvField **fields,
								 int *nfields);

/* The message for the last CSV_ERROR (static or reader-owned text). */
extern const char *csv_reader_error(const CsvReader *r);

/*
 * 1-based physical line on which the last returned (or failing) record began
 * (every LF counts, including those inside quoted fields); 0 before the first
 * record.
 */
extern uint64_t csv_reader_line(const CsvReader *r);

#endif							/* LMS_CSV_READER_H */
