# Helpers for lms_fdw's TAP tests: the bundled mock LMS and a cluster with
# the extension, a server, a user mapping and a grades table pointing at it.
package LmsTest;

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use POSIX ();
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(start_mock new_lms_node new_cron_node create_canvas_objects create_dap_server
  sqlstate_of run_verbose run_concurrently);

my $json = JSON::PP->new->canonical;

# Start the mock LMS on an ephemeral loopback port (options: dir, the
# directory for its port file and log).  It is stopped when the returned
# object goes away, at the latest when the test ends (END below); it runs in
# a process group of its own and exits by itself if the test process dies
# without stopping it.
my %running;					# pid => 1 for the mocks not yet stopped

sub start_mock
{
	my (%opt) = @_;
	my $dir = $opt{dir} // PostgreSQL::Test::Utils::tempdir();
	my $portfile = "$dir/port";
	my $pid = fork();
	die "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		setpgrp(0, 0);
		open(STDOUT, '>', "$dir/mock.log");
		open(STDERR, '>&', \*STDOUT);
		exec('python3', 'test/mock_lms/mock_lms.py', '--port', '0',
			'--port-file', $portfile, '--quiet', '--exit-with-parent')
		  or POSIX::_exit(127);
	}
	$running{$pid} = 1;
	for (1 .. 200)
	{
		last if -s $portfile;
		usleep(50_000);
	}
	die "mock LMS did not start" unless -s $portfile;
	my $port = PostgreSQL::Test::Utils::slurp_file($portfile);
	chomp $port;
	my $self = bless {
		pid => $pid,
		port => $port,
		base => "http://127.0.0.1:$port",
		http => HTTP::Tiny->new(timeout => 30),
	}, __PACKAGE__;
	return $self;
}

sub port { return $_[0]->{port} }
sub base_url { return $_[0]->{base} }

sub _call
{
	my ($self, $method, $path, $body) = @_;
	my %args;
	if (defined $body)
	{
		$args{content} = $json->encode($body);
		$args{headers} = { 'Content-Type' => 'application/json' };
	}
	my $res = $self->{http}->request($method, "$self->{base}$path", \%args);
	die "mock $method $path failed: $res->{status} $res->{content}"
	  unless $res->{success};
	return $res->{content} ne '' ? $json->decode($res->{content}) : undef;
}

sub reset { return $_[0]->_call('POST', '/__mock/reset') }
sub scenario { my ($self, %s) = @_; return $self->_call('POST', '/__mock/scenario', \%s) }
sub requests { return $_[0]->_call('GET', '/__mock/requests') }
sub jobs { return $_[0]->_call('GET', '/__mock/jobs') }

# The logged requests with this method whose path matches $re.
sub requests_of
{
	my ($self, $method, $re) = @_;
	return grep { $_->{method} eq $method && $_->{path} =~ $re } @{ $self->requests };
}

# SIGTERM to the mock's process group, SIGKILL after 5 s, and reap it.
sub _stop_pid
{
	my ($pid) = @_;
	return unless delete $running{$pid};
	kill 'TERM', -$pid;
	for (1 .. 50)
	{
		return if waitpid($pid, POSIX::WNOHANG()) == $pid;
		usleep(100_000);
	}
	kill 'KILL', -$pid;
	waitpid($pid, 0);
	return;
}

sub stop
{
	my $self = shift;
	_stop_pid($self->{pid}) if $self->{pid};
	$self->{pid} = 0;
	return;
}

sub DESTROY { $_[0]->stop; return }

# a test that dies keeps no mock: stop whatever is left (in the starting
# process only, not in forked children)
my $starter = $$;
END
{
	local $?;
	if ($$ == $starter) { _stop_pid($_) for keys %running; }
}

# Run $sql in $n psql sessions started all at once (verbose errors); when
# all have ended, [stdout, stderr] of each.
sub run_concurrently
{
	my ($node, $n, $sql) = @_;
	my @runs;
	for (1 .. $n)
	{
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d', $node->connstr('postgres'),
			  '-c', $sql ],
			'>', \$out, '2>', \$err);
		push @runs, [ $h, \$out, \$err ];
	}
	$_->[0]->finish for @runs;
	return map { [ ${ $_->[1] }, ${ $_->[2] } ] } @runs;
}

# A started cluster with lms_fdw created in the postgres database.
sub new_lms_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', $conf) if $conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION lms_fdw');
	return $node;
}

# A started cluster with pg_cron (background workers) and lms_fdw.
sub new_cron_node
{
	my ($name) = @_;
	my $node = new_lms_node($name, <<'EOC');
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 20
EOC
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
	return $node;
}

# Server "dap" (Canvas Data 2 on the mock, short waits; extra server
# options in %opts) and the mock's client credentials in a user mapping,
# in database $opts{dbname} (default postgres).
sub create_dap_server
{
	my ($node, $mock, %opts) = @_;
	my $db = delete $opts{dbname} // 'postgres';
	my %server = (
		provider => 'canvas_dap',
		base_url => $mock->base_url,
		poll_initial => '50ms',
		poll_max => '200ms',
		retry_base => '50ms',
		retry_cap => '200ms',
		%opts);
	my $server_opts = join(', ', map { "$_ '$server{$_}'" } sort keys %server);
	$node->safe_psql($db, qq{
		CREATE SERVER dap FOREIGN DATA WRAPPER lms_fdw OPTIONS ($server_opts);
		CREATE USER MAPPING FOR CURRENT_USER SERVER dap
		  OPTIONS (client_id 'tap-client', client_secret 'tap-secret');
	});
	return;
}

# Server "canvas" (extra server options in %opts), a user mapping with
# $opts{token}, and the table "grades".
sub create_canvas_objects
{
	my ($node, $mock, %opts) = @_;
	my $token = delete $opts{token} // 'tap-test-token';
	my %server = (
		provider => 'canvas',
		base_url => $mock->base_url,
		poll_initial => '50ms',
		poll_max => '200ms',
		retry_base => '50ms',
		retry_cap => '200ms',
		%opts);
	my $server_opts = join(', ', map { "$_ '$server{$_}'" } sort keys %server);
	$node->safe_psql('postgres', qq{
		CREATE SERVER canvas FOREIGN DATA WRAPPER lms_fdw OPTIONS ($server_opts);
		CREATE USER MAPPING FOR CURRENT_USER SERVER canvas OPTIONS (token '$token');
		CREATE FOREIGN TABLE grades (
			student_id bigint, student_name text, course_id bigint,
			term_id bigint OPTIONS (param 'enrollment_term_id'),
			current_score numeric, final_score numeric, enrollment_state text,
			job text OPTIONS (meta 'job_id')
		) SERVER canvas OPTIONS (resource 'grade_export_csv');
	});
	return;
}

# Run SQL on $node in one session with verbose errors; (stdout, stderr).
sub run_verbose
{
	my ($node, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		on_error_stop => 0);
	return ($out, $err);
}

# The SQLSTATE in psql's stderr when run with VERBOSITY verbose.
sub sqlstate_of
{
	my ($stderr) = @_;
	return $1 if $stderr =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return '';
}

1;
