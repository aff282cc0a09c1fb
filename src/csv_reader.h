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

#include "reader.h"

typedef struct CsvReader CsvReader;

/*
 * delimiter: ',' for CSV; it may not be the quote, CR or LF.  max_record: the
 * largest record accepted, in bytes as received (quotes included, the
 * terminator not); a longer one is READER_ERROR.  0 means no limit.  Returns
 * NULL when out of memory or for an unusable delimiter.
 */
extern CsvReader *csv_reader_create(char delimiter, size_t max_record);
extern void csv_reader_free(CsvReader *r);

/*
 * Append bytes.  Returns false when out of memory (the reader is unusable and
 * csv_reader_next() returns READER_ERROR).  Bytes fed after csv_reader_finish()
 * make the next call fail; bytes fed after an error are ignored.
 */
extern bool csv_reader_feed(CsvReader *r, const char *data, size_t len);

/* No more bytes will come: a final record without a newline is returned. */
extern void csv_reader_finish(CsvReader *r);

/*
 * The next record, or why there is none.  Field values are NUL-terminated,
 * and stay valid until the next csv_reader_feed() or csv_reader_next().  After
 * READER_ERROR every later call returns READER_ERROR; after READER_EOF, READER_EOF.
 */
extern ReaderStatus csv_reader_next(CsvReader *r, const ReaderField **fields,
								 int *nfields);

/* The message for the last READER_ERROR (static or reader-owned text). */
extern const char *csv_reader_error(const CsvReader *r);

/*
 * 1-based physical line on which the last returned (or failing) record began
 * (every LF counts, including those inside quoted fields); 0 before the first
 * record.
 */
extern uint64_t csv_reader_line(const CsvReader *r);

#endif							/* LMS_CSV_READER_H */
