/*-------------------------------------------------------------------------
 *
 * provider.h
 *		  The provider vtable: what one LMS's export API looks like
 *
 * Providers describe requests and read answers; they never send anything
 * (the job does).  They build every URL through url.h.
 *
 * IDENTIFICATION
 *		  src/providers/provider.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_PROVIDER_H
#define LMS_PROVIDER_H

#include "document.h"
#include "http.h"
#include "job.h"
#include "options.h"
#include "url.h"

typedef struct LmsProvider
{
	const char *name;
	const char *default_format;
	bool		start_idempotent;	/* may the start request be repeated? */
	/*
	 * Where a column without a field option is looked for after its own
	 * name, in order (Canvas Data 2: "key", "value", "meta"); NULL: nowhere.
	 */
	const char *const *field_prefixes;
	/* required table options, checked at plan time */
	void		(*check_table) (const LmsOptions *opts);
	/* "canvas report grade_export_csv (account self)" */
	char	   *(*describe) (const LmsOptions *opts);
	/* the export parameter the resource cannot do without, or NULL */
	const char *(*required_param) (const LmsOptions *opts);
	/*
	 * Optional steps before the start (a token, a name to look up) and
	 * after completion (result URLs to ask for): while the *_request
	 * function fills req and returns true, the job sends it and hands the
	 * answer to the matching read function.
	 */
	bool		(*prepare_request) (LmsJob *job, int step, LmsRequestSpec *req);
	void		(*read_prepare) (LmsJob *job, int step, LmsDoc *doc);
	bool		(*resolve_request) (LmsJob *job, int step, LmsRequestSpec *req);
	void		(*read_resolve) (LmsJob *job, int step, LmsDoc *doc);
	void		(*start_request) (LmsJob *job, LmsRequestSpec *req);
	void		(*read_start) (LmsJob *job, LmsDoc *doc);
	void		(*status_request) (LmsJob *job, LmsRequestSpec *req);
	void		(*read_status) (LmsJob *job, LmsDoc *doc);
	/* false when the API cannot cancel a job in its current state */
	bool		(*cancel_request) (LmsJob *job, LmsRequestSpec *req);
} LmsProvider;

extern const LmsProvider lms_provider_canvas;
extern const LmsProvider lms_provider_canvas_dap;
extern const LmsProvider lms_provider_brightspace;
extern const LmsProvider lms_provider_generic;
extern const LmsProvider *lmsfdw_find_provider(const char *name);

#endif							/* LMS_PROVIDER_H */
