/* sql/lms_fdw--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION lms_fdw" to load this file. \quit

CREATE FUNCTION lms_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION lms_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER lms_fdw
  HANDLER lms_fdw_handler
  VALIDATOR lms_fdw_validator;

CREATE FUNCTION lms_fdw_version()
RETURNS text
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION lms_fdw_jobs(
    OUT server text,
    OUT resource text,
    OUT job_id text,
    OUT state text,
    OUT started timestamptz,
    OUT finished timestamptz,
    OUT status_checks integer,
    OUT retries integer,
    OUT waited interval,
    OUT bytes bigint,
    OUT rows bigint,
    OUT error text,
    OUT schedule text)            -- since 1.1, see the learned polling block below
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION lms_fdw_disconnect(server text)
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION lms_fdw_disconnect_all()
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- ---------------------------------------------------------------------------
-- Learned polling and a live view of exports in progress.
-- lms_fdw_jobs() gains a last column, schedule: 'learned (N runs)' when the
-- job's status checks were aimed at the durations of its last N runs,
-- 'default' otherwise.  lms_fdw_forget() clears the learned durations
-- (every user's when the library is preloaded, so only superusers and
-- those granted it may).  lms_fdw_activity shows the exports in progress:
-- every backend's when preloaded (a user sees their own, members of
-- pg_read_all_stats all of them), the caller's own otherwise.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lms_fdw_forget()
RETURNS integer
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION lms_fdw_forget() FROM PUBLIC;
COMMENT ON FUNCTION lms_fdw_forget() IS
  'forget the learned durations of exports; returns how many exports were forgotten';

CREATE FUNCTION lms_fdw_activity(
    OUT pid integer,
    OUT usename name,
    OUT server text,
    OUT resource text,
    OUT job_id text,
    OUT phase text,
    OUT lms_state text,
    OUT progress double precision,
    OUT expected_finish timestamptz,
    OUT status_checks integer,
    OUT retries integer,
    OUT waited interval,
    OUT bytes bigint,
    OUT rows bigint,
    OUT started timestamptz,
    OUT schedule text)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW lms_fdw_activity AS SELECT * FROM lms_fdw_activity();
COMMENT ON VIEW lms_fdw_activity IS
  'lms_fdw exports in progress: yours, or every one for members of pg_read_all_stats';
GRANT SELECT ON lms_fdw_activity TO PUBLIC;
