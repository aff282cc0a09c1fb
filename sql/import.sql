-- ===================================================================
-- IMPORT FOREIGN SCHEMA (no network)
-- ===================================================================
CREATE SERVER import_canvas FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'http://127.0.0.1:9');
CREATE SCHEMA lms;
IMPORT FOREIGN SCHEMA canvas FROM SERVER import_canvas INTO lms
  OPTIONS (account_id '7', poll_max '2 min');
\d lms.grade_export_csv
SELECT ftoptions FROM pg_foreign_table
  WHERE ftrelid = 'lms.grade_export_csv'::regclass;
-- LIMIT TO / EXCEPT
CREATE SCHEMA lms2;
IMPORT FOREIGN SCHEMA canvas LIMIT TO (grade_export_csv, no_such_table)
  FROM SERVER import_canvas INTO lms2;
IMPORT FOREIGN SCHEMA canvas EXCEPT (grade_export_csv)
  FROM SERVER import_canvas INTO lms2;
SELECT foreign_table_schema, foreign_table_name
  FROM information_schema.foreign_tables
  WHERE foreign_server_name = 'import_canvas' ORDER BY 1, 2;
-- Canvas Data 2 (schema canvas_dap, or its namespace canvas) and Brightspace
CREATE SERVER import_dap FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas_dap', base_url 'http://127.0.0.1:9');
CREATE SERVER import_d2l FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'brightspace', base_url 'http://127.0.0.1:9');
CREATE SCHEMA dap;
-- (the LMS cannot be read: no user mapping; the built-in tables, with a WARNING)
\set VERBOSITY terse
IMPORT FOREIGN SCHEMA canvas LIMIT TO (submissions) FROM SERVER import_dap INTO dap;
IMPORT FOREIGN SCHEMA canvas_dap EXCEPT (submissions) FROM SERVER import_dap INTO dap;
\set VERBOSITY default
IMPORT FOREIGN SCHEMA brightspace FROM SERVER import_d2l INTO dap;
\d dap.submissions
SELECT foreign_table_name, foreign_server_name
  FROM information_schema.foreign_tables
  WHERE foreign_table_schema = 'dap' ORDER BY 1;
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
  WHERE c.relnamespace = 'dap'::regnamespace ORDER BY 1;
DROP SCHEMA dap CASCADE;
DROP SERVER import_dap, import_d2l CASCADE;
-- errors
IMPORT FOREIGN SCHEMA brightspace FROM SERVER import_canvas INTO lms2;  -- ERROR
CREATE SCHEMA lms3;
IMPORT FOREIGN SCHEMA canvas FROM SERVER import_canvas INTO lms3
  OPTIONS (colour 'blue');  -- ERROR
CREATE SERVER import_generic FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'generic', base_url 'http://127.0.0.1:9');
IMPORT FOREIGN SCHEMA generic FROM SERVER import_generic INTO lms2;  -- ERROR
DROP SCHEMA lms, lms2, lms3 CASCADE;
DROP SERVER import_canvas, import_generic CASCADE;
