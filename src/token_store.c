/*-------------------------------------------------------------------------
 *
 * token_store.c
 *		  Durable, locked storage of rotating OAuth refresh tokens
 *
 * Brightspace hands out a new refresh token with every refresh and the old
 * one stops working at once, so the token a backend just received is the
 * only key to the account: losing it locks the mapping out until a person
 * authorises the app again.  This file keeps it where it survives anything
 * short of losing the data directory, and makes sure two backends never
 * spend the same refresh token.
 *
 * WHERE.  One file per user mapping, $PGDATA/pg_lms_fdw/<database>_<umid>,
 * mode 0600 inside the 0700 data directory: readable by the server's
 * operating-system owner only, never through SQL by ordinary roles (only
 * superusers and members of pg_read_server_files can read server files).
 * It is outside every table, so no transaction rolls it back: a token
 * saved by a query that later fails, is cancelled, or whose backend exits
 * stays saved.  Base backups copy the directory like any other file.
 *
 * HOW.  The file is replaced, never edited: the new content goes to a
 * temporary file, which is fsync'ed and renamed over the old one with
 * durable_rename() (which also fsyncs the directory), before the caller
 * uses the new access token.  A crash leaves either the old or the new
 * file, whole.
 *
 * ONE AT A TIME.  A second file, <database>_<umid>.lock, carries an
 * exclusive flock() for as long as one backend reads, refreshes and saves.
 * The lock needs no shared memory (no shared_preload_libraries); it is
 * released by closing the descriptor, which fd.c does at the end of the
 * transaction even after an error.  A backend waiting for it sleeps on its
 * latch in short steps and answers a cancel.  Once it has the lock it
 * reads the file again, and uses an access token the previous holder saved
 * if that one is still fresh, instead of refreshing once more.
 *
 * RE-SEEDING.  The file records a SHA-256 hash of the user mapping's
 * refresh_token option as it was when the file was seeded.  When a person
 * sets a new token with ALTER USER MAPPING, the hash no longer matches and
 * the option's token replaces the stored one.
 *
 * Nothing here writes a token into a message or the log.
 *
 * IDENTIFICATION
 *		  src/token_store.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "token_store.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

/* the store file is small; anything larger is not ours */
#define TOKEN_STORE_MAX_BYTES	65536
#define TOKEN_STORE_VERSION		"1"

/* Unix epoch milliseconds, now */
int64
lmsfdw_epoch_ms(void)
{
	return GetCurrentTimestamp() / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
}

/*
 * lmsfdw_token_seed_hash
 *		Hex SHA-256 of a seed refresh token: what the store remembers of it.
 */
char *
lmsfdw_token_seed_hash(const char *seed)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;
	bool		ok;

	ok = ctx != NULL &&
		pg_cryptohash_init(ctx) == 0 &&
		pg_cryptohash_update(ctx, (const uint8 *) seed, strlen(seed)) == 0 &&
#if PG_VERSION_NUM >= 150000
		pg_cryptohash_final(ctx, digest, sizeof(digest)) == 0;
#else
		pg_cryptohash_final(ctx, digest) == 0;
#endif
	pg_cryptohash_free(ctx);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not compute a SHA-256 hash")));
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return hex;
}

/* Create the store directory if it is missing, durably. */
static void
ensure_directory(void)
{
	if (MakePGDirectory(LMS_TOKEN_STORE_DIR) == 0)
	{
		fsync_fname(LMS_TOKEN_STORE_DIR, true);
		fsync_fname(".", true);
	}
	else if (errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m",
						LMS_TOKEN_STORE_DIR)));
}

/* Take the exclusive lock on path, sleeping on the latch while it is held. */
static int
lock_file(const char *path)
{
	int			fd = OpenTransientFilePerm(path, O_RDWR | O_CREAT | PG_BINARY,
										   S_IRUSR | S_IWUSR);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0)
	{
		if (errno != EWOULDBLOCK && errno != EINTR)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not lock file \"%s\": %m", path)));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return fd;
}

/* The whole store file, NUL-terminated; NULL if there is none. */
static char *
read_store(const char *path)
{
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	char	   *buf;
	int			len = 0;
	int			n;

	if (fd < 0)
	{
		if (errno == ENOENT)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	}
	buf = palloc(TOKEN_STORE_MAX_BYTES + 1);
	while ((n = read(fd, buf + len, TOKEN_STORE_MAX_BYTES - len)) > 0)
		len += n;
	if (n < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
	CloseTransientFile(fd);
	buf[len] = '\0';
	return buf;
}

/* The value of "key value" line key in text, or NULL. */
static char *
store_value(const char *text, const char *key)
{
	size_t		klen = strlen(key);
	const char *line;

	for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
	{
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
		{
			const char *v = line + klen + 1;
			const char *end = strchr(v, '\n');

			return pnstrdup(v, end ? (size_t) (end - v) : strlen(v));
		}
	}
	return NULL;
}

/*
 * lmsfdw_token_store_open
 *		Lock the store of user mapping umid in database dbid and read it.
 *
 * seed is the mapping's refresh_token option.  When the store is new, or
 * was seeded from another value of the option, the seed is the live
 * refresh token.  The lock is held until lmsfdw_token_store_close (or the
 * end of the transaction).
 */
LmsTokenStore *
lmsfdw_token_store_open(Oid dbid, Oid umid, const char *seed)
{
	LmsTokenStore *ts = palloc0(sizeof(LmsTokenStore));
	char	   *text;
	char	   *stored_seed = NULL;

	ensure_directory();
	ts->path = psprintf("%s/%u_%u", LMS_TOKEN_STORE_DIR, dbid, umid);
	ts->seed_hash = lmsfdw_token_seed_hash(seed);
	ts->lock_fd = lock_file(psprintf("%s.lock", ts->path));

	text = read_store(ts->path);
	if (text)
	{
		char	   *version = store_value(text, "version");

		if (version == NULL || strcmp(version, TOKEN_STORE_VERSION) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("token store file \"%s\" is not in a known format",
							ts->path),
					 errhint("Remove the file and set the refresh token again with ALTER USER MAPPING ... OPTIONS (SET refresh_token '...').")));
		stored_seed = store_value(text, "seed");
	}
	if (text && stored_seed && strcmp(stored_seed, ts->seed_hash) == 0)
	{
		char	   *issued = store_value(text, "issued");
		char	   *expires = store_value(text, "expires");

		ts->refresh_token = store_value(text, "refresh");
		ts->access_token = store_value(text, "access");
		ts->access_issued_ms = issued ? strtoll(issued, NULL, 10) : 0;
		ts->access_expires_ms = expires ? strtoll(expires, NULL, 10) : 0;
	}
	if (ts->refresh_token == NULL)
	{
		ts->refresh_token = pstrdup(seed);
		ts->access_token = NULL;
		ts->reseeded = text != NULL;
	}
	if (text)
		explicit_bzero(text, strlen(text));
	return ts;
}

/*
 * lmsfdw_token_store_save
 *		Replace the store's content durably: on return the new refresh token
 *		survives a crash.  access_token may be NULL.
 */
void
lmsfdw_token_store_save(LmsTokenStore *ts, const char *refresh_token,
						const char *access_token, int64 access_issued_ms,
						int64 access_expires_ms)
{
	char	   *tmp = psprintf("%s.tmp", ts->path);
	StringInfoData buf;
	int			fd;

	if (strpbrk(refresh_token, "\r\n") ||
		(access_token && strpbrk(access_token, "\r\n")))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the OAuth token endpoint answered a token containing a line break")));

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "# lms_fdw OAuth token store of one user mapping: a credential, keep it private\n"
					 "version %s\nseed %s\nrefresh %s\n",
					 TOKEN_STORE_VERSION, ts->seed_hash, refresh_token);
	if (access_token)
		appendStringInfo(&buf, "access %s\nissued " INT64_FORMAT "\nexpires " INT64_FORMAT "\n",
						 access_token, access_issued_ms, access_expires_ms);

	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmp)));
	errno = 0;
	if (write(fd, buf.data, buf.len) != buf.len)
	{
		if (errno == 0)
			errno = ENOSPC;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmp)));
	}
	if (pg_fsync(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", tmp)));
	if (CloseTransientFile(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", tmp)));
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);

	/* fsyncs the file again and the directory after the rename */
	(void) durable_rename(tmp, ts->path, ERROR);

	ts->refresh_token = pstrdup(refresh_token);
	ts->access_token = access_token ? pstrdup(access_token) : NULL;
	ts->access_issued_ms = access_issued_ms;
	ts->access_expires_ms = access_expires_ms;
}

/*
 * lmsfdw_token_store_close
 *		Release the lock (an error before this releases it at transaction end).
 */
void
lmsfdw_token_store_close(LmsTokenStore *ts)
{
	if (ts->lock_fd >= 0)
	{
		(void) flock(ts->lock_fd, LOCK_UN);
		CloseTransientFile(ts->lock_fd);
		ts->lock_fd = -1;
	}
}
