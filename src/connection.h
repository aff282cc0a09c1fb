/*-------------------------------------------------------------------------
 *
 * connection.h
 *		  The per-backend cache of curl state, one per user mapping
 *
 * IDENTIFICATION
 *		  src/connection.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_CONNECTION_H
#define LMS_CONNECTION_H

#include <curl/curl.h>

#include "options.h"

/* A cached per-user-mapping curl state: one multi handle, reused easy handles. */
typedef struct LmsConn LmsConn;

extern LmsConn *lmsfdw_get_connection(const LmsOptions *opts);
extern CURLM *lmsfdw_conn_multi(LmsConn *conn);
extern int	lmsfdw_conn_acquire(LmsConn *conn, CURL **easy);
extern void lmsfdw_conn_release(LmsConn *conn, int index);
extern bool lmsfdw_disconnect_server(Oid serverid);
extern bool lmsfdw_disconnect_all(void);
extern void lmsfdw_conn_sockets(LmsConn *conn, int **fds, int **what,
								int *nsockets);

#endif							/* LMS_CONNECTION_H */
