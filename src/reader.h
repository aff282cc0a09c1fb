/*-------------------------------------------------------------------------
 *
 * reader.h
 *		  What every record reader returns, and the common base of the CSV
 *		  and TSV readers (pure C, no PostgreSQL headers)
 *
 * A record reader takes bytes as they arrive and hands out records of
 * fields (ReaderField) with a status (ReaderStatus); the CSV, TSV and JSON
 * readers all answer that way, so tuple.c reads every format alike.
 *
 * ReaderBase is what the CSV and TSV readers share: the byte buffer, the
 * sticky error, line numbers, the byte order mark at the start, the
 * reusable field array, and the record loop (reader_base_next: scan, the
 * final record at the end of input, split).  Each reader embeds it as its
 * first member, adds its own scanner state, and gives its syntax as a
 * ReaderSyntax.
 *
 * The buffer: buf[start .. len) holds the bytes not yet returned as
 * records; scan is where the reader's record-end search resumes (start <=
 * scan <= len).  One spare byte is always kept after len, so a field that
 * ends at the end of the data can be NUL-terminated in place.
 *
 * IDENTIFICATION
 *		  src/reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_READER_H
#define LMS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One field of a record. */
typedef struct ReaderField
{
	const char *value;			/* NUL-terminated, unquoted/decoded */
	size_t		len;			/* bytes in value, not counting the NUL */
	bool		is_null;		/* SQL NULL */
} ReaderField;

typedef enum ReaderStatus
{
	READER_RECORD,				/* *fields and *nfields describe one record */
	READER_NEED_MORE,			/* feed more bytes, or call the finish function */
	READER_EOF,					/* finished and every record returned */
	READER_ERROR				/* malformed input or limit; see the error text */
} ReaderStatus;

typedef struct ReaderBase
{
	/* the bytes */
	char	   *buf;
	size_t		cap;			/* > len always */
	size_t		len;
	size_t		start;			/* first byte of the current record */
	size_t		scan;			/* next byte to examine */
	size_t		limit;			/* capacity growth stops doubling here */

	/* line numbers */
	uint64_t	line;			/* physical line on which "start" lies */
	uint64_t	rec_line;		/* line of the last returned/failing record */

	size_t		max_record;		/* SIZE_MAX when unlimited */

	bool		bom_pending;	/* stream start not yet checked for a BOM */
	bool		finished;		/* no more bytes will come */
	bool		failed;			/* sticky READER_ERROR */
	bool		oom;			/* failed for lack of memory */
	bool		seen_record;	/* a record has been returned */
	bool		one_field;		/* the first record had one field */

	const char *errmsg;
	char		errbuf[80];

	/* reusable output array */
	ReaderField *fields;
	int			fields_cap;
} ReaderBase;

/*
 * max_record: the largest record accepted (0: no limit).  False when out of
 * memory.  The buffer grows in place (realloc, which large blocks do by
 * remapping their pages), doubling up to what a record at the limit needs,
 * so a record near the limit is resident once.
 */
extern bool reader_base_init(ReaderBase *r, size_t initial_buffer,
							 size_t max_record);
extern void reader_base_free(ReaderBase *r);

/*
 * A reader of "size" bytes (a struct whose first member is its ReaderBase),
 * zeroed but for an initialised base; NULL when out of memory.  Destroy
 * frees the base and the reader (NULL is allowed).
 */
extern void *reader_base_create(size_t size, size_t initial_buffer,
								size_t max_record);
extern void reader_base_destroy(ReaderBase *r);

/*
 * Append bytes.  False when out of memory (the reader is then failed).
 * Bytes fed after the finish make the next call fail; bytes fed after an
 * error are ignored.  Consumed bytes before start are dropped lazily: the
 * tail is moved to the front only when an append does not fit, so each
 * byte moves O(1) times.
 */
extern bool reader_base_feed(ReaderBase *r, const char *data, size_t len);

/*
 * At the start of the stream: drop a UTF-8 byte order mark.  False while
 * too few bytes have arrived to tell and more may come.
 */
extern bool reader_base_skip_bom(ReaderBase *r);

/* Fail: the record that began at "start" is the failing one. */
extern ReaderStatus reader_base_fail(ReaderBase *r, const char *msg);
extern ReaderStatus reader_base_fail_oom(ReaderBase *r);
extern ReaderStatus reader_base_fail_too_long(ReaderBase *r);

/*
 * The field slot n of the record being split (the array is grown by
 * doubling); NULL when it cannot be, with the reader failed.
 */
extern ReaderField *reader_base_field(ReaderBase *r, int n);

/* What reader_base_next() asks a reader's syntax for. */
typedef enum ReaderScan
{
	READER_SCAN_FOUND,			/* a complete record is in the buffer */
	READER_SCAN_MORE,			/* the data ended before the record did */
	READER_SCAN_FAILED			/* syntax error or limit; the reader failed */
} ReaderScan;

typedef struct ReaderSyntax
{
	/*
	 * Find the end of the current record, resuming where the last call
	 * stopped.  On READER_SCAN_FOUND, [*rec_start, *rec_end) is the record
	 * without its terminator and start/scan already point past it.
	 */
	ReaderScan	(*scan) (ReaderBase *r, size_t *rec_start, size_t *rec_end);

	/*
	 * The input ended inside a record, which becomes the final one (rec_line
	 * is already set): settle the scanner's state, or fail the reader and
	 * return false.  NULL when there is nothing to do.
	 */
	bool		(*final_record) (ReaderBase *r);

	/*
	 * Cut the record [p, end) into fields in place with reader_base_field();
	 * the byte at end is writable.  The number of fields, or -1 with the
	 * reader failed.
	 */
	int			(*split) (ReaderBase *r, char *p, char *end);
} ReaderSyntax;

/*
 * The next record, or why there is none: the sticky error, the byte order
 * mark, the final record without a terminator and the end of input are
 * handled here, the syntax by the reader's callbacks.
 */
extern ReaderStatus reader_base_next(ReaderBase *r, const ReaderSyntax *syntax,
									 const ReaderField **fields, int *nfields);

#endif							/* LMS_READER_H */
