# Scheduled syncs with pg_cron (Debian's postgresql-15-cron, preloaded, jobs
# run in background workers): a cron job that snapshots the grade export
# into a local table succeeds and records the job id and fetch time; a job
# whose export ends in error, and one whose download is cut short, fail in
# cron.job_run_details with the FDW's message and load nothing.
#
# pg_cron 1.4 (Debian 12) schedules by the minute only (interval schedules
# such as '5 seconds' came with 1.5), so the three cases run side by side in
# the same minute, each against its own mock LMS, instead of one after the
# other: the test waits for one minute boundary, not three.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $rows = 500;
my $lms_message = 'Generating the report, grade_export_csv, failed: term 9 is archived';

my $mock = start_mock();
$mock->scenario(rows => $rows);
my $mock_error = start_mock();
$mock_error->scenario(rows => $rows, statuses => [ 'created', 'running', 'error' ],
	error_message => $lms_message);
my $mock_cut = start_mock();
# a larger file (about 570 kB), cut after 20 kB, some 170 rows in
$mock_cut->scenario(rows => 5000, truncate_at => 20000, chunk_size => 4096);

my $node = new_cron_node('cron');
my $version = $node->safe_psql('postgres',
	"SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'");
note("pg_cron $version");
is($node->safe_psql('postgres', 'SHOW cron.use_background_workers'), 'on',
	'cron jobs run in background workers (no libpq connection, no password)');

create_canvas_objects($node, $mock);
my $server_opts = "provider 'canvas', poll_initial '50ms', poll_max '200ms', "
  . "retry_base '50ms', retry_cap '200ms'";
$node->safe_psql('postgres', qq{
	CREATE SERVER canvas_error FOREIGN DATA WRAPPER lms_fdw
		OPTIONS ($server_opts, base_url '@{[ $mock_error->base_url ]}');
	CREATE SERVER canvas_cut FOREIGN DATA WRAPPER lms_fdw
		OPTIONS ($server_opts, base_url '@{[ $mock_cut->base_url ]}');
	CREATE USER MAPPING FOR CURRENT_USER SERVER canvas_error OPTIONS (token 'tap-test-token');
	CREATE USER MAPPING FOR CURRENT_USER SERVER canvas_cut OPTIONS (token 'tap-test-token');
	CREATE TABLE grade_snapshots (student_id bigint, current_score numeric,
		job_id text, fetched_at timestamptz);
});
for my $s ([ 'grades_with_meta', 'canvas' ], [ 'grades_with_meta_error', 'canvas_error' ],
	[ 'grades_with_meta_cut', 'canvas_cut' ])
{
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE $s->[0] (
			student_id bigint, student_name text, course_id bigint,
			term_id bigint OPTIONS (param 'enrollment_term_id'),
			current_score numeric, final_score numeric, enrollment_state text,
			job_id text OPTIONS (meta 'job_id'),
			fetched_at timestamptz OPTIONS (meta 'fetched_at')
		) SERVER $s->[1] OPTIONS (resource 'grade_export_csv');
	});
}

my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM grade_snapshots');
my $t0 = $node->safe_psql('postgres', 'SELECT now()');

# One sync per case; all three start at the next minute boundary
my %sync = (
	'grades-sync' => 'grades_with_meta',
	'grades-sync-error' => 'grades_with_meta_error',
	'grades-sync-cut' => 'grades_with_meta_cut');
for my $name (sort keys %sync)
{
	my $id = $node->safe_psql('postgres',
		"SELECT cron.schedule('$name', '* * * * *', \$\$INSERT INTO grade_snapshots "
		  . "SELECT student_id, current_score, job_id, fetched_at FROM $sync{$name}\$\$)");
	like($id, qr/^\d+$/, "$name scheduled as cron job $id");
}

# Wait for one finished run of each (up to a minute to the boundary, plus the run)
my $finished = q{
	SELECT count(DISTINCT j.jobname) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	WHERE d.status IN ('succeeded', 'failed')};
ok($node->poll_query_until('postgres', $finished, '3'),
	'each cron job finished a run') or diag($node->safe_psql('postgres',
		'SELECT jobid, status, return_message FROM cron.job_run_details'));

# Stop scheduling before the next minute adds runs, then let running ones end
for my $name (sort keys %sync)
{
	is($node->safe_psql('postgres', "SELECT cron.unschedule('$name')"), 't',
		"$name unscheduled");
}
$node->poll_query_until('postgres', q{
	SELECT count(*) FROM cron.job_run_details
	WHERE status NOT IN ('succeeded', 'failed')}, '0');

# The first finished run of each job
sub first_run
{
	my ($name) = @_;
	# cron.job rows are gone after unschedule: find the runs by command
	my $out = $node->safe_psql('postgres', qq{
		SELECT status, return_message FROM cron.job_run_details
		WHERE command LIKE '%FROM $sync{$name}'
		  AND status IN ('succeeded', 'failed')
		ORDER BY start_time LIMIT 1});
	my ($status, $msg) = split /\|/, $out, 2;
	return ($status // '', $msg // '');
}

# The successful sync: the whole export, one job, with its finish time
my ($status, $msg) = first_run('grades-sync');
is($status, 'succeeded', 'grades-sync: the run succeeded');
is($msg, 'INSERT 0 ' . $rows, "grades-sync: cron recorded the INSERT of $rows rows");

my @ok_jobs = grep { $_->{kind} eq 'report' } @{ $mock->jobs };
my $runs = $node->safe_psql('postgres', q{
	SELECT count(*) FROM cron.job_run_details
	WHERE command LIKE '%FROM grades_with_meta' AND status = 'succeeded'});
is($runs, 1, 'grades-sync ran once before it was unscheduled');
is(scalar(@ok_jobs), 1, 'the sync started one export');
is($ok_jobs[0]{state}, 'complete', 'and it completed');

# The failed syncs' rows would be in the same table: the total is exactly
# one export, so they loaded nothing
my $snap = $node->safe_psql('postgres', qq{
	SELECT count(*), count(DISTINCT job_id), min(job_id),
	       bool_and(fetched_at IS NOT NULL),
	       bool_and(fetched_at BETWEEN '$t0' AND now())
	FROM grade_snapshots});
my ($n, $distinct, $job, $fetched, $in_window) = split /\|/, $snap;
is($before, 0, 'the snapshot table was empty before the syncs');
is($n, $rows, "the snapshot holds the export's $rows rows, nothing more");
is($distinct, 1, 'one distinct job_id');
is($job, $ok_jobs[0]{id}, "the job_id is the mock's report id");
is($fetched, 't', 'fetched_at is set on every row');
is($in_window, 't', 'fetched_at lies between the scheduling and now');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM grade_snapshots s
	JOIN grades_with_meta g USING (student_id)
	WHERE s.current_score IS DISTINCT FROM g.current_score}), '0',
	'the snapshot scores equal a fresh read of the export');

# The report that ends in error
($status, $msg) = first_run('grades-sync-error');
my @err_jobs = grep { $_->{kind} eq 'report' } @{ $mock_error->jobs };
is($status, 'failed', 'grades-sync-error: the run failed');
is(scalar(@err_jobs), 1, 'it started one export');
like($msg, qr/export job $err_jobs[0]{id} on server "canvas_error" ended in state "error"/,
	'return_message names the job and its state');
like($msg, qr/The LMS said: \Q$lms_message\E/, "return_message carries the LMS's message");
note("grades-sync-error return_message: $msg");

# The download cut short mid-stream, some rows in
($status, $msg) = first_run('grades-sync-cut');
my @cut_jobs = grep { $_->{kind} eq 'report' } @{ $mock_cut->jobs };
is($status, 'failed', 'grades-sync-cut: the run failed');
like($msg, qr/download of .* was cut short after \d+ bytes/, 'return_message says the body was cut short');
unlike($msg, qr/X-Amz-Signature=[0-9a-f]/, 'without the presigned signature');
note("grades-sync-cut return_message: $msg");
my @cut_dl = grep { $_->{listener} eq 'storage' } @{ $mock_cut->requests };
cmp_ok(scalar(@cut_dl), '>=', 1, 'the cut sync reached the download');

is($node->safe_psql('postgres', 'SELECT count(*) FROM grade_snapshots'), $rows,
	'the failed syncs left the snapshot unchanged');
is($node->safe_psql('postgres', 'SELECT count(*) FROM cron.job'), '0', 'no job left scheduled');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is healthy');

$node->stop;
done_testing();
