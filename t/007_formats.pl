# Every result format end to end through the generic provider: CSV (CRLF,
# byte order mark), TSV, JSON lines, a JSON array at the top level and at
# rows_path inside a document, gzip (raw and as Content-Encoding), and a
# zip holding one file.  Each is compared with the same export read as
# plain CSV.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Compress::Zlib ();
use IO::Compress::Zip ();
use MIME::Base64;
use Test::More;

# a zip of one CSV whose stored CRC-32 is wrong (libarchive: ARCHIVE_WARN)
sub zip_with_bad_crc
{
	my $csv = "student id,student name\n1,a\n2,b\n";
	my $zip;
	IO::Compress::Zip::zip(\$csv => \$zip, Name => 'grades.csv', Method => 8)
	  or die "zip: $IO::Compress::Zip::ZipError";
	my $crc = pack('V', Compress::Zlib::crc32($csv));
	my $bad = pack('V', Compress::Zlib::crc32($csv) ^ 0x5a5a5a5a);
	my $n = ($zip =~ s/\Q$crc\E/$bad/g);
	die "no CRC found in the zip" unless $n;
	return $zip;
}

my $mock = start_mock();
my $node = new_lms_node('formats');
$node->safe_psql('postgres', sprintf(q{
	CREATE SERVER gen FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'generic', base_url '%s', poll_initial '20ms', poll_max '100ms');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gen OPTIONS (token 'tap-test-token');
	CREATE FOREIGN TABLE exports (
	  student_id bigint, student_name text, course_id bigint,
	  current_score numeric, final_score numeric,
	  state text OPTIONS (field 'enrollment state'), current_grade text
	) SERVER gen OPTIONS (start_path '/generic/exports', status_path '/generic/exports/{id}',
	  job_id_path 'data.id', state_path 'data.state', result_url_path 'data.result.url');
}, $mock->base_url));

my $query = 'SELECT student_id, student_name, course_id, current_score, final_score, '
  . 'state, current_grade FROM exports ORDER BY student_id';
$mock->scenario(rows => 3000);
my $reference = $node->safe_psql('postgres', $query);
like($reference, qr/^1013\|Line\nBreak 13\|/m, 'the reference has the embedded newline');
is(scalar(() = $reference =~ /^\d+\|/mg), 3000, 'the reference has 3000 rows');

for my $case (
	[ 'CSV with CRLF and a byte order mark', { format => 'csv', crlf => JSON::PP::true, bom => JSON::PP::true } ],
	[ 'TSV (PostgreSQL text format)', { format => 'tsv' } ],
	[ 'JSON lines', { format => 'jsonl' } ],
	[ 'a JSON array', { format => 'json' } ],
	[ 'a JSON array at rows_path', { format => 'json_nested' }, 'data.rows' ],
	[ 'gzip CSV (raw bytes)', { format => 'csv', gzip => JSON::PP::true, gzip_header => JSON::PP::false } ],
	[ 'CSV with Content-Encoding: gzip', { format => 'csv', gzip => JSON::PP::true } ],
	[ 'gzip JSON lines', { format => 'jsonl', gzip => JSON::PP::true, gzip_header => JSON::PP::false } ],
	[ 'a zip holding one CSV', { format => 'csv', zip => JSON::PP::true } ],
	[ 'a zip holding JSON lines', { format => 'jsonl', zip => JSON::PP::true } ])
{
	my ($what, $scenario, $rows_path) = @$case;
	$mock->reset;
	$mock->scenario(rows => 3000, %$scenario);
	$node->safe_psql('postgres', "ALTER FOREIGN TABLE exports OPTIONS (ADD rows_path '$rows_path')")
	  if $rows_path;
	my ($ret, $out, $err) = $node->psql('postgres', $query);
	$node->safe_psql('postgres', 'ALTER FOREIGN TABLE exports OPTIONS (DROP rows_path)')
	  if $rows_path;
	is($err, '', "$what: no error");
	ok($out eq $reference, "$what: the same rows as the plain CSV");
}

# malformed input is 22P04, in every reader
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE ids (student_id bigint) SERVER gen
	  OPTIONS (start_path '/generic/exports', status_path '/generic/exports/{id}',
	  job_id_path 'data.id', state_path 'data.state', result_url_path 'data.result.url');
});
for my $case (
	[ 'CSV', 'text/csv', qq{student id,student name\n1,"open\n} ],
	[ 'TSV', 'text/tab-separated-values', "student id\tstudent name\n1\tends in a backslash\\\n" ],
	[ 'JSON lines', 'application/x-ndjson', qq({"student id": 1}\n{"student id": \n) ],
	[ 'gzip', 'application/gzip', "\x1f\x8b\x08\x00garbage, not deflate data" ],
	[ 'zip with a bad CRC', 'application/zip', zip_with_bad_crc() ])
{
	my ($what, $ctype, $body) = @$case;
	$mock->reset;
	$mock->scenario(faults => [ { path => '^/generic/files/', status => 200,
		content_type => $ctype, body_base64 => MIME::Base64::encode_base64($body, ''),
		count => 1 } ]);
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT student_id FROM ids", on_error_stop => 0);
	is(sqlstate_of($err), '22P04', "malformed $what is 22P04");
}

# a malformed JSON line after good ones: yajl's message, the record's number
$mock->reset;
$mock->scenario(faults => [ { path => '^/generic/files/', status => 200,
	content_type => 'application/x-ndjson',
	body => qq({"student id": 1}\n{"student id": 2}\n{"student id": tru}\n{"student id": 4}\n),
	count => 1 } ]);
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT student_id FROM ids", on_error_stop => 0);
	is(sqlstate_of($err), '22P04', 'malformed JSON line is 22P04');
	like($err, qr/malformed JSON in the result of export job \S+: malformed JSON in record 3: lexical error: invalid string in json text/,
		'the message names the record');
	like($err, qr/The bad record is record 3 of the file/, 'the detail too');
}

# a one-column CSV keeps its empty lines as NULL rows, as COPY reads them
$mock->reset;
$mock->scenario(faults => [ { path => '^/generic/files/', status => 200,
	content_type => 'text/csv', body => "student id\n1\n\n2\n\n", count => 1 } ]);
is($node->safe_psql('postgres', 'SELECT count(*), count(student_id) FROM ids'), '4|2',
	'a one-column CSV: two values and two NULL rows');

# JSON numbers reach the column's input function as their JSON text
$mock->reset;
$mock->scenario(faults => [ { path => '^/generic/files/', status => 200,
	content_type => 'application/x-ndjson',
	body => qq({"student id": 12345678901234567, "current score": 0.1000000000000000055511151231257827}\n),
	count => 1 } ]);
$node->safe_psql('postgres', 'ALTER FOREIGN TABLE ids ADD COLUMN current_score numeric');
my $exact = $node->safe_psql('postgres', 'SELECT student_id, current_score FROM ids');
is($exact, '12345678901234567|0.1000000000000000055511151231257827',
	'JSON numbers are not rounded through a double');

# In a UTF8 database: text the simdjson reader checked as UTF-8 is stored
# as is, but a NUL byte from \u0000 is still refused, and so is a value
# yajl took after a hand-over (it checks UTF-8 less strictly)
$node->safe_psql('postgres',
	q{CREATE DATABASE u8 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
$node->safe_psql('u8', sprintf(q{
	CREATE EXTENSION lms_fdw;
	CREATE SERVER gen FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'generic', base_url '%s', poll_initial '20ms', poll_max '100ms');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gen OPTIONS (token 'tap-test-token');
	CREATE FOREIGN TABLE names (student_id bigint, student_name text) SERVER gen
	  OPTIONS (start_path '/generic/exports', status_path '/generic/exports/{id}',
	  job_id_path 'data.id', state_path 'data.state', result_url_path 'data.result.url');
}, $mock->base_url));
for my $case (
	[ 'UTF-8 text', qq({"student id": 1, "student name": "Ren\\u00e9e \xc3\xa9"}\n), "1|Ren\xc3\xa9e \xc3\xa9", '' ],
	[ 'a NUL byte from \\u0000', qq({"student id": 1, "student name": "a"}\n{"student id": 2, "student name": "a\\u0000b"}\n),
	  undef, '22021' ],
	[ 'an encoded surrogate, read by yajl', qq({"student id": 1, "student name": "a"}\n{"student id": 2, "student name": "\xed\xa0\x80"}\n),
	  undef, '22021' ])
{
	my ($what, $body, $want, $code) = @$case;
	$mock->reset;
	$mock->scenario(faults => [ { path => '^/generic/files/', status => 200,
		content_type => 'application/x-ndjson', body_base64 => MIME::Base64::encode_base64($body, ''),
		count => 1 } ]);
	my ($ret, $out, $err) = $node->psql('u8',
		"\\set VERBOSITY verbose\nSELECT student_id, student_name FROM names ORDER BY 1",
		on_error_stop => 0);
	if ($code eq '')
	{
		is($err, '', "$what: no error");
		is($out, $want, "$what: the value as written");
	}
	else
	{
		is(sqlstate_of($err), $code, "$what: $code");
		like($err, qr/invalid byte sequence for encoding "UTF8"/, "$what: the encoding's message");
	}
}

$node->stop;
done_testing();
