-- ===================================================================
-- lms_fdw option validation (no network)
-- ===================================================================
CREATE EXTENSION lms_fdw;
SELECT lms_fdw_version();

-- the wrapper itself takes no options
CREATE FOREIGN DATA WRAPPER lms_fdw_other HANDLER lms_fdw_handler
  VALIDATOR lms_fdw_validator OPTIONS (provider 'canvas');  -- ERROR

-- ===================================================================
-- servers
-- ===================================================================
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw;  -- ERROR: provider required
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas');  -- ERROR: base_url required
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'moodle', base_url 'https://lms.example.edu');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'ftp://lms.example.edu');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'not a url');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'http://lms.example.edu');  -- ERROR: http needs allow_http
-- base_url carries no credential, query string or fragment
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://admin:secret@lms.example.edu');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu/api?access_token=x');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu/#top');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', colour 'blue');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', token 'x');  -- ERROR: credential
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', resource 'grade_export_csv');  -- ERROR: table option

-- times use PostgreSQL interval syntax
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', poll_initial 'soon');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', poll_initial '0');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', poll_max '-5 s');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', poll_timeout '30 days');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', poll_factor '0.5');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', retry_max 'many');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', max_parallel_jobs '0');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', cancel_on_abort 'maybe');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', api_version '1.x');  -- ERROR
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', rate_limit_floor '-1');  -- ERROR

-- every server option with a valid value
CREATE SERVER s FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu/prefix',
           poll_initial '100ms', poll_max '2 min', poll_factor '2',
           api_version '1.47', poll_timeout '1 hour', retry_max '3',
           retry_base '250ms', retry_cap '30s', rate_limit_floor '50',
           connect_timeout '5s', stall_timeout '1 min', max_parallel_jobs '8',
           cancel_on_abort 'false', reuse_window '0', user_agent 'regress');
-- plain http is fine for loopback hosts
CREATE SERVER s_local FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'generic', base_url 'http://127.0.0.1:9');
CREATE SERVER s_local6 FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'generic', base_url 'http://[::1]:9/api');
CREATE SERVER s_localhost FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'generic', base_url 'http://localhost:9');
-- and elsewhere only with allow_http, which only a superuser may set
CREATE SERVER s_http FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'http://lms.example.edu', allow_http 'true');
ALTER SERVER s_http OPTIONS (SET allow_http 'false');  -- ERROR: the URL needs it
ALTER SERVER s OPTIONS (ADD colour 'blue');  -- ERROR

-- ===================================================================
-- user mappings: credentials live here, and only here
-- ===================================================================
CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (poll_max '1s');  -- ERROR
CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (token '');  -- ERROR
CREATE USER MAPPING FOR CURRENT_USER SERVER s
  OPTIONS (token 'secret-token', client_id 'id', client_secret 'secret');

-- ===================================================================
-- foreign tables and columns
-- ===================================================================
CREATE FOREIGN TABLE t_bad (a int) SERVER s OPTIONS (token 'x');  -- ERROR
CREATE FOREIGN TABLE t_bad (a int) SERVER s OPTIONS (provider 'canvas');  -- ERROR
CREATE FOREIGN TABLE t_bad (a int) SERVER s OPTIONS (parameters '[1,2]');  -- ERROR
CREATE FOREIGN TABLE t_bad (a int) SERVER s OPTIONS (parameters '{"a":');  -- ERROR
CREATE FOREIGN TABLE t_bad (a int) SERVER s OPTIONS (format 'xml');  -- ERROR
CREATE FOREIGN TABLE t_bad (a int) SERVER s OPTIONS (start_method 'PATCH');  -- ERROR
CREATE FOREIGN TABLE t_bad (a int OPTIONS (meta 'row_number')) SERVER s;  -- ERROR
CREATE FOREIGN TABLE t_bad (a int OPTIONS (colour 'blue')) SERVER s;  -- ERROR
CREATE FOREIGN TABLE t_bad (a int OPTIONS (token 'x')) SERVER s;  -- ERROR
CREATE FOREIGN TABLE grades (
  student_id bigint,
  student_name text OPTIONS (field 'student name'),
  term_id bigint OPTIONS (param 'enrollment_term_id'),
  current_score numeric,
  job text OPTIONS (meta 'job_id'),
  fetched timestamptz OPTIONS (meta 'fetched_at')
) SERVER s OPTIONS (resource 'grade_export_csv', account_id '1',
                    parameters '{"include_deleted": true}', format 'csv',
                    poll_initial '2s', retry_max '0');
-- a canvas table must name its report: checked when it is planned
CREATE FOREIGN TABLE no_resource (a int) SERVER s;
EXPLAIN (COSTS OFF) SELECT * FROM no_resource;  -- ERROR
-- a generic table must say where to start and where to look
CREATE USER MAPPING FOR CURRENT_USER SERVER s_local OPTIONS (token 'x');
CREATE FOREIGN TABLE generic_incomplete (a int) SERVER s_local OPTIONS (start_path '/exports');
EXPLAIN (COSTS OFF) SELECT * FROM generic_incomplete;  -- ERROR
CREATE FOREIGN TABLE generic_bad_status (a int) SERVER s_local
  OPTIONS (start_path '/exports', status_path '/exports/status');
EXPLAIN (COSTS OFF) SELECT * FROM generic_bad_status;  -- ERROR

-- ===================================================================
-- what a non-superuser may not do
-- ===================================================================
DROP ROLE IF EXISTS regress_lms_user;
CREATE ROLE regress_lms_user;
GRANT USAGE ON FOREIGN DATA WRAPPER lms_fdw TO regress_lms_user;
GRANT USAGE ON FOREIGN SERVER s TO regress_lms_user;
CREATE SCHEMA regress_lms_schema AUTHORIZATION regress_lms_user;
SET ROLE regress_lms_user;
CREATE SERVER s_user FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'http://lms.example.edu', allow_http 'true');  -- ERROR
CREATE SERVER s_user FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'canvas', base_url 'https://lms.example.edu', ca_file '/etc/passwd');  -- ERROR
-- a non-superuser may not choose the write a generic table sends with the
-- querying user's token, nor point a server at a loopback or private host
CREATE FOREIGN TABLE regress_lms_schema.t_write (a int) SERVER s
  OPTIONS (start_path '/api/v1/users/self', start_method 'PUT');  -- ERROR
CREATE FOREIGN TABLE regress_lms_schema.t_write (a int) SERVER s
  OPTIONS (start_body '{"delete": true}');  -- ERROR
CREATE SERVER s_user FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'generic', base_url 'http://127.0.0.1:9');  -- ERROR
CREATE SERVER s_user FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'generic', base_url 'https://169.254.169.254/latest');  -- ERROR
-- a mapping without a credential is accepted, but cannot be used to read
CREATE USER MAPPING FOR CURRENT_USER SERVER s;
CREATE FOREIGN TABLE regress_lms_schema.user_grades (a int) SERVER s
  OPTIONS (resource 'grade_export_csv');
SELECT * FROM regress_lms_schema.user_grades;  -- ERROR: needs a credential
RESET ROLE;
DROP SCHEMA regress_lms_schema CASCADE;
DROP USER MAPPING FOR regress_lms_user SERVER s;
REVOKE ALL ON FOREIGN SERVER s FROM regress_lms_user;
REVOKE ALL ON FOREIGN DATA WRAPPER lms_fdw FROM regress_lms_user;
DROP ROLE regress_lms_user;

-- connection functions work without any connection
SELECT lms_fdw_disconnect('s');
SELECT lms_fdw_disconnect_all();
SELECT lms_fdw_disconnect('no_such_server');  -- ERROR

DROP SERVER s, s_local, s_local6, s_localhost, s_http CASCADE;

-- ===================================================================
-- Brightspace: OAuth refresh, Brightspace Data Sets, api_version 'auto'
-- ===================================================================
CREATE SERVER s_d2l FOREIGN DATA WRAPPER lms_fdw
  OPTIONS (provider 'brightspace', base_url 'https://school.brightspace.com',
           api_version 'auto', scope 'datahub:dataexports:read datahub:dataexports:download');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 's_d2l';
ALTER SERVER s_d2l OPTIONS (ADD token_url 'http://auth.example.com/core/connect/token');  -- ERROR: plain http
ALTER SERVER s_d2l OPTIONS (ADD token_url 'ftp://auth.example.com/token');  -- ERROR
ALTER SERVER s_d2l OPTIONS (ADD refresh_token 'x');  -- ERROR: a credential
ALTER SERVER s_d2l OPTIONS (SET api_version 'newest');  -- ERROR
CREATE USER MAPPING FOR CURRENT_USER SERVER s_d2l
  OPTIONS (client_id 'app', client_secret 'secret', refresh_token '');  -- ERROR: empty
CREATE USER MAPPING FOR CURRENT_USER SERVER s_d2l
  OPTIONS (client_id 'app', client_secret 'secret', refresh_token 'rt-seed');
CREATE FOREIGN TABLE t_d2l (a int) SERVER s_d2l
  OPTIONS (resource 'Grade Results', differential 'maybe');  -- ERROR
CREATE FOREIGN TABLE t_d2l (a int) SERVER s_d2l
  OPTIONS (resource 'Grade Results', refresh_token 'x');  -- ERROR: a credential
CREATE FOREIGN TABLE t_d2l (user_id bigint, extract_date timestamptz OPTIONS (meta 'extract_date'))
  SERVER s_d2l OPTIONS (resource 'Grade Results', differential 'true');
EXPLAIN (COSTS OFF) SELECT * FROM t_d2l;
DROP SERVER s_d2l CASCADE;
