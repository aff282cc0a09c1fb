-- ===================================================================
-- A Canvas grade export through the bundled mock LMS
-- (test/run: the mock listens on 127.0.0.1:$MOCK_LMS_PORT)
-- ===================================================================
\getenv mock_port MOCK_LMS_PORT
\set base_url 'http://127.0.0.1:' :mock_port
CREATE SERVER mock_canvas FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url :'base_url',
           poll_initial '20ms', poll_max '100ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_canvas
  OPTIONS (token 'regress-token');
CREATE FOREIGN TABLE grades (
  student_id bigint,
  student_name text,
  course_id bigint,
  term_id bigint OPTIONS (param 'enrollment_term_id'),
  current_score numeric,
  final_score numeric,
  enrollment_state text,
  sis text OPTIONS (field 'student sis')
) SERVER mock_canvas OPTIONS (resource 'grade_export_csv');

-- the mock's default export has 25 rows
SELECT count(*), count(current_score) AS scored, sum(current_score),
       min(student_id), max(student_id)
FROM grades;

-- quoted names, an embedded newline, empty cells as NULL
SELECT student_id, student_name, course_id, term_id, current_score,
       enrollment_state, sis
FROM grades WHERE term_id = 4 ORDER BY student_id;

-- only referenced columns are converted; quals stay as filters
SELECT enrollment_state, count(*), round(avg(final_score), 2)
FROM grades WHERE current_score > 40 GROUP BY 1 ORDER BY 1;

-- a contradicting second value for the parameter still filters
SELECT count(*) FROM grades WHERE term_id = 4 AND term_id = 5;

-- the inner side of a nested loop: the export runs once, its rows are replayed
CREATE TEMP TABLE courses (course_id bigint, title text);
INSERT INTO courses VALUES (100, 'Algebra'), (101, 'Biology'), (104, 'Poetry');
ANALYZE courses;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT count(*) AS jobs_before FROM lms_fdw_jobs() \gset
INSERT INTO courses VALUES (999, 'Not in the export');
EXPLAIN (COSTS OFF)
SELECT c.title, count(g.student_id) FROM courses c
  LEFT JOIN grades g ON g.course_id = c.course_id
GROUP BY 1 ORDER BY 1;
SELECT c.title, count(g.student_id) FROM courses c
  LEFT JOIN grades g ON g.course_id = c.course_id
GROUP BY 1 ORDER BY 1;
SELECT count(*) - :jobs_before AS jobs_for_the_join FROM lms_fdw_jobs();
RESET enable_material;
RESET enable_hashjoin;
RESET enable_mergejoin;

-- the jobs this backend ran
SELECT server, resource, state, status_checks > 0 AS checked, rows, error
FROM lms_fdw_jobs();

-- a cursor that reads part of an export
BEGIN;
DECLARE c CURSOR FOR SELECT student_id FROM grades ORDER BY student_id;
FETCH 3 FROM c;
CLOSE c;
COMMIT;

-- the generic provider: a configurable job API
CREATE SERVER mock_generic FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'generic', base_url :'base_url', poll_initial '20ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_generic
  OPTIONS (token 'regress-token');
CREATE FOREIGN TABLE generic_grades (
  "student id" bigint,
  current_score numeric,
  state text OPTIONS (field 'enrollment state')
) SERVER mock_generic
  OPTIONS (start_path '/generic/exports', parameters '{"kind": "grades"}',
           status_path '/generic/exports/{id}', job_id_path 'data.id',
           state_path 'data.state', result_url_path 'data.result.url',
           error_path 'data.error');
SELECT count(*), sum(current_score), count(DISTINCT state) FROM generic_grades;

-- the connection cache
SELECT lms_fdw_disconnect('mock_canvas');
SELECT lms_fdw_disconnect_all();

DROP SERVER mock_canvas, mock_generic CASCADE;
