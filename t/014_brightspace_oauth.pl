# Brightspace OAuth 2.0 with rotating refresh tokens: the FDW obtains and
# renews access tokens itself, saves every rotated refresh token durably
# before using it, and never spends one refresh token twice, whatever
# happens to the query or the server: scans over several token lifetimes,
# a cancel during and right after a refresh, a rolled-back and a failed
# query, a crash restart, eight concurrent scans at an expiry boundary,
# and a person re-seeding the token with ALTER USER MAPPING.
use strict;
use warnings;
use lib 't';
use LmsTest;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;
use Time::HiRes qw(usleep);

my $mock = start_mock();
my $node = new_lms_node('bs_oauth', "log_min_messages = debug1\nlog_statement = none\n");
my $base = $mock->base_url;

sub grants { return $mock->_call('GET', '/__mock/d2l/grants') }
sub authorize { return $mock->_call('POST', '/__mock/d2l/authorize', { client_id => 'app' }) }

sub d2l_requests
{
	return grep { $_->{path} =~ m{^/d2l/} } @{ $mock->requests };
}

# the access tokens expire after $ttl seconds; wait until this one has
sub sleep_past_expiry { my ($ttl) = @_; usleep(int(($ttl + 0.2) * 1_000_000)); }

my $seed = authorize();
$mock->scenario(client_id => 'app', client_secret => 'app-secret', d2l_access_ttl_s => 1.5);
$node->safe_psql('postgres', qq{
	CREATE SERVER bs FOREIGN DATA WRAPPER lms_fdw
	  OPTIONS (provider 'brightspace', base_url '$base', token_url '$base/core/connect/token',
	           api_version '1.47', poll_initial '100ms', poll_max '100ms',
	           retry_base '50ms', retry_cap '200ms');
	CREATE USER MAPPING FOR CURRENT_USER SERVER bs
	  OPTIONS (client_id 'app', client_secret 'app-secret', refresh_token '$seed->{refresh_token}');
	CREATE FOREIGN TABLE grade_results (grade_object_id bigint, org_unit_id bigint, user_id bigint,
	  points_numerator numeric) SERVER bs OPTIONS (resource 'Grade Results');
	CREATE FOREIGN TABLE final_grades (org_unit_id bigint, user_id bigint, points_numerator numeric)
	  SERVER bs OPTIONS (resource 'Final Grades');
});
$mock->reset;
$mock->scenario(client_id => 'app', client_secret => 'app-secret', d2l_access_ttl_s => 1.5, rows => 20,
	statuses => [ 'created', ('running') x 8, 'complete' ]);

# --- three scans over more than one access-token lifetime ------------------
# ten status checks 100 ms apart per scan: three scans outlive a 1.5 s token
my @counts;
push @counts, $node->safe_psql('postgres', 'SELECT count(*) FROM final_grades') for 1 .. 3;
is_deeply(\@counts, [ 20, 20, 20 ], 'three scans read their rows');
my $g = grants();
cmp_ok($g->{refreshed}, '>=', 2, "the access token was renewed during the scans ($g->{refreshed} refreshes)");
is($g->{reused}, 0, 'no refresh token was presented twice');
is(scalar(grep { $_->{outcome} ne 'ok' } @{ $g->{events} }), 0, 'every refresh succeeded');
is(scalar(grep { $_->{status} == 401 } d2l_requests()), 0, 'no call met an expired token');
my @posts = grep { $_->{path} eq '/core/connect/token' } @{ $mock->requests };
is($posts[0]{auth_scheme}, 'Basic', 'the token request authenticates the client with Basic');
like($posts[0]{body}, qr/^grant_type=refresh_token&refresh_token=rt-\d+-[0-9a-f]+&scope=datahub%3Adataexports%3A%2A\+datahub%3Adataexports%3Adownload$/,
	'the refresh_token grant with the default scope');

# the store: one file per mapping, owner-only, holding the newest token
my $umid = $node->safe_psql('postgres', q{SELECT umid FROM pg_user_mappings WHERE srvname = 'bs'});
my $dboid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'postgres'});
my $store = $node->data_dir . "/pg_lms_fdw/${dboid}_$umid";
ok(-f $store, 'the token store file exists under the data directory');
is(sprintf('%04o', (stat($store))[2] & 07777), '0600', 'it is readable by the server\'s owner only');
my ($live) = grep { $_->{state} eq 'live' } @{ grants()->{tokens} };
like(slurp_file($store), qr/^refresh rt-$live->{n}-/m, 'it holds the live refresh token');

# --- a failed query and a rolled-back one keep the rotated token ------------
sleep_past_expiry(1.5);
my $before = grants()->{refreshed};
my ($ret, $out, $err) = $node->psql('postgres',
	'SELECT count(*) FROM grade_results WHERE points_numerator::int / 0 = 1');
like($err, qr/division by zero/, 'a query fails after its refresh');
sleep_past_expiry(1.5);
$node->safe_psql('postgres', 'BEGIN; SELECT count(*) FROM grade_results; ROLLBACK;');
is(grants()->{refreshed}, $before + 2, 'both refreshed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM grade_results'), '20',
	'the next scan works with the token they saved');
is(grants()->{reused}, 0, 'no refresh token was presented twice');

# --- a cancel while the token request is on the wire ------------------------
sleep_past_expiry(1.5);
$mock->scenario(faults => [ { path => '^/core/connect/token$', kind => 'delay', delay_s => 1.5, count => 1 } ]);
$before = grants()->{refreshed};
($ret, $out, $err) = $node->psql('postgres',
	"SET statement_timeout = '300ms'; SELECT count(*) FROM grade_results");
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout cancels the scan');
is(grants()->{refreshed}, $before + 1, 'the refresh it interrupted completed at the LMS');
is($node->safe_psql('postgres', 'SELECT count(*) FROM grade_results'), '20',
	'the next scan uses the token saved despite the cancel');
is(grants()->{reused}, 0, 'no refresh token was presented twice');

# --- a cancel right after a refresh -----------------------------------------
sleep_past_expiry(1.5);
$mock->reset;
$mock->scenario(client_id => 'app', client_secret => 'app-secret', d2l_access_ttl_s => 1.5, rows => 20,
	statuses => [ 'created', ('running') x 100, 'complete' ]);
my $pid = '';
my ($o1, $e1) = ('', '');
my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
	'SELECT count(*) FROM final_grades' ], '>', \$o1, '2>', \$e1);
for (1 .. 200)
{
	last if grep { $_->{path} =~ m{/dataExport/jobs/} } @{ $mock->requests };
	usleep(25_000);
}
ok((grep { $_->{path} eq '/core/connect/token' } @{ $mock->requests }), 'the scan refreshed, then polled');
$node->safe_psql('postgres', q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE query = 'SELECT count(*) FROM final_grades'});
$h->finish;
like($e1, qr/canceling statement due to user request/, 'the scan was cancelled');
$mock->scenario(statuses => [ 'created', 'complete' ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM final_grades'), '20', 'another scan then works');
is(grants()->{reused}, 0, 'no refresh token was presented twice');

# --- a crash restart between scans -------------------------------------------
$node->stop('immediate');
$node->start;
sleep_past_expiry(1.5);
$before = grants()->{refreshed};
is($node->safe_psql('postgres', 'SELECT count(*) FROM grade_results'), '20',
	'after a crash restart the stored refresh token still works');
is(grants()->{refreshed}, $before + 1, 'it was refreshed once');
is(grants()->{reused}, 0, 'no refresh token was presented twice');

# --- the store cannot be written: the backend keeps the token and saves it next time
sleep_past_expiry(1.5);
my $dir = $node->data_dir . '/pg_lms_fdw';
chmod 0500, $dir;
$before = grants()->{refreshed};
($ret, $out, $err) = $node->psql('postgres', qq{
	SELECT count(*) FROM grade_results;
	COPY (SELECT 1) TO PROGRAM 'chmod 0700 $dir';
	SELECT count(*) FROM grade_results;
}, on_error_stop => 0);
chmod 0700, $dir;
like($err, qr/could not create file "pg_lms_fdw\/[0-9_]+\.tmp": Permission denied/,
	'a refresh whose token cannot be saved is an error');
is($out, '20', 'the same backend saved the token it kept at its next scan, and read on');
my @ev = @{ grants()->{events} };
is($ev[-1]{presented}, $ev[-2]{issued}, 'the next refresh presented the token the failed save had kept');
like(slurp_file($store), qr/^refresh rt-$ev[-1]{issued}-/m, 'the store holds its successor');
is(grants()->{reused}, 0, 'no refresh token was presented twice');

# --- eight concurrent scans at an expiry boundary -----------------------------
# the access token has just expired; the next one lives a minute, so one
# refresh serves all eight backends
sleep_past_expiry(1.5);
$mock->scenario(d2l_access_ttl_s => 60);
$before = grants();
my (@h, @out, @err);
for my $i (0 .. 7)
{
	($out[$i], $err[$i]) = ('', '');
	$h[$i] = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
		'SELECT count(*) FROM grade_results' ], '>', \$out[$i], '2>', \$err[$i]);
}
$_->finish for @h;
is(join(',', map { chomp(my $x = $_); $x } @out), join(',', ('20') x 8), 'all eight scans succeeded');
is(join('', @err), '', 'none reported an error');
my $after = grants();
my @new = @{ $after->{events} }[ scalar(@{ $before->{events} }) .. $#{ $after->{events} } ];
diag(sprintf('8 concurrent scans: %d token requests (%s), %d reused refresh tokens',
	scalar(@new), join(', ', map { "presented #$_->{presented}: $_->{outcome}" } @new),
	$after->{reused} - $before->{reused}));
is($after->{reused}, $before->{reused}, 'the mock saw no reused refresh token');
is(scalar(@new), 1, 'one refresh served all eight (the others used its result)');

# --- a 401 on a token the FDW holds: renewed once, the request sent again ------
$before = grants()->{refreshed};
my $seen = scalar(@{ $mock->requests });
$mock->scenario(faults => [ { path => '/dataExport/list$', status => 401, count => 1,
	headers => { 'WWW-Authenticate' => 'Bearer error="invalid_token"' } } ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM grade_results'), '20',
	'a scan whose still-valid token is refused once');
is(grants()->{refreshed}, $before + 1, 'got a new token for it');
my @since = @{ $mock->requests };
@since = @since[ $seen .. $#since ];
is(scalar(grep { $_->{path} =~ m{/dataExport/list$} } @since), 2,
	'and sent the refused request once more');
$mock->scenario(faults => [ { path => '/dataExport/list$', status => 401, count => 2 } ]);
($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM grade_results',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
is(sqlstate_of($err), '28000', 'a second 401 in a row is an authorization error');
is(grants()->{reused}, 0, 'no refresh token was presented twice');

# --- a 401 on the download: the token renewed once, the download sent again --
$before = grants()->{refreshed};
$seen = scalar(@{ $mock->requests });
$mock->scenario(faults => [ { path => '/dataExport/bds/(download/)?[0-9a-f]{8}-', status => 401, count => 1,
	headers => { 'WWW-Authenticate' => 'Bearer error="invalid_token"' } } ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM grade_results'), '20',
	'a scan whose download is refused once with 401');
is(grants()->{refreshed}, $before + 1, 'got a new token for the download');
@since = @{ $mock->requests };
@since = @since[ $seen .. $#since ];
is(scalar(grep { $_->{path} =~ m{/dataExport/bds/(download/)?[0-9a-f]{8}-} } @since), 2,
	'and sent the download once more');
$mock->scenario(faults => [ { path => '/dataExport/bds/(download/)?[0-9a-f]{8}-', status => 401, count => 2 } ]);
($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM grade_results',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
is(sqlstate_of($err), '28000', 'a second 401 on the download is an authorization error');
$mock->scenario(faults => []);

# --- ALTER USER MAPPING re-seeds ----------------------------------------------
my $fresh = authorize();
$node->safe_psql('postgres',
	"ALTER USER MAPPING FOR CURRENT_USER SERVER bs OPTIONS (SET refresh_token '$fresh->{refresh_token}')");
is($node->safe_psql('postgres', 'SELECT count(*) FROM grade_results'), '20', 'a scan after ALTER USER MAPPING');
my $last = grants()->{events}[-1];
is($last->{presented}, $fresh->{n}, 'the person\'s new refresh token replaced the stored one');
is($last->{outcome}, 'ok', 'and was accepted');

# a dead token set by hand: invalid_grant, a clear error without the token
$node->safe_psql('postgres',
	"ALTER USER MAPPING FOR CURRENT_USER SERVER bs OPTIONS (SET refresh_token '$seed->{refresh_token}')");
($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM grade_results',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
is(sqlstate_of($err), '28000', 'a used refresh token is an authorization error');
like($err, qr/refused the refresh token \(invalid_grant\)/, 'naming invalid_grant');
like($err, qr/HINT:.*SET refresh_token/, 'with a hint to re-seed');
unlike($err, qr/rt-\d/, 'without the token');

# --- no token in the server log or EXPLAIN -------------------------------------
like($node->safe_psql('postgres', 'EXPLAIN (VERBOSE) SELECT * FROM grade_results'),
	qr/LMS: brightspace data set Grade Results/, 'EXPLAIN');
unlike($node->safe_psql('postgres', 'EXPLAIN (VERBOSE) SELECT * FROM grade_results'), qr/rt-\d|eyJ/,
	'EXPLAIN shows no token');
my $log = slurp_file($node->logfile);
like($log, qr/new access token for user mapping \d+/, 'the refreshes were logged (debug1)');
unlike($log, qr/rt-\d+-[0-9a-f]{8}|eyJ[A-Za-z0-9_-]{10}/, 'the server log holds no refresh or access token');

$node->stop;
done_testing();
