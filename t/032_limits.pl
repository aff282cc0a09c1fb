# Upper bounds on what the LMS can make a backend read or wait for: an
# error answer's body is read up to a cap (in bytes and in time) and the
# connection dropped, never drained; a status answer must arrive whole
# within stall_timeout.  Each case ends with an ERROR in one session that
# then goes on working.  The mock's request log shows how many body bytes
# it wrote and that the FDW closed the connection before the end.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;
use Time::HiRes qw(usleep);

my $mock = start_mock();
my $node = new_lms_node('limits');
create_canvas_objects($node, $mock, retry_max => '1', stall_timeout => '2s');

my $status_path = '/reports/grade_export_csv/\d+$';
my $body_size = 200_000_000;

# The logged requests matching $re, once the mock has seen each of them
# end (closed early, or its whole body written): a bounded wait.
sub finished_requests
{
	my ($method, $re) = @_;
	my @r;
	for (1 .. 200)
	{
		@r = $mock->requests_of($method, $re);
		last if @r && !grep { !$_->{closed_early} && defined $_->{body_sent}
			&& ($_->{body_sent} < $body_size) } @r;
		usleep(100_000);
	}
	return @r;
}

# One session: the failing query, then a scan that works.  A generous
# statement_timeout turns a hang into a wrong SQLSTATE instead of a stuck test.
sub fail_then_work
{
	my ($sql) = @_;
	return run_verbose($node, qq{
		SET statement_timeout = '60s';
		$sql;
		SELECT 'alive:' || count(*) FROM grades;
	});
}

# Each case: a fault answering the status check or the download (count 2:
# the request and its one retry), the ERROR expected, a piece of the body
# the message shows, and whether the body is huge (else it trickles).
my @cases = (
	{
		name => 'a 500 with a huge body to a status check',
		path => $status_path, status => 500, body => 'Internal Server Error ', fill => 'x',
		body_size => $body_size,
		error => qr/the LMS answered HTTP 500 while checking the export's status/,
		excerpt => qr/Internal Server Error x/,
	},
	{
		name => 'a 500 with a huge body to the download',
		path => '^/__storage/', status => 500, body => 'storage failure ', fill => 'x',
		body_size => $body_size,
		error => qr/the LMS answered HTTP 500 while downloading the export's result/,
		excerpt => qr/storage failure x/,
	},
	{
		name => 'a 503 whose body never ends, to the download',
		path => '^/__storage/', status => 503, body => 'busy ', fill => 'z', trickle_ms => 500,
		error => qr/the LMS answered HTTP 503 while downloading the export's result/,
		excerpt => qr/busy z/,
	},
	{
		name => 'a status answer that never ends',
		path => $status_path, status => 200, content_type => 'application/json',
		trickle_ms => 500,
		error => qr/the answer from \S+ did not arrive whole within stall_timeout \(2000 ms\) while checking the export's status.*HINT:  Raise stall_timeout on the server or the foreign table/s,
	},
);

for my $c (@cases)
{
	my %fault = (method => 'GET', count => 2,
		map { exists $c->{$_} ? ($_ => $c->{$_}) : () }
		  qw(path status body fill body_size trickle_ms content_type));
	$mock->reset;
	$mock->scenario(faults => [ \%fault ]);
	my ($out, $err) = fail_then_work('SELECT count(*) FROM grades');
	is(sqlstate_of($err), 'HV000', "$c->{name}: HV000, no hang");
	like($err, $c->{error}, "$c->{name}: the ERROR says what happened and names any cap");
	like($err, $c->{excerpt}, "$c->{name}: with the start of the body") if $c->{excerpt};
	like($out, qr/alive:25/, "$c->{name}: the session goes on working");
	my @got = grep { defined $_->{body_sent} }
	  finished_requests('GET', qr/$c->{path}/);
	is(scalar(@got), 2, "$c->{name}: the request and its one retry got it");
	ok((!grep { !$_->{closed_early} } @got), "$c->{name}: each connection was closed by the FDW");
	ok((!grep { $_->{body_sent} > 20_000_000 } @got),
		"$c->{name}: after far fewer bytes than the body holds")
	  or diag join(', ', map { $_->{body_sent} } @got)
	  if $c->{body_size};
}

# ---------------------------------------------------------------------------
# a resource read without a job is named as one, never "export job" or (null)
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE course_grades (course_id bigint OPTIONS (param 'course_id'), id bigint)
	  SERVER canvas OPTIONS (resource 'course_enrollments');
});
$mock->reset;
$mock->scenario(faults => [ { method => 'GET', path => '^/api/v1/courses/101/enrollments$',
	status => 200, content_type => 'application/json', body => '[{"id": 1}, {"id": ', count => 1 } ]);
my ($out, $err) = fail_then_work('SELECT count(*) FROM course_grades WHERE course_id = 101');
is(sqlstate_of($err), '22P04', 'a course list page cut inside a record: 22P04');
like($err, qr/malformed JSON in the result of resource "course_enrollments" \(courses\/101\/enrollments\)/,
	'the course list is named as a resource, with its course');
unlike($err, qr/export job|\(null\)/, 'not as an export job');
like($out, qr/alive:25/, 'and the session goes on working');

# ---------------------------------------------------------------------------
# an API key in a configured path stays out of EXPLAIN
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE SERVER keyed FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'generic', base_url 'http://127.0.0.1:9');
	CREATE USER MAPPING FOR CURRENT_USER SERVER keyed OPTIONS (token 't');
	CREATE FOREIGN TABLE keyed_t (a int) SERVER keyed
	  OPTIONS (start_path '/exports?api_key=s3cr3t-k3y', status_path '/exports/{id}');
});
my $plan = $node->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT * FROM keyed_t');
like($plan, qr{LMS: generic export POST /exports\?\[redacted\]}, 'EXPLAIN shows the path without its query');
unlike($plan, qr/s3cr3t/, 'and never the key in it');

done_testing();
