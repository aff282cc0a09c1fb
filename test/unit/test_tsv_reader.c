/*-------------------------------------------------------------------------
 *
 * test_tsv_reader.c
 *		  Unit tests for the incremental COPY text format (TSV) reader
 *
 * Every parse is rendered as one string, as in test_csv_reader.c:
 * "L<line>{f1,f2,...}" per record, where a NULL field is \N and any other
 * field is '...' with \, ', TAB, CR, LF and NUL escaped, followed by "EOF"
 * or "ERR@<line>:<message>".  Comparing these strings checks records,
 * fields, NULLs, line numbers and errors at once, and makes it easy to check
 * that feeding a document in pieces, split at any position, gives exactly
 * what feeding it whole gives.
 *
 * IDENTIFICATION
 *		  test/unit/test_tsv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "tsv_reader.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Str
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Str;

static void
str_addn(Str *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap)
	{
		size_t		cap = s->cap ? s->cap : 256;

		while (cap < s->len + n + 1)
			cap *= 2;
		s->data = realloc(s->data, cap);
		if (s->data == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
		s->cap = cap;
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
	s->data[s->len] = '\0';
}

static void
str_adds(Str *s, const char *p)
{
	str_addn(s, p, strlen(p));
}

static void
str_addc(Str *s, char c)
{
	str_addn(s, &c, 1);
}

/* Append one field value, quoted and escaped as described above. */
static void
render_value(Str *s, const char *v, size_t len)
{
	size_t		i;

	str_addc(s, '\'');
	for (i = 0; i < len; i++)
	{
		switch (v[i])
		{
			case '\\':
				str_adds(s, "\\\\");
				break;
			case '\'':
				str_adds(s, "\\'");
				break;
			case '\t':
				str_adds(s, "\\t");
				break;
			case '\n':
				str_adds(s, "\\n");
				break;
			case '\r':
				str_adds(s, "\\r");
				break;
			case '\0':
				str_adds(s, "\\0");
				break;
			default:
				str_addc(s, v[i]);
		}
	}
	str_addc(s, '\'');
}

static void
render_record(Str *s, const TsvReader *r, const ReaderField *f, int n)
{
	char		tmp[64];
	int			i;

	snprintf(tmp, sizeof(tmp), "L%llu{",
			 (unsigned long long) tsv_reader_line(r));
	str_adds(s, tmp);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			str_addc(s, ',');
		if (f[i].value == NULL || f[i].value[f[i].len] != '\0')
			str_adds(s, "!NOT-NUL-TERMINATED!");
		else if (f[i].is_null)
		{
			str_adds(s, "\\N");
			if (f[i].len != 0)
				str_adds(s, "!NULL-WITH-LENGTH!");
		}
		else
			render_value(s, f[i].value, f[i].len);
	}
	str_addc(s, '}');
}

/*
 * Read records until the reader wants more input (false) or has ended with
 * EOF or an error (true).  An ended reader is asked again to check that the
 * ending is sticky.
 */
static bool
drain(TsvReader *r, Str *out)
{
	const ReaderField *f;
	int			n;
	char		tmp[64];

	for (;;)
	{
		ReaderStatus	st = tsv_reader_next(r, &f, &n);

		switch (st)
		{
			case READER_RECORD:
				render_record(out, r, f, n);
				break;
			case READER_NEED_MORE:
				return false;
			case READER_EOF:
				str_adds(out, "EOF");
				if (tsv_reader_next(r, &f, &n) != READER_EOF)
					str_adds(out, "!EOF-NOT-STICKY!");
				return true;
			case READER_ERROR:
				snprintf(tmp, sizeof(tmp), "ERR@%llu:",
						 (unsigned long long) tsv_reader_line(r));
				str_adds(out, tmp);
				str_adds(out, tsv_reader_error(r));
				if (tsv_reader_next(r, &f, &n) != READER_ERROR)
					str_adds(out, "!ERROR-NOT-STICKY!");
				return true;
		}
	}
}

/*
 * Parse doc fed as pieces cut at the ascending offsets cuts[0..ncuts).
 * With drain_between false, nothing is read until every piece was fed.
 * Returns a malloc'd rendering.
 */
static char *
parse_cuts(const char *doc, size_t len, const size_t *cuts, int ncuts,
		   size_t max_record, bool drain_between)
{
	TsvReader  *r = tsv_reader_create(max_record);
	Str			out = {0};
	size_t		pos = 0;
	int			i;
	bool		ended = false;

	if (r == NULL)
		return strdup("!CREATE-FAILED!");
	for (i = 0; i <= ncuts && !ended; i++)
	{
		size_t		next = (i < ncuts) ? cuts[i] : len;

		if (!tsv_reader_feed(r, doc + pos, next - pos))
			str_adds(&out, "!FEED-FAILED!");
		pos = next;
		if (drain_between)
			ended = drain(r, &out);
	}
	if (!ended)
	{
		tsv_reader_finish(r);
		if (!drain(r, &out))
			str_adds(&out, "!NEED-MORE-AFTER-FINISH!");
	}
	tsv_reader_free(r);
	if (out.data == NULL)
		str_adds(&out, "");
	return out.data;
}

static char *
parse_whole(const char *doc, size_t len, size_t max_record)
{
	return parse_cuts(doc, len, NULL, 0, max_record, true);
}

static char *
parse_bytewise(const char *doc, size_t len, size_t max_record,
			   bool drain_between)
{
	size_t	   *cuts = malloc((len + 1) * sizeof(size_t));
	size_t		i;
	char	   *res;

	for (i = 1; i < len; i++)
		cuts[i - 1] = i;
	res = parse_cuts(doc, len, cuts, len > 1 ? (int) (len - 1) : 0,
					 max_record, drain_between);
	free(cuts);
	return res;
}

/*
 * Check doc against the expected rendering fed whole, then check that every
 * two-piece split, every three-piece split (short documents), byte-by-byte
 * feeding with and without reading in between all give the same result.
 */
static void
check_doc_opts(const char *name, const char *doc, size_t len,
			   size_t max_record, const char *expected)
{
	char	   *whole = parse_whole(doc, len, max_record);
	char	   *res;
	size_t		i,
				j;
	size_t		cuts[2];
	long		bad_at = -1;
	long		bad_at2 = -1;

	UNIT_CHECK(strcmp(whole, expected) == 0,
			   "%s: whole\n  got:  %s\n  want: %s", name, whole, expected);

	for (i = 0; i <= len && bad_at < 0; i++)
	{
		cuts[0] = i;
		res = parse_cuts(doc, len, cuts, 1, max_record, true);
		if (strcmp(res, whole) != 0)
		{
			bad_at = (long) i;
			fprintf(stderr, "%s: split at %zu\n  got:  %s\n  whole: %s\n",
					name, i, res, whole);
		}
		free(res);
	}
	UNIT_CHECK(bad_at < 0, "%s: split at %ld differs", name, bad_at);

	if (len <= 80)
	{
		for (i = 0; i <= len && bad_at < 0; i++)
		{
			for (j = i; j <= len && bad_at2 < 0; j++)
			{
				cuts[0] = i;
				cuts[1] = j;
				res = parse_cuts(doc, len, cuts, 2, max_record, true);
				if (strcmp(res, whole) != 0)
				{
					bad_at = (long) i;
					bad_at2 = (long) j;
					fprintf(stderr, "%s: split at %zu,%zu\n  got:  %s\n  whole: %s\n",
							name, i, j, res, whole);
				}
				free(res);
			}
		}
		UNIT_CHECK(bad_at2 < 0, "%s: split at %ld,%ld differs", name,
				   bad_at, bad_at2);
	}

	res = parse_bytewise(doc, len, max_record, true);
	UNIT_CHECK(strcmp(res, whole) == 0,
			   "%s: byte by byte\n  got:  %s\n  whole: %s", name, res, whole);
	free(res);

	res = parse_bytewise(doc, len, max_record, false);
	UNIT_CHECK(strcmp(res, whole) == 0,
			   "%s: byte by byte, read at the end\n  got:  %s\n  whole: %s",
			   name, res, whole);
	free(res);

	free(whole);
}

static void
check_doc(const char *name, const char *doc, const char *expected)
{
	check_doc_opts(name, doc, strlen(doc), 0, expected);
}

/* ---------------------------------------------------------------- */

static void
test_simple(void)
{
	check_doc("simple", "a\tb\tc\n1\t2\t3\n",
			  "L1{'a','b','c'}L2{'1','2','3'}EOF");
	check_doc("single field", "x\ny\n", "L1{'x'}L2{'y'}EOF");
	check_doc("empty input", "", "EOF");
	check_doc("uneven field counts", "a\nb\tc\td\ne\tf\n",
			  "L1{'a'}L2{'b','c','d'}L3{'e','f'}EOF");
	check_doc("spaces, commas and quotes are data", " a ,\t\"b\"\n",
			  "L1{' a ,','\"b\"'}EOF");
	check_doc("utf-8 data", "Ren\xc3\xa9\x65\t\xe2\x82\xac\n",
			  "L1{'Ren\xc3\xa9\x65','\xe2\x82\xac'}EOF");
	check_doc_opts("NUL byte is data", "a\0b\tc\n", 6, 0,
				   "L1{'a\\0b','c'}EOF");
}

static void
test_null_vs_empty(void)
{
	TsvReader  *r = tsv_reader_create(0);
	const ReaderField *f;
	int			n;
	const char *doc = "\t\\N\ta\t\n";

	check_doc("NULL vs empty", doc, "L1{'',\\N,'a',''}EOF");
	check_doc("only TABs", "\t\t\n", "L1{'','',''}EOF");
	check_doc("only \\N", "\\N\n\\N\t\\N", "L1{\\N}L2{\\N,\\N}EOF");
	check_doc("\\N inside a longer field is N", "a\\N\t\\Nb\t\\N\\N\n",
			  "L1{'aN','Nb','NN'}EOF");
	check_doc("escaped backslash then N is text", "\\\\N\t\\\\\\N\n",
			  "L1{'\\\\N','\\\\N'}EOF");
	check_doc("\\N with CRLF", "\\N\r\n\\N\t\r\n", "L1{\\N}L2{\\N,''}EOF");
	check_doc("lower-case \\n is a newline", "\\n\n", "L1{'\\n'}EOF");

	tsv_reader_feed(r, doc, strlen(doc));
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_RECORD && n == 4,
			   "four fields");
	UNIT_CHECK(!f[0].is_null && f[0].len == 0 && f[0].value[0] == '\0',
			   "empty field is an empty string");
	UNIT_CHECK(f[1].is_null && f[1].len == 0 && f[1].value[0] == '\0',
			   "\\N is NULL with value \"\"");
	UNIT_CHECK(!f[2].is_null && f[2].len == 1 && strcmp(f[2].value, "a") == 0,
			   "plain value");
	UNIT_CHECK(!f[3].is_null && f[3].len == 0, "trailing empty is empty");
	tsv_reader_free(r);
}

static void
test_escapes(void)
{
	check_doc("control escapes", "\\b\\f\\n\\r\\t\\v\\\\\n",
			  "L1{'\b\f\\n\\r\\t\v\\\\'}EOF");
	check_doc("escapes among text", "a\\tb\tc\\nd\\re\n",
			  "L1{'a\\tb','c\\nd\\re'}EOF");
	check_doc("other escaped bytes stand for themselves",
			  "\\a\\q\\.\\'\\\"\\ \\N\\\xc3\xa9\n",
			  "L1{'aq.\\'\" N\xc3\xa9'}EOF");
	check_doc("escaped TAB is data", "a\\\tb\tc\n", "L1{'a\\tb','c'}EOF");
	check_doc("escaped TAB at field start", "\\\t\t\\\t\n",
			  "L1{'\\t','\\t'}EOF");
	check_doc("escaped CR is data", "a\\\rb\n", "L1{'a\\rb'}EOF");
	check_doc("octal, one to three digits", "\\101\t\\60\t\\7\t\\0\n",
			  "L1{'A','0','\a','\\0'}EOF");
	check_doc("octal stops after three digits", "\\1012\t\\0000\n",
			  "L1{'A2','\\00'}EOF");
	check_doc("octal stops at a non-octal digit", "\\18\t\\08\t\\8\n",
			  "L1{'\0018','\\08','8'}EOF");
	check_doc("octal above 255 wraps", "\\777\t\\400\n",
			  "L1{'\xff','\\0'}EOF");
	check_doc("hex, one or two digits", "\\x41\t\\x4\t\\xfF\t\\x0a\n",
			  "L1{'A','\x04','\xff','\\n'}EOF");
	check_doc("hex stops after two digits", "\\x414\t\\x4g\n",
			  "L1{'A4','\x04g'}EOF");
	check_doc("\\x without a hex digit is x", "\\xg\t\\x\t\\X41\n",
			  "L1{'xg','x','X41'}EOF");
	check_doc("escape at the end of a field", "a\\x\tb\\1\tc\\\\\n",
			  "L1{'ax','b\001','c\\\\'}EOF");
	check_doc("many escapes in one field",
			  "\\\\\\\\\\t\\\\x41\\x41\\1010\\\\\n",
			  "L1{'\\\\\\\\\\t\\\\x41AA0\\\\'}EOF");
	check_doc("escapes in several fields", "\\t\tplain\t\\n\t\\\\\tz\n",
			  "L1{'\\t','plain','\\n','\\\\','z'}EOF");
	check_doc("UTF-8 from octal and hex escapes", "\\303\\251\t\\xc3\\xa9\n",
			  "L1{'\xc3\xa9','\xc3\xa9'}EOF");
}

static void
test_trailing_backslash(void)
{
	check_doc("backslash ends a record", "ok\na\\\n",
			  "L1{'ok'}ERR@2:backslash at the end of a record");
	check_doc("backslash before CRLF", "a\\\r\n",
			  "ERR@1:backslash at the end of a record");
	check_doc("backslash at end of input", "a\tb\\",
			  "ERR@1:backslash at the end of a record");
	check_doc("lone backslash", "\\\n", "ERR@1:backslash at the end of a record");
	check_doc("odd run of backslashes", "\\\\\\\n",
			  "ERR@1:backslash at the end of a record");
	check_doc("even run of backslashes", "\\\\\\\\\n", "L1{'\\\\\\\\'}EOF");
	check_doc("backslash before a TAB at the end", "a\t\\\t\n",
			  "L1{'a','\\t'}EOF");
	check_doc("backslash then CR at end of input is an escaped CR", "a\\\r",
			  "L1{'a\\r'}EOF");
}

static void
test_terminators(void)
{
	check_doc("CRLF", "a\tb\r\nc\td\r\n", "L1{'a','b'}L2{'c','d'}EOF");
	check_doc("mixed LF and CRLF", "a\r\nb\nc\r\n",
			  "L1{'a'}L2{'b'}L3{'c'}EOF");
	check_doc("lone CR is data", "a\rb\tc\r\n", "L1{'a\\rb','c'}EOF");
	check_doc("CR before CRLF", "a\r\r\nb\n", "L1{'a\\r'}L2{'b'}EOF");
	check_doc("CR at end of input is data", "a\r", "L1{'a\\r'}EOF");
	check_doc("lone CR as the last line", "a\n\r", "L1{'a'}L2{'\\r'}EOF");
	check_doc("CR ending a field before TAB", "a\r\tb\n", "L1{'a\\r','b'}EOF");
	check_doc("trailing TAB before CRLF", "a\t\r\n", "L1{'a',''}EOF");
}

static void
test_bom(void)
{
	check_doc("BOM", "\xEF\xBB\xBF" "a\tb\n", "L1{'a','b'}EOF");
	check_doc("BOM only", "\xEF\xBB\xBF", "EOF");
	check_doc("BOM then blank line", "\xEF\xBB\xBF\nx\n", "L2{'x'}EOF");
	check_doc("BOM then \\N", "\xEF\xBB\xBF\\N\n", "L1{\\N}EOF");
	check_doc("two BOMs: the second is data", "\xEF\xBB\xBF\xEF\xBB\xBFx\n",
			  "L1{'\xEF\xBB\xBFx'}EOF");
	check_doc("BOM later is data", "a\n\xEF\xBB\xBF\n",
			  "L1{'a'}L2{'\xEF\xBB\xBF'}EOF");
	check_doc("partial BOM at EOF is data", "\xEF\xBB", "L1{'\xEF\xBB'}EOF");
	check_doc("BOM prefix then other", "\xEF\xBBx\n", "L1{'\xEF\xBBx'}EOF");
}

static void
test_blank_lines(void)
{
	check_doc("blank lines", "\n\na\n\r\n\nb\n\n", "L3{'a'}L6{'b'}EOF");
	check_doc("only blank lines", "\n\r\n\n", "EOF");
	check_doc("whitespace line is not blank", "a\n \n", "L1{'a'}L2{' '}EOF");
	check_doc("a TAB line is two empty fields", "\t\n", "L1{'',''}EOF");
}

static void
test_final_record(void)
{
	TsvReader  *r = tsv_reader_create(0);
	const ReaderField *f;
	int			n;
	ReaderStatus	st;

	check_doc("no trailing newline", "a\tb\nc\td", "L1{'a','b'}L2{'c','d'}EOF");

	tsv_reader_feed(r, "a\tb", 3);
	st = tsv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_NEED_MORE, "unterminated final record waits, got %d",
			   st);
	tsv_reader_finish(r);
	st = tsv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_RECORD && n == 2 && strcmp(f[1].value, "b") == 0,
			   "final record returned after finish");
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_EOF, "then EOF");
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_EOF, "EOF again");
	tsv_reader_free(r);
}

static void
test_error_sticky(void)
{
	TsvReader  *r = tsv_reader_create(0);
	const ReaderField *f;
	int			n;
	const char *msg;

	tsv_reader_feed(r, "ok\nbad\\\nmore\n", 13);
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_RECORD, "first record");
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_ERROR, "then error");
	msg = tsv_reader_error(r);
	UNIT_CHECK(strcmp(msg, "backslash at the end of a record") == 0,
			   "message: %s", msg);
	UNIT_CHECK(tsv_reader_line(r) == 2, "error line %llu",
			   (unsigned long long) tsv_reader_line(r));
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_ERROR && f == NULL && n == 0,
			   "still error");
	UNIT_CHECK(tsv_reader_feed(r, "x\n", 2), "feed after error is ignored");
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_ERROR, "still error");
	tsv_reader_finish(r);
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_ERROR, "still error");
	UNIT_CHECK(strcmp(tsv_reader_error(r),
					  "backslash at the end of a record") == 0,
			   "message unchanged");
	tsv_reader_free(r);

	r = tsv_reader_create(0);
	UNIT_CHECK(tsv_reader_line(r) == 0, "0 before any record");
	tsv_reader_feed(r, "a\n", 2);
	tsv_reader_finish(r);
	tsv_reader_feed(r, "b\n", 2);
	UNIT_CHECK(tsv_reader_next(r, &f, &n) == READER_ERROR,
			   "feeding after finish is an error");
	UNIT_CHECK(strcmp(tsv_reader_error(r),
					  "data fed after the end of input") == 0,
			   "message: %s", tsv_reader_error(r));
	tsv_reader_free(r);
}

static void
test_max_record(void)
{
	TsvReader  *r;
	const ReaderField *f;
	int			n;
	ReaderStatus	st;

	check_doc_opts("max_record: exact fits", "abcde\nab\tde\r\nabcde", 18, 5,
				   "L1{'abcde'}L2{'ab','de'}L3{'abcde'}EOF");
	check_doc_opts("max_record: one byte over", "abcde\nabcdef\n", 13, 5,
				   "L1{'abcde'}ERR@2:record exceeds 5 bytes");
	check_doc_opts("max_record: over at EOF", "abcdef", 6, 5,
				   "ERR@1:record exceeds 5 bytes");
	check_doc_opts("max_record: escapes count undecoded", "\\t\\t\\t\n", 7,
				   5, "ERR@1:record exceeds 5 bytes");
	check_doc_opts("max_record: escapes fit", "\\t\\tx\n", 6, 5,
				   "L1{'\\t\\tx'}EOF");
	check_doc_opts("max_record: blank lines do not count", "\n\n\nab\n", 6,
				   2, "L4{'ab'}EOF");
	check_doc_opts("max_record: CR of CRLF right at the limit",
				   "abcde\r\nx\n", 9, 5, "L1{'abcde'}L2{'x'}EOF");
	check_doc_opts("max_record: CR at the limit that is data",
				   "abcde\rx\n", 8, 5, "ERR@1:record exceeds 5 bytes");
	check_doc_opts("max_record: CR at the limit at EOF", "abcde\r", 6, 5,
				   "ERR@1:record exceeds 5 bytes");
	check_doc_opts("max_record: CR CR LF at the limit", "abcd\r\r\n", 7, 5,
				   "L1{'abcd\\r'}EOF");
	check_doc_opts("max_record: limit before a trailing backslash",
				   "abcdef\\\n", 8, 5, "ERR@1:record exceeds 5 bytes");
	check_doc_opts("max_record: 1", "a\nb\r\nab\n", 8, 1,
				   "L1{'a'}L2{'b'}ERR@3:record exceeds 1 bytes");

	/* An overlong record is refused before its end arrives. */
	r = tsv_reader_create(100);
	{
		char		chunk[64];
		int			i;

		memset(chunk, 'x', sizeof(chunk));
		st = READER_NEED_MORE;
		for (i = 0; i < 10 && st == READER_NEED_MORE; i++)
		{
			tsv_reader_feed(r, chunk, sizeof(chunk));
			st = tsv_reader_next(r, &f, &n);
		}
		UNIT_CHECK(st == READER_ERROR && i == 2,
				   "refused once 101 bytes are in (feed %d, status %d)", i, st);
		UNIT_CHECK(strcmp(tsv_reader_error(r), "record exceeds 100 bytes") == 0,
				   "message: %s", tsv_reader_error(r));
	}
	tsv_reader_free(r);

	/* ... but a CR at offset max_record waits for the next byte */
	r = tsv_reader_create(3);
	tsv_reader_feed(r, "abc\r", 4);
	st = tsv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_NEED_MORE, "CR at the limit waits, got %d", st);
	tsv_reader_feed(r, "\n", 1);
	st = tsv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_RECORD && n == 1 && strcmp(f[0].value, "abc") == 0,
			   "CR LF at the limit ends the record");
	tsv_reader_free(r);
}

static void
test_line_numbers(void)
{
	check_doc("line numbers",
			  "a\n\nb\\nstill b\r\n\r\n\r\nc\n\\N",
			  "L1{'a'}L3{'b\\nstill b'}L6{'c'}L7{\\N}EOF");
}

/* A record much larger than the initial 64 kB buffer. */
static void
test_long_record(void)
{
	const size_t flen = 300 * 1000;
	char	   *doc = malloc(2 * flen + flen / 100 + 64);
	char	   *want = malloc(flen + 1);
	size_t		len = 0;
	size_t		i,
				pos;
	int			chunk;

	/* field 1: every 100th byte an escaped TAB; field 2: plain */
	for (i = 0; i < flen; i++)
	{
		want[i] = (i % 100 == 99) ? '\t' : (char) ('a' + i % 26);
		if (want[i] == '\t')
			doc[len++] = '\\';
		doc[len++] = want[i];
	}
	want[flen] = '\0';
	doc[len++] = '\t';
	for (i = 0; i < flen; i++)
		doc[len++] = (char) ('a' + i % 26);
	memcpy(doc + len, "\r\nend\n", 6);
	len += 6;

	for (chunk = 0; chunk < 3; chunk++)
	{
		size_t		step = (chunk == 0) ? len : (chunk == 1) ? 1000 : 65536;
		TsvReader  *r = tsv_reader_create(0);
		const ReaderField *f;
		int			n;
		int			nrec = 0;
		bool		ok = true;
		ReaderStatus	st;

		pos = 0;
		for (;;)
		{
			st = tsv_reader_next(r, &f, &n);
			if (st == READER_NEED_MORE)
			{
				size_t		take = (len - pos < step) ? len - pos : step;

				if (take == 0)
					tsv_reader_finish(r);
				else
					tsv_reader_feed(r, doc + pos, take);
				pos += take;
				continue;
			}
			if (st != READER_RECORD)
				break;
			nrec++;
			if (nrec == 1)
				ok = ok && n == 2 && f[0].len == flen &&
					memcmp(f[0].value, want, flen + 1) == 0 &&
					f[1].len == flen && f[1].value[0] == 'a' &&
					f[1].value[flen] == '\0' && tsv_reader_line(r) == 1;
			else
				ok = ok && n == 1 && strcmp(f[0].value, "end") == 0 &&
					tsv_reader_line(r) == 2;
		}
		UNIT_CHECK(st == READER_EOF && nrec == 2 && ok,
				   "long record, chunk size %zu: status %d, %d records, ok %d",
				   step, st, nrec, ok);
		tsv_reader_free(r);
	}
	free(doc);
	free(want);
}

/* Many records through small chunks. */
static void
test_stream(void)
{
	Str			doc = {0};
	char		line[128];
	int			i;
	size_t		pos = 0;
	TsvReader  *r = tsv_reader_create(0);
	const ReaderField *f;
	int			n;
	int			nrec = 0;
	int			bad = 0;
	ReaderStatus	st;

	for (i = 0; i < 50000; i++)
	{
		snprintf(line, sizeof(line), "%d\tname\\t%d\\\\\t%s\t%d.5\n",
				 i, i, (i % 3 == 0) ? "\\N" : "x", i % 100);
		str_adds(&doc, line);
	}
	for (;;)
	{
		st = tsv_reader_next(r, &f, &n);
		if (st == READER_NEED_MORE)
		{
			size_t		take = (doc.len - pos < 777) ? doc.len - pos : 777;

			if (take == 0)
				tsv_reader_finish(r);
			else
				tsv_reader_feed(r, doc.data + pos, take);
			pos += take;
			continue;
		}
		if (st != READER_RECORD)
			break;
		snprintf(line, sizeof(line), "name\t%d\\", nrec);
		if (n != 4 || atoi(f[0].value) != nrec || strcmp(f[1].value, line) != 0 ||
			f[2].is_null != (nrec % 3 == 0) ||
			tsv_reader_line(r) != (uint64_t) nrec + 1)
			bad++;
		nrec++;
	}
	UNIT_CHECK(st == READER_EOF && nrec == 50000 && bad == 0,
			   "stream: status %d, %d records, %d bad", st, nrec, bad);
	tsv_reader_free(r);
	free(doc.data);
}

/* Documents full of traps, checked at every chunk boundary. */
static void
test_every_boundary(void)
{
	static const struct
	{
		const char *name;
		const char *doc;
		const char *expected;
	}			docs[] =
	{
		{
			"tricky 1",
			"\xEF\xBB\xBF" "a\tb\r\n\\N\t\\\\N\r\n\r\n\t\\x41\\101\t\n",
			"L1{'a','b'}L2{\\N,'\\\\N'}L4{'','AA',''}EOF"
		},
		{
			"tricky 2: CRs",
			"a\rb\tc\r\n\rd\r\n\r\r\n\\r\r\n\r",
			"L1{'a\\rb','c'}L2{'\\rd'}L3{'\\r'}L4{'\\r'}L5{'\\r'}EOF"
		},
		{
			"tricky 3: escaped TABs and backslashes",
			"\\\t\t\\\\\t\\\\\\\t\n\\\\\\\\\n",
			"L1{'\\t','\\\\','\\\\\\t'}L2{'\\\\\\\\'}EOF"
		},
		{
			"tricky 4: no final newline",
			"last\trecord\t\\N",
			"L1{'last','record',\\N}EOF"
		},
		{
			"tricky 5: trailing backslash after records",
			"a\tb\n\\N\nc\\\r\n",
			"L1{'a','b'}L2{\\N}ERR@3:backslash at the end of a record"
		},
		{
			"tricky 6: canvas data 2 export",
			"\xEF\xBB\xBF" "meta.action\tmeta.ts\tkey.id\tvalue.score\tvalue.comment\r\n"
			"U\t2024-05-01T10:00:00Z\t17\t9.5\tGood \\\"work\\\"\\nsee me\r\n"
			"D\t2024-05-02T11:00:00Z\t18\t\\N\t\\N\r\n",
			"L1{'meta.action','meta.ts','key.id','value.score','value.comment'}"
			"L2{'U','2024-05-01T10:00:00Z','17','9.5','Good \"work\"\\nsee me'}"
			"L3{'D','2024-05-02T11:00:00Z','18',\\N,\\N}EOF"
		},
	};
	size_t		i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		check_doc(docs[i].name, docs[i].doc, docs[i].expected);

	check_doc_opts("tricky 7: max_record", "ab\tc\r\n\\t\\t\nabcdef\n", 18, 5,
				   "L1{'ab','c'}L2{'\\t\\t'}ERR@3:record exceeds 5 bytes");
}

/* ---------------------------------------------------------------- */

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t
rng_next(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static size_t
rng_below(size_t n)
{
	return (size_t) (rng_next() % n);
}

/*
 * Encode one byte of a value into doc, choosing at random among the
 * encodings the format allows; next is the following byte of the value (or
 * -1), which decides whether a short octal or hex escape is unambiguous.
 */
static void
encode_byte(Str *doc, unsigned char c, int next)
{
	char		tmp[8];
	bool		next_octal = next >= '0' && next <= '7';
	bool		next_hex = next >= 0 && ((next >= '0' && next <= '9') ||
										 (next >= 'a' && next <= 'f') ||
										 (next >= 'A' && next <= 'F'));
	int			how = (int) rng_below(6);

	if (how == 0)
	{
		snprintf(tmp, sizeof(tmp), "\\%03o", c);
		str_adds(doc, tmp);
		return;
	}
	if (how == 1 && !next_octal)
	{
		snprintf(tmp, sizeof(tmp), "\\%o", c);
		str_adds(doc, tmp);
		return;
	}
	if (how == 2)
	{
		snprintf(tmp, sizeof(tmp), next_hex || rng_below(2) ? "\\x%02x" : "\\x%x", c);
		str_adds(doc, tmp);
		return;
	}
	switch (c)
	{
		case '\b':
			str_adds(doc, "\\b");
			return;
		case '\f':
			str_adds(doc, "\\f");
			return;
		case '\n':
			str_adds(doc, "\\n");
			return;
		case '\r':
			str_adds(doc, "\\r");
			return;
		case '\t':
			str_adds(doc, how == 3 ? "\\\t" : "\\t");
			return;
		case '\v':
			str_adds(doc, "\\v");
			return;
		case '\\':
			str_adds(doc, "\\\\");
			return;
		default:
			break;
	}
	/* a backslash before any other byte but the escape letters and digits */
	if (how == 3 && strchr("bfnrtvx01234567N", c) == NULL && c != '\0')
		str_addc(doc, '\\');
	str_addc(doc, (char) c);
}

/*
 * Random records written with random (but valid) escapes, terminators,
 * blank lines and BOM; parsed in random pieces, the result must be exactly
 * the generated records with the right line numbers.
 */
static void
test_random_roundtrip(void)
{
	static const char *const atoms[] = {
		"a", "b", "z", "0", "7", "8", "f", "x", "N", " ", ",", "\"", "\t",
		"\n", "\r", "\\", "\\N", "\xc3\xa9", "\xe2\x82\xac", "grade",
		"\b", "\f", "\v", "\x01", "\x7f"
	};
	const int	ndocs = 400;
	int			d;
	int			failures = 0;

	for (d = 0; d < ndocs; d++)
	{
		Str			doc = {0};
		Str			want = {0};
		int			nrec = (int) rng_below(25);
		int			rec;
		uint64_t	line = 1;
		bool		last_terminated = true;
		char		tmp[64];
		size_t		cuts[8];
		int			ncuts;
		int			k;
		char	   *got;

		if (rng_below(3) == 0)
			str_adds(&doc, "\xEF\xBB\xBF");
		for (rec = 0; rec < nrec; rec++)
		{
			int			nf = 1 + (int) rng_below(6);
			int			fi;

			while (rng_below(8) == 0)
			{
				str_adds(&doc, rng_below(2) ? "\n" : "\r\n");
				line++;
			}
			snprintf(tmp, sizeof(tmp), "L%llu{", (unsigned long long) line);
			str_adds(&want, tmp);
			for (fi = 0; fi < nf; fi++)
			{
				Str			val = {0};
				int			kind = (int) rng_below(10);
				size_t		j;

				if (fi > 0)
				{
					str_addc(&doc, '\t');
					str_addc(&want, ',');
				}
				if (kind == 0)
				{
					str_adds(&doc, "\\N");
					str_adds(&want, "\\N");
					continue;
				}
				/* a lone empty field would be a blank line */
				if (kind == 1 && nf > 1)
					str_adds(&val, "");
				else
				{
					size_t		atomsn = rng_below(9) == 0 ? 300 : rng_below(6) + 1;

					for (j = 0; j < atomsn; j++)
						str_adds(&val, atoms[rng_below(sizeof(atoms) / sizeof(atoms[0]))]);
				}
				for (j = 0; j < val.len; j++)
				{
					unsigned char c = (unsigned char) val.data[j];
					int			next = (j + 1 < val.len) ?
						(unsigned char) val.data[j + 1] : -1;

					if (c == '\t' || c == '\n' || c == '\r' || c == '\\' ||
						rng_below(8) == 0)
						encode_byte(&doc, c, next);
					else
						str_addc(&doc, (char) c);
				}
				render_value(&want, val.data, val.len);
				free(val.data);
			}
			str_addc(&want, '}');
			last_terminated = rec < nrec - 1 || rng_below(2) == 0;
			if (last_terminated)
			{
				str_adds(&doc, rng_below(2) ? "\n" : "\r\n");
				line++;
			}
		}
		if (last_terminated && rng_below(4) == 0)
			str_adds(&doc, "\n\r\n");
		str_adds(&want, "EOF");
		if (doc.data == NULL)
			str_adds(&doc, "");

		for (k = 0; k < 4; k++)
		{
			int			c;

			ncuts = (k == 0) ? 0 : (int) rng_below(8) + 1;
			for (c = 0; c < ncuts; c++)
				cuts[c] = rng_below(doc.len + 1);
			for (c = 1; c < ncuts; c++)
			{
				size_t		v = cuts[c];
				int			m = c - 1;

				while (m >= 0 && cuts[m] > v)
				{
					cuts[m + 1] = cuts[m];
					m--;
				}
				cuts[m + 1] = v;
			}
			got = parse_cuts(doc.data, doc.len, cuts, ncuts, 0,
							 rng_below(4) != 0);
			if (strcmp(got, want.data) != 0)
			{
				if (failures++ < 3)
					fprintf(stderr, "random doc %d, %d cuts\n  got:  %s\n  want: %s\n",
							d, ncuts, got, want.data);
			}
			free(got);
		}
		if (d % 20 == 0)
		{
			got = parse_bytewise(doc.data, doc.len, 0, true);
			if (strcmp(got, want.data) != 0 && failures++ < 3)
				fprintf(stderr, "random doc %d, byte by byte\n  got:  %s\n  want: %s\n",
						d, got, want.data);
			free(got);
		}
		free(doc.data);
		free(want.data);
	}
	UNIT_CHECK(failures == 0, "random round trip: %d of %d documents differ",
			   failures, ndocs);
}

int
main(void)
{
	test_simple();
	test_null_vs_empty();
	test_escapes();
	test_trailing_backslash();
	test_terminators();
	test_bom();
	test_blank_lines();
	test_final_record();
	test_error_sticky();
	test_max_record();
	test_line_numbers();
	test_long_record();
	test_stream();
	test_every_boundary();
	test_random_roundtrip();
	UNIT_DONE("test_tsv_reader");
}
