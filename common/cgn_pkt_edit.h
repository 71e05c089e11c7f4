/*
 * Editing header fields in place: every field the data plane rewrites goes through a patch
 * helper that folds the change into each checksum covering the field in the same call (pf's
 * pf_patch_16/pf_cksum_fixup; RFC 1624 eqn. 3 through cgn_cksum.h). A field and its checksums
 * are reached through void pointers and memcpy:
 *   pre: after a 14-octet Ethernet header, IPv4 and IPv6 fields are only 2-aligned, so
 *        nothing here dereferences a uint16_t or uint32_t pointer;
 *   pre: values are in network order, as they lie in the packet (cgn_ld16/cgn_ld32 read them
 *        so), except cgn_rd16's result, which is the host-order number;
 *   UDP: a zero checksum means "none" (RFC 768; IPv4 only, RFC 8200 §8.1 forbids it in IPv6)
 *        and stays zero; a computed zero is sent as 0xffff.
 * The IPv6 pseudo-header and 128-bit address deltas are cgn_cksum.h's (cgn_cksum_pseudo6,
 * cgn_cksum_delta128).
 *
 * No DPDK, no state: any thread; unit-tested against full recomputation (tests/unit/test_cksum.c).
 */
#ifndef CGN_PKT_EDIT_H
#define CGN_PKT_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cgn_cksum.h"

/* A checksum a field change must be folded into; p NULL: none (CGN_CKS_NONE). */
struct cgn_cks {
	void *p;  /* the 2-octet checksum field */
	bool udp; /* UDP's: zero means "no checksum" */
};

/* No checksum: a field no checksum covers, or a checksum that is not there. */
#define CGN_CKS_NONE ((struct cgn_cks){ NULL, false })

/** @return the 2 octets at p as they lie (network order), any alignment. */
static inline uint16_t
cgn_ld16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/** @return the 4 octets at p as they lie (network order), any alignment. */
static inline uint32_t
cgn_ld32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/** @return the number the 2 octets at p hold (big-endian on the wire, host order here). */
static inline uint16_t
cgn_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Stores a computed checksum v (network order) into c: UDP sends a computed zero as all
 * ones (RFC 768). pre: c.p != NULL. */
static inline void
cgn_cks_store(struct cgn_cks c, uint16_t v)
{
	if (c.udp && v == 0)
		v = 0xffff;
	memcpy(c.p, &v, 2);
}

/**
 * Folds a sum of field changes (cgn_cksum_delta16/32/128, added up) into checksum c. Nothing
 * for CGN_CKS_NONE, nor for a UDP checksum of zero ("none": it stays zero).
 */
static inline void
cgn_cks_apply(struct cgn_cks c, uint32_t delta)
{
	if (c.p == NULL || (c.udp && cgn_ld16(c.p) == 0))
		return;
	cgn_cks_store(c, cgn_cksum_apply(cgn_ld16(c.p), delta));
}

/**
 * Writes a 16-bit field (new_ in network order) and folds the change into a and b (either
 * may be CGN_CKS_NONE).
 */
static inline void
cgn_patch16(void *field, uint16_t new_, struct cgn_cks a, struct cgn_cks b)
{
	uint16_t old = cgn_ld16(field);
	memcpy(field, &new_, 2);
	uint32_t delta = cgn_cksum_delta16(old, new_);
	cgn_cks_apply(a, delta);
	cgn_cks_apply(b, delta);
}

/**
 * Writes a 32-bit field (an IPv4 address, network order) and folds the change into a, b and
 * c (an IPv4 address is in the header checksum, the TCP/UDP pseudo-header's, and for a
 * quoted packet the outer ICMP checksum too).
 */
static inline void
cgn_patch32(void *field, uint32_t new_, struct cgn_cks a, struct cgn_cks b, struct cgn_cks c)
{
	uint32_t old = cgn_ld32(field);
	memcpy(field, &new_, 4);
	uint32_t delta = cgn_cksum_delta32(old, new_);
	cgn_cks_apply(a, delta);
	cgn_cks_apply(b, delta);
	cgn_cks_apply(c, delta);
}

/**
 * Writes a 128-bit field (an IPv6 address: 16 octets, network order) and folds the change
 * into a and b (IPv6 has no header checksum: the upper layer's pseudo-header checksum, and
 * for a quoted packet the outer ICMPv6 checksum). new_ may not overlap field.
 */
static inline void
cgn_patch128(void *field, const void *new_, struct cgn_cks a, struct cgn_cks b)
{
	uint32_t delta = cgn_cksum_delta128(field, new_);
	memcpy(field, new_, 16);
	cgn_cks_apply(a, delta);
	cgn_cks_apply(b, delta);
}

#endif /* CGN_PKT_EDIT_H */
