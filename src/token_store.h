/*-------------------------------------------------------------------------
 *
 * token_store.h
 *		  Durable, locked storage of rotating OAuth refresh tokens
 *
 * IDENTIFICATION
 *		  src/token_store.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_TOKEN_STORE_H
#define LMS_TOKEN_STORE_H

/* The directory under the data directory that holds the stores. */
#define LMS_TOKEN_STORE_DIR "pg_lms_fdw"

typedef struct LmsTokenStore
{
	/* as read under the lock */
	char	   *refresh_token;	/* the live refresh token (the seed if new) */
	char	   *access_token;	/* a saved access token, or NULL */
	int64		access_issued_ms;	/* when it was obtained, Unix epoch ms */
	int64		access_expires_ms;	/* its expiry, Unix epoch ms */
	bool		reseeded;		/* the seed replaced what was stored */

	/* private */
	char	   *path;			/* the store file */
	char	   *seed_hash;		/* hex SHA-256 of the seed option */
	int			lock_fd;		/* transient fd holding the flock */
} LmsTokenStore;

extern char *lmsfdw_token_seed_hash(const char *seed);
extern LmsTokenStore *lmsfdw_token_store_open(Oid dbid, Oid umid,
											  const char *seed);
extern void lmsfdw_token_store_save(LmsTokenStore *ts, const char *refresh_token,
									const char *access_token,
									int64 access_issued_ms,
									int64 access_expires_ms);
extern void lmsfdw_token_store_close(LmsTokenStore *ts);
extern int64 lmsfdw_epoch_ms(void);

#endif							/* LMS_TOKEN_STORE_H */
