# A BI-style client through a real driver (psycopg2, test/bi_client.py):
# named server-side cursors fetched in batches, a parameterized count, and a
# server-side PREPARE/EXECUTE whose bound parameter becomes the export
# parameter, under custom and generic plans.
use strict;
use warnings;
use lib 't';
use LmsTest;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('bi_client');
create_canvas_objects($node, $mock);
$mock->scenario(rows => 5000);

my $connstr = sprintf('host=%s port=%d dbname=postgres', $node->host, $node->port);
my ($stdout, $stderr);
my $ok = IPC::Run::run([ 'python3', 'test/bi_client.py', $connstr ],
	'>', \$stdout, '2>', \$stderr);
note("bi_client stdout: $stdout");
note("bi_client stderr: $stderr") if $stderr ne '';
ok($ok, 'bi_client.py exited with status 0');
my $res = eval { JSON::PP->new->decode((split /\n/, $stdout)[-1] // '') };
ok($res, 'bi_client.py printed its JSON line') or diag("stdout: $stdout");
$res //= {};
is_deeply($res->{errors}, [], 'bi_client.py found no mismatch');

# (a) the cursors: rows 1..100 in two batches of 50
for my $c (qw(cursor_ordered cursor_stream))
{
	is_deeply($res->{$c}{batches}, [ 50, 50 ], "$c: two batches of 50 rows");
	is($res->{$c}{first}, 1001, "$c: the first row is student 1");
	is($res->{$c}{last}, 1100, "$c: the last row is student 100");
}

# How much was downloaded: the file-order cursor stopped early, while the
# ordered one had to read everything before its Sort could return a row.
my $full = $res->{cursor_ordered}{job};
my $part = $res->{cursor_stream}{job};
is($full->{rows}, 5000, 'the ORDER BY cursor read all 5000 rows (the Sort needs them)');
cmp_ok($part->{rows}, '<=', 200, 'the file-order cursor converted only the rows fetched');
cmp_ok($part->{bytes}, '<', $full->{bytes} / 2,
	"the file-order cursor downloaded far less than the whole export ($part->{bytes} of $full->{bytes} bytes)");

# The mock's request log: every start request, and one download per job
my @reqs = @{ $mock->requests };
my @posts = grep { $_->{method} eq 'POST' && $_->{path} =~ m{/reports/grade_export_csv$} } @reqs;
my @jobs = sort { $a->{id} <=> $b->{id} } grep { $_->{kind} eq 'report' } @{ $mock->jobs };
is(scalar(@posts), scalar(@jobs), 'one start request per mock job');
my %post_of = map { ($jobs[$_]{id} => $posts[$_]) } 0 .. $#jobs;
my @downloads = grep { $_->{listener} eq 'storage' && $_->{method} eq 'GET' } @reqs;
is(scalar(@downloads), scalar(@jobs), 'each job downloaded its file once (the partial read was not retried or drained)');

# (b) the parameterized count and the prepared statement
my $direct = $node->safe_psql('postgres',
	'SELECT count(*), sum(current_score) FROM grades WHERE term_id = 7');
my ($dcount, $dsum) = split /\|/, $direct;
is($dcount, 5000, 'the direct count sees the whole export');
is($res->{param_query}{count}, $dcount, 'the client-side parameterized count equals the direct count');
is($res->{param_query}{sum}, $dsum, 'and so does the sum');
like($post_of{ $res->{param_query}{job}{job_id} }{body} // '',
	qr/parameters%5Benrollment_term_id%5D=7/,
	'the interpolated term_id = 7 became the export parameter');

my @ex = @{ $res->{executions} // [] };
is(scalar(@ex), 7, 'seven EXECUTEs ran');
is($_->{count}, $dcount, "EXECUTE $_->{n} counted the direct count") for @ex;
is_deeply([ map { $_->{custom_plans} } @ex[0 .. 4] ], [ 1 .. 5 ],
	'the first five EXECUTEs used custom plans');
note('6th EXECUTE plan: '
	  . ($ex[5]{generic_plans} ? 'generic' : 'custom')
	  . "; 7th (forced): generic_plans=$ex[6]{generic_plans}");
cmp_ok($ex[6]{generic_plans}, '>=', 1, 'the forced EXECUTE used a generic plan');

for my $e (@ex)
{
	my $kind = $e->{generic_plans} > ($e->{n} > 1 ? $ex[ $e->{n} - 2 ]{generic_plans} : 0)
	  ? 'generic' : 'custom';
	my $post = $post_of{ $e->{job_id} };
	ok($post, "EXECUTE $e->{n} ($kind plan) started its own export job");
	like($post->{body} // '', qr/parameters%5Benrollment_term_id%5D=7/,
		"EXECUTE $e->{n} ($kind plan) sent the bound parameter as enrollment_term_id=7");
}
like(join("\n", @{ $res->{explain_execute} // [] }), qr/Export Parameters: enrollment_term_id=/,
	'EXPLAIN EXECUTE shows the export parameter');

# (c) the backend was healthy afterwards
ok($res->{healthy}, 'SELECT 1 answered after the cursors and the EXECUTEs');
is(scalar(grep { $_->{state} ne 'complete' } @{ $res->{jobs} // [] }), 0,
	'every job of the session is complete in lms_fdw_jobs()');

$node->stop;
done_testing();
