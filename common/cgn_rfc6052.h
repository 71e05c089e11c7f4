/*
 * IPv4-embedded IPv6 addresses (RFC 6052): how stateful NAT64 (RFC 6146 §3.5.4) writes an
 * IPv4 address as an IPv6 one under a Pref64::/n, and reads it back. The data plane uses it
 * for the addresses the BIB does not translate (the IPv6 destination, the IPv4 source); the
 * PCP server for PEER remote peers and the PREFIX64 option (RFC 7225).
 *
 * RFC 6052 §2.2, Figure 1 (PL = prefix length; "u" = bits 64-71, always zero):
 *
 *   |PL| 0-------------32--40--48--56--64--72--80--88--96--104---------|
 *   |32|     prefix    |v4(32)         | u | suffix                    |
 *   |40|     prefix        |v4(24)     | u |(8)| suffix                |
 *   |48|     prefix            |v4(16) | u | (16)  | suffix            |
 *   |56|     prefix                |(8)| u |  v4(24)   | suffix        |
 *   |64|     prefix                    | u |   v4(32)      | suffix    |
 *   |96|     prefix                                    |    v4(32)     |
 *
 * Addresses are struct cgn_addr: an IPv4 address is IPv4-mapped (::ffff:a.b.c.d), as
 * everywhere in cgnat; an IPv6 one is itself.
 *
 * Pure functions on their arguments, no state: any thread, the workers' fast path included
 * (they allocate nothing, take no lock, make no syscall).
 */
#ifndef CGN_RFC6052_H
#define CGN_RFC6052_H

#include <stdbool.h>
#include <stdint.h>

#include "cgn_addr.h"

/* The octet of bits 64-71 ("u", RFC 6052 §2.2). */
#define CGN_RFC6052_U_OCTET 8

/**
 * @return true if len is a Pref64::/n length RFC 6052 §2.2 allows: 32, 40, 48, 56, 64 or 96
 *         ("The prefixes can only have one of the following lengths").
 */
bool cgn_rfc6052_len_valid(unsigned len);

/** @return true if p is the Well-Known Prefix 64:ff9b::/96 (RFC 6052 §2.1), length included. */
bool cgn_rfc6052_is_wkp(const struct cgn_prefix *p);

/**
 * Checks that p can serve as a Pref64::/n:
 *   - an IPv6 prefix (not IPv4-mapped, not written as IPv4);
 *   - one of the lengths of cgn_rfc6052_len_valid();
 *   - host bits zero;
 *   - bits 64-71 zero where the prefix covers them, i.e. for a /96 ("When using a /96
 *     Network-Specific Prefix, the administrators MUST ensure that the bits 64 to 71 are set
 *     to zero", §2.2); shorter prefixes end before bit 64 and have them zero as host bits;
 *   - not the Well-Known Prefix at another length than /96 ("can only be used in the last
 *     form of the table", §2.2): a prefix holding 64:ff9b::/96 is refused;
 *   - not :: (its addresses would be IPv4-compatible ones, ::1 among them), not in ::ffff:0:0/96
 *     (IPv4-mapped: cgnat's IPv4 form), not multicast (ff00::/8), not link-local (fe80::/10).
 * Whether an IPv4 address may be embedded under the Well-Known Prefix is a rule per address,
 * not per prefix: see cgn_rfc6052_v4_is_global().
 * @param why receives a short reason when p is refused (a static string); may be NULL.
 * @return 0, or -EINVAL.
 * Any thread.
 */
int cgn_rfc6052_prefix_check(const struct cgn_prefix *p, const char **why);

/**
 * Embeds an IPv4 address in an IPv6 address (RFC 6052 §2.3): the first pref64->len bits of
 * pref64, the 32 bits of v4, the null octet u inserted at bits 64-71 when the prefix is shorter
 * than 96 bits, and a zero suffix ("SHOULD be set to zero", §2.2). Only pref64's first len
 * bits are read: its host bits do not leak into the result.
 * @param pref64 a prefix of a valid length (cgn_rfc6052_prefix_check() is the caller's,
 *        done once at configuration time).
 * @param v4 the IPv4 address, IPv4-mapped.
 * @param v6 receives the IPv4-embedded IPv6 address; untouched on error (it may be v4 itself).
 * @return 0; -EINVAL if pref64->len is not an RFC 6052 length; -EAFNOSUPPORT if v4 is not
 *         IPv4-mapped.
 * Any thread.
 */
int cgn_rfc6052_embed(const struct cgn_prefix *pref64, const struct cgn_addr *v4, struct cgn_addr *v6);

/**
 * Extracts the IPv4 address of an IPv4-embedded IPv6 address (RFC 6052 §2.3): for a /96 the
 * last 32 bits; otherwise the 32 bits after the prefix once the u octet is removed.
 *
 * The u octet and the suffix are not looked at. The RFC's extraction algorithm removes the u
 * octet without a condition; its "MUST be set to zero" binds who builds the address, and of
 * the suffix it says "Address translators who receive IPv4-embedded IPv6 addresses where these
 * bits are not zero SHOULD ignore the bits' value and proceed as if the bits' value were zero"
 * (§2.2). So 2001:db8:c000:221:ff00:: gives 192.0.2.33 under 2001:db8::/32, as Jool does too.
 * A caller that wants only the addresses cgnat itself would build (one IPv6 address per IPv4
 * address) asks cgn_rfc6052_is_canonical() as well.
 * @param pref64 a prefix of a valid length.
 * @param v6 the IPv6 address.
 * @param v4 receives the IPv4 address, IPv4-mapped; untouched on error (it may be v6 itself).
 * @return 0; -EINVAL if pref64->len is not an RFC 6052 length; -ENOENT if v6 does not lie
 *         under pref64.
 * Any thread.
 */
int cgn_rfc6052_extract(const struct cgn_prefix *pref64, const struct cgn_addr *v6, struct cgn_addr *v4);

/**
 * @return true if v6 lies under pref64 (a valid length) with its u octet and its suffix zero:
 *         exactly what cgn_rfc6052_embed() builds for the address cgn_rfc6052_extract() reads
 *         from it. false for a prefix of another length.
 * Any thread.
 */
bool cgn_rfc6052_is_canonical(const struct cgn_prefix *pref64, const struct cgn_addr *v6);

/**
 * Which of a list of Pref64::/n an IPv6 address lies under: the longest that holds it (the
 * most specific; among equal ones the first). cgnat's configuration refuses overlapping
 * prefixes, so there it is the only one.
 * @param list n prefixes, owned by the caller (e.g. cfg->nat64.prefixes).
 * @return the index in list, or -ENOENT if none holds v6 (IPv4-mapped addresses included).
 * Any thread.
 */
int cgn_rfc6052_find(const struct cgn_prefix *list, unsigned n, const struct cgn_addr *v6);

/**
 * Whether an IPv4 address is global in the sense of RFC 6052 §3.1, which forbids the
 * Well-Known Prefix with the others: "Address translators MUST NOT translate packets in which
 * an address is composed of the Well-Known Prefix and a non-global IPv4 address; they MUST drop
 * these packets." Non-global: the RFC's examples, RFC 1918 and the list of RFC 5735 §3
 * (0/8, 10/8, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24,
 * 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/4, 240/4, 255.255.255.255), and
 * the Shared Address Space 100.64/10 (RFC 6598; RFC 6890 marks it not global) that CGN
 * subscribers themselves use.
 *
 * The rule applies per packet, to both directions, only under a prefix for which
 * cgn_rfc6052_is_wkp() (cfg->nat64.wkp[i]): IPv6 → IPv4 to the extracted destination, IPv4 →
 * IPv6 to the source about to be embedded, hairpinned packets included (a pool in 100.64/10
 * under the Well-Known Prefix cannot hairpin).
 * @param v4 an IPv4-mapped address.
 * @return false for a non-global address, or one that is not IPv4-mapped.
 * Any thread.
 */
bool cgn_rfc6052_v4_is_global(const struct cgn_addr *v4);

#endif /* CGN_RFC6052_H */
