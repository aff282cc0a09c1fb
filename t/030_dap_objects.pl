# Canvas Data 2 the way its own client reads it, against the strict mock:
# the query body carries only the fields of the published schema (no
# "mode"); each object's presigned URL is asked for just before its
# download, so URLs that live two seconds are never stale; a storage 403 on
# an expired URL gets one fresh URL and a retry of that object; a reused
# job whose objects vanished starts a new job; several objects download at
# once up to max_parallel_downloads; the token's lifetime comes from
# expires_in (a server clock two hours behind does not make every status
# check a login); a 401 on a status check or URL request logs in once more
# and loses no status check; IMPORT FOREIGN SCHEMA reads the table list and
# each table's schema (and falls back to the built-in tables with a WARNING).
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('dap_objects');
create_dap_server($node, $mock);
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE subs (
	  id bigint OPTIONS (field 'key.id'), score float8, action text OPTIONS (field 'meta.action')
	) SERVER dap OPTIONS (resource 'submissions');
});

sub run_sql { return run_verbose($node, @_) }
sub log_of { return @{ $mock->requests } }
sub object_of { my ($e) = @_; return $e->{path} =~ m{/(part-\d+)} ? $1 : '' }
sub url_ids { my ($e) = @_; return join(',', $e->{body} =~ /(part-\d+)/g) }

# -- the query body: only format (and since/until)
$mock->scenario(rows => 60, objects => 6);
my ($out, $err) = run_sql('SELECT count(*), count(DISTINCT id), sum(id) FROM subs');
is($err, '', 'a snapshot reads without error from the strict mock');
like($out, qr/^60\|60\|1830$/m, 'every row once');
my @starts = grep { $_->{path} =~ m{/data$} } log_of();
is($starts[0]{body}, '{"format":"jsonl"}', 'the query body is {"format":"jsonl"}: no mode');
($out, $err) = run_sql(q{CREATE FOREIGN TABLE subs_mode (id bigint) SERVER dap
	OPTIONS (resource 'submissions', parameters '{"mode": "expanded"}');
	SELECT count(*) FROM subs_mode});
is(sqlstate_of($err), 'HV00D', 'a mode parameter is refused');
like($err, qr/Canvas Data 2 has no export parameter "mode"/, 'by name');

# -- one URL request per object, each just before its download
$mock->reset;
$mock->scenario(rows => 600, objects => 6, dap_url_ttl_s => 2, dap_storage_bps => 20000);
$node->safe_psql('postgres', q{ALTER SERVER dap OPTIONS (ADD max_parallel_downloads '1')});
($out, $err) = run_sql('SELECT count(*), count(DISTINCT id) FROM subs');
is($err, '', 'six objects read one by one with URLs that live 2 s');
like($out, qr/^600\|600$/m, 'all rows');
my @log = log_of();
my @urls = grep { $_->{path} eq '/dap/object/url' } @log;
my @gets = grep { $_->{listener} eq 'storage' } @log;
is(scalar(@urls), 6, 'six URL requests');
is(join(' ', map { url_ids($_) } @urls), join(' ', map { sprintf('part-%05d', $_) } 0 .. 5),
	'each for one object, in order');
is(join(',', map { $_->{status} } @gets), '200,200,200,200,200,200', 'no download was refused');
ok(!(grep { $urls[$_]{seq} < $gets[$_ - 1]{done_after} } 1 .. 5),
	"each object's URL was asked for after the previous object was read");

# -- a storage 403 (an expired URL): one fresh URL, that object again
$mock->reset;
$mock->scenario(rows => 60, objects => 3, faults => [ {
	listener => 'storage', path => 'part-00001', status => 403, count => 1,
	content_type => 'application/xml',
	body => '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>' } ]);
($out, $err) = run_sql('SELECT count(*), count(DISTINCT id) FROM subs');
is($err, '', 'a 403 from storage: the scan succeeds');
like($out, qr/^60\|60$/m, 'all rows, none twice');
@log = log_of();
@urls = grep { $_->{path} eq '/dap/object/url' } @log;
@gets = grep { $_->{listener} eq 'storage' } @log;
is(join(' ', map { url_ids($_) } @urls), 'part-00000 part-00001 part-00001 part-00002',
	'a fresh URL for the refused object');
is(join(',', map { object_of($_) . ':' . $_->{status} } @gets),
	'part-00000:200,part-00001:403,part-00001:200,part-00002:200', 'and that object read again');

# twice refused: the ERROR of a refused result URL
$mock->reset;
$mock->scenario(rows => 60, objects => 3, faults => [ {
	listener => 'storage', path => 'part-00001', status => 403, count => 2,
	content_type => 'application/xml',
	body => '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>' } ]);
($out, $err) = run_sql('SELECT count(*) FROM subs');
is(sqlstate_of($err), 'HV000', 'refused with a fresh URL too: HV000');
like($err, qr/the storage host 127\.0\.0\.2\S* refused the result URL \(HTTP 403\)/, 'saying the storage host refused it');
unlike($err, qr/X-Amz-Signature=[0-9a-f]/, 'without the signature');
is(scalar(grep { $_->{listener} eq 'storage' && object_of($_) eq 'part-00001' } log_of()), 2,
	'the object was tried twice, not more');

# -- a reused job whose objects vanished: a new job
$mock->reset;
$mock->scenario(rows => 30, objects => 2);
$node->safe_psql('postgres', q{ALTER SERVER dap OPTIONS (ADD reuse_window '10min')});
($out, $err) = run_sql('SELECT count(*) FROM subs');
like($out, qr/^30$/m, 'reuse: the first scan');
$mock->_call('POST', '/__mock/dap/expire', {});
($out, $err) = run_sql('SELECT count(*) FROM subs');
is($err, '', 'reuse of a job whose objects vanished: no error');
like($out, qr/^30$/m, 'all rows');
my @jobs = grep { $_->{kind} eq 'dap' } @{ $mock->jobs };
is(scalar(@jobs), 2, 'a second job was started');
$node->safe_psql('postgres', q{ALTER SERVER dap OPTIONS (DROP reuse_window)});

# -- concurrent downloads
$mock->reset;
$mock->scenario(rows => 800, objects => 8, dap_storage_bps => 30000);
$node->safe_psql('postgres', q{ALTER SERVER dap OPTIONS (SET max_parallel_downloads '4')});
($out, $err) = run_sql('SELECT count(*), count(DISTINCT id), sum(id) FROM subs');
is($err, '', 'eight objects, four at a time');
like($out, qr/^800\|800\|320400$/m, 'every row once');
@gets = grep { $_->{listener} eq 'storage' } log_of();
my $most = 0;
for my $g (@gets)
{
	my $n = grep { $_->{seq} >= $g->{seq} && $_->{seq} <= $g->{done_after} } @gets;
	$most = $n if $n > $most;
}
is($most, 4, 'four downloads were under way at once, never more');
is(scalar(grep { $_->{path} eq '/dap/object/url' } log_of()), 8, 'one URL request per object');

# a table may ask for fewer
$mock->reset;
$mock->scenario(rows => 80, objects => 4, dap_storage_bps => 30000);
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE subs OPTIONS (ADD max_parallel_downloads '2')});
($out, $err) = run_sql('SELECT count(*) FROM subs');
@gets = grep { $_->{listener} eq 'storage' } log_of();
$most = 0;
for my $g (@gets)
{
	my $n = grep { $_->{seq} >= $g->{seq} && $_->{seq} <= $g->{done_after} } @gets;
	$most = $n if $n > $most;
}
is($most, 2, 'the table option max_parallel_downloads 2 limits them to two');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE subs OPTIONS (DROP max_parallel_downloads)});

# -- URL requests over the per-minute limit: 429 with Retry-After, retried
$mock->reset;
$mock->scenario(rows => 40, objects => 4, dap_limits => { url => 2 }, dap_limit_window_s => 1);
($out, $err) = run_sql('SELECT count(*) FROM subs');
is($err, '', 'object/url rate-limited: no error');
like($out, qr/^40$/m, 'all rows');
@urls = grep { $_->{path} eq '/dap/object/url' } log_of();
ok((grep { $_->{status} == 429 } @urls), 'some URL requests were answered 429');
is(scalar(grep { $_->{status} == 200 } @urls), 4, 'each object got its URL');

# -- the token: expires_in counts, not a clock two hours behind
$mock->reset;
$mock->scenario(rows => 10, objects => 1, dap_clock_skew_s => -7200,
	statuses => [ 'waiting', ('running') x 6, 'complete' ]);
($out, $err) = run_sql(q{
	CREATE FOREIGN TABLE subs_skew (id bigint) SERVER dap OPTIONS (resource 'scores');
	SELECT count(*) FROM subs_skew});
is($err, '', 'a token whose exp lies in the past by the local clock works');
@log = log_of();
is(scalar(grep { $_->{path} eq '/ids/auth/login' } @log), 1, 'one login for the whole scan');
cmp_ok(scalar(grep { $_->{path} =~ m{^/dap/job/} } @log), '>=', 7, 'across every status check');

# -- a 401 on a status check: drop the token, log in once more, check again
$mock->reset;
$mock->scenario(rows => 10, objects => 1, statuses => [ 'waiting', 'running', 'complete' ],
	faults => [ { path => '^/dap/job/', status => 401, count => 1,
		body => { error => { type => 'AuthenticationError', uuid => 'x', message => 'token revoked' } } } ]);
($out, $err) = run_sql('SELECT count(*) FROM subs_skew');
is($err, '', 'a 401 on a status check: the scan succeeds');
@log = grep { $_->{path} !~ m{^/__mock} } log_of();
my $seq = join(',', map { ($_->{path} =~ m{^/ids} ? 'login' : $_->{path} =~ m{/data$} ? 'start'
	: $_->{path} =~ m{^/dap/job} ? "job$_->{status}" : $_->{path} =~ m{/object/url} ? 'url'
	: 'get') } @log);
is($seq, 'login,start,job401,login,job202,job202,job200,url,get',
	'the refused check is followed by a login and the same check again');

# a 401 on the URL request: the same
$mock->reset;
$mock->scenario(rows => 10, objects => 1, statuses => [ 'complete' ],
	faults => [ { path => '^/dap/object/url', status => 401, count => 1,
		body => { error => { type => 'AuthenticationError', uuid => 'x', message => 'token revoked' } } } ]);
($out, $err) = run_sql('SELECT count(*) FROM subs_skew');
is($err, '', 'a 401 on an object URL request: the scan succeeds');
@log = grep { $_->{path} !~ m{^/__mock} } log_of();
is(join(',', map { $_->{path} =~ m{^/ids} ? 'login' : $_->{path} =~ m{/object/url} ? "url$_->{status}" : 'x' }
		grep { $_->{path} =~ m{^/ids|/object/url} } @log),
	'login,url401,login,url200', 'a login, then the URL request again');

# a 401 twice in a row: the user mapping's credentials are wrong
$mock->reset;
$mock->scenario(faults => [ { path => '^/dap/job/', status => 401, count => -1,
		body => { error => { type => 'AuthenticationError', uuid => 'x', message => 'no' } } } ]);
($out, $err) = run_sql('SELECT count(*) FROM subs_skew');
is(sqlstate_of($err), '28000', 'refused after a fresh login too: 28000');
is(scalar(grep { $_->{path} eq '/ids/auth/login' } log_of()), 2, 'one login more, not a loop');

# -- IMPORT FOREIGN SCHEMA from the table list and each table's schema
$mock->reset;
$node->safe_psql('postgres', q{
	CREATE SCHEMA cd2;
	IMPORT FOREIGN SCHEMA canvas_dap EXCEPT (users) FROM SERVER dap INTO cd2;
	CREATE SCHEMA logs;
	IMPORT FOREIGN SCHEMA canvas_logs FROM SERVER dap INTO logs;
	CREATE SCHEMA few;
	IMPORT FOREIGN SCHEMA canvas_dap LIMIT TO (scores, users) FROM SERVER dap INTO few;
});
is($node->safe_psql('postgres', q{
	SELECT string_agg(foreign_table_schema || '.' || foreign_table_name, ','
	                  ORDER BY foreign_table_schema || '.' || foreign_table_name)
	FROM information_schema.foreign_tables WHERE foreign_table_schema IN ('cd2', 'logs', 'few')}),
	'cd2.assignments,cd2.courses,cd2.enrollments,cd2.scores,cd2.submissions,few.scores,few.users,logs.web_logs',
	'the tables of the table lists, with LIMIT TO and EXCEPT');
is($node->safe_psql('postgres', q{
	SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' ||
	                  coalesce(array_to_string(attfdwoptions, ','), ''), E'\n' ORDER BY attnum)
	FROM pg_attribute WHERE attrelid = 'cd2.submissions'::regclass AND attnum > 0}),
	join("\n",
		'id bigint field=key.id',
		'course_id bigint field=value.course_id',
		'user_id bigint field=value.user_id',
		'assignment_id bigint field=value.assignment_id',
		'grader_id bigint field=value.grader_id',
		'score double precision field=value.score',
		'published_score double precision field=value.published_score',
		'grade text field=value.grade',
		'published_grade text field=value.published_grade',
		'attempt integer field=value.attempt',
		'submitted_at timestamp with time zone field=value.submitted_at',
		'graded_at timestamp with time zone field=value.graded_at',
		'posted_at timestamp with time zone field=value.posted_at',
		'excused boolean field=value.excused',
		'late_policy_status text field=value.late_policy_status',
		'points_deducted numeric(6,2) field=value.points_deducted',
		'grading_period_id bigint field=value.grading_period_id',
		'workflow_state text field=value.workflow_state',
		'created_at timestamp with time zone field=value.created_at',
		'updated_at timestamp with time zone field=value.updated_at',
		'action text field=meta.action',
		'ts timestamp with time zone field=meta.ts',
		'since timestamp with time zone meta=since,param=since',
		'until timestamp with time zone meta=until',
		'at timestamp with time zone meta=at',
		'schema_version integer meta=schema_version'),
	'submissions: columns, types and field options from its schema');
is($node->safe_psql('postgres', q{
	SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'cd2.courses'::regclass AND attname = 'settings'}), 'jsonb', 'an object is jsonb');
is($node->safe_psql('postgres', q{
	SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'cd2.assignments'::regclass AND attname = 'submission_types'}), 'jsonb', 'an array is jsonb');
is($node->safe_psql('postgres', q{
	SELECT format_type(atttypid, atttypmod) || ' ' || array_to_string(attfdwoptions, ',')
	FROM pg_attribute WHERE attrelid = 'logs.web_logs'::regclass AND attnum = 1}),
	'text field=key.id', 'web_logs: a string key');
like($node->safe_psql('postgres', q{SELECT obj_description('cd2.submissions'::regclass)}),
	qr/^Canvas Data 2 table canvas\.submissions, schema version 3/, 'the schema version in the table comment');
is($node->safe_psql('postgres', q{
	SELECT array_to_string(ftoptions, ',') FROM pg_foreign_table WHERE ftrelid = 'logs.web_logs'::regclass}),
	'resource=web_logs,namespace=canvas_logs', 'the table options');
my @schemas = grep { $_->{path} =~ m{/schema$} } log_of();
is(scalar(@schemas), 5 + 1 + 2, 'one schema request per imported table');

$mock->reset;
$mock->scenario(rows => 5, objects => 1);
is($node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT id), bool_and(action = 'U'), bool_and(at IS NOT NULL),
	       bool_and(schema_version = 3), bool_and(since IS NULL), count(settings)
	FROM cd2.courses}), '5|5|t|t|t|t|5', 'an imported table reads its rows and the job watermarks');
is($node->safe_psql('postgres', q{SELECT settings->>'hide_final_grades' FROM cd2.courses WHERE id = 2}),
	'true', 'an object column holds the JSON object');

# the schema endpoint cannot be reached: the built-in tables, with a WARNING
$node->safe_psql('postgres', q{
	CREATE SERVER dap_down FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas_dap', base_url 'http://127.0.0.1:9', connect_timeout '1s', retry_max '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER dap_down
	  OPTIONS (client_id 'tap-client', client_secret 'tap-secret');
	CREATE SCHEMA fallback;});
my ($ret, $o2, $e2) = $node->psql('postgres',
	'IMPORT FOREIGN SCHEMA canvas_dap FROM SERVER dap_down INTO fallback');
is($ret, 0, 'IMPORT with the schema endpoint unreachable succeeds');
like($e2, qr/WARNING:  the Canvas Data 2 tables of server "dap_down" could not be read; importing the built-in tables instead\nDETAIL:  .*127\.0\.0\.1/,
	'with a WARNING saying the built-in tables are used, and why');
is($node->safe_psql('postgres', q{
	SELECT string_agg(foreign_table_name, ',' ORDER BY foreign_table_name) FROM information_schema.foreign_tables
	WHERE foreign_table_schema = 'fallback'}), 'enrollments,scores,submissions', 'the built-in tables');

$node->stop;
done_testing();
