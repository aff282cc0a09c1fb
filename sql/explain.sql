-- ===================================================================
-- EXPLAIN: what the scan will ask for, without asking (no network)
-- ===================================================================
CREATE SERVER explain_canvas FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'http://127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER explain_canvas
  OPTIONS (token 'never-printed-token');
CREATE FOREIGN TABLE explain_grades (
  student_id bigint,
  student_name text,
  term_id bigint OPTIONS (param 'enrollment_term_id'),
  current_score numeric
) SERVER explain_canvas OPTIONS (resource 'grade_export_csv');

EXPLAIN (COSTS OFF) SELECT * FROM explain_grades;
-- an equality on a param column becomes an export parameter, and stays a filter
EXPLAIN (COSTS OFF) SELECT * FROM explain_grades WHERE term_id = 3;
EXPLAIN (COSTS OFF) SELECT * FROM explain_grades WHERE 3 = term_id AND current_score > 50;
-- a value computed once per scan: a query parameter of a generic plan
SET plan_cache_mode = force_generic_plan;
PREPARE by_term(bigint) AS SELECT * FROM explain_grades WHERE term_id = $1;
EXPLAIN (COSTS OFF) EXECUTE by_term(7);
DEALLOCATE by_term;
RESET plan_cache_mode;
EXPLAIN (COSTS OFF) SELECT * FROM explain_grades WHERE term_id = 2 + 1;
-- other comparisons are only filters
EXPLAIN (COSTS OFF) SELECT * FROM explain_grades WHERE term_id > 3;
EXPLAIN (COSTS OFF) SELECT * FROM explain_grades WHERE student_id = 7;
-- the account and the report name come from the table
ALTER FOREIGN TABLE explain_grades OPTIONS (ADD account_id '42');
EXPLAIN (COSTS OFF) SELECT count(*) FROM explain_grades;
-- VERBOSE shows no credential
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM explain_grades WHERE term_id = 1;
-- Canvas course lists: no job; the course from a param column (IN: one list each)
CREATE FOREIGN TABLE explain_roster (
  course_id bigint OPTIONS (param 'course_id'),
  user_id bigint,
  current_score numeric OPTIONS (field 'grades.current_score'),
  since timestamptz OPTIONS (param 'submitted_since')
) SERVER explain_canvas OPTIONS (resource 'course_enrollments');
EXPLAIN (COSTS OFF) SELECT * FROM explain_roster WHERE course_id IN (101, 102);
ALTER FOREIGN TABLE explain_roster OPTIONS (SET resource 'course_submissions');
EXPLAIN (COSTS OFF) SELECT * FROM explain_roster
  WHERE course_id = 7 AND since = '2026-11-20 00:00+00';
-- the gradebook CSV cannot be read with a token
ALTER FOREIGN TABLE explain_roster OPTIONS (SET resource 'gradebook_csv');  -- ERROR

CREATE SERVER explain_generic FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'generic', base_url 'http://127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER explain_generic OPTIONS (token 't');
CREATE FOREIGN TABLE explain_generic_t (a int)
  SERVER explain_generic OPTIONS (start_path '/exports', status_path '/exports/{id}');
EXPLAIN (COSTS OFF) SELECT * FROM explain_generic_t;

DROP SERVER explain_canvas, explain_generic CASCADE;
