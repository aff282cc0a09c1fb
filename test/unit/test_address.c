/*
 * test_address.c
 *		Unit tests of the address policy (src/address.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "address.h"
#include "unit.h"

static LmsAddressClass
v4(const char *s)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	inet_pton(AF_INET, s, &a.sin_addr);
	return lms_address_class((struct sockaddr *) &a, sizeof(a));
}

static LmsAddressClass
v6(const char *s)
{
	struct sockaddr_in6 a;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	inet_pton(AF_INET6, s, &a.sin6_addr);
	return lms_address_class((struct sockaddr *) &a, sizeof(a));
}

int
main(void)
{
	static const struct
	{
		const char *addr;
		LmsAddressClass cls;
	}			v4cases[] = {
		{"127.0.0.1", LMS_ADDR_LOOPBACK},
		{"127.255.255.254", LMS_ADDR_LOOPBACK},
		{"0.0.0.0", LMS_ADDR_LOOPBACK},
		{"169.254.169.254", LMS_ADDR_LINK_LOCAL},
		{"169.253.0.1", LMS_ADDR_PUBLIC},
		{"10.0.0.1", LMS_ADDR_PRIVATE},
		{"10.255.255.255", LMS_ADDR_PRIVATE},
		{"11.0.0.1", LMS_ADDR_PUBLIC},
		{"172.15.255.255", LMS_ADDR_PUBLIC},
		{"172.16.0.1", LMS_ADDR_PRIVATE},
		{"172.31.255.255", LMS_ADDR_PRIVATE},
		{"172.32.0.0", LMS_ADDR_PUBLIC},
		{"192.168.1.1", LMS_ADDR_PRIVATE},
		{"192.169.0.1", LMS_ADDR_PUBLIC},
		{"8.8.8.8", LMS_ADDR_PUBLIC},
		{"128.0.0.1", LMS_ADDR_PUBLIC},
	}, v6cases[] = {
		{"::1", LMS_ADDR_LOOPBACK},
		{"::", LMS_ADDR_LOOPBACK},
		{"::ffff:127.0.0.1", LMS_ADDR_LOOPBACK},
		{"::ffff:10.1.2.3", LMS_ADDR_PRIVATE},
		{"::ffff:8.8.8.8", LMS_ADDR_PUBLIC},
		{"fe80::1", LMS_ADDR_LINK_LOCAL},
		{"febf::1", LMS_ADDR_LINK_LOCAL},
		{"fec0::1", LMS_ADDR_PRIVATE},
		{"fc00::1", LMS_ADDR_PRIVATE},
		{"fdff:ffff::1", LMS_ADDR_PRIVATE},
		{"fe00::1", LMS_ADDR_PUBLIC},
		{"2001:db8::1", LMS_ADDR_PUBLIC},
		{"2606:4700::1111", LMS_ADDR_PUBLIC},
	}, hosts[] = {
		{"localhost", LMS_ADDR_LOOPBACK},
		{"LocalHost.", LMS_ADDR_LOOPBACK},
		{"127.0.0.2", LMS_ADDR_LOOPBACK},
		{"[::1]", LMS_ADDR_LOOPBACK},
		{"[fe80::1%25eth0]", LMS_ADDR_LINK_LOCAL},
		{"[fd00::5]", LMS_ADDR_PRIVATE},
		{"192.168.0.10", LMS_ADDR_PRIVATE},
		{"169.254.169.254", LMS_ADDR_LINK_LOCAL},
		/* a name is public until it resolves: the socket check judges it */
		{"lms.localhost", LMS_ADDR_PUBLIC},
		{"school.instructure.com", LMS_ADDR_PUBLIC},
		{"[2001:db8::1]", LMS_ADDR_PUBLIC},
		{"8.8.8.8", LMS_ADDR_PUBLIC},
	};
	struct sockaddr unix_sa;
	char		buf[64];
	size_t		i;

	for (i = 0; i < sizeof(v4cases) / sizeof(v4cases[0]); i++)
		UNIT_CHECK(v4(v4cases[i].addr) == v4cases[i].cls, "%s", v4cases[i].addr);
	for (i = 0; i < sizeof(v6cases) / sizeof(v6cases[0]); i++)
		UNIT_CHECK(v6(v6cases[i].addr) == v6cases[i].cls, "%s", v6cases[i].addr);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		UNIT_CHECK(lms_host_class(hosts[i].addr) == hosts[i].cls, "%s", hosts[i].addr);

	/* an unknown family is never public */
	memset(&unix_sa, 0, sizeof(unix_sa));
	unix_sa.sa_family = AF_UNIX;
	UNIT_CHECK(lms_address_class(&unix_sa, sizeof(unix_sa)) != LMS_ADDR_PUBLIC, "AF_UNIX");

	/* the text of an address, for messages */
	{
		struct sockaddr_in a;

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		UNIT_CHECK(lms_address_text((struct sockaddr *) &a, sizeof(a), buf, sizeof(buf)) &&
				   strcmp(buf, "127.0.0.1") == 0, "text %s", buf);
	}
	UNIT_CHECK(strcmp(lms_address_class_name(LMS_ADDR_LINK_LOCAL), "a link-local address") == 0,
			   "name");
	UNIT_DONE("test_address");
}
