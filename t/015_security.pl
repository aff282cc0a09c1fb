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
