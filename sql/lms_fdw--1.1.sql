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
-- lms_fdw_sync: keep a local table current from a Canvas Data 2 table
-- (the "dap syncdb" of lms_fdw).  The source is a foreign table as
-- IMPORT FOREIGN SCHEMA canvas_dap makes it: key columns (field 'key.…'),
-- value columns, a meta.action column and the meta columns since (also
-- param 'since'), until, at and schema_version.  The first call loads a
-- snapshot and stores its "at" as the watermark; each later call reads the
-- changes since the watermark (the qual "since = watermark" on the since
-- column is pushed to the LMS as the incremental query's since), upserts
-- them, deletes the rows whose meta.action is D and stores the job's
-- "until".  Everything happens in the caller's transaction.
-- ---------------------------------------------------------------------------

-- one row per target table
CREATE TABLE lms_fdw_sync_state (
    target regclass PRIMARY KEY,
    source regclass NOT NULL,
    watermark timestamptz,          -- at of the snapshot, then until of the last changes
    schema_version integer,         -- of the last job that returned rows
    last_run timestamptz,
    rows_upserted bigint NOT NULL DEFAULT 0,   -- by the last run
    rows_deleted bigint NOT NULL DEFAULT 0     -- by the last run
);
COMMENT ON TABLE lms_fdw_sync_state IS
  'lms_fdw_sync: one row per target table; delete a row to reload its table from a snapshot';
SELECT pg_catalog.pg_extension_config_dump('lms_fdw_sync_state', '');
-- everyone may sync the tables they own, and only those
ALTER TABLE lms_fdw_sync_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY lms_fdw_sync_state_owner ON lms_fdw_sync_state
  USING (pg_catalog.pg_has_role(current_user,
           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = target), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON lms_fdw_sync_state TO PUBLIC;

-- The columns of a source foreign table and their roles: 'key', 'value',
-- 'action' (meta.action), 'since', 'until', 'at', 'schema_version', or
-- 'other' (further meta fields and columns, not copied).
CREATE FUNCTION lms_fdw_sync_columns(source regclass,
    OUT name name, OUT type text, OUT role text, OUT num smallint)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$
  SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
         CASE WHEN o.meta IN ('since', 'until', 'at', 'schema_version') THEN o.meta
              WHEN o.meta IS NOT NULL THEN 'other'
              WHEN o.field = 'meta.action' THEN 'action'
              WHEN o.field LIKE 'meta.%' THEN 'other'
              WHEN o.field LIKE 'key.%' THEN 'key'
              ELSE 'value' END,
         a.attnum
  FROM pg_catalog.pg_attribute a
  CROSS JOIN LATERAL (
    SELECT max(option_value) FILTER (WHERE option_name = 'field') AS field,
           max(option_value) FILTER (WHERE option_name = 'meta') AS meta
    FROM pg_catalog.pg_options_to_table(a.attfdwoptions)) o
  WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped
  ORDER BY a.attnum
$$;

CREATE PROCEDURE lms_fdw_sync(source regclass, target regclass)
LANGUAGE plpgsql
AS $$
DECLARE
    ext_schema name;
    state_table text;
    st record;
    col record;
    keys text[] := '{}';
    cols text[] := '{}';
    pk text[];
    action_col text;
    since_col text;
    until_col text;
    at_col text;
    version_col text;
    have text;
    col_list text;
    key_list text;
    set_list text;
    key_match text;
    sql text;
    n_upserted bigint;
    n_deleted bigint;
    new_mark timestamptz;
    new_version integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_table WHERE ftrelid = source) THEN
        RAISE EXCEPTION 'lms_fdw_sync: "%" is not a foreign table', source
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'The source is a Canvas Data 2 table imported with IMPORT FOREIGN SCHEMA canvas_dap.';
    END IF;
    -- the extension's objects, whatever the caller's search_path
    SELECT n.nspname INTO ext_schema
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'lms_fdw';
    state_table := pg_catalog.format('%I.lms_fdw_sync_state', ext_schema);

    -- the source's columns
    FOR col IN EXECUTE pg_catalog.format('SELECT * FROM %I.lms_fdw_sync_columns($1)', ext_schema)
               USING source LOOP
        CASE col.role
            WHEN 'key' THEN keys := keys || col.name::text; cols := cols || col.name::text;
            WHEN 'value' THEN cols := cols || col.name::text;
            WHEN 'action' THEN action_col := col.name;
            WHEN 'since' THEN since_col := col.name;
            WHEN 'until' THEN until_col := col.name;
            WHEN 'at' THEN at_col := col.name;
            WHEN 'schema_version' THEN version_col := col.name;
            ELSE NULL;
        END CASE;
    END LOOP;
    IF cardinality(keys) = 0 OR action_col IS NULL OR since_col IS NULL OR until_col IS NULL
       OR at_col IS NULL OR version_col IS NULL THEN
        RAISE EXCEPTION 'lms_fdw_sync: foreign table "%" lacks the columns a sync needs', source
            USING ERRCODE = 'invalid_table_definition',
                  DETAIL = pg_catalog.format('It needs key columns (field ''key.…'') and columns with '
                    'field ''meta.action'', meta ''since'' (with param ''since''), meta ''until'', meta ''at'' '
                    'and meta ''schema_version''; missing: %s.',
                    concat_ws(', ', CASE WHEN cardinality(keys) = 0 THEN 'key' END,
                              CASE WHEN action_col IS NULL THEN 'meta.action' END,
                              CASE WHEN since_col IS NULL THEN 'since' END,
                              CASE WHEN until_col IS NULL THEN 'until' END,
                              CASE WHEN at_col IS NULL THEN 'at' END,
                              CASE WHEN version_col IS NULL THEN 'schema_version' END)),
                  HINT = 'IMPORT FOREIGN SCHEMA canvas_dap creates them.';
    END IF;

    -- the target's primary key must be the source's key
    SELECT array_agg(a.attname::text ORDER BY k.ord) INTO pk
    FROM pg_catalog.pg_index i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = target AND i.indisprimary;
    IF pk IS NULL OR NOT (pk @> keys AND keys @> pk) THEN
        RAISE EXCEPTION 'lms_fdw_sync: the primary key of "%" is (%), the key of "%" is (%)',
            target, coalesce(array_to_string(pk, ', '), 'none'), source, array_to_string(keys, ', ')
            USING ERRCODE = 'invalid_table_definition',
                  HINT = pg_catalog.format('Give the target that primary key (ALTER TABLE %s ADD PRIMARY KEY (%s)), '
                    'or drop it and call lms_fdw_sync again with its name to create it.',
                    target, array_to_string(keys, ', '));
    END IF;

    -- new columns of the source (a newer schema, re-imported) join the target
    FOR col IN EXECUTE pg_catalog.format('SELECT c.name, c.type FROM %I.lms_fdw_sync_columns($1) c '
                                         'WHERE c.role IN (''key'', ''value'') ORDER BY c.num', ext_schema)
               USING source LOOP
        SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO have
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = target AND a.attname = col.name AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN %I %s', target, col.name, col.type);
            RAISE NOTICE 'lms_fdw_sync: column "%" (%) added to "%"', col.name, col.type, target;
        ELSIF have <> col.type THEN
            RAISE EXCEPTION 'lms_fdw_sync: column "%" is % in "%" but % in "%"',
                col.name, have, target, col.type, source
                USING ERRCODE = 'datatype_mismatch',
                      HINT = pg_catalog.format('Convert the column (ALTER TABLE %s ALTER COLUMN %I TYPE %s), '
                        'or reload the table from a snapshot: DELETE FROM %s WHERE target = %L::regclass, '
                        'then call lms_fdw_sync again.', target, col.name, col.type, state_table, target);
        END IF;
    END LOOP;

    -- this target's state, locked against a concurrent sync of it
    EXECUTE pg_catalog.format('SELECT * FROM %s WHERE target = $1 FOR UPDATE', state_table)
        INTO st USING target;
    -- (a source dropped and imported again is the same source)
    IF st.target IS NOT NULL AND st.source <> source
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = st.source) THEN
        RAISE EXCEPTION 'lms_fdw_sync: "%" is kept in sync from "%", not from "%"', target, st.source, source
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('To change its source, DELETE FROM %s WHERE target = %L::regclass '
                    '(the next call reloads a snapshot).', state_table, target);
    END IF;

    SELECT string_agg(pg_catalog.quote_ident(c), ', ') INTO col_list FROM unnest(cols) c;
    SELECT string_agg(pg_catalog.quote_ident(c), ', ') INTO key_list FROM unnest(keys) c;
    SELECT string_agg(pg_catalog.format('%1$I = EXCLUDED.%1$I', c), ', ') INTO set_list
    FROM unnest(cols) c WHERE c <> ALL (keys);
    SELECT string_agg(pg_catalog.format('t.%1$I = b.%1$I', c), ' AND ') INTO key_match FROM unnest(keys) c;

    -- one scan of the source (a materialized CTE), then the changes
    IF st.watermark IS NULL THEN
        -- a snapshot: the target becomes its rows
        sql := pg_catalog.format(
            'WITH batch AS MATERIALIZED (SELECT %2$s, %3$I AS lms_mark, %4$I AS lms_version FROM %1$s), '
            'ups AS (INSERT INTO %5$s AS t (%2$s) SELECT %2$s FROM batch ON CONFLICT (%6$s) DO %7$s RETURNING 1), '
            'del AS (DELETE FROM %5$s t WHERE NOT EXISTS (SELECT 1 FROM batch b WHERE %8$s) RETURNING 1) '
            'SELECT (SELECT count(*) FROM ups), (SELECT count(*) FROM del), '
            '(SELECT max(lms_mark) FROM batch), (SELECT max(lms_version) FROM batch)',
            source, col_list, at_col, version_col, target, key_list,
            CASE WHEN set_list IS NULL THEN 'NOTHING' ELSE 'UPDATE SET ' || set_list END, key_match);
        EXECUTE sql INTO n_upserted, n_deleted, new_mark, new_version;
    ELSE
        -- the changes since the watermark
        sql := pg_catalog.format(
            'WITH batch AS MATERIALIZED (SELECT %2$s, %3$I AS lms_action, %4$I AS lms_mark, %5$I AS lms_version '
            'FROM %1$s WHERE %6$I = $1), '
            'ups AS (INSERT INTO %7$s AS t (%2$s) SELECT %2$s FROM batch WHERE lms_action IS DISTINCT FROM ''D'' '
            'ON CONFLICT (%8$s) DO %9$s RETURNING 1), '
            'del AS (DELETE FROM %7$s t USING batch b WHERE b.lms_action = ''D'' AND %10$s RETURNING 1) '
            'SELECT (SELECT count(*) FROM ups), (SELECT count(*) FROM del), '
            '(SELECT max(lms_mark) FROM batch), (SELECT max(lms_version) FROM batch)',
            source, col_list, action_col, until_col, version_col, since_col, target, key_list,
            CASE WHEN set_list IS NULL THEN 'NOTHING' ELSE 'UPDATE SET ' || set_list END, key_match);
        EXECUTE sql INTO n_upserted, n_deleted, new_mark, new_version USING st.watermark;
    END IF;

    IF new_version IS NOT NULL AND st.schema_version IS NOT NULL AND new_version <> st.schema_version THEN
        RAISE NOTICE 'lms_fdw_sync: the schema version of "%" changed from % to %', source, st.schema_version, new_version
            USING HINT = 'Re-import the foreign table (IMPORT FOREIGN SCHEMA) to receive new columns; '
                         'the next sync adds them to the target.';
    END IF;

    -- no rows: no job watermark to read; the next call asks again since the same time
    EXECUTE pg_catalog.format(
        'INSERT INTO %s AS s (target, source, watermark, schema_version, last_run, rows_upserted, rows_deleted) '
        'VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp(), $5, $6) '
        'ON CONFLICT (target) DO UPDATE SET source = EXCLUDED.source, watermark = coalesce(EXCLUDED.watermark, s.watermark), '
        'schema_version = coalesce(EXCLUDED.schema_version, s.schema_version), last_run = EXCLUDED.last_run, '
        'rows_upserted = EXCLUDED.rows_upserted, rows_deleted = EXCLUDED.rows_deleted', state_table)
        USING target, source, new_mark, new_version, n_upserted, n_deleted;
END
$$;

COMMENT ON PROCEDURE lms_fdw_sync(regclass, regclass) IS
  'keep a local table current from a Canvas Data 2 foreign table: a snapshot, then the changes since the stored watermark';

-- The same, naming the target: it is created when missing, with the source's
-- key and value columns and its key as primary key.
CREATE PROCEDURE lms_fdw_sync(source regclass, target text)
LANGUAGE plpgsql
AS $$
DECLARE
    rel regclass := pg_catalog.to_regclass(target);
    name_parts text[] := pg_catalog.parse_ident(target);
    ext_schema name;
    qualified text;
    col_defs text;
    key_list text;
BEGIN
    SELECT n.nspname INTO ext_schema
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'lms_fdw';
    IF rel IS NULL THEN
        SELECT string_agg(pg_catalog.quote_ident(p), '.') INTO qualified FROM unnest(name_parts) p;
        EXECUTE pg_catalog.format(
            'SELECT string_agg(pg_catalog.format(''%%I %%s'', c.name, c.type), '', '' ORDER BY c.num), '
            'string_agg(pg_catalog.quote_ident(c.name), '', '' ORDER BY c.num) FILTER (WHERE c.role = ''key'') '
            'FROM %I.lms_fdw_sync_columns($1) c WHERE c.role IN (''key'', ''value'')', ext_schema)
            INTO col_defs, key_list USING source;
        IF key_list IS NULL THEN
            RAISE EXCEPTION 'lms_fdw_sync: foreign table "%" has no key columns', source
                USING ERRCODE = 'invalid_table_definition',
                      HINT = 'Key columns carry the option field ''key.…''; IMPORT FOREIGN SCHEMA canvas_dap creates them.';
        END IF;
        EXECUTE pg_catalog.format('CREATE TABLE %s (%s, PRIMARY KEY (%s))', qualified, col_defs, key_list);
        rel := pg_catalog.to_regclass(qualified);
    END IF;
    EXECUTE pg_catalog.format('CALL %I.lms_fdw_sync($1, $2)', ext_schema) USING source, rel;
END
$$;

COMMENT ON PROCEDURE lms_fdw_sync(regclass, text) IS
  'lms_fdw_sync into the named table, created from the source''s columns if missing';

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
