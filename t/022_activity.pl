# lms_fdw_activity: a slow export seen from a second session while it runs
# (with the library preloaded), the backend waiting on the LMS shown in
# pg_stat_activity with an Extension wait event, and who may see what: a
# user their own exports, members of pg_read_all_stats all of them; never a
# credential or a URL.  Without preloading, a backend sees its own export
# from within the query.
use strict;
use warnings;
use lib 't';
use LmsTest;
use IPC::Run;
use Test::More;
use Time::HiRes qw(usleep);

my $mock = start_mock();
my $node = new_lms_node('activity', "shared_preload_libraries = 'lms_fdw'\n");
create_canvas_objects($node, $mock, poll_initial => '100ms', poll_max => '300ms');
$node->safe_psql('postgres', q{
	CREATE ROLE regress_alice LOGIN;
	CREATE ROLE regress_bob LOGIN;
	GRANT USAGE ON FOREIGN SERVER canvas TO regress_alice;
	GRANT SELECT ON grades TO regress_alice;
	CREATE USER MAPPING FOR regress_alice SERVER canvas OPTIONS (token 'alice-secret-token');
});

# start a slow export in the background, as user
sub start_export
{
	my ($user, $term) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-U', $user, '-c',
		  "SELECT count(*) FROM grades WHERE term_id = $term" ],
		'>', \$out, '2>', \$err);
	return [ $h, \$out, \$err ];
}

sub activity_as
{
	my ($user) = @_;
	return $node->safe_psql('postgres',
		q{SELECT pid, usename, server, resource, coalesce(job_id, '-'), phase,
		         coalesce(lms_state, '-'), status_checks, schedule,
		         lms_fdw_activity::text
		  FROM lms_fdw_activity},
		extra_params => [ '-U', $user ]);
}

# wait (bounded by a count of tries) until user sees a row with a job id
sub await_row
{
	my ($user) = @_;
	for (1 .. 200)
	{
		my $rows = activity_as($user);
		return $rows if $rows =~ /^\d+\|[^|]*\|canvas\|grade_export_csv\|\d+\|/m;
		usleep(50_000);
	}
	return '';
}

my $super = $node->safe_psql('postgres', 'SELECT current_user');

# ---- the superuser's export, seen by others ----
$mock->scenario(duration_s => 4);
my $run = start_export($super, 51);
my $row = await_row($super);
like($row, qr/^\d+\|\Q$super\E\|canvas\|grade_export_csv\|\d+\|(starting|waiting|checking)\|/,
	'a second session sees the export in progress, with its job id and phase');
my ($pid) = $row =~ /^(\d+)\|/;
my $backend = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND query LIKE '%FROM grades%'");
is($backend, '1', 'the row names the backend running the query');
unlike($row, qr/tap-test-token|https?:/, 'no credential and no URL in the row');

# the backend waits on the LMS under an Extension wait event
my $waits = '';
for (1 .. 100)
{
	$waits = $node->safe_psql('postgres',
		"SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid");
	last if $waits eq 'Extension';
	usleep(20_000);
}
is($waits, 'Extension', 'pg_stat_activity shows the backend waiting in an Extension wait event');

# once two progress readings give a rate, the row says when the job should end
my $expected = '';
for (1 .. 100)
{
	$expected = $node->safe_psql('postgres', q{
		SELECT expected_finish > started AND expected_finish < started + interval '1 min'
		FROM lms_fdw_activity WHERE expected_finish IS NOT NULL});
	last if $expected ne '';
	usleep(50_000);
}
is($expected, 't', 'an expected finish from the progress rate, after the start and within a minute');

is(activity_as('regress_bob'), '', 'another user does not see it');
$node->safe_psql('postgres', 'GRANT pg_read_all_stats TO regress_bob');
like(activity_as('regress_bob'), qr/^\Q$pid\E\|\Q$super\E\|canvas\|/m,
	'a member of pg_read_all_stats does');
$node->safe_psql('postgres', 'REVOKE pg_read_all_stats FROM regress_bob');

$run->[0]->finish;
is(${ $run->[1] }, "25\n", 'the export finished with its rows');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lms_fdw_activity'), '0',
	'and its row is gone');

# ---- a plain user's export: seen by that user, not by another ----
$run = start_export('regress_alice', 52);
$row = await_row('regress_alice');
like($row, qr/^\d+\|regress_alice\|canvas\|grade_export_csv\|\d+\|/,
	'a user sees their own export from another session');
unlike($row, qr/alice-secret-token|https?:/, 'without their token or any URL');
is(activity_as('regress_bob'), '', 'another plain user does not');
like(activity_as($super), qr/\|regress_alice\|/, 'a superuser does');
$run->[0]->finish;
is(${ $run->[1] }, "25\n", "alice's export finished");
$node->stop;

# ---- not preloaded: the caller's own export, from within the query ----
my $local = new_lms_node('activity_local');
create_canvas_objects($local, $mock);
$mock->scenario(duration_s => 0.5);
is($local->safe_psql('postgres', q{
	SELECT DISTINCT (SELECT phase || ' ' || (pid = pg_backend_pid()) FROM lms_fdw_activity)
	FROM grades}),
	'downloading true', 'without preloading a backend sees its own export while reading it');
is($local->safe_psql('postgres', 'SELECT count(*) FROM lms_fdw_activity'), '0',
	'and nothing once it is over');
$local->stop;

done_testing();
