/*-------------------------------------------------------------------------
 *
 * test_jsonl_fast.c
 *		  Unit tests for the simdjson JSON lines reader (jsonl_reader.cpp)
 *
 * test_jsonl_reader runs test_json_reader.c's cases on this reader; the
 * tests here are about what is its own: which input stays on the simdjson
 * path (jsonl_reader_fell_back() false), and that every hand-over to the
 * yajl reader returns exactly what the yajl reader returns alone.  Each
 * document is rendered as in test_json_reader.c ("R<n>{v,...}" per record,
 * then "EOF" or "ERR@<n>:<message>") and compared with the yajl reader's
 * rendering, fed whole, split at every position into two pieces, and byte
 * by byte.
 *
 * IDENTIFICATION
 *		  test/unit/test_jsonl_fast.c
 *
 *-------------------------------------------------------------------------
 */
#include "json_reader.h"
#include "jsonl_reader.h"
#include "unit.h"
#include "unit_str.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Settings of one document. */
typedef struct Cfg
{
	const JsonWantedPath *wanted;
	int			nwanted;
	size_t		max_record;
} Cfg;

/* Render one reader result; true once the reader has ended. */
static bool
render(Str *out, ReaderStatus st, const ReaderField *f, int n, uint64_t number,
	   const char *error)
{
	char		tmp[64];
	int			i;

	switch (st)
	{
		case READER_RECORD:
			snprintf(tmp, sizeof(tmp), "R%llu{", (unsigned long long) number);
			str_adds(out, tmp);
			for (i = 0; i < n; i++)
			{
				if (i > 0)
					str_adds(out, ",");
				if (f[i].value == NULL || f[i].value[f[i].len] != '\0')
					str_adds(out, "!NOT-NUL-TERMINATED!");
				else if (f[i].is_null)
					str_adds(out, "\\N");
				else
				{
					str_adds(out, "'");
					str_addn(out, f[i].value, f[i].len);	/* NUL shows as end */
					str_adds(out, "'");
				}
			}
			str_adds(out, "}");
			return false;
		case READER_NEED_MORE:
			return false;
		case READER_EOF:
			str_adds(out, "EOF");
			return true;
		case READER_ERROR:
			snprintf(tmp, sizeof(tmp), "ERR@%llu:", (unsigned long long) number);
			str_adds(out, tmp);
			str_adds(out, error);
			return true;
	}
	return true;
}

static char *
parse_yajl(const char *doc, size_t len, const Cfg *cfg)
{
	JsonReader *r = json_reader_create(JSON_FORMAT_LINES, NULL, cfg->wanted,
									   cfg->nwanted, cfg->max_record);
	Str			out = {0};
	const ReaderField *f;
	int			n;
	ReaderStatus	st;

	str_adds(&out, "");
	json_reader_feed(r, doc, len);
	json_reader_finish(r);
	do
		st = json_reader_next(r, &f, &n);
	while (!render(&out, st, f, n, json_reader_record_number(r),
				   json_reader_error(r)));
	json_reader_free(r);
	return out.data;
}

/* Feed in pieces of "step" bytes (0: whole) after "first" bytes. */
static char *
parse_fast(const char *doc, size_t len, size_t first, size_t step,
		   const Cfg *cfg, bool *fell_back)
{
	JsonlReader *r = jsonl_reader_create(cfg->wanted, cfg->nwanted,
										 cfg->max_record);
	Str			out = {0};
	const ReaderField *f;
	int			n;
	size_t		pos = 0;
	bool		ended = false;
	ReaderStatus	st;

	str_adds(&out, "");
	while (!ended)
	{
		size_t		k = (pos == 0 && first > 0) ? first : (step ? step : len);

		if (k > len - pos)
			k = len - pos;
		if (k == 0)
			jsonl_reader_finish(r);
		else
			jsonl_reader_feed(r, doc + pos, k);
		pos += k;
		do
		{
			st = jsonl_reader_next(r, &f, &n);
			ended = render(&out, st, f, n, jsonl_reader_record_number(r),
						   jsonl_reader_error(r));
		} while (!ended && st != READER_NEED_MORE);
		if (!ended && st == READER_NEED_MORE && k == 0)
		{
			str_adds(&out, "!NEED-MORE-AFTER-FINISH!");
			break;
		}
	}
	if (fell_back)
		*fell_back = jsonl_reader_fell_back(r);
	jsonl_reader_free(r);
	return out.data;
}

/*
 * doc must read as the yajl reader reads it, fed whole, in two pieces at
 * every position, and byte by byte; expected (if not NULL) is that
 * rendering, and fast says whether it stays on the simdjson path.
 */
static void
check(const char *name, const char *doc, const Cfg *cfg, const char *expected,
	  bool fast)
{
	size_t		len = strlen(doc);
	char	   *ref = parse_yajl(doc, len, cfg);
	char	   *got;
	bool		fell_back = false;
	size_t		i;
	long		bad = -1;

	if (expected)
		UNIT_CHECK(strcmp(ref, expected) == 0, "%s: yajl reader\n  got:  %s\n  want: %s",
				   name, ref, expected);
	got = parse_fast(doc, len, 0, 0, cfg, &fell_back);
	UNIT_CHECK(strcmp(got, ref) == 0, "%s: whole\n  got:  %s\n  yajl: %s", name, got, ref);
	UNIT_CHECK(fell_back == !fast, "%s: %s", name,
			   fast ? "handed over to yajl" : "stayed on the simdjson path");
	free(got);
	for (i = 1; i < len && bad < 0; i++)
	{
		got = parse_fast(doc, len, i, 0, cfg, NULL);
		if (strcmp(got, ref) != 0)
		{
			bad = (long) i;
			fprintf(stderr, "%s: split at %zu\n  got:  %s\n  yajl: %s\n", name, i, got, ref);
		}
		free(got);
	}
	UNIT_CHECK(bad < 0, "%s: split at %ld differs", name, bad);
	got = parse_fast(doc, len, 0, 1, cfg, NULL);
	UNIT_CHECK(strcmp(got, ref) == 0, "%s: byte by byte\n  got:  %s\n  yajl: %s", name, got, ref);
	free(got);
	free(ref);
}

static const JsonWantedPath grade_wanted[] = {
	{"student_id", true}, {"current_score", true}, {"student_name", true},
	{"enrollment_state", true}, {"final_grade", true}
};
static const Cfg grades = {grade_wanted, 5, 0};

static const JsonWantedPath dap_wanted[] = {
	{"id", true}, {"key.id", true}, {"value.id", true},
	{"score", true}, {"key.score", true}, {"value.score", true},
	{"value", true}
};
static const Cfg dap = {dap_wanted, 7, 0};

/* What stays on the simdjson path. */
static void
test_fast_path(void)
{
	check("grade rows",
		  "{\"student name\": \"Student 1\", \"student id\": 1001, \"current score\": 3.7, "
		  "\"final grade\": \"F\", \"enrollment state\": \"active\"}\n"
		  "{\"student name\": \"Ana\", \"student id\": 1002, \"current score\": 0.10, "
		  "\"final grade\": null}\n",
		  &grades,
		  "R1{'1001','3.7','Student 1','active','F'}"
		  "R2{'1002','0.10','Ana',\\N,\\N}EOF", true);
	check("numbers keep their text",
		  "{\"current_score\": 1e400, \"student_id\": 123456789012345678901234567890}\n"
		  "{\"current_score\": -0.0E+1, \"student_id\": 0}\n",
		  &grades,
		  "R1{'123456789012345678901234567890','1e400',\\N,\\N,\\N}"
		  "R2{'0','-0.0E+1',\\N,\\N,\\N}EOF", true);
	check("escapes and UTF-8",
		  "{\"student name\": \"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\t\", \"Final Grade\": \"\xc3\xa9\"}\n",
		  &grades,
		  "R1{\\N,\\N,'\xc3\xa9\xf0\x9f\x98\x80\"\\/\t',\\N,'\xc3\xa9'}EOF", true);
	check("Canvas Data 2 rows, nested values and a wanted object",
		  "{\"key\":{\"id\":1},\"value\":{\"score\":7,\"s\":[true,null,{\"a\":\"\\n\"}]},\"meta\":{}}\n"
		  "{\"key\":{\"id\":2},\"value\":{}}\r\n",
		  &dap,
		  "R1{\\N,'1',\\N,\\N,\\N,'7','{\"score\":7,\"s\":[true,null,{\"a\":\"\\n\"}]}'}"
		  "R2{\\N,'2',\\N,\\N,\\N,\\N,'{}'}EOF", true);
	check("first match wins, null included",
		  "{\"student_id\":null,\"Student ID\":5,\"current score\":1,\"current_score\":2}\n",
		  &grades, "R1{\\N,'1',\\N,\\N,\\N}EOF", true);
	check("blank lines, CR LF, spaces, a byte order mark",
		  "\xEF\xBB\xBF\n  \r\n{\"student_id\":1} \t\r\n\n{ }\n\n",
		  &grades, "R1{'1',\\N,\\N,\\N,\\N}R2{\\N,\\N,\\N,\\N,\\N}EOF", true);
	check("a last record without its newline",
		  "{\"student_id\":1}\n{\"student_id\":2}", &grades,
		  "R1{'1',\\N,\\N,\\N,\\N}R2{'2',\\N,\\N,\\N,\\N}EOF", true);
	check("empty stream", "", &grades, "EOF", true);
}

/* Every hand-over reads as the yajl reader alone. */
static void
test_hand_over(void)
{
	static const JsonWantedPath deep_wanted[] = {{"a", false}};
	static const Cfg deep = {deep_wanted, 1, 0};
	static const JsonWantedPath ab[] = {{"a", false}, {"b", false}};
	static const Cfg small = {ab, 2, 12};
	char		nested[400];
	int			i;

	check("malformed value after records",
		  "{\"student_id\":1}\n{\"student_id\":tru}\n{\"student_id\":3}\n",
		  &grades, "R1{'1',\\N,\\N,\\N,\\N}ERR@2:malformed JSON in record 2: "
		  "lexical error: invalid string in json text.", false);
	check("a string value followed by a colon",
		  "{\"student_id\":1}\n{\"student_id\":\"x\":1}}\n", &grades,
		  "R1{'1',\\N,\\N,\\N,\\N}ERR@2:malformed JSON in record 2: parse error: "
		  "after key and value, inside map, I expect ',' or '}'", false);
	check("two records on one line",
		  "{\"student_id\":1} {\"student_id\":2}\n{\"student_id\":3}\n", &grades,
		  "R1{'1',\\N,\\N,\\N,\\N}R2{'2',\\N,\\N,\\N,\\N}R3{'3',\\N,\\N,\\N,\\N}EOF", false);
	check("a record over several lines",
		  "{\"student_id\":1}\n{\n \"student_id\": 2\n}\n", &grades,
		  "R1{'1',\\N,\\N,\\N,\\N}R2{'2',\\N,\\N,\\N,\\N}EOF", false);
	check("vertical tab is yajl whitespace",
		  "{\"student_id\":1}\n{\"student_id\":2}\v\n", &grades,
		  "R1{'1',\\N,\\N,\\N,\\N}R2{'2',\\N,\\N,\\N,\\N}EOF", false);
	check("a lone surrogate escape",
		  "{\"student_id\":1}\n{\"student name\":\"\\ud800\"}\n", &grades, NULL, false);
	check("not an object",
		  "{\"student_id\":1}\n[1]\n", &grades,
		  "R1{'1',\\N,\\N,\\N,\\N}ERR@2:record 2 is not a JSON object", false);
	check("a number followed by a colon",
		  "{\"student_id\":1}\n{\"current_score\": 1:2}\n", &grades, NULL, false);
	check("a partial token at the end",
		  "{\"student_id\":1}\n\"abc", &grades, NULL, false);
	check("the value limit",
		  "{\"a\":1}\n{\"a\":\"abcdefgh\",\"b\":\"ijklmnop\"}\n", &small,
		  "R1{'1',\\N}ERR@2:record 2 exceeds 12 bytes of extracted values", false);
	check("the token limit in a value nobody wants",
		  "{\"x\":1}\n{\"x\":\"0123456789abc\"}\n", &small,
		  "R1{\\N,\\N}ERR@2:JSON token in record 2 exceeds 12 bytes", false);
	/* a record longer than max_record goes to yajl, which decides */
	check("under the limits, a long record", "{\"a\":1}\n{\"a\":\"abcd\",\"b\":\"efgh\"}\n",
		  &small, "R1{'1',\\N}R2{'abcd','efgh'}EOF", false);

	/* deeper than the walk goes: yajl takes the rest */
	strcpy(nested, "{\"a\":1}\n{\"b\":");
	for (i = 0; i < 100; i++)
		strcat(nested, "[");
	for (i = 0; i < 100; i++)
		strcat(nested, "]");
	strcat(nested, ",\"a\":2}\n");
	check("deep nesting", nested, &deep, "R1{'1'}R2{'2'}EOF", false);
}

/*
 * Root keys are matched through what the same member of the last record
 * matched: other keys, other orders, escapes and prefixes at an ordinal
 * must still match as a fresh record would.
 */
static void
test_root_keys(void)
{
	check("keys change at each ordinal",
		  "{\"student_id\":1,\"current_score\":2,\"student_name\":\"a\"}\n"
		  "{\"current_score\":3,\"student_id\":4,\"x\":5}\n"
		  "{\"student_i\":6,\"student_idx\":7,\"student_id\":8}\n"
		  "{\"student\\u005fid\":9,\"Current Score\":10}\n"
		  "{\"student_id\":11,\"current_score\":12,\"student_name\":\"b\"}\n",
		  &grades,
		  "R1{'1','2','a',\\N,\\N}R2{'4','3',\\N,\\N,\\N}R3{'8',\\N,\\N,\\N,\\N}"
		  "R4{'9','10',\\N,\\N,\\N}R5{'11','12','b',\\N,\\N}EOF", true);
	check("first match wins at a remembered ordinal",
		  "{\"student_id\":1,\"Student ID\":2}\n"
		  "{\"student_id\":null,\"Student ID\":3}\n"
		  "{\"Student ID\":4,\"student_id\":5}\n",
		  &grades,
		  "R1{'1',\\N,\\N,\\N,\\N}R2{\\N,\\N,\\N,\\N,\\N}R3{'4',\\N,\\N,\\N,\\N}EOF",
		  true);
	check("nested paths below a remembered key",
		  "{\"key\":{\"id\":1},\"value\":{\"id\":2}}\n"
		  "{\"key\":3,\"value\":{\"score\":4}}\n"
		  "{\"value\":{\"id\":5},\"key\":{\"id\":6}}\n",
		  &dap,
		  "R1{\\N,'1','2',\\N,\\N,\\N,'{\"id\":2}'}"
		  "R2{\\N,\\N,\\N,\\N,\\N,'4','{\"score\":4}'}"
		  "R3{\\N,'6','5',\\N,\\N,\\N,'{\"id\":5}'}EOF", true);
}

/*
 * With no field wanted (count(*)) a line is validated by simdjson's DOM
 * parser: what it refuses must still read as the yajl reader reads it.
 */
static void
test_no_fields(void)
{
	static const Cfg none = {NULL, 0, 0};
	static const Cfg none_small = {NULL, 0, 12};

	check("valid lines stay fast",
		  "\xEF\xBB\xBF{\"a\":{\"b\":[1,-0.5e3,true,false,null,\"\\u00e9\\n\\ud83d\\ude00\"]},\"\":\"\\u0000\"}\n"
		  "{}\n{ }\r\n\n{\"x\":\"\xc3\xa9\"}",
		  &none, NULL, true);
	check("numbers the DOM parser refuses",
		  "{}\n{\"a\":1e400}\n{\"a\":123456789012345678901234567890}\n{}\n",
		  &none, "R1{}R2{}R3{}R4{}EOF", false);
	check("a lone surrogate, no field wanted",
		  "{}\n{\"a\":\"\\udc00\"}\n", &none, NULL, false);
	check("vertical tab, no field wanted",
		  "{}\n{\"a\":1\v}\n", &none, "R1{}R2{}EOF", false);
	check("two records on one line, no field wanted",
		  "{}\n{\"a\":1} {\"b\":2}\n", &none, "R1{}R2{}R3{}EOF", false);
	check("malformed, no field wanted",
		  "{}\n{\"a\":[1,]}\n", &none, NULL, false);
	check("a string value followed by a colon, no field wanted",
		  "{}\n{\"a\":\"x\":1}\n", &none, NULL, false);
	check("a bad escape in a key, no field wanted",
		  "{}\n{\"\\x\":1}\n", &none, NULL, false);
	check("not an object, no field wanted",
		  "{}\n[1]\n", &none, "R1{}ERR@2:record 2 is not a JSON object", false);
	check("an extra brace, no field wanted",
		  "{}\n{\"a\":1}}\n", &none, NULL, false);
	check("invalid UTF-8, no field wanted",
		  "{}\n{\"a\":\"\xed\xa0\x80\"}\n", &none, NULL, false);
	check("the token limit, no field wanted",
		  "{}\n{\"x\":\"0123456789abc\"}\n", &none_small,
		  "R1{}ERR@2:JSON token in record 2 exceeds 12 bytes", false);
}

/*
 * Values are vouched for as UTF-8 without NUL while they come from the
 * simdjson path.
 */
static void
test_values_utf8(void)
{
	static const char doc[] = "{\"student_id\":\"\xc3\xa9\"}\n{\"student_id\":\"a\\u0000\"}\n"
		"{\"student_id\":\"\\n\",\"x\":\"\\u0000\"}\n{\"student_id\":2}\v\n{\"student_id\":3}\n";
	JsonlReader *r = jsonl_reader_create(grade_wanted, 5, 0);
	const ReaderField *f;
	int			n;

	jsonl_reader_feed(r, doc, sizeof(doc) - 1);
	jsonl_reader_finish(r);
	UNIT_CHECK(jsonl_reader_next(r, &f, &n) == READER_RECORD &&
			   jsonl_reader_values_utf8(r), "a simdjson record is checked UTF-8");
	UNIT_CHECK(jsonl_reader_next(r, &f, &n) == READER_RECORD &&
			   !jsonl_reader_values_utf8(r), "a value with a NUL is not vouched for");
	UNIT_CHECK(jsonl_reader_next(r, &f, &n) == READER_RECORD &&
			   jsonl_reader_values_utf8(r), "a NUL in a value nobody wants is no matter");
	UNIT_CHECK(jsonl_reader_next(r, &f, &n) == READER_RECORD &&
			   !jsonl_reader_values_utf8(r), "a yajl record is not vouched for");
	UNIT_CHECK(jsonl_reader_next(r, &f, &n) == READER_RECORD &&
			   !jsonl_reader_values_utf8(r), "nor any after the hand-over");
	jsonl_reader_free(r);
}

/* Random rows, on both readers, split everywhere. */
static void
test_random(void)
{
	static const char *const keys[] = {"a", "b", "Student ID", "value", "key", "x"};
	static const char *const scalars[] = {
		"1", "-0.5e3", "\"s\"", "\"\\u00e9\\n\"", "true", "false", "null", "{}", "[]",
		"{\"score\":2,\"id\":\"k\"}", "[1,{\"a\":[]}]", "\"\""
	};
	static const JsonWantedPath w[] = {
		{"a", false}, {"b", true}, {"student_id", true}, {"value.score", true},
		{"value", true}, {"key.id", true}
	};
	static const Cfg cfg = {w, 6, 0};
	unsigned	seed = 12345;
	int			t;

	for (t = 0; t < 60; t++)
	{
		Str			doc = {0};
		int			nrec = 1 + (int) ((seed = seed * 1103515245 + 12345) >> 16) % 3;
		int			rec;
		char		name[32];

		str_adds(&doc, "");
		for (rec = 0; rec < nrec; rec++)
		{
			int			nkeys = (int) ((seed = seed * 1103515245 + 12345) >> 16) % 5;
			int			k;

			str_adds(&doc, "{");
			for (k = 0; k < nkeys; k++)
			{
				seed = seed * 1103515245 + 12345;
				if (k > 0)
					str_adds(&doc, ", ");
				str_adds(&doc, "\"");
				str_adds(&doc, keys[(seed >> 16) % 6]);
				str_adds(&doc, "\": ");
				str_adds(&doc, scalars[(seed >> 8) % 12]);
			}
			str_adds(&doc, "}\n");
		}
		snprintf(name, sizeof(name), "random %d", t);
		check(name, doc.data, &cfg, NULL, true);
		free(doc.data);
	}
}

int
main(void)
{
	test_fast_path();
	test_root_keys();
	test_no_fields();
	test_values_utf8();
	test_hand_over();
	test_random();
	UNIT_DONE("test_jsonl_fast");
}
