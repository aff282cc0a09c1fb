# Parallel foreign scans of the two other kinds of multi-part exports: the
# jobs of an IN list (the leader starts and waits for every job; each
# participant claims whole jobs and reads them) and a zip of several CSV
# files (every participant downloads the one result and reads only the
# entries it claims).  The rows are the serial scan's, each job is started
# once, a failing download in any participant ends the query with its
# SQLSTATE, statement_timeout ends it with 57014, and reuse_window works as
# serially.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('parallel_jobs',
	"max_worker_processes = 8\nmax_parallel_workers = 4\n");
create_canvas_objects($node, $mock, retry_max => '1');

my $parallel = q{SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;};
my $serial = q{SET max_parallel_workers_per_gather = 0;};
my $explain = 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)';

sub run_sql { return run_verbose($node, @_) }
sub starts { return scalar($mock->requests_of('POST', qr{/reports/})) }
sub downloads { return scalar($mock->requests_of('GET', qr{^/__storage/})) }

# ---------------------------------------------------------------------
# An IN list: one job per term, the jobs shared out
# ---------------------------------------------------------------------

my $terms = 'term_id IN (1, 2, 3, 4, 5)';
my $rows = "SELECT term_id, student_id, current_score, job FROM grades WHERE $terms";
$mock->scenario(rows => 200);
my ($out, $err) = run_sql("$serial\nSELECT term_id, student_id, current_score FROM grades WHERE $terms ORDER BY 1, 2;");
is($err, '', 'the serial scan of five jobs');
my $serial_rows = $out;
is(scalar(() = $serial_rows =~ /^\d+\|\d+\|/mg), 1000, 'the serial scan reads 5 x 200 rows');

$mock->reset;
$mock->scenario(rows => 200);
($out, $err) = run_sql("$parallel\n$explain SELECT count(*) FROM grades WHERE $terms;");
is($err, '', 'EXPLAIN ANALYZE of the parallel scan of an IN list');
like($out, qr/Gather.*Parallel Foreign Scan on (public\.)?grades/s, 'a Gather over a Parallel Foreign Scan');
like($out, qr/Workers Launched: 2/, 'two workers launched');
is(starts(), 5, 'each job started once, by the leader');
like($out, qr/Jobs: 5 completed .*Downloaded: [1-9]/, "EXPLAIN ANALYZE counts every participant's jobs and downloads");
is(downloads(), 5, 'each result downloaded once, by whichever participant claimed its job');
my @bodies = map { $_->{body} } $mock->requests_of('POST', qr{/reports/});
is_deeply([ sort map { /enrollment_term_id%5D=(\d+)/ ? $1 : '' } @bodies ], [ 1 .. 5 ],
	'each job started with its own term');

my ($dl) = $out =~ /Downloaded: ([\d.]+) kB/;
my ($one_out) = run_sql("$serial\n$explain SELECT count(*) FROM grades WHERE term_id = 1;");
my ($one) = $one_out =~ /Downloaded: ([\d.]+) kB/;
cmp_ok(abs($dl - 5 * $one), '<', 0.5, "the downloaded bytes are the five results' (five times one)");

$mock->reset;
$mock->scenario(rows => 200);
($out, $err) = run_sql("$parallel\nSELECT term_id, student_id, current_score FROM grades WHERE $terms ORDER BY 1, 2;");
is($err, '', 'the parallel scan of the IN list');
is($out, $serial_rows, "the parallel scan's rows are the serial scan's");
($out, $err) = run_sql("$parallel\nSELECT count(DISTINCT job), count(*), count(DISTINCT (term_id, student_id)) FROM grades WHERE $terms;");
like($out, qr/^5\|1000\|1000$/m, 'every row once, each from its own job');

# one value: one job, planned serially (its single file cannot be shared)
($out, $err) = run_sql("$parallel\nEXPLAIN (COSTS OFF) SELECT count(*) FROM grades WHERE term_id = 1;");
unlike($out, qr/Gather/, 'a single job of a single file is planned serially');

# a leader that only gathers
$mock->reset;
$mock->scenario(rows => 200);
($out, $err) = run_sql("$parallel\nSET parallel_leader_participation = off;
	SELECT count(*), count(DISTINCT job) FROM grades WHERE $terms;");
is($err, '', 'parallel_leader_participation off');
like($out, qr/^1000\|5$/m, 'the workers read every job');

# reuse_window: the jobs of the serial scan are read in parallel, not run again
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (ADD reuse_window '1h')});
$mock->reset;
$mock->scenario(rows => 200);
($out, $err) = run_sql("$serial\nSELECT count(*) FROM grades WHERE $terms;
	$parallel\n$explain SELECT count(*) FROM grades WHERE $terms;
	SELECT count(*), count(DISTINCT job) FROM grades WHERE $terms;");
is($err, '', 'parallel scans of reused jobs');
like($out, qr/Workers Launched: 2/, 'in parallel');
like($out, qr/^1000\|5$/m, 'all their rows');
is(starts(), 5, 'no job started a second time');
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (DROP reuse_window)});

# a rescan of the Gather (the inner side of a nested loop): new jobs each time
$mock->reset;
$mock->scenario(rows => 50);
my $rescan = qq{SELECT g, s.c FROM generate_series(1, 2) g,
	LATERAL (SELECT count(*) + 0 * g AS c FROM grades WHERE $terms) s ORDER BY g};
($out, $err) = run_sql("$parallel\nSET enable_material = off;\nEXPLAIN (COSTS OFF) $rescan;\n$rescan;");
is($err, '', 'a rescanned parallel scan of an IN list');
like($out, qr/Nested Loop.*Gather.*Parallel Foreign Scan/s, 'the parallel scan inside the nested loop');
like($out, qr/^1\|250\n2\|250$/m, 'each rescan reads every job once');
is(starts(), 10, 'five jobs per scan');

# a failing download, in whichever participant: the query ends, the backend lives
$mock->reset;
$mock->scenario(rows => 200, faults => [
	{ listener => 'storage', path => '^/__storage/', status => 500, after => 1, count => 1000 } ]);
($out, $err) = run_sql("$parallel\nSELECT count(*) FROM grades WHERE $terms;\nSELECT 'alive';");
is(sqlstate_of($err), 'HV000', 'downloads answering 500: HV000');
like($err, qr/500/, 'the error says what the storage answered');
like($out, qr/^alive$/m, 'the backend is usable afterwards');
is(starts(), 5, 'no participant started a job of its own');

# a cancel: statement_timeout ends the scan while the participants download
$mock->reset;
$mock->scenario(rows => 5000, chunk_size => 1024, chunk_delay_ms => 50);
($out, $err) = run_sql("$parallel\nSET statement_timeout = '1500ms';\nSELECT count(*) FROM grades WHERE $terms;
	RESET statement_timeout;\nSELECT 'alive';");
is(sqlstate_of($err), '57014', 'statement_timeout cancels the parallel scan: 57014');
like($out, qr/^alive$/m, 'the backend is usable after the cancel');

# lists read without a job (a course's enrollments, page after page): each
# list is claimed whole, its pages read in turn by one participant
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE roster (student bigint OPTIONS (field 'user_id'),
	  for_course bigint OPTIONS (param 'course_id')) SERVER canvas OPTIONS (resource 'course_enrollments');
});
my $courses = 'for_course IN (101, 102, 103, 104)';
$mock->reset;
$mock->scenario(rows => 120);
($out, $err) = run_sql("$serial\nSELECT for_course, student FROM roster WHERE $courses ORDER BY 1, 2;");
is($err, '', 'the serial scan of four paged lists');
my $serial_roster = $out;
my $serial_pages = scalar($mock->requests_of('GET', qr{^/api/v1/courses/\d+/enrollments}));
cmp_ok($serial_pages, '>', 4, 'the lists have several pages');
$mock->reset;
$mock->scenario(rows => 120);
($out, $err) = run_sql("$parallel\n$explain SELECT count(*) FROM roster WHERE $courses;
	SELECT for_course, student FROM roster WHERE $courses ORDER BY 1, 2;");
is($err, '', 'the parallel scan of four paged lists');
like($out, qr/Workers Launched: 2.*Parallel Foreign Scan on (public\.)?roster/s, 'read in parallel');
is($out =~ s/\A.*?(?=^10[1-4]\|)//msr, $serial_roster, "the rows are the serial scan's");
is(scalar($mock->requests_of('GET', qr{^/api/v1/courses/\d+/enrollments})), 2 * $serial_pages,
	'each page fetched once per scan');

# ---------------------------------------------------------------------
# A zip of several CSV files: its entries shared out
# ---------------------------------------------------------------------

my @four = map { { id => $_, name => "Term $_", periods => [ 'Quarter 1', 'Quarter 2' ] } } 1 .. 4;
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE mgp (student_id bigint, term_id bigint, current_score numeric,
	  file text OPTIONS (meta 'file_name'))
	  SERVER canvas OPTIONS (resource 'mgp_grade_export_csv');
});
my $mgp = 'SELECT file, term_id, student_id, current_score FROM mgp ORDER BY 1, 2, 3';
$mock->reset;
$mock->scenario(rows => 300, canvas_terms => \@four);
# the table's first export is planned serially: nothing says yet that it is a zip
($out, $err) = run_sql("$parallel\nEXPLAIN (COSTS OFF) SELECT count(*) FROM mgp;\n$mgp;");
is($err, '', 'the first (serial) scan of the zip');
unlike($out, qr/Gather/, 'planned serially before any export of the table');
my $serial_mgp = $out =~ s/\A.*?(?=^Term)//msr;
is(scalar(() = $serial_mgp =~ /^Term \d\.csv\|/mg), 1200, 'four entries of 300 rows');

# what the table's last export was is known in the session that read it
$mock->reset;
$mock->scenario(rows => 300, canvas_terms => \@four);
($out, $err) = run_sql("$parallel\nSELECT count(*) FROM mgp;\n$explain SELECT count(*) FROM mgp;");
is($err, '', 'EXPLAIN ANALYZE of the parallel scan of the zip');
like($out, qr/Gather.*Parallel Foreign Scan on (public\.)?mgp/s,
	'after an export of four entries the zip is read in parallel');
like($out, qr/Workers Launched: 2/, 'two workers launched');
is(starts(), 2, 'one job per scan');
cmp_ok(downloads() - 1, '>=', 2, 'several participants downloaded the zip');
cmp_ok(downloads() - 1, '<=', 3, 'each participant at most once');

$mock->reset;
$mock->scenario(rows => 300, canvas_terms => \@four);
($out, $err) = run_sql("$parallel\nSELECT count(*) FROM mgp;\n$mgp;");
is($err, '', 'the parallel scan of the zip');
is($out =~ s/\A.*?(?=^Term)//msr, $serial_mgp, "the parallel scan's rows are the serial scan's");
($out, $err) = run_sql("$parallel\nSELECT count(*) FROM mgp;\nEXPLAIN (COSTS OFF) SELECT * FROM mgp;
	SELECT count(*), count(DISTINCT file), count(DISTINCT (term_id, student_id)) FROM mgp;");
like($out, qr/Parallel Foreign Scan/, 'planned in parallel');
like($out, qr/^1200\|4\|1200$/m, 'every entry read once, by one participant');

# the participants' downloads of the zip fail: the query ends, the backend lives
$mock->reset;
$mock->scenario(rows => 300, canvas_terms => \@four, faults => [
	{ listener => 'storage', path => '^/__storage/', status => 500, after => 1, count => 1000 } ]);
($out, $err) = run_sql("$parallel\nSELECT count(*) FROM mgp;\nEXPLAIN (COSTS OFF) SELECT count(*) FROM mgp;
	SELECT count(*) FROM mgp;\nSELECT 'alive';");
like($out, qr/Parallel Foreign Scan/, 'the failing scan is planned in parallel');
is(sqlstate_of($err), 'HV000', 'downloads of the zip answering 500: HV000');
like($out, qr/^alive$/m, 'the backend is usable afterwards');

$node->stop;
$mock->stop;
done_testing();
