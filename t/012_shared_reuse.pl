# reuse_window across backends, with lms_fdw in shared_preload_libraries:
# a second backend adopts a finished job's result, or watches a job that
# another backend started and that is still running, instead of starting
# the same heavy export again; another user's mapping never shares.
use strict;
use warnings;
use lib 't';
use LmsTest;
use IPC::Run;
use Test::More;
use Time::HiRes qw(usleep);

my $mock = start_mock();
my $node = new_lms_node('shared', "shared_preload_libraries = 'lms_fdw'\n");
create_canvas_objects($node, $mock, reuse_window => '1 min');

sub posts_for
{
	my ($term) = @_;
	return scalar(grep { $_->{method} eq 'POST' && $_->{body} =~ /enrollment_term_id%5D=$term\b/ }
		  @{ $mock->requests });
}

# a finished job, adopted by another backend
is($node->safe_psql('postgres', 'SELECT count(*) FROM grades WHERE term_id = 41'), '25',
	'the first backend exports term 41');
my $second = $node->safe_psql('postgres', q{
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM grades WHERE term_id = 41;
	SELECT count(*) FROM grades WHERE term_id = 41;
});
like($second, qr/Jobs: 1 completed \(1 reused\)/, 'a second backend reuses the finished job');
like($second, qr/^25$/m, 'and reads its rows');
is(posts_for(41), 1, 'term 41 was exported once');

# a running job, watched by a second backend
$mock->scenario(duration_s => 2);
my ($out1, $err1) = ('', '');
my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
	'SELECT count(*) FROM grades WHERE term_id = 42' ], '>', \$out1, '2>', \$err1);
for (1 .. 100)
{
	last if posts_for(42) > 0;
	usleep(50_000);
}
is(posts_for(42), 1, 'the first backend started the export of term 42');
my $watched = $node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT job) FROM grades WHERE term_id = 42');
$h->finish;
is($watched, '25|1', 'a second backend, starting while it ran, got its rows');
is($out1, "25\n", 'so did the first');
is(posts_for(42), 1, 'term 42 was exported once for both');

# another user's mapping does not share
$mock->reset;
$node->safe_psql('postgres', q{
	CREATE ROLE regress_other LOGIN;
	GRANT USAGE ON FOREIGN SERVER canvas TO regress_other;
	GRANT SELECT ON grades TO regress_other;
	CREATE USER MAPPING FOR regress_other SERVER canvas OPTIONS (token 'other-token');
});
$node->safe_psql('postgres', 'SELECT count(*) FROM grades WHERE term_id = 43');
$node->safe_psql('postgres', 'SET ROLE regress_other; SELECT count(*) FROM grades WHERE term_id = 43');
is(posts_for(43), 2, 'another user\'s mapping exports on its own');

# a failed job is not adopted
$mock->reset;
$mock->scenario(statuses => [ 'created', 'error' ]);
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM grades WHERE term_id = 44');
like($err, qr/ended in state "error"/, 'an export fails');
$mock->scenario(statuses => [ 'created', 'running', 'complete' ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM grades WHERE term_id = 44'), '25',
	'the next backend starts it afresh');
is(posts_for(44), 2, 'a failed job was not reused');

$node->stop;
done_testing();
