# The mock LMS never outlives what started it: the TAP helper's stop, the
# shell helpers of scripts/test and scripts/demo (scripts/lib.sh), and a
# starter that dies without stopping it all leave no mock process behind.
use strict;
use warnings;
use lib 't';
use LmsTest;
use IO::Socket::INET;
use POSIX ();
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);
use Test::More;

# processes whose command line contains $needle (read from /proc)
sub processes_with
{
	my ($needle) = @_;
	my @pids;
	opendir(my $d, '/proc') or die "no /proc: $!";
	for my $pid (grep { /^\d+$/ } readdir $d)
	{
		open(my $f, '<', "/proc/$pid/cmdline") or next;
		local $/;
		my $cmd = <$f> // '';
		close $f;
		$cmd =~ tr/\0/ /;
		push @pids, $pid if index($cmd, $needle) >= 0 && $pid != $$;
	}
	closedir $d;
	return @pids;
}

# wait (up to 10 s) until nothing matches; return what is left
sub left_after_waiting
{
	my ($needle) = @_;
	my @left;
	for (1 .. 100)
	{
		@left = processes_with($needle);
		last unless @left;
		usleep(100_000);
	}
	return @left;
}

# 1. the TAP helper, with a request half sent (a handler thread blocked)
my $mock = start_mock();
my $pid = $mock->{pid};
my $port = $mock->port;
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
  or die "connect: $!";
print $sock "GET /api/v1/accounts/self/reports HTTP/1.1\r\nHost: x\r\n";
undef $mock;
ok(!kill(0, $pid), 'the TAP helper stopped its mock (a handler thread was busy)');
ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port),
	'and its port is closed');
close $sock;

# 2. scripts/lib.sh: start_mock then stop_mock leaves no process
my $dir = PostgreSQL::Test::Utils::tempdir();
my ($out, $err) = run_command(
	[ 'bash', '-c',
	  'set -euo pipefail; . scripts/lib.sh; WORKDIR=$1; start_mock .; '
	  . 'echo "port $MOCK_LMS_PORT"; stop_mock; check_nothing_left', 'lib', $dir ]);
like($out, qr/^port \d+$/m, 'scripts/lib.sh started the mock');
is(join(' ', processes_with("$dir/mock.port")), '', 'and stop_mock left nothing running');

# 3. a starter that dies without stopping its mock: the mock follows it
my $dir2 = PostgreSQL::Test::Utils::tempdir();
my $child = fork();
die "fork: $!" unless defined $child;
if ($child == 0)
{
	my $m = start_mock(dir => $dir2);
	POSIX::_exit(0);			# no DESTROY, no END
}
waitpid($child, 0);
is(join(' ', left_after_waiting("$dir2/port")), '',
	'a mock whose starter died without stopping it exits too');

done_testing();
