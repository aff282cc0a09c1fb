# A report that ends in error, a body cut short, a column the file lacks, a
# value the column type rejects: each a clear ERROR, and INSERT ... SELECT
# loads nothing.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('failures');
create_canvas_objects($node, $mock);
$node->safe_psql('postgres',
	'CREATE TABLE snapshot AS SELECT * FROM grades WITH NO DATA');

sub run_failing
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		on_error_stop => 0);
	return $err;
}

# The report ends in "error" with the LMS's message
$mock->scenario(statuses => [ 'created', 'running', 'error' ],
	error_message => 'Generating the report, grade_export_csv, failed: term 9 is archived');
my $err = run_failing('INSERT INTO snapshot SELECT * FROM grades');
is(sqlstate_of($err), 'HV000', 'a failed report is HV000');
my ($job) = map { $_->{id} } @{ $mock->jobs };
like($err, qr/export job $job on server "canvas" ended in state "error"/,
	'the error names the job and its state');
like($err, qr/The LMS said: Generating the report, grade_export_csv, failed: term 9 is archived/,
	'the error carries the LMS message');
like($err, qr/CONTEXT:  lms_fdw export job $job on server "canvas", phase resolve/,
	'the context names the job and the phase');
is($node->safe_psql('postgres', 'SELECT count(*) FROM snapshot'), '0',
	'the failed INSERT ... SELECT loaded nothing');

# poll_timeout: the job never finishes; ERROR naming it and its last
# state, and the job is cancelled at the LMS (a running report: abort)
$mock->reset;
$mock->scenario(statuses => [ 'created', { status => 'running', progress => 12 } ]);
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE grades OPTIONS (ADD poll_timeout '600ms')});
$err = run_failing('SELECT count(*) FROM grades');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE grades OPTIONS (DROP poll_timeout)});
($job) = map { $_->{id} } @{ $mock->jobs };
is(sqlstate_of($err), 'HV000', 'poll_timeout is HV000');
like($err, qr/export job $job on server "canvas" did not finish within poll_timeout \(600 ms\)/,
	'naming the job and the limit');
like($err, qr/Its last state was "running" after \d+ status checks; the job was cancelled at the LMS/,
	'with its last state and the cancel');
my ($abort) = grep { $_->{method} eq 'PUT' } @{ $mock->requests };
like($abort->{path}, qr{/reports/grade_export_csv/$job/abort$}, 'the running report was aborted');
ok($mock->jobs->[0]{abort_received}, 'and the LMS recorded the abort');

# The body is cut short after 20 kB, some rows in
$mock->reset;
$mock->scenario(rows => 2000, truncate_at => 20000, chunk_size => 4096);
$err = run_failing('INSERT INTO snapshot SELECT * FROM grades');
is(sqlstate_of($err), 'HV000', 'a truncated body is HV000');
like($err, qr/download of .* was cut short after \d+ bytes/, 'and says so');
unlike($err, qr/X-Amz-Signature=[0-9a-f]/, 'without the presigned signature');
is($node->safe_psql('postgres', 'SELECT count(*) FROM snapshot'), '0',
	'the rows read before the cut were not loaded');

# The same, with a declared Content-Length that is never reached
$mock->reset;
$mock->scenario(rows => 2000, truncate_at => 20000, truncate_mode => 'length');
$err = run_failing('SELECT count(*) FROM grades');
is(sqlstate_of($err), 'HV000', 'a short Content-Length body is HV000');

# A declared column the file does not have
$mock->reset;
$node->safe_psql('postgres',
	'CREATE FOREIGN TABLE wrong_cols (student_id bigint, gpa numeric) SERVER canvas '
	  . "OPTIONS (resource 'grade_export_csv')");
$err = run_failing('SELECT * FROM wrong_cols');
is(sqlstate_of($err), 'HV005', 'an unmatched column is HV005');
like($err, qr/column "gpa" matches no field of the result of export job \d+/, 'naming the column');
like($err, qr/DETAIL:  The fields are: "student name", "student id"/, 'and listing the fields');

# A value the column type rejects: the type's error, with column, row and job
$node->safe_psql('postgres',
	'CREATE FOREIGN TABLE wrong_type (student_id bigint, enrollment_state integer) SERVER canvas '
	  . "OPTIONS (resource 'grade_export_csv')");
$err = run_failing('INSERT INTO snapshot (student_id) SELECT enrollment_state FROM wrong_type');
is(sqlstate_of($err), '22P02', "the input function's own SQLSTATE");
like($err, qr/column "enrollment_state" of data row 1 of export job \d+/,
	'the context names the column, the data row and the job');

# A malformed CSV body
$mock->reset;
$mock->scenario(faults => [ { path => '^/__storage/', status => 200,
	content_type => 'text/csv', body => "student id,student name\n1,\"unterminated\n", count => 1 } ]);
$node->safe_psql('postgres',
	'CREATE FOREIGN TABLE two_cols (student_id bigint, student_name text) SERVER canvas '
	  . "OPTIONS (resource 'grade_export_csv')");
$err = run_failing('SELECT student_id FROM two_cols');
is(sqlstate_of($err), '22P04', 'malformed CSV is 22P04');
like($err, qr/malformed CSV in the result of export job \d+: unterminated quoted field/,
	'and says what is wrong');

# An unknown report name is HV00R at start
$node->safe_psql('postgres',
	'CREATE FOREIGN TABLE no_report (a text) SERVER canvas '
	  . "OPTIONS (resource 'no_such_report')");
$err = run_failing('SELECT * FROM no_report');
is(sqlstate_of($err), 'HV00R', 'an unknown report is HV00R');

# A wrong token is 28000 with a hint about the user mapping
$mock->scenario(require_token => 'the-right-token');
$err = run_failing('SELECT * FROM grades');
is(sqlstate_of($err), '28000', 'HTTP 401 is 28000');
like($err, qr/HINT:  Check the token option of the user mapping/, 'with a hint about the mapping');
unlike($err, qr/tap-test-token/, 'the token is not in the message');

is($node->safe_psql('postgres', 'SELECT count(*) FROM snapshot'), '0',
	'nothing was ever loaded');
$node->stop;
done_testing();
