/*-------------------------------------------------------------------------
 *
 * address.h
 *		  The address policy: which network addresses are not public
 *
 * IDENTIFICATION
 *		  src/address.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LMS_ADDRESS_H
#define LMS_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef enum LmsAddressClass
{
	LMS_ADDR_PUBLIC = 0,
	LMS_ADDR_LOOPBACK,			/* 127.0.0.0/8, ::1, 0.0.0.0/8, ::, localhost */
	LMS_ADDR_LINK_LOCAL,		/* 169.254.0.0/16, fe80::/10 */
	LMS_ADDR_PRIVATE			/* 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10 */
} LmsAddressClass;

extern LmsAddressClass lms_address_class(const struct sockaddr *sa,
										 size_t len);
extern LmsAddressClass lms_host_class(const char *host);
extern const char *lms_address_class_name(LmsAddressClass cls);
extern bool lms_address_text(const struct sockaddr *sa, size_t len,
							 char *buf, size_t size);

#endif							/* LMS_ADDRESS_H */
