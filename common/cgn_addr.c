/*
 * Text and socket conversions for struct cgn_addr and struct cgn_prefix (see cgn_addr.h).
 */
#include "cgn_addr.h"

#include <arpa/inet.h>
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
	unsigned full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr.b, a->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (p->addr.b[full] & mask) == (a->b[full] & mask);
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
