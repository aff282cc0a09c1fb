# Brightspace data: Brightspace Data Sets read without a job (paged list,
# newest full or differential extract, an older one by identifier, the
# extract's date), the name rule on D2L's real headers (spaced and
# unspaced) with an ambiguity error, date filters in ISO 8601 UTC under odd
# DateStyle and TimeZone settings, and api_version 'auto'.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('bs_data');
my $base = $mock->base_url;

$node->safe_psql('postgres', qq{
	CREATE SERVER bs FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'brightspace', base_url '$base', poll_initial '50ms', poll_max '100ms');
	CREATE USER MAPPING FOR CURRENT_USER SERVER bs OPTIONS (token 'tap-d2l-token');
	CREATE FOREIGN TABLE grade_results (
	  grade_object_id bigint, org_unit_id bigint, "User Id" bigint, points_numerator numeric,
	  is_released boolean, last_modified timestamptz,
	  extract_date timestamptz OPTIONS (meta 'extract_date')
	) SERVER bs OPTIONS (resource 'Grade Results');
	CREATE FOREIGN TABLE grade_results_diff (grade_object_id bigint, user_id bigint,
	  extract_date timestamptz OPTIONS (meta 'extract_date'))
	  SERVER bs OPTIONS (resource 'grade results', differential 'true');
	CREATE FOREIGN TABLE grade_results_old (user_id bigint, extract_date timestamptz OPTIONS (meta 'extract_date'))
	  SERVER bs OPTIONS (resource '9d8a96b4-8145-416d-bd18-11402bc58f8d',
	                     parameters '{"identifier": "20240103-0000"}');
	CREATE FOREIGN TABLE org_units (org_unit_id bigint, type text, name text, is_active boolean)
	  SERVER bs OPTIONS (resource 'Organizational Units');
	CREATE FOREIGN TABLE final_grades (
	  org_unit_id bigint, "OrgUnitCode" text, user_id bigint, first_name text, points_numerator numeric,
	  changed_since timestamptz OPTIONS (param 'startDate'),
	  changed_until date OPTIONS (param 'endDate')
	) SERVER bs OPTIONS (resource 'Final Grades');
});
$mock->reset;
$mock->scenario(rows => 20, bds_page_size => 1, statuses => [ 'created', 'complete' ]);

# --- Brightspace Data Sets: no job, a paged list, the newest full extract ----
is($node->safe_psql('postgres', q{SET TimeZone = 'UTC';
	SELECT count(*), count(DISTINCT (grade_object_id, org_unit_id, "User Id")), count(points_numerator),
	       bool_or(is_released), min(extract_date) FROM grade_results}),
	'20|20|19|t|2024-01-04 00:00:00+00', 'Grade Results: the newest full extract and its date');
my @log = @{ $mock->requests };
ok(!(grep { $_->{path} =~ m{/dataExport/(create|jobs)} } @log), 'no export job was started');
my @pages = map { $_->{query} } grep { $_->{path} eq '/d2l/api/lp/1.49/dataExport/bds' } @log;
is_deeply(\@pages, [ 'page=1' ], 'the first page of the list held it');
ok((grep { $_->{path} eq '/d2l/api/lp/1.49/dataExport/bds/download/9d8a96b4-8145-416d-bd18-11402bc58f8d' } @log),
	'the current extract was downloaded from its DownloadLink');
is(scalar(grep { $_->{path} eq '/d2l/api/versions/' } @log), 1, "api_version 'auto' asked for the versions");
ok(!(grep { $_->{path} =~ m{/d2l/api/lp/1\.9/} } @log), 'and took the newest (1.49, not 1.9)');

# the differential extract is on a later page: NextPageUrl is followed
$mock->reset;
$mock->scenario(rows => 20, bds_page_size => 1);
is($node->safe_psql('postgres', q{SET TimeZone = 'UTC';
	SELECT count(*), min(extract_date) FROM grade_results_diff}),
	'4|2024-01-04 12:00:00+00', 'the differential extract and its date');
@pages = map { $_->{query} } grep { $_->{path} =~ m{/dataExport/bds$} } @{ $mock->requests };
is_deeply(\@pages, [ 'page=1', 'page=2&pageSize=1' ], 'the list was followed by NextPageUrl');

# an older extract by identifier
$mock->reset;
$mock->scenario(rows => 20);
is($node->safe_psql('postgres', q{SET TimeZone = 'UTC';
	SELECT count(*), min(extract_date) FROM grade_results_old}),
	'18|2024-01-03 00:00:00+00', 'an older extract by its identifier');
ok((grep { $_->{path} =~ m{/bds/9d8a96b4-8145-416d-bd18-11402bc58f8d/20240103-0000$} } @{ $mock->requests }),
	'downloaded from bds/<plugin>/<identifier>');

my $plan = $node->safe_psql('postgres',
	'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM grade_results');
like($plan, qr/LMS: brightspace data set Grade Results \(API auto\)/, 'EXPLAIN ANALYZE names the data set');
like($plan, qr/Jobs: 1 completed/, 'and counts the extract as one completed export');

# a second data set, and one that does not exist
is($node->safe_psql('postgres', q{SELECT count(*), count(*) FILTER (WHERE NOT is_active) FROM org_units}),
	'20|2', 'Organizational Units');
$node->safe_psql('postgres', q{CREATE FOREIGN TABLE nothing (x int) SERVER bs OPTIONS (resource 'Attendance Registers')});
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM nothing');
like($err, qr/Brightspace has no data set named "Attendance Registers"/, 'an unknown data set');
like($err, qr/DETAIL:.*"Final Grades".*"Grade Results".*"Organizational Units"/, 'lists both kinds of data sets');
$node->safe_psql('postgres', q{CREATE FOREIGN TABLE bds_filtered (user_id bigint OPTIONS (param 'userId'))
	SERVER bs OPTIONS (resource 'Grade Results')});
($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM bds_filtered WHERE user_id = 3');
like($err, qr/Brightspace Data Set "Grade Results" takes no export parameter "userId"/,
	'a Brightspace Data Set refuses filters');

# the file holds a BOM and unspaced names; a column named "User Id" matched UserId
$node->safe_psql('postgres', q{CREATE FOREIGN TABLE gr_fields (gid bigint OPTIONS (field 'Grade Object Id'),
	uid bigint OPTIONS (field 'userid')) SERVER bs OPTIONS (resource 'Grade Results')});
is($node->safe_psql('postgres', 'SELECT count(gid), count(uid) FROM gr_fields'), '20|20',
	'field options match by the name rule too');

# imported tables carry D2L's spellings and read end to end
$node->safe_psql('postgres', q{CREATE SCHEMA imp;
	IMPORT FOREIGN SCHEMA brightspace LIMIT TO (grade_results, organizational_units) FROM SERVER bs INTO imp});
is($node->safe_psql('postgres', q{SET TimeZone = 'UTC';
	SELECT count(*), count(grade_object_id), count(user_id), count(is_dropped), min(extract_date)
	FROM imp.grade_results}),
	'20|20|20|20|2024-01-04 00:00:00+00', 'an imported Brightspace Data Set reads by its field names');
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT type) FROM imp.organizational_units'), '20|3',
	'and the other');

# --- the name rule on an Advanced Data Set's spaced headers -------------------
$mock->reset;
$mock->scenario(rows => 10, statuses => [ 'created', 'complete' ]);
is($node->safe_psql('postgres', q{SELECT count(org_unit_id), count("OrgUnitCode"), count(user_id),
	min(first_name), count(points_numerator) FROM final_grades}),
	'10|10|10|First1|10', 'org_unit_id, "OrgUnitCode" and first_name match "Org Unit Id", "Org Unit Code", "First Name"');

# two fields matching one column: an error naming them
my $dir = PostgreSQL::Test::Utils::tempdir();
open(my $fh, '>', "$dir/twice.csv") or die;
print $fh "User Id,UserId,Username\n1,2,a\n";
close($fh);
chmod 0644, "$dir/twice.csv";
$mock->reset;
$mock->scenario(statuses => [ 'created', 'complete' ], body_file => "$dir/twice.csv");
$node->safe_psql('postgres', q{CREATE FOREIGN TABLE ambiguous (user_id bigint, user_name text)
	SERVER bs OPTIONS (resource 'Enrollments and Withdrawals')});
($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM ambiguous',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
is(sqlstate_of($err), '42702', 'two fields matching one column are an ambiguity error');
like($err, qr/column "user_id" matches more than one field of the file/, 'naming the column');
like($err, qr/DETAIL:  The fields "User Id", "UserId" all match it/, 'and the fields');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE ambiguous ALTER COLUMN user_id OPTIONS (ADD field 'UserId')});
is($node->safe_psql('postgres', 'SELECT user_id, user_name FROM ambiguous'), '2|a',
	'an exact field option settles it ("Username" matches user_name)');

# --- date filters: ISO 8601 UTC whatever DateStyle and TimeZone ----------------
for my $style ([ 'SQL, DMY', 'America/Los_Angeles' ], [ 'German', 'Asia/Kolkata' ],
	[ 'Postgres, MDY', 'Pacific/Chatham' ])
{
	$mock->reset;
	$mock->scenario(rows => 5, statuses => [ 'created', 'complete' ]);
	my $got = $node->safe_psql('postgres', qq{
		SET DateStyle = '$style->[0]'; SET TimeZone = '$style->[1]';
		SELECT count(*) FROM final_grades
		WHERE changed_since = '2026-01-01 00:00:00+00' AND changed_until = '2026-02-01'});
	is($got, '5', "a scan with date filters under DateStyle '$style->[0]', TimeZone '$style->[1]'");
	my ($create) = grep { $_->{path} =~ m{/dataExport/create$} } @{ $mock->requests };
	like($create->{body}, qr/\{"Name":"startDate","Value":"2026-01-01T00:00:00\.000Z"\}/,
		'startDate in ISO 8601 UTC with milliseconds');
	like($create->{body}, qr/\{"Name":"endDate","Value":"2026-02-01T00:00:00\.000Z"\}/,
		'a date as midnight UTC');
}
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT count(*) FROM final_grades WHERE changed_since = 'infinity'});
like($err, qr/export parameter must lie between the years 1 and 9999/, 'an infinite time is refused');

# --- api_version 'auto' once per backend; a fixed version needs no negotiation
$mock->reset;
$mock->scenario(rows => 2, statuses => [ 'created', 'complete' ]);
$node->safe_psql('postgres', 'SELECT count(*) FROM grade_results; SELECT count(*) FROM org_units;');
is(scalar(grep { $_->{path} eq '/d2l/api/versions/' } @{ $mock->requests }), 1,
	'two scans in one backend asked for the versions once');
$mock->reset;
$mock->scenario(rows => 2, d2l_lp_versions => [ '1.9', '1.30', '1.52' ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM org_units'), '2', 'a site offering 1.52');
ok((grep { $_->{path} =~ m{^/d2l/api/lp/1\.52/} } @{ $mock->requests }), 'is spoken to in 1.52');
$node->safe_psql('postgres', q{ALTER SERVER bs OPTIONS (ADD api_version '1.30')});
$mock->reset;
$mock->scenario(rows => 2, d2l_lp_versions => [ '1.9', '1.30', '1.52' ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM org_units'), '2', 'a fixed api_version');
@log = @{ $mock->requests };
ok(!(grep { $_->{path} eq '/d2l/api/versions/' } @log) && (grep { $_->{path} =~ m{^/d2l/api/lp/1\.30/} } @log),
	'is used without negotiation');

$node->stop;
done_testing();
