/*
 * Why the data plane drops a packet: one X-macro list, one counter each per worker, every
 * counter visible by name through telemetry (/cgnat/stats). Drops go through cgn_drop()
 * (dataplane/pipeline.h) so that none is silent.
 */
#ifndef CGN_DROP_H
#define CGN_DROP_H

#define CGN_DROP_REASONS(X)                                                                     \
	X(NOT_IP, "neither IPv4, IPv6 nor ARP (LLDP, VLAN-tagged frames, ...)")                 \
	X(ARP_NOT_OURS, "ARP that is not a request for one of the CGN's addresses")             \
	X(LOCAL, "to the CGN's own address, for no service it answers on the data plane")      \
	X(PUNT_FULL, "PCP for the control thread while its punt ring was full")               \
	X(NO_NEIGHBOUR, "the route's gateway or directly connected destination has no MAC yet (ARP)")             \
	X(TRUNCATED, "shorter than its Ethernet, IPv4 or transport header says")               \
	X(BAD_IP_HEADER, "IPv4 version, header length or total length invalid")                  \
	X(BAD_CHECKSUM, "IPv4 header checksum wrong")                                            \
	X(BAD_IP6_HEADER, "IPv6 version invalid")                                                \
	X(IP6_MAPPED, "an IPv4-mapped IPv6 source or destination (::ffff:0:0/96): never on a wire (RFC 4291 §2.5.5.2)") \
	X(IP6_OTHER_HOST, "IPv6 to another host, in a unicast frame for another MAC (a promiscuous port on a shared segment)") \
	X(IP6_EXT_TRUNCATED, "an IPv6 extension header runs past the end of the packet")         \
	X(IP6_EXT_CHAIN, "more IPv6 extension headers than classify walks (CGN_IP6_MAX_EXT)")    \
	X(IP6_EXT_ORDER, "a Hop-by-Hop Options header that does not follow the IPv6 header (RFC 8200 §4.1)") \
	X(IP6_ROUTING, "an IPv6 Routing header with segments left: the CGN is no hop of a source route (RFC 8200 §4.4; Parameter Problem sent when it was for the CGN)") \
	X(IP6_OPTION, "to the CGN with an IPv6 option it does not know whose type says discard (RFC 8200 §4.2; Parameter Problem sent where the type asks)") \
	X(IP6_EXT_UNSUPPORTED, "an IPv6 extension header the CGN does not walk: ESP, AH, Mobility, HIP, Shim6, experimental (RFC 7045)") \
	X(IP6_MULTICAST, "IPv6 multicast to a group the CGN's port is not in (MLD reports, other hosts' solicited-node groups)") \
	X(ND_INVALID, "a Neighbor Solicitation or Advertisement RFC 4861 §7.1 refuses, or an echo request that cannot be answered (nd_refused_* say why)") \
	X(ND_NOT_OURS, "ND for another node (a solicitation for an address not the port's, DAD), or an advertisement for no neighbour in the table") \
	X(NO_NAT64, "IPv6 to an address that is neither the CGN's nor under a Pref64 (or NAT64 is off): nothing to translate it (ICMPv6 unreachable, no route, sent)") \
	X(NAT64_SRC_PREF64, "IPv6 from an address under a Pref64: silently discarded (RFC 6146 §3.5, loop protection)") \
	X(NAT64_NON_GLOBAL, "the Well-Known Prefix with a non-global IPv4 address, as destination or source (RFC 6052 §3.1)") \
	X(NAT64_NOT_INSIDE, "IPv6 to a Pref64 that came by an outside port (NAT64 translates from the inside)") \
	X(NAT64_PROTO, "IPv6 to a Pref64 with neither TCP, UDP nor ICMPv6 (ICMPv6 1/4 sent, RFC 6146 §3.5)") \
	X(NAT64_ICMP6_TYPE, "an ICMPv6 informational message other than echo to a Pref64 (RFC 7915 §5.2: MLD, ND, unknown)") \
	X(NAT64_UDP_ZERO_CHECKSUM, "IPv4 UDP with a zero checksum: in fragments, or nat64.udp_zero_checksum = \"drop\" (RFC 6146 §3.4); IPv6 UDP with a zero checksum (RFC 8200 §8.1)") \
	X(NAT64_ILLEGAL_SOURCE, "IPv4 to an IPv6 subscriber from 0.0.0.0/8, 127.0.0.0/8, multicast or 240.0.0.0/4 (RFC 7915 §4.1: silently dropped)") \
	X(NAT64_SOURCE_ROUTE, "IPv4 with an unexpired source route option, for an IPv6 subscriber (RFC 7915 §4.1: ICMPv4 3/5 sent)") \
	X(NAT64_ICMP_ERROR, "an ICMP error RFC 7915 does not translate (its type, code, pointer or quoted packet; nat64_error_* say why)") \
	X(NAT64_FRAGMENT, "a fragment NAT64 cannot translate (an IPv6 Fragment header followed by another extension header, RFC 7915 §5.1.1; ICMPv6 in fragments with an extension header before its Fragment header; an IPv4 ICMP echo in fragments from the inside to an IPv6 subscriber; a datagram in fragments from one IPv6 subscriber to another)") \
	X(NAT64_REASSEMBLY, "an ICMP fragment (NAT64 reassembles ICMP) or datagram the reassembly refused: empty, past 65535 octets, overlapping, more than 8 fragments, the worker's 1024 datagrams in progress, or whole but longer than one mbuf (dataplane.mbuf_size)") \
	X(NAT64_REASSEMBLY_TIMEOUT, "an ICMP fragment held for reassembly whose datagram was not whole within 2 s (RFC 6146 §3.4)") \
	X(FRAGMENT, "a fragment whose first fragment was dropped or did not come in time, or an ICMP error in fragments") \
	X(FRAGMENTS_FULL, "a held fragment pushed out by a newer one (the hold of its side was full)") \
	X(UNSUPPORTED_PROTO, "neither TCP, UDP nor ICMP: counted, not translated")          \
	X(ICMP_TYPE, "an ICMP type that is neither echo nor a translatable error")              \
	X(NOT_INSIDE, "outbound source outside pcp.inside")                                     \
	X(NO_MAPPING, "inbound to an external address and port with no mapping")                \
	X(FILTERED, "inbound from a remote peer the mapping's FILTERs (§13.3) or nat.filtering do not allow") \
	X(TTL_EXPIRED, "TTL would reach 0 (ICMP time exceeded sent, rate permitting)")           \
	X(NO_PORTS, "the subscriber's port quota is used up (ICMP 3/13, or ICMPv6 1/3 to an IPv6 subscriber, sent)")                  \
	X(POOL_EXHAUSTED, "no free port block on the subscriber's address (ICMP 3/13, or ICMPv6 1/3 to an IPv6 subscriber, sent)")    \
	X(TABLE_FULL, "the shared table has no room for a new session (ICMP 3/13, or ICMPv6 1/3 to an IPv6 subscriber, sent)")         \
	X(PORTS_STILL_MAPPED, "every external port tried is still in the table, its removal on its way (ICMP 3/13, or ICMPv6 1/3 to an IPv6 subscriber, sent)") \
	X(SUBSCRIBERS_FULL, "nat.max_subscribers reached (ICMP 3/13, or ICMPv6 1/3 to an IPv6 subscriber, sent)")                      \
	X(TX_FULL, "the transmit queue was full")                                               \
	X(ICMP_ERROR_UNMATCHED, "an ICMP error about a packet of no mapping (RFC 5508)")        \
	X(HAIRPIN_NO_MAPPING, "to a pool address and port with no mapping, from the inside")   \
	X(TOO_BIG, "bigger than the MTU of the link it would leave by, with DF set (ICMP 3/4 sent with the MTU)") \
	X(CANNOT_FRAGMENT, "bigger than its link's MTU, and no buffers to fragment it (or a fragment of it)")

enum cgn_drop_reason {
#define X(name, doc) CGN_DROP_##name,
	CGN_DROP_REASONS(X)
#undef X
	CGN_DROP_COUNT
};

/** @return the name of a drop reason ("NO_MAPPING"). */
static inline const char *
cgn_drop_name(enum cgn_drop_reason r)
{
	static const char *const names[CGN_DROP_COUNT] = {
#define X(name, doc) [CGN_DROP_##name] = #name,
		CGN_DROP_REASONS(X)
#undef X
	};
	return r < CGN_DROP_COUNT ? names[r] : "?";
}

#endif /* CGN_DROP_H */
