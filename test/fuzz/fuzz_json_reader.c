/*-------------------------------------------------------------------------
 *
 * fuzz_json_reader.c
 *		  Fuzz target for the incremental JSON row reader
 *
 * Input layout: byte 0 picks the format (bit 0: JSON lines or array), the
 * rows_path (bits 1-2) and the size limit (bits 3-5); byte 1 picks which of
 * eight wanted paths are asked for (one bit each); bytes 2-3 and 4-5 pick
 * two cut positions; the rest is the document.  The document is parsed
 *
 *	 - whole (one feed),
 *	 - in three pieces at the two cut positions,
 *	 - byte by byte (short documents), once reading records between feeds
 *	   and once only after the last feed,
 *
 * and every result, rendered as one byte string (record numbers, values,
 * NULLs, final status and error message), must be identical.  Each value
 * must be NUL-terminated, a NULL must be empty, every record must have one
 * value per wanted path, and EOF and errors must be sticky.
 *
 * When an array document parses without error (and has no \u0000, which
 * the tree below would truncate), the records are also computed from a
 * whole-document parse with yajl's tree API, written straight from the
 * rules: first match in document order, numbers as written, nested values
 * re-serialized compactly.  A difference is reported by abort().
 *
 * Build (from the project root); a tiny JSON_SLICE makes fuzz-sized inputs
 * cross the reader's internal slices too:
 *	 clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -DJSON_SLICE=5 \
 *		 test/fuzz/fuzz_json_reader.c src/json_reader.c -lyajl \
 *		 -o fuzz_json_reader
 *	 ./fuzz_json_reader test/fuzz/corpus/json -max_total_time=120
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_json_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "json_reader.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#define BYTEWISE_MAX	2048

typedef struct Out
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} Out;

typedef struct Cfg
{
	JsonFormat	format;
	const char *rows_path;
	JsonWantedPath wanted[8];
	int			nwanted;
	size_t		max_record;
} Cfg;

static void
out_add(Out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap)
	{
		size_t		cap = o->cap ? o->cap : 256;

		while (cap < o->len + n)
			cap *= 2;
		o->data = realloc(o->data, cap);
		if (o->data == NULL)
			abort();
		o->cap = cap;
	}
	if (n > 0)
		memcpy(o->data + o->len, p, n);
	o->len += n;
}

static void
out_u64(Out *o, uint64_t v)
{
	out_add(o, &v, sizeof(v));
}

static void
out_tag(Out *o, char tag)
{
	out_add(o, &tag, 1);
}

static void
out_field(Out *o, bool is_null, const char *v, size_t len)
{
	if (is_null)
		out_tag(o, 'N');
	else
	{
		out_tag(o, 'V');
		out_u64(o, len);
		out_add(o, v, len);
	}
}

/* How the last parse ended: true for EOF. */
static bool last_eof;

/* ---------------------------------------------------------------- */

/* Returns true once the reader has ended (EOF or error). */
static bool
drain(JsonReader *r, const Cfg *cfg, Out *o)
{
	const ReaderField *f;
	int			n;
	int			i;

	for (;;)
	{
		ReaderStatus	st = json_reader_next(r, &f, &n);

		switch (st)
		{
			case READER_RECORD:
				if (n != cfg->nwanted || f == NULL)
					abort();
				out_tag(o, 'R');
				out_u64(o, json_reader_record_number(r));
				for (i = 0; i < n; i++)
				{
					if (f[i].value == NULL || f[i].value[f[i].len] != '\0')
						abort();
					if (f[i].is_null && f[i].len != 0)
						abort();
					out_field(o, f[i].is_null, f[i].value, f[i].len);
				}
				break;
			case READER_NEED_MORE:
				return false;
			case READER_EOF:
				last_eof = true;
				out_tag(o, 'Z');
				if (json_reader_next(r, &f, &n) != READER_EOF)
					abort();
				return true;
			case READER_ERROR:
				last_eof = false;
				out_tag(o, 'E');
				out_u64(o, json_reader_record_number(r));
				out_add(o, json_reader_error(r), strlen(json_reader_error(r)));
				if (json_reader_next(r, &f, &n) != READER_ERROR)
					abort();
				return true;
			default:
				abort();
		}
	}
}

/* Feed doc in pieces ending at cuts[0..ncuts) (ascending), then the rest. */
static void
run_reader(const char *doc, size_t len, const size_t *cuts, size_t ncuts,
		   const Cfg *cfg, bool drain_between, Out *o)
{
	JsonReader *r = json_reader_create(cfg->format, cfg->rows_path,
									   cfg->wanted, cfg->nwanted,
									   cfg->max_record);
	const char *const *names;
	int			nnames;
	size_t		pos = 0;
	size_t		i;
	bool		ended = false;

	if (r == NULL)
		abort();
	for (i = 0; i <= ncuts && !ended; i++)
	{
		size_t		next = (i < ncuts) ? cuts[i] : len;

		if (!json_reader_feed(r, doc + pos, next - pos))
			abort();
		pos = next;
		if (drain_between)
			ended = drain(r, cfg, o);
	}
	if (!ended)
	{
		json_reader_finish(r);
		if (!drain(r, cfg, o))
			abort();			/* NEED_MORE after finish */
	}
	json_reader_first_keys(r, &names, &nnames);
	for (i = 0; i < (size_t) nnames; i++)
		if (names[i] == NULL)
			abort();
	json_reader_free(r);
}

/* ---------------------------------------------------------------- */
/* The reference, for array documents that parse */

static unsigned char
ref_norm(unsigned char c)
{
	if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return c;
	if (c >= 'A' && c <= 'Z')
		return (unsigned char) (c - 'A' + 'a');
	return '_';
}

static bool
ref_key_matches(const char *key, const char *seg, size_t slen, bool loose)
{
	size_t		i;

	if (strlen(key) != slen)
		return false;
	for (i = 0; i < slen; i++)
	{
		unsigned char a = (unsigned char) key[i];
		unsigned char b = (unsigned char) seg[i];

		if (loose ? ref_norm(a) != ref_norm(b) : a != b)
			return false;
	}
	return true;
}

/* The first value at path (document order) below v, or NULL. */
static yajl_val
ref_find(yajl_val v, const char *path, bool loose)
{
	const char *dot = strchr(path, '.');
	size_t		slen = dot ? (size_t) (dot - path) : strlen(path);
	size_t		i;

	if (!YAJL_IS_OBJECT(v))
		return NULL;
	for (i = 0; i < v->u.object.len; i++)
	{
		yajl_val	found;

		if (!ref_key_matches(v->u.object.keys[i], path, slen, loose))
			continue;
		if (dot == NULL)
			return v->u.object.values[i];
		found = ref_find(v->u.object.values[i], dot + 1, loose);
		if (found != NULL)
			return found;
	}
	return NULL;
}

/*
 * The value at rows_path: the first key that matches the last segment
 * under objects matching the others decides.  *decided tells whether one
 * did; the result is then that value.
 */
static yajl_val
ref_rows(yajl_val v, const char *path, bool *decided)
{
	const char *dot = strchr(path, '.');
	size_t		slen = dot ? (size_t) (dot - path) : strlen(path);
	size_t		i;

	if (!YAJL_IS_OBJECT(v))
		return NULL;
	for (i = 0; i < v->u.object.len; i++)
	{
		yajl_val	found;

		if (!ref_key_matches(v->u.object.keys[i], path, slen, false))
			continue;
		if (dot == NULL)
		{
			*decided = true;
			return v->u.object.values[i];
		}
		found = ref_rows(v->u.object.values[i], dot + 1, decided);
		if (*decided)
			return found;
	}
	return NULL;
}

static void
ref_string(Out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	out_add(o, "\"", 1);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;
		char		esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		if (c == '"')
			out_add(o, "\\\"", 2);
		else if (c == '\\')
			out_add(o, "\\\\", 2);
		else if (c == '\b')
			out_add(o, "\\b", 2);
		else if (c == '\f')
			out_add(o, "\\f", 2);
		else if (c == '\n')
			out_add(o, "\\n", 2);
		else if (c == '\r')
			out_add(o, "\\r", 2);
		else if (c == '\t')
			out_add(o, "\\t", 2);
		else if (c < 0x20)
			out_add(o, esc, 6);
		else
			out_add(o, &c, 1);
	}
	out_add(o, "\"", 1);
}

static void
ref_compact(Out *o, yajl_val v)
{
	size_t		i;

	if (YAJL_IS_NULL(v))
		out_add(o, "null", 4);
	else if (YAJL_IS_TRUE(v))
		out_add(o, "true", 4);
	else if (YAJL_IS_FALSE(v))
		out_add(o, "false", 5);
	else if (YAJL_IS_NUMBER(v))
		out_add(o, v->u.number.r, strlen(v->u.number.r));
	else if (YAJL_IS_STRING(v))
		ref_string(o, v->u.string);
	else if (YAJL_IS_OBJECT(v))
	{
		out_add(o, "{", 1);
		for (i = 0; i < v->u.object.len; i++)
		{
			if (i > 0)
				out_add(o, ",", 1);
			ref_string(o, v->u.object.keys[i]);
			out_add(o, ":", 1);
			ref_compact(o, v->u.object.values[i]);
		}
		out_add(o, "}", 1);
	}
	else
	{
		out_add(o, "[", 1);
		for (i = 0; i < v->u.array.len; i++)
		{
			if (i > 0)
				out_add(o, ",", 1);
			ref_compact(o, v->u.array.values[i]);
		}
		out_add(o, "]", 1);
	}
}

static void
run_reference(const char *doc, size_t len, const Cfg *cfg, Out *o)
{
	char	   *text = malloc(len + 1);
	char		err[256];
	yajl_val	root;
	yajl_val	rows;
	size_t		i;
	int			k;

	if (len >= 3 && memcmp(doc, "\xEF\xBB\xBF", 3) == 0)
	{
		doc += 3;
		len -= 3;
	}
	memcpy(text, doc, len);
	text[len] = '\0';
	root = yajl_tree_parse(text, err, sizeof(err));
	free(text);
	if (root == NULL)
		abort();				/* the reader said it parses */

	rows = root;
	if (cfg->rows_path != NULL)
	{
		bool		decided = false;

		rows = ref_rows(root, cfg->rows_path, &decided);
	}
	if (YAJL_IS_ARRAY(rows))
	{
		for (i = 0; i < rows->u.array.len; i++)
		{
			yajl_val	rec = rows->u.array.values[i];

			if (!YAJL_IS_OBJECT(rec))
				abort();		/* the reader said every record is one */
			out_tag(o, 'R');
			out_u64(o, (uint64_t) i + 1);
			for (k = 0; k < cfg->nwanted; k++)
			{
				yajl_val	v = ref_find(rec, cfg->wanted[k].path,
										 cfg->wanted[k].loose);
				Out			t = {0};

				if (v == NULL || YAJL_IS_NULL(v))
					out_field(o, true, NULL, 0);
				else if (YAJL_IS_STRING(v))
					out_field(o, false, v->u.string, strlen(v->u.string));
				else
				{
					ref_compact(&t, v);
					out_field(o, false, (const char *) t.data, t.len);
					free(t.data);
				}
			}
		}
	}
	else if (rows != NULL && !YAJL_IS_NULL(rows))
		abort();				/* the reader said the rows are an array */
	out_tag(o, 'Z');
	yajl_tree_free(root);
}

/* Does doc contain the escape \u0000 (which the tree would truncate at)? */
static bool
has_nul_escape(const char *doc, size_t len)
{
	size_t		i;

	for (i = 0; i + 6 <= len; i++)
		if (memcmp(doc + i, "\\u0000", 6) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------- */

static void
must_equal(const Out *a, const Out *b, const char *what)
{
	if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
	{
		fprintf(stderr, "fuzz_json_reader: %s differs from feeding whole\n",
				what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rows_paths[4] = {NULL, "data.rows", "rows", "a.b.c"};
	static const size_t limits[8] = {0, 1, 2, 5, 10, 16, 64, 1000};
	static const JsonWantedPath all_wanted[8] = {
		{"a", false}, {"b", true}, {"a.b", false}, {"A-b", true},
		{"data.rows", false}, {"x.y.z", true}, {"", false}, {"a", true}
	};
	Cfg			cfg;
	const char *doc;
	size_t		len;
	size_t		cuts[BYTEWISE_MAX];
	size_t		i;
	Out			whole = {0};
	Out			other = {0};

	if (size < 6)
		return 0;
	cfg.format = (data[0] & 1) ? JSON_FORMAT_ARRAY : JSON_FORMAT_LINES;
	cfg.rows_path = (cfg.format == JSON_FORMAT_ARRAY) ?
		rows_paths[(data[0] >> 1) & 3] : NULL;
	cfg.max_record = limits[(data[0] >> 3) & 7];
	cfg.nwanted = 0;
	for (i = 0; i < 8; i++)
		if (data[1] & (1 << i))
			cfg.wanted[cfg.nwanted++] = all_wanted[i];
	doc = (const char *) data + 6;
	len = size - 6;
	cuts[0] = ((size_t) data[2] << 8 | data[3]) % (len + 1);
	cuts[1] = ((size_t) data[4] << 8 | data[5]) % (len + 1);
	if (cuts[0] > cuts[1])
	{
		size_t		t = cuts[0];

		cuts[0] = cuts[1];
		cuts[1] = t;
	}

	run_reader(doc, len, NULL, 0, &cfg, true, &whole);

	if (cfg.format == JSON_FORMAT_ARRAY && last_eof && !has_nul_escape(doc, len))
	{
		run_reference(doc, len, &cfg, &other);
		must_equal(&whole, &other, "reference parser");
	}

	other.len = 0;
	run_reader(doc, len, cuts, 2, &cfg, true, &other);
	must_equal(&whole, &other, "three pieces");

	if (len <= BYTEWISE_MAX)
	{
		for (i = 1; i < len; i++)
			cuts[i - 1] = i;
		other.len = 0;
		run_reader(doc, len, cuts, len > 0 ? len - 1 : 0, &cfg, true, &other);
		must_equal(&whole, &other, "byte by byte");
		other.len = 0;
		run_reader(doc, len, cuts, len > 0 ? len - 1 : 0, &cfg, false, &other);
		must_equal(&whole, &other, "byte by byte, read at the end");
	}

	free(whole.data);
	free(other.data);
	return 0;
}
