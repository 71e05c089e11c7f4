/*
 * Neighbor Discovery, receiving side, and the ICMPv6 echo responder of a port (RFC 4861
 * §7.1.1-§7.2.5, RFC 4443 §4.2): validates what comes in with explicit bounds, answers a
 * solicitation for one of the port's addresses and an echo request to one of them in place,
 * and says what a message teaches about a neighbour. Contracts in nd.h.
 * Pure functions on caller-owned frames: any thread.
 */
#include <string.h>

#include "cgn_cksum.h"
#include "nd.h"

/* Offsets in the frame: Ethernet, then IPv6 (RFC 8200 §3), then ICMPv6. */
#define IP6 RTE_ETHER_HDR_LEN
#define IP6_PLEN (IP6 + 4)
#define IP6_NEXT (IP6 + 6)
#define IP6_HOPS (IP6 + 7)
#define IP6_SRC (IP6 + 8)
#define IP6_DST (IP6 + 24)
#define L4 (IP6 + CGN_IPV6_HDR_LEN)
/* In an NS or NA (§4.3, §4.4), from the ICMPv6 header. */
#define ND_FLAGS 4
#define ND_TARGET 8
#define ND_OPTIONS CGN_ND_NS_LEN

static const struct cgn_addr all_nodes = { .b = { 0xff, 0x02, [15] = 1 } };

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

const char *
cgn_nd_result_name(enum cgn_nd_result r)
{
	static const char *const names[CGN_ND_RESULT_COUNT] = {
		[CGN_ND_ACCEPT] = "ACCEPT",
#define X(name, doc) [CGN_ND_REFUSE_##name] = #name,
		CGN_ND_REFUSALS(X)
#undef X
	};
	return (unsigned)r < CGN_ND_RESULT_COUNT ? names[r] : "?";
}

bool
cgn_nd_is_solicited_node(const struct cgn_addr *a)
{
	static const uint8_t prefix[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };
	return memcmp(a->b, prefix, sizeof(prefix)) == 0;
}

bool
cgn_nd_addr_is_ours(const struct cgn_nd_iface *ifc, const struct cgn_addr *a)
{
	if (cgn_ip6_is_unspecified(a))
		return false;
	return cgn_addr_eq(a, &ifc->link_local) || (ifc->have_global && cgn_addr_eq(a, &ifc->global));
}

bool
cgn_nd_dst_is_ours(const struct cgn_nd_iface *ifc, const struct cgn_addr *dst)
{
	if (cgn_addr_eq(dst, &all_nodes) || cgn_nd_addr_is_ours(ifc, dst))
		return true;
	if (!cgn_nd_is_solicited_node(dst))
		return false;
	struct cgn_addr sn;
	if (!cgn_ip6_is_unspecified(&ifc->link_local)) {
		sn = cgn_addr_solicited_node(&ifc->link_local);
		if (cgn_addr_eq(dst, &sn))
			return true;
	}
	if (ifc->have_global && !cgn_ip6_is_unspecified(&ifc->global)) {
		sn = cgn_addr_solicited_node(&ifc->global);
		if (cgn_addr_eq(dst, &sn))
			return true;
	}
	return false;
}

/* Ethernet + IPv6 + ICMPv6 right behind it, every octet of the payload length in hand.
 * *icmp_len is the ICMPv6 message's length (from the payload length: padding excluded). */
static enum cgn_nd_result
icmp6_frame(const uint8_t *frame, size_t len, size_t *icmp_len)
{
	if (len < L4)
		return CGN_ND_REFUSE_TRUNCATED;
	if (rd16(frame + 12) != RTE_ETHER_TYPE_IPV6 || frame[IP6] >> 4 != 6)
		return CGN_ND_REFUSE_NOT_IPV6;
	size_t plen = rd16(frame + IP6_PLEN);
	if (len - L4 < plen)
		return CGN_ND_REFUSE_TRUNCATED;
	if (frame[IP6_NEXT] != IPPROTO_ICMPV6)
		return CGN_ND_REFUSE_NOT_ICMP6;
	*icmp_len = plen;
	return CGN_ND_ACCEPT;
}

/* §7.1.1, §7.1.2: "All included options have a length that is greater than zero", and
 * (§4.6) none runs past the message. Records the first Ethernet-sized option of lla_type.
 * Each option is at least 8 octets: at most (icmp_len - 24) / 8 turns. */
static enum cgn_nd_result
walk_options(const uint8_t *icmp, size_t icmp_len, uint8_t lla_type, struct cgn_nd_msg *msg, bool *any_slla)
{
	size_t off = ND_OPTIONS;
	while (off < icmp_len) {
		if (icmp_len - off < 2)
			return CGN_ND_REFUSE_OPTION_TRUNCATED;
		uint8_t type = icmp[off];
		size_t olen = (size_t)icmp[off + 1] * 8;
		if (olen == 0)
			return CGN_ND_REFUSE_OPTION_ZERO_LENGTH;
		if (olen > icmp_len - off)
			return CGN_ND_REFUSE_OPTION_TRUNCATED;
		if (type == CGN_ND_OPT_SOURCE_LINKADDR)
			*any_slla = true;
		/* RFC 2464 §8: on Ethernet the option is 8 octets, the address its octets 2..7. An
		 * option of another length is not an Ethernet address: ignored. */
		if (type == lla_type && olen == 8 && !msg->has_lla) {
			memcpy(msg->lla.addr_bytes, icmp + off + 2, RTE_ETHER_ADDR_LEN);
			msg->has_lla = true;
		}
		off += olen;
	}
	return CGN_ND_ACCEPT;
}

enum cgn_nd_result
cgn_nd_parse(const uint8_t *frame, size_t len, struct cgn_nd_msg *msg)
{
	size_t icmp_len;
	enum cgn_nd_result r = icmp6_frame(frame, len, &icmp_len);
	if (r != CGN_ND_ACCEPT)
		return r;
	const uint8_t *icmp = frame + L4;
	if (icmp_len < 1 || (icmp[0] != CGN_ND_NEIGHBOR_SOLICIT && icmp[0] != CGN_ND_NEIGHBOR_ADVERT))
		return CGN_ND_REFUSE_NOT_ND;
	if (frame[IP6_HOPS] != CGN_ND_HOP_LIMIT)
		return CGN_ND_REFUSE_HOP_LIMIT;
	if (icmp_len < CGN_ND_NS_LEN)
		return CGN_ND_REFUSE_TOO_SHORT;
	if (cgn_icmp6_cksum(frame + IP6, icmp, icmp_len) != 0)
		return CGN_ND_REFUSE_BAD_CHECKSUM;
	if (icmp[1] != 0)
		return CGN_ND_REFUSE_BAD_CODE;

	struct cgn_nd_msg m = { .type = icmp[0] };
	memcpy(m.eth_src.addr_bytes, frame + 6, RTE_ETHER_ADDR_LEN);
	memcpy(m.src.b, frame + IP6_SRC, 16);
	memcpy(m.dst.b, frame + IP6_DST, 16);
	memcpy(m.target.b, icmp + ND_TARGET, 16);
	if (cgn_ip6_is_multicast(&m.target))
		return CGN_ND_REFUSE_MULTICAST_TARGET;
	if (cgn_ip6_is_multicast(&m.src))
		return CGN_ND_REFUSE_BAD_SOURCE;
	bool any_slla = false;
	bool ns = m.type == CGN_ND_NEIGHBOR_SOLICIT;
	r = walk_options(icmp, icmp_len, ns ? CGN_ND_OPT_SOURCE_LINKADDR : CGN_ND_OPT_TARGET_LINKADDR, &m, &any_slla);
	if (r != CGN_ND_ACCEPT)
		return r;
	if (ns) {
		if (cgn_ip6_is_unspecified(&m.src)) {
			if (!cgn_nd_is_solicited_node(&m.dst))
				return CGN_ND_REFUSE_DAD_NOT_SOLICITED_NODE;
			if (any_slla)
				return CGN_ND_REFUSE_DAD_WITH_SOURCE_LLA;
		}
	} else {
		/* Reserved bits are ignored (§4.4): only R, S, O are kept. */
		m.flags = icmp[ND_FLAGS] & (CGN_ND_NA_FLAG_ROUTER | CGN_ND_NA_FLAG_SOLICITED | CGN_ND_NA_FLAG_OVERRIDE);
		if (cgn_ip6_is_multicast(&m.dst) && (m.flags & CGN_ND_NA_FLAG_SOLICITED))
			return CGN_ND_REFUSE_NA_MULTICAST_SOLICITED;
	}
	*msg = m;
	return CGN_ND_ACCEPT;
}

enum cgn_nd_result
cgn_nd_ns_reply(const struct cgn_nd_iface *ifc, uint8_t *frame, size_t cap, const struct cgn_nd_msg *msg,
		uint16_t *out_len)
{
	if (msg->type != CGN_ND_NEIGHBOR_SOLICIT)
		return CGN_ND_REFUSE_NOT_ND;
	if (!cgn_nd_addr_is_ours(ifc, &msg->target))
		return CGN_ND_REFUSE_TARGET_NOT_OURS;
	if (!cgn_nd_dst_is_ours(ifc, &msg->dst))
		return CGN_ND_REFUSE_NOT_FOR_US;
	if (cap < CGN_ND_NA_FRAME_LEN)
		return CGN_ND_REFUSE_NO_ROOM;

	/* §7.2.4: from :: (DAD), multicast to all-nodes with S clear; else unicast, S set. */
	bool dad = cgn_ip6_is_unspecified(&msg->src);
	struct cgn_addr dst = dad ? all_nodes : msg->src;
	struct rte_ether_addr eth_dst;
	if (dad)
		cgn_addr_multicast_mac(&all_nodes, eth_dst.addr_bytes);
	else
		eth_dst = msg->has_lla ? msg->lla : msg->eth_src;

	/* msg is a copy: the frame is rewritten from scratch. */
	memcpy(frame, eth_dst.addr_bytes, RTE_ETHER_ADDR_LEN);
	memcpy(frame + 6, ifc->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	frame[12] = (uint8_t)(RTE_ETHER_TYPE_IPV6 >> 8);
	frame[13] = (uint8_t)RTE_ETHER_TYPE_IPV6;

	uint8_t *ip = frame + IP6;
	memset(ip, 0, 4); /* traffic class, flow label: 0 */
	ip[0] = 6 << 4;
	ip[4] = 0;
	ip[5] = CGN_ND_NA_REPLY_LEN;
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = CGN_ND_HOP_LIMIT;
	memcpy(frame + IP6_SRC, msg->target.b, 16);
	memcpy(frame + IP6_DST, dst.b, 16);

	uint8_t *na = frame + L4;
	memset(na, 0, CGN_ND_NA_REPLY_LEN);
	na[0] = CGN_ND_NEIGHBOR_ADVERT;
	na[ND_FLAGS] = CGN_ND_NA_FLAG_ROUTER | CGN_ND_NA_FLAG_OVERRIDE | (dad ? 0 : CGN_ND_NA_FLAG_SOLICITED);
	memcpy(na + ND_TARGET, msg->target.b, 16);
	na[ND_OPTIONS] = CGN_ND_OPT_TARGET_LINKADDR;
	na[ND_OPTIONS + 1] = 1; /* 8 octets */
	memcpy(na + ND_OPTIONS + 2, ifc->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	uint16_t c = cgn_icmp6_cksum(ip, na, CGN_ND_NA_REPLY_LEN);
	memcpy(na + 2, &c, 2);
	*out_len = CGN_ND_NA_FRAME_LEN;
	return CGN_ND_ACCEPT;
}

enum cgn_nd_result
cgn_nd_echo_reply(const struct cgn_nd_iface *ifc, uint8_t *frame, size_t len, uint16_t *out_len)
{
	size_t icmp_len;
	enum cgn_nd_result r = icmp6_frame(frame, len, &icmp_len);
	if (r != CGN_ND_ACCEPT)
		return r;
	uint8_t *icmp = frame + L4;
	if (icmp_len < 1 || icmp[0] != CGN_ICMP6_ECHO_REQUEST)
		return CGN_ND_REFUSE_NOT_ND;
	if (icmp_len < CGN_ICMP6_HDR_LEN)
		return CGN_ND_REFUSE_TOO_SHORT;
	if (cgn_icmp6_cksum(frame + IP6, icmp, icmp_len) != 0)
		return CGN_ND_REFUSE_BAD_CHECKSUM;
	if (icmp[1] != 0)
		return CGN_ND_REFUSE_BAD_CODE;
	if (L4 + icmp_len > UINT16_MAX)
		return CGN_ND_REFUSE_NO_ROOM; /* *out_len could not say it */
	struct cgn_addr src, dst;
	memcpy(src.b, frame + IP6_SRC, 16);
	memcpy(dst.b, frame + IP6_DST, 16);
	if (cgn_ip6_is_multicast(&src) || cgn_ip6_is_unspecified(&src))
		return CGN_ND_REFUSE_BAD_SOURCE;
	if (!cgn_nd_addr_is_ours(ifc, &dst))
		return CGN_ND_REFUSE_NOT_FOR_US;

	/* Type 128 → 129 in the first 16-bit word (code stays 0): RFC 1624 eqn. 3. The
	 * addresses only swap: their sum in the pseudo-header is the same. */
	uint16_t old_w, new_w, c;
	memcpy(&old_w, icmp, 2);
	icmp[0] = CGN_ICMP6_ECHO_REPLY;
	memcpy(&new_w, icmp, 2);
	memcpy(&c, icmp + 2, 2);
	c = cgn_cksum_update16(c, old_w, new_w);
	memcpy(icmp + 2, &c, 2);

	memcpy(frame + IP6_SRC, dst.b, 16);
	memcpy(frame + IP6_DST, src.b, 16);
	frame[IP6_HOPS] = CGN_ECHO6_HOP_LIMIT;
	memcpy(frame, frame + 6, RTE_ETHER_ADDR_LEN);
	memcpy(frame + 6, ifc->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	*out_len = (uint16_t)(L4 + icmp_len);
	return CGN_ND_ACCEPT;
}

bool
cgn_nd_learned(const struct cgn_nd_iface *ifc, const struct cgn_nd_msg *msg, struct cgn_nd_learn *out)
{
	if (!msg->has_lla)
		return false;
	struct cgn_nd_learn l = { .mac = msg->lla };
	if (msg->type == CGN_ND_NEIGHBOR_ADVERT) {
		l.addr = msg->target;
		l.is_router = msg->flags & CGN_ND_NA_FLAG_ROUTER;
		l.solicited = msg->flags & CGN_ND_NA_FLAG_SOLICITED;
		l.override = msg->flags & CGN_ND_NA_FLAG_OVERRIDE;
	} else if (msg->type == CGN_ND_NEIGHBOR_SOLICIT) {
		/* §7.2.3: only a solicitation for one of ours is processed at all. */
		if (!cgn_nd_addr_is_ours(ifc, &msg->target))
			return false;
		l.addr = msg->src;
		l.override = true;
	} else {
		return false;
	}
	/* Nor about an IPv4-mapped address (never on a wire, RFC 4291 §2.5.5.2): the neighbour
	 * table keeps IPv4 neighbours under that form, and ND must not reach them. */
	if (cgn_ip6_is_unspecified(&l.addr) || cgn_ip6_is_multicast(&l.addr) || cgn_addr_is_v4(&l.addr) ||
	    cgn_nd_addr_is_ours(ifc, &l.addr))
		return false;
	*out = l;
	return true;
}
