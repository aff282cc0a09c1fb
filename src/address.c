/*-------------------------------------------------------------------------
 *
 * address.c
 *		  The address policy: loopback, link-local and private addresses
 *
 * Loopback (127.0.0.0/8, ::1, and 0.0.0.0/8 and ::, which reach the local
 * host too), link-local (169.254.0.0/16, fe80::/10: cloud metadata lives
 * there) and private (10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10)
 * addresses are not public.  An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * is judged as the IPv4 address it maps.
 *
 * lms_address_class judges an address curl is about to connect to (every
 * resolved address of every hop: http.c's socket callback), so a DNS name
 * that resolves to 127.0.0.1 counts as loopback.  lms_host_class judges a
 * URL's host as written: an IP literal, or the name "localhost"; any other
 * name is public until it resolves.  Who may reach what is decided in
 * url.c and options.c; this file only classifies.
 *
 * Pure C (no PostgreSQL), so it is unit-tested on its own.
 *
 * IDENTIFICATION
 *		  src/address.c
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "address.h"

static LmsAddressClass
ipv4_class(uint32_t a)
{
	if ((a >> 24) == 127 || (a >> 24) == 0)
		return LMS_ADDR_LOOPBACK;
	if ((a >> 16) == ((169u << 8) | 254u))
		return LMS_ADDR_LINK_LOCAL;
	if ((a >> 24) == 10 ||
		(a >> 20) == ((172u << 4) | 1u) ||	/* 172.16.0.0/12 */
		(a >> 16) == ((192u << 8) | 168u))
		return LMS_ADDR_PRIVATE;
	return LMS_ADDR_PUBLIC;
}

static LmsAddressClass
ipv6_class(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;

	if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
		return LMS_ADDR_LOOPBACK;
	if (IN6_IS_ADDR_V4MAPPED(a))
		return ipv4_class(((uint32_t) b[12] << 24) | ((uint32_t) b[13] << 16) |
						  ((uint32_t) b[14] << 8) | (uint32_t) b[15]);
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return LMS_ADDR_LINK_LOCAL;
	if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0))
		return LMS_ADDR_PRIVATE;
	return LMS_ADDR_PUBLIC;
}

/*
 * lms_address_class
 *		The class of a socket address; an address family other than IPv4
 *		and IPv6 is never public.
 */
LmsAddressClass
lms_address_class(const struct sockaddr *sa, size_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ipv4_class(ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return ipv6_class(&((const struct sockaddr_in6 *) sa)->sin6_addr);
	return LMS_ADDR_LOOPBACK;
}

/*
 * lms_host_class
 *		The class of a URL's host as written: "127.0.0.1", "[::1]" (curl's
 *		spelling, brackets included), "localhost" (with or without the
 *		final dot).  Other names are public here.
 */
LmsAddressClass
lms_host_class(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char		buf[64];
	size_t		n = strlen(host);

	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return LMS_ADDR_LOOPBACK;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ipv4_class(ntohl(a4.s_addr));
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(buf))
	{
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		/* a zone id (fe80::1%eth0) is link-local whatever it says */
		if (strchr(buf, '%'))
			return LMS_ADDR_LINK_LOCAL;
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return ipv6_class(&a6);
	return LMS_ADDR_PUBLIC;
}

const char *
lms_address_class_name(LmsAddressClass cls)
{
	switch (cls)
	{
		case LMS_ADDR_LOOPBACK:
			return "a loopback address";
		case LMS_ADDR_LINK_LOCAL:
			return "a link-local address";
		case LMS_ADDR_PRIVATE:
			return "a private address";
		case LMS_ADDR_PUBLIC:
			break;
	}
	return "a public address";
}

/* The address as text ("127.0.0.1", "::1") into buf; false if it cannot be. */
bool
lms_address_text(const struct sockaddr *sa, size_t len, char *buf, size_t size)
{
	const void *src;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		src = &((const struct sockaddr_in *) sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		src = &((const struct sockaddr_in6 *) sa)->sin6_addr;
	else
	{
		if (size > 0)
			snprintf(buf, size, "(address family %d)", (int) sa->sa_family);
		return false;
	}
	return inet_ntop(sa->sa_family, src, buf, size) != NULL;
}
