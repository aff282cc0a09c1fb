# Sixteen scans starting at the same moment on one token against Canvas's
# leaky bucket with a lowered high-water mark.  A throttled Canvas answer
# carries X-Rate-Limit-Remaining = hwm - count, negative when the bucket is
# over its mark (lms-apis.md section 1.7): the scans must pace on it instead
# of spending their retries, and all of them return their rows.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $sessions = 16;
my $mock = start_mock();
my $node = new_lms_node('throttled', "max_connections = 40\n");
create_canvas_objects($node, $mock, rate_limit_floor => '0');
# hwm 120: two requests in flight fill the bucket; status checks take 0.3 s,
# so the sixteen scans overrun it at once
$mock->scenario(throttle => 'modern',
	bucket => { hwm => 120, max => 800, outflow => 10, up_front => 50, cost => 1.0, hold_s => 0.05 },
	statuses => [ 'created', 'running', 'complete' ],
	faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$', kind => 'delay',
		delay_s => 0.3, count => -1 } ]);

my @results = run_concurrently($node, $sessions,
	'SELECT count(*), count(DISTINCT job) FROM grades');
my $ok = grep { $_->[0] =~ /^25\|1$/m } @results;
diag($_->[1]) for grep { $_->[1] ne '' } @results;
is($ok, $sessions, "all $sessions throttled scans returned their 25 rows");

my @reqs = grep { $_->{listener} eq 'main' } @{ $mock->requests };
my @throttled = grep { $_->{status} == 429 } @reqs;
my @negative = grep { defined $_->{rate_remaining} && $_->{rate_remaining} < 0 } @throttled;
cmp_ok(scalar(@negative), '>', 0,
	scalar(@throttled) . ' throttled answers, ' . scalar(@negative)
	  . ' of them with a negative X-Rate-Limit-Remaining');

# every export that was started was also downloaded: no scan gave up
my @starts = grep { $_->{method} eq 'POST' && $_->{status} == 200 } @reqs;
my @downloads = grep { $_->{listener} eq 'storage' && $_->{status} == 200 }
  @{ $mock->requests };
is(scalar(@starts), $sessions, 'one export started per scan');
is(scalar(@downloads), $sessions, 'and each one downloaded');

# per session, a throttled answer with a negative remaining is never
# followed by another throttled answer in a row more than retry_max times
my %by_port;
push @{ $by_port{ $_->{client_port} } }, $_ for @reqs;
my $worst = 0;
for my $port (keys %by_port)
{
	my $run = 0;
	for my $r (sort { $a->{t} <=> $b->{t} } @{ $by_port{$port} })
	{
		$run = $r->{status} == 429 ? $run + 1 : 0;
		$worst = $run if $run > $worst;
	}
}
cmp_ok($worst, '<', 5, "at most $worst throttled answers in a row for one scan (retry_max 5)");

$node->stop;
done_testing();
