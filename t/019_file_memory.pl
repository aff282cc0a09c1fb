# Memory per result file: each file of an export has its own memory context
# (stream, gzip state and buffers, record reader, row context), deleted when
# the file ends, so a 300-file export holds what a 1-file export holds.
# Measured mid-scan, through a cursor, as the sum of the backend's memory
# contexts (pg_backend_memory_contexts), never by a clock.
use strict;
use warnings;
use lib 't';
use LmsTest;
use Test::More;

my $mock = start_mock();
my $node = new_lms_node('file_memory');
create_dap_server($node, $mock);
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE dap_submissions (id bigint, score float8)
	  SERVER dap OPTIONS (resource 'submissions');
});

# bytes in the backend's memory contexts with the scan on its last file
# (one row per file), and the rows the cursor moved over
sub memory_on_last_file
{
	my ($files) = @_;
	$mock->reset;
	$mock->scenario(rows => $files, objects => $files);
	my $out = $node->safe_psql('postgres', qq{
		BEGIN;
		DECLARE c CURSOR FOR SELECT id FROM dap_submissions;
		MOVE $files IN c;
		SELECT 'bytes=' || sum(total_bytes) FROM pg_backend_memory_contexts;
		SELECT 'ctx ' || name || ' / ' || coalesce(parent, '') || ' ' || count(*) || ' ' || sum(total_bytes)
		  FROM pg_backend_memory_contexts GROUP BY name, parent ORDER BY sum(total_bytes) DESC LIMIT 8;
		COMMIT;
	});
	my ($bytes) = $out =~ /bytes=(\d+)/;
	die "no figure in: $out" unless defined $bytes;
	note($out);
	return $bytes;
}

my $one = memory_on_last_file(1);
my $many = memory_on_last_file(300);
my @gets = grep { $_->{listener} eq 'storage' && $_->{status} == 200 } @{ $mock->requests };
is(scalar(@gets), 300, 'the second export was read from 300 files');
note(sprintf('memory contexts on the last file: 1-file export %.2f MB, 300-file export %.2f MB',
	$one / 1048576, $many / 1048576));
cmp_ok($many - $one, '<', 2 * 1048576,
	'a 300-file export holds less than 2 MB more than a 1-file one');

$node->stop;
done_testing();
