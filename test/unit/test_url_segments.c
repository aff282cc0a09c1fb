/*
 * test_url_segments.c
 *		Unit tests of the segment list rule of lmsfdw_api_url_segments
 *		(src/url_segments.h): the list's length is counted, so a NULL is an
 *		absent segment, never its end.
 */
#include <stddef.h>

#include "url_segments.h"
#include "unit.h"

/* what lmsfdw_api_url_segments hands to lmsfdw_api_url_segv */
#define USED(...) \
	lms_url_segments_used(LMS_SEGMENT_ARRAY(__VA_ARGS__), \
						  LMS_SEGMENT_COUNT(__VA_ARGS__))

int
main(void)
{
	const char *id = NULL;
	const char *action = "abort";
	int			calls = 0;

	UNIT_CHECK(LMS_SEGMENT_COUNT("a") == 1, "one segment");
	UNIT_CHECK(LMS_SEGMENT_COUNT("a", NULL, "b", NULL) == 4,
			   "NULLs are counted as segments");
	UNIT_CHECK(USED("api", "v1", "accounts") == 3, "all present: %d",
			   USED("api", "v1", "accounts"));
	UNIT_CHECK(USED("reports", "r", NULL, NULL) == 2,
			   "trailing NULLs are optional segments left out: %d",
			   USED("reports", "r", NULL, NULL));
	UNIT_CHECK(USED(NULL) == 0, "only an absent segment: %d", USED(NULL));

	/* /reports/<report>/<id>/<action> with no id: not /reports/<report> */
	UNIT_CHECK(USED("reports", "r", id, action) == -3,
			   "a NULL before a present segment is refused, naming it: %d",
			   USED("reports", "r", id, action));
	UNIT_CHECK(USED(NULL, "b") == -1, "a missing first segment: %d",
			   USED(NULL, "b"));
	UNIT_CHECK(USED("a", NULL, "c", NULL) == -2,
			   "refused even with trailing NULLs after: %d",
			   USED("a", NULL, "c", NULL));

	/* each segment is evaluated once, in the list only */
	UNIT_CHECK(USED("a", (calls++, "b")) == 2 && calls == 1,
			   "arguments evaluated once: %d", calls);

	UNIT_DONE("test_url_segments");
}
