# Learned polling through the FDW: five repeats of an export of fixed
# duration (the generic provider reports no progress), the later runs aimed
# at the earlier ones' durations and so making fewer status checks; the
# durations kept in shared memory across a clean restart (and not across a
# crash), forgotten by lms_fdw_forget(), and backend-local without
# preloading.  Also ALTER EXTENSION lms_fdw UPDATE from 1.0 to 1.1.
use strict;
use warnings;
use lib 't';
use LmsTest;
use IPC::Run;
use List::Util qw(min);
use Test::More;
use Time::HiRes qw(usleep);

my $mock = start_mock();

sub create_generic
{
	my ($node) = @_;
	$node->safe_psql('postgres', sprintf(q{
		CREATE SERVER gen FOREIGN DATA WRAPPER lms_fdw
		  OPTIONS (provider 'generic', base_url '%s', poll_initial '50ms', poll_max '1s');
		CREATE USER MAPPING FOR CURRENT_USER SERVER gen OPTIONS (token 'tap-test-token');
		CREATE FOREIGN TABLE exports (student_id bigint, student_name text)
		  SERVER gen OPTIONS (start_path '/generic/exports', status_path '/generic/exports/{id}',
		    job_id_path 'data.id', state_path 'data.state', result_url_path 'data.result.url');
	}, $mock->base_url));
	return;
}

# the mock's own count of status checks of each job, by job id
sub polls_by_job
{
	my %polls = map { $_->{id} => $_->{polls} } @{ $mock->jobs };
	return \%polls;
}

# One export in a session: its rows, then what lms_fdw_jobs() says of it.
# Returns (status checks, schedule, job id); the mock's count must agree.
sub one_run
{
	my ($node) = @_;
	my $out = $node->safe_psql('postgres', q{
		SELECT count(*) FROM exports;
		SELECT status_checks, schedule, job_id FROM lms_fdw_jobs();
	});
	my @lines = split /\n/, $out;
	is($lines[0], '10', 'the export returned its 10 rows');
	my ($checks, $schedule, $job) = split /\|/, $lines[-1];
	is(polls_by_job()->{$job}, $checks, "job $job: the mock saw $checks status checks too");
	return ($checks, $schedule, $job);
}

# ---- preloaded: shared, saved at a clean shutdown ----
my $node = new_lms_node('learned',
	"shared_preload_libraries = 'lms_fdw'\nrestart_after_crash = on\n");
create_generic($node);
$mock->scenario(duration_s => 1.5, rows => 10);

my (@checks, @schedules);
for my $run (1 .. 5)
{
	my ($c, $s) = one_run($node);
	push @checks, $c;
	push @schedules, $s;
}
note("status checks of five runs of a 1.5 s export: @checks");
diag("learned polling, status checks per run of a 1.5 s export: @checks");
is_deeply(\@schedules,
	[ 'default', 'default', 'learned (2 runs)', 'learned (3 runs)', 'learned (4 runs)' ],
	'no history for the first two runs, then learned from the runs before');
# fewer checks once learned: the mean of runs 3-5 against that of runs 1-2
my $before = ($checks[0] + $checks[1]) / 2;
my $after = ($checks[2] + $checks[3] + $checks[4]) / 3;
cmp_ok($after, '<', $before, sprintf('learned runs made fewer checks (%.1f) than the first two (%.1f)',
	$after, $before));
cmp_ok(min(@checks[ 2 .. 4 ]), '<', min(@checks[ 0 .. 1 ]), 'and the fewest of a learned run below the fewest of the first two');

my $explain = $node->safe_psql('postgres',
	'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM exports');
like($explain, qr/Schedule: learned \(5 runs\)/, 'EXPLAIN ANALYZE names the learned schedule');

# a clean restart keeps the durations (a file in pg_stat while stopped)
my $file = $node->data_dir . '/pg_stat/lms_fdw_history.stat';
$node->stop;
ok(-f $file, 'the learned durations were written at shutdown');
$node->start;
ok(!-f $file, 'and the file is gone once loaded');
my ($c, $s) = one_run($node);
is($s, 'learned (6 runs)', 'after a clean restart the first run is learned');

# a crash (a backend killed: the postmaster resets shared memory) loses
# them, as it loses pg_stat_statements
my ($sleep_out, $sleep_err) = ('', '');
my $sleeper = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', 'SELECT pg_sleep(60)' ],
	'>', \$sleep_out, '2>', \$sleep_err);
my $victim = '';
for (1 .. 200)
{
	$victim = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'");
	last if $victim =~ /^\d+$/;
	usleep(50_000);
}
ok(kill('KILL', $victim), "backend $victim killed");
$sleeper->finish;
$node->poll_query_until('postgres', 'SELECT true') or die 'no restart after the crash';
($c, $s) = one_run($node);
is($s, 'default', 'after a crash there is no history');

# lms_fdw_forget(): superusers only, unless granted
one_run($node);
one_run($node);
($c, $s) = one_run($node);
is($s, 'learned (3 runs)', 'learned again');
$node->safe_psql('postgres', q{
	CREATE ROLE regress_plain LOGIN;
	GRANT USAGE ON FOREIGN SERVER gen TO regress_plain;
});
my ($rc, $stdout, $stderr) = $node->psql('postgres', 'SELECT lms_fdw_forget()',
	extra_params => [ '-U', 'regress_plain', '-v', 'VERBOSITY=verbose' ]);
is(sqlstate_of($stderr), '42501', 'a plain user may not forget what every user learned');
is($node->safe_psql('postgres', 'SELECT lms_fdw_forget()'), '1', 'lms_fdw_forget() forgot one export');
($c, $s) = one_run($node);
is($s, 'default', 'after lms_fdw_forget() the next run has no history');
$node->stop;

# ---- not preloaded: each backend learns on its own ----
my $local = new_lms_node('learned_local');
create_generic($local);
# three exports in one session, then its job list
my @rows = split /\n/, $local->safe_psql('postgres', q{
	SELECT count(*) FROM exports;
	SELECT count(*) FROM exports;
	SELECT count(*) FROM exports;
	SELECT schedule FROM lms_fdw_jobs();
});
is_deeply(\@rows, [ 10, 10, 10, 'default', 'default', 'learned (2 runs)' ],
	'without preloading a backend learns from its own runs');
($c, $s) = one_run($local);
is($s, 'default', 'and another backend starts without history');

# ---- ALTER EXTENSION lms_fdw UPDATE from 1.0 ----
$local->safe_psql('postgres', 'CREATE DATABASE upgraded; CREATE DATABASE fresh');
$local->safe_psql('upgraded', q{CREATE EXTENSION lms_fdw VERSION '1.0'});
is($local->safe_psql('upgraded', 'SELECT count(*) FROM lms_fdw_jobs()'), '0',
	'the 1.0 lms_fdw_jobs() works with this library');
$local->safe_psql('upgraded', 'ALTER EXTENSION lms_fdw UPDATE');
$local->safe_psql('fresh', 'CREATE EXTENSION lms_fdw');
my $objects = q{
	SELECT pg_describe_object(d.classid, d.objid, 0) || ' ' ||
	       coalesce(pg_get_function_result(p.oid), '')
	FROM pg_depend d LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lms_fdw')
	ORDER BY 1};
is($local->safe_psql('upgraded', 'SELECT extversion FROM pg_extension WHERE extname = \'lms_fdw\''),
	'1.1', 'updated to 1.1');
is($local->safe_psql('upgraded', $objects), $local->safe_psql('fresh', $objects),
	'an updated 1.0 has the objects (and signatures) of a fresh 1.1');
like($local->safe_psql('upgraded', $objects), qr/view lms_fdw_activity/, 'lms_fdw_activity among them');
is($local->safe_psql('upgraded', 'SELECT count(*) FROM lms_fdw_activity'), '0',
	'nothing in progress');
$local->stop;

done_testing();
