/*-------------------------------------------------------------------------
 *
 * history.c
 *		  Learned durations: the last runs of each export
 *
 * For every export (database, server, user mapping, resource and export
 * parameters, hashed into a 64-bit key: no text, no credential) we keep the
 * last LMS_LEARN_RUNS completed runs, each as when it ended and how
 * precisely that is known (schedule.h), so that the next run's status
 * checks can be aimed at them (schedule.c).  Failed, cancelled and reused
 * jobs are not runs.
 *
 * Where the table lives:
 * - With shared_preload_libraries = 'lms_fdw' it is in shared memory
 *	 (shared.c asks for it), under one LWLock, shared by every backend.  The
 *	 postmaster writes it to LMS_HISTORY_FILE at a clean shutdown and
 *	 shared.c loads it back at start (then removes the file, so a crash
 *	 never brings back stale figures), as pg_stat_statements keeps its
 *	 statistics.  A file of another format version is ignored.
 * - Otherwise each backend has its own table, gone when it exits.
 *
 * The table has LMS_HISTORY_ENTRIES entries; when full, the export used
 * least recently gives way.  lms_fdw_forget() empties it.
 *
 * IDENTIFICATION
 *		  src/history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "common/hashfn.h"
#include "history.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "shared.h"
#include "storage/fd.h"
#include "utils/timestamp.h"

#define LMS_HISTORY_ENTRIES		256
#define LMS_HISTORY_FILE		"pg_stat/lms_fdw_history.stat"
#define LMS_HISTORY_MAGIC		0x4C4D5302	/* "LMS", format 2 */

typedef struct LmsHistoryEntry
{
	uint64		key;			/* 0: free */
	int32		nruns;			/* runs kept, at most LMS_LEARN_RUNS */
	int32		next;			/* ring position of the next run */
	TimestampTz used;			/* last run added or read */
	LmsLearnedRun runs[LMS_LEARN_RUNS];
} LmsHistoryEntry;

typedef struct LmsHistoryTable
{
	LmsHistoryEntry entries[LMS_HISTORY_ENTRIES];
} LmsHistoryTable;

/* shared (when preloaded) or this backend's own */
static LmsSharedArea area = {sizeof(LmsHistoryTable), NULL, NULL, NULL};

/*
 * lmsfdw_history_key
 *		The export's key: a hash of its identity (never 0).
 */
uint64
lmsfdw_history_key(Oid serverid, Oid umid, const char *export_key)
{
	char	   *identity = psprintf("%u/%u/%u/%s", MyDatabaseId, serverid, umid,
									export_key);
	uint64		key = hash_bytes_extended((const unsigned char *) identity,
										  (int) strlen(identity), 0);

	pfree(identity);
	return key != 0 ? key : 1;
}

static LmsHistoryEntry *
history_find(LmsHistoryTable *t, uint64 key)
{
	int			i;

	for (i = 0; i < LMS_HISTORY_ENTRIES; i++)
		if (t->entries[i].key == key)
			return &t->entries[i];
	return NULL;
}

/*
 * lmsfdw_history_get
 *		Copy the runs of key, oldest first, into runs (room for
 *		LMS_LEARN_RUNS); returns how many.
 */
int
lmsfdw_history_get(uint64 key, LmsLearnedRun *runs)
{
	LmsHistoryTable *t = lmsfdw_area_lock(&area, LW_SHARED);
	LmsHistoryEntry *e = history_find(t, key);
	int			n = 0;
	int			i;

	if (e)
	{
		int			first = e->nruns < LMS_LEARN_RUNS ? 0 : e->next;

		n = e->nruns;
		for (i = 0; i < n; i++)
			runs[i] = e->runs[(first + i) % LMS_LEARN_RUNS];
		/* a shared lock: a racy timestamp only affects eviction order */
		e->used = GetCurrentTimestamp();
	}
	lmsfdw_area_unlock(&area);
	return n;
}

/*
 * lmsfdw_history_add
 *		Remember one completed run of key (the oldest of a full entry goes).
 */
void
lmsfdw_history_add(uint64 key, const LmsLearnedRun *run)
{
	LmsHistoryTable *t;
	LmsHistoryEntry *e;

	if (!(run->duration_ms > 0.0))
		return;
	t = lmsfdw_area_lock(&area, LW_EXCLUSIVE);
	e = history_find(t, key);
	if (e == NULL)
	{
		int			i;

		/* a free entry, or the one used least recently */
		e = &t->entries[0];
		for (i = 0; i < LMS_HISTORY_ENTRIES && e->key != 0; i++)
			if (t->entries[i].key == 0 || t->entries[i].used < e->used)
				e = &t->entries[i];
		memset(e, 0, sizeof(LmsHistoryEntry));
		e->key = key;
	}
	e->runs[e->next] = *run;
	e->next = (e->next + 1) % LMS_LEARN_RUNS;
	if (e->nruns < LMS_LEARN_RUNS)
		e->nruns++;
	e->used = GetCurrentTimestamp();
	lmsfdw_area_unlock(&area);
}

/*
 * lmsfdw_history_forget
 *		Forget every learned duration (of all users when shared: they are
 *		only durations); returns the number of exports forgotten.
 */
int
lmsfdw_history_forget(void)
{
	LmsHistoryTable *t = lmsfdw_area_lock(&area, LW_EXCLUSIVE);
	int			n = 0;
	int			i;

	for (i = 0; i < LMS_HISTORY_ENTRIES; i++)
		if (t->entries[i].key != 0)
			n++;
	memset(t, 0, sizeof(LmsHistoryTable));
	lmsfdw_area_unlock(&area);
	return n;
}

/* ----------------------------------------------------------------
 * Shared memory and the file (shared.c calls these when preloaded)
 * ----------------------------------------------------------------
 */

Size
lmsfdw_history_shmem_size(void)
{
	return MAXALIGN(sizeof(LmsHistoryTable));
}

/* Read the file of the last clean shutdown, if any, then remove it. */
static void
history_load(LmsHistoryTable *t)
{
	FILE	   *file;
	uint32		magic;
	int32		n;
	int			i;

	file = AllocateFile(LMS_HISTORY_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", LMS_HISTORY_FILE)));
		return;
	}
	if (fread(&magic, sizeof(magic), 1, file) != 1 ||
		magic != LMS_HISTORY_MAGIC ||
		fread(&n, sizeof(n), 1, file) != 1 || n < 0 ||
		n > LMS_HISTORY_ENTRIES)
		goto bad;
	for (i = 0; i < n; i++)
	{
		LmsHistoryEntry *e = &t->entries[i];

		if (fread(e, sizeof(LmsHistoryEntry), 1, file) != 1 ||
			e->nruns < 0 || e->nruns > LMS_LEARN_RUNS ||
			e->next < 0 || e->next >= LMS_LEARN_RUNS)
			goto bad;
	}
	FreeFile(file);
	unlink(LMS_HISTORY_FILE);
	return;

bad:
	ereport(LOG,
			(errmsg("ignoring learned durations in file \"%s\": not written by this version of lms_fdw",
					LMS_HISTORY_FILE)));
	memset(t, 0, sizeof(LmsHistoryTable));
	FreeFile(file);
	unlink(LMS_HISTORY_FILE);
}

/*
 * lmsfdw_history_shmem_attach
 *		Use the shared table at mem, guarded by lock; the process that
 *		creates it (found false) loads the saved file into it.
 */
void
lmsfdw_history_shmem_attach(void *mem, LWLock *lock, bool found)
{
	area.shared = mem;
	area.lock = lock;
	if (!found)
	{
		memset(mem, 0, sizeof(LmsHistoryTable));
		history_load((LmsHistoryTable *) mem);
	}
}

/*
 * lmsfdw_history_save
 *		At a clean shutdown (postmaster, no other process left): write the
 *		table to a temporary file, then rename it into place.
 */
void
lmsfdw_history_save(void)
{
	const char *tmp = LMS_HISTORY_FILE ".tmp";
	LmsHistoryTable *shared_table = (LmsHistoryTable *) area.shared;
	FILE	   *file;
	uint32		magic = LMS_HISTORY_MAGIC;
	int32		n = 0;
	int			i;

	if (shared_table == NULL)
		return;
	for (i = 0; i < LMS_HISTORY_ENTRIES; i++)
		if (shared_table->entries[i].key != 0)
			n++;
	file = AllocateFile(tmp, PG_BINARY_W);
	if (file == NULL)
		goto error;
	if (fwrite(&magic, sizeof(magic), 1, file) != 1 ||
		fwrite(&n, sizeof(n), 1, file) != 1)
		goto error;
	for (i = 0; i < LMS_HISTORY_ENTRIES; i++)
		if (shared_table->entries[i].key != 0 &&
			fwrite(&shared_table->entries[i], sizeof(LmsHistoryEntry), 1,
				   file) != 1)
			goto error;
	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(tmp, LMS_HISTORY_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", tmp)));
	if (file)
		FreeFile(file);
	unlink(tmp);
}
