# Twenty scans at once against Canvas's leaky bucket (legacy 403 throttling):
# every query succeeds, throttled scans come back spread out in time rather
# than in lockstep, and no scan sends a request while its pacing rule says
# to wait.
use strict;
use warnings;
use lib 't';
use LmsTest;
use List::Util qw(min max);
use Test::More;

my $sessions = 20;
my $floor = 0;
my $mock = start_mock();
my $node = new_lms_node('concurrency', "max_connections = 40\n");
create_canvas_objects($node, $mock, poll_initial => '200ms', poll_max => '1s',
	retry_base => '200ms', retry_cap => '2s', retry_max => '10',
	rate_limit_floor => $floor);
# Canvas's default bucket (high-water mark 600, 50 units up front per
# request in flight, 10 units/s leak); status checks that take 0.6 s keep
# up to 20 requests in flight, which is more than the bucket allows
$mock->scenario(throttle => 'legacy',
	statuses => [ 'created', 'running', 'running', 'complete' ],
	faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$', kind => 'delay',
		delay_s => 0.6, count => -1 } ]);

my @results = run_concurrently($node, $sessions,
	'SELECT count(*), count(DISTINCT job) FROM grades');
my $ok = grep { $_->[0] =~ /^25\|1$/m } @results;
diag($_->[1]) for grep { $_->[1] ne '' } @results;
is($ok, $sessions, "all $sessions concurrent scans returned their 25 rows");

my @reqs = grep { $_->{listener} eq 'main' } @{ $mock->requests };
my @throttled = grep { $_->{status} == 403 } @reqs;
cmp_ok(scalar(@throttled), '>', 0,
	scalar(@throttled) . ' requests were throttled with 403 Rate Limit Exceeded');

# Per connection (one backend each), the request after a throttled one
my %by_port;
push @{ $by_port{ $_->{client_port} } }, $_ for @reqs;
my @retry_times;
my $violations = 0;
my $pairs = 0;
for my $port (keys %by_port)
{
	my @seq = sort { $a->{t} <=> $b->{t} } @{ $by_port{$port} };
	my $cost = 0;			# the last X-Request-Cost this session saw
	for my $i (0 .. $#seq - 1)
	{
		my ($prev, $next) = @seq[ $i, $i + 1 ];
		$cost = $prev->{request_cost} if defined $prev->{request_cost};
		push @retry_times, $next->{t} if $prev->{status} == 403;
		# a cancel after a failure is cleanup, sent at once by design
		next if $next->{method} eq 'PUT' || $next->{method} eq 'DELETE';
		next unless defined $prev->{rate_remaining};
		# the pacing rule: remaining after leaking 10/s, less the cost and
		# Canvas's 50 up front, must stay above the floor
		my $need = ($floor + $cost + 50 - $prev->{rate_remaining}) / 10.0;
		next if $need <= 0;
		$pairs++;
		my $gap = $next->{t} - $prev->{t};
		if ($gap < $need - 0.05)
		{
			$violations++;
			diag(sprintf('port %d: %s %s (%d) then %s %s %.3f s later; remaining %.1f asked for %.3f s',
				$port, $prev->{method}, $prev->{path}, $prev->{status},
				$next->{method}, $next->{path}, $gap, $prev->{rate_remaining}, $need));
		}
	}
}
cmp_ok($pairs, '>', 0, "$pairs requests followed an answer that asked for pacing");
is($violations, 0, 'no request was sent while the pacing rule said wait');

# Lockstep would put the retries of the first wave at the same instant:
# no 100 ms slot may hold more than a third of them
my %slots;
$slots{ int($_ * 10) }++ for @retry_times;
my $spread = max(@retry_times) - min(@retry_times);
my $crowd = max(values %slots);
note(sprintf('%d retries after a 403 over %.2f s in %d distinct 100 ms slots, at most %d in one',
	scalar(@retry_times), $spread, scalar(keys %slots), $crowd));
cmp_ok($crowd, '<=', max(2, int((scalar(@retry_times) + 2) / 3)),
	'retries after throttling are not bunched into one instant');
cmp_ok($spread, '>=', 0.5, 'and are spread over at least half a second');

$node->stop;
done_testing();
