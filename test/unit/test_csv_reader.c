/*-------------------------------------------------------------------------
 *
 * test_csv_reader.c
 *		  Unit tests for the incremental CSV record reader
 *
 * Every parse is rendered as one string: "L<line>{f1,f2,...}" per record,
 * where a NULL field is \N and any other field is '...' with \, ', CR, LF
 * and NUL escaped, followed by "EOF" or "ERR@<line>:<message>".  Comparing
 * these strings checks records, fields, NULLs, line numbers and errors at
 * once, and makes it easy to check that feeding a document in pieces, split
 * at any position, gives exactly what feeding it whole gives.
 *
 * IDENTIFICATION
 *		  test/unit/test_csv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "csv_reader.h"
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
render_record(Str *s, const CsvReader *r, const ReaderField *f, int n)
{
	char		tmp[64];
	int			i;

	snprintf(tmp, sizeof(tmp), "L%llu{",
			 (unsigned long long) csv_reader_line(r));
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
drain(CsvReader *r, Str *out)
{
	const ReaderField *f;
	int			n;
	char		tmp[64];

	for (;;)
	{
		ReaderStatus	st = csv_reader_next(r, &f, &n);

		switch (st)
		{
			case READER_RECORD:
				render_record(out, r, f, n);
				break;
			case READER_NEED_MORE:
				return false;
			case READER_EOF:
				str_adds(out, "EOF");
				if (csv_reader_next(r, &f, &n) != READER_EOF)
					str_adds(out, "!EOF-NOT-STICKY!");
				return true;
			case READER_ERROR:
				snprintf(tmp, sizeof(tmp), "ERR@%llu:",
						 (unsigned long long) csv_reader_line(r));
				str_adds(out, tmp);
				str_adds(out, csv_reader_error(r));
				if (csv_reader_next(r, &f, &n) != READER_ERROR)
					str_adds(out, "!ERROR-NOT-STICKY!");
				return true;
		}
	}
}

/*
 * Parse doc fed as pieces cut at the ascending offsets cuts[0..ncuts).
 * With drain_between false, nothing is read until every piece was fed (so
 * the buffer holds unconsumed records while it grows).  Returns a malloc'd
 * rendering.
 */
static char *
parse_cuts(const char *doc, size_t len, const size_t *cuts, int ncuts,
		   char delim, size_t max_record, bool drain_between)
{
	CsvReader  *r = csv_reader_create(delim, max_record);
	Str			out = {0};
	size_t		pos = 0;
	int			i;
	bool		ended = false;

	if (r == NULL)
		return strdup("!CREATE-FAILED!");
	for (i = 0; i <= ncuts && !ended; i++)
	{
		size_t		next = (i < ncuts) ? cuts[i] : len;

		if (!csv_reader_feed(r, doc + pos, next - pos))
			str_adds(&out, "!FEED-FAILED!");
		pos = next;
		if (drain_between)
			ended = drain(r, &out);
	}
	if (!ended)
	{
		csv_reader_finish(r);
		if (!drain(r, &out))
			str_adds(&out, "!NEED-MORE-AFTER-FINISH!");
	}
	csv_reader_free(r);
	if (out.data == NULL)
		str_adds(&out, "");
	return out.data;
}

static char *
parse_whole(const char *doc, size_t len, char delim, size_t max_record)
{
	return parse_cuts(doc, len, NULL, 0, delim, max_record, true);
}

static char *
parse_bytewise(const char *doc, size_t len, char delim, size_t max_record,
			   bool drain_between)
{
	size_t	   *cuts = malloc((len + 1) * sizeof(size_t));
	size_t		i;
	char	   *res;

	for (i = 1; i < len; i++)
		cuts[i - 1] = i;
	res = parse_cuts(doc, len, cuts, len > 1 ? (int) (len - 1) : 0,
					 delim, max_record, drain_between);
	free(cuts);
	return res;
}

/*
 * Check doc against the expected rendering fed whole, then check that every
 * two-piece split, every three-piece split (short documents), byte-by-byte
 * feeding with and without reading in between all give the same result.
 */
static void
check_doc_opts(const char *name, const char *doc, size_t len, char delim,
			   size_t max_record, const char *expected)
{
	char	   *whole = parse_whole(doc, len, delim, max_record);
	char	   *res;
	size_t		i,
				j;
	size_t		cuts[2];
	long		bad_at = -1;
	long		bad_at2 = -1;

	UNIT_CHECK(strcmp(whole, expected) == 0,
			   "%s: whole\n  got:  %s\n  want: %s", name, whole, expected);

	/* every two-piece split, empty pieces included */
	for (i = 0; i <= len && bad_at < 0; i++)
	{
		cuts[0] = i;
		res = parse_cuts(doc, len, cuts, 1, delim, max_record, true);
		if (strcmp(res, whole) != 0)
		{
			bad_at = (long) i;
			fprintf(stderr, "%s: split at %zu\n  got:  %s\n  whole: %s\n",
					name, i, res, whole);
		}
		free(res);
	}
	UNIT_CHECK(bad_at < 0, "%s: split at %ld differs", name, bad_at);

	/* every three-piece split of short documents */
	if (len <= 80)
	{
		for (i = 0; i <= len && bad_at < 0; i++)
		{
			for (j = i; j <= len && bad_at2 < 0; j++)
			{
				cuts[0] = i;
				cuts[1] = j;
				res = parse_cuts(doc, len, cuts, 2, delim, max_record, true);
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

	res = parse_bytewise(doc, len, delim, max_record, true);
	UNIT_CHECK(strcmp(res, whole) == 0,
			   "%s: byte by byte\n  got:  %s\n  whole: %s", name, res, whole);
	free(res);

	res = parse_bytewise(doc, len, delim, max_record, false);
	UNIT_CHECK(strcmp(res, whole) == 0,
			   "%s: byte by byte, read at the end\n  got:  %s\n  whole: %s",
			   name, res, whole);
	free(res);

	free(whole);
}

static void
check_doc(const char *name, const char *doc, const char *expected)
{
	check_doc_opts(name, doc, strlen(doc), ',', 0, expected);
}

/* ---------------------------------------------------------------- */

static void
test_simple(void)
{
	check_doc("simple", "a,b,c\n1,2,3\n",
			  "L1{'a','b','c'}L2{'1','2','3'}EOF");
	check_doc("single field", "x\ny\n", "L1{'x'}L2{'y'}EOF");
	check_doc("empty input", "", "EOF");
	check_doc("uneven field counts", "a\nb,c,d\ne,f\n",
			  "L1{'a'}L2{'b','c','d'}L3{'e','f'}EOF");
	check_doc("spaces are data", " a , b \n", "L1{' a ',' b '}EOF");
	check_doc("utf-8 data", "Ren\xc3\xa9\x65,\xe2\x82\xac\n",
			  "L1{'Ren\xc3\xa9\x65','\xe2\x82\xac'}EOF");
	check_doc_opts("NUL byte is data", "a\0b,c\n", 6, ',', 0,
				   "L1{'a\\0b','c'}EOF");
}

static void
test_quoted(void)
{
	check_doc("quoted delimiter", "\"a,b\",c\n", "L1{'a,b','c'}EOF");
	check_doc("doubled quotes", "\"say \"\"hi\"\"\",\"\"\"\"\n",
			  "L1{'say \"hi\"','\"'}EOF");
	check_doc("embedded LF", "\"line1\nline2\",x\ny\n",
			  "L1{'line1\\nline2','x'}L3{'y'}EOF");
	check_doc("embedded CRLF", "\"line1\r\nline2\",x\r\ny\r\n",
			  "L1{'line1\\r\\nline2','x'}L3{'y'}EOF");
	check_doc("embedded lone CR", "\"a\rb\"\n", "L1{'a\\rb'}EOF");
	check_doc("quoted field at end of record", "a,\"b\"\n\"c\"\n",
			  "L1{'a','b'}L2{'c'}EOF");
	check_doc("quoted field of only a delimiter", "\",\",\",\"\n",
			  "L1{',',','}EOF");
	check_doc("quoted blank line", "\"\n\"\n", "L1{'\\n'}EOF");
	check_doc("many doubled quotes", "\"\"\"\"\"\"\"\"\n",
			  "L1{'\"\"\"'}EOF");
}

static void
test_terminators(void)
{
	check_doc("CRLF", "a,b\r\nc,d\r\n", "L1{'a','b'}L2{'c','d'}EOF");
	check_doc("mixed LF and CRLF", "a\r\nb\nc\r\n",
			  "L1{'a'}L2{'b'}L3{'c'}EOF");
	check_doc("lone CR is data", "a\rb,c\r\n", "L1{'a\\rb','c'}EOF");
	check_doc("CR before CRLF", "a\r\r\nb\n", "L1{'a\\r'}L2{'b'}EOF");
	check_doc("CR at start of field", "\rx,\r\n", "L1{'\\rx',\\N}EOF");
	check_doc("CR at end of input is data", "a\r", "L1{'a\\r'}EOF");
	check_doc("lone CR as the last line", "a\n\r", "L1{'a'}L2{'\\r'}EOF");
	check_doc("CRLF after closing quote", "\"a\"\r\n\"b\"\r\n",
			  "L1{'a'}L2{'b'}EOF");
}

static void
test_cr_at_chunk_end(void)
{
	CsvReader  *r = csv_reader_create(',', 0);
	const ReaderField *f;
	int			n;
	ReaderStatus	st;

	csv_reader_feed(r, "ab\r", 3);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_NEED_MORE, "CR at chunk end must wait, got %d", st);
	csv_reader_feed(r, "\ncd", 3);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_RECORD && n == 1 && f[0].len == 2 &&
			   strcmp(f[0].value, "ab") == 0,
			   "CRLF across chunks ends the record");
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_NEED_MORE, "no terminator yet, got %d", st);
	csv_reader_feed(r, "\r", 1);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_NEED_MORE, "CR at chunk end must wait, got %d", st);
	csv_reader_feed(r, "e\n", 2);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_RECORD && n == 1 && f[0].len == 4 &&
			   memcmp(f[0].value, "cd\re", 5) == 0,
			   "CR followed by data in the next chunk is data");
	csv_reader_finish(r);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_EOF, "EOF, got %d", st);
	csv_reader_free(r);
}

static void
test_bom(void)
{
	check_doc("BOM", "\xEF\xBB\xBF" "a,b\n", "L1{'a','b'}EOF");
	check_doc("BOM only", "\xEF\xBB\xBF", "EOF");
	check_doc("BOM then blank line", "\xEF\xBB\xBF\nx\n", "L2{'x'}EOF");
	check_doc("BOM then quoted field", "\xEF\xBB\xBF\"a\"\n", "L1{'a'}EOF");
	check_doc("two BOMs: the second is data", "\xEF\xBB\xBF\xEF\xBB\xBFx\n",
			  "L1{'\xEF\xBB\xBFx'}EOF");
	check_doc("BOM later is data", "a\n\xEF\xBB\xBF\n",
			  "L1{'a'}L2{'\xEF\xBB\xBF'}EOF");
	check_doc("partial BOM at EOF is data", "\xEF\xBB", "L1{'\xEF\xBB'}EOF");
	check_doc("BOM prefix then other", "\xEF\xBBx\n", "L1{'\xEF\xBBx'}EOF");
}

static void
test_bom_split(void)
{
	CsvReader  *r = csv_reader_create(',', 0);
	const ReaderField *f;
	int			n;
	ReaderStatus	st;

	csv_reader_feed(r, "\xEF", 1);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_NEED_MORE, "first BOM byte: need more, got %d", st);
	csv_reader_feed(r, "\xBB", 1);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_NEED_MORE, "two BOM bytes: need more, got %d", st);
	csv_reader_feed(r, "\xBF" "id\n", 4);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_RECORD && n == 1 && strcmp(f[0].value, "id") == 0,
			   "BOM split across three feeds is skipped");
	csv_reader_finish(r);
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_EOF, "then EOF");
	csv_reader_free(r);
}

static void
test_null_vs_empty(void)
{
	CsvReader  *r = csv_reader_create(',', 0);
	const ReaderField *f;
	int			n;
	const char *doc = ",\"\",a,\n";

	check_doc("NULL vs empty", doc, "L1{\\N,'','a',\\N}EOF");
	check_doc("only delimiters", ",,\n", "L1{\\N,\\N,\\N}EOF");
	check_doc("only an empty quoted field", "\"\"\n", "L1{''}EOF");
	check_doc("empty quoted at EOF", "a,\"\"", "L1{'a',''}EOF");
	check_doc("trailing delimiter at EOF", "a,", "L1{'a',\\N}EOF");

	/* and directly, to check the field structure itself */
	csv_reader_feed(r, doc, strlen(doc));
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_RECORD && n == 4,
			   "four fields");
	UNIT_CHECK(f[0].is_null && f[0].len == 0 && f[0].value[0] == '\0',
			   "empty unquoted is NULL with value \"\"");
	UNIT_CHECK(!f[1].is_null && f[1].len == 0 && f[1].value[0] == '\0',
			   "\"\" is an empty string");
	UNIT_CHECK(!f[2].is_null && f[2].len == 1 && strcmp(f[2].value, "a") == 0,
			   "plain value");
	UNIT_CHECK(f[3].is_null && f[3].len == 0, "trailing empty is NULL");
	csv_reader_free(r);
}

static void
test_blank_lines(void)
{
	check_doc("blank lines", "\n\na,1\n\r\n\nb,2\n\n",
			  "L3{'a','1'}L6{'b','2'}EOF");
	check_doc("only blank lines", "\n\r\n\n", "EOF");
	check_doc("blank line at EOF without LF is nothing", "a\n", "L1{'a'}EOF");
	check_doc("whitespace line is not blank", "a\n \n", "L1{'a'}L2{' '}EOF");
}

/*
 * As COPY reads them: in a file of one column an empty line is a row whose
 * one field is NULL; in a file of several columns it would be a short row,
 * so it is skipped.  The first record (the header) decides; blank lines
 * before it are skipped.
 */
static void
test_single_column_blank_lines(void)
{
	check_doc("one column: blank lines are NULL rows", "h\na\n\nb\n\n",
			  "L1{'h'}L2{'a'}L3{\\N}L4{'b'}L5{\\N}EOF");
	check_doc("one column, CRLF", "h\r\n\r\nb\r\n",
			  "L1{'h'}L2{\\N}L3{'b'}EOF");
	check_doc("one column: blank lines before the header are skipped", "\n\nh\n\n",
			  "L3{'h'}L4{\\N}EOF");
	check_doc("one column: \"\" is an empty string, not NULL", "h\n\"\"\n\n",
			  "L1{'h'}L2{''}L3{\\N}EOF");
	check_doc("two columns: blank lines are skipped", "h,i\n\na,b\n\n",
			  "L1{'h','i'}L3{'a','b'}EOF");
}

static void
test_final_record(void)
{
	CsvReader  *r = csv_reader_create(',', 0);
	const ReaderField *f;
	int			n;
	ReaderStatus	st;

	check_doc("no trailing newline", "a,b\nc,d", "L1{'a','b'}L2{'c','d'}EOF");
	check_doc("quoted, no trailing newline", "a\n\"c\nd\"",
			  "L1{'a'}L2{'c\\nd'}EOF");

	csv_reader_feed(r, "a,b", 3);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_NEED_MORE, "unterminated final record waits, got %d",
			   st);
	csv_reader_finish(r);
	st = csv_reader_next(r, &f, &n);
	UNIT_CHECK(st == READER_RECORD && n == 2 && strcmp(f[1].value, "b") == 0,
			   "final record returned after finish");
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_EOF, "then EOF");
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_EOF, "EOF again");
	csv_reader_free(r);
}

static void
test_errors(void)
{
	check_doc("unterminated quoted field", "a\n\"abc\n",
			  "L1{'a'}ERR@2:unterminated quoted field");
	check_doc("unterminated after doubled quote", "\"ab\"\"",
			  "ERR@1:unterminated quoted field");
	check_doc("unterminated on a later line", "a\n\"x\ny\nz",
			  "L1{'a'}ERR@2:unterminated quoted field");
	check_doc("character after closing quote", "a,b\n\n\"a\"x,b\n",
			  "L1{'a','b'}ERR@3:unexpected character after closing quote");
	check_doc("space after closing quote", "\"a\" ,b\n",
			  "ERR@1:unexpected character after closing quote");
	check_doc("lone CR after closing quote", "\"a\"\rb\n",
			  "ERR@1:unexpected character after closing quote");
	check_doc("CR at EOF after closing quote", "\"a\"\r",
			  "ERR@1:unexpected character after closing quote");
	check_doc("quote inside unquoted field", "x\na,b\"c\n",
			  "L1{'x'}ERR@2:quote inside unquoted field");
	check_doc("quote ending unquoted field", "ab\"\n",
			  "ERR@1:quote inside unquoted field");
	check_doc("quote after lone CR", "\r\"a\"\n",
			  "ERR@1:quote inside unquoted field");
	check_doc("error after multi-line record", "\"1\n2\n3\",x\nab\"\n",
			  "L1{'1\\n2\\n3','x'}ERR@4:quote inside unquoted field");
}

static void
test_error_sticky(void)
{
	CsvReader  *r = csv_reader_create(',', 0);
	const ReaderField *f;
	int			n;
	const char *msg;

	csv_reader_feed(r, "ok\nb\"ad\nmore\n", 13);
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_RECORD, "first record");
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_ERROR, "then error");
	msg = csv_reader_error(r);
	UNIT_CHECK(strcmp(msg, "quote inside unquoted field") == 0, "message: %s",
			   msg);
	UNIT_CHECK(csv_reader_line(r) == 2, "error line %llu",
			   (unsigned long long) csv_reader_line(r));
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_ERROR && f == NULL && n == 0,
			   "still error");
	UNIT_CHECK(csv_reader_feed(r, "x\n", 2), "feed after error is ignored");
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_ERROR, "still error");
	csv_reader_finish(r);
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_ERROR, "still error");
	UNIT_CHECK(strcmp(csv_reader_error(r), "quote inside unquoted field") == 0,
			   "message unchanged");
	csv_reader_free(r);

	r = csv_reader_create(',', 0);
	csv_reader_feed(r, "a\n", 2);
	csv_reader_finish(r);
	csv_reader_feed(r, "b\n", 2);
	UNIT_CHECK(csv_reader_next(r, &f, &n) == READER_ERROR,
			   "feeding after finish is an error");
	csv_reader_free(r);
}

static void
test_line_numbers(void)
{
	CsvReader  *r = csv_reader_create(',', 0);

	UNIT_CHECK(csv_reader_line(r) == 0, "0 before any record");
	csv_reader_free(r);

	check_doc("lines with quoted newlines",
			  "a,1\n\"x\ny\nz\",b\n\nc,\r\n\"\r\n\r\n\",2\nd,3",
			  "L1{'a','1'}L2{'x\\ny\\nz','b'}L6{'c',\\N}L7{'\\r\\n\\r\\n','2'}L10{'d','3'}EOF");
}

static void
test_max_record(void)
{
	CsvReader  *r;
	const ReaderField *f;
	int			n;
	ReaderStatus	st;

	check_doc_opts("max_record: exact fits", "abcde\nab,de\r\nabcde", 18, ',',
				   5, "L1{'abcde'}L2{'ab','de'}L3{'abcde'}EOF");
	check_doc_opts("max_record: one byte over", "abcde\nabcdef\n", 13, ',', 5,
				   "L1{'abcde'}ERR@2:record exceeds 5 bytes");
	check_doc_opts("max_record: over at EOF", "abcdef", 6, ',', 5,
				   "ERR@1:record exceeds 5 bytes");
	check_doc_opts("max_record: quotes count", "\"abc\"\n\"abcd\"\n", 13, ',',
				   5, "L1{'abc'}ERR@2:record exceeds 5 bytes");
	check_doc_opts("max_record: blank lines do not count", "\n\n\nab\n", 6,
				   ',', 2, "L4{'ab'}EOF");
	check_doc_opts("max_record: before a later syntax error", "abcdef\"\n", 8,
				   ',', 5, "ERR@1:record exceeds 5 bytes");
	check_doc_opts("max_record: syntax error first", "ab\"cdef\n", 8, ',', 5,
				   "ERR@1:quote inside unquoted field");
	check_doc_opts("max_record: long quoted field", "\"a\nb\nc\"\n", 8, ',',
				   5, "ERR@1:record exceeds 5 bytes");
	check_doc_opts("max_record: delimiter after closing quote", "\"a\",b\n", 7,
				   ',', 3, "ERR@1:record exceeds 3 bytes");
	check_doc_opts("max_record: terminator right after closing quote",
				   "\"ab\"\r\n\"ab\"", 10, ',', 4, "L1{'ab'}L2{'ab'}EOF");
	check_doc_opts("max_record: limit before the error after the quote",
				   "\"ab\"x\n", 6, ',', 4, "ERR@1:record exceeds 4 bytes");
	check_doc_opts("max_record: second half of a doubled quote",
				   "\"a\"\"b\"\n", 7, ',', 3, "ERR@1:record exceeds 3 bytes");

	/* An overlong record is refused before its end arrives. */
	r = csv_reader_create(',', 100);
	{
		char		chunk[64];
		int			i;

		memset(chunk, 'x', sizeof(chunk));
		st = READER_NEED_MORE;
		for (i = 0; i < 10 && st == READER_NEED_MORE; i++)
		{
			csv_reader_feed(r, chunk, sizeof(chunk));
			st = csv_reader_next(r, &f, &n);
		}
		UNIT_CHECK(st == READER_ERROR && i == 2,
				   "refused once 101 bytes are in (feed %d, status %d)", i, st);
		UNIT_CHECK(strcmp(csv_reader_error(r), "record exceeds 100 bytes") == 0,
				   "message: %s", csv_reader_error(r));
	}
	csv_reader_free(r);
}

static void
test_delimiters(void)
{
	check_doc_opts("semicolon", "a;\"b;c\";,\n", 10, ';', 0,
				   "L1{'a','b;c',','}EOF");
	check_doc_opts("tab", "a\tb\t\"c\td\"\n", 10, '\t', 0,
				   "L1{'a','b','c\td'}EOF");
	check_doc_opts("pipe", "1|2||\n", 6, '|', 0, "L1{'1','2',\\N,\\N}EOF");
	UNIT_CHECK(csv_reader_create('"', 0) == NULL, "quote delimiter refused");
	UNIT_CHECK(csv_reader_create('\n', 0) == NULL, "LF delimiter refused");
	UNIT_CHECK(csv_reader_create('\r', 0) == NULL, "CR delimiter refused");
}

/* A record much larger than the initial 64 kB buffer, quoted and not. */
static void
test_long_record(void)
{
	const size_t flen = 300 * 1000;
	char	   *doc = malloc(2 * flen + flen / 1000 + 64);
	char	   *want = malloc(flen + 1);
	size_t		len = 0;
	size_t		i,
				pos;
	int			chunk;

	/* field 1: quoted, every 1000th byte a doubled quote; field 2: plain */
	doc[len++] = '"';
	for (i = 0; i < flen; i++)
	{
		want[i] = (i % 1000 == 999) ? '"' : (char) ('a' + i % 26);
		doc[len++] = want[i];
		if (want[i] == '"')
			doc[len++] = '"';
	}
	want[flen] = '\0';
	doc[len++] = '"';
	doc[len++] = ',';
	for (i = 0; i < flen; i++)
		doc[len++] = (char) ('a' + i % 26);
	memcpy(doc + len, "\r\nend\n", 6);
	len += 6;

	for (chunk = 0; chunk < 3; chunk++)
	{
		size_t		step = (chunk == 0) ? len : (chunk == 1) ? 1000 : 65536;
		CsvReader  *r = csv_reader_create(',', 0);
		const ReaderField *f;
		int			n;
		int			nrec = 0;
		bool		ok = true;
		ReaderStatus	st;

		pos = 0;
		for (;;)
		{
			st = csv_reader_next(r, &f, &n);
			if (st == READER_NEED_MORE)
			{
				size_t		take = (len - pos < step) ? len - pos : step;

				if (take == 0)
					csv_reader_finish(r);
				else
					csv_reader_feed(r, doc + pos, take);
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
					f[1].value[flen - 1] == (char) ('a' + (flen - 1) % 26) &&
					f[1].value[flen] == '\0' && csv_reader_line(r) == 1;
			else
				ok = ok && n == 1 && strcmp(f[0].value, "end") == 0 &&
					csv_reader_line(r) == 2;
		}
		UNIT_CHECK(st == READER_EOF && nrec == 2 && ok,
				   "long record, chunk size %zu: status %d, %d records, ok %d",
				   step, st, nrec, ok);
		csv_reader_free(r);
	}
	free(doc);
	free(want);
}

/* Many records through small chunks: the buffer is reused, not grown. */
static void
test_stream(void)
{
	Str			doc = {0};
	char		line[128];
	int			i;
	size_t		pos = 0;
	CsvReader  *r = csv_reader_create(',', 0);
	const ReaderField *f;
	int			n;
	int			nrec = 0;
	int			bad = 0;
	ReaderStatus	st;

	for (i = 0; i < 50000; i++)
	{
		snprintf(line, sizeof(line), "%d,\"name \"\"%d\"\"\",%s,%d.5\r\n",
				 i, i, (i % 3 == 0) ? "" : "x", i % 100);
		str_adds(&doc, line);
	}
	for (;;)
	{
		st = csv_reader_next(r, &f, &n);
		if (st == READER_NEED_MORE)
		{
			size_t		take = (doc.len - pos < 777) ? doc.len - pos : 777;

			if (take == 0)
				csv_reader_finish(r);
			else
				csv_reader_feed(r, doc.data + pos, take);
			pos += take;
			continue;
		}
		if (st != READER_RECORD)
			break;
		snprintf(line, sizeof(line), "name \"%d\"", nrec);
		if (n != 4 || atoi(f[0].value) != nrec || strcmp(f[1].value, line) != 0 ||
			f[2].is_null != (nrec % 3 == 0) ||
			csv_reader_line(r) != (uint64_t) nrec + 1)
			bad++;
		nrec++;
	}
	UNIT_CHECK(st == READER_EOF && nrec == 50000 && bad == 0,
			   "stream: status %d, %d records, %d bad", st, nrec, bad);
	csv_reader_free(r);
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
			"\xEF\xBB\xBF" "a,b\r\n\"x\"\"y\",\"1\r\n2\"\r\n\r\n,\"\",\n",
			"L1{'a','b'}L2{'x\"y','1\\r\\n2'}L5{\\N,'',\\N}EOF"
		},
		{
			"tricky 2: CRs",
			"a\rb,c\r\n\rd\r\n\r\r\n\"\r\"\r\n\r",
			"L1{'a\\rb','c'}L2{'\\rd'}L3{'\\r'}L4{'\\r'}L5{'\\r'}EOF"
		},
		{
			"tricky 3: quotes",
			"\"a\nb\"\"\",c\n\n\"\"\n\"\"\"\",\"\"\"\"\"\"",
			"L1{'a\\nb\"','c'}L4{''}L5{'\"','\"\"'}EOF"
		},
		{
			"tricky 4: no final newline",
			"last,record,\"no newline\"",
			"L1{'last','record','no newline'}EOF"
		},
		{
			"tricky 5: unterminated",
			"a,b\n\"open\nfield",
			"L1{'a','b'}ERR@2:unterminated quoted field"
		},
		{
			"tricky 6: after closing quote",
			"x\r\n\"a\"\"\"b\n",
			"L1{'x'}ERR@2:unexpected character after closing quote"
		},
		{
			"tricky 7: quote in field",
			"\"q\",\"r\"\nab\"c\n",
			"L1{'q','r'}ERR@2:quote inside unquoted field"
		},
		{
			"tricky 8: blank lines and BOM-like data",
			"\n\r\n\xEF\xBB\xBF,\xEF\n\r\n",
			"L3{'\xEF\xBB\xBF','\xEF'}EOF"
		},
		{
			"tricky 9: grade export",
			"\xEF\xBB\xBF" "Student,ID,\"Quiz 1 (Real)\",Comment\r\n"
			"\"Doe, Jane\",1001,9.50,\"Good \"\"work\"\"\r\nsee me\"\r\n"
			"Smith,1002,,\r\n",
			"L1{'Student','ID','Quiz 1 (Real)','Comment'}"
			"L2{'Doe, Jane','1001','9.50','Good \"work\"\\r\\nsee me'}"
			"L4{'Smith','1002',\\N,\\N}EOF"
		},
	};
	size_t		i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		check_doc(docs[i].name, docs[i].doc, docs[i].expected);

	check_doc_opts("tricky 10: max_record", "ab,c\r\n\"a\"\"b\"\nabcdef\n", 20,
				   ',', 5, "L1{'ab','c'}ERR@2:record exceeds 5 bytes");
	check_doc_opts("tricky 11: max_record exact with CRLF",
				   "\"ab\"\r\n\"\"\"\"\"\r\nx", 14, ',', 4,
				   "L1{'ab'}ERR@2:record exceeds 4 bytes");
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
 * Random records serialized with random (but valid) quoting, random
 * terminators, blank lines and BOM; parsed in random pieces, the result
 * must be exactly the generated records with the right line numbers.  All
 * records of a document have the same number of fields; with one field, a
 * blank line after the first record is a record of one NULL field.
 */
static void
test_random_roundtrip(void)
{
	static const char *const atoms[] = {
		"a", "b", "z", "0", "7", " ", ",", ";", "\t", "|", "\"", "\n",
		"\r", "\r\n", "\xc3\xa9", "\xe2\x82\xac", "'", "\\", "grade"
	};
	static const char delims[] = {',', ';', '\t', '|'};
	const int	ndocs = 400;
	int			d;
	int			failures = 0;

	for (d = 0; d < ndocs; d++)
	{
		Str			doc = {0};
		Str			want = {0};
		char		delim = delims[rng_below(sizeof(delims))];
		int			nrec = (int) rng_below(25);
		int			rec;
		uint64_t	lfs = 0;
		bool		last_terminated = true;
		int			nf = 1 + (int) rng_below(6);
		char		tmp[64];
		size_t		cuts[8];
		int			ncuts;
		int			k;
		char	   *got;

		if (rng_below(3) == 0)
			str_adds(&doc, "\xEF\xBB\xBF");
		for (rec = 0; rec < nrec; rec++)
		{
			int			fi;

			while (rng_below(8) == 0)
			{
				if (nf == 1 && rec > 0)
				{
					snprintf(tmp, sizeof(tmp), "L%llu{\\N}", (unsigned long long) lfs + 1);
					str_adds(&want, tmp);
				}
				str_adds(&doc, rng_below(2) ? "\n" : "\r\n");
				lfs++;
			}
			snprintf(tmp, sizeof(tmp), "L%llu{", (unsigned long long) lfs + 1);
			str_adds(&want, tmp);
			for (fi = 0; fi < nf; fi++)
			{
				Str			val = {0};
				int			kind = (int) rng_below(10);
				size_t		j;
				bool		quote;

				if (fi > 0)
				{
					str_addc(&doc, delim);
					str_addc(&want, ',');
				}
				/* a lone NULL field would be a blank line */
				if (kind == 0 && nf > 1)
				{
					str_adds(&want, "\\N");
					continue;
				}
				if (kind == 1)
					str_adds(&val, "");
				else
				{
					size_t		atomsn = rng_below(9) == 0 ? 400 : rng_below(6) + 1;

					for (j = 0; j < atomsn; j++)
						str_adds(&val, atoms[rng_below(sizeof(atoms) / sizeof(atoms[0]))]);
				}
				quote = val.len == 0 || rng_below(4) == 0 ||
					memchr(val.data, delim, val.len) != NULL ||
					memchr(val.data, '"', val.len) != NULL ||
					memchr(val.data, '\r', val.len) != NULL ||
					memchr(val.data, '\n', val.len) != NULL;
				if (quote)
				{
					str_addc(&doc, '"');
					for (j = 0; j < val.len; j++)
					{
						if (val.data[j] == '"')
							str_addc(&doc, '"');
						if (val.data[j] == '\n')
							lfs++;
						str_addc(&doc, val.data[j]);
					}
					str_addc(&doc, '"');
				}
				else
					str_addn(&doc, val.data, val.len);
				render_value(&want, val.data, val.len);
				free(val.data);
			}
			str_addc(&want, '}');
			last_terminated = rec < nrec - 1 || rng_below(2) == 0;
			if (last_terminated)
			{
				str_adds(&doc, rng_below(2) ? "\n" : "\r\n");
				lfs++;
			}
		}
		if (last_terminated && rng_below(4) == 0)
		{
			str_adds(&doc, "\n\r\n");
			if (nf == 1 && nrec > 0)
			{
				snprintf(tmp, sizeof(tmp), "L%llu{\\N}L%llu{\\N}",
						 (unsigned long long) lfs + 1, (unsigned long long) lfs + 2);
				str_adds(&want, tmp);
			}
		}
		str_adds(&want, "EOF");
		if (doc.data == NULL)
			str_adds(&doc, "");

		/* whole, then random pieces */
		for (k = 0; k < 4; k++)
		{
			int			c;

			ncuts = (k == 0) ? 0 : (int) rng_below(8) + 1;
			for (c = 0; c < ncuts; c++)
				cuts[c] = rng_below(doc.len + 1);
			/* sort the few cuts */
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
			got = parse_cuts(doc.data, doc.len, cuts, ncuts, delim, 0,
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
			got = parse_bytewise(doc.data, doc.len, delim, 0, true);
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
	test_quoted();
	test_terminators();
	test_cr_at_chunk_end();
	test_bom();
	test_bom_split();
	test_null_vs_empty();
	test_blank_lines();
	test_single_column_blank_lines();
	test_final_record();
	test_errors();
	test_error_sticky();
	test_line_numbers();
	test_max_record();
	test_delimiters();
	test_long_record();
	test_stream();
	test_every_boundary();
	test_random_roundtrip();
	UNIT_DONE("test_csv_reader");
}
