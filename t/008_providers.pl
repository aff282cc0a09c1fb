# The other providers end to end through the mock LMS: Canvas Data 2 (login,
# token cache and renewal, JSON lines and CSV objects, incremental queries,
# failed and expired jobs, an idempotent start retried), Brightspace Data
# Export (a data set by name and by id, filters, the zip download, a job
# ending in error).  Canvas itself is in t/013_canvas_strict.pl.
use strict;
use warnings;
use lib 't';
use LmsTest;
use POSIX qw(strftime);
use Test::More;
use Time::HiRes qw(time);

my $mock = start_mock();
my $node = new_lms_node('providers');
my $base = $mock->base_url;
my $polls = q{poll_initial '50ms', poll_max '200ms', retry_base '50ms', retry_cap '200ms'};

$node->safe_psql('postgres', qq{
	CREATE SERVER dap FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas_dap', base_url '$base', $polls);
	CREATE USER MAPPING FOR CURRENT_USER SERVER dap
	  OPTIONS (client_id 'tap-client', client_secret 'tap-secret');
	CREATE FOREIGN TABLE dap_submissions (
	  id bigint, course_id bigint, user_id bigint, score float8, grade text,
	  action text OPTIONS (field 'meta.action'), ts timestamptz OPTIONS (field 'meta.ts'),
	  job text OPTIONS (meta 'job_id')
	) SERVER dap OPTIONS (resource 'submissions');

	CREATE SERVER bs FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'brightspace', base_url '$base', api_version '1.47', $polls);
	CREATE USER MAPPING FOR CURRENT_USER SERVER bs OPTIONS (token 'tap-d2l-token');
	CREATE FOREIGN TABLE final_grades (
	  orgunitid bigint, userid bigint, pointsnumerator numeric, gradevalue text,
	  last_modified timestamptz OPTIONS (field 'LastModified'),
	  parent_org_unit bigint OPTIONS (param 'parentOrgUnitId')
	) SERVER bs OPTIONS (resource 'final grades',
	  parameters '{"startDate": "2024-01-01T00:00:00.000Z", "roles": "110,120"}');
});

sub run_sql { return run_verbose($node, @_) }
sub requests_matching { return $mock->requests_of(@_) }

# ---------------------------------------------------------------------
# Canvas Data 2
# ---------------------------------------------------------------------

# A snapshot in JSON lines, two gzip objects; columns from key, value and meta
$mock->scenario(rows => 50, objects => 2);
my $got = $node->safe_psql('postgres', q{
	SELECT count(*), sum(id), count(score), count(*) FILTER (WHERE action = 'U'),
	       min(ts) > '2024-01-01', count(DISTINCT job)
	FROM dap_submissions});
is($got, '50|1275|42|50|t|1', 'DAP: 50 rows from two objects, key/value/meta columns');

my @logins = requests_matching('POST', qr{^/ids/auth/login$});
is(scalar(@logins), 1, 'DAP: one login');
is($logins[0]{auth_scheme}, 'Basic', 'DAP: the login sent the client credentials as Basic');
like($logins[0]{body}, qr/^grant_type=client_credentials$/, 'DAP: client credentials grant');
my @starts = requests_matching('POST', qr{^/dap/query/canvas/table/submissions/data$});
is(scalar(@starts), 1, 'DAP: one query job started');
like($starts[0]{body}, qr/"format":"jsonl"/, 'DAP: JSON lines asked for');
is($starts[0]{auth_scheme}, 'Bearer', 'DAP: the query carried the token');
my @checks = requests_matching('GET', qr{^/dap/job/});
cmp_ok(scalar(@checks), '>=', 3, 'DAP: the job was watched until complete');
my @urls = requests_matching('POST', qr{^/dap/object/url$});
is(scalar(@urls), 2, 'DAP: one object URL request per object');
like($urls[0]{body}, qr/^\[\{"id":"[^"]+part-00000\.jsonl\.gz"\}\]$/, 'DAP: the first for the first object');
like($urls[1]{body}, qr/^\[\{"id":"[^"]+part-00001\.jsonl\.gz"\}\]$/, 'DAP: then the second');
my @objects = grep { $_->{path} =~ m{^/__s3/} } @{ $mock->requests };
is(scalar(@objects), 2, 'DAP: both objects downloaded');
ok(!(grep { $_->{authorization} } @objects), 'DAP: presigned downloads carry no credential');
is($node->safe_psql('postgres',
		'SELECT id, course_id, user_id, score, grade IS NOT NULL FROM dap_submissions WHERE id = 7'),
	'7|102|307|1|t', 'DAP: a row carries its value fields');

like($node->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT * FROM dap_submissions'),
	qr/LMS: canvas_dap table canvas\.submissions/, 'DAP: EXPLAIN names the table');

# CSV objects: the same columns through key./value./meta. headers
$mock->reset;
$mock->scenario(rows => 50, objects => 3);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE dap_scores_csv (id bigint, enrollment_id bigint, current_score numeric, action text)
	  SERVER dap OPTIONS (resource 'scores', format 'csv')});
is($node->safe_psql('postgres',
		"SELECT count(*), sum(id), sum(enrollment_id), count(*) FILTER (WHERE action = 'U') FROM dap_scores_csv"),
	'50|1275|251275|50', 'DAP: CSV objects, columns matched under key., value., meta.');
(@starts) = requests_matching('POST', qr{/table/scores/data$});
like($starts[0]{body}, qr/"format":"csv"/, 'DAP: the format option chose CSV');

# An incremental query: since from the parameters, deletes in meta.action
$mock->reset;
$mock->scenario(rows => 50);
my $since = strftime('%Y-%m-%d %H:%M:%S+00', gmtime(time() - 86400));
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE dap_changes (id bigint, score float8, action text)
	  SERVER dap OPTIONS (resource 'submissions', parameters '{"since": "$since"}')});
is($node->safe_psql('postgres',
		"SELECT count(*), count(*) FILTER (WHERE action = 'D'), count(score) FILTER (WHERE action = 'D') FROM dap_changes"),
	'50|5|0', 'DAP: an incremental query reads upserts and deletes');
(@starts) = requests_matching('POST', qr{/table/submissions/data$});
like($starts[0]{body}, qr/"since":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"/,
	'DAP: since sent as an RFC 3339 UTC time');

# The token cache: a second scan in the same session logs in no more; a scan
# after the token expired logs in again
$mock->reset;
$mock->scenario(rows => 10, token_ttl_s => 3);
my ($out, $err) = run_sql(q{
SELECT count(*) FROM dap_submissions;
SELECT count(*) FROM dap_submissions;
SELECT pg_sleep(3.2);
SELECT count(*) FROM dap_submissions;
});
is($err, '', 'DAP token cache: three scans without error');
my @log = @{ $mock->requests };
@logins = grep { $_->{path} eq '/ids/auth/login' } @log;
is(scalar(@logins), 2, 'DAP token cache: two logins for three scans');
@starts = grep { $_->{path} =~ m{/data$} } @log;
is(scalar(@starts), 3, 'DAP token cache: three queries');
ok($starts[1]{seq} < $logins[1]{seq}, 'DAP token cache: the second scan used the cached token');
cmp_ok($logins[1]{t} - $logins[0]{t}, '>=', 2.2,
	'DAP token cache: the second login came only once the token was about to expire');
ok(!(grep { $_->{status} == 401 } @log), 'DAP token cache: no request was refused');

# A job that outlives its token: renewed between two status checks
$mock->reset;
$mock->scenario(rows => 10, token_ttl_s => 2,
	statuses => [ 'waiting', ('running') x 14, 'complete' ]);
($out, $err) = run_sql('SELECT count(*) FROM dap_submissions');
is($err, '', 'DAP renewal: a job longer than its token succeeds');
@log = @{ $mock->requests };
cmp_ok(scalar(grep { $_->{path} eq '/ids/auth/login' } @log), '>=', 2,
	'DAP renewal: the token was renewed during the job');
ok(!(grep { $_->{status} == 401 } @log), 'DAP renewal: no request was refused');

# A failed job: HV000 with the LMS's message
$mock->reset;
$mock->scenario(statuses => [ 'waiting', 'running', 'failed' ],
	error_message => 'query processing failed: table snapshot unavailable');
($out, $err) = run_sql('SELECT count(*) FROM dap_submissions');
is(sqlstate_of($err), 'HV000', 'DAP failed job: HV000');
like($err, qr/export job [0-9a-f-]+ on server "dap" ended in state "failed"/, 'DAP failed job: named');
like($err, qr/The LMS said: query processing failed: table snapshot unavailable/,
	'DAP failed job: the message');

# An expired job (its files are gone): HV000
$mock->reset;
$mock->scenario(faults => [ {
	method => 'GET', path => '^/dap/job/', status => 200, count => -1,
	body => { id => 'job-x', status => 'complete', expires_at => '2020-01-01T00:00:00Z',
		objects => [ { id => 'job-x/part-00000.jsonl.gz' } ], schema_version => 3 } } ]);
($out, $err) = run_sql('SELECT count(*) FROM dap_submissions');
is(sqlstate_of($err), 'HV000', 'DAP expired job: HV000');
like($err, qr/ended in state "expired"/, 'DAP expired job: says expired');
like($err, qr/expired at 2020-01-01T00:00:00Z/, 'DAP expired job: and when');

# A 429 with Retry-After, then a connection reset, on the start: the start is
# idempotent, so both are retried
$mock->reset;
$mock->scenario(rows => 20, faults => [
	{ method => 'POST', path => '/data$', status => 429, count => 1,
	  headers => { 'Retry-After' => '1' },
	  body => { error => { type => 'TooManyRequestsError', message => 'rate limit exceeded' } } },
	{ method => 'POST', path => '/data$', kind => 'reset', count => 1 } ]);
my $t0 = time();
($out, $err) = run_sql('SELECT count(*) FROM dap_submissions');
my $elapsed = time() - $t0;
is($err, '', 'DAP 429 and reset on start: no error');
like($out, qr/^20$/m, 'DAP 429 and reset on start: all rows');
@starts = requests_matching('POST', qr{/data$});
is(join(',', map { $_->{status} } @starts), '429,0,202', 'DAP 429 and reset on start: the start was sent three times');
cmp_ok($elapsed, '>=', 1.0, 'DAP 429: Retry-After was honoured');

# An unknown table: the LMS's 404 at the start
$mock->reset;
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE dap_unknown (id bigint) SERVER dap OPTIONS (resource 'attendance')});
($out, $err) = run_sql('SELECT count(*) FROM dap_unknown');
is(sqlstate_of($err), 'HV00R', 'DAP unknown table: HV00R');
like($err, qr/table not found: attendance/, 'DAP unknown table: the LMS message');

# No client credentials on the mapping
$node->safe_psql('postgres', qq{
	CREATE SERVER dap2 FOREIGN DATA WRAPPER lms_fdw OPTIONS (provider 'canvas_dap', base_url '$base');
	CREATE USER MAPPING FOR CURRENT_USER SERVER dap2 OPTIONS (token 'not-enough');
	CREATE FOREIGN TABLE dap2_subs (id bigint) SERVER dap2 OPTIONS (resource 'submissions');
});
($out, $err) = run_sql('SELECT count(*) FROM dap2_subs');
is(sqlstate_of($err), '28000', 'DAP without client credentials: 28000');
like($err, qr/HINT:  Add them: ALTER USER MAPPING .* client_id/, 'DAP without client credentials: a hint');

# ---------------------------------------------------------------------
# Brightspace
# ---------------------------------------------------------------------

# By name (ignoring case), with filters from the parameters option and a param column
$mock->reset;
$mock->scenario(rows => 30);
$got = $node->safe_psql('postgres', q{
	SELECT count(*), sum(userid), count(pointsnumerator), min(last_modified) > '2024-01-01'
	FROM final_grades WHERE parent_org_unit = 6606});
is($got, '30|9465|30|t', 'Brightspace by name: 30 rows from the zip');
is($node->safe_psql('postgres',
		'SELECT orgunitid, pointsnumerator, gradevalue FROM final_grades WHERE userid = 303'),
	'6803|11.1|11.1 %', 'Brightspace: a row');
@log = @{ $mock->requests };
is(scalar(grep { $_->{path} eq '/d2l/api/lp/1.47/dataExport/list' } @log), 2,
	'Brightspace by name: the data set was looked up in the list');
my ($create) = grep { $_->{path} eq '/d2l/api/lp/1.47/dataExport/create' } @log;
like($create->{body}, qr/"DataSetId":"b6f4a2f3-1c7e-4c39-9a51-3e3f4b8a1f01"/, 'Brightspace: the data set id');
like($create->{body}, qr/\{"Name":"startDate","Value":"2024-01-01T00:00:00.000Z"\}/, 'Brightspace: startDate filter');
like($create->{body}, qr/\{"Name":"roles","Value":"110,120"\}/, 'Brightspace: roles filter');
like($create->{body}, qr/\{"Name":"parentOrgUnitId","Value":"6606"\}/, 'Brightspace: the param column became a filter');
my @downloads = grep { $_->{path} =~ m{/dataExport/download/} } @log;
is(scalar(@downloads), 2, 'Brightspace: one download per scan');
is($downloads[0]{auth_scheme}, 'Bearer', 'Brightspace: the download carried the token (same host)');
ok(!(grep { $_->{path} =~ m{/dataExport/jobs/} && $_->{auth_scheme} ne 'Bearer' } @log),
	'Brightspace: status checks carried the token');
like($node->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT * FROM final_grades WHERE parent_org_unit = 1'),
	qr/LMS: brightspace data set final grades \(API 1\.47\)\n.*Export Parameters: parentOrgUnitId=1/,
	'Brightspace: EXPLAIN');

# By id: no list request
$mock->reset;
$mock->scenario(rows => 18);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE enrollments_withdrawals (userid bigint, action text, rolename text)
	  SERVER bs OPTIONS (resource 'c27a1d0e-5b8f-4e62-8d14-7a9e2c6b3f02')});
is($node->safe_psql('postgres',
		"SELECT count(*), count(*) FILTER (WHERE action = 'Unenroll'), min(rolename) FROM enrollments_withdrawals"),
	'18|2|Student', 'Brightspace by id: rows');
ok(!(grep { $_->{path} =~ m{/dataExport/list} } @{ $mock->requests }), 'Brightspace by id: no lookup');

# An unknown name
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE bs_unknown (x text) SERVER bs OPTIONS (resource 'Attendance Records')});
($out, $err) = run_sql('SELECT * FROM bs_unknown');
is(sqlstate_of($err), 'HV00R', 'Brightspace unknown data set: HV00R');
like($err, qr/DETAIL:  The data sets are: "Final Grades", "Enrollments and Withdrawals", "Grade Results", "Organizational Units"\./,
	'Brightspace unknown data set: the names listed (Advanced Data Sets, then Brightspace Data Sets)');

# A job ending in Status 3
$mock->reset;
$mock->scenario(statuses => [ 'queued', 'processing', 'error' ]);
($out, $err) = run_sql('SELECT count(*) FROM final_grades');
is(sqlstate_of($err), 'HV000', 'Brightspace Status 3: HV000');
like($err, qr/export job [0-9a-f-]+ on server "bs" ended in state "error"/, 'Brightspace Status 3: named');

# Imported tables read end to end
$mock->reset;
$mock->scenario(rows => 12, objects => 2);
$node->safe_psql('postgres', q{
	CREATE SCHEMA imported;
	IMPORT FOREIGN SCHEMA canvas LIMIT TO (submissions) FROM SERVER dap INTO imported;
	IMPORT FOREIGN SCHEMA brightspace LIMIT TO (final_grades) FROM SERVER bs INTO imported;
});
is($node->safe_psql('postgres',
		q{SELECT count(*), count(DISTINCT id), bool_and(action = 'U'), count(score) > 0
		  FROM imported.submissions}),
	'12|12|t|t', 'an imported Canvas Data 2 table reads its rows, key and meta columns');
is($node->safe_psql('postgres',
		'SELECT count(*), count(user_id), count(points_numerator) FROM imported.final_grades'),
	'12|12|12', 'an imported Brightspace table reads its rows by field names');

$node->stop;
done_testing();
