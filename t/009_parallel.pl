# One query, many exports: an IN list on a param column starts one job per
# value, run concurrently up to max_parallel_jobs on one multi handle, with
# their rows streamed as each becomes ready.
use strict;
use warnings;
use lib 't';
use LmsTest;
use List::Util qw(max min);
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('parallel');
create_canvas_objects($node, $mock, poll_initial => '100ms', poll_max => '500ms');

# each job takes 1.5 s at the LMS
$mock->scenario(duration_s => 1.5);
my $out = $node->safe_psql('postgres',
	'SELECT term_id, count(*), count(DISTINCT job) FROM grades '
	  . 'WHERE term_id IN (1, 2, 3, 4) GROUP BY 1 ORDER BY 1');
is($out, "1|25|1\n2|25|1\n3|25|1\n4|25|1", 'four terms, one job each, every row once');

# The jobs' lives (start to the status check that saw it complete) overlap
sub job_spans
{
	my @reqs = @{ $mock->requests };
	my %span;
	my @starts = grep { $_->{method} eq 'POST' } @reqs;
	for my $job (@{ $mock->jobs })
	{
		my @polls = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/reports/grade_export_csv/$job->{id}$} } @reqs;
		$span{ $job->{id} } = [ $polls[0]{t}, $polls[-1]{t} ];
	}
	return \%span;
}
my $span = job_spans();
is(scalar(keys %$span), 4, 'four jobs ran');
my $latest_start = max(map { $_->[0] } values %$span);
my $earliest_end = min(map { $_->[1] } values %$span);
cmp_ok($latest_start, '<', $earliest_end,
	'every job was being polled before any of them had finished');
my @body = map { $_->{body} } grep { $_->{method} eq 'POST' } @{ $mock->requests };
is_deeply([ sort map { /enrollment_term_id%5D=(\d+)/ ? $1 : '' } @body ], [ 1, 2, 3, 4 ],
	'each job was started with its own term');

# max_parallel_jobs 2: never more than two jobs running at the LMS at once
$mock->reset;
$mock->scenario(duration_s => 1.0);
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (ADD max_parallel_jobs '2')});
$out = $node->safe_psql('postgres',
	'SELECT count(*) FROM grades WHERE term_id = ANY (ARRAY[5, 6, 7, 8, 8])');
is($out, '100', 'four distinct terms of = ANY, the duplicate ignored');
$span = job_spans();
my @events;
for my $s (values %$span)
{
	push @events, [ $s->[0], 1 ], [ $s->[1], -1 ];
}
my ($running, $peak) = (0, 0);
for my $e (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @events)
{
	$running += $e->[1];
	$peak = $running if $running > $peak;
}
is(scalar(keys %$span), 4, 'four jobs ran');
is($peak, 2, 'at most two jobs were being polled at once');

# EXPLAIN shows the list and ANALYZE the jobs
my $plan = $node->safe_psql('postgres',
	'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) '
	  . 'SELECT count(*) FROM grades WHERE term_id IN (1, 2, 3)');
like($plan, qr/Export Parameters: enrollment_term_id=1,2,3/, 'EXPLAIN lists the values');
like($plan, qr/Jobs: 3 completed/, 'EXPLAIN ANALYZE counts three jobs');

# an empty list or only NULLs: nothing to export, no job at all
$mock->reset;
is($node->safe_psql('postgres', 'SELECT count(*) FROM grades WHERE term_id IN (NULL)'), '0',
	'IN (NULL) returns nothing');
is(scalar(@{ $mock->requests }), 0, 'and asks the LMS nothing');

# A join on a param column: a nested loop over a local table drives one
# export per outer row (a course's enrollment list needs its course, so the
# planner must pass each course to the scan)
$mock->reset;
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE roster (student bigint OPTIONS (field 'user_id'),
	  for_course bigint OPTIONS (param 'course_id')) SERVER canvas OPTIONS (resource 'course_enrollments');
	CREATE TABLE courses (id bigint, title text);
	INSERT INTO courses VALUES (101, 'Algebra'), (102, 'Biology'), (103, 'Chemistry');
	ANALYZE courses;
});
my $nl = $node->safe_psql('postgres', q{
	EXPLAIN (COSTS OFF) SELECT c.title, count(*) FROM courses c JOIN roster r ON r.for_course = c.id
	GROUP BY 1});
like($nl, qr/Nested Loop.*Seq Scan on courses.*Foreign Scan on roster.*Export Parameters: course_id=\$\d/s,
	'a nested loop passes each course to the foreign scan');
is($node->safe_psql('postgres', q{
	SELECT c.title, count(*) FROM courses c JOIN roster r ON r.for_course = c.id
	GROUP BY 1 ORDER BY 1}),
	"Algebra|25\nBiology|25\nChemistry|25", 'one enrollment list per course');
my @lists = sort map { $_->{path} =~ m{/courses/(\d+)/enrollments} ? $1 : () }
  grep { $_->{method} eq 'GET' } @{ $mock->requests };
is_deeply(\@lists, [ 101, 102, 103 ], 'one list per course, each for its course');

# Async Append: the partitions of a partitioned table (one foreign table
# per term) run their exports concurrently
$mock->reset;
$mock->scenario(duration_s => 1.5);
$node->safe_psql('postgres', q{
	CREATE TABLE grades_by_term (student_id bigint, term_id bigint, current_score numeric)
	  PARTITION BY LIST (term_id);
	CREATE FOREIGN TABLE grades_t31 PARTITION OF grades_by_term FOR VALUES IN (31) SERVER canvas
	  OPTIONS (resource 'grade_export_csv', parameters '{"enrollment_term_id": 31}');
	CREATE FOREIGN TABLE grades_t32 PARTITION OF grades_by_term FOR VALUES IN (32) SERVER canvas
	  OPTIONS (resource 'grade_export_csv', parameters '{"enrollment_term_id": 32}');
	CREATE FOREIGN TABLE grades_t33 PARTITION OF grades_by_term FOR VALUES IN (33) SERVER canvas
	  OPTIONS (resource 'grade_export_csv', parameters '{"enrollment_term_id": 33}');
});
like($node->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT count(*) FROM grades_by_term'),
	qr/Append\n.*Async Foreign Scan on grades_t31.*Async Foreign Scan on grades_t32.*Async Foreign Scan on grades_t33/s,
	'the partitions are scanned by an async Append');
is($node->safe_psql('postgres',
		'SELECT term_id, count(*) FROM grades_by_term GROUP BY 1 ORDER BY 1'),
	"31|25\n32|25\n33|25", 'every partition returns its rows');
$span = job_spans();
$latest_start = max(map { $_->[0] } values %$span);
$earliest_end = min(map { $_->[1] } values %$span);
cmp_ok($latest_start, '<', $earliest_end, 'the partitions\' jobs ran at the same time');

my $analyzed = $node->safe_psql('postgres',
	'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM grades_by_term');
is(scalar(() = $analyzed =~ /Async Foreign Scan on grades_t3\d \S+ \(actual rows=25 loops=1\)/g), 3,
	'EXPLAIN ANALYZE counts each partition\'s rows once');

# without async Append they run one after another
$mock->reset;
$mock->scenario(duration_s => 1.0);
$node->safe_psql('postgres', q{
	SET enable_async_append = off;
	SELECT count(*) FROM grades_by_term;
});
$span = job_spans();
my @spans = sort { $a->[0] <=> $b->[0] } values %$span;
cmp_ok($spans[1][0], '>', $spans[0][1], 'with enable_async_append off, one after another');

# a cancel while the Append waits on the jobs
$mock->reset;
$mock->scenario(statuses => [ 'created', 'running' ]);
my ($ret, $err);
($ret, $out, $err) = $node->psql('postgres', q{
\set VERBOSITY verbose
SET statement_timeout = '700ms';
SELECT count(*) FROM grades_by_term;
RESET statement_timeout;
SELECT 'alive';
}, on_error_stop => 0);
is(sqlstate_of($err), '57014', 'statement_timeout during an async Append is 57014');
like($out, qr/alive/, 'and the backend answers afterwards');

# reuse_window: the same export within the window reuses the finished job
$mock->reset;
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (ADD reuse_window '3s', SET max_parallel_jobs '4')});
my $reuse = $node->safe_psql('postgres', q{
	SELECT count(*) FROM grades WHERE term_id = 21;
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	  SELECT count(*) FROM grades WHERE term_id IN (21, 22);
	SELECT string_agg(state, ',' ORDER BY started, state) FROM lms_fdw_jobs();
});
like($reuse, qr/Jobs: 2 completed \(1 reused\)/, 'EXPLAIN ANALYZE says a job was reused');
like($reuse, qr/complete,complete \(reused\),complete|complete \(reused\)/,
	'lms_fdw_jobs() marks the reused job');
my @starts = grep { $_->{method} eq 'POST' } @{ $mock->requests };
is(scalar(@starts), 2, 'term 21 was exported once, term 22 once');
# after the window: a new export
sleep(4);
$node->safe_psql('postgres', q{
	SELECT count(*) FROM grades WHERE term_id = 21;
	SELECT pg_sleep(0);
});
@starts = grep { $_->{method} eq 'POST' } @{ $mock->requests };
is(scalar(@starts), 3, 'after reuse_window the export runs again');
# and another backend does not share this backend's jobs
$node->safe_psql('postgres', q{SELECT count(*) FROM grades WHERE term_id = 22});
@starts = grep { $_->{method} eq 'POST' } @{ $mock->requests };
is(scalar(@starts), 4, 'reuse is per backend');

$node->stop;
done_testing();
