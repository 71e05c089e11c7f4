/*
 * Addresses and prefixes shared by the PCP codec, the control plane and the data plane.
 *
 * Every address is held as 16 octets in network order: IPv6 as is, IPv4 as an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d), the representation PCP uses on the wire (RFC 6887 §5). One
 * type for both families keeps NAT64 (RFC 6146) a matter of data, not of new structs.
 *
 * Pure functions: any thread.
 */
#ifndef CGN_ADDR_H
#define CGN_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Longest text form cgn_addr_format() writes, with its NUL (INET6_ADDRSTRLEN). */
#define CGN_ADDR_STRLEN 46
/* Longest text form of a prefix: address, '/', up to three digits, NUL. */
#define CGN_PREFIX_STRLEN (CGN_ADDR_STRLEN + 4)

struct cgn_addr {
	uint8_t b[16];
};

/* An address prefix; for IPv4, len counts from the start of the mapped form (96 + v4 len). */
struct cgn_prefix {
	struct cgn_addr addr;
	uint8_t len; /* 0..128 */
};

/** @return the IPv4-mapped form of a v4 address given in network order. */
static inline struct cgn_addr
cgn_addr_from_v4(uint32_t v4_be)
{
	struct cgn_addr a = { .b = { [10] = 0xff, [11] = 0xff } };
	memcpy(&a.b[12], &v4_be, 4);
	return a;
}

/** @return true if a is an IPv4-mapped address (::ffff:0:0/96). */
static inline bool
cgn_addr_is_v4(const struct cgn_addr *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };
	return memcmp(a->b, prefix, sizeof(prefix)) == 0;
}

/** @return the IPv4 address (network order) of an IPv4-mapped address. */
static inline uint32_t
cgn_addr_v4(const struct cgn_addr *a)
{
	uint32_t v;
	memcpy(&v, &a->b[12], 4);
	return v;
}

static inline bool
cgn_addr_eq(const struct cgn_addr *a, const struct cgn_addr *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

/** @return true if a is all zeros (::), or the mapped all-zeros IPv4 address (::ffff:0.0.0.0). */
bool cgn_addr_is_unspecified(const struct cgn_addr *a);

/** @return true if a is ::1, or an IPv4-mapped address in 127.0.0.0/8 (loopback). */
bool cgn_addr_is_loopback(const struct cgn_addr *a);

/**
 * @return true if a is a multicast address: ff00::/8 (RFC 4291 §2.7), or an IPv4-mapped
 *         address in 224.0.0.0/4 (RFC 5771).
 */
bool cgn_addr_is_multicast(const struct cgn_addr *a);

/**
 * @return true if a is link-local: fe80::/10 (RFC 4291 §2.5.6), or an IPv4-mapped address in
 *         169.254.0.0/16 (RFC 3927).
 */
bool cgn_addr_is_link_local(const struct cgn_addr *a);

/**
 * The solicited-node multicast address of a (RFC 4291 §2.7.1): ff02::1:ff00:0/104 and a's low
 * 24 bits; where a Neighbor Solicitation for a goes (RFC 4861 §7.2.2).
 */
struct cgn_addr cgn_addr_solicited_node(const struct cgn_addr *a);

/**
 * The link-local address of an Ethernet interface (RFC 4291 §2.5.1, Appendix A; RFC 2464
 * §4-§5): fe80::/64 and the modified EUI-64 interface identifier of mac, its three first
 * octets, ff:fe, its three last, with the universal/local bit (0x02 of the first) inverted.
 */
struct cgn_addr cgn_addr_link_local_from_mac(const uint8_t mac[6]);

/**
 * The Ethernet destination of IPv6 multicast address a (RFC 2464 §7): 33:33 and a's low 32
 * bits, written to mac.
 */
void cgn_addr_multicast_mac(const struct cgn_addr *a, uint8_t mac[6]);

/**
 * Parses an IPv4 dotted quad (stored mapped) or an IPv6 address.
 * @return 0, or -EINVAL if text is neither.
 */
int cgn_addr_parse(const char *text, struct cgn_addr *out);

/**
 * Writes the text form: dotted quad for IPv4-mapped addresses, RFC 5952 form otherwise.
 * @param buf at least CGN_ADDR_STRLEN octets.
 * @return buf.
 */
char *cgn_addr_format(const struct cgn_addr *a, char *buf, size_t size);

/**
 * Parses "ADDR/LEN" or a bare "ADDR" (a host prefix). IPv4 lengths are 0..32 and are stored
 * as 96 + LEN; the host bits must be zero.
 * @return 0, or -EINVAL.
 */
int cgn_prefix_parse(const char *text, struct cgn_prefix *out);

/** Writes "ADDR/LEN", with the IPv4 length for IPv4 prefixes. @return buf. */
char *cgn_prefix_format(const struct cgn_prefix *p, char *buf, size_t size);

/** @return true if a lies in prefix p. */
bool cgn_prefix_contains(const struct cgn_prefix *p, const struct cgn_addr *a);

/** @return true if p and q share an address (one holds the other). */
bool cgn_prefix_overlaps(const struct cgn_prefix *p, const struct cgn_prefix *q);

/** @return the sockaddr form of an address and a host-order port; *len receives its size. */
void cgn_addr_to_sockaddr(const struct cgn_addr *a, uint16_t port, struct sockaddr_storage *ss,
			  socklen_t *len);

/** Reads an address and host-order port from a sockaddr_in or sockaddr_in6. @return 0 or -EAFNOSUPPORT. */
int cgn_addr_from_sockaddr(const struct sockaddr *sa, struct cgn_addr *a, uint16_t *port);

#endif /* CGN_ADDR_H */
