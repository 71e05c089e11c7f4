/*
 * Internet checksum arithmetic for rewriting headers in place (RFC 1071, RFC 1624): every
 * header field the data plane changes goes through a patch helper that fixes the checksum
 * in the same call. Values are in network byte order, as they lie in the packet; checksums
 * are 16-bit ones'-complement words, also in network order.
 *
 * Pure functions, no DPDK: any thread, and unit-tested against full recomputation.
 */
#ifndef CGN_CKSUM_H
#define CGN_CKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Folds a 32-bit ones'-complement sum to 16 bits. */
static inline uint16_t
cgn_cksum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/** The change of a 16-bit field from old to new, to be summed with others: ~m + m' (RFC 1624
 *  eqn. 3, for each 16-bit word). */
static inline uint32_t
cgn_cksum_delta16(uint16_t old, uint16_t new_)
{
	return (uint32_t)(uint16_t)~old + new_;
}

/** The same for a 32-bit field (an IPv4 address): two words. */
static inline uint32_t
cgn_cksum_delta32(uint32_t old, uint32_t new_)
{
	return (uint32_t)(uint16_t)~(old >> 16) + (uint16_t)~(old & 0xffff) + (new_ >> 16) + (new_ & 0xffff);
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + sum of the deltas). Two folds take any sum that fits 32 bits.
 * @return the new checksum.
 */
static inline uint16_t
cgn_cksum_apply(uint16_t cksum, uint32_t delta)
{
	return (uint16_t)~cgn_cksum_fold((uint16_t)~cksum + delta);
}

/** A checksum after one 16-bit field changed from old to new. */
static inline uint16_t
cgn_cksum_update16(uint16_t cksum, uint16_t old, uint16_t new_)
{
	return cgn_cksum_apply(cksum, cgn_cksum_delta16(old, new_));
}

/** The ones'-complement sum of len octets (not complemented). */
static inline uint32_t
cgn_cksum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	/* 32-bit words into a 64-bit sum: the carries fold back in at the end (RFC 1071 §2(B)). */
	uint64_t wide = sum;
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		wide += w;
		p += 4;
		len -= 4;
	}
	wide = (wide & 0xffffffff) + (wide >> 32);
	wide = (wide & 0xffffffff) + (wide >> 32);
	sum = (uint32_t)(wide & 0xffff) + (uint32_t)(wide >> 16);
	while (len > 1) {
		uint16_t w;
		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;
		memcpy(&w, p, 1);
		sum += w;
	}
	return sum;
}

/** The change from one partial sum to another (both unfolded, as cgn_cksum_partial() gives
 * them): a pseudo-header's when its addresses change family (NAT64). */
static inline uint32_t
cgn_cksum_change(uint32_t old, uint32_t new_)
{
	return (uint32_t)(uint16_t)~cgn_cksum_fold(old) + cgn_cksum_fold(new_);
}

/**
 * The change of a 128-bit field (an IPv6 address) from old to new: eight words, summed like
 * cgn_cksum_delta16's (RFC 1624 eqn. 3). Both are 16 octets in network order, any alignment.
 * The result is below 2^20: several may be summed with others before cgn_cksum_apply().
 */
static inline uint32_t
cgn_cksum_delta128(const void *old, const void *new_)
{
	const uint8_t *o = old, *n = new_;
	uint32_t sum = 0;
	for (int i = 0; i < 16; i += 2) {
		uint16_t wo, wn;
		memcpy(&wo, o + i, 2);
		memcpy(&wn, n + i, 2);
		sum += (uint16_t)~wo + (uint32_t)wn;
	}
	return sum;
}

/**
 * The IPv6 pseudo-header's sum (RFC 8200 §8.1): source and destination addresses (16 octets
 * each, network order), the upper-layer packet length (host order; the 32-bit field) and the
 * next header value (the upper-layer protocol: IPPROTO_UDP, IPPROTO_ICMPV6, ...).
 * @return the partial sum, not folded nor complemented: pass it as cgn_cksum_partial()'s sum
 *         over the upper-layer header and data, then complement the fold (cgn_cksum()).
 */
static inline uint32_t
cgn_cksum_pseudo6(const void *src, const void *dst, uint32_t upper_len, uint8_t next_header)
{
	/* The length and next header lie in memory in network order, like every other word. */
	uint8_t tail[8] = { (uint8_t)(upper_len >> 24), (uint8_t)(upper_len >> 16), (uint8_t)(upper_len >> 8),
			    (uint8_t)upper_len, 0, 0, 0, next_header };
	return cgn_cksum_partial(tail, sizeof(tail), cgn_cksum_partial(dst, 16, cgn_cksum_partial(src, 16, 0)));
}

/** The checksum of len octets (RFC 1071), network order. */
static inline uint16_t
cgn_cksum(const void *data, size_t len)
{
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(data, len, 0));
}

#endif /* CGN_CKSUM_H */
