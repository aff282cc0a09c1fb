-- ===================================================================
-- The scan's costs, row estimates and rescans, through the mock LMS
-- ===================================================================
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS lms_fdw;
RESET client_min_messages;
\getenv mock_port MOCK_LMS_PORT
\set base_url 'http://127.0.0.1:' :mock_port
CREATE SERVER scan_canvas FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url :'base_url',
           poll_initial '20ms', poll_max '100ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER scan_canvas
  OPTIONS (token 'regress-token');
CREATE FOREIGN TABLE scan_grades (
  student_id bigint,
  student_name text,
  course_id bigint,
  term_id bigint OPTIONS (param 'enrollment_term_id'),
  current_score numeric
) SERVER scan_canvas OPTIONS (resource 'grade_export_csv');
-- the same export with term_id as a plain column (no export parameter)
CREATE FOREIGN TABLE scan_grades_plain (
  student_id bigint,
  student_name text,
  course_id bigint,
  term_id bigint,
  current_score numeric
) SERVER scan_canvas OPTIONS (resource 'grade_export_csv');

-- a plan as JSON (EXPLAIN's own figures, no parsing of text)
CREATE FUNCTION pg_temp.plan_json(query text, with_analyze boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  j json;
BEGIN
  EXECUTE format('EXPLAIN (FORMAT JSON, ANALYZE %s, TIMING OFF) %s', with_analyze::text, query) INTO j;
  RETURN j::jsonb -> 0;
END $$;

-- -------------------------------------------------------------------
-- JIT: an ordinary scan is not JIT-compiled under the default settings.
-- The plan's cost stays below jit_above_cost (also where LLVM is not
-- installed), and with jit on, EXPLAIN ANALYZE has no JIT section.
-- -------------------------------------------------------------------
SET jit = on;
RESET jit_above_cost;
SELECT (pg_temp.plan_json('SELECT count(*) FROM scan_grades') -> 'Plan' ->> 'Total Cost')::float8
       < current_setting('jit_above_cost')::float8 AS unread_below_jit_cost;
SELECT pg_temp.plan_json('SELECT count(*) FROM scan_grades', true) ? 'JIT' AS count_jit_compiled;
-- once an export has been read its size is the estimate: still below
SELECT (pg_temp.plan_json('SELECT * FROM scan_grades WHERE current_score > 50') -> 'Plan' ->> 'Total Cost')::float8
       < current_setting('jit_above_cost')::float8 AS read_below_jit_cost;
SELECT pg_temp.plan_json('SELECT sum(current_score) FROM scan_grades', true) ? 'JIT' AS sum_jit_compiled;
RESET jit;
-- the planner still avoids repeating an export: a join with a local table
-- reads it once
CREATE TEMP TABLE scan_courses (course_id bigint, title text);
INSERT INTO scan_courses SELECT 100 + i, 'course ' || i FROM generate_series(0, 9) i;
ANALYZE scan_courses;
SELECT count(*) AS jobs_before FROM lms_fdw_jobs() \gset
SELECT count(*) FROM scan_courses c JOIN scan_grades g USING (course_id);
SELECT count(*) - :jobs_before AS jobs_for_the_join FROM lms_fdw_jobs();

-- -------------------------------------------------------------------
-- Row estimates: a param qual's selectivity is not applied again to an
-- export that the parameter already filtered; a scan of several jobs
-- records their total.
-- -------------------------------------------------------------------
SELECT count(*) FROM scan_grades WHERE term_id = 3;
SELECT pg_temp.plan_json('SELECT * FROM scan_grades WHERE term_id = 3') -> 'Plan' -> 'Plan Rows' AS rows_term_3;
SELECT count(*) FROM scan_grades WHERE term_id IN (3, 4);
SELECT pg_temp.plan_json('SELECT * FROM scan_grades') -> 'Plan' -> 'Plan Rows' AS rows_after_two_jobs;
-- other quals still count
SELECT (pg_temp.plan_json('SELECT * FROM scan_grades WHERE current_score > 50') -> 'Plan' ->> 'Plan Rows')::float8
       < 50 AS filtered_estimate;

-- -------------------------------------------------------------------
-- Rescans: a LATERAL subquery whose outer value does not reach the
-- export replays the rows read once, never re-exports per outer row.
-- -------------------------------------------------------------------
CREATE TEMP TABLE scan_k (n bigint);
INSERT INTO scan_k VALUES (100), (101), (104);
ANALYZE scan_k;
SELECT count(*) AS jobs_before FROM lms_fdw_jobs() \gset
SELECT k.n, count(s.student_id)
FROM scan_k k, LATERAL (SELECT * FROM scan_grades_plain g WHERE g.course_id = k.n OFFSET 0) s
GROUP BY k.n ORDER BY k.n;
SELECT count(*) - :jobs_before AS jobs_for_the_lateral FROM lms_fdw_jobs();
-- the same as a correlated subquery
SELECT count(*) AS jobs_before FROM lms_fdw_jobs() \gset
SELECT k.n, (SELECT count(*) FROM scan_grades_plain g WHERE g.course_id = k.n) AS c
FROM scan_k k ORDER BY k.n;
SELECT count(*) - :jobs_before AS jobs_for_the_subquery FROM lms_fdw_jobs();
-- an outer value that is an export parameter: one export per value
SELECT count(*) AS jobs_before FROM lms_fdw_jobs() \gset
SELECT k.n, (SELECT count(*) FROM scan_grades g WHERE g.term_id = k.n) AS c
FROM scan_k k ORDER BY k.n;
SELECT count(*) - :jobs_before AS jobs_per_term FROM lms_fdw_jobs();

-- -------------------------------------------------------------------
-- lms_fdw_disconnect_all() between two FETCHes of an open cursor: the
-- connection a scan still uses is kept (a WARNING says so), the scan goes
-- on; once the cursor is closed it can be dropped.
-- -------------------------------------------------------------------
BEGIN;
DECLARE c CURSOR FOR SELECT student_id FROM scan_grades WHERE term_id IN (3, 4);
FETCH 2 FROM c;
SELECT lms_fdw_disconnect_all();
MOVE FORWARD ALL IN c;
CLOSE c;
COMMIT;
SELECT lms_fdw_disconnect_all();
-- two servers under an async Append: while the cursor returns the first
-- table's rows, the second one's job waits between status checks on a
-- connection no transfer is using at that moment
CREATE SERVER scan_canvas2 FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url :'base_url',
           poll_initial '20ms', poll_max '100ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER scan_canvas2
  OPTIONS (token 'regress-token');
CREATE FOREIGN TABLE scan_grades2 (student_id bigint)
  SERVER scan_canvas2 OPTIONS (resource 'grade_export_csv');
CREATE FUNCTION pg_temp.rows_left(cursor_name text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  c refcursor := cursor_name;
  r record;
  n int := 0;
BEGIN
  LOOP
    FETCH c INTO r;
    EXIT WHEN NOT FOUND;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;
BEGIN;
DECLARE c2 CURSOR FOR
  SELECT student_id FROM scan_grades UNION ALL SELECT student_id FROM scan_grades2;
FETCH 2 FROM c2;
SET client_min_messages = error;	-- one WARNING per server, in hash order
SELECT lms_fdw_disconnect_all() AS closed_any;
RESET client_min_messages;
SELECT pg_temp.rows_left('c2');
COMMIT;
SELECT lms_fdw_disconnect_all() AS closed_any;

DROP SERVER scan_canvas, scan_canvas2 CASCADE;
