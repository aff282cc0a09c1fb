# A Canvas grade export read end to end through the mock LMS, compared with
# the same file loaded by PostgreSQL's own COPY.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('select');
create_canvas_objects($node, $mock);
$mock->scenario(rows => 300);

my $cols = 'student_id, student_name, course_id, term_id, current_score, final_score, enrollment_state';
my $fdw = $node->safe_psql('postgres',
	"SELECT $cols FROM grades WHERE term_id = 7 ORDER BY student_id");
my @lines = split /\n/, $fdw;
cmp_ok(scalar(@lines), '>=', 300, 'rows arrived through the FDW');

my @reqs = @{ $mock->requests };
my @posts = grep { $_->{method} eq 'POST' } @reqs;
is(scalar(@posts), 1, 'one export was started');
like($posts[0]{path}, qr{^/api/v1/accounts/self/reports/grade_export_csv$}, 'started the report');
like($posts[0]{body}, qr/parameters%5Benrollment_term_id%5D=7/,
	'the param column qual became an export parameter');
ok($posts[0]{authorization}, 'the start request carried the credential');

my @polls = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/reports/grade_export_csv/\d+$} } @reqs;
cmp_ok(scalar(@polls), '>=', 3, 'the status was checked until complete');
my %poll_ports = map { $_->{client_port} => 1 } @polls;
is(scalar(keys %poll_ports), 1, 'all status checks used one kept-alive connection');

my @storage = grep { $_->{path} =~ m{^/__storage/} } @reqs;
is(scalar(@storage), 1, 'the file was fetched from the storage host once');
is($storage[0]{listener}, 'storage', 'the redirect led to the other host');
ok(!$storage[0]{authorization}, 'the storage host received no Authorization header');

# The reference: the same stored file read by COPY
my $url = "http://127.0.0.2:" . $mock->port . $storage[0]{path} . '?' . $storage[0]{query};
$node->safe_psql('postgres', qq{
	CREATE TABLE ref ("student name" text, "student id" bigint, "student sis" text,
		course text, "course id" bigint, "course sis" text, section text,
		"section id" bigint, "section sis" text, term text, "term id" bigint,
		"term sis" text, "current score" numeric, "final score" numeric,
		"enrollment state" text, "unposted current score" numeric,
		"unposted final score" numeric, "current grade" text, "final grade" text,
		"unposted current grade" text, "unposted final grade" text);
	COPY ref FROM PROGRAM 'curl -s "$url"' WITH (FORMAT csv, HEADER true);
});
my $ref = $node->safe_psql('postgres', q{
	SELECT "student id", "student name", "course id", "term id", "current score",
	       "final score", "enrollment state"
	FROM ref ORDER BY "student id"});
is($fdw, $ref, 'the FDW rows equal the file as COPY reads it');

# NULLs: an empty unquoted cell is NULL
my $nulls = $node->safe_psql('postgres',
	'SELECT count(*) FILTER (WHERE current_score IS NULL), count(*) FROM grades');
my $ref_nulls = $node->safe_psql('postgres',
	'SELECT count(*) FILTER (WHERE "current score" IS NULL), count(*) FROM ref');
is($nulls, $ref_nulls, 'NULL cells match');

# meta column and the recent-jobs list
my $job = $node->safe_psql('postgres', 'SELECT DISTINCT job FROM grades');
like($job, qr/^\d+$/, 'the job_id meta column carries the report id');
# (lms_fdw_jobs() is per backend: ask in the session that ran the scans)
my $jobs = $node->safe_psql('postgres', q{
	SELECT count(*) FROM grades;
	SELECT count(*) FROM grades WHERE term_id = 3;
	SELECT count(*), bool_and(state = 'complete'), min(rows), bool_and(status_checks > 0)
	FROM lms_fdw_jobs()});
is((split /\n/, $jobs)[-1], '2|t|300|t', 'lms_fdw_jobs() lists both jobs with their rows');

# EXPLAIN ANALYZE reports the job's figures
my $explain = $node->safe_psql('postgres',
	'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM grades WHERE term_id = 2');
like($explain, qr/LMS: canvas report grade_export_csv \(account self\)/, 'EXPLAIN shows the LMS line');
like($explain, qr/Export Parameters: enrollment_term_id=2/, 'EXPLAIN shows the parameters');
like($explain, qr/Jobs: 1 completed   Status Checks: \d+   Retries: 0   Waited: [\d.]+ s   Downloaded: [\d.]+ kB/,
	'EXPLAIN ANALYZE shows the job figures');

# LIMIT stops early: the scan ends without reading the whole body
$mock->scenario(rows => 200000, chunk_size => 65536);
my $partial = $node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT * FROM grades LIMIT 3) s;
	SELECT rows, bytes FROM lms_fdw_jobs() ORDER BY started DESC LIMIT 1});
my ($rows, $bytes) = split /\|/, (split /\n/, $partial)[-1];
is($rows, 3, 'LIMIT 3 converted three rows');
cmp_ok($bytes, '<', 5_000_000, 'LIMIT 3 did not download the whole 200,000-row file');

$node->stop;
done_testing();
