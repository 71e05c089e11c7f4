/*
 * Addresses and prefixes (common/cgn_addr.h).
 */
#include <criterion/criterion.h>

#include "cgn_addr.h"

Test(addr, v4_is_mapped)
{
	struct cgn_addr a;
	char buf[CGN_ADDR_STRLEN];
	cr_assert_eq(cgn_addr_parse("100.64.1.2", &a), 0);
	cr_assert(cgn_addr_is_v4(&a));
	cr_assert_eq(a.b[10], 0xff);
	cr_assert_eq(a.b[12], 100);
	cr_assert_str_eq(cgn_addr_format(&a, buf, sizeof(buf)), "100.64.1.2");
	cr_assert_eq(cgn_addr_parse("::ffff:100.64.1.2", &a), 0);
	cr_assert(cgn_addr_is_v4(&a));
}

Test(addr, v6)
{
	struct cgn_addr a;
	char buf[CGN_ADDR_STRLEN];
	cr_assert_eq(cgn_addr_parse("2001:db8::1", &a), 0);
	cr_assert_not(cgn_addr_is_v4(&a));
	cr_assert_str_eq(cgn_addr_format(&a, buf, sizeof(buf)), "2001:db8::1");
	cr_assert_eq(cgn_addr_parse("64:ff9b::c633:6401", &a), 0);
}

Test(addr, rejects_garbage)
{
	struct cgn_addr a;
	cr_assert_lt(cgn_addr_parse("", &a), 0);
	cr_assert_lt(cgn_addr_parse("256.1.1.1", &a), 0);
	cr_assert_lt(cgn_addr_parse("1.2.3", &a), 0);
	cr_assert_lt(cgn_addr_parse("example.com", &a), 0);
}

Test(addr, unspecified)
{
	struct cgn_addr a;
	cgn_addr_parse("::", &a);
	cr_assert(cgn_addr_is_unspecified(&a));
	cgn_addr_parse("0.0.0.0", &a);
	cr_assert(cgn_addr_is_unspecified(&a));
	cgn_addr_parse("0.0.0.1", &a);
	cr_assert_not(cgn_addr_is_unspecified(&a));
}

Test(prefix, v4_lengths_and_membership)
{
	struct cgn_prefix p;
	struct cgn_addr a;
	char buf[CGN_PREFIX_STRLEN];
	cr_assert_eq(cgn_prefix_parse("100.64.0.0/10", &p), 0);
	cr_assert_eq(p.len, 106);
	cr_assert_str_eq(cgn_prefix_format(&p, buf, sizeof(buf)), "100.64.0.0/10");
	cgn_addr_parse("100.127.255.255", &a);
	cr_assert(cgn_prefix_contains(&p, &a));
	cgn_addr_parse("100.128.0.0", &a);
	cr_assert_not(cgn_prefix_contains(&p, &a));
	cr_assert_eq(cgn_prefix_parse("127.0.0.2", &p), 0);
	cr_assert_eq(p.len, 128);
	cr_assert_eq(cgn_prefix_parse("0.0.0.0/0", &p), 0);
	cgn_addr_parse("8.8.8.8", &a);
	cr_assert(cgn_prefix_contains(&p, &a));
	cgn_addr_parse("2001:db8::1", &a);
	cr_assert_not(cgn_prefix_contains(&p, &a), "an IPv4 /0 holds no IPv6 address");
}

Test(prefix, v6)
{
	struct cgn_prefix p;
	struct cgn_addr a;
	cr_assert_eq(cgn_prefix_parse("2001:db8::/32", &p), 0);
	cr_assert_eq(p.len, 32);
	cgn_addr_parse("2001:db8:ffff::1", &a);
	cr_assert(cgn_prefix_contains(&p, &a));
	cgn_addr_parse("2001:db9::1", &a);
	cr_assert_not(cgn_prefix_contains(&p, &a));
}

Test(prefix, rejects_bad_forms)
{
	struct cgn_prefix p;
	cr_assert_lt(cgn_prefix_parse("10.0.0.1/8", &p), 0, "host bits set");
	cr_assert_lt(cgn_prefix_parse("10.0.0.0/33", &p), 0);
	cr_assert_lt(cgn_prefix_parse("10.0.0.0/", &p), 0);
	cr_assert_lt(cgn_prefix_parse("10.0.0.0/8x", &p), 0);
	cr_assert_lt(cgn_prefix_parse("/8", &p), 0);
	cr_assert_lt(cgn_prefix_parse("2001:db8::/129", &p), 0);
}

Test(addr, sockaddr_round_trip)
{
	struct cgn_addr a, b;
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;
	cgn_addr_parse("198.51.100.7", &a);
	cgn_addr_to_sockaddr(&a, 5351, &ss, &len);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	cr_assert_eq(cgn_addr_from_sockaddr((struct sockaddr *)&ss, &b, &port), 0);
	cr_assert(cgn_addr_eq(&a, &b));
	cr_assert_eq(port, 5351);
	cgn_addr_parse("2001:db8::7", &a);
	cgn_addr_to_sockaddr(&a, 1, &ss, &len);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cgn_addr_from_sockaddr((struct sockaddr *)&ss, &b, &port);
	cr_assert(cgn_addr_eq(&a, &b));
}
