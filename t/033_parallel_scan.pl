# Parallel foreign scans of a Canvas Data 2 export of several objects: the
# leader starts the job once and waits for it, every participant (leader
# included) claims objects through shared memory and streams its own; the
# rows are the serial scan's.  After a single-object export the table is
# planned serially in that session.  Failing objects end the query with
# their SQLSTATE and the backend stays usable; statement_timeout ends it
# with 57014; a rescan of the Gather is a new export; reuse_window and a
# leader that only gathers work as serially.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('parallel_scan',
	"max_worker_processes = 8\nmax_parallel_workers = 4\nshared_preload_libraries = 'lms_fdw'\n");
create_dap_server($node, $mock, retry_max => '2');
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE subs (
	  id bigint OPTIONS (field 'key.id'), score float8, action text OPTIONS (field 'meta.action')
	) SERVER dap OPTIONS (resource 'submissions');
});

my $parallel = q{SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;};
my $serial = q{SET max_parallel_workers_per_gather = 0;};
my $rows = 'SELECT id, score, action FROM subs ORDER BY id';

sub run_sql { return run_verbose($node, @_) }
sub log_of { return @{ $mock->requests } }
sub url_ids { my ($e) = @_; return join(',', $e->{body} =~ /(part-\d+)/g) }
# the requests after the last job start (the parallel scan's)
sub last_scan
{
	my @log = log_of();
	my @starts = grep { $_->{path} =~ m{/data$} } @log;
	return grep { $_->{seq} >= $starts[-1]{seq} } @log;
}
sub starts { return scalar(grep { $_->{path} =~ m{/data$} } log_of()) }

# -- the serial scan's rows
$mock->scenario(rows => 4000, objects => 8);
my ($out, $err) = run_sql("$serial\n$rows;");
is($err, '', 'a serial scan of 8 objects');
my $serial_rows = $out;
is(scalar(() = $serial_rows =~ /^\d+\|/mg), 4000, 'the serial scan reads 4000 rows');

# -- Gather + Parallel Foreign Scan, the same rows
$mock->reset;
$mock->scenario(rows => 4000, objects => 8);
($out, $err) = run_sql("$parallel\nEXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT count(*) FROM subs;");
is($err, '', 'EXPLAIN ANALYZE of the parallel scan');
like($out, qr/Gather/, 'a Gather');
like($out, qr/Parallel Foreign Scan on (public\.)?subs/, 'over a Parallel Foreign Scan');
like($out, qr/Workers Launched: 2/, 'two workers launched');
my @log = log_of();
is(starts(), 1, 'the job was started once');
my @urls = grep { $_->{path} eq '/dap/object/url' } @log;
is(join(' ', sort map { url_ids($_) } @urls), join(' ', map { sprintf('part-%05d', $_) } 0 .. 7),
	'each object asked for once, by whichever participant claimed it');
is(scalar(grep { $_->{listener} eq 'storage' } @log), 8, 'eight downloads');

$mock->reset;
$mock->scenario(rows => 4000, objects => 8);
($out, $err) = run_sql("$parallel\nEXPLAIN (COSTS OFF) $rows;");
like($out, qr/Parallel Foreign Scan/, 'the ordered query is planned in parallel');
($out, $err) = run_sql("$parallel\n$rows;");
is($err, '', 'the parallel scan');
is($out, $serial_rows, "the parallel scan's rows are the serial scan's");
is(starts(), 1, 'one job');

# -- the leader only gathers: the workers read every object
$mock->reset;
$mock->scenario(rows => 4000, objects => 8);
($out, $err) = run_sql("$parallel\nSET parallel_leader_participation = off;
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM subs;
	SELECT count(*), count(DISTINCT id), sum(id) FROM subs;");
is($err, '', 'parallel_leader_participation off');
like($out, qr/Workers Launched: 2/, 'two workers');
like($out, qr/^4000\|4000\|8002000$/m, 'every row once');

# -- reuse_window: a reused job is read in parallel; a vanished one is
#    started again by the leader
$node->safe_psql('postgres', q{ALTER SERVER dap OPTIONS (ADD reuse_window '1h')});
$mock->reset;
$mock->scenario(rows => 4000, objects => 8);
($out, $err) = run_sql("$serial\nSELECT count(*) FROM subs;");
is($err, '', 'a serial scan runs the job');
($out, $err) = run_sql("$parallel\nEXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM subs;
	SELECT count(*), count(DISTINCT id) FROM subs;");
is($err, '', 'parallel scans of the reused job');
like($out, qr/Jobs: 1 completed \(1 reused\)/, 'the leader reused the job');
like($out, qr/^4000\|4000$/m, 'all its rows');
is(starts(), 1, 'no second start');
$mock->_call('POST', '/__mock/dap/expire', {});
($out, $err) = run_sql("$parallel\nSELECT count(*), count(DISTINCT id) FROM subs;");
is($err, '', 'a parallel scan of a reused job that has vanished');
like($out, qr/^4000\|4000$/m, 'all the rows of the new job');
is(starts(), 2, 'the leader started it again, once');
$node->safe_psql('postgres', q{ALTER SERVER dap OPTIONS (DROP reuse_window)});

# -- a rescan of the Gather (the inner side of a nested loop): a new export
#    each time, as a serial scan without a spool
$mock->reset;
$mock->scenario(rows => 400, objects => 4);
my $rescan = q{SELECT g, s.c FROM generate_series(1, 3) g,
	LATERAL (SELECT count(*) + 0 * g AS c FROM subs) s ORDER BY g};
($out, $err) = run_sql("$parallel\nSET enable_material = off;\nEXPLAIN (COSTS OFF) $rescan;\n$rescan;");
is($err, '', 'a rescanned parallel scan');
like($out, qr/Nested Loop.*Gather.*Parallel Foreign Scan/s, "planned with the parallel scan inside the nested loop") or diag($out);
like($out, qr/^1\|400\n2\|400\n3\|400$/m, 'each rescan reads every row once');
is(starts(), 3, 'a job per scan');

# -- a single-object export: the table's next scan in the session is serial
$mock->reset;
$mock->scenario(rows => 100, objects => 1);
($out, $err) = run_sql("$parallel\nSELECT count(*) FROM subs;\nEXPLAIN (COSTS OFF) SELECT count(*) FROM subs;");
is($err, '', 'a one-object export');
like($out, qr/^100$/m, 'all its rows');
unlike($out, qr/Gather/, 'after a one-object export the table is planned serially');

# -- a partitioned table of Canvas Data 2 tables: a Parallel Append over
#    their parallel scans; the leader starts each partition's job once
$node->safe_psql('postgres', q{
	CREATE TABLE subs_all (id bigint, score float8, action text) PARTITION BY LIST (action);
	CREATE FOREIGN TABLE subs_a PARTITION OF subs_all FOR VALUES IN ('a')
	  SERVER dap OPTIONS (resource 'submissions');
	ALTER FOREIGN TABLE subs_a ALTER COLUMN id OPTIONS (field 'key.id'),
	  ALTER COLUMN action OPTIONS (field 'meta.action');
	CREATE FOREIGN TABLE subs_b PARTITION OF subs_all FOR VALUES IN ('b')
	  SERVER dap OPTIONS (resource 'submissions');
	ALTER FOREIGN TABLE subs_b ALTER COLUMN id OPTIONS (field 'key.id'),
	  ALTER COLUMN action OPTIONS (field 'meta.action');
});
$mock->reset;
$mock->scenario(rows => 400, objects => 4);
($out, $err) = run_sql("$parallel\nSET enable_partitionwise_aggregate = off;
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM subs_all;
	SELECT count(*), count(DISTINCT id), sum(id) FROM subs_all;");
is($err, '', 'a Parallel Append of two parallel scans');
like($out, qr/Workers Launched: 2.*Parallel Append.*Parallel Foreign Scan on (public\.)?subs_a.*Parallel Foreign Scan on (public\.)?subs_b/s,
	'Gather, Parallel Append, a Parallel Foreign Scan per partition') or diag($out);
like($out, qr/^800\|400\|160400$/m, "each partition's rows once");
is(starts(), 4, 'a job per partition per scan');

# -- objects that fail: the query ends with their SQLSTATE, the backend lives
$mock->reset;
$mock->scenario(rows => 800, objects => 8, faults => [
	map { { listener => 'storage', path => sprintf('part-%05d', $_), status => 500, count => 1000 } } 1 .. 7 ]);
($out, $err) = run_sql("$parallel\nEXPLAIN (COSTS OFF) SELECT count(*) FROM subs;\nSELECT count(*) FROM subs;\nSELECT 'alive';");
like($out, qr/Parallel Foreign Scan/, 'the failing query is planned in parallel');
is(sqlstate_of($err), 'HV000', 'objects answering 500 repeatedly: HV000');
like($err, qr/500/, 'the error says what the storage answered');
like($out, qr/^alive$/m, 'the backend is usable afterwards');
is(starts(), 1, 'no participant started a second job');

# -- a cancel: statement_timeout ends the parallel scan with 57014
$mock->reset;
$mock->scenario(rows => 8000, objects => 8, dap_storage_bps => 20000);
($out, $err) = run_sql("$parallel\nSET statement_timeout = '1s';\nSELECT count(*) FROM subs;\nRESET statement_timeout;\nSELECT 'alive';");
is(sqlstate_of($err), '57014', 'statement_timeout cancels the parallel scan: 57014');
like($out, qr/^alive$/m, 'the backend is usable after the cancel');

$node->stop;
$mock->stop;
done_testing();
