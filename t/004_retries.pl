# Throttling and server errors are retried with backoff; Retry-After is a
# floor; the start of a job is not repeated after an answer that may have
# started it.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('retries');
# rate_limit_floor 0: a throttled answer says the quota is spent
# (X-Rate-Limit-Remaining: 0.0), and the pacer then waits only until
# Canvas's bucket has leaked enough for one request (about 5 s)
create_canvas_objects($node, $mock, retry_base => '100ms', retry_cap => '400ms',
	rate_limit_floor => '0');

sub explain_analyze
{
	return $node->safe_psql('postgres',
		'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM grades');
}

# Canvas's legacy throttle: 403 "Rate Limit Exceeded", twice, on the start
$mock->scenario(faults => [ { method => 'POST', path => '/reports/', kind => 'canvas_throttle_403', count => 2 } ]);
my $plan = explain_analyze();
like($plan, qr/Retries: 2 \(403: 2\)/, 'two throttled starts were retried');
my @posts = grep { $_->{method} eq 'POST' } @{ $mock->requests };
is_deeply([ map { $_->{status} } @posts ], [ 403, 403, 200 ],
	'the start was sent again after each 403 and then succeeded');

# The pacer waited for the bucket after each throttled answer
my $gap403 = $posts[1]{t} - $posts[0]{t};
cmp_ok($gap403, '>=', 4.0,
	sprintf('after "Rate Limit Exceeded" with 0 remaining, the next try came %.2f s later', $gap403));

# 429 with Retry-After: 2 (and no rate-limit headers) on a status check:
# the retry waits at least 2 s, though the backoff alone would be < 0.4 s
$mock->reset;
$mock->scenario(faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$',
	status => 429, headers => { 'Retry-After' => '2' }, body => 'Too Many Requests',
	count => 1 } ]);
$plan = explain_analyze();
like($plan, qr/Retries: 1 \(429: 1\)/, 'the 429 was retried');
my @polls = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/reports/grade_export_csv/\d+$} }
  @{ $mock->requests };
is($polls[0]{status}, 429, 'the first status check was throttled');
my $gap = $polls[1]{t} - $polls[0]{t};
cmp_ok($gap, '>=', 2.0, sprintf('the retry came %.2f s later, not before Retry-After', $gap));

# A burst of 503s on status checks
$mock->reset;
$mock->scenario(faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$',
	status => 503, body => 'Service Unavailable', count => 3 } ]);
$plan = explain_analyze();
like($plan, qr/Retries: 3 \(5xx: 3\)/, 'three 503s were retried');

# Retries run out: retry_max 2 means three attempts, then a clear ERROR
$mock->reset;
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (ADD retry_max '2')});
$mock->scenario(faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$',
	status => 502, body => 'Bad Gateway', count => -1 } ]);
my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT count(*) FROM grades",
	on_error_stop => 0);
is(sqlstate_of($err), 'HV000', 'exhausted retries are HV000');
like($err, qr/the LMS answered HTTP 502 while checking the export's status/, 'naming the status');
@polls = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/reports/grade_export_csv/\d+$} }
  @{ $mock->requests };
is(scalar(@polls), 3, 'one attempt and two retries');

# A 503 on the start may have started the job: never repeated
$mock->reset;
$mock->scenario(faults => [ { method => 'POST', path => '/reports/', status => 503, count => 1 } ]);
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT count(*) FROM grades",
	on_error_stop => 0);
like($err, qr/HTTP 503 while starting the export/, 'a 503 on the start is an ERROR');
@posts = grep { $_->{method} eq 'POST' } @{ $mock->requests };
is(scalar(@posts), 1, 'and the start was not sent twice');

# The rate-limit headers slow the cadence before the quota runs dry
$mock->reset;
$node->safe_psql('postgres', q{ALTER SERVER canvas OPTIONS (SET retry_max '5', SET rate_limit_floor '560')});
$mock->scenario(statuses => [ 'created', 'running', 'running', 'running', 'complete' ]);
$plan = explain_analyze();
like($plan, qr/Jobs: 1 completed/, 'a paced export still completes');
my @reqs = grep { $_->{listener} eq 'main' } @{ $mock->requests };
my $span = $reqs[-1]{t} - $reqs[0]{t};
cmp_ok($span, '>=', 1.0, sprintf('pacing spread %d requests over %.2f s', scalar(@reqs), $span));

$node->stop;
done_testing();
