# Cancels and statement_timeout end a scan promptly in every phase, and the
# backend answers the next query.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;
use Time::HiRes qw(time);

my $mock = start_mock();
my $node = new_lms_node('cancel');
create_canvas_objects($node, $mock, poll_initial => '60s', poll_max => '60s');

# A job that never finishes: the scan waits 60 s before its first check
$mock->scenario(statuses => [ 'created', 'running' ]);
my $t0 = time();
my ($ret, $out, $err) = $node->psql('postgres', q{
\set VERBOSITY verbose
SET statement_timeout = '1s';
SELECT count(*) FROM grades;
RESET statement_timeout;
SELECT 'still here';
}, on_error_stop => 0);
my $elapsed = time() - $t0;
is(sqlstate_of($err), '57014', 'statement_timeout during the wait reports 57014');
like($err, qr/canceling statement due to statement timeout/, 'it says so');
like($out, qr/still here/, 'the same backend answers the next query');
note(sprintf('statement_timeout of 1 s ended the query after %.2f s', $elapsed));
my @status_checks = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/reports/grade_export_csv/\d+$} }
  @{ $mock->requests };
is(scalar(@status_checks), 0, 'the 60 s wait was interrupted: no status check was ever sent');

# The abandoned report was cancelled at the LMS (cancel_on_abort)
my @cancels = grep { $_->{method} eq 'DELETE' || $_->{method} eq 'PUT' } @{ $mock->requests };
is(scalar(@cancels), 1, 'the abandoned job was cancelled at the LMS');
ok($cancels[0]{authorization}, 'the cancel carried the credential');

# pg_cancel_backend() from another session, during a status-check wait
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (SET poll_initial '50ms', SET poll_max '60s', ADD poll_factor '1000')});
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, q{
\echo started
\set VERBOSITY verbose
SELECT count(*) FROM grades;
});
# wait until the first status check has been made, then cancel
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE pid = $pid AND wait_event_type = 'Extension'")
  or die 'the scan never started waiting';
$t0 = time();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
my $answer = $bg->query('SELECT 1 AS alive');
note(sprintf('pg_cancel_backend ended the scan within %.2f s', time() - $t0));
like($bg->{stderr}, qr/57014: canceling statement due to user request/,
	'pg_cancel_backend during the wait reports 57014');
like($answer, qr/1/, 'the cancelled backend answers the next query');
$bg->quit;

# statement_timeout while the result is downloading (slow, chunked body)
$mock->reset;
$mock->scenario(rows => 100000, chunk_size => 4096, chunk_delay_ms => 100);
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (SET poll_initial '20ms', SET poll_factor '1')});
$t0 = time();
($ret, $out, $err) = $node->psql('postgres', q{
\set VERBOSITY verbose
SET statement_timeout = '1500ms';
SELECT count(*) FROM grades;
RESET statement_timeout;
SELECT 'after download cancel';
}, on_error_stop => 0);
$elapsed = time() - $t0;
is(sqlstate_of($err), '57014', 'statement_timeout during the download reports 57014');
like($out, qr/after download cancel/, 'the backend answers after a cancelled download');
cmp_ok($elapsed, '<', 30, 'the download was interrupted, not read to its end');
my @storage = grep { $_->{path} =~ m{^/__storage/} } @{ $mock->requests };
is(scalar(@storage), 1, 'the download had begun when the timeout struck');

$node->stop;
done_testing();
