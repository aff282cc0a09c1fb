/*-------------------------------------------------------------------------
 *
 * url.h
 *		  Everything about URLs: building, escaping, policy, redaction
 *
 * IDENTIFICATION
 *		  src/url.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_URL_H
#define LMS_URL_H

#include "options.h"
#include "url_segments.h"

/* policy and comparison */
extern bool lmsfdw_has_control_char(const char *s);
extern const char *lmsfdw_url_problem(const char *url, bool allow_http);
extern const char *lmsfdw_base_url_problem(const char *url, bool allow_http);
extern bool lmsfdw_url_names_private_host(const char *url);
extern bool lmsfdw_url_may_reach_private(const LmsOptions *opts,
										 const char *url);
extern const char *lmsfdw_request_url_problem(const LmsOptions *opts,
											  const char *url);
extern bool lmsfdw_same_origin(const char *a, const char *b);
extern char *lmsfdw_resolve_url(const char *base, const char *ref);
extern char *lmsfdw_url_host(const char *url);
extern char *lmsfdw_link_target(const char *link, const char *rel);

/* redaction, before any text reaches a message */
extern char *lmsfdw_redact_url(const char *url);
extern char *lmsfdw_redact_path(const char *path);
extern char *lmsfdw_redact_text(const char *text, size_t len,
								const LmsOptions *opts);

/*
 * building: providers build API URLs with lmsfdw_api_url_segments (each
 * segment escaped, never read as '/', '.' or '..'), add query parameters
 * with lmsfdw_url_add_query, and resolve URLs the LMS hands back with
 * lmsfdw_resolve_url.  lmsfdw_api_url takes a path as it stands: only for
 * paths an administrator configured (the generic provider's *_path).
 */
#define lmsfdw_api_url_segments(opts, ...) \
	lmsfdw_api_url_segv((opts), LMS_SEGMENT_ARRAY(__VA_ARGS__), \
						LMS_SEGMENT_COUNT(__VA_ARGS__))
extern char *lmsfdw_api_url_segv(const LmsOptions *opts,
								 const char *const *segs, int n);
extern char *lmsfdw_url_add_query(const char *url, const char *name,
								  const char *value);
extern char *lmsfdw_api_url(const LmsOptions *opts, const char *path);
extern char *lmsfdw_form_encode(const char *s);
extern char *lmsfdw_path_escape(const char *s);

#endif							/* LMS_URL_H */
