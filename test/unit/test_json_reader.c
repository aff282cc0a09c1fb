/*-------------------------------------------------------------------------
 *
 * test_json_reader.c
 *		  Unit tests for the incremental JSON row reader
 *
 * Every parse is rendered as one string: "R<n>{v1,v2,...}" per record, where
 * n is json_reader_record_number(), a NULL value is \N and any other value
 * is '...' with \, ', TAB, CR, LF and NUL escaped, followed by "EOF" or
 * "ERR@<n>:<message>".  Comparing these strings checks records, values,
 * NULLs, record numbers and errors at once, and makes it easy to check that
 * feeding a document in pieces, split at any position, gives exactly what
 * feeding it whole gives.
 *
 * IDENTIFICATION
 *		  test/unit/test_json_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "json_reader.h"
#include "unit.h"

#include <malloc.h>
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
	if (n > 0)
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

/* Reader settings for one test document. */
typedef struct Cfg
{
	JsonFormat	format;
	const char *rows_path;
	const JsonWantedPath *wanted;
	int			nwanted;
	size_t		max_record;
} Cfg;

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
render_record(Str *s, const JsonReader *r, const ReaderField *f, int n)
{
	char		tmp[64];
	int			i;

	snprintf(tmp, sizeof(tmp), "R%llu{",
			 (unsigned long long) json_reader_record_number(r));
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

static bool
drain(JsonReader *r, const Cfg *cfg, Str *out)
{
	const ReaderField *f;
	int			n;
	char		tmp[64];

	for (;;)
	{
		ReaderStatus	st = json_reader_next(r, &f, &n);

		switch (st)
		{
			case READER_RECORD:
				if (n != cfg->nwanted)
					str_adds(out, "!WRONG-FIELD-COUNT!");
				render_record(out, r, f, n);
				break;
			case READER_NEED_MORE:
				return false;
			case READER_EOF:
				str_adds(out, "EOF");
				if (json_reader_next(r, &f, &n) != READER_EOF)
					str_adds(out, "!EOF-NOT-STICKY!");
				return true;
			case READER_ERROR:
				snprintf(tmp, sizeof(tmp), "ERR@%llu:",
						 (unsigned long long) json_reader_record_number(r));
				str_adds(out, tmp);
				str_adds(out, json_reader_error(r));
				if (json_reader_next(r, &f, &n) != READER_ERROR)
					str_adds(out, "!ERROR-NOT-STICKY!");
				return true;
		}
	}
}

static char *
parse_cuts(const char *doc, size_t len, const size_t *cuts, size_t ncuts,
		   const Cfg *cfg, bool drain_between)
{
	JsonReader *r = json_reader_create(cfg->format, cfg->rows_path,
									   cfg->wanted, cfg->nwanted,
									   cfg->max_record);
	Str			out = {0};
	size_t		pos = 0;
	size_t		i;
	bool		ended = false;

	if (r == NULL)
		return strdup("!CREATE-FAILED!");
	for (i = 0; i <= ncuts && !ended; i++)
	{
		size_t		next = (i < ncuts) ? cuts[i] : len;

		if (!json_reader_feed(r, doc + pos, next - pos))
			str_adds(&out, "!FEED-FAILED!");
		pos = next;
		if (drain_between)
			ended = drain(r, cfg, &out);
	}
	if (!ended)
	{
		json_reader_finish(r);
		if (!drain(r, cfg, &out))
			str_adds(&out, "!NEED-MORE-AFTER-FINISH!");
	}
	json_reader_free(r);
	if (out.data == NULL)
		str_adds(&out, "");
	return out.data;
}

static char *
parse_whole(const char *doc, size_t len, const Cfg *cfg)
{
	return parse_cuts(doc, len, NULL, 0, cfg, true);
}

/* Feed in pieces of "step" bytes. */
static char *
parse_step(const char *doc, size_t len, size_t step, const Cfg *cfg,
		   bool drain_between)
{
	size_t		ncuts = (len > 0) ? (len - 1) / step : 0;
	size_t	   *cuts = malloc((ncuts + 1) * sizeof(size_t));
	size_t		i;
	char	   *res;

	for (i = 0; i < ncuts; i++)
		cuts[i] = (i + 1) * step;
	res = parse_cuts(doc, len, cuts, ncuts, cfg, drain_between);
	free(cuts);
	return res;
}

/*
 * Check doc against the expected rendering fed whole, then check that every
 * two-piece split, every three-piece split (short documents), byte-by-byte
 * feeding with and without reading in between all give the same result.
 */
static void
check_cfg(const char *name, const char *doc, const Cfg *cfg,
		  const char *expected)
{
	size_t		len = strlen(doc);
	char	   *whole = parse_whole(doc, len, cfg);
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
		res = parse_cuts(doc, len, cuts, 1, cfg, true);
		if (strcmp(res, whole) != 0)
		{
			bad_at = (long) i;
			fprintf(stderr, "%s: split at %zu\n  got:  %s\n  whole: %s\n",
					name, i, res, whole);
		}
		free(res);
	}
	UNIT_CHECK(bad_at < 0, "%s: split at %ld differs", name, bad_at);

	if (len <= 60)
	{
		for (i = 0; i <= len && bad_at < 0; i++)
		{
			for (j = i; j <= len && bad_at2 < 0; j++)
			{
				cuts[0] = i;
				cuts[1] = j;
				res = parse_cuts(doc, len, cuts, 2, cfg, true);
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

	res = parse_step(doc, len, 1, cfg, true);
	UNIT_CHECK(strcmp(res, whole) == 0,
			   "%s: byte by byte\n  got:  %s\n  whole: %s", name, res, whole);
	free(res);

	res = parse_step(doc, len, 1, cfg, false);
	UNIT_CHECK(strcmp(res, whole) == 0,
			   "%s: byte by byte, read at the end\n  got:  %s\n  whole: %s",
			   name, res, whole);
	free(res);

	free(whole);
}

/* The usual settings: Canvas Data 2 style fields. */
static const JsonWantedPath std_wanted[] = {
	{"student_id", true},
	{"value.score", false},
	{"key.id", false}
};

static void
check_lines(const char *name, const char *doc, const char *expected)
{
	Cfg			cfg = {JSON_FORMAT_LINES, NULL, std_wanted, 3, 0};

	check_cfg(name, doc, &cfg, expected);
}

static void
check_array(const char *name, const char *rows_path, const char *doc,
			const char *expected)
{
	Cfg			cfg = {JSON_FORMAT_ARRAY, rows_path, std_wanted, 3, 0};

	check_cfg(name, doc, &cfg, expected);
}

static void
check_wanted(const char *name, JsonFormat format, const JsonWantedPath *w,
			 int nw, size_t max_record, const char *doc, const char *expected)
{
	Cfg			cfg = {format, NULL, w, nw, max_record};

	check_cfg(name, doc, &cfg, expected);
}

/* ---------------------------------------------------------------- */

static void
test_lines(void)
{
	check_lines("canvas data 2 records",
				"{\"meta\":{\"action\":\"U\",\"ts\":\"2024-05-01T10:00:00Z\"},"
				"\"key\":{\"id\":17},\"value\":{\"score\":9.5,\"student_id\":\"x\"},"
				"\"student_id\":\"S17\"}\n"
				"{\"meta\":{\"action\":\"D\"},\"key\":{\"id\":18}}\n",
				"R1{'S17','9.5','17'}R2{\\N,\\N,'18'}EOF");
	check_lines("empty input", "", "EOF");
	check_lines("only whitespace", " \n\r\n\t \n", "EOF");
	check_lines("blank lines between records", "\n\n{\"key\":{\"id\":1}}\n\n\n{}\n\n",
				"R1{\\N,\\N,'1'}R2{\\N,\\N,\\N}EOF");
	check_lines("several objects on a line",
				"{\"key\":{\"id\":1}} {\"key\":{\"id\":2}}{\"key\":{\"id\":3}}",
				"R1{\\N,\\N,'1'}R2{\\N,\\N,'2'}R3{\\N,\\N,'3'}EOF");
	check_lines("an object spanning lines",
				"{\n  \"key\": {\n    \"id\": 1\n  },\n  \"value\": {\"score\": 2}\n}\n",
				"R1{\\N,'2','1'}EOF");
	check_lines("CRLF and no final newline",
				"{\"student_id\":1}\r\n{\"student_id\":2}",
				"R1{'1',\\N,\\N}R2{'2',\\N,\\N}EOF");
	check_lines("empty object", "{}", "R1{\\N,\\N,\\N}EOF");
}

static void
test_values(void)
{
	static const JsonWantedPath w[] = {{"v", false}};
	static const JsonWantedPath w2[] = {{"a", false}, {"b", false}, {"c", false}};

	check_wanted("strings are unescaped", JSON_FORMAT_LINES, w, 1, 0,
				 "{\"v\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}\n"
				 "{\"v\":\"\\u00e9\\u20ac \\ud83d\\ude00 \xc3\xa9\"}\n"
				 "{\"v\":\"\"}\n{\"v\":\"nul\\u0000byte\"}\n",
				 "R1{'a\"b\\\\c/d\b\f\\n\\r\\t'}"
				 "R2{'\xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9'}"
				 "R3{''}R4{'nul\\0byte'}EOF");
	check_wanted("numbers are kept verbatim", JSON_FORMAT_LINES, w, 1, 0,
				 "{\"v\":0.1}{\"v\":12345678901234567890}{\"v\":-0}"
				 "{\"v\":1.50}{\"v\":-2.5e-3}{\"v\":1E400}{\"v\":0}"
				 "{\"v\":123456789012345678901234567890.000000000000000000001}",
				 "R1{'0.1'}R2{'12345678901234567890'}R3{'-0'}R4{'1.50'}"
				 "R5{'-2.5e-3'}R6{'1E400'}R7{'0'}"
				 "R8{'123456789012345678901234567890.000000000000000000001'}EOF");
	check_wanted("true, false, null", JSON_FORMAT_LINES, w2, 3, 0,
				 "{\"a\":true,\"b\":false,\"c\":null}",
				 "R1{'true','false',\\N}EOF");
	check_wanted("absent is NULL, empty string is not", JSON_FORMAT_LINES, w2,
				 3, 0, "{\"a\":\"\",\"x\":1}", "R1{'',\\N,\\N}EOF");
	check_wanted("objects and arrays as compact JSON text", JSON_FORMAT_LINES,
				 w2, 3, 0,
				 "{\"a\": { \"x\" : [ 1 , 2.50 , { } , [ ] , null , true ] ,"
				 " \"y\\u0041\": \"q\\\"\\n\\u0001\\/\" } ,"
				 " \"b\" : [ ], \"c\": {}}",
				 "R1{'{\"x\":[1,2.50,{},[],null,true],\"yA\":\"q\\\\\"\\\\n\\\\u0001/\"}',"
				 "'[]','{}'}EOF");
	check_wanted("nested arrays", JSON_FORMAT_LINES, w2, 3, 0,
				 "{\"a\":[[1,[2,[3]]],[],[[]]],\"b\":[{\"a\":[{}]}]}",
				 "R1{'[[1,[2,[3]]],[],[[]]]','[{\"a\":[{}]}]',\\N}EOF");
	check_wanted("UTF-8 and control characters in nested text",
				 JSON_FORMAT_LINES, w, 1, 0,
				 "{\"v\":{\"\\u00e9\":\"\\u20ac\\t\\u001f\\u007f\"}}",
				 "R1{'{\"\xc3\xa9\":\"\xe2\x82\xac\\\\t\\\\u001f\x7f\"}'}EOF");
}

static void
test_matching(void)
{
	static const JsonWantedPath loose[] = {{"current_score", true}};
	static const JsonWantedPath exact[] = {{"current_score", false}};
	static const JsonWantedPath exact2[] = {{"Current Score", false}};
	static const JsonWantedPath loose2[] = {{"Current-SCORE", true}};
	static const JsonWantedPath deep[] = {
		{"a.b.c", false}, {"a.b", false}, {"a", false}, {"A.B.C", true}
	};
	static const JsonWantedPath twice[] = {
		{"x", false}, {"x", false}, {"X", true}
	};
	static const JsonWantedPath utf[] = {{"note_\xc3\xa9l\xc3\xa8ve", true}};
	static const JsonWantedPath nested[] = {
		{"value", false}, {"value.score", false}, {"value.sub", false},
		{"value.sub.k", false}, {"value.sub", false}
	};
	static const JsonWantedPath empty_seg[] = {{"", false}, {"a.", false}};
	const char *doc = "{\"Current Score\":\"90.5\"}\n{\"current_score\":1}\n"
		"{\"CURRENT_SCORE\":2}\n{\"current score \":3}\n{\"current.score\":4}\n";

	check_wanted("loose", JSON_FORMAT_LINES, loose, 1, 0, doc,
				 "R1{'90.5'}R2{'1'}R3{'2'}R4{'3'}R5{'4'}EOF");
	check_wanted("loose drops what is not a letter or digit", JSON_FORMAT_LINES,
				 loose, 1, 0,
				 "{\"CurrentScore\":1}{\"current__score\":2}{\"currents core\":3}"
				 "{\"current_scor\":4}{\"current_scores\":5}",
				 "R1{'1'}R2{'2'}R3{'3'}R4{\\N}R5{\\N}EOF");
	check_wanted("exact", JSON_FORMAT_LINES, exact, 1, 0, doc,
				 "R1{\\N}R2{'1'}R3{\\N}R4{\\N}R5{\\N}EOF");
	check_wanted("exact with a space", JSON_FORMAT_LINES, exact2, 1, 0, doc,
				 "R1{'90.5'}R2{\\N}R3{\\N}R4{\\N}R5{\\N}EOF");
	check_wanted("loose path is normalized too", JSON_FORMAT_LINES, loose2, 1,
				 0, doc, "R1{'90.5'}R2{'1'}R3{'2'}R4{'3'}R5{'4'}EOF");
	check_wanted("loose keeps non-ASCII bytes", JSON_FORMAT_LINES, utf, 1, 0,
				 "{\"Note \xc3\xa9l\xc3\xa8ve\":1}{\"note_\xc3\x89l\xc3\xa8ve\":2}"
				 "{\"note_\\u00e9l\\u00e8ve\":3}",
				 "R1{'1'}R2{\\N}R3{'3'}EOF");
	check_wanted("first match wins", JSON_FORMAT_LINES, loose, 1, 0,
				 "{\"Current Score\":null,\"current_score\":5}"
				 "{\"current_score\":6,\"Current Score\":7}",
				 "R1{\\N}R2{'6'}EOF");
	check_wanted("first match wins across duplicate objects",
				 JSON_FORMAT_LINES, deep, 4, 0,
				 "{\"a\":{\"x\":1},\"a\":{\"b\":{\"c\":2}},\"a\":{\"b\":{\"c\":3}}}",
				 "R1{'2','{\"c\":2}','{\"x\":1}','2'}EOF");
	check_wanted("paths through non-objects", JSON_FORMAT_LINES, deep, 4, 0,
				 "{\"a\":[{\"b\":{\"c\":1}}]}{\"a\":{\"b\":5}}{\"a\":{\"b\":\"s\"},\"A\":{\"b\":{\"C\":6}}}",
				 "R1{\\N,\\N,'[{\"b\":{\"c\":1}}]',\\N}R2{\\N,'5','{\"b\":5}',\\N}"
				 "R3{\\N,'s','{\"b\":\"s\"}','6'}EOF");
	check_wanted("same path twice, loose and exact", JSON_FORMAT_LINES, twice,
				 3, 0, "{\"X\":1,\"x\":2}{\"x\":{\"y\":[1]}}",
				 "R1{'2','2','1'}R2{'{\"y\":[1]}','{\"y\":[1]}','{\"y\":[1]}'}EOF");
	check_wanted("values nested in a wanted object", JSON_FORMAT_LINES, nested,
				 5, 0,
				 "{\"value\":{\"a\":1,\"sub\":{\"k\":\"v\",\"z\":[1]},\"score\":7,\"t\":0}}",
				 "R1{'{\"a\":1,\"sub\":{\"k\":\"v\",\"z\":[1]},\"score\":7,\"t\":0}',"
				 "'7','{\"k\":\"v\",\"z\":[1]}','v','{\"k\":\"v\",\"z\":[1]}'}EOF");
	check_wanted("keys at the wrong depth do not match", JSON_FORMAT_LINES,
				 nested, 5, 0,
				 "{\"score\":1,\"x\":{\"value\":{\"score\":2}},\"sub\":{\"k\":3}}",
				 "R1{\\N,\\N,\\N,\\N,\\N}EOF");
	check_wanted("empty key segments", JSON_FORMAT_LINES, empty_seg, 2, 0,
				 "{\"\":1,\"a\":{\"\":2}}", "R1{'1','2'}EOF");
	check_wanted("escaped keys match", JSON_FORMAT_LINES, exact, 1, 0,
				 "{\"current\\u005fscore\":1}", "R1{'1'}EOF");
	check_wanted("no wanted fields", JSON_FORMAT_LINES, NULL, 0, 0,
				 "{\"a\":1}{}\n{\"b\":[{}]}", "R1{}R2{}R3{}EOF");
}

static void
test_array(void)
{
	check_array("top-level array", NULL,
				"[{\"student_id\":1},{\"key\":{\"id\":2}} ,\n {\"value\":{\"score\":3}}]",
				"R1{'1',\\N,\\N}R2{\\N,\\N,'2'}R3{\\N,'3',\\N}EOF");
	check_array("empty rows_path is the top level", "",
				"[{\"student_id\":1}]", "R1{'1',\\N,\\N}EOF");
	check_array("empty array", NULL, " [ ] ", "EOF");
	check_array("top level is an object", NULL, "{\"rows\":[]}",
				"ERR@0:the JSON document is not an array");
	check_array("top level is a number", NULL, "5",
				"ERR@0:the JSON document is not an array");
	check_array("element is not an object", NULL,
				"[{\"student_id\":1},\"two\",{}]",
				"R1{'1',\\N,\\N}ERR@2:record 2 is not a JSON object");
	check_array("element is an array", NULL, "[[{}]]",
				"ERR@1:record 1 is not a JSON object");
	check_array("element is null", NULL, "[{},null]",
				"R1{\\N,\\N,\\N}ERR@2:record 2 is not a JSON object");
	check_array("empty document", NULL, "",
				"ERR@0:malformed JSON: parse error: premature EOF");
	check_array("truncated", NULL, "[{\"student_id\":1},{\"student_id\":",
				"R1{'1',\\N,\\N}ERR@2:malformed JSON in record 2: "
				"parse error: premature EOF");
	check_array("truncated after a record", NULL, "[{\"student_id\":1}",
				"R1{'1',\\N,\\N}ERR@2:malformed JSON in record 2: "
				"parse error: premature EOF");
	check_array("trailing comma", NULL, "[{},]",
				"R1{\\N,\\N,\\N}ERR@2:malformed JSON in record 2: "
				"parse error: unallowed token at this point in JSON text");
	check_array("garbage after the array", NULL, "[{}] x",
				"R1{\\N,\\N,\\N}ERR@1:malformed JSON after record 1: "
				"parse error: trailing garbage");
	check_array("second document", NULL, "[{}][{}]",
				"R1{\\N,\\N,\\N}ERR@1:malformed JSON after record 1: "
				"parse error: trailing garbage");
	check_array("whitespace after the array", NULL, "[{}] \n\r\n", "R1{\\N,\\N,\\N}EOF");
}

static void
test_rows_path(void)
{
	check_array("data.rows",
				"data.rows",
				"{\"meta\":{\"page\":1,\"rows\":[{\"student_id\":\"no\"}]},"
				"\"data\":{\"count\":2,\"rows\":[{\"student_id\":1},"
				"{\"student_id\":2}],\"more\":[{\"student_id\":3}]},\"next\":null}",
				"R1{'1',\\N,\\N}R2{'2',\\N,\\N}EOF");
	check_array("rows_path missing", "data.rows",
				"{\"meta\":{},\"data\":{\"other\":[{}]}}", "EOF");
	check_array("rows_path parent missing", "data.rows",
				"{\"meta\":{\"rows\":[{}]},\"rows\":[{}]}", "EOF");
	check_array("rows_path parent not an object", "data.rows",
				"{\"data\":[{\"rows\":[{}]}],\"x\":1}", "EOF");
	check_array("document not an object", "data.rows", "[{\"data\":{\"rows\":[{}]}}]",
				"EOF");
	check_array("rows_path null", "data.rows",
				"{\"data\":{\"rows\":null},\"x\":[1]}", "EOF");
	check_array("rows_path not an array", "data.rows",
				"{\"data\":{\"rows\":{\"student_id\":1}}}",
				"ERR@0:\"data.rows\" is not a JSON array");
	check_array("rows_path a string", "data.rows",
				"{\"data\":{\"rows\":\"[]\"}}",
				"ERR@0:\"data.rows\" is not a JSON array");
	check_array("first rows_path wins", "data.rows",
				"{\"data\":{\"rows\":[{\"student_id\":1}],\"rows\":[{\"student_id\":2}]},"
				"\"data\":{\"rows\":[{\"student_id\":3}]}}",
				"R1{'1',\\N,\\N}EOF");
	check_array("parent found again after a miss", "data.rows",
				"{\"data\":{\"x\":1},\"data\":{\"rows\":[{\"student_id\":2}]}}",
				"R1{'2',\\N,\\N}EOF");
	check_array("rows_path is exact", "data.rows",
				"{\"Data\":{\"rows\":[{}]},\"data\":{\"Rows\":[{}]}}", "EOF");
	check_array("one segment", "rows",
				"{\"rows\":[{\"key\":{\"id\":\"k\"}}],\"rows2\":[{}]}",
				"R1{\\N,\\N,'k'}EOF");
	check_array("deep path", "a.b.c",
				"{\"a\":{\"x\":{\"b\":{\"c\":[{}]}},\"b\":{\"c\":[{\"student_id\":1},{}]}}}",
				"R1{'1',\\N,\\N}R2{\\N,\\N,\\N}EOF");
	check_array("malformed after the rows", "data.rows",
				"{\"data\":{\"rows\":[{}]},\"next\":nul}",
				"R1{\\N,\\N,\\N}ERR@1:malformed JSON after record 1: "
				"lexical error: invalid string in json text.");
	check_array("malformed before the rows", "data.rows",
				"{\"meta\":[1,,2],\"data\":{\"rows\":[{}]}}",
				"ERR@0:malformed JSON: parse error: unallowed token at this point "
				"in JSON text");
	check_array("truncated after the rows", "data.rows",
				"{\"data\":{\"rows\":[{}]}",
				"R1{\\N,\\N,\\N}ERR@1:malformed JSON after record 1: "
				"parse error: premature EOF");
	check_array("record not an object in rows_path", "data.rows",
				"{\"data\":{\"rows\":[{},1]}}",
				"R1{\\N,\\N,\\N}ERR@2:record 2 is not a JSON object");
}

/*
 * rows_path after large members: a 300 kB string and a deep, wide object
 * come first, and must be skipped without being kept.
 */
static void
test_rows_after_large_members(void)
{
	Str			doc = {0};
	Str			want = {0};
	Cfg			cfg = {JSON_FORMAT_ARRAY, "data.rows", std_wanted, 3, 1 << 20};
	int			i;
	size_t		steps[] = {1, 7, 4093, 65536, 1000000};
	size_t		k;
	char		tmp[128];
	char	   *res;

	str_adds(&doc, "{\"blob\":\"");
	for (i = 0; i < 3000; i++)
		str_adds(&doc, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\\n\\\"..");
	str_adds(&doc, "\",\"meta\":{\"list\":[");
	for (i = 0; i < 20000; i++)
		str_adds(&doc, i ? ",{\"rows\":[{\"student_id\":0}],\"v\":[1,2,3]}" : "{}");
	str_adds(&doc, "]},\"data\":{\"total\":500,\"rows\":[");
	for (i = 0; i < 500; i++)
	{
		snprintf(tmp, sizeof(tmp), "%s{\"student_id\":%d,\"value\":{\"score\":%d.25}}",
				 i ? "," : "", i, i % 10);
		str_adds(&doc, tmp);
		snprintf(tmp, sizeof(tmp), "R%d{'%d','%d.25',\\N}", i + 1, i, i % 10);
		str_adds(&want, tmp);
	}
	str_adds(&doc, "]},\"next\":{\"url\":null}}");
	str_adds(&want, "EOF");

	res = parse_whole(doc.data, doc.len, &cfg);
	UNIT_CHECK(strcmp(res, want.data) == 0,
			   "rows after large members: whole: %.200s", res);
	free(res);
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++)
	{
		res = parse_step(doc.data, doc.len, steps[k], &cfg, k % 2 == 0);
		UNIT_CHECK(strcmp(res, want.data) == 0,
				   "rows after large members, step %zu: %.200s", steps[k], res);
		free(res);
	}

	/* a token longer than max_record in the skipped part is still refused */
	cfg.max_record = 1000;
	res = parse_whole(doc.data, doc.len, &cfg);
	UNIT_CHECK(strcmp(res, "ERR@0:JSON token exceeds 1000 bytes") == 0,
			   "long token before the rows: %s", res);
	free(res);
	res = parse_step(doc.data, doc.len, 333, &cfg, true);
	UNIT_CHECK(strcmp(res, "ERR@0:JSON token exceeds 1000 bytes") == 0,
			   "long token before the rows, in pieces: %s", res);
	free(res);

	free(doc.data);
	free(want.data);
}

static void
test_errors(void)
{
	check_lines("bare number", "5\n", "ERR@1:record 1 is not a JSON object");
	check_lines("string after a record", "{}\n\"s\"\n",
				"R1{\\N,\\N,\\N}ERR@2:record 2 is not a JSON object");
	check_lines("array record", "{}\n[{}]\n",
				"R1{\\N,\\N,\\N}ERR@2:record 2 is not a JSON object");
	check_lines("null record", "null", "ERR@1:record 1 is not a JSON object");
	check_lines("number at end of input", "{} 12",
				"R1{\\N,\\N,\\N}ERR@2:record 2 is not a JSON object");
	check_lines("malformed value", "{\"key\":{\"id\":1}}\n{\"a\":}\n",
				"R1{\\N,\\N,'1'}ERR@2:malformed JSON in record 2: parse error: "
				"unallowed token at this point in JSON text");
	check_lines("lexical error", "{\"a\":tru}",
				"ERR@1:malformed JSON in record 1: lexical error: invalid string "
				"in json text.");
	check_lines("garbage between records", "{}\n}\n",
				"R1{\\N,\\N,\\N}ERR@2:malformed JSON in record 2: parse error: "
				"unallowed token at this point in JSON text");
	check_lines("truncated record", "{}\n{\"a\":[1,",
				"R1{\\N,\\N,\\N}ERR@2:malformed JSON in record 2: parse error: "
				"premature EOF");
	check_lines("truncated token", "{}\n{\"a\":\"abc",
				"R1{\\N,\\N,\\N}ERR@2:malformed JSON in record 2: parse error: "
				"premature EOF");
	check_lines("truncated literal", "tr",
				"ERR@1:malformed JSON in record 1: lexical error: invalid string "
				"in json text.");
	check_lines("invalid UTF-8", "{\"a\":\"\xff\"}",
				"ERR@1:malformed JSON in record 1: lexical error: invalid bytes "
				"in UTF8 string.");
	check_lines("comments are not JSON", "{} // c\n",
				"R1{\\N,\\N,\\N}ERR@2:malformed JSON in record 2: lexical error: "
				"probable comment found in input text, comments are not enabled.");
	check_lines("key not a string", "{1:2}",
				"ERR@1:malformed JSON in record 1: parse error: invalid object "
				"key (must be a string)");
	check_lines("control character in string", "{\"a\":\"x\ty\"}",
				"ERR@1:malformed JSON in record 1: lexical error: invalid "
				"character inside string.");
}

static void
test_error_sticky(void)
{
	Cfg			cfg = {JSON_FORMAT_LINES, NULL, std_wanted, 3, 0};
	JsonReader *r = json_reader_create(JSON_FORMAT_LINES, NULL, std_wanted, 3, 0);
	const ReaderField *f;
	int			n;

	UNIT_CHECK(json_reader_record_number(r) == 0, "0 before any record");
	json_reader_feed(r, "{}\n[]\n{}\n", 9);
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_RECORD && n == 3,
			   "first record");
	UNIT_CHECK(json_reader_record_number(r) == 1, "record 1");
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_ERROR, "then error");
	UNIT_CHECK(strcmp(json_reader_error(r), "record 2 is not a JSON object") == 0,
			   "message: %s", json_reader_error(r));
	UNIT_CHECK(json_reader_record_number(r) == 2, "error in record 2");
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_ERROR && f == NULL && n == 0,
			   "still error");
	UNIT_CHECK(json_reader_feed(r, "{}\n", 3), "feed after error is ignored");
	json_reader_finish(r);
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_ERROR, "still error");
	json_reader_free(r);

	r = json_reader_create(JSON_FORMAT_LINES, NULL, std_wanted, 3, 0);
	json_reader_feed(r, "{}\n", 3);
	json_reader_finish(r);
	json_reader_feed(r, "{}\n", 3);
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_ERROR &&
			   strcmp(json_reader_error(r), "data fed after the end of input") == 0,
			   "feeding after finish is an error: %s", json_reader_error(r));
	json_reader_free(r);

	/* unusable arguments */
	{
		static const JsonWantedPath bad[] = {{NULL, false}};

		UNIT_CHECK(json_reader_create(JSON_FORMAT_LINES, "data.rows",
									  std_wanted, 3, 0) == NULL,
				   "rows_path with JSON lines refused");
		UNIT_CHECK(json_reader_create(JSON_FORMAT_ARRAY, NULL, bad, 1, 0) == NULL,
				   "NULL path refused");
		UNIT_CHECK(json_reader_create(JSON_FORMAT_ARRAY, NULL, NULL, -1, 0) == NULL,
				   "negative count refused");
		UNIT_CHECK(json_reader_create((JsonFormat) 7, NULL, NULL, 0, 0) == NULL,
				   "unknown format refused");
	}
	(void) cfg;
}

static void
test_bom(void)
{
	check_lines("BOM", "\xEF\xBB\xBF{\"student_id\":1}", "R1{'1',\\N,\\N}EOF");
	check_lines("BOM only", "\xEF\xBB\xBF", "EOF");
	check_array("BOM before an array", NULL, "\xEF\xBB\xBF[{}]", "R1{\\N,\\N,\\N}EOF");
	check_lines("BOM later is an error", "{}\xEF\xBB\xBF",
				"R1{\\N,\\N,\\N}ERR@2:malformed JSON in record 2: lexical error: "
				"invalid char in json text.");
	check_lines("partial BOM", "\xEF\xBB{}",
				"ERR@1:malformed JSON in record 1: lexical error: invalid char "
				"in json text.");
}

static void
test_max_record(void)
{
	static const JsonWantedPath w[] = {{"a", false}, {"b", false}};
	static const JsonWantedPath w2[] = {{"a", false}, {"a.x", false}};

	check_wanted("values fit exactly", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"a\":\"12345\",\"b\":\"12345\",\"c\":\"skipped\"}",
				 "R1{'12345','12345'}EOF");
	check_wanted("values one byte over", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"a\":\"12345\"}{\"a\":\"12345\",\"b\":\"123456\"}",
				 "R1{'12345',\\N}ERR@2:record 2 exceeds 10 bytes of extracted values");
	check_wanted("nested text counts", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"a\":[1,2,3,4]}{\"a\":[1,2,3,4,5]}",
				 "R1{'[1,2,3,4]',\\N}ERR@2:record 2 exceeds 10 bytes of extracted values");
	check_wanted("nested captures count once each", JSON_FORMAT_LINES, w2, 2, 16,
				 "{\"a\":{\"x\":[1]}}{\"a\":{\"x\":[1,2,3]}}",
				 "R1{'{\"x\":[1]}','[1]'}ERR@2:record 2 exceeds 16 bytes of extracted values");
	check_wanted("a long token", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"c\":\"1234567\"}{\"c\":\"12345678\"}",
				 "R1{\\N,\\N}ERR@2:JSON token in record 2 exceeds 10 bytes");
	check_wanted("a long number", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"c\":123456789}\n{\"c\":1234567890}",
				 "R1{\\N,\\N}ERR@2:JSON token in record 2 exceeds 10 bytes");
	check_wanted("whitespace counts before a token", JSON_FORMAT_LINES, w, 2, 10,
				 "{}           {}",
				 "R1{\\N,\\N}ERR@2:JSON token in record 2 exceeds 10 bytes");
	check_wanted("long whitespace at the end", JSON_FORMAT_LINES, w, 2, 10,
				 "{}           ",
				 "R1{\\N,\\N}ERR@2:JSON token in record 2 exceeds 10 bytes");
	check_wanted("a long token before an error", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"c\":\"123456789\\q\"}",
				 "ERR@1:JSON token in record 1 exceeds 10 bytes");
	check_wanted("a long bad token after a value", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"a\":06172837283949}",
				 "ERR@1:JSON token in record 1 exceeds 10 bytes");
	check_wanted("a short bad token after a value", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"a\":0617}",
				 "ERR@1:malformed JSON in record 1: parse error: after key and "
				 "value, inside map, I expect ',' or '}'");
	check_wanted("an error before the limit", JSON_FORMAT_LINES, w, 2, 10,
				 "{\"c\":\"12\\q3456789\"}",
				 "ERR@1:malformed JSON in record 1: lexical error: inside a string, "
				 "'\\' occurs before a character which it may not.");
}

static void
test_depth(void)
{
	Str			doc = {0};
	Cfg			cfg = {JSON_FORMAT_LINES, NULL, std_wanted, 3, 0};
	int			i;
	char	   *res;

	str_adds(&doc, "{\"a\":");
	for (i = 0; i < 9999; i++)
		str_addc(&doc, '[');
	for (i = 0; i < 9999; i++)
		str_addc(&doc, ']');
	str_adds(&doc, "}\n{\"a\":");
	for (i = 0; i < 10000; i++)
		str_addc(&doc, '[');
	res = parse_whole(doc.data, doc.len, &cfg);
	UNIT_CHECK(strcmp(res, "R1{\\N,\\N,\\N}ERR@2:JSON nesting in record 2 "
					  "exceeds 10000 levels") == 0, "depth: %s", res);
	free(res);
	free(doc.data);
}

static void
test_first_keys(void)
{
	JsonReader *r;
	const ReaderField *f;
	int			n;
	const char *const *names;
	int			nn;
	Str			all = {0};
	int			i;
	const char *doc =
		"{\"meta\":{\"action\":\"U\",\"ts\":\"t\"},\"key\":{\"id\":1},"
		"\"value\":{\"score\":1,\"nested\":{\"deep\":1},\"list\":[{\"no\":1}]},"
		"\"empty\":{},\"Student ID\":\"s\",\"meta\":{\"action\":\"D\",\"x\":1}}\n"
		"{\"other\":1}\n";

	r = json_reader_create(JSON_FORMAT_LINES, NULL, std_wanted, 3, 0);
	json_reader_first_keys(r, &names, &nn);
	UNIT_CHECK(nn == 0, "no keys before the first record");
	json_reader_feed(r, doc, strlen(doc));
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_RECORD, "first record");
	json_reader_first_keys(r, &names, &nn);
	for (i = 0; i < nn; i++)
	{
		if (i > 0)
			str_adds(&all, ", ");
		str_adds(&all, names[i]);
	}
	UNIT_CHECK(all.data != NULL &&
			   strcmp(all.data, "meta.action, meta.ts, key.id, value.score, "
					  "value.nested, value.list, empty, Student ID, meta.x") == 0,
			   "first keys: %s", all.data ? all.data : "");
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_RECORD, "second record");
	json_reader_first_keys(r, &names, &nn);
	UNIT_CHECK(nn == 9, "still the first record's keys (%d)", nn);
	json_reader_free(r);
	free(all.data);

	/* names end at a NUL from \u0000; duplicates are listed once */
	r = json_reader_create(JSON_FORMAT_LINES, NULL, NULL, 0, 0);
	doc = "{\"a\\u0000b\":1,\"a\":2,\"\":{\"\":3,\"x\\u0000\":4}}";
	json_reader_feed(r, doc, strlen(doc));
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_RECORD, "record");
	json_reader_first_keys(r, &names, &nn);
	UNIT_CHECK(nn == 3 && strcmp(names[0], "a") == 0 &&
			   strcmp(names[1], ".") == 0 && strcmp(names[2], ".x") == 0,
			   "keys with NUL: %d", nn);
	json_reader_free(r);

	r = json_reader_create(JSON_FORMAT_ARRAY, "rows", NULL, 0, 0);
	json_reader_feed(r, "{\"x\":{\"a\":1},\"rows\":[]}", 23);
	json_reader_finish(r);
	UNIT_CHECK(json_reader_next(r, &f, &n) == READER_EOF, "no records");
	json_reader_first_keys(r, &names, &nn);
	UNIT_CHECK(nn == 0 && names != NULL, "no keys without records (%d)", nn);
	json_reader_free(r);
}

/* Many records through small chunks; memory stays bounded. */
static void
test_stream(void)
{
	static const JsonWantedPath w[] = {
		{"key.id", false}, {"value.current_score", true}, {"value.comment", false}
	};
	Str			doc = {0};
	char		line[512];
	int			i;
	size_t		pos = 0;
	JsonReader *r = json_reader_create(JSON_FORMAT_LINES, NULL, w, 3, 1 << 20);
	const ReaderField *f;
	int			n;
	int			nrec = 0;
	int			bad = 0;
	ReaderStatus	st;
	size_t		base_mem;
	size_t		peak_mem = 0;
	struct mallinfo2 mi;

	for (i = 0; i < 100000; i++)
	{
		snprintf(line, sizeof(line),
				 "{\"meta\":{\"action\":\"U\",\"ts\":\"2024-05-01T10:00:%02dZ\"},"
				 "\"key\":{\"id\":%d},\"value\":{\"Current Score\":%d.%d,"
				 "\"comment\":%s,\"history\":[%d,%d,{\"x\":\"%d\"}],"
				 "\"padding\":\"................................................\"}}\n",
				 i % 60, i, i % 100, i % 7,
				 (i % 3 == 0) ? "null" : "\"ok \\u00e9\\n\"", i, i + 1, i);
		str_adds(&doc, line);
	}
	mi = mallinfo2();
	base_mem = mi.uordblks;
	for (;;)
	{
		st = json_reader_next(r, &f, &n);
		if (st == READER_NEED_MORE)
		{
			size_t		take = (doc.len - pos < 131072) ? doc.len - pos : 131072;

			if (take == 0)
				json_reader_finish(r);
			else
				json_reader_feed(r, doc.data + pos, take);
			pos += take;
			mi = mallinfo2();
			if (mi.uordblks > peak_mem)
				peak_mem = mi.uordblks;
			continue;
		}
		if (st != READER_RECORD)
			break;
		snprintf(line, sizeof(line), "%d.%d", nrec % 100, nrec % 7);
		if (n != 3 || atoi(f[0].value) != nrec || strcmp(f[1].value, line) != 0 ||
			f[2].is_null != (nrec % 3 == 0) ||
			(nrec % 3 != 0 && strcmp(f[2].value, "ok \xc3\xa9\n") != 0) ||
			json_reader_record_number(r) != (uint64_t) nrec + 1)
			bad++;
		nrec++;
	}
	UNIT_CHECK(st == READER_EOF && nrec == 100000 && bad == 0,
			   "stream: status %d, %d records, %d bad", st, nrec, bad);
	/*
	 * One 128 kB feed, the queue of one slice, yajl's state: far below 1 MB.
	 * (Under an allocator that bypasses the C library's heap, mallinfo2()
	 * reports nothing and the check is skipped.)
	 */
	if (base_mem > 0)
		UNIT_CHECK(peak_mem - base_mem < 1024 * 1024,
				   "memory grew by %zu bytes while streaming %zu bytes",
				   peak_mem - base_mem, doc.len);
	json_reader_free(r);
	free(doc.data);
}

/* Documents full of traps, checked at every chunk boundary. */
static void
test_every_boundary(void)
{
	static const JsonWantedPath w[] = {
		{"id", false}, {"Score", true}, {"v", false}, {"v.x", false}, {"s", false}
	};
	static const struct
	{
		const char *name;
		JsonFormat	format;
		const char *rows_path;
		const char *doc;
		const char *expected;
	}			docs[] =
	{
		{
			"jsonl numbers at every boundary", JSON_FORMAT_LINES, NULL,
			"{\"id\":12345,\"score\":-0.5e10}\n{\"id\":1}{\"id\":2.0}\r\n",
			"R1{'12345','-0.5e10',\\N,\\N,\\N}R2{'1',\\N,\\N,\\N,\\N}"
			"R3{'2.0',\\N,\\N,\\N,\\N}EOF"
		},
		{
			"jsonl escapes", JSON_FORMAT_LINES, NULL,
			"{\"s\":\"\\u00e9\\ud83d\\ude00\\\"\",\"v\":{\"x\":\"\\n\",\"y\":[true]}}",
			"R1{\\N,\\N,'{\"x\":\"\\\\n\",\"y\":[true]}','\\n','\xc3\xa9\xf0\x9f\x98\x80\"'}EOF"
		},
		{
			"array with rows_path", JSON_FORMAT_ARRAY, "d.r",
			"{\"x\":[{\"id\":0}],\"d\":{\"r\":[{\"id\":1,\"SCORE\":null},{\"v\":[]}]},\"y\":false}",
			"R1{'1',\\N,\\N,\\N,\\N}R2{\\N,\\N,'[]',\\N,\\N}EOF"
		},
		{
			"array error", JSON_FORMAT_ARRAY, NULL,
			"[{\"id\":1},{\"id\":tru}]",
			"R1{'1',\\N,\\N,\\N,\\N}ERR@2:malformed JSON in record 2: "
			"lexical error: invalid string in json text."
		},
		{
			"literals at boundaries", JSON_FORMAT_LINES, NULL,
			"{\"id\":true,\"score\":false,\"s\":null}\n{\"v\":{\"x\":null}}",
			"R1{'true','false',\\N,\\N,\\N}R2{\\N,\\N,'{\"x\":null}',\\N,\\N}EOF"
		},
		{
			"not an object at a boundary", JSON_FORMAT_LINES, NULL,
			"{\"id\":1}\n12\n",
			"R1{'1',\\N,\\N,\\N,\\N}ERR@2:record 2 is not a JSON object"
		},
		{
			"BOM and whitespace", JSON_FORMAT_LINES, NULL,
			"\xEF\xBB\xBF \n{\"id\":\"a\"}\n \n",
			"R1{'a',\\N,\\N,\\N,\\N}EOF"
		},
	};
	size_t		i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
	{
		Cfg			cfg = {docs[i].format, docs[i].rows_path, w, 5, 0};

		check_cfg(docs[i].name, docs[i].doc, &cfg, docs[i].expected);
	}

	{
		Cfg			cfg = {JSON_FORMAT_LINES, NULL, w, 5, 12};

		check_cfg("limits at every boundary",
				  "{\"id\":\"1234\",\"v\":[1,2]}\n{\"s\":\"12345678\"}\n{\"zz\":\"1234567890\"}",
				  &cfg,
				  "R1{'1234',\\N,'[1,2]',\\N,\\N}R2{\\N,\\N,\\N,\\N,'12345678'}"
				  "ERR@3:JSON token in record 3 exceeds 12 bytes");
	}
}

/* ---------------------------------------------------------------- */
/* Random documents against a reference built from the generated values */

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

typedef enum VKind
{
	V_NULL,
	V_TRUE,
	V_FALSE,
	V_NUM,
	V_STR,
	V_OBJ,
	V_ARR
} VKind;

typedef struct Val Val;

struct Val
{
	VKind		kind;
	char	   *text;			/* number text, or decoded string */
	size_t		len;
	int			n;				/* members or elements */
	char	  **keys;			/* decoded keys */
	size_t	   *keylens;
	Val		  **items;
};

static const char *const key_pool[] = {
	"id", "ID", "Id", "score", "Score", "current_score", "Current Score",
	"value", "key", "meta", "x", "a.b", "", "\xc3\xa9", "Caf\xc3\xa9", "sub"
};

static const char *const str_atoms[] = {
	"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f", "\x01",
	"\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "text",
	"{", "]", ",", ":"
};

static const char *const num_pool[] = {
	"0", "-0", "1", "17", "-42", "0.1", "1.50", "3.14159", "1e5", "1E-5",
	"-2.5e+300", "12345678901234567890", "98765432109876543210.123456789",
	"0.000001"
};

static Val *
gen_value(int depth)
{
	Val		   *v = calloc(1, sizeof(Val));
	int			k = (int) rng_below(depth >= 3 ? 5 : 8);
	int			i;

	switch (k)
	{
		case 0:
			v->kind = V_NULL;
			break;
		case 1:
			v->kind = rng_below(2) ? V_TRUE : V_FALSE;
			break;
		case 2:
			{
				const char *t = num_pool[rng_below(sizeof(num_pool) / sizeof(num_pool[0]))];

				v->kind = V_NUM;
				v->text = strdup(t);
				v->len = strlen(t);
				break;
			}
		case 3:
		case 4:
			{
				Str			s = {0};
				int			na = (int) rng_below(6);

				for (i = 0; i < na; i++)
					str_adds(&s, str_atoms[rng_below(sizeof(str_atoms) / sizeof(str_atoms[0]))]);
				if (s.data == NULL)
					str_adds(&s, "");
				v->kind = V_STR;
				v->text = s.data;
				v->len = s.len;
				break;
			}
		case 5:
		case 6:
			v->kind = V_OBJ;
			/* fall through */
		default:
			if (k == 7)
				v->kind = V_ARR;
			v->n = (int) rng_below(5);
			v->keys = calloc((size_t) v->n + 1, sizeof(char *));
			v->keylens = calloc((size_t) v->n + 1, sizeof(size_t));
			v->items = calloc((size_t) v->n + 1, sizeof(Val *));
			for (i = 0; i < v->n; i++)
			{
				if (v->kind == V_OBJ)
				{
					const char *key = key_pool[rng_below(sizeof(key_pool) / sizeof(key_pool[0]))];

					v->keys[i] = strdup(key);
					v->keylens[i] = strlen(key);
				}
				v->items[i] = gen_value(depth + 1);
			}
			break;
	}
	return v;
}

/* A record: an object of up to seven members, often nested objects. */
static Val *
gen_record(int depth)
{
	Val		   *v = calloc(1, sizeof(Val));
	int			i;

	v->kind = V_OBJ;
	v->n = (int) rng_below(8);
	v->keys = calloc((size_t) v->n + 1, sizeof(char *));
	v->keylens = calloc((size_t) v->n + 1, sizeof(size_t));
	v->items = calloc((size_t) v->n + 1, sizeof(Val *));
	for (i = 0; i < v->n; i++)
	{
		const char *key = key_pool[rng_below(sizeof(key_pool) / sizeof(key_pool[0]))];

		v->keys[i] = strdup(key);
		v->keylens[i] = strlen(key);
		v->items[i] = (depth < 2 && rng_below(3) == 0) ?
			gen_record(depth + 1) : gen_value(depth + 1);
	}
	return v;
}

static void
free_value(Val *v)
{
	int			i;

	for (i = 0; i < v->n; i++)
	{
		free(v->keys[i]);
		free_value(v->items[i]);
	}
	free(v->keys);
	free(v->keylens);
	free(v->items);
	free(v->text);
	free(v);
}

static void
ws(Str *doc)
{
	static const char *const spaces[] = {"", "", "", " ", "\n", "\t", "\r\n  "};

	str_adds(doc, spaces[rng_below(sizeof(spaces) / sizeof(spaces[0]))]);
}

/* Write a string literal with random, valid escaping. */
static void
write_string(Str *doc, const char *s, size_t len)
{
	size_t		i = 0;
	char		tmp[16];

	str_addc(doc, '"');
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		bool		esc = rng_below(6) == 0;

		if (c >= 0xF0 && i + 3 < len && esc)
		{
			/* a four-byte sequence as a surrogate pair */
			unsigned int cp = ((c & 0x07u) << 18) |
				(((unsigned char) s[i + 1] & 0x3Fu) << 12) |
				(((unsigned char) s[i + 2] & 0x3Fu) << 6) |
				((unsigned char) s[i + 3] & 0x3Fu);

			cp -= 0x10000;
			snprintf(tmp, sizeof(tmp), "\\u%04x\\u%04X", 0xD800 + (cp >> 10),
					 0xDC00 + (cp & 0x3FF));
			str_adds(doc, tmp);
			i += 4;
			continue;
		}
		if (c >= 0xE0 && c < 0xF0 && esc)
		{
			unsigned int cp = ((c & 0x0Fu) << 12) |
				(((unsigned char) s[i + 1] & 0x3Fu) << 6) |
				((unsigned char) s[i + 2] & 0x3Fu);

			snprintf(tmp, sizeof(tmp), "\\u%04x", cp);
			str_adds(doc, tmp);
			i += 3;
			continue;
		}
		if (c >= 0xC0 && c < 0xE0 && esc)
		{
			unsigned int cp = ((c & 0x1Fu) << 6) |
				((unsigned char) s[i + 1] & 0x3Fu);

			snprintf(tmp, sizeof(tmp), "\\u%04X", cp);
			str_adds(doc, tmp);
			i += 2;
			continue;
		}
		if (c == '"' || c == '\\' || c < 0x20 || (esc && c < 0x80))
		{
			const char *named = NULL;

			switch (c)
			{
				case '"':
					named = "\\\"";
					break;
				case '\\':
					named = "\\\\";
					break;
				case '/':
					named = "\\/";
					break;
				case '\b':
					named = "\\b";
					break;
				case '\f':
					named = "\\f";
					break;
				case '\n':
					named = "\\n";
					break;
				case '\r':
					named = "\\r";
					break;
				case '\t':
					named = "\\t";
					break;
			}
			if (named != NULL && rng_below(3) != 0)
				str_adds(doc, named);
			else
			{
				snprintf(tmp, sizeof(tmp), "\\u%04x", c);
				str_adds(doc, tmp);
			}
			i++;
			continue;
		}
		str_addc(doc, (char) c);
		i++;
	}
	str_addc(doc, '"');
}

static void
write_value(Str *doc, const Val *v)
{
	int			i;

	switch (v->kind)
	{
		case V_NULL:
			str_adds(doc, "null");
			break;
		case V_TRUE:
			str_adds(doc, "true");
			break;
		case V_FALSE:
			str_adds(doc, "false");
			break;
		case V_NUM:
			str_adds(doc, v->text);
			break;
		case V_STR:
			write_string(doc, v->text, v->len);
			break;
		case V_OBJ:
		case V_ARR:
			str_addc(doc, v->kind == V_OBJ ? '{' : '[');
			for (i = 0; i < v->n; i++)
			{
				if (i > 0)
					str_addc(doc, ',');
				ws(doc);
				if (v->kind == V_OBJ)
				{
					write_string(doc, v->keys[i], v->keylens[i]);
					ws(doc);
					str_addc(doc, ':');
					ws(doc);
				}
				write_value(doc, v->items[i]);
				ws(doc);
			}
			str_addc(doc, v->kind == V_OBJ ? '}' : ']');
			break;
	}
}

/* The compact text the reader must produce for a nested value. */
static void
compact_string(Str *out, const char *s, size_t len)
{
	size_t		i;
	char		tmp[8];

	str_addc(out, '"');
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '"':
				str_adds(out, "\\\"");
				break;
			case '\\':
				str_adds(out, "\\\\");
				break;
			case '\b':
				str_adds(out, "\\b");
				break;
			case '\f':
				str_adds(out, "\\f");
				break;
			case '\n':
				str_adds(out, "\\n");
				break;
			case '\r':
				str_adds(out, "\\r");
				break;
			case '\t':
				str_adds(out, "\\t");
				break;
			default:
				if (c < 0x20)
				{
					snprintf(tmp, sizeof(tmp), "\\u%04x", c);
					str_adds(out, tmp);
				}
				else
					str_addc(out, (char) c);
		}
	}
	str_addc(out, '"');
}

static void
compact_value(Str *out, const Val *v)
{
	int			i;

	switch (v->kind)
	{
		case V_NULL:
			str_adds(out, "null");
			break;
		case V_TRUE:
			str_adds(out, "true");
			break;
		case V_FALSE:
			str_adds(out, "false");
			break;
		case V_NUM:
			str_adds(out, v->text);
			break;
		case V_STR:
			compact_string(out, v->text, v->len);
			break;
		case V_OBJ:
		case V_ARR:
			str_addc(out, v->kind == V_OBJ ? '{' : '[');
			for (i = 0; i < v->n; i++)
			{
				if (i > 0)
					str_addc(out, ',');
				if (v->kind == V_OBJ)
				{
					compact_string(out, v->keys[i], v->keylens[i]);
					str_addc(out, ':');
				}
				compact_value(out, v->items[i]);
			}
			str_addc(out, v->kind == V_OBJ ? '}' : ']');
			break;
	}
}

static unsigned char
ref_norm(unsigned char c)
{
	if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return c;
	if (c >= 'A' && c <= 'Z')
		return (unsigned char) (c - 'A' + 'a');
	return '_';
}

/* key and seg with the bytes the name rule drops removed, folded */
static size_t
ref_fold(const char *s, size_t len, char *out)
{
	size_t		i;
	size_t		n = 0;

	for (i = 0; i < len; i++)
		if (ref_norm((unsigned char) s[i]) != '_')
			out[n++] = (char) ref_norm((unsigned char) s[i]);
	return n;
}

static bool
ref_key_matches(const char *key, size_t klen, const char *seg, size_t slen,
				bool loose)
{
	char		a[256];
	char		b[256];
	size_t		na;
	size_t		nb;

	if (!loose)
		return klen == slen && memcmp(key, seg, klen) == 0;
	if (klen > sizeof(a) || slen > sizeof(b))
		return false;
	na = ref_fold(key, klen, a);
	nb = ref_fold(seg, slen, b);
	return na == nb && memcmp(a, b, na) == 0;
}

/* The first value at path (document order) below object v, or NULL. */
static const Val *
ref_find(const Val *v, const char *path, bool loose)
{
	const char *dot = strchr(path, '.');
	size_t		slen = dot ? (size_t) (dot - path) : strlen(path);
	int			i;

	if (v->kind != V_OBJ)
		return NULL;
	for (i = 0; i < v->n; i++)
	{
		if (!ref_key_matches(v->keys[i], v->keylens[i], path, slen, loose))
			continue;
		if (dot == NULL)
			return v->items[i];
		else
		{
			const Val  *found = ref_find(v->items[i], dot + 1, loose);

			if (found != NULL)
				return found;
		}
	}
	return NULL;
}

static void
ref_render(Str *want, const Val *rec, uint64_t number,
		   const JsonWantedPath *w, int nw)
{
	char		tmp[32];
	int			i;

	snprintf(tmp, sizeof(tmp), "R%llu{", (unsigned long long) number);
	str_adds(want, tmp);
	for (i = 0; i < nw; i++)
	{
		const Val  *v = ref_find(rec, w[i].path, w[i].loose);

		if (i > 0)
			str_addc(want, ',');
		if (v == NULL || v->kind == V_NULL)
			str_adds(want, "\\N");
		else if (v->kind == V_TRUE)
			str_adds(want, "'true'");
		else if (v->kind == V_FALSE)
			str_adds(want, "'false'");
		else if (v->kind == V_NUM || v->kind == V_STR)
			render_value(want, v->text, v->len);
		else
		{
			Str			t = {0};

			compact_value(&t, v);
			render_value(want, t.data, t.len);
			free(t.data);
		}
	}
	str_addc(want, '}');
}

static void
test_random_roundtrip(void)
{
	static const JsonWantedPath wanted_pool[] = {
		{"id", false}, {"id", true}, {"score", true}, {"current_score", true},
		{"Current Score", false}, {"value", false}, {"value.score", true},
		{"value.x", false}, {"key.id", false}, {"meta", true},
		{"sub.sub.x", false}, {"x.sub", true}, {"", false}, {"caf\xc3\xa9", true},
		{"\xc3\xa9", false}, {"x", false}
	};
	const int	ndocs = 600;
	int			d;
	int			failures = 0;

	for (d = 0; d < ndocs; d++)
	{
		JsonWantedPath w[6];
		int			nw = (int) rng_below(6) + 1;
		int			nrec = (int) rng_below(12);
		bool		lines = rng_below(2) == 0;
		bool		wrapped = !lines && rng_below(2) == 0;
		Str			doc = {0};
		Str			want = {0};
		Cfg			cfg;
		int			i;
		int			k;
		char	   *got;

		for (i = 0; i < nw; i++)
			w[i] = wanted_pool[rng_below(sizeof(wanted_pool) / sizeof(wanted_pool[0]))];
		cfg.format = lines ? JSON_FORMAT_LINES : JSON_FORMAT_ARRAY;
		cfg.rows_path = wrapped ? "data.rows" : NULL;
		cfg.wanted = w;
		cfg.nwanted = nw;
		cfg.max_record = 0;

		if (rng_below(4) == 0)
			str_adds(&doc, "\xEF\xBB\xBF");
		if (wrapped)
		{
			Val		   *junk = gen_value(0);

			str_adds(&doc, "{\"meta\":");
			write_value(&doc, junk);
			free_value(junk);
			str_adds(&doc, ",\"data\":{\"rows\":");
			ws(&doc);
		}
		if (!lines)
			str_addc(&doc, '[');
		for (i = 0; i < nrec; i++)
		{
			Val		   *rec = gen_record(0);

			if (!lines && i > 0)
				str_addc(&doc, ',');
			ws(&doc);
			write_value(&doc, rec);
			if (lines)
				str_adds(&doc, rng_below(4) ? "\n" : (rng_below(2) ? " " : ""));
			else
				ws(&doc);
			ref_render(&want, rec, (uint64_t) i + 1, w, nw);
			free_value(rec);
		}
		if (!lines)
			str_addc(&doc, ']');
		if (wrapped)
		{
			Val		   *junk = gen_value(0);

			str_adds(&doc, ",\"x\":");
			write_value(&doc, junk);
			free_value(junk);
			str_adds(&doc, "},\"next\":null}");
		}
		str_adds(&want, "EOF");
		if (doc.data == NULL)
			str_adds(&doc, "");

		for (k = 0; k < 5; k++)
		{
			if (k == 0)
				got = parse_whole(doc.data, doc.len, &cfg);
			else if (k == 4 && d % 10 == 0)
				got = parse_step(doc.data, doc.len, 1, &cfg, true);
			else
			{
				size_t		cuts[8];
				int			ncuts = (int) rng_below(8) + 1;
				int			c;

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
				got = parse_cuts(doc.data, doc.len, cuts, (size_t) ncuts, &cfg,
								 rng_below(4) != 0);
			}
			if (strcmp(got, want.data) != 0 && failures++ < 3)
				fprintf(stderr, "random doc %d, way %d\n  doc:  %s\n  got:  %s\n  want: %s\n",
						d, k, doc.data, got, want.data);
			free(got);
		}
		free(doc.data);
		free(want.data);
	}
	UNIT_CHECK(failures == 0, "random round trip: %d differences in %d documents",
			   failures, ndocs);
}

int
main(void)
{
	test_lines();
	test_values();
	test_matching();
	test_array();
	test_rows_path();
	test_rows_after_large_members();
	test_errors();
	test_error_sticky();
	test_bom();
	test_max_record();
	test_depth();
	test_first_keys();
	test_stream();
	test_every_boundary();
	test_random_roundtrip();
	UNIT_DONE("test_json_reader");
}
