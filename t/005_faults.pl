# Faults and policy: every failure a clear ERROR with the right SQLSTATE;
# cancels in every phase; redirects and credentials; no secret in any log.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;
use Time::HiRes qw(time);

my $mock = start_mock();
my $token = 'tok-5ecret-0123456789';
my $node = new_lms_node('faults', "log_min_messages = debug5\nlog_error_verbosity = verbose\n");
create_canvas_objects($node, $mock, token => $token, retry_max => '1');
my $log_offset = -s $node->logfile;

sub run_sql
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		on_error_stop => 0);
	return ($out, $err);
}

# ---- cancels in each phase ----
for my $case (
	[ 'the start request', { method => 'POST', path => '/reports/', kind => 'delay', delay_s => 10, count => 1 } ],
	[ 'a status request', { method => 'GET', path => '/reports/grade_export_csv/\d+$', kind => 'delay', delay_s => 10, count => 1 } ],
	[ 'the redirect to storage', { path => '/files/', kind => 'delay', delay_s => 10, count => 1 } ])
{
	my ($phase, $fault) = @$case;
	$mock->reset;
	$mock->scenario(faults => [$fault]);
	my $t0 = time();
	my ($out, $err) = run_sql("SET statement_timeout = '500ms';\nSELECT count(*) FROM grades;\nRESET statement_timeout;\nSELECT 'alive';");
	my $elapsed = time() - $t0;
	is(LmsTest::sqlstate_of($err), '57014', "statement_timeout during $phase is 57014");
	like($out, qr/alive/, "the backend answers after a cancel during $phase");
	cmp_ok($elapsed, '<', 8, "the 10 s stall in $phase was not waited out");
}

# pg_terminate_backend during a wait: that backend goes, the server stays
$mock->reset;
$mock->scenario(statuses => [ 'created', 'running' ]);
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, "\\echo started\nSELECT count(*) FROM grades;\n");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE pid = $pid AND wait_event_type = 'Extension'")
  or die 'the scan never started waiting';
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
  or die 'the backend did not exit';
eval { $bg->quit };
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server answers after pg_terminate_backend');

# ---- transport and answer faults ----
$mock->reset;
$node->safe_psql('postgres', q{
	CREATE SERVER closed FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas', base_url 'http://127.0.0.1:1', retry_max '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER closed OPTIONS (token 'x');
	CREATE FOREIGN TABLE closed_grades (a text) SERVER closed OPTIONS (resource 'grade_export_csv');
});
my ($out, $err) = run_sql('SELECT * FROM closed_grades');
is(LmsTest::sqlstate_of($err), 'HV00N', 'connection refused is HV00N');
like($err, qr/could not connect to the LMS at http:\/\/127\.0\.0\.1:1/, 'naming the LMS');

# A connection reset on a status check does not fail the scan: the check is
# sent again (by libcurl on a reused connection, else by the retry rules)
$mock->reset;
$mock->scenario(faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$',
	kind => 'reset', count => 1 } ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM grades'), '25',
	'an export whose status check met a reset connection completes');
my @checks = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/reports/grade_export_csv/\d+$} }
  @{ $mock->requests };
is($checks[0]{status}, 0, 'the first status check was reset');
is($checks[1]{path}, $checks[0]{path}, 'and the same check was sent again');

# A host name that cannot be resolved: a 64-byte label is not a valid DNS
# name, so the resolver refuses it without sending any query, and the test
# stays off the network
my $bad_host = ('a' x 64) . '.invalid';
$node->safe_psql('postgres', qq{
	CREATE SERVER nodns FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas', base_url 'https://$bad_host', retry_max '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER nodns OPTIONS (token 'x');
	CREATE FOREIGN TABLE nodns_grades (a text) SERVER nodns OPTIONS (resource 'grade_export_csv');
});
($out, $err) = run_sql('SELECT * FROM nodns_grades');
is(LmsTest::sqlstate_of($err), 'HV00N', 'a name that does not resolve is HV00N');
like($err, qr/could not connect to the LMS/, 'naming the failure');

# TLS to a server that does not speak it: the handshake fails, HV00N
$node->safe_psql('postgres', sprintf(q{
	CREATE SERVER tls FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'canvas', base_url 'https://127.0.0.1:%d', retry_max '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER tls OPTIONS (token 'x');
	CREATE FOREIGN TABLE tls_grades (a text) SERVER tls OPTIONS (resource 'grade_export_csv');
}, $mock->port));
($out, $err) = run_sql('SELECT * FROM tls_grades');
is(LmsTest::sqlstate_of($err), 'HV00N', 'a failed TLS handshake is HV00N');
like($err, qr/could not connect to the LMS at https:\/\/127\.0\.0\.1:\d+/, 'naming the LMS');

$mock->scenario(faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$',
	status => 200, content_type => 'text/html', body => '<html>maintenance</html>', count => 1 } ]);
($out, $err) = run_sql('SELECT count(*) FROM grades');
is(LmsTest::sqlstate_of($err), 'HV000', 'a status answer that is not JSON is HV000');
like($err, qr/with something that is not JSON/, 'and says so');
like($err, qr/phase monitor/, 'in the monitor phase');

$mock->reset;
$mock->scenario(faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$',
	status => 404, body => '{"errors":[{"message":"The specified resource does not exist."}]}',
	count => 1 } ]);
($out, $err) = run_sql('SELECT count(*) FROM grades');
is(LmsTest::sqlstate_of($err), 'HV000', 'a job that vanishes (404) is HV000');
like($err, qr/HTTP 404/, 'with the HTTP status');

$mock->reset;
$mock->scenario(rows => 5000, stall_after => 8192, stall_s => 6);
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (ADD stall_timeout '1s')});
($out, $err) = run_sql('SELECT count(*) FROM grades');
is(LmsTest::sqlstate_of($err), 'HV000', 'a stalled download is HV000');
like($err, qr/stall_timeout/, 'naming stall_timeout');
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (DROP stall_timeout)});

# ---- redirects ----
for my $case (
	[ 'a loop', { path => '^/__storage/', status => 302, headers => { Location => '/__storage/1?again=1' }, count => -1 },
	  qr/too many redirects \(more than 5\)/, 5 ],
	[ 'file://', { path => '/files/\d+/download', status => 302, headers => { Location => 'file:///etc/passwd' }, count => 1 },
	  qr/only http and https URLs are allowed/, 0 ],
	[ 'plain http elsewhere', { path => '/files/\d+/download', status => 302, headers => { Location => 'http://lms.example.edu/x.csv' }, count => 1 },
	  qr/plain http is allowed only to loopback hosts/, 0 ])
{
	my ($what, $fault, $msg, $storage_hits) = @$case;
	$mock->reset;
	$mock->scenario(faults => [$fault]);
	($out, $err) = run_sql('SELECT count(*) FROM grades');
	is(LmsTest::sqlstate_of($err), 'HV000', "a redirect to $what is refused");
	like($err, $msg, "with the reason for $what");
	my @storage = grep { $_->{path} =~ m{^/__storage/} } @{ $mock->requests };
	is(scalar(@storage), $storage_hits, "redirects followed for $what");
}

# ---- secrets ----
$mock->reset;
$node->safe_psql('postgres', 'SELECT count(*) FROM grades');
my $verbose = $node->safe_psql('postgres', 'EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM grades');
unlike($verbose, qr/\Q$token\E/, 'EXPLAIN (VERBOSE, ANALYZE) shows no token');
my $jobs = $node->safe_psql('postgres', 'SELECT count(*) FROM grades; SELECT lms_fdw_jobs()::text');
unlike($jobs, qr/\Q$token\E|Signature=/, 'lms_fdw_jobs() shows no token or signature');
$mock->scenario(require_token => 'another-token');
($out, $err) = run_sql('SELECT count(*) FROM grades');
is(LmsTest::sqlstate_of($err), '28000', 'a rejected token is 28000');
unlike($err, qr/\Q$token\E/, 'the 401 error shows no token');

my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $log_offset);
like($log, qr/lms_fdw: job \d+ status check 1/, 'the server log at debug5 has the status checks');
unlike($log, qr/\Q$token\E/, 'the server log at debug5 never shows the token');
unlike($log, qr/X-Amz-Signature=[0-9a-f]/, 'nor a presigned signature');

$node->stop;
done_testing();
