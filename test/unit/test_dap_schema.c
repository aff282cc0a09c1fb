/*
 * Unit tests of dap_schema.c: Canvas Data 2 schemas to PostgreSQL columns.
 */
#include <stdio.h>
#include <string.h>

#include "dap_schema.h"
#include "unit.h"

#define CHECK(cond) UNIT_CHECK(cond, "%s", "")
#define CHECK_STR(a, b) UNIT_CHECK((a) != NULL && strcmp((a), (b)) == 0, "got \"%s\", want \"%s\"", (a) ? (a) : "(null)", (b))

static const char *const submissions =
"{\"version\": 7, \"schema\": {\"type\": \"object\", \"title\": \"Submissions\","
" \"properties\": {"
"  \"key\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"integer\", \"format\": \"int64\"}},"
"           \"required\": [\"id\"]},"
"  \"value\": {\"type\": \"object\", \"required\": [\"course_id\", \"workflow_state\"], \"properties\": {"
"    \"course_id\": {\"type\": \"integer\", \"format\": \"int64\"},"
"    \"attempt\": {\"type\": \"integer\", \"format\": \"int32\"},"
"    \"position\": {\"type\": \"integer\", \"format\": \"int16\"},"
"    \"count\": {\"type\": \"integer\"},"
"    \"score\": {\"type\": \"number\", \"format\": \"float64\"},"
"    \"ratio\": {\"type\": \"number\", \"format\": \"float32\"},"
"    \"points_deducted\": {\"type\": \"number\", \"format\": \"decimal\", \"x-precision\": 6, \"x-scale\": 2},"
"    \"amount\": {\"type\": \"number\"},"
"    \"graded_at\": {\"type\": \"string\", \"format\": \"date-time\"},"
"    \"due_on\": {\"type\": \"string\", \"format\": \"date\"},"
"    \"workflow_state\": {\"type\": \"string\", \"enum\": [\"graded\", \"submitted\"]},"
"    \"grade\": {\"type\": [\"string\", \"null\"], \"maxLength\": 255},"
"    \"posted_at\": {\"oneOf\": [{\"type\": \"null\"}, {\"type\": \"string\", \"format\": \"date-time\"}]},"
"    \"excused\": {\"type\": \"boolean\"},"
"    \"settings\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"boolean\"}}},"
"    \"types\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
"    \"status\": {\"enum\": [\"a\", \"b\"]},"
"    \"anything\": {}"
"  }},"
"  \"meta\": {\"type\": \"object\", \"properties\": {\"action\": {\"type\": \"string\", \"enum\": [\"U\", \"D\"]},"
"            \"ts\": {\"type\": \"string\", \"format\": \"date-time\"}, \"other\": {\"type\": \"string\"}}}"
" }}}";

static const DapColumn *
column(const DapSchema *s, const char *name)
{
	int			i;

	for (i = 0; i < s->ncolumns; i++)
		if (strcmp(s->columns[i].name, name) == 0)
			return &s->columns[i];
	return NULL;
}

static void
expect_type(const DapSchema *s, const char *name, const char *type, const char *path)
{
	const DapColumn *c = column(s, name);

	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->type, type);
	CHECK_STR(c->path, path);
}

static void
test_types(void)
{
	char		err[256];
	DapSchema  *s = dap_schema_parse(submissions, strlen(submissions), err, sizeof(err));

	CHECK(s != NULL);
	if (s == NULL)
	{
		printf("  %s\n", err);
		return;
	}
	CHECK(s->version == 7);
	CHECK_STR(s->title, "Submissions");
	CHECK(s->ncolumns == 1 + 18 + 2);
	CHECK(s->columns[0].is_key && strcmp(s->columns[0].name, "id") == 0);
	CHECK(!s->columns[1].is_key);
	/* the schema's order: key, value, meta */
	CHECK_STR(s->columns[1].name, "course_id");
	CHECK_STR(s->columns[s->ncolumns - 2].path, "meta.action");
	CHECK_STR(s->columns[s->ncolumns - 1].path, "meta.ts");
	expect_type(s, "id", "bigint", "key.id");
	expect_type(s, "course_id", "bigint", "value.course_id");
	expect_type(s, "attempt", "integer", "value.attempt");
	expect_type(s, "position", "smallint", "value.position");
	expect_type(s, "count", "bigint", "value.count");
	expect_type(s, "score", "double precision", "value.score");
	expect_type(s, "ratio", "real", "value.ratio");
	expect_type(s, "points_deducted", "numeric(6,2)", "value.points_deducted");
	expect_type(s, "amount", "numeric", "value.amount");
	expect_type(s, "graded_at", "timestamp with time zone", "value.graded_at");
	expect_type(s, "due_on", "date", "value.due_on");
	expect_type(s, "workflow_state", "text", "value.workflow_state");
	expect_type(s, "grade", "text", "value.grade");
	expect_type(s, "posted_at", "timestamp with time zone", "value.posted_at");
	expect_type(s, "excused", "boolean", "value.excused");
	expect_type(s, "settings", "jsonb", "value.settings");
	expect_type(s, "types", "jsonb", "value.types");
	expect_type(s, "status", "text", "value.status");
	expect_type(s, "anything", "jsonb", "value.anything");
	expect_type(s, "action", "text", "meta.action");
	expect_type(s, "ts", "timestamp with time zone", "meta.ts");
	CHECK(column(s, "other") == NULL);
	CHECK(column(s, "course_id")->required);
	CHECK(!column(s, "attempt")->required);
	dap_schema_free(s);
}

static void
test_bad_documents(void)
{
	char		err[256];
	const char *nokey = "{\"version\": 1, \"schema\": {\"properties\": {\"value\": {\"properties\": {}}}}}";
	const char *noversion = "{\"schema\": {\"properties\": {}}}";

	CHECK(dap_schema_parse("{", 1, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "not JSON", 8) == 0);
	CHECK(dap_schema_parse(noversion, strlen(noversion), err, sizeof(err)) == NULL);
	CHECK(strstr(err, "version") != NULL);
	CHECK(dap_schema_parse(nokey, strlen(nokey), err, sizeof(err)) == NULL);
	CHECK(strstr(err, "key") != NULL);
}

static void
test_table_list(void)
{
	char		err[256];
	const char *doc = "{\"tables\": [\"accounts\", \"submissions\", \"users\"]}";
	char	  **t = dap_table_list_parse(doc, strlen(doc), err, sizeof(err));

	CHECK(t != NULL);
	if (t)
	{
		CHECK_STR(t[0], "accounts");
		CHECK_STR(t[2], "users");
		CHECK(t[3] == NULL);
	}
	dap_table_list_free(t);
	CHECK(dap_table_list_parse("{\"tables\": [1]}", 15, err, sizeof(err)) == NULL);
	CHECK(dap_table_list_parse("[]", 2, err, sizeof(err)) == NULL);
}

int
main(void)
{
	test_types();
	test_bad_documents();
	test_table_list();
	UNIT_DONE("test_dap_schema");
}
