# Canvas as its own source describes it, against the strict mock: the report
# file comes from attachment.url (file_url is a web page that ignores tokens),
# an HTML answer is an error, skip_message, the LMS's extra_text in the error,
# abort versus delete, engagement reports, a zip of several CSV files, the
# gradebook CSV refused, and the paginated course lists (several pages, IN over
# two courses, a 429 in the middle, Link headers followed on base_url only).
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('canvas_strict');
create_canvas_objects($node, $mock, max_parallel_jobs => '2');
my $port = $mock->port;

sub run_sql { return run_verbose($node, @_) }
sub requests_matching { return $mock->requests_of(@_) }

# ---------------------------------------------------------------------
# The download path
# ---------------------------------------------------------------------

$mock->scenario(rows => 30);
is($node->safe_psql('postgres', 'SELECT count(*), sum(student_id) FROM grades'),
	'30|30465', 'grade_export_csv read');
my @files = requests_matching('GET', qr{^/files/\d+/download$});
is(scalar(@files), 1, 'the file was fetched from attachment.url');
like($files[0]{query}, qr/^download_frd=1&verifier=[0-9a-f]+$/, 'with its query as Canvas gave it');
ok($files[0]{authorization}, 'the token went to base_url\'s origin');
is(scalar(requests_matching('GET', qr{^/accounts/})), 0, 'file_url (a web page) was not used');
my ($stored) = requests_matching('GET', qr{^/__storage/});
ok($stored && !$stored->{authorization}, 'the storage host got no token');

# The verifier retired (Instructure's announced change): the token alone works
$mock->reset;
$mock->scenario(rows => 5, canvas_verifier => JSON::PP::false);
is($node->safe_psql('postgres', 'SELECT count(*) FROM grades'), '5',
	'attachment.url with the token in the Authorization header');

# An older Canvas with file_url only: a bearer token is ignored there, the
# answer is the login page -- an ERROR naming the host, never parsed as CSV
$mock->reset;
$mock->scenario(canvas_attachment => JSON::PP::false);
my ($out, $err) = run_sql('SELECT count(*) FROM grades');
is(sqlstate_of($err), 'HV000', 'file_url with a token: HV000');
like($err, qr/the LMS answered with a web page \(likely a login redirect\)/, 'it says web page');
like($err, qr/host "127\.0\.0\.1"/, 'naming the host');
my @login = requests_matching('GET', qr{^/login});
ok(scalar(@login) >= 1, 'the request had been redirected to the login');
unlike($err, qr/tap-test-token/, 'no token in the message');

# Any text/html answer where the file is expected, from the storage host
$mock->reset;
$mock->scenario(faults => [ { path => '^/__storage/', status => 200,
	content_type => 'text/html; charset=utf-8',
	body => "<html><body>Service notice</body></html>\n", count => 1 } ]);
($out, $err) = run_sql('SELECT count(*) FROM grades');
is(sqlstate_of($err), 'HV000', 'text/html from storage: HV000');
like($err, qr/answered with a web page .* host "127\.0\.0\.2"/, 'naming the storage host');

# An HTML page that calls itself something else is recognised too
$mock->reset;
$mock->scenario(faults => [ { path => '^/__storage/', status => 200,
	content_type => 'application/octet-stream',
	body => "<!DOCTYPE html>\n<html><head><title>Log In</title></head></html>\n", count => 1 } ]);
($out, $err) = run_sql('SELECT count(*) FROM grades');
like($err, qr/answered with a web page/, 'an HTML body under another type');

# ---------------------------------------------------------------------
# skip_message, extra_text, abort and delete
# ---------------------------------------------------------------------

$mock->reset;
$mock->scenario(rows => 3);
$node->safe_psql('postgres', 'SELECT count(*) FROM grades');
my ($post) = requests_matching('POST', qr{/reports/grade_export_csv$});
like($post->{body}, qr/(^|&)parameters%5Bskip_message%5D=true(&|$)/, 'skip_message=true sent');
is($mock->jobs->[0]{extra}{notified}, JSON::PP::false, 'Canvas sent no notification');

# the table's parameters decide: false means "notify me" (Canvas treats any
# value as true, so it is left out), true is sent once
$mock->reset;
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE grades OPTIONS (ADD parameters '{"skip_message": false}')});
$node->safe_psql('postgres', 'SELECT count(*) FROM grades');
($post) = requests_matching('POST', qr{/reports/grade_export_csv$});
unlike($post->{body}, qr/skip_message/, 'skip_message false: not sent');
is($mock->jobs->[0]{extra}{notified}, JSON::PP::true, 'and Canvas notified the user');
$mock->reset;
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE grades OPTIONS (SET parameters '{"skip_message": true}')});
$node->safe_psql('postgres', 'SELECT count(*) FROM grades');
($post) = requests_matching('POST', qr{/reports/grade_export_csv$});
my @skips = ($post->{body} =~ /skip_message/g);
is(scalar(@skips), 1, 'skip_message true: sent once');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE grades OPTIONS (DROP parameters)});

# A failed report: its parameters.extra_text in the DETAIL, redacted, shortened
$mock->reset;
my $long = 'Failed, please report the following error code to your system administrator: '
  . 'ErrorReport:4711; token=tap-test-token; ' . ('x' x 300);
$mock->scenario(statuses => [ 'created', 'running', 'error' ], error_message => $long);
($out, $err) = run_sql('SELECT count(*) FROM grades');
is(sqlstate_of($err), 'HV000', 'a failed report: HV000');
like($err, qr/DETAIL:  The LMS said: Failed, please report the following error code to your system administrator: ErrorReport:4711;/,
	'the DETAIL carries parameters.extra_text');
unlike($err, qr/tap-test-token/, 'redacted');
unlike($err, qr/x{250}/, 'shortened');

# The default extra_text of a report that wrote no file
$mock->reset;
$mock->scenario(statuses => [ 'created', 'error' ]);
($out, $err) = run_sql('SELECT count(*) FROM grades');
like($err, qr/The LMS said: Failed, the report failed to generate a file\. Please try again\./,
	'the default failure text');

# poll_timeout while compiling or created: DELETE; while running: PUT abort
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE grades OPTIONS (ADD poll_timeout '400ms')});
for my $case ([ 'created', 'DELETE' ], [ 'compiling', 'DELETE' ], [ 'running', 'PUT' ])
{
	my ($state, $method) = @$case;
	$mock->reset;
	$mock->scenario(statuses => $state eq 'created' ? [ 'created' ] : [ 'created', $state ]);
	($out, $err) = run_sql('SELECT count(*) FROM grades');
	like($err, qr/did not finish within poll_timeout/, "$state: poll_timeout");
	my @cancel = grep { $_->{method} eq 'PUT' || $_->{method} eq 'DELETE' } @{ $mock->requests };
	is(join(',', map { $_->{method} } @cancel), $method, "$state: cancelled with $method only");
	is($cancel[0]{status}, 200, "$state: Canvas accepted the $method");
}
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE grades OPTIONS (DROP poll_timeout)});

# ---------------------------------------------------------------------
# Engagement reports and a zip of several CSV files
# ---------------------------------------------------------------------

$mock->reset;
$mock->scenario(rows => 12, statuses => [ 'created', 'complete' ]);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE last_access (user_id bigint, user_sis_id text, user_name text,
	  last_access_at timestamptz, last_ip text) SERVER canvas OPTIONS (resource 'last_user_access_csv');
	CREATE FOREIGN TABLE last_activity (user_id bigint, user_name text, last_activity_at timestamptz,
	  course bigint OPTIONS (param 'course_id')) SERVER canvas OPTIONS (resource 'last_enrollment_activity_csv');
	CREATE FOREIGN TABLE zero_activity (user_id bigint, name text, section_id bigint, course_id bigint,
	  course_name text) SERVER canvas OPTIONS (resource 'zero_activity_csv');
	CREATE FOREIGN TABLE prov_enrollments (canvas_course_id bigint, canvas_user_id bigint, role text,
	  status text, base_role_type text) SERVER canvas
	  OPTIONS (resource 'provisioning_csv', parameters '{"enrollments": true}');
});
is($node->safe_psql('postgres', 'SELECT count(*), count(last_access_at), count(last_ip) FROM last_access'),
	'12|9|9', 'last_user_access_csv: never logged in is NULL');
is($node->safe_psql('postgres', 'SELECT count(*), count(last_activity_at) FROM last_activity WHERE course = 101'),
	'12|10', 'last_enrollment_activity_csv for a course');
my ($lastpost) = grep { $_->{method} eq 'POST' } reverse @{ $mock->requests };
like($lastpost->{body}, qr/parameters%5Bcourse_id%5D=101/, 'course_id became a report parameter');
is($node->safe_psql('postgres', 'SELECT count(*), min(course_id), max(section_id) FROM zero_activity'),
	'12|100|502', 'zero_activity_csv');
is($node->safe_psql('postgres', q{SELECT count(*), count(*) FILTER (WHERE base_role_type = 'StudentEnrollment') FROM prov_enrollments}),
	'12|12', 'provisioning_csv enrollments');

$mock->reset;
$mock->scenario(rows => 6, statuses => [ 'created', 'complete' ]);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE mgp (student_id bigint, term_id bigint, current_score numeric,
	  enrollment_state text, file text OPTIONS (meta 'file_name'))
	  SERVER canvas OPTIONS (resource 'mgp_grade_export_csv');
});
is($node->safe_psql('postgres', 'SELECT file, count(*), min(term_id), max(term_id) FROM mgp GROUP BY file ORDER BY file'),
	"Fall 2026.csv|6|1|1\nSpring 2027.csv|6|2|2", 'mgp_grade_export_csv: the rows of every entry, with its name');
is(scalar(requests_matching('GET', qr{^/__storage/})), 1, 'one download for the whole zip');

# ---------------------------------------------------------------------
# gradebook_csv is refused
# ---------------------------------------------------------------------

($out, $err) = run_sql(q{CREATE FOREIGN TABLE gb (student_id bigint) SERVER canvas OPTIONS (resource 'gradebook_csv')});
is(sqlstate_of($err), 'HV024', 'CREATE FOREIGN TABLE ... gradebook_csv: refused');
like($err, qr/HINT:  .*course_enrollments.*course_submissions/, 'the hint names the replacements');
# a table defined before (its options written directly) is refused at scan time
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE gb (student_id bigint) SERVER canvas OPTIONS (resource 'grade_export_csv');
	UPDATE pg_foreign_table SET ftoptions = '{resource=gradebook_csv}' WHERE ftrelid = 'gb'::regclass;
});
$mock->reset;
($out, $err) = run_sql('SELECT * FROM gb');
like($err, qr/HINT:  .*course_enrollments.*course_submissions/, 'scan time: the same hint');
is(scalar(@{ $mock->requests }), 0, 'and nothing was sent');

# ---------------------------------------------------------------------
# Paginated course lists
# ---------------------------------------------------------------------

$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE course_grades (
	  course_id bigint OPTIONS (param 'course_id'), user_id bigint, type text,
	  current_score numeric OPTIONS (field 'grades.current_score'),
	  final_score numeric OPTIONS (field 'grades.final_score'),
	  current_grade text OPTIONS (field 'grades.current_grade'),
	  final_grade text OPTIONS (field 'grades.final_grade'),
	  last_activity_at timestamptz, total_activity_time integer,
	  sortable_name text OPTIONS (field 'user.sortable_name')
	) SERVER canvas OPTIONS (resource 'course_enrollments');
	CREATE FOREIGN TABLE course_subs (
	  course_id bigint OPTIONS (param 'course_id'),
	  since timestamptz OPTIONS (param 'submitted_since'),
	  id bigint, assignment_id bigint, user_id bigint, score float8, grade text,
	  workflow_state text, late boolean, missing boolean, submitted_at timestamptz
	) SERVER canvas OPTIONS (resource 'course_submissions');
	CREATE FOREIGN TABLE course_summaries (
	  course_id bigint OPTIONS (param 'course_id'), user_id bigint OPTIONS (field 'id'),
	  page_views integer, participations integer,
	  on_time integer OPTIONS (field 'tardiness_breakdown.on_time'),
	  late integer OPTIONS (field 'tardiness_breakdown.late'),
	  missing integer OPTIONS (field 'tardiness_breakdown.missing'),
	  total integer OPTIONS (field 'tardiness_breakdown.total')
	) SERVER canvas OPTIONS (resource 'course_student_summaries');
});

# course_enrollments: 250 students (3 pages of 100), then IN over two courses
$mock->reset;
$mock->scenario(course_rows => { '101' => 250, '102' => 120 });
is($node->safe_psql('postgres',
	'SELECT count(*), sum(user_id), count(current_score), count(DISTINCT type) FROM course_grades WHERE course_id = 101'),
	'250|281375|225|1', 'course_enrollments: 250 students, grades as dotted fields');
my @pages = requests_matching('GET', qr{^/api/v1/courses/101/enrollments$});
is(scalar(@pages), 3, 'three pages');
like($pages[0]{query}, qr/(^|&)type(%5B%5D|\[\])=StudentEnrollment(&|$)/, 'students only');
like($pages[0]{query}, qr/(^|&)per_page=100(&|$)/, 'per_page=100');
like($pages[1]{query}, qr/page=bookmark(%3A|:)/, 'the next page from its opaque Link');
is(scalar(grep { $_->{method} ne 'GET' } @{ $mock->requests }), 0, 'no job was started');
ok(!grep({ !$_->{authorization} } @pages), 'every page carried the token');

$mock->reset;
$mock->scenario(course_rows => { '101' => 250, '102' => 120 });
is($node->safe_psql('postgres',
	'SELECT course_id, count(*), sum(user_id) FROM course_grades WHERE course_id IN (101, 102) GROUP BY 1 ORDER BY 1'),
	"101|250|281375\n102|120|127260", 'IN over two courses');
my @seq = map { $_->{path} =~ m{/courses/(\d+)/} ? $1 : () } @{ $mock->requests };
is(join(',', sort @seq), '101,101,101,102,102', 'five pages in all');
my ($first102) = grep { $seq[$_] eq '102' } 0 .. $#seq;
my ($last101) = reverse grep { $seq[$_] eq '101' } 0 .. $#seq;
cmp_ok($first102, '<', $last101, 'the two page chains ran concurrently (max_parallel_jobs 2)');
$mock->reset;
$mock->scenario(course_rows => { '101' => 250, '102' => 120 });
my $explain = $node->safe_psql('postgres',
	'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM course_grades WHERE course_id IN (101, 102)');
like($explain, qr/LMS: canvas course_enrollments/, 'EXPLAIN names the resource');
like($explain, qr/Export Parameters: course_id=101,102/, 'and the courses');
like($explain, qr/Pages: 5/, 'EXPLAIN ANALYZE counts the pages');

# max_parallel_jobs 1: one chain after the other
$mock->reset;
$mock->scenario(course_rows => { '101' => 250, '102' => 120 });
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE course_grades OPTIONS (ADD max_parallel_jobs '1')});
$node->safe_psql('postgres', 'SELECT count(*) FROM course_grades WHERE course_id IN (101, 102)');
@seq = map { $_->{path} =~ m{/courses/(\d+)/} ? $1 : () } @{ $mock->requests };
is(join(',', @seq), '101,101,101,102,102', 'max_parallel_jobs 1: one chain after the other');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE course_grades OPTIONS (DROP max_parallel_jobs)});

# a 429 (and the legacy 403) in the middle of a page chain: waited, retried
# (the throttled answer says X-Rate-Limit-Remaining: 0.0, and the pacing
# waits for the bucket to drain down to rate_limit_floor: 0 here, to be quick)
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE course_grades OPTIONS (ADD rate_limit_floor '0')});
for my $kind ('canvas_throttle_429', 'canvas_throttle_403')
{
	$mock->reset;
	$mock->scenario(course_rows => { '101' => 250 },
		faults => [ { kind => $kind, path => '^/api/v1/courses/101/enrollments$', after => 1, count => 1 } ]);
	is($node->safe_psql('postgres', 'SELECT count(*) FROM course_grades WHERE course_id = 101'),
		'250', "$kind on page 2: every row");
	my @chain = requests_matching('GET', qr{^/api/v1/courses/101/enrollments$});
	is(join(',', map { $_->{status} } @chain), '200,' . ($kind =~ /429/ ? 429 : 403) . ',200,200',
		"$kind: the throttled page was asked again");
	is($chain[1]{query}, $chain[2]{query}, "$kind: the same page");
}
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE course_grades OPTIONS (DROP rate_limit_floor)});

# without a course: an ERROR with a hint
($out, $err) = run_sql('SELECT count(*) FROM course_grades');
is(sqlstate_of($err), 'HV002', 'no course: HV002');
like($err, qr/HINT:  .*course_id/, 'the hint says how to name the course');

# a Link to another origin is not followed
$mock->reset;
$mock->scenario(course_rows => { '101' => 250 }, link_base => "http://127.0.0.2:$port");
($out, $err) = run_sql('SELECT count(*) FROM course_grades WHERE course_id = 101');
is(sqlstate_of($err), 'HV000', 'a next link on another origin: HV000');
like($err, qr/not on the origin of base_url/, 'it says why');
is(scalar(grep { $_->{listener} eq 'storage' } @{ $mock->requests }), 0,
	'nothing was sent to the other host');

# course_submissions: all students, 3 pages; submitted_since as ISO 8601 UTC
$mock->reset;
$mock->scenario(rows => 80, assignments => 3);
is($node->safe_psql('postgres', 'SELECT count(*), count(score), count(DISTINCT user_id) FROM course_subs WHERE course_id = 101'),
	'240|161|80', 'course_submissions: every student\'s');
my @sub = requests_matching('GET', qr{^/api/v1/courses/101/students/submissions$});
is(scalar(@sub), 3, 'three pages');
like($sub[0]{query}, qr/(^|&)student_ids(%5B%5D|\[\])=all(&|$)/, 'student_ids[]=all');
my $want = 0;
for my $i (1 .. 80)
{
	for my $a (1 .. 3)
	{
		my $k = $i * 7 + $a;
		$want++ if $k % 6 != 0 && $k > 24;
	}
}
$mock->reset;
$mock->scenario(rows => 80, assignments => 3);
is($node->safe_psql('postgres', q{SET TimeZone = 'America/Denver';
	SELECT count(*) FROM course_subs WHERE course_id = 101 AND since = '2024-10-27 18:00-06'}),
	$want, 'submitted_since: the submissions after it');
@sub = requests_matching('GET', qr{^/api/v1/courses/101/students/submissions$});
like($sub[0]{query}, qr/(^|&)submitted_since=2024-10-28T00(%3A|:)00(%3A|:)00Z(&|$)/,
	'sent as ISO 8601 UTC');
like($node->safe_psql('postgres', q{EXPLAIN (COSTS OFF) SELECT * FROM course_subs WHERE course_id = 7 AND since = '2024-10-28 00:00+00'}),
	qr/Export Parameters: course_id=7,\s*submitted_since=/, 'EXPLAIN shows both parameters');

# course_student_summaries: page views, participations, tardiness
$mock->reset;
$mock->scenario(rows => 250, assignments => 3);
is($node->safe_psql('postgres', q{SELECT count(*), bool_and(on_time + late + missing <= total), sum(total)
	FROM course_summaries WHERE course_id = 101}), '250|t|750', 'course_student_summaries');
is(scalar(requests_matching('GET', qr{^/api/v1/courses/101/analytics/student_summaries$})), 3, 'three pages');

$node->stop;
done_testing();
