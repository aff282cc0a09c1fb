/* sql/lms_fdw--1.0.sql */

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
    OUT error text)
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
