/*-------------------------------------------------------------------------
 *
 * url_segments.h
 *		  The length of an API URL's segment list, counted by the compiler
 *
 * lmsfdw_api_url_segments (url.h) takes its segments as a list whose
 * length the macro below counts, so a NULL in the list is a segment that
 * is absent, never the end of the list: a provider may pass optional
 * trailing segments as NULL, and a NULL before a segment that is present
 * (an id not known yet in /reports/<report>/<id>/abort) cannot quietly
 * shorten the URL to another resource's.  No PostgreSQL here, so that the
 * rule is unit-tested (test/unit/test_url_segments.c).
 *
 * IDENTIFICATION
 *		  src/url_segments.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_URL_SEGMENTS_H
#define LMS_URL_SEGMENTS_H

/* the segments as an array, and their number */
#define LMS_SEGMENT_ARRAY(...) ((const char *const[]) {__VA_ARGS__})
#define LMS_SEGMENT_COUNT(...) \
	((int) (sizeof(LMS_SEGMENT_ARRAY(__VA_ARGS__)) / sizeof(const char *)))

/*
 * lms_url_segments_used
 *		How many of segs[0..n) make the path: trailing NULLs are absent
 *		optional segments, left out; -1 - i when segs[i] is NULL and a
 *		segment after it is present.
 */
static inline int
lms_url_segments_used(const char *const *segs, int n)
{
	int			used = n;
	int			i;

	while (used > 0 && segs[used - 1] == NULL)
		used--;
	for (i = 0; i < used; i++)
		if (segs[i] == NULL)
			return -1 - i;
	return used;
}

#endif							/* LMS_URL_SEGMENTS_H */
