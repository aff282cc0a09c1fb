/*-------------------------------------------------------------------------
 *
 * json_reader.c
 *		  Incremental JSON row reader with selective extraction (pure C on
 *		  yajl, no PostgreSQL headers)
 *
 * yajl is an event parser that can be fed any slice of a document: it keeps
 * its own state between calls and only buffers the one token that straddles
 * two slices.  No record boundary has to be found before parsing, and an
 * array of rows nested deep inside a document costs nothing more than one
 * at the top.  The reader drives yajl and turns its events into records.
 *
 * Flow.  json_reader_feed() only appends to an input buffer (managed like
 * the CSV reader's: consumed bytes dropped lazily).  json_reader_next()
 * hands out queued records; when the queue is empty it parses the next
 * slice of the input, normally JSON_SLICE bytes, whose events may complete
 * any number of records, each appended to the queue.  Parsing lazily, one
 * slice at a time, bounds the queue (a slice's worth of records) whatever
 * the size of a feed, and never parses what the caller will not ask for.
 *
 * Long tokens.  yajl re-reads a token it holds from earlier slices from its
 * start each time it is given more bytes, so a long string fed in small
 * slices would cost quadratic time.  After a stretch of n > JSON_SLICE bytes
 * without a token end, the next slice is therefore n bytes long (the reader
 * waits for that many, unless the input has finished): the re-reading then
 * costs linear time in total.
 *
 * Records.  Only wanted values are kept.  They are copied, as the events
 * deliver them, into an arena: each queued record is a base offset in the
 * arena plus a run of entries (wanted field, offset, length); fields no
 * entry names are NULL.  When the queue has drained, the arena is reset,
 * keeping only the bytes of a record still being parsed.
 *
 * Matching.  The wanted paths form a trie of key segments; a segment is
 * exact or loose (normalized bytes), so one key may follow two edges.  A
 * frame is pushed for an object only while some trie node is active in it,
 * so the frames are at most the depth of the trie: objects that no wanted
 * path enters, and all arrays, cost one depth counter.  At a key event the
 * key is compared with the children of the active nodes: an exact one
 * lengths first; a loose one (the name rule: ASCII letters lower-cased,
 * every other ASCII byte that is not a letter or digit dropped, other bytes
 * kept) skips and folds the key's bytes on the fly, never into a copy.  A wanted field
 * is taken by the first key that matches it in a record; later ones are
 * ignored.
 *
 * Values.  Strings arrive unescaped; numbers through yajl's number callback,
 * as their JSON text, so no value is ever converted to a double.  A wanted
 * object or array is re-serialized, compactly, from its events into a
 * separate buffer; wanted values nested in it ("value" and "value.score")
 * are captured in the same pass, as ranges of that buffer, and all are
 * copied into the arena when the outermost one closes.
 *
 * Context.  Outside records the reader follows rows_path: at each level of
 * it only the key of the next segment matters, everything else is skipped
 * by depth counting.  Once the array has ended the rest of the document is
 * still parsed (so that it is checked) but kept nowhere.
 *
 * Limits.  The wanted values of a record may take at most max_record bytes
 * as stored (a value's bytes once, however many wanted paths share it; a
 * wanted value nested in another is stored on its own too).  yajl
 * would buffer a single huge token whole, so the distance from the end of
 * one token to the end of the next may not exceed max_record either.  The
 * reader knows the stream offset of each event's end (the slice's offset
 * plus yajl_get_bytes_consumed(), which is exact even for a token continued
 * from an earlier slice), and checks this at every event and at the end of
 * every slice; no slice goes past the first byte that would be too far, so
 * the outcome, this error or one yajl found earlier, is the same however
 * the input was chunked.  Nesting deeper than JSON_MAX_DEPTH is refused
 * (yajl's own stack grows with it).  Memory is thus bounded by one feed,
 * the records of one slice (at most JSON_SLICE or max_record bytes of
 * input), one record's values and one token.
 *
 * Errors are sticky and come after every record completed before them.
 * yajl's messages (non-verbose) are kept, with the number of the record they
 * concern.  An empty JSON lines stream (or one of whitespace) has no
 * records; an empty document in array format is an error, as it is not JSON.
 * A UTF-8 byte order mark at the very start is skipped.
 *
 * IDENTIFICATION
 *		  src/json_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "json_reader.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#ifndef JSON_SLICE				/* tests may make it tiny */
#define JSON_SLICE				(16 * 1024)
#endif
#define JSON_INITIAL_BUFFER		(64 * 1024)
#define JSON_MAX_DEPTH			10000
#define JSON_MAX_FIRST_KEYS		1000

/* ser_flags bits, one byte per open container of the text being written */
#define SER_MAP			0x01	/* an object, else an array */
#define SER_HAS			0x02	/* something was written in it */

typedef enum JsonKind
{
	JV_NULL,
	JV_BOOL,
	JV_NUMBER,
	JV_STRING,
	JV_MAP,
	JV_ARRAY
} JsonKind;

/* A growable byte buffer. */
typedef struct JsonBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} JsonBuf;

/* A trie node: the edge from its parent and what hangs below it. */
typedef struct JsonNode
{
	char	   *seg;			/* key bytes; normalized when loose */
	size_t		seglen;
	bool		loose;
	int			child;			/* first child, or -1 */
	int			sibling;		/* next child of the parent, or -1 */
	int			field;			/* first field ending here (field_next), -1 */
} JsonNode;

/* An object in which some trie nodes are active. */
typedef struct JsonFrame
{
	size_t		depth;			/* depth of the object */
	int			act_start;		/* active nodes: act[act_start ..] */
	int			act_count;
} JsonFrame;

/* One wanted value of a record. */
typedef struct JsonEntry
{
	int			field;
	bool		is_null;
	size_t		off;			/* relative to the record's arena base */
	size_t		len;
} JsonEntry;

/* A completed record waiting to be returned. */
typedef struct JsonQueued
{
	uint64_t	number;
	size_t		base;			/* arena offset of its values */
	size_t		first;			/* its entries: entries[first ..] */
	size_t		count;
} JsonQueued;

/* A wanted object or array being written into "ser". */
typedef struct JsonCapture
{
	int			field;
	size_t		level;			/* ser level of its container */
	size_t		start;			/* its text: ser[start .. end) */
	size_t		end;			/* 0 while open */
} JsonCapture;

struct JsonReader
{
	yajl_handle yh;
	JsonFormat	format;
	size_t		max_record;		/* SIZE_MAX when unlimited */

	/* input: in[in_pos .. in_len) not yet parsed */
	char	   *in;
	size_t		in_len;
	size_t		in_pos;
	size_t		in_cap;
	uint64_t	in_base;		/* stream offset of in[0] */
	uint64_t	slice_base;		/* stream offset of the slice being parsed */
	uint64_t	last_end;		/* stream offset where the last token ended */

	/* flags */
	bool		bom_pending;	/* stream start not yet checked for a BOM */
	bool		nonblank;		/* a byte other than whitespace was parsed */
	bool		finished;		/* json_reader_finish() was called */
	bool		eof;			/* the document ended and was parsed */
	bool		failed;			/* sticky error, after the queue */
	bool		oom;
	const char *errmsg;
	char		errbuf[320];
	uint64_t	err_number;

	/* wanted fields */
	int			nfields;
	JsonNode   *nodes;
	int			nnodes;
	int			nodes_cap;
	int		   *field_next;
	uint64_t   *field_rec;		/* record that already set the field */

	/* rows_path */
	char	   *rows_path;
	char	  **rows_seg;
	size_t	   *rows_seglen;
	int			nrows_seg;

	/* where the parse is */
	size_t		depth;			/* open containers */
	size_t		nav_depth;		/* deepest open object on rows_path, or 0 */
	bool		nav_pending;	/* the last key continues rows_path */
	bool		in_rows;		/* inside the rows (always for JSON lines) */
	bool		rows_done;		/* the rows have ended, or there are none */
	size_t		rows_depth;		/* depth at which the records are values */
	bool		in_record;
	size_t		rec_depth;		/* depth of the record's object */
	uint64_t	nrecords;		/* records begun */

	/* matching */
	JsonFrame  *frames;
	int			nframes;
	int		   *act;
	int			nact;
	int		   *pend_fields;	/* fields the value after this key is for */
	int			npend_fields;
	int		   *pend_nodes;		/* nodes active inside that value */
	int			npend_nodes;

	/* serialization of wanted objects and arrays */
	JsonBuf		ser;
	unsigned char *ser_flags;
	size_t		ser_flags_cap;
	size_t		ser_level;		/* open containers in ser; 0: not writing */
	JsonCapture *caps;
	int			ncaps;
	int			caps_cap;

	/* records */
	JsonBuf		arena;
	size_t		rec_base;		/* arena offset of the current record */
	size_t		rec_bytes;		/* value bytes the current record stored */
	JsonEntry  *entries;
	size_t		nentries;
	size_t		entries_cap;
	size_t		rec_first;		/* first entry of the current record */
	JsonQueued *queue;
	size_t		qhead;
	size_t		qlen;
	size_t		qcap;

	/* output */
	ReaderField   *out;
	uint64_t	out_number;

	/* keys of the first record */
	bool		fk_active;
	bool		fk_obj_open;	/* inside the object value of top key fk_cur */
	int			fk_obj_keys;
	JsonBuf		fk_cur;
	JsonBuf		fk_names;		/* NUL-terminated names, one after another */
	int			fk_count;
	const char **fk_ptrs;
};

static const ReaderField json_null_field = {"", 0, true};


/* ---------------------------------------------------------------- */
/* Errors and buffers */

/* Put the reader into the sticky error state, concerning record "number". */
#ifdef __GNUC__
static void json_fail(JsonReader *r, uint64_t number, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
#endif

static void
json_fail(JsonReader *r, uint64_t number, const char *fmt,...)
{
	va_list		ap;

	if (r->failed)
		return;
	r->failed = true;
	r->err_number = number;
	va_start(ap, fmt);
	vsnprintf(r->errbuf, sizeof(r->errbuf), fmt, ap);
	va_end(ap);
	r->errmsg = r->errbuf;
}

static void
json_fail_oom(JsonReader *r)
{
	json_fail(r, r->nrecords, "out of memory");
	r->oom = true;
}

/*
 * Grow "arr", an array of *cap elements of size "elem", to hold at least
 * "need" (> *cap) elements, by doubling.  Returns the new array (*cap
 * updated), or NULL when out of memory (arr is then unchanged).
 */
static void *
json_grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	size_t		newcap = (*cap > 0) ? *cap : 16;
	void	   *n;

	while (newcap < need)
	{
		if (newcap > SIZE_MAX / 2 / elem)
			return NULL;
		newcap *= 2;
	}
	n = realloc(arr, newcap * elem);
	if (n != NULL)
		*cap = newcap;
	return n;
}

static inline bool
buf_reserve(JsonReader *r, JsonBuf *b, size_t add)
{
	char	   *n;

	if (add <= b->cap - b->len)
		return true;
	if (add > SIZE_MAX - b->len ||
		(n = json_grow(b->data, &b->cap, b->len + add, 1)) == NULL)
	{
		json_fail_oom(r);
		return false;
	}
	b->data = n;
	return true;
}

static inline bool
buf_add(JsonReader *r, JsonBuf *b, const void *p, size_t n)
{
	if (!buf_reserve(r, b, n))
		return false;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return true;
}

static inline bool
buf_addc(JsonReader *r, JsonBuf *b, char c)
{
	if (b->len == b->cap && !buf_reserve(r, b, 1))
		return false;
	b->data[b->len++] = c;
	return true;
}

/*
 * Context for a message: inside the rows, the record being read (or the
 * next one, between records); outside them, the last one.
 */
static uint64_t
json_context(const JsonReader *r, bool *in_rows)
{
	*in_rows = r->in_record || r->in_rows;
	return r->nrecords + ((r->in_rows && !r->in_record) ? 1 : 0);
}

/* The values of a record would exceed max_record bytes: fail. */
static bool
json_fail_values(JsonReader *r)
{
	json_fail(r, r->nrecords,
			  "record %llu exceeds %zu bytes of extracted values",
			  (unsigned long long) r->nrecords, r->max_record);
	return false;
}

/* Room for "add" more value bytes in the current record? */
static inline bool
json_values_fit(JsonReader *r, size_t add)
{
	size_t		used = r->rec_bytes + r->ser.len;

	if (add > r->max_record - used)
		return json_fail_values(r);
	return true;
}

/*
 * Fail if stream offset "pos" (where a token ended, or the parse reached) is
 * more than max_record bytes after the end of the last token.
 */
static bool
json_check_gap(JsonReader *r, uint64_t pos)
{
	bool		rows;
	uint64_t	n;

	if (pos - r->last_end > (uint64_t) r->max_record)
	{
		n = json_context(r, &rows);
		if (rows)
			json_fail(r, n, "JSON token in record %llu exceeds %zu bytes",
					  (unsigned long long) n, r->max_record);
		else
			json_fail(r, n, "JSON token exceeds %zu bytes", r->max_record);
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- */
/* Key matching */

/* c as the name rule sees it; 0 when the rule drops it */
static inline unsigned char
json_norm(unsigned char c)
{
	if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return c;
	if (c >= 'A' && c <= 'Z')
		return (unsigned char) (c + ('a' - 'A'));
	return 0;
}

/* Does key (len bytes) equal the normalized segment seg (seglen bytes)? */
static inline bool
json_loose_equal(const unsigned char *key, size_t len, const char *seg,
				 size_t seglen)
{
	size_t		i;
	size_t		j = 0;

	for (i = 0; i < len; i++)
	{
		unsigned char c = json_norm(key[i]);

		if (c == 0)
			continue;
		if (j == seglen || c != (unsigned char) seg[j])
			return false;
		j++;
	}
	return j == seglen;
}

/* Match a key of the object at the top frame against the active nodes. */
static void
json_match_key(JsonReader *r, const unsigned char *key, size_t len)
{
	const JsonFrame *fr = &r->frames[r->nframes - 1];
	uint64_t	rec = r->nrecords;
	int			i;

	for (i = fr->act_start; i < fr->act_start + fr->act_count; i++)
	{
		int			c;

		for (c = r->nodes[r->act[i]].child; c >= 0; c = r->nodes[c].sibling)
		{
			const JsonNode *nd = &r->nodes[c];
			int			f;

			if (nd->loose ? !json_loose_equal(key, len, nd->seg, nd->seglen) :
				(nd->seglen != len ||
				 (len > 0 && memcmp(key, nd->seg, len) != 0)))
				continue;
			for (f = nd->field; f >= 0; f = r->field_next[f])
			{
				if (r->field_rec[f] != rec)
				{
					r->field_rec[f] = rec;
					r->pend_fields[r->npend_fields++] = f;
				}
			}
			if (nd->child >= 0)
				r->pend_nodes[r->npend_nodes++] = c;
		}
	}
}

/* ---------------------------------------------------------------- */
/* Writing wanted objects and arrays as JSON text */

/* The separator before a key, or before a value (keys come with theirs). */
static inline bool
ser_sep(JsonReader *r, bool is_key)
{
	unsigned char *fl = &r->ser_flags[r->ser_level - 1];

	if ((*fl & SER_MAP) && !is_key)
		return true;
	if (*fl & SER_HAS)
	{
		if (!json_values_fit(r, 1) || !buf_addc(r, &r->ser, ','))
			return false;
	}
	*fl |= SER_HAS;
	return true;
}

static inline bool
ser_add(JsonReader *r, const char *p, size_t n)
{
	return json_values_fit(r, n) && buf_add(r, &r->ser, p, n);
}

/* Append s as a JSON string literal. */
static bool
ser_string(JsonReader *r, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i = 0;

	if (!ser_add(r, "\"", 1))
		return false;
	while (i < len)
	{
		size_t		run = i;
		char		esc[8];
		size_t		elen = 2;
		unsigned char c;

		while (run < len && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i && !ser_add(r, (const char *) s + i, run - i))
			return false;
		if (run == len)
			break;
		c = s[run];
		esc[0] = '\\';
		switch (c)
		{
			case '"':
				esc[1] = '"';
				break;
			case '\\':
				esc[1] = '\\';
				break;
			case '\b':
				esc[1] = 'b';
				break;
			case '\f':
				esc[1] = 'f';
				break;
			case '\n':
				esc[1] = 'n';
				break;
			case '\r':
				esc[1] = 'r';
				break;
			case '\t':
				esc[1] = 't';
				break;
			default:
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				elen = 6;
				break;
		}
		if (!ser_add(r, esc, elen))
			return false;
		i = run + 1;
	}
	return ser_add(r, "\"", 1);
}

/* Append a scalar value. */
static bool
ser_scalar(JsonReader *r, JsonKind kind, const char *s, size_t len)
{
	if (!ser_sep(r, false))
		return false;
	if (kind == JV_STRING)
		return ser_string(r, (const unsigned char *) s, len);
	return ser_add(r, s, len);
}

/* Open a container in ser; captures for pending fields start with it. */
static bool
ser_open(JsonReader *r, bool is_map, int npend)
{
	int			i;

	if (r->ser_level > 0 && !ser_sep(r, false))
		return false;
	for (i = 0; i < npend; i++)
	{
		JsonCapture *cp;

		if (r->ncaps == r->caps_cap)
		{
			size_t		cap = (size_t) r->caps_cap;
			JsonCapture *n = NULL;

			if (cap < INT_MAX / 2)
				n = json_grow(r->caps, &cap, cap + 1, sizeof(JsonCapture));
			if (n == NULL)
			{
				json_fail_oom(r);
				return false;
			}
			r->caps = n;
			r->caps_cap = (int) cap;
		}
		cp = &r->caps[r->ncaps++];
		cp->field = r->pend_fields[i];
		cp->level = r->ser_level + 1;
		cp->start = r->ser.len;
		cp->end = 0;
	}
	if (r->ser_level == r->ser_flags_cap)
	{
		unsigned char *n = json_grow(r->ser_flags, &r->ser_flags_cap,
									 r->ser_level + 1, 1);

		if (n == NULL)
		{
			json_fail_oom(r);
			return false;
		}
		r->ser_flags = n;
	}
	r->ser_flags[r->ser_level++] = is_map ? SER_MAP : 0;
	return ser_add(r, is_map ? "{" : "[", 1);
}

static bool
json_add_entry(JsonReader *r, int field, bool is_null, size_t off, size_t len)
{
	JsonEntry  *e;

	if (r->nentries == r->entries_cap)
	{
		JsonEntry  *n = json_grow(r->entries, &r->entries_cap,
								  r->nentries + 1, sizeof(JsonEntry));

		if (n == NULL)
		{
			json_fail_oom(r);
			return false;
		}
		r->entries = n;
	}
	e = &r->entries[r->nentries++];
	e->field = field;
	e->is_null = is_null;
	e->off = off;
	e->len = len;
	return true;
}

/*
 * Store value bytes for the current record: NUL-terminated in the arena.
 * *off is set relative to the record's base.
 */
static bool
json_store(JsonReader *r, const char *s, size_t len, size_t *off)
{
	if (!json_values_fit(r, len) || !buf_reserve(r, &r->arena, len + 1))
		return false;
	*off = r->arena.len - r->rec_base;
	if (len > 0)
		memcpy(r->arena.data + r->arena.len, s, len);
	r->arena.data[r->arena.len + len] = '\0';
	r->arena.len += len + 1;
	r->rec_bytes += len;
	return true;
}

/* Close the container at the top of ser; at the outermost, store all. */
static bool
ser_close(JsonReader *r, bool is_map)
{
	int			i;
	size_t		prev_start = SIZE_MAX;
	size_t		prev_end = 0;
	size_t		prev_off = 0;

	if (!ser_add(r, is_map ? "}" : "]", 1))
		return false;
	for (i = 0; i < r->ncaps; i++)
		if (r->caps[i].level == r->ser_level && r->caps[i].end == 0)
			r->caps[i].end = r->ser.len;
	if (--r->ser_level > 0)
		return true;

	/* the outermost wanted container is complete: keep the captures */
	for (i = 0; i < r->ncaps; i++)
	{
		JsonCapture *cp = &r->caps[i];
		size_t		len = cp->end - cp->start;

		if (cp->start != prev_start || cp->end != prev_end)
		{
			if (len > r->max_record - r->rec_bytes)
				return json_fail_values(r);
			r->rec_bytes += len;
			if (!buf_reserve(r, &r->arena, len + 1))
				return false;
			prev_off = r->arena.len - r->rec_base;
			memcpy(r->arena.data + r->arena.len, r->ser.data + cp->start, len);
			r->arena.data[r->arena.len + len] = '\0';
			r->arena.len += len + 1;
			prev_start = cp->start;
			prev_end = cp->end;
		}
		if (!json_add_entry(r, cp->field, false, prev_off, len))
			return false;
	}
	r->ncaps = 0;
	r->ser.len = 0;
	return true;
}

/* ---------------------------------------------------------------- */
/* Keys of the first record */

static void
fk_add_name(JsonReader *r, const char *a, size_t alen, const char *b,
			size_t blen)
{
	const char *p = r->fk_names.data;
	const char *nul;
	int			i;

	if (r->fk_count >= JSON_MAX_FIRST_KEYS)
		return;
	if (a == NULL)
		a = "";					/* an empty key that never allocated */
	/* a name ends at a NUL byte (from \u0000 in the key) */
	if ((nul = memchr(a, '\0', alen)) != NULL)
		alen = (size_t) (nul - a);
	if (b != NULL && (nul = memchr(b, '\0', blen)) != NULL)
		blen = (size_t) (nul - b);
	/* skip duplicates (names end at their first NUL) */
	for (i = 0; i < r->fk_count; i++)
	{
		size_t		plen = strlen(p);

		if (plen == alen + (b ? blen + 1 : 0) &&
			memcmp(p, a, alen) == 0 &&
			(b == NULL || (p[alen] == '.' && memcmp(p + alen + 1, b, blen) == 0)))
			return;
		p += plen + 1;
	}
	if (!buf_add(r, &r->fk_names, a, alen) ||
		(b != NULL && (!buf_addc(r, &r->fk_names, '.') ||
					   !buf_add(r, &r->fk_names, b, blen))) ||
		!buf_addc(r, &r->fk_names, '\0'))
		return;
	r->fk_count++;
}

/* ---------------------------------------------------------------- */
/* Records */

static bool
json_begin_record(JsonReader *r)
{
	r->in_record = true;
	r->rec_depth = r->depth + 1;
	r->rec_base = r->arena.len;
	r->rec_bytes = 0;
	r->rec_first = r->nentries;
	r->npend_fields = 0;
	r->npend_nodes = 0;
	if (r->nrecords == 1)
	{
		r->fk_active = true;
		r->fk_obj_open = false;
	}
	if (r->nodes[0].child >= 0)
	{
		JsonFrame  *fr = &r->frames[r->nframes++];

		fr->depth = r->rec_depth;
		fr->act_start = r->nact;
		fr->act_count = 1;
		r->act[r->nact++] = 0;
	}
	return true;
}

static bool
json_end_record(JsonReader *r)
{
	JsonQueued *q;

	r->in_record = false;
	r->fk_active = false;
	if (r->qlen == r->qcap)
	{
		JsonQueued *n = json_grow(r->queue, &r->qcap, r->qlen + 1,
								  sizeof(JsonQueued));

		if (n == NULL)
		{
			json_fail_oom(r);
			return false;
		}
		r->queue = n;
	}
	q = &r->queue[r->qlen++];
	q->number = r->nrecords;
	q->base = r->rec_base;
	q->first = r->rec_first;
	q->count = r->nentries - r->rec_first;
	return true;
}

/* A value inside a record: keep it if wanted, write it if inside one. */
static bool
json_record_value(JsonReader *r, JsonKind kind, const char *s, size_t len)
{
	int			npf = r->npend_fields;
	int			npn = r->npend_nodes;
	int			i;

	r->npend_fields = 0;
	r->npend_nodes = 0;

	if (r->fk_active && r->depth == r->rec_depth)
	{
		if (kind == JV_MAP)
		{
			r->fk_obj_open = true;
			r->fk_obj_keys = 0;
		}
		else
			fk_add_name(r, r->fk_cur.data, r->fk_cur.len, NULL, 0);
		if (r->failed)
			return false;
	}

	if (kind == JV_MAP || kind == JV_ARRAY)
	{
		if ((npf > 0 || r->ser_level > 0) &&
			!ser_open(r, kind == JV_MAP, npf))
			return false;
		if (kind == JV_MAP && npn > 0)
		{
			JsonFrame  *fr = &r->frames[r->nframes++];

			fr->depth = r->depth + 1;
			fr->act_start = r->nact;
			fr->act_count = npn;
			memcpy(r->act + r->nact, r->pend_nodes, npn * sizeof(int));
			r->nact += npn;
		}
		return true;
	}

	if (r->ser_level > 0 && !ser_scalar(r, kind, s, len))
		return false;
	if (npf > 0)
	{
		size_t		off = 0;

		if (kind != JV_NULL && !json_store(r, s, len, &off))
			return false;
		for (i = 0; i < npf; i++)
			if (!json_add_entry(r, r->pend_fields[i], kind == JV_NULL, off,
								kind == JV_NULL ? 0 : len))
				return false;
	}
	return true;
}

/* A value outside records: the rows, or the way to them. */
static bool
json_outer_value(JsonReader *r, JsonKind kind)
{
	size_t		d = r->depth;

	if (r->in_rows)
	{
		/* d == rows_depth: a record */
		r->nrecords++;
		if (kind != JV_MAP)
		{
			json_fail(r, r->nrecords, "record %llu is not a JSON object",
					  (unsigned long long) r->nrecords);
			return false;
		}
		return json_begin_record(r);
	}
	if (r->rows_done)
		return true;

	if (r->nrows_seg == 0)
	{
		/* the document is the array; d == 0 */
		if (kind != JV_ARRAY)
		{
			json_fail(r, 0, "the JSON document is not an array");
			return false;
		}
		r->in_rows = true;
		r->rows_depth = 1;
		return true;
	}

	if (d == 0)
	{
		if (kind == JV_MAP)
			r->nav_depth = 1;
		else
			r->rows_done = true;
		return true;
	}
	if (d != r->nav_depth || !r->nav_pending)
		return true;
	r->nav_pending = false;
	if (r->nav_depth < (size_t) r->nrows_seg)
	{
		if (kind == JV_MAP)
			r->nav_depth = d + 1;
		return true;
	}
	if (kind == JV_ARRAY)
	{
		r->in_rows = true;
		r->rows_depth = d + 1;
	}
	else if (kind == JV_NULL)
		r->rows_done = true;
	else
	{
		json_fail(r, 0, "\"%s\" is not a JSON array", r->rows_path);
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- */
/* yajl callbacks */

/* A token ended: check and remember where. */
static inline bool
json_event(JsonReader *r)
{
	uint64_t	pos = r->slice_base + yajl_get_bytes_consumed(r->yh);

	if (r->max_record != SIZE_MAX && !json_check_gap(r, pos))
		return false;
	r->last_end = pos;
	return true;
}

static int
json_value(JsonReader *r, JsonKind kind, const char *s, size_t len)
{
	bool		ok;

	if (!json_event(r))
		return 0;
	if (kind == JV_MAP || kind == JV_ARRAY)
	{
		if (r->depth >= JSON_MAX_DEPTH)
		{
			bool		rows;
			uint64_t	n = json_context(r, &rows);

			if (rows)
				json_fail(r, n, "JSON nesting in record %llu exceeds %d levels",
						  (unsigned long long) n, JSON_MAX_DEPTH);
			else
				json_fail(r, n, "JSON nesting exceeds %d levels",
						  JSON_MAX_DEPTH);
			return 0;
		}
	}
	if (r->in_record)
		ok = json_record_value(r, kind, s, len);
	else if (r->in_rows ? r->depth == r->rows_depth : !r->rows_done)
		ok = json_outer_value(r, kind);
	else
		ok = true;
	if (kind == JV_MAP || kind == JV_ARRAY)
		r->depth++;
	return ok ? 1 : 0;
}

static int
cb_null(void *ctx)
{
	return json_value((JsonReader *) ctx, JV_NULL, "null", 4);
}

static int
cb_boolean(void *ctx, int b)
{
	return json_value((JsonReader *) ctx, JV_BOOL, b ? "true" : "false",
					  b ? 4 : 5);
}

static int
cb_number(void *ctx, const char *s, size_t len)
{
	return json_value((JsonReader *) ctx, JV_NUMBER, s, len);
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	return json_value((JsonReader *) ctx, JV_STRING, (const char *) s, len);
}

static int
cb_start_map(void *ctx)
{
	return json_value((JsonReader *) ctx, JV_MAP, NULL, 0);
}

static int
cb_start_array(void *ctx)
{
	return json_value((JsonReader *) ctx, JV_ARRAY, NULL, 0);
}

static int
cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
	JsonReader *r = (JsonReader *) ctx;
	size_t		d = r->depth;

	if (!json_event(r))
		return 0;
	if (r->in_record)
	{
		if (r->ser_level > 0 &&
			(!ser_sep(r, true) || !ser_string(r, key, len) ||
			 !ser_add(r, ":", 1)))
			return 0;
		if (r->nframes > 0 && r->frames[r->nframes - 1].depth == d)
			json_match_key(r, key, len);
		if (r->fk_active)
		{
			if (d == r->rec_depth)
			{
				r->fk_cur.len = 0;
				if (!buf_add(r, &r->fk_cur, key, len))
					return 0;
			}
			else if (d == r->rec_depth + 1 && r->fk_obj_open)
			{
				fk_add_name(r, r->fk_cur.data, r->fk_cur.len,
							(const char *) key, len);
				r->fk_obj_keys++;
			}
		}
	}
	else if (d == r->nav_depth && !r->in_rows && !r->rows_done)
	{
		const char *seg = r->rows_seg[d - 1];
		size_t		seglen = r->rows_seglen[d - 1];

		r->nav_pending = (len == seglen && memcmp(key, seg, len) == 0);
	}
	return r->failed ? 0 : 1;
}

static int
json_end(JsonReader *r, bool is_map)
{
	size_t		d = r->depth;

	if (!json_event(r))
		return 0;
	r->depth--;
	if (r->in_record)
	{
		if (r->ser_level > 0 && !ser_close(r, is_map))
			return 0;
		if (r->nframes > 0 && r->frames[r->nframes - 1].depth == d)
			r->nact -= r->frames[--r->nframes].act_count;
		if (r->fk_active && r->fk_obj_open && d == r->rec_depth + 1)
		{
			if (r->fk_obj_keys == 0)
				fk_add_name(r, r->fk_cur.data, r->fk_cur.len, NULL, 0);
			r->fk_obj_open = false;
		}
		if (d == r->rec_depth && !json_end_record(r))
			return 0;
	}
	else if (r->in_rows)
	{
		/* only the rows array can end here: JSON lines have no container */
		r->in_rows = false;
		r->rows_done = true;
	}
	else if (d == r->nav_depth)
		r->nav_depth--;
	return r->failed ? 0 : 1;
}

static int
cb_end_map(void *ctx)
{
	return json_end((JsonReader *) ctx, true);
}

static int
cb_end_array(void *ctx)
{
	return json_end((JsonReader *) ctx, false);
}

static const yajl_callbacks json_callbacks = {
	cb_null,
	cb_boolean,
	NULL,						/* integers and doubles come as numbers */
	NULL,
	cb_number,
	cb_string,
	cb_start_map,
	cb_map_key,
	cb_end_map,
	cb_start_array,
	cb_end_array
};

/* ---------------------------------------------------------------- */
/* Creation */

/* Add the trie path for wanted field "field"; false when out of memory. */
static bool
json_add_path(JsonReader *r, int field, const char *path, bool loose)
{
	int			cur = 0;
	const char *p = path;

	for (;;)
	{
		const char *dot = strchr(p, '.');
		size_t		len = dot ? (size_t) (dot - p) : strlen(p);
		char	   *seg = malloc(len + 1);
		size_t		i;
		int			c;

		if (seg == NULL)
			return false;
		if (loose)
		{
			size_t		k = 0;

			for (i = 0; i < len; i++)
				if (json_norm((unsigned char) p[i]) != 0)
					seg[k++] = (char) json_norm((unsigned char) p[i]);
			len = k;
		}
		else
			memcpy(seg, p, len);
		seg[len] = '\0';

		for (c = r->nodes[cur].child; c >= 0; c = r->nodes[c].sibling)
			if (r->nodes[c].loose == loose && r->nodes[c].seglen == len &&
				memcmp(r->nodes[c].seg, seg, len) == 0)
				break;
		if (c >= 0)
			free(seg);
		else
		{
			size_t		cap = (size_t) r->nodes_cap;
			JsonNode   *nd = NULL;

			if (r->nnodes == r->nodes_cap)
			{
				if (cap < INT_MAX / 2)
					nd = json_grow(r->nodes, &cap, cap + 1, sizeof(JsonNode));
				if (nd == NULL)
				{
					free(seg);
					return false;
				}
				r->nodes = nd;
				r->nodes_cap = (int) cap;
			}
			c = r->nnodes++;
			nd = &r->nodes[c];
			nd->seg = seg;
			nd->seglen = len;
			nd->loose = loose;
			nd->child = -1;
			nd->field = -1;
			nd->sibling = r->nodes[cur].child;
			r->nodes[cur].child = c;
		}
		cur = c;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	r->field_next[field] = r->nodes[cur].field;
	r->nodes[cur].field = field;
	return true;
}

/* Split rows_path into its segments. */
static bool
json_set_rows_path(JsonReader *r, const char *rows_path)
{
	const char *p;
	int			n = 1;
	int			i;
	size_t		len = strlen(rows_path);

	r->rows_path = malloc(len + 1);
	if (r->rows_path == NULL)
		return false;
	memcpy(r->rows_path, rows_path, len + 1);
	for (p = rows_path; *p; p++)
		if (*p == '.')
			n++;
	r->rows_seg = calloc((size_t) n, sizeof(char *));
	r->rows_seglen = calloc((size_t) n, sizeof(size_t));
	if (r->rows_seg == NULL || r->rows_seglen == NULL)
		return false;
	p = r->rows_path;
	for (i = 0; i < n; i++)
	{
		const char *dot = strchr(p, '.');

		r->rows_seg[i] = (char *) p;
		r->rows_seglen[i] = dot ? (size_t) (dot - p) : strlen(p);
		p = dot ? dot + 1 : p + strlen(p);
	}
	r->nrows_seg = n;
	return true;
}

JsonReader *
json_reader_create(JsonFormat format, const char *rows_path,
				   const JsonWantedPath *wanted, int nwanted,
				   size_t max_record)
{
	JsonReader *r;
	int			i;
	bool		has_path = rows_path != NULL && rows_path[0] != '\0';

	if (nwanted < 0 || (nwanted > 0 && wanted == NULL) ||
		(format != JSON_FORMAT_LINES && format != JSON_FORMAT_ARRAY) ||
		(format == JSON_FORMAT_LINES && has_path))
		return NULL;
	for (i = 0; i < nwanted; i++)
		if (wanted[i].path == NULL)
			return NULL;

	r = calloc(1, sizeof(JsonReader));
	if (r == NULL)
		return NULL;
	r->format = format;
	r->max_record = (max_record == 0) ? SIZE_MAX : max_record;
	r->bom_pending = true;
	r->errmsg = "no error";
	r->nfields = nwanted;

	r->in = malloc(JSON_INITIAL_BUFFER);
	r->in_cap = JSON_INITIAL_BUFFER;
	r->nodes = calloc(1, sizeof(JsonNode));
	r->nodes_cap = 1;
	r->nnodes = 1;
	r->field_next = malloc(((size_t) nwanted + 1) * sizeof(int));
	r->field_rec = calloc((size_t) nwanted + 1, sizeof(uint64_t));
	r->pend_fields = malloc(((size_t) nwanted + 1) * sizeof(int));
	r->out = malloc(((size_t) nwanted + 1) * sizeof(ReaderField));
	if (r->in == NULL || r->nodes == NULL || r->field_next == NULL ||
		r->field_rec == NULL || r->pend_fields == NULL || r->out == NULL)
		goto fail;
	r->nodes[0].child = -1;
	r->nodes[0].sibling = -1;
	r->nodes[0].field = -1;
	for (i = 0; i < nwanted; i++)
		if (!json_add_path(r, i, wanted[i].path, wanted[i].loose))
			goto fail;

	/* a node is active in at most one frame, at the depth of its own */
	r->act = malloc((size_t) r->nnodes * sizeof(int));
	r->pend_nodes = malloc((size_t) r->nnodes * sizeof(int));
	r->frames = malloc(((size_t) r->nnodes + 1) * sizeof(JsonFrame));
	if (r->act == NULL || r->pend_nodes == NULL || r->frames == NULL)
		goto fail;

	if (has_path && !json_set_rows_path(r, rows_path))
		goto fail;
	if (format == JSON_FORMAT_LINES)
	{
		r->in_rows = true;
		r->rows_depth = 0;
	}

	r->yh = yajl_alloc(&json_callbacks, NULL, r);
	if (r->yh == NULL)
		goto fail;
	if (format == JSON_FORMAT_LINES)
		yajl_config(r->yh, yajl_allow_multiple_values, 1);
	return r;

fail:
	json_reader_free(r);
	return NULL;
}

void
json_reader_free(JsonReader *r)
{
	int			i;

	if (r == NULL)
		return;
	if (r->yh != NULL)
		yajl_free(r->yh);
	free(r->in);
	if (r->nodes != NULL)
		for (i = 0; i < r->nnodes; i++)
			free(r->nodes[i].seg);
	free(r->nodes);
	free(r->field_next);
	free(r->field_rec);
	free(r->rows_path);
	free(r->rows_seg);
	free(r->rows_seglen);
	free(r->frames);
	free(r->act);
	free(r->pend_fields);
	free(r->pend_nodes);
	free(r->ser.data);
	free(r->ser_flags);
	free(r->caps);
	free(r->arena.data);
	free(r->entries);
	free(r->queue);
	free(r->out);
	free(r->fk_cur.data);
	free(r->fk_names.data);
	free(r->fk_ptrs);
	free(r);
}

/* ---------------------------------------------------------------- */
/* Feeding and parsing */

bool
json_reader_feed(JsonReader *r, const char *data, size_t len)
{
	size_t		used;

	if (r->failed)
		return !r->oom;
	if (r->finished)
	{
		json_fail(r, r->nrecords, "data fed after the end of input");
		return true;
	}
	if (len == 0)
		return true;

	/* Everything parsed: start over at the front, for free. */
	if (r->in_pos == r->in_len)
	{
		r->in_base += r->in_len;
		r->in_pos = r->in_len = 0;
	}
	used = r->in_len - r->in_pos;
	if (len > r->in_cap - r->in_len)
	{
		if (len > SIZE_MAX - used)
		{
			json_fail_oom(r);
			return false;
		}
		if (used + len <= r->in_cap / 2)
			memmove(r->in, r->in + r->in_pos, used);
		else
		{
			size_t		newcap = (r->in_cap > SIZE_MAX / 2) ? SIZE_MAX : r->in_cap * 2;
			char	   *n;

			if (newcap < used + len)
				newcap = used + len;
			n = malloc(newcap);
			if (n == NULL)
			{
				json_fail_oom(r);
				return false;
			}
			memcpy(n, r->in + r->in_pos, used);
			free(r->in);
			r->in = n;
			r->in_cap = newcap;
		}
		r->in_base += r->in_pos;
		r->in_len = used;
		r->in_pos = 0;
	}
	memcpy(r->in + r->in_len, data, len);
	r->in_len += len;
	return true;
}

void
json_reader_finish(JsonReader *r)
{
	r->finished = true;
}

/* Turn a yajl status into the reader's error state. */
static void
json_status(JsonReader *r, yajl_status st)
{
	unsigned char *msg;
	size_t		mlen;
	bool		rows;
	uint64_t	n;

	if (st == yajl_status_ok || r->failed)
		return;

	n = json_context(r, &rows);
	msg = yajl_get_error(r->yh, 0, NULL, 0);
	if (msg == NULL)
	{
		json_fail_oom(r);
		return;
	}
	mlen = strlen((char *) msg);
	while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
		msg[--mlen] = '\0';
	if (rows)
		json_fail(r, n, "malformed JSON in record %llu: %s",
				  (unsigned long long) n, (char *) msg);
	else if (n > 0)
		json_fail(r, n, "malformed JSON after record %llu: %s",
				  (unsigned long long) n, (char *) msg);
	else
		json_fail(r, n, "malformed JSON: %s", (char *) msg);
	yajl_free_error(r->yh, msg);
}

/*
 * Parse one more slice, or finish the document.  Returns false when there
 * is nothing to do until more bytes are fed.
 */
static bool
json_parse_some(JsonReader *r)
{
	size_t		avail = r->in_len - r->in_pos;
	static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

	if (r->bom_pending)
	{
		if (avail >= sizeof(bom) || r->finished)
		{
			if (avail >= sizeof(bom) &&
				memcmp(r->in + r->in_pos, bom, sizeof(bom)) == 0)
			{
				r->in_pos += sizeof(bom);
				avail -= sizeof(bom);
				r->last_end = r->in_base + r->in_pos;	/* not part of a token */
			}
			r->bom_pending = false;
		}
		else if (avail > 0 && memcmp(r->in + r->in_pos, bom, avail) != 0)
			r->bom_pending = false;
		else
			return false;
	}

	if (avail > 0)
	{
		const unsigned char *s = (const unsigned char *) r->in + r->in_pos;
		uint64_t	pending = r->in_base + r->in_pos - r->last_end;
		uint64_t	want = JSON_SLICE;
		size_t		n;
		yajl_status st;

		/*
		 * yajl re-reads a token it holds from earlier slices from its start
		 * whenever it is given more bytes.  After a long stretch without a
		 * token end, give it at least as many new bytes as that stretch, so
		 * that the re-reading of a long token costs linear time in total.
		 */
		if (pending > JSON_SLICE)
			want = pending;

		/*
		 * Never go past the byte at which, without a token end, the stretch
		 * becomes too long: the check after the slice then fails at that
		 * very byte, whatever the chunking, before yajl could have met (and
		 * reported at a less exact position) any error further on.  The
		 * check after the previous slice left pending <= max_record.
		 */
		if (r->max_record != SIZE_MAX &&
			want > (uint64_t) r->max_record + 1 - pending)
			want = (uint64_t) r->max_record + 1 - pending;

		if (avail < want && pending > JSON_SLICE && !r->finished)
			return false;
		n = (avail < want) ? avail : (size_t) want;

		if (!r->nonblank)
		{
			size_t		i;

			for (i = 0; i < n; i++)
			{
				unsigned char c = s[i];

				if (c != ' ' && c != '\n' && c != '\r' && c != '\t' &&
					c != '\v' && c != '\f')
				{
					r->nonblank = true;
					break;
				}
			}
		}
		r->slice_base = r->in_base + r->in_pos;
		st = yajl_parse(r->yh, s, n);
		r->in_pos += n;
		json_status(r, st);
		if (!r->failed && r->max_record != SIZE_MAX)
			json_check_gap(r, r->in_base + r->in_pos);
		return true;
	}

	if (!r->finished)
		return false;

	/* the end of the document */
	r->slice_base = r->in_base + r->in_len;
	if (r->format == JSON_FORMAT_LINES && !r->nonblank)
	{
		r->eof = true;
		return true;
	}
	json_status(r, yajl_complete_parse(r->yh));
	if (!r->failed)
		r->eof = true;
	return true;
}

/* Drop what the returned records used; keep a record still being read. */
static void
json_compact(JsonReader *r)
{
	if (r->in_record)
	{
		size_t		keep = r->arena.len - r->rec_base;
		size_t		nkeep = r->nentries - r->rec_first;

		if (r->rec_base > 0)
			memmove(r->arena.data, r->arena.data + r->rec_base, keep);
		if (r->rec_first > 0)
			memmove(r->entries, r->entries + r->rec_first,
					nkeep * sizeof(JsonEntry));
		r->arena.len = keep;
		r->rec_base = 0;
		r->nentries = nkeep;
		r->rec_first = 0;
	}
	else
	{
		r->arena.len = 0;
		r->nentries = 0;
	}
	r->qhead = r->qlen = 0;
}

ReaderStatus
json_reader_next(JsonReader *r, const ReaderField **fields, int *nfields)
{
	*fields = NULL;
	*nfields = 0;
	for (;;)
	{
		if (r->qhead < r->qlen)
		{
			const JsonQueued *q = &r->queue[r->qhead++];
			size_t		i;
			int			f;

			for (f = 0; f < r->nfields; f++)
				r->out[f] = json_null_field;
			for (i = 0; i < q->count; i++)
			{
				const JsonEntry *e = &r->entries[q->first + i];

				if (e->is_null)
					continue;
				r->out[e->field].value = r->arena.data + q->base + e->off;
				r->out[e->field].len = e->len;
				r->out[e->field].is_null = false;
			}
			r->out_number = q->number;
			*fields = r->out;
			*nfields = r->nfields;
			return READER_RECORD;
		}
		if (r->failed)
		{
			r->out_number = r->err_number;
			return READER_ERROR;
		}
		if (r->eof)
			return READER_EOF;
		json_compact(r);
		if (!json_parse_some(r))
			return READER_NEED_MORE;
	}
}

const char *
json_reader_error(const JsonReader *r)
{
	return r->errmsg;
}

uint64_t
json_reader_record_number(const JsonReader *r)
{
	return r->out_number;
}

void
json_reader_first_keys(JsonReader *r, const char *const **names, int *nnames)
{
	const char *p = r->fk_names.data;
	int			i;

	*names = NULL;
	*nnames = 0;
	free(r->fk_ptrs);
	r->fk_ptrs = malloc(((size_t) r->fk_count + 1) * sizeof(char *));
	if (r->fk_ptrs == NULL)
		return;
	for (i = 0; i < r->fk_count; i++)
	{
		r->fk_ptrs[i] = p;
		p += strlen(p) + 1;
	}
	*names = r->fk_ptrs;
	*nnames = r->fk_count;
}
