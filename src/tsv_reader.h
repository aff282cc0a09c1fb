/*-------------------------------------------------------------------------
 *
 * tsv_reader.h
 *		  Incremental reader for PostgreSQL's COPY text format (pure C, no
 *		  PostgreSQL headers)
 *
 * The same contract as csv_reader.h, and the same record type: a record is
 * an array of ReaderField, so the caller handles both formats alike.  The
 * caller feeds bytes as they arrive and asks for records; field values point
 * into the reader's own buffer and stay valid until the next call to
 * tsv_reader_feed() or tsv_reader_next().
 *
 * Format: fields separated by TAB, records ended by LF (CR LF tolerated);
 * \N alone is NULL and an empty field is an empty string; backslash escapes
 * \b \f \n \r \t \v \\, \ooo (1-3 octal digits), \xhh (1-2 hex digits), and
 * any other \c is c.  A backslash ending a record is an error.  A UTF-8 byte
 * order mark at the start of the stream and lines with no bytes are skipped.
 *
 * IDENTIFICATION
 *		  src/tsv_reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_TSV_READER_H
#define LMS_TSV_READER_H

#include "reader.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct TsvReader TsvReader;

/*
 * max_record: the largest record accepted, in bytes as received (escapes
 * not yet decoded, the LF or CR LF terminator not counted); a longer one is
 * READER_ERROR.  0 means no limit.  Returns NULL when out of memory.
 */
extern TsvReader *tsv_reader_create(size_t max_record);
extern void tsv_reader_free(TsvReader *r);

/*
 * Append bytes.  Returns false when out of memory (the reader is unusable and
 * tsv_reader_next() returns READER_ERROR).  Bytes fed after tsv_reader_finish()
 * make the next call fail; bytes fed after an error are ignored.
 */
extern bool tsv_reader_feed(TsvReader *r, const char *data, size_t len);

/* No more bytes will come: a final record without a newline is returned. */
extern void tsv_reader_finish(TsvReader *r);

/*
 * The next record, or why there is none.  Field values are decoded and
 * NUL-terminated (a value may also contain NUL bytes, from \0 or \x00), and
 * stay valid until the next tsv_reader_feed() or tsv_reader_next().  A NULL
 * field has is_null set and the value "".  After READER_ERROR every later call
 * returns READER_ERROR; after READER_EOF, READER_EOF.
 */
extern ReaderStatus tsv_reader_next(TsvReader *r, const ReaderField **fields,
								 int *nfields);

/* The message for the last READER_ERROR (static or reader-owned text). */
extern const char *tsv_reader_error(const TsvReader *r);

/*
 * 1-based physical line of the last returned (or failing) record (blank
 * lines count); 0 before the first record.
 */
extern uint64_t tsv_reader_line(const TsvReader *r);

#endif							/* LMS_TSV_READER_H */
