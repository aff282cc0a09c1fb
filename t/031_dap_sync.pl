# lms_fdw_sync: a Canvas Data 2 table kept current in a local table.
#
# The mock's submissions table has live rows.  A table imported with IMPORT
# FOREIGN SCHEMA canvas_dap is the source; pg_cron (Debian's
# postgresql-15-cron 1.4, preloaded, jobs in background workers: schedules
# by the minute only) calls lms_fdw_sync three times, once a minute, with
# inserts, updates and deletes at the LMS between the runs.  After each run
# the local table equals the LMS's current rows, the state table counts
# what the run did, and the request log shows a snapshot first and then
# incremental queries since the previous watermark.  Then, by hand: a sync
# rolled back or failing changes nothing, a newer schema (re-imported) adds
# its column, a target whose column type differs is an ERROR with a HINT,
# and the extension updated from 1.0 has the procedure.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
$mock->scenario(objects => 3);
sub dap_rows { return $mock->_call('POST', '/__mock/dap/rows', { table => 'submissions', @_ }) }
dap_rows(seed => 40);

my $node = new_cron_node('dap_sync');
my $base = $mock->base_url;
create_dap_server($node, $mock);
$node->safe_psql('postgres', qq{
	CREATE SCHEMA cd2;
	IMPORT FOREIGN SCHEMA canvas_dap LIMIT TO (submissions) FROM SERVER dap INTO cd2;
});

# the LMS's live rows and the local table, in the same spelling
sub lms_rows
{
	my $rows = $mock->_call('GET', '/__mock/dap/rows?table=submissions')->{rows};
	return join("\n", map {
		join('|', $_->{id}, $_->{score} // '', $_->{grade} // '', $_->{workflow_state})
	} @$rows);
}
sub local_rows
{
	return $node->safe_psql('postgres', q{
		SELECT string_agg(concat_ws('|', id, coalesce(score::text, ''), coalesce(grade, ''),
		                            workflow_state), E'\n' ORDER BY id)
		FROM public.submissions});
}
sub state_of
{
	return $node->safe_psql('postgres', q{
		SELECT rows_upserted, rows_deleted, schema_version FROM lms_fdw_sync_state
		WHERE target = 'public.submissions'::regclass});
}
sub queries { return grep { $_->{method} eq 'POST' && $_->{path} =~ m{/data$} } @{ $mock->requests } }

my $id = $node->safe_psql('postgres', q{
	SELECT cron.schedule('dap-sync', '* * * * *',
	  $$CALL lms_fdw_sync('cd2.submissions', 'public.submissions')$$)});
like($id, qr/^\d+$/, "the sync is scheduled as cron job $id");

sub wait_runs
{
	my ($n) = @_;
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')}, $n),
		"cron run $n finished")
	  or diag($node->safe_psql('postgres', 'SELECT status, return_message FROM cron.job_run_details'));
	my $status = $node->safe_psql('postgres', q{
		SELECT status || ' ' || return_message FROM cron.job_run_details ORDER BY start_time DESC LIMIT 1});
	is($status, 'succeeded CALL', "cron run $n succeeded");
}

# Run 1: the snapshot creates the table
wait_runs(1);
is(local_rows(), lms_rows(), 'run 1: the local table equals the LMS rows (a snapshot)');
is($node->safe_psql('postgres', q{
	SELECT string_agg(a.attname, ',') FROM pg_index i
	JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
	WHERE i.indrelid = 'public.submissions'::regclass AND i.indisprimary}), 'id',
	'run 1: the target was created with the key as primary key');
is(state_of(), '40|0|3', 'run 1: 40 rows upserted, schema version 3');
my @q = queries();
is(scalar(@q), 1, 'run 1: one query');
unlike($q[0]{body}, qr/since/, 'run 1: a snapshot query');
my $at = $node->safe_psql('postgres', q{SELECT watermark FROM lms_fdw_sync_state});
my ($job1) = grep { $_->{kind} eq 'dap' } @{ $mock->jobs };

# Changes at the LMS: two inserts, three updates, two deletes
dap_rows(upsert => [
		{ id => 41, course_id => 101, user_id => 301, assignment_id => 201, score => 77.5,
		  grade => 'C', workflow_state => 'graded' },
		{ id => 42, course_id => 102, user_id => 302, assignment_id => 202, workflow_state => 'unsubmitted' },
		{ id => 3, score => 99.0, grade => 'A' },
		{ id => 7, score => 12.5, grade => 'F' },
		{ id => 12, workflow_state => 'pending_review' } ],
	delete => [ { id => 5 }, { id => 20 } ]);
isnt(local_rows(), lms_rows(), 'the LMS rows changed');

# Run 2: the changes since the snapshot's at
wait_runs(2);
is(local_rows(), lms_rows(), 'run 2: the local table equals the LMS rows again');
is(state_of(), '5|2|3', 'run 2: 5 rows upserted, 2 deleted');
@q = queries();
is(scalar(@q), 2, 'run 2: one more query');
like($q[1]{body}, qr/"since":"[^"]+"/, 'run 2: an incremental query');
my ($since) = $q[1]{body} =~ /"since":"([^"]+)"/;
is($node->safe_psql('postgres', "SELECT '$since'::timestamptz = '$at'::timestamptz"), 't',
	"run 2: since is the snapshot's at");
is($node->safe_psql('postgres', "SELECT watermark > '$at' FROM lms_fdw_sync_state"), 't',
	'run 2: the watermark advanced');
my $until = $node->safe_psql('postgres', q{SELECT watermark FROM lms_fdw_sync_state});

# More changes: an insert, an update of a new row, a delete of an updated one
dap_rows(upsert => [
		{ id => 43, course_id => 103, user_id => 303, assignment_id => 203, score => 50.0,
		  grade => 'F', workflow_state => 'graded' },
		{ id => 41, score => 81.0, grade => 'B' } ],
	delete => [ { id => 7 } ]);

# Run 3
wait_runs(3);
is($node->safe_psql('postgres', q{SELECT cron.unschedule('dap-sync')}), 't', 'unscheduled');
$node->poll_query_until('postgres', q{
	SELECT count(*) FROM cron.job_run_details WHERE status NOT IN ('succeeded', 'failed')}, '0');
is(local_rows(), lms_rows(), 'run 3: the local table equals the LMS rows again');
is(state_of(), '2|1|3', 'run 3: 2 rows upserted, 1 deleted');
@q = queries();
($since) = $q[-1]{body} =~ /"since":"([^"]+)"/;
is($node->safe_psql('postgres', "SELECT '$since'::timestamptz = '$until'::timestamptz"), 't',
	"run 3: since is run 2's until");
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.submissions'), '40',
	'run 3: 40 + 3 inserted - 3 deleted rows');

# By hand: a sync rolled back changes nothing
dap_rows(delete => [ { id => 1 } ]);
my $before = local_rows();
my $state = $node->safe_psql('postgres', 'SELECT watermark, last_run FROM lms_fdw_sync_state');
$node->safe_psql('postgres', q{
	BEGIN;
	CALL lms_fdw_sync('cd2.submissions', 'public.submissions');
	ROLLBACK;});
is(local_rows(), $before, 'a sync rolled back leaves the table as it was');
is($node->safe_psql('postgres', 'SELECT watermark, last_run FROM lms_fdw_sync_state'), $state,
	'and the state');

# A sync whose export fails changes nothing either
$mock->_call('POST', '/__mock/dap/expire', {});
$mock->scenario(statuses => [ 'waiting', 'failed' ], error_message => 'query processing failed');
my ($ret, $out, $err) = $node->psql('postgres',
	q{CALL lms_fdw_sync('cd2.submissions', 'public.submissions')});
like($err, qr/ended in state "failed"/, 'a failed export: the ERROR of the scan');
is(local_rows(), $before, 'a failed export: the table is unchanged');
is($node->safe_psql('postgres', 'SELECT watermark, last_run FROM lms_fdw_sync_state'), $state,
	'a failed export: the state is unchanged');
$mock->scenario(statuses => [ 'waiting', 'running', 'complete' ]);

# A newer schema: a new column, re-imported, joins the target
$mock->scenario(schema_version => 4, dap_extra_columns => { submissions => [ [ 'redo_request', 'boolean', 1 ] ] });
$node->safe_psql('postgres', q{
	DROP FOREIGN TABLE cd2.submissions;
	IMPORT FOREIGN SCHEMA canvas_dap LIMIT TO (submissions) FROM SERVER dap INTO cd2;});
dap_rows(upsert => [ { id => 2, redo_request => JSON::PP::true() } ]);
($ret, $out, $err) = $node->psql('postgres',
	q{CALL lms_fdw_sync('cd2.submissions', 'public.submissions')});
is($ret, 0, 'the sync after a schema change succeeds');
like($err, qr/column "redo_request" \(boolean\) added to "submissions"/, 'it added the new column');
like($err, qr/schema version of "cd2.submissions" changed from 3 to 4/, 'it says the version changed');
is(local_rows(), lms_rows(), 'the table equals the LMS rows');
is($node->safe_psql('postgres', q{
	SELECT string_agg(id || ':' || coalesce(redo_request::text, '-'), ',' ORDER BY id)
	FROM public.submissions WHERE id <= 3}), '2:true,3:-', 'the new column carries the changed row');
is(state_of(), '1|1|4', 'the state has the new version');

# A change it cannot apply: a column of another type
$node->safe_psql('postgres', 'ALTER TABLE public.submissions ALTER COLUMN score TYPE text');
($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nCALL lms_fdw_sync('cd2.submissions', 'public.submissions')");
is(sqlstate_of($err), '42804', 'a column type that differs: 42804');
like($err, qr/column "score" is text in "submissions" but double precision in "cd2.submissions"/,
	'the ERROR names the column and both types');
like($err, qr/HINT:  Convert the column \(ALTER TABLE submissions ALTER COLUMN score TYPE double precision\), or reload/,
	'the HINT says what to do');

# A source that is not a Canvas Data 2 table
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE plain (id bigint, score float8) SERVER dap OPTIONS (resource 'submissions')});
($ret, $out, $err) = $node->psql('postgres', "CALL lms_fdw_sync('plain', 'public.x')");
like($err, qr/foreign table "plain" has no key columns/, 'a source without key columns is refused');

# ALTER EXTENSION UPDATE from 1.0
$node->safe_psql('postgres', 'CREATE DATABASE upd');
$node->safe_psql('upd', q{CREATE EXTENSION lms_fdw VERSION '1.0'});
is($node->safe_psql('upd', q{SELECT count(*) FROM pg_proc WHERE proname = 'lms_fdw_sync'}), '0',
	'version 1.0 has no lms_fdw_sync');
$node->safe_psql('upd', 'ALTER EXTENSION lms_fdw UPDATE');
is($node->safe_psql('upd', q{SELECT extversion FROM pg_extension WHERE extname = 'lms_fdw'}), '1.1',
	'updated to 1.1');
$node->safe_psql('upd', qq{
	CREATE SERVER dap FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas_dap', base_url '$base', poll_initial '50ms', poll_max '200ms');
	CREATE USER MAPPING FOR CURRENT_USER SERVER dap
	  OPTIONS (client_id 'tap-client', client_secret 'tap-secret');
	IMPORT FOREIGN SCHEMA canvas_dap LIMIT TO (submissions) FROM SERVER dap INTO public;
	CALL lms_fdw_sync('public.submissions', 'public.local_submissions');});
is($node->safe_psql('upd', 'SELECT count(*) FROM local_submissions'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM public.submissions'),
	'the updated extension syncs');

$node->stop;
done_testing();
