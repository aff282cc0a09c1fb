/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA: the known resources of each LMS as tables
 *
 * Each provider's resources that lms_fdw knows, with typed columns as the
 * LMS documents them: Canvas's account reports (their CSV headers) and
 * course lists (the API's field names),
 * Canvas Data 2's grade, score and enrollment tables, and Brightspace's
 * grade and enrollment data sets (Advanced Data Sets, exported by a job)
 * and Brightspace Data Sets (nightly extracts, no job).  The remote schema names the provider
 * (canvas, canvas_dap or brightspace; for Canvas Data 2 also its namespace
 * "canvas").  LIMIT TO / EXCEPT pick tables by their local names, and the
 * options of the IMPORT statement are given to every table (the
 * validator checks them as for CREATE FOREIGN TABLE).
 *
 * The catalogue is static: the generic provider has no schema to import.
 * Canvas Data 2 namespaces are imported from the LMS's table list and
 * schemas (providers/canvas_dap_import.c); its tables here are only the
 * fallback when the LMS cannot be read.
 *
 * IDENTIFICATION
 *		  src/import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "import.h"
#include "lib/stringinfo.h"
#include "options.h"
#include "nodes/parsenodes.h"
#include "providers/canvas_dap.h"
#include "utils/builtins.h"

typedef struct LmsImportTable
{
	const char *provider;
	const char *name;			/* local table name */
	const char *resource;		/* the resource option */
	const char *columns;		/* column definitions, SQL */
	const char *options;		/* more table options, SQL ("parameters '…'"), or NULL */
} LmsImportTable;

/* the job's watermarks (lms_fdw_sync); a qual on since is an incremental query */
#define DAP_META_COLUMNS \
	"since timestamptz OPTIONS (meta 'since', param 'since'), " \
	"until timestamptz OPTIONS (meta 'until'), at timestamptz OPTIONS (meta 'at'), " \
	"schema_version integer OPTIONS (meta 'schema_version')"

static const LmsImportTable import_catalogue[] = {
	{"canvas", "grade_export_csv", "grade_export_csv",
		"student_name text, student_id bigint, student_sis text, course text, "
		"course_id bigint, course_sis text, section text, section_id bigint, "
		"section_sis text, term text, "
		"term_id bigint OPTIONS (param 'enrollment_term_id'), term_sis text, "
		"current_score numeric, final_score numeric, enrollment_state text, "
		"unposted_current_score numeric, unposted_final_score numeric, "
		"current_grade text, final_grade text, unposted_current_grade text, "
		"unposted_final_grade text, "
		"job_id text OPTIONS (meta 'job_id'), fetched_at timestamptz OPTIONS (meta 'fetched_at')"},
	/* Canvas account reports: headers of the account reports plugin */
	{"canvas", "mgp_grade_export_csv", "mgp_grade_export_csv",
		"student_name text, student_id bigint, student_sis text, course text, "
		"course_id bigint, course_sis text, section text, section_id bigint, "
		"section_sis text, term text, "
		"term_id bigint OPTIONS (param 'enrollment_term_id'), term_sis text, "
		"grading_period_set text, grading_period_set_id bigint, "
		"current_score numeric, final_score numeric, enrollment_state text, "
		"unposted_current_score numeric, unposted_final_score numeric, "
		"current_grade text, final_grade text, unposted_current_grade text, "
		"unposted_final_grade text, file_name text OPTIONS (meta 'file_name'), "
		"job_id text OPTIONS (meta 'job_id')"},
	{"canvas", "last_user_access_csv", "last_user_access_csv",
		"user_id bigint, user_sis_id text, user_name text, last_access_at timestamptz, "
		"last_ip text, term_id bigint OPTIONS (param 'enrollment_term_id'), "
		"course_id bigint OPTIONS (param 'course_id'), job_id text OPTIONS (meta 'job_id')"},
	{"canvas", "last_enrollment_activity_csv", "last_enrollment_activity_csv",
		"user_id bigint, user_name text, last_activity_at timestamptz, "
		"term_id bigint OPTIONS (param 'enrollment_term_id'), "
		"course_id bigint OPTIONS (param 'course_id'), job_id text OPTIONS (meta 'job_id')"},
	{"canvas", "zero_activity_csv", "zero_activity_csv",
		"user_id bigint, user_sis_id text, name text, section_id bigint, "
		"section_sis_id text, section_name text, "
		"course_id bigint OPTIONS (param 'course_id'), course_sis_id text, course_name text, "
		"term_id bigint OPTIONS (param 'enrollment_term_id'), job_id text OPTIONS (meta 'job_id')"},
	{"canvas", "provisioning_enrollments", "provisioning_csv",
		"canvas_course_id bigint, course_id text, canvas_user_id bigint, user_id text, "
		"role text, role_id bigint, canvas_section_id bigint, section_id text, status text, "
		"canvas_associated_user_id bigint, associated_user_id text, created_by_sis boolean, "
		"base_role_type text, limit_section_privileges boolean, canvas_enrollment_id bigint, "
		"term_id bigint OPTIONS (param 'enrollment_term_id'), job_id text OPTIONS (meta 'job_id')",
	"parameters '{\"enrollments\": true}'"},
	/* Canvas course lists (paginated REST, no job): the API's field names */
	{"canvas", "course_enrollments", "course_enrollments",
		"course_id bigint OPTIONS (param 'course_id'), id bigint, user_id bigint, "
		"type text, enrollment_state text, course_section_id bigint, role text, "
		"sis_user_id text, student_name text OPTIONS (field 'user.sortable_name'), "
		"login_id text OPTIONS (field 'user.login_id'), "
		"current_score numeric OPTIONS (field 'grades.current_score'), "
		"final_score numeric OPTIONS (field 'grades.final_score'), "
		"current_grade text OPTIONS (field 'grades.current_grade'), "
		"final_grade text OPTIONS (field 'grades.final_grade'), "
		"unposted_current_score numeric OPTIONS (field 'grades.unposted_current_score'), "
		"unposted_final_score numeric OPTIONS (field 'grades.unposted_final_score'), "
		"last_activity_at timestamptz, total_activity_time integer, "
		"created_at timestamptz, updated_at timestamptz"},
	{"canvas", "course_submissions", "course_submissions",
		"course_id bigint OPTIONS (param 'course_id'), id bigint, assignment_id bigint, "
		"user_id bigint, grader_id bigint, score double precision, grade text, "
		"attempt integer, workflow_state text, late boolean, missing boolean, "
		"excused boolean, late_policy_status text, points_deducted numeric, "
		"seconds_late numeric, submitted_at timestamptz, graded_at timestamptz, "
		"posted_at timestamptz, "
		"submitted_since timestamptz OPTIONS (param 'submitted_since'), "
		"graded_since timestamptz OPTIONS (param 'graded_since')"},
	{"canvas", "course_student_summaries", "course_student_summaries",
		"course_id bigint OPTIONS (param 'course_id'), user_id bigint OPTIONS (field 'id'), "
		"page_views integer, max_page_views integer, page_views_level integer, "
		"participations integer, max_participations integer, participations_level integer, "
		"on_time integer OPTIONS (field 'tardiness_breakdown.on_time'), "
		"late integer OPTIONS (field 'tardiness_breakdown.late'), "
		"missing integer OPTIONS (field 'tardiness_breakdown.missing'), "
		"floating integer OPTIONS (field 'tardiness_breakdown.floating'), "
		"total integer OPTIONS (field 'tardiness_breakdown.total')"},

	{"canvas_dap", "submissions", "submissions",
		"id bigint OPTIONS (field 'key.id'), course_id bigint, user_id bigint, "
		"assignment_id bigint, grader_id bigint, score double precision, "
		"published_score double precision, grade text, published_grade text, "
		"attempt integer, submitted_at timestamptz, graded_at timestamptz, "
		"posted_at timestamptz, excused boolean, late_policy_status text, "
		"points_deducted numeric(6,2), grading_period_id bigint, workflow_state text, "
		"created_at timestamptz, updated_at timestamptz, "
		"action text OPTIONS (field 'meta.action'), ts timestamptz OPTIONS (field 'meta.ts'), " DAP_META_COLUMNS},
	{"canvas_dap", "scores", "scores",
		"id bigint OPTIONS (field 'key.id'), enrollment_id bigint, "
		"assignment_group_id bigint, grading_period_id bigint, course_score boolean, "
		"current_score double precision, final_score double precision, "
		"unposted_current_score double precision, unposted_final_score double precision, "
		"override_score double precision, created_at timestamptz, updated_at timestamptz, "
		"action text OPTIONS (field 'meta.action'), ts timestamptz OPTIONS (field 'meta.ts'), " DAP_META_COLUMNS},
	{"canvas_dap", "enrollments", "enrollments",
		"id bigint OPTIONS (field 'key.id'), user_id bigint, course_id bigint, type text, "
		"workflow_state text, course_section_id bigint, role_id bigint, "
		"start_at timestamptz, end_at timestamptz, last_activity_at timestamptz, "
		"total_activity_time integer, created_at timestamptz, updated_at timestamptz, "
		"action text OPTIONS (field 'meta.action'), ts timestamptz OPTIONS (field 'meta.ts'), " DAP_META_COLUMNS},

	/*
	 * Brightspace.  Advanced Data Sets name their fields with spaces (Org
	 * Unit Id, User Id, First Name: D2L's Advanced Data Sets help); the
	 * Brightspace Data Sets as D2L documents them (GradeObjectId, OrgUnitId:
	 * community.d2l.com kb 4527 and 4529).  The field options carry the
	 * real spellings; the name rule would find them as well.
	 */
#define D2L_ADS_PEOPLE \
		"org_unit_id bigint OPTIONS (field 'Org Unit Id'), " \
		"org_unit_code text OPTIONS (field 'Org Unit Code'), " \
		"org_unit_name text OPTIONS (field 'Org Unit Name'), " \
		"user_id bigint OPTIONS (field 'User Id'), user_name text OPTIONS (field 'Username'), " \
		"org_defined_id text OPTIONS (field 'Org Defined Id'), " \
		"first_name text OPTIONS (field 'First Name'), last_name text OPTIONS (field 'Last Name'), "
	{"brightspace", "final_grades", "Final Grades",
		D2L_ADS_PEOPLE
		"points_numerator numeric OPTIONS (field 'Points Numerator'), "
		"points_denominator numeric OPTIONS (field 'Points Denominator'), "
		"weighted_numerator numeric OPTIONS (field 'Weighted Numerator'), "
		"weighted_denominator numeric OPTIONS (field 'Weighted Denominator'), "
		"grade_value text OPTIONS (field 'Grade Value'), "
		"last_modified timestamptz OPTIONS (field 'Last Modified')"},
	{"brightspace", "enrollments_and_withdrawals", "Enrollments and Withdrawals",
		D2L_ADS_PEOPLE
		"role_name text OPTIONS (field 'Role Name'), action text OPTIONS (field 'Action'), "
		"action_date timestamptz OPTIONS (field 'Action Date')"},
	{"brightspace", "grade_results", "Grade Results",
		"grade_object_id bigint OPTIONS (field 'GradeObjectId'), "
		"org_unit_id bigint OPTIONS (field 'OrgUnitId'), "
		"user_id bigint OPTIONS (field 'UserId'), "
		"points_numerator numeric OPTIONS (field 'PointsNumerator'), "
		"points_denominator numeric OPTIONS (field 'PointsDenominator'), "
		"weighted_numerator numeric OPTIONS (field 'WeightedNumerator'), "
		"weighted_denominator numeric OPTIONS (field 'WeightedDenominator'), "
		"is_released boolean OPTIONS (field 'IsReleased'), "
		"is_dropped boolean OPTIONS (field 'IsDropped'), "
		"last_modified timestamptz OPTIONS (field 'LastModified'), "
		"last_modified_by bigint OPTIONS (field 'LastModifiedBy'), "
		"comments text OPTIONS (field 'Comments'), "
		"private_comments text OPTIONS (field 'PrivateComments'), "
		"extract_date timestamptz OPTIONS (meta 'extract_date')"},
	{"brightspace", "organizational_units", "Organizational Units",
		"org_unit_id bigint OPTIONS (field 'OrgUnitId'), "
		"organization text OPTIONS (field 'Organization'), "
		"type text OPTIONS (field 'Type'), name text OPTIONS (field 'Name'), "
		"code text OPTIONS (field 'Code'), "
		"start_date timestamptz OPTIONS (field 'StartDate'), "
		"end_date timestamptz OPTIONS (field 'EndDate'), "
		"is_active boolean OPTIONS (field 'IsActive'), "
		"created_date timestamptz OPTIONS (field 'CreatedDate'), "
		"is_deleted boolean OPTIONS (field 'IsDeleted'), "
		"deleted_date timestamptz OPTIONS (field 'DeletedDate'), "
		"recycled_date timestamptz OPTIONS (field 'RecycledDate'), "
		"extract_date timestamptz OPTIONS (meta 'extract_date')"},

	{NULL}
};

/*
 * lmsfdw_import_wanted
 *		Is this table wanted by LIMIT TO / EXCEPT?
 */
bool
lmsfdw_import_wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	foreach(lc, stmt->table_list)
		if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
			listed = true;
	switch (stmt->list_type)
	{
		case FDW_IMPORT_SCHEMA_LIMIT_TO:
			return listed;
		case FDW_IMPORT_SCHEMA_EXCEPT:
			return !listed;
		default:
			return true;
	}
}

/*
 * lmsfdw_import_schema
 *		The CREATE FOREIGN TABLE statements for IMPORT FOREIGN SCHEMA.
 */
List *
lmsfdw_import_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	const char *provider = NULL;
	List	   *commands = NIL;
	const LmsImportTable *t;
	ListCell   *lc;
	StringInfoData extra;
	bool		schema_known;

	foreach(lc, server->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "provider") == 0)
			provider = defGetString(d);
	}
	/* the IMPORT statement's options go onto every table */
	initStringInfo(&extra);
	foreach(lc, stmt->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		appendStringInfo(&extra, ", %s %s", quote_identifier(d->defname),
						 quote_literal_cstr(defGetString(d)));
	}

	/* Canvas Data 2: the LMS's own table list and schemas, if it answers */
	if (provider && strcmp(provider, "canvas_dap") == 0)
	{
		bool		fallback;

		commands = lmsfdw_dap_import_schema(stmt, server, extra.data, &fallback);
		if (!fallback)
			return commands;
	}

	schema_known = provider &&
		(strcmp(stmt->remote_schema, provider) == 0 ||
		 (strcmp(provider, "canvas_dap") == 0 &&
		  strcmp(stmt->remote_schema, "canvas") == 0));
	for (t = import_catalogue; t->name && schema_known; t++)
		if (strcmp(t->provider, provider) == 0)
			break;
	if (!schema_known || t->name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("server \"%s\" has no schema \"%s\" to import",
						server->servername, stmt->remote_schema),
				 provider && strcmp(provider, "generic") != 0 ?
				 errhint("Import schema \"%s\".", provider) :
				 errhint("The generic provider has no known tables; create them with CREATE FOREIGN TABLE.")));


	for (t = import_catalogue; t->name; t++)
	{
		if (strcmp(t->provider, provider) != 0 || !lmsfdw_import_wanted(stmt, t->name))
			continue;
		commands = lappend(commands,
						   psprintf("CREATE FOREIGN TABLE %s (%s) SERVER %s OPTIONS (resource %s%s%s%s)",
									quote_identifier(t->name), t->columns,
									quote_identifier(server->servername),
									quote_literal_cstr(t->resource),
									t->options ? ", " : "", t->options ? t->options : "",
									extra.data));
	}
	return commands;
}
