# Memory of one long record: the record buffer grows in place, so a scan
# whose record reaches the 64 MB record limit stays within about twice that
# limit (the buffer, and the value built from it).  Measured as the
# backend's peak resident memory (VmHWM of /proc/self/status, read by the
# backend itself), never by a clock.
use strict;
use warnings;
use lib 't';
use LmsTest;
use IO::Compress::Gzip ();
use PostgreSQL::Test::Utils;
use Test::More;

my $limit_kb = 64 * 1024;		# LMS_MAX_RECORD_BYTES
my $mock = start_mock();
my $node = new_lms_node('record_memory');
create_canvas_objects($node, $mock);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE wide (student_id bigint, student_name text) SERVER canvas
	  OPTIONS (resource 'grade_export_csv');
});

# a gzip CSV (small on the wire) whose second line inflates to $mb MB
sub long_line_export
{
	my ($mb) = @_;
	my $path = PostgreSQL::Test::Utils::tempdir() . "/line_$mb.csv.gz";
	my $z = IO::Compress::Gzip->new($path) or die "gzip: $IO::Compress::Gzip::GzipError";
	$z->print("student id,student name\n1,");
	my $chunk = 'x' x (1024 * 1024);
	$z->print($chunk) for 1 .. $mb;
	$z->print("\n");
	$z->close;
	return $path;
}

# the backend's VmHWM (kB) after running $sql in it, less the shared memory
# it touched (RssShmem: an INSERT fills shared buffers), and psql's stderr
sub peak_after
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		\\set VERBOSITY verbose
		SELECT 1;
		$sql;
		SELECT 'hwm=' || substring(pg_read_file('/proc/self/status') from 'VmHWM:\\s+(\\d+)')
		  || ' shmem=' || substring(pg_read_file('/proc/self/status') from 'RssShmem:\\s+(\\d+)');
	}, on_error_stop => 0);
	my ($hwm, $shmem) = $out =~ /hwm=(\d+) shmem=(\d+)/;
	die "no VmHWM in: $out / $err" unless defined $hwm;
	return ($hwm - $shmem, $err);
}

my ($base) = peak_after('SELECT 1');
note("a fresh backend: VmHWM $base kB");

# a record longer than the limit: 22P04, and the buffer never doubled past it
$mock->scenario(body_file => long_line_export(80));
my ($hwm, $err) = peak_after('SELECT length(student_name) FROM wide');
is(sqlstate_of($err), '22P04', 'an 80 MB record is refused with 22P04');
cmp_ok($hwm - $base, '<', 2 * $limit_kb,
	sprintf('refusing it took %.1f MB more than a fresh backend (limit 64 MB, at most 2x)',
		($hwm - $base) / 1024));

# a record just under the limit is read, in about twice its size
$mock->scenario(body_file => long_line_export(60));
($hwm, $err) = peak_after('SELECT length(student_name) FROM wide');
is($err, '', 'a 60 MB record is read');
cmp_ok($hwm - $base, '<', 2 * $limit_kb + 16 * 1024,
	sprintf('reading it took %.1f MB more than a fresh backend', ($hwm - $base) / 1024));

# an INSERT ... SELECT keeps no copy of the rows (no spool for rescans),
# even where work_mem would let one grow to 64 MB: 300,000 rows, ~40 MB
my $big = PostgreSQL::Test::Utils::tempdir() . '/rows.csv';
open(my $fh, '>', $big) or die "$big: $!";
print $fh "student id,student name\n";
printf $fh "%d,%s\n", $_, 'n' x 120 for 1 .. 300_000;
close $fh;
$mock->scenario(body_file => $big);
$node->safe_psql('postgres', 'CREATE UNLOGGED TABLE sink (student_id bigint, student_name text)');
($hwm, $err) = peak_after("SET work_mem = '64MB'; INSERT INTO sink SELECT * FROM wide");
is($err, '', 'INSERT ... SELECT of 300,000 rows');
cmp_ok($hwm - $base, '<', 16 * 1024,
	sprintf('it took %.1f MB more than a fresh backend (shared buffers aside)', ($hwm - $base) / 1024));

$node->stop;
done_testing();
