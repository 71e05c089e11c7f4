/*
 * Text and socket conversions for struct cgn_addr and struct cgn_prefix (see cgn_addr.h).
 */
#include "cgn_addr.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

bool
cgn_addr_is_unspecified(const struct cgn_addr *a)
{
	static const struct cgn_addr zero;
	if (cgn_addr_eq(a, &zero))
		return true;
	return cgn_addr_is_v4(a) && cgn_addr_v4(a) == 0;
}

bool
cgn_addr_is_loopback(const struct cgn_addr *a)
{
	static const struct cgn_addr one = { .b = { [15] = 1 } };
	if (cgn_addr_is_v4(a))
		return a->b[12] == 127;
	return cgn_addr_eq(a, &one);
}

bool
cgn_addr_is_multicast(const struct cgn_addr *a)
{
	if (cgn_addr_is_v4(a))
		return (a->b[12] & 0xf0) == 224;
	return a->b[0] == 0xff;
}

bool
cgn_addr_is_link_local(const struct cgn_addr *a)
{
	if (cgn_addr_is_v4(a))
		return a->b[12] == 169 && a->b[13] == 254;
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

struct cgn_addr
cgn_addr_solicited_node(const struct cgn_addr *a)
{
	/* FF02:0:0:0:0:1:FF00::/104 */
	struct cgn_addr s = { .b = { 0xff, 0x02, [11] = 0x01, [12] = 0xff } };
	memcpy(&s.b[13], &a->b[13], 3);
	return s;
}

struct cgn_addr
cgn_addr_link_local_from_mac(const uint8_t mac[6])
{
	/* fe80::/64, then the 48-bit MAC as a modified EUI-64: ff:fe in the middle, and the
	 * universal/local bit inverted ("u" = 1 means universal in the modified form). */
	struct cgn_addr ll = { .b = { 0xfe, 0x80 } };
	ll.b[8] = mac[0] ^ 0x02;
	ll.b[9] = mac[1];
	ll.b[10] = mac[2];
	ll.b[11] = 0xff;
	ll.b[12] = 0xfe;
	ll.b[13] = mac[3];
	ll.b[14] = mac[4];
	ll.b[15] = mac[5];
	return ll;
}

void
cgn_addr_multicast_mac(const struct cgn_addr *a, uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(&mac[2], &a->b[12], 4);
}

int
cgn_addr_parse(const char *text, struct cgn_addr *out)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, text, &v4) == 1) {
		*out = cgn_addr_from_v4(v4.s_addr);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &v6) == 1) {
		memcpy(out->b, &v6, 16);
		return 0;
	}
	return -EINVAL;
}

char *
cgn_addr_format(const struct cgn_addr *a, char *buf, size_t size)
{
	if (cgn_addr_is_v4(a)) {
		uint32_t v4 = cgn_addr_v4(a);
		if (inet_ntop(AF_INET, &v4, buf, size) == NULL && size > 0)
			buf[0] = '\0';
	} else if (inet_ntop(AF_INET6, a->b, buf, size) == NULL && size > 0) {
		buf[0] = '\0';
	}
	return buf;
}

int
cgn_prefix_parse(const char *text, struct cgn_prefix *out)
{
	char host[CGN_ADDR_STRLEN];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	long len = -1;

	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	if (cgn_addr_parse(host, &out->addr) < 0)
		return -EINVAL;

	bool v4 = cgn_addr_is_v4(&out->addr) && strchr(host, ':') == NULL;
	int max = v4 ? 32 : 128;
	if (slash) {
		char *end;
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end != '\0' || len < 0 || len > max)
			return -EINVAL;
	} else {
		len = max;
	}
	out->len = (uint8_t)(v4 ? 96 + len : len);

	/* Host bits must be zero: "10.0.0.1/8" is a typo, not a network. */
	for (int bit = out->len; bit < 128; bit++)
		if (out->addr.b[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	return 0;
}

char *
cgn_prefix_format(const struct cgn_prefix *p, char *buf, size_t size)
{
	char host[CGN_ADDR_STRLEN];
	bool v4 = cgn_addr_is_v4(&p->addr) && p->len >= 96;
	snprintf(buf, size, "%s/%u", cgn_addr_format(&p->addr, host, sizeof(host)),
		 v4 ? p->len - 96u : p->len);
	return buf;
}

bool
cgn_prefix_contains(const struct cgn_prefix *p, const struct cgn_addr *a)
{
	/* Two 64-bit words under masks (the data plane asks this per packet: Pref64, pcp.inside). */
	uint64_t pw[2], aw[2];
	memcpy(pw, p->addr.b, 16);
	memcpy(aw, a->b, 16);
	unsigned len = p->len > 128 ? 128 : p->len;
	uint64_t m0 = len >= 64 ? ~UINT64_C(0) : len == 0 ? 0 : ~UINT64_C(0) << (64 - len);
	uint64_t m1 = len <= 64 ? 0 : len == 128 ? ~UINT64_C(0) : ~UINT64_C(0) << (128 - len);
	return ((pw[0] ^ aw[0]) & htobe64(m0)) == 0 && ((pw[1] ^ aw[1]) & htobe64(m1)) == 0;
}

bool
cgn_prefix_overlaps(const struct cgn_prefix *p, const struct cgn_prefix *q)
{
	/* The shorter one holds the longer one's first address, or they are disjoint. */
	return p->len <= q->len ? cgn_prefix_contains(p, &q->addr) : cgn_prefix_contains(q, &p->addr);
}

void
cgn_addr_to_sockaddr(const struct cgn_addr *a, uint16_t port, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (cgn_addr_is_v4(a)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = cgn_addr_v4(a);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->b, 16);
		*len = sizeof(*sin6);
	}
}

int
cgn_addr_from_sockaddr(const struct sockaddr *sa, struct cgn_addr *a, uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		*a = cgn_addr_from_v4(sin->sin_addr.s_addr);
		*port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(a->b, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}
