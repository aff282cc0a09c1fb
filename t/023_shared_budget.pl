# One rate budget per token across backends: sixteen scans at once on one
# Canvas token, against the mock's leaky bucket with its high-water mark
# lowered so that backends pacing each on its own answers are throttled.
# With the library preloaded they share the freshest X-Rate-Limit-Remaining
# and reserve what is in flight: no request is throttled, and none is sent
# while the freshest answer before it said to wait.  Without preloading
# (today's behaviour) the same run draws throttled answers.  The test prints
# both throttle counts and both run times (not asserted: no timing
# assertions).  A Retry-After seen by one backend holds the others.
use strict;
use warnings;
use lib 't';
use LmsTest;
use IPC::Run;
use List::Util qw(max);
use Test::More;
use Time::HiRes qw(time);

my $sessions = 16;
my $floor = 0;
my $hwm = 250;
my $mock = start_mock();

sub scenario
{
	$mock->reset;
	# status checks that take 0.6 s keep many requests in flight, each
	# holding Canvas's 50 units up front: more than 250 allows
	$mock->scenario(throttle => 'legacy', bucket => { hwm => $hwm },
		statuses => [ 'created', 'running', 'running', 'complete' ],
		faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$', kind => 'delay',
			delay_s => 0.6, count => -1 } ]);
	return;
}

# sixteen scans at once; returns (scans that got their rows, seconds)
sub run_scans
{
	my ($node) = @_;
	my @runs;
	my $t0 = time;
	for my $i (1 .. $sessions)
	{
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
			  "SELECT count(*), count(DISTINCT job) FROM grades WHERE term_id = $i" ],
			'>', \$out, '2>', \$err);
		push @runs, [ $h, \$out, \$err ];
	}
	my $ok = 0;
	for my $r (@runs)
	{
		$r->[0]->finish;
		$ok++ if ${ $r->[1] } =~ /^25\|1$/m;
		diag(${ $r->[2] }) if ${ $r->[2] } ne '';
	}
	return ($ok, time - $t0);
}

sub throttled
{
	return scalar(grep { $_->{listener} eq 'main' && $_->{status} == 403 } @{ $mock->requests });
}

sub new_node
{
	my ($name, $conf) = @_;
	my $node = new_lms_node($name, "max_connections = 40\n" . ($conf // ''));
	create_canvas_objects($node, $mock, poll_initial => '200ms', poll_max => '1s',
		retry_base => '200ms', retry_cap => '2s', retry_max => '10',
		rate_limit_floor => $floor);
	return $node;
}

# ---- shared budget (preloaded) ----
my $shared = new_node('budget_shared', "shared_preload_libraries = 'lms_fdw'\n");
scenario();
my ($ok_on, $secs_on) = run_scans($shared);
my $throttled_on = throttled();
is($ok_on, $sessions, "all $sessions scans returned their rows with the shared budget");
is($throttled_on, 0, 'with one budget per token no request was throttled');

# The pacing rule against the freshest answer any backend could have had:
# the remaining quota it showed, leaked forward at 10 units/s, less the
# last cost and Canvas's 50 up front, must not be below the floor.
my @reqs = sort { $a->{t} <=> $b->{t} } grep { $_->{listener} eq 'main' } @{ $mock->requests };
my @answers = sort { $a->{t_answer} <=> $b->{t_answer} }
  grep { defined $_->{rate_remaining} && defined $_->{t_answer} } @reqs;
my ($checked, $violations) = (0, 0);
for my $r (@reqs)
{
	next if $r->{method} eq 'PUT' || $r->{method} eq 'DELETE';
	# the freshest answer out 10 ms before this request was sent
	my $fresh;
	for my $a (@answers)
	{
		last if $a->{t_answer} > $r->{t} - 0.01;
		$fresh = $a;
	}
	next unless $fresh;
	$checked++;
	my $cost = $fresh->{request_cost} // 1;
	my $room = $fresh->{rate_remaining} + 10.0 * ($r->{t} - $fresh->{t_answer})
	  - $cost - 50 - $floor;
	if ($room < -1.0)
	{
		$violations++;
		diag(sprintf('%s %s at %.3f: the answer out at %.3f showed %.1f remaining, %.1f short',
			$r->{method}, $r->{path}, $r->{t}, $fresh->{t_answer}, $fresh->{rate_remaining}, -$room));
	}
}
cmp_ok($checked, '>', $sessions, "$checked requests followed a rate-limit answer");
is($violations, 0, 'no request was sent while the freshest answer said to wait');

# A Retry-After seen by one backend holds the others: four scans, the first
# status check answered 429 with Retry-After: 2; no request reaches the LMS
# from then until the two seconds have passed.
$mock->reset;
$mock->scenario(statuses => [ 'created', 'running', 'running', 'complete' ],
	faults => [ { method => 'GET', path => '/reports/grade_export_csv/\d+$', status => 429,
		headers => { 'Retry-After' => '2' }, body => 'slow down', count => 1 } ]);
my @four;
for my $i (1 .. 4)
{
	my ($out, $err) = ('', '');
	push @four, [ IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $shared->connstr('postgres'), '-c',
		  "SELECT count(*) FROM grades WHERE term_id = 100 + $i" ],
		'>', \$out, '2>', \$err), \$out ];
}
$_->[0]->finish for @four;
is(scalar(grep { ${ $_->[1] } eq "25\n" } @four), 4, 'four scans through a Retry-After');
@reqs = sort { $a->{t} <=> $b->{t} } grep { $_->{listener} eq 'main' } @{ $mock->requests };
my ($limited) = grep { $_->{status} == 429 } @reqs;
# (a request already past its pacing when the 429 left may still arrive
# just after it: a quarter second of grace)
my @during = grep { $_->{t} > $limited->{t_answer} + 0.25 && $_->{t} < $limited->{t_answer} + 1.95 } @reqs;
my @after = grep { $_->{t} >= $limited->{t_answer} + 1.95 } @reqs;
is(scalar(@during), 0, 'no backend sent a request while the Retry-After held')
  or diag(join("\n", map { "$_->{method} $_->{path} at $_->{t}" } @during));
cmp_ok(scalar(@after), '>', 4, 'and all went on after it');
$shared->stop;

# ---- each backend on its own (not preloaded) ----
my $alone = new_node('budget_alone');
scenario();
my ($ok_off, $secs_off) = run_scans($alone);
my $throttled_off = throttled();
is($ok_off, $sessions, "all $sessions scans returned their rows pacing alone");
cmp_ok($throttled_off, '>', 0, 'pacing alone, the lowered bucket throttles some requests');
$alone->stop;

diag(sprintf('%d scans on one token, bucket high-water mark %d: throttled answers %d with the '
	  . 'shared budget, %d without; %.1f s vs %.1f s (%+.0f %%)',
	$sessions, $hwm, $throttled_on, $throttled_off, $secs_on, $secs_off,
	100.0 * ($secs_on - $secs_off) / $secs_off));

done_testing();
