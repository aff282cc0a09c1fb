/*-------------------------------------------------------------------------
 *
 * record_buffer.h
 *		  The growable byte buffer of the CSV and TSV readers (pure C)
 *
 * buf[start .. len) holds the bytes not yet returned as records; scan is
 * where the reader's record-end search resumes (start <= scan <= len).
 * One spare byte is always kept after len, so a field that ends at the
 * end of the data can be NUL-terminated in place.
 *
 * IDENTIFICATION
 *		  src/record_buffer.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_RECORD_BUFFER_H
#define LMS_RECORD_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct RecordBuffer
{
	char	   *buf;
	size_t		cap;			/* > len always */
	size_t		len;
	size_t		start;			/* first byte of the current record */
	size_t		scan;			/* next byte to examine */
	size_t		limit;			/* capacity growth stops doubling here */
} RecordBuffer;

/*
 * false when out of memory.  limit: the largest capacity a record can need
 * (the reader's record limit plus terminator and spare byte); beyond it the
 * buffer grows only by what an append brings.  0: no limit.
 */
extern bool record_buffer_init(RecordBuffer *b, size_t initial, size_t limit);
extern void record_buffer_free(RecordBuffer *b);

/*
 * Append len bytes; false when out of memory (or the size overflows).
 * Consumed bytes before start are dropped lazily: the tail is moved to the
 * front only when an append does not fit, so each byte moves O(1) times.
 * The buffer grows in place (realloc, which large blocks do by remapping
 * their pages), never by copying into a second buffer, so a record near
 * the limit is resident once.
 */
extern bool record_buffer_append(RecordBuffer *b, const char *data, size_t len);

/*
 * At the start of the stream: drop a UTF-8 byte order mark.  Returns false
 * while too few bytes have arrived to tell and more may come.
 */
extern bool record_buffer_skip_bom(RecordBuffer *b, bool finished);

#endif							/* LMS_RECORD_BUFFER_H */
