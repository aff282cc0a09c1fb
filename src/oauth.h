/*-------------------------------------------------------------------------
 *
 * oauth.h
 *		  Access tokens from a rotating OAuth 2.0 refresh token
 *
 * IDENTIFICATION
 *		  src/oauth.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_OAUTH_H
#define LMS_OAUTH_H

#include "connection.h"
#include "options.h"

extern const char *lmsfdw_oauth_access_token(LmsConn *conn,
											 const LmsOptions *opts,
											 const char *rejected);

#endif							/* LMS_OAUTH_H */
