# Security rules: the address rule (loopback, link-local and private hosts
# only from a superuser's server whose base_url names such a host, checked
# for every resolved address of every hop), superuser-only options that
# block only changes to themselves, reuse never crossing user mappings or
# request-shaping options, cancel on abort, and the other hardening rules.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $mock = start_mock();
my $port = $mock->port;
my $node = new_lms_node('security');
create_canvas_objects($node, $mock);

$node->safe_psql('postgres', q{
	CREATE ROLE regress_user LOGIN;
	GRANT USAGE ON FOREIGN DATA WRAPPER lms_fdw TO regress_user;
	GRANT CREATE ON SCHEMA public TO regress_user;
});

sub as_user
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE regress_user; $sql",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return ($ret, $out, $err);
}

sub requests_to_mock { return scalar(@{ $mock->requests }) }

# ---------------------------------------------------------------------------
# the address rule
# ---------------------------------------------------------------------------

# a non-superuser may not point a server at a non-public host
for my $url ($mock->base_url, "http://localhost:$port", 'https://169.254.169.254',
	'https://10.0.0.5', 'https://192.168.1.1', 'https://[fd00::1]', 'https://[fe80::1]')
{
	my ($ret, $out, $err) = as_user(
		"CREATE SERVER s_bad FOREIGN DATA WRAPPER lms_fdw OPTIONS (provider 'canvas', base_url '$url')");
	like($err, qr/42501: permission denied to set option "base_url" to a loopback, link-local or private host/,
		"a non-superuser may not set base_url $url");
}
my ($ret, $out, $err) = as_user(
	"CREATE SERVER s_public FOREIGN DATA WRAPPER lms_fdw OPTIONS (provider 'canvas', base_url 'https://lms.example.edu')");
is($ret, 0, 'a non-superuser may create a server for a public host') or diag $err;

# a superuser's loopback server reads rows, from its storage on 127.0.0.2 too
is($node->safe_psql('postgres', 'SELECT count(*) FROM grades'), '25',
	'a superuser\'s server on 127.0.0.1 reads its result from 127.0.0.2');

# a loopback server handed to a non-superuser can no longer reach loopback,
# whatever credential the mapping carries
$node->safe_psql('postgres', qq{
	CREATE SERVER s_given FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas', base_url '@{[ $mock->base_url ]}', retry_max '0');
	ALTER SERVER s_given OWNER TO regress_user;
	CREATE USER MAPPING FOR regress_user SERVER s_given OPTIONS (token 'x');
	CREATE FOREIGN TABLE given_grades (student_id bigint) SERVER s_given
	  OPTIONS (resource 'grade_export_csv');
	GRANT SELECT ON given_grades TO regress_user;
});
$mock->reset;
($ret, $out, $err) = as_user('SELECT count(*) FROM given_grades');
like($err, qr/refusing to request .*its host is a loopback address/,
	'a non-superuser\'s server may not reach 127.0.0.1');
is(requests_to_mock(), 0, 'and nothing was sent');

# a DNS name that resolves to 127.0.0.1 counts: curl resolves *.localhost
# to loopback, and the socket check sees the address
$node->safe_psql('postgres', qq{
	CREATE SERVER s_dns FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas', base_url 'http://lms.localhost:$port', allow_http 'true',
	           retry_max '0');
	ALTER SERVER s_dns OWNER TO regress_user;
	CREATE USER MAPPING FOR regress_user SERVER s_dns OPTIONS (token 'x');
	CREATE FOREIGN TABLE dns_grades (student_id bigint) SERVER s_dns
	  OPTIONS (resource 'grade_export_csv');
	GRANT SELECT ON dns_grades TO regress_user;
});
$mock->reset;
($ret, $out, $err) = as_user('SELECT count(*) FROM dns_grades');
like($err, qr/HV00N: refusing to connect to (127\.0\.0\.1|::1), a loopback address, for http:\/\/lms\.localhost/,
	'a name resolving to loopback is refused when the socket opens');
is(requests_to_mock(), 0, 'and nothing was sent');

# a superuser's server named by DNS reaches that host only: a result URL
# the LMS hands back on another loopback host is refused
$node->safe_psql('postgres', qq{
	CREATE SERVER s_dns_su FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas', base_url 'http://lms.localhost:$port', allow_http 'true',
	           poll_initial '50ms', poll_max '100ms', retry_max '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER s_dns_su OPTIONS (token 'tap-test-token');
	CREATE FOREIGN TABLE dns_su_grades (student_id bigint) SERVER s_dns_su
	  OPTIONS (resource 'grade_export_csv');
});
$mock->reset;
($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM dns_su_grades');
like($err, qr/points at a result the FDW may not download: its host is a loopback address/,
	'a result URL on another loopback host is refused');
ok((grep { $_->{method} eq 'POST' } @{ $mock->requests }),
	'while base_url\'s own host was reached');

# ---------------------------------------------------------------------------
# superuser-only options block only changes to themselves
# ---------------------------------------------------------------------------
($ret, $out, $err) = as_user("ALTER SERVER s_dns OPTIONS (ADD poll_initial '2s')");
is($ret, 0, 'the owner may change other options of a server with allow_http') or diag $err;
($ret, $out, $err) = as_user("ALTER SERVER s_dns OPTIONS (SET allow_http 'false')");
like($err, qr/permission denied to set option "allow_http"/, 'but not allow_http itself');
($ret, $out, $err) = as_user("ALTER SERVER s_given OPTIONS (ADD poll_initial '2s')");
is($ret, 0, 'nor is a loopback base_url a superuser set blocking other changes') or diag $err;
($ret, $out, $err) = as_user("ALTER SERVER s_given OPTIONS (SET base_url 'http://127.0.0.3:$port')");
like($err, qr/permission denied to set option "base_url"/, 'a new loopback base_url is');

# ---------------------------------------------------------------------------
# reuse never crosses user mappings or request-shaping options
# ---------------------------------------------------------------------------
sub posts { return scalar(grep { $_->{method} eq 'POST' } @{ $mock->requests }) }

$node->safe_psql('postgres', q{
	ALTER SERVER canvas OPTIONS (ADD reuse_window '1 min');
	CREATE ROLE regress_other;
	GRANT USAGE ON FOREIGN SERVER canvas TO regress_other;
	GRANT SELECT ON grades TO regress_other;
	CREATE USER MAPPING FOR regress_other SERVER canvas OPTIONS (token 'other-token');
	CREATE FOREIGN TABLE grades_csv (student_id bigint) SERVER canvas
	  OPTIONS (resource 'grade_export_csv', format 'csv');
});
$mock->reset;
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM grades;
	SELECT count(*) FROM grades;
	SET ROLE regress_other;
	SELECT count(*) FROM grades;
	RESET ROLE;
	SELECT count(*) FROM grades_csv;
}), "25\n25\n25\n25", 'every scan reads its rows');
is(posts(), 3, 'in one backend, a second scan reuses, another user\'s mapping and a table with another format do not');

# ---------------------------------------------------------------------------
# poll_timeout: the last status check is sent before the job is late
# ---------------------------------------------------------------------------
sub status_checks
{
	return scalar(grep { $_->{method} eq 'GET' && $_->{path} =~ m{/reports/grade_export_csv/\d+$} }
		  @{ $mock->requests });
}
$node->safe_psql('postgres', q{
	ALTER SERVER canvas OPTIONS (SET reuse_window '0');
	CREATE FOREIGN TABLE late_grades (student_id bigint) SERVER canvas
	  OPTIONS (resource 'grade_export_csv', poll_initial '1s', poll_timeout '300ms', retry_max '0');
});
$mock->reset;
$mock->scenario(statuses => [ 'complete' ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM late_grades'), '25',
	'a job done by the deadline is read, not timed out');
$mock->reset;
$mock->scenario(statuses => [ 'running' ]);
($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM late_grades');
like($err, qr/did not finish within poll_timeout.*\n.*after 1 status checks/,
	'a job still running at the deadline times out after its last check');
is(status_checks(), 1, 'which was sent');

# ---------------------------------------------------------------------------
# export parameters do not depend on the session's settings
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE grades_since (student_id bigint,
	  since timestamptz OPTIONS (param 'start_at'),
	  score float8 OPTIONS (param 'min_score'),
	  span interval OPTIONS (param 'span'))
	  SERVER canvas OPTIONS (resource 'grade_export_csv');
});
$mock->reset;
$node->safe_psql('postgres', q{
	SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Europe/Paris';
	SET extra_float_digits = -3; SET IntervalStyle = 'sql_standard';
	SELECT count(*) FROM grades_since
	WHERE since = '2026-11-20 10:00:00+00' AND score = 0.1::float8 + 0.2::float8
	  AND span = interval '1 day 2 hours';
});
my ($start) = grep { $_->{method} eq 'POST' } @{ $mock->requests };
like($start->{body}, qr/parameters%5Bstart_at%5D=2026-11-20T10%3A00%3A00.000Z/,
	'a timestamptz is sent as ISO in UTC, whatever DateStyle and TimeZone');
like($start->{body}, qr/parameters%5Bmin_score%5D=0\.30000000000000004/,
	'a float with every digit, whatever extra_float_digits');
like($start->{body}, qr/parameters%5Bspan%5D=1\+day\+02%3A00%3A00/,
	'an interval in the postgres style, whatever IntervalStyle');

# UTF-8, from another database encoding; not UTF-8 at all is an ERROR
for my $enc ('LATIN1', 'SQL_ASCII')
{
	my $db = lc("db_$enc");
	$node->safe_psql('postgres', "CREATE DATABASE $db ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
	$node->safe_psql($db, qq{
		CREATE EXTENSION lms_fdw;
		CREATE SERVER canvas FOREIGN DATA WRAPPER lms_fdw
		  OPTIONS (provider 'canvas', base_url '@{[ $mock->base_url ]}', poll_initial '50ms', retry_max '0');
		CREATE USER MAPPING FOR CURRENT_USER SERVER canvas OPTIONS (token 'tap-test-token');
		CREATE FOREIGN TABLE named (student_id bigint, who text OPTIONS (param 'who'))
		  SERVER canvas OPTIONS (resource 'grade_export_csv');
	});
}
$mock->reset;
$node->safe_psql('db_latin1', q{SET client_encoding = 'UTF8'; SELECT count(*) FROM named WHERE who = 'Zoë'});
($start) = grep { $_->{method} eq 'POST' } @{ $mock->requests };
like($start->{body}, qr/parameters%5Bwho%5D=Zo%C3%AB/, 'a LATIN1 database sends the parameter in UTF-8');
$mock->reset;
($ret, $out, $err) = $node->psql('db_sql_ascii', q{SELECT count(*) FROM named WHERE who = E'Zo\\xeb'},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/HV00A: export parameter "who" is not valid UTF-8/, 'bytes that are not UTF-8 are an ERROR');
is(posts(), 0, 'and nothing was sent');

# ---------------------------------------------------------------------------
# caps, each naming the option that raises it
# ---------------------------------------------------------------------------
$mock->reset;
($ret, $out, $err) = $node->psql('postgres', q{
	ALTER FOREIGN TABLE grades OPTIONS (ADD max_jobs '2');
	SELECT count(*) FROM grades WHERE term_id IN (1, 2, 3);
});
like($err, qr/ask for 3 exports, more than max_jobs \(2\)/, 'IN lists multiply into at most max_jobs exports');
is(posts(), 0, 'and none was started');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE grades OPTIONS (DROP max_jobs)});

# a rate-limit reset hours away is not waited for
$mock->reset;
$mock->scenario(faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$', status => 500,
	headers => { 'X-Rate-Limit-Remaining' => '0', 'X-Rate-Limit-Reset' => '7200' }, count => 1 } ]);
($ret, $out, $err) = $node->psql('postgres', q{
	SET statement_timeout = '20s';
	SELECT count(*) FROM grades;
});
like($err, qr/the LMS's rate limit asks to pause requests for 7\d\d\d s, longer than poll_timeout/,
	'a pacing wait longer than poll_timeout is an ERROR');

# ---------------------------------------------------------------------------
# a refused or expired result URL is reported as such
# ---------------------------------------------------------------------------
$mock->reset;
$mock->scenario(faults => [ { method => 'GET', listener => 'storage', status => 403,
	body => '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>', count => 1 } ]);
($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM grades',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/HV000: the storage host 127\.0\.0\.2 refused the result URL \(HTTP 403\)/,
	'a storage 403 names the host and the result URL');
unlike($err, qr/permission|credential|token/i, 'not the token or a privilege');

# ---------------------------------------------------------------------------
# redaction masks secrets before it shortens, JSON Web Tokens included
# ---------------------------------------------------------------------------
my $jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
my $lead = qq({"error":"bad","echo":"$jwt","pad":");
my $body = $lead . ('x' x (190 - length($lead))) . 'tap-test-token' . ('y' x 50) . '"}';
$mock->reset;
$mock->scenario(faults => [ { method => 'POST', status => 400, body => $body, count => 1 } ]);
($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM grades');
like($err, qr/the LMS answered HTTP 400/, 'an error answer is reported with an excerpt');
unlike($err, qr/tap-test/, 'the token across the excerpt\'s end is masked whole');
unlike($err, qr/eyJ/, 'a JSON Web Token is masked');

# ---------------------------------------------------------------------------
# paths and headers: no "." or ".." segment, no empty one, no line break
# ---------------------------------------------------------------------------
for my $case ([ '..', qr/a path segment "\." or "\.\."/ ], [ '', qr/an empty path segment/ ])
{
	my ($account, $re) = @$case;
	$node->safe_psql('postgres', qq{
		DROP FOREIGN TABLE IF EXISTS odd_grades;
		CREATE FOREIGN TABLE odd_grades (student_id bigint) SERVER canvas
		  OPTIONS (resource 'grade_export_csv', account_id '$account');
	});
	$mock->reset;
	($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM odd_grades',
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/HV00A: cannot build an API URL from $re/, "account_id '$account' is refused");
	is(scalar(@{ $mock->requests }), 0, 'and nothing was sent');
}
$node->safe_psql('postgres', qq{
	CREATE SERVER s_generic FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'generic', base_url '@{[ $mock->base_url ]}', retry_max '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER s_generic OPTIONS (token 'tap-test-token');
	CREATE FOREIGN TABLE generic_up (a int) SERVER s_generic
	  OPTIONS (start_path '/generic/exports/%2e%2E/admin', status_path '/generic/exports/{id}');
});
$mock->reset;
($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM generic_up');
like($err, qr/cannot build an API URL from a path segment/, 'a configured path may not go up either');
is(scalar(@{ $mock->requests }), 0, 'and nothing was sent');
for my $sql (
	qq{ALTER SERVER s_generic OPTIONS (ADD user_agent E'lms\r\nX-Injected: 1')},
	qq{ALTER USER MAPPING FOR CURRENT_USER SERVER s_generic OPTIONS (SET token E'abc\nX-Injected: 1')},
	qq{ALTER FOREIGN TABLE generic_up OPTIONS (SET start_path E'/generic/exports\r\n')})
{
	($ret, $out, $err) = $node->psql('postgres', $sql);
	like($err, qr/contains a line break/, 'a line break in what reaches a request line or header is an ERROR');
}
($ret, $out, $err) = $node->psql('postgres',
	qq{ALTER SERVER s_generic OPTIONS (SET base_url 'http://127.0.0.1:$port/a b')});
like($err, qr/a control character .* or a space in the URL/, 'so is a space or control character in base_url');

# ---------------------------------------------------------------------------
# cancel on abort: one bounded wait for all jobs, never swallowing an
# interrupt that arrives meanwhile
# ---------------------------------------------------------------------------
sub cancels
{
	return scalar(grep { ($_->{method} eq 'DELETE' || $_->{method} eq 'PUT')
		  && $_->{path} =~ m{/reports/} } @{ $mock->requests });
}
$node->safe_psql('postgres', q{
	ALTER SERVER canvas OPTIONS (SET reuse_window '0', SET poll_initial '2s', ADD max_parallel_jobs '1');
});
$mock->reset;
# the first job completes at its first check; the second is left pending
# when the loop exits, and its cancel at the LMS hangs
$mock->scenario(statuses => [ 'created', 'complete' ],
	faults => [ map { { kind => 'delay', delay_s => 5, method => $_, count => -1 } } qw(PUT DELETE) ]);
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, q{
\echo started
\set VERBOSITY verbose
DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT student_id FROM grades WHERE term_id IN (1, 2) LOOP
		EXIT;
	END LOOP;
	PERFORM pg_sleep(0.2);
	RAISE NOTICE 'the loop went on';
END $$;
});
for (1 .. 200)
{
	last if cancels() > 0;
	usleep(25_000);
}
is(cancels(), 1, 'the job the loop left pending is cancelled at the LMS');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
my $alive = $bg->query('SELECT 1 AS alive');
like($bg->{stderr}, qr/57014: canceling statement due to user request/,
	'a cancel during the LMS cancel\'s wait is not swallowed');
unlike($bg->{stderr}, qr/the loop went on/, 'the block stopped there');
like($alive, qr/1/, 'the backend answers the next query');
$bg->quit;

# several running jobs: their cancels go out together, in one bounded wait
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE par_grades (student_id bigint,
	  term_id bigint OPTIONS (param 'enrollment_term_id')) SERVER canvas
	  OPTIONS (resource 'grade_export_csv', max_parallel_jobs '3', poll_initial '60s');
});
$mock->reset;
$mock->scenario(statuses => [ 'created', 'running' ],
	faults => [ map { { kind => 'delay', delay_s => 5, method => $_, count => -1 } } qw(PUT DELETE) ]);
my $t0 = Time::HiRes::time();
($ret, $out, $err) = $node->psql('postgres', q{
	SET statement_timeout = '1s';
	SELECT count(*) FROM par_grades WHERE term_id IN (1, 2, 3);
}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
note(sprintf('the query with three hanging cancels returned after %.2f s', Time::HiRes::time() - $t0));
like($err, qr/57014: canceling statement due to statement timeout/, 'statement_timeout is reported');
is(posts(), 3, 'three jobs were started');
is(cancels(), 3, 'and all three cancelled at the LMS, though each cancel hangs');

$node->stop;

# ---------------------------------------------------------------------------
# a job another backend watches is not cancelled by its owner's abort
# ---------------------------------------------------------------------------
my $shared = new_lms_node('security_shared', "shared_preload_libraries = 'lms_fdw'\n");
create_canvas_objects($shared, $mock, reuse_window => '1 min');
$mock->reset;
$mock->scenario(duration_s => 3);
my $owner = $shared->background_psql('postgres', on_error_stop => 0);
my $owner_pid = $owner->query_safe('SELECT pg_backend_pid()');
$owner->query_until(qr/started/, q{
\echo started
SELECT count(*) FROM grades WHERE term_id = 7;
});
for (1 .. 200)
{
	last if posts() > 0;
	usleep(25_000);
}
is(posts(), 1, 'the owner started the export');
my ($wout, $werr) = ('', '');
my $watcher = IPC::Run::start([ 'psql', '-XAtq', '-d', $shared->connstr('postgres'), '-c',
	'SELECT count(*) FROM grades WHERE term_id = 7' ], '>', \$wout, '2>', \$werr);
# the watcher has adopted the job once it waits for its next status check
$shared->poll_query_until('postgres', qq{
	SELECT count(*) > 0 FROM pg_stat_activity
	WHERE pid <> $owner_pid AND query LIKE '%term_id = 7%' AND wait_event_type = 'Extension'
}) or die 'the watcher never started waiting';
$shared->safe_psql('postgres', "SELECT pg_cancel_backend($owner_pid)");
$owner->query('SELECT 1');
like($owner->{stderr}, qr/canceling statement due to user request/, 'the owner was cancelled');
$owner->quit;
$watcher->finish;
is($wout, "25\n", 'the watcher still got its rows') or diag $werr;
is(cancels(), 0, 'the owner did not cancel the job another backend watched');
is(posts(), 1, 'which was exported once');
$shared->stop;

done_testing();
