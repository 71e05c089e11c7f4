/*
 * Addresses and prefixes (common/cgn_addr.h).
 */
#include <criterion/criterion.h>

#include "cgn_addr.h"
#include "addr_text.h"

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

Test(addr, multicast)
{
	static const char *const yes[] = { "ff02::1", "ff02::1:ff00:1", "ff0e::101", "ff00::", "224.0.0.1",
					   "239.255.255.255" };
	static const char *const no[] = { "fe80::1", "2001:db8::1", "::", "::1", "fe00::1", "223.255.255.255",
					  "240.0.0.1", "100.64.0.1", "::ff:ff02:1" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct cgn_addr a = A(yes[i]);
		cr_assert(cgn_addr_is_multicast(&a), "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct cgn_addr a = A(no[i]);
		cr_assert_not(cgn_addr_is_multicast(&a), "%s", no[i]);
	}
}

Test(addr, link_local_and_loopback)
{
	/* fe80::/10: fe80:: to febf:ffff:...; fec0:: (the old site-local) is not. */
	static const char *const ll[] = { "fe80::1", "fe80::200:ff:fe00:1", "febf:ffff::1", "169.254.1.1" };
	static const char *const not_ll[] = { "fec0::1", "fe7f::1", "2001:db8::1", "ff02::1", "169.253.1.1", "::" };
	for (size_t i = 0; i < sizeof(ll) / sizeof(ll[0]); i++) {
		struct cgn_addr a = A(ll[i]);
		cr_assert(cgn_addr_is_link_local(&a), "%s", ll[i]);
	}
	for (size_t i = 0; i < sizeof(not_ll) / sizeof(not_ll[0]); i++) {
		struct cgn_addr a = A(not_ll[i]);
		cr_assert_not(cgn_addr_is_link_local(&a), "%s", not_ll[i]);
	}
	struct cgn_addr one = A("::1"), v4 = A("127.0.0.53"), two = A("::2"), mapped0 = A("::ffff:0.0.0.1");
	cr_assert(cgn_addr_is_loopback(&one));
	cr_assert(cgn_addr_is_loopback(&v4));
	cr_assert_not(cgn_addr_is_loopback(&two));
	cr_assert_not(cgn_addr_is_loopback(&mapped0));
}

/* RFC 4291 §2.7.1: FF02:0:0:0:0:1:FF00::/104 and the low 24 bits. */
Test(addr, solicited_node)
{
	struct cgn_addr a = A("2001:db8:100::254"), s = cgn_addr_solicited_node(&a);
	cr_assert_str_eq(F(&s), "ff02::1:ff00:254");
	a = A("fe80::2aa:ff:fe28:9c5a"); /* RFC 4861's and many textbooks' example host */
	s = cgn_addr_solicited_node(&a);
	cr_assert_str_eq(F(&s), "ff02::1:ff28:9c5a");
	cr_assert(cgn_addr_is_multicast(&s));
	/* Addresses that differ only above the low 24 bits share the group. */
	struct cgn_addr b = A("2001:db8:ffff::28:9c5a"), t = cgn_addr_solicited_node(&b);
	cr_assert(cgn_addr_eq(&s, &t));
}

/* RFC 4291 Appendix A: MAC 34-56-78-9A-BC-DE becomes the identifier 3656:78FF:FE9A:BCDE (the
 * universal/local bit inverted); a locally administered 02:... MAC loses its 0x02. */
Test(addr, link_local_from_mac)
{
	static const uint8_t mac[6] = { 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde };
	struct cgn_addr ll = cgn_addr_link_local_from_mac(mac);
	cr_assert_str_eq(F(&ll), "fe80::3656:78ff:fe9a:bcde");
	cr_assert(cgn_addr_is_link_local(&ll));
	static const uint8_t local[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
	ll = cgn_addr_link_local_from_mac(local);
	cr_assert_str_eq(F(&ll), "fe80::ff:fe00:101");
}

/* RFC 2464 §7: 33:33 and the last four octets. */
Test(addr, multicast_mac)
{
	uint8_t mac[6];
	struct cgn_addr s = A("ff02::1:ff28:9c5a");
	cgn_addr_multicast_mac(&s, mac);
	static const uint8_t want[6] = { 0x33, 0x33, 0xff, 0x28, 0x9c, 0x5a };
	cr_assert_arr_eq(mac, want, 6);
	struct cgn_addr all = A("ff02::1");
	cgn_addr_multicast_mac(&all, mac);
	static const uint8_t want_all[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	cr_assert_arr_eq(mac, want_all, 6);
}

Test(prefix, overlaps)
{
	struct cgn_prefix a, b;
	cgn_prefix_parse("2001:db8::/32", &a);
	cgn_prefix_parse("2001:db8:122::/48", &b);
	cr_assert(cgn_prefix_overlaps(&a, &b));
	cr_assert(cgn_prefix_overlaps(&b, &a), "either order");
	cr_assert(cgn_prefix_overlaps(&a, &a));
	cgn_prefix_parse("2001:db9::/48", &b);
	cr_assert_not(cgn_prefix_overlaps(&a, &b));
	cr_assert_not(cgn_prefix_overlaps(&b, &a));
	cgn_prefix_parse("10.0.0.0/8", &a);
	cgn_prefix_parse("10.1.0.0/16", &b);
	cr_assert(cgn_prefix_overlaps(&a, &b));
	cgn_prefix_parse("11.0.0.0/8", &b);
	cr_assert_not(cgn_prefix_overlaps(&a, &b));
	cgn_prefix_parse("::/0", &b);
	cr_assert(cgn_prefix_overlaps(&a, &b), "::/0 holds the IPv4-mapped space too");
}
