/*
 * Protocol numbers by name: what the data plane reads and writes in headers, in one place, so
 * that no step carries a bare 3, 135 or 1280. Names follow the RFCs' own words, prefixed with
 * CGN_ so that they never meet <netinet/ip_icmp.h>'s or <netinet/icmp6.h>'s spellings.
 *
 *   ICMP (RFC 792; RFC 1191 §3 for "fragmentation needed"; RFC 1122 §3.2.2.1 for codes 6-12;
 *   RFC 1812 §5.2.7.1 for codes 13-15; the other types as RFC 7915 §4.2 lists them)
 *   ICMPv6 (RFC 4443 §2.1, §3, §4)
 *   Neighbor Discovery (RFC 4861 §4, §4.6, §10)
 *   IPv6 (RFC 8200 §3, §4, §5, §8.1): header lengths, extension headers, the minimum MTU
 *
 * IP protocol numbers themselves are <netinet/in.h>'s IPPROTO_* (IPPROTO_ICMP, IPPROTO_TCP,
 * IPPROTO_UDP, IPPROTO_ICMPV6); the PCP ports are pcp_wire.h's PCP_SERVER_PORT (5351) and
 * PCP_CLIENT_PORT (5350), RFC 6887 §19.1.
 *
 * Constants and one pure inline function: any thread.
 */
#ifndef CGN_PROTO_H
#define CGN_PROTO_H

#include <stdbool.h>
#include <stdint.h>

/* ---- ICMP for IPv4 (RFC 792) ------------------------------------------------------------ */

#define CGN_ICMP_ECHO_REPLY 0
#define CGN_ICMP_DEST_UNREACH 3
#define CGN_ICMP_SOURCE_QUENCH 4 /* deprecated (RFC 6633); an error all the same (RFC 5508 §2) */
#define CGN_ICMP_REDIRECT 5
#define CGN_ICMP_ALT_HOST_ADDR 6 /* "Alternative Host Address" (deprecated, RFC 6918) */
#define CGN_ICMP_ECHO 8          /* "echo message": the request */
#define CGN_ICMP_ROUTER_ADVERT 9 /* RFC 1256 */
#define CGN_ICMP_ROUTER_SOLICIT 10
#define CGN_ICMP_TIME_EXCEEDED 11
#define CGN_ICMP_PARAM_PROBLEM 12
#define CGN_ICMP_TIMESTAMP 13
#define CGN_ICMP_TIMESTAMP_REPLY 14
#define CGN_ICMP_INFO_REQUEST 15
#define CGN_ICMP_INFO_REPLY 16
#define CGN_ICMP_ADDR_MASK_REQUEST 17 /* RFC 950 */
#define CGN_ICMP_ADDR_MASK_REPLY 18

/* Destination Unreachable codes (RFC 792; 4 as RFC 1191 §3 uses it; 13 from RFC 1812). */
#define CGN_ICMP_NET_UNREACH 0
#define CGN_ICMP_HOST_UNREACH 1
#define CGN_ICMP_PROTOCOL_UNREACH 2
#define CGN_ICMP_PORT_UNREACH 3
#define CGN_ICMP_FRAG_NEEDED 4         /* "fragmentation needed and DF set": next-hop MTU in octets 6-7 */
#define CGN_ICMP_SOURCE_ROUTE_FAILED 5
#define CGN_ICMP_NET_UNKNOWN 6         /* "destination network unknown" */
#define CGN_ICMP_HOST_UNKNOWN 7        /* "destination host unknown" */
#define CGN_ICMP_HOST_ISOLATED 8       /* "source host isolated" */
#define CGN_ICMP_NET_PROHIBITED 9      /* "communication with destination network administratively prohibited" */
#define CGN_ICMP_HOST_PROHIBITED 10    /* "communication with destination host administratively prohibited" */
#define CGN_ICMP_NET_UNREACH_TOS 11    /* "network unreachable for type of service" */
#define CGN_ICMP_HOST_UNREACH_TOS 12   /* "host unreachable for type of service" */
#define CGN_ICMP_ADMIN_PROHIBITED 13   /* "communication administratively prohibited" */
#define CGN_ICMP_HOST_PRECEDENCE 14    /* "host precedence violation" */
#define CGN_ICMP_PRECEDENCE_CUTOFF 15  /* "precedence cutoff in effect" */

/* Time Exceeded codes. */
#define CGN_ICMP_TTL_EXCEEDED 0        /* "time to live exceeded in transit" */
#define CGN_ICMP_FRAG_TIME_EXCEEDED 1  /* "fragment reassembly time exceeded" */

/* Parameter Problem codes: 0, the pointer (octet 4) indicates the error; 1 and 2 as RFC 7915
 * §4.2 names them (RFC 1108, RFC 1812 §5.2.7.3). */
#define CGN_ICMP_PARAM_POINTER 0
#define CGN_ICMP_PARAM_MISSING_OPTION 1 /* "Missing a required option" */
#define CGN_ICMP_PARAM_BAD_LENGTH 2     /* "Bad length" */

#define CGN_ICMP_HDR_LEN 8 /* type, code, checksum and the 4-octet rest of header */

/* ---- ICMPv6 (RFC 4443) ----------------------------------------------------------------- */

/* §2.1: error messages have types 0-127, informational ones 128-255. */
#define CGN_ICMP6_DST_UNREACH 1
#define CGN_ICMP6_PACKET_TOO_BIG 2     /* the MTU of the next hop in octets 4-7 */
#define CGN_ICMP6_TIME_EXCEEDED 3
#define CGN_ICMP6_PARAM_PROB 4         /* the pointer (an octet offset) in octets 4-7 */
#define CGN_ICMP6_ECHO_REQUEST 128
#define CGN_ICMP6_ECHO_REPLY 129
#define CGN_ICMP6_MLD_QUERY 130        /* Multicast Listener Discovery (RFC 2710 §3) */
#define CGN_ICMP6_MLD_REPORT 131
#define CGN_ICMP6_MLD_DONE 132
#define CGN_ICMP6_INFO_MIN 128         /* types below are errors */

/* §3.1 Destination Unreachable codes. */
#define CGN_ICMP6_NO_ROUTE 0           /* "no route to destination" */
#define CGN_ICMP6_ADMIN_PROHIBITED 1   /* "communication with destination administratively prohibited" */
#define CGN_ICMP6_BEYOND_SCOPE 2       /* "beyond scope of source address" */
#define CGN_ICMP6_ADDR_UNREACH 3       /* "address unreachable" */
#define CGN_ICMP6_PORT_UNREACH 4       /* "port unreachable" */
#define CGN_ICMP6_POLICY_FAIL 5        /* "source address failed ingress/egress policy" */
#define CGN_ICMP6_REJECT_ROUTE 6       /* "reject route to destination" */

/* §3.3 Time Exceeded codes. */
#define CGN_ICMP6_HOP_LIMIT_EXCEEDED 0 /* "hop limit exceeded in transit" */
#define CGN_ICMP6_FRAG_TIME_EXCEEDED 1 /* "fragment reassembly time exceeded" */

/* §3.4 Parameter Problem codes. */
#define CGN_ICMP6_ERR_HEADER_FIELD 0   /* "erroneous header field encountered" */
#define CGN_ICMP6_UNRECOGNIZED_NH 1    /* "unrecognized Next Header type encountered" */
#define CGN_ICMP6_UNRECOGNIZED_OPT 2   /* "unrecognized IPv6 option encountered" */

#define CGN_ICMP6_HDR_LEN 8 /* type, code, checksum and the 4-octet message body start */

/** @return true for the ICMPv6 types that are errors (RFC 4443 §2.1: 0-127). */
static inline bool
cgn_icmp6_is_error(uint8_t type)
{
	return type < CGN_ICMP6_INFO_MIN;
}

/* ---- Neighbor Discovery (RFC 4861) ------------------------------------------------------ */

/* §4.1-§4.5 message types (ICMPv6 informational). */
#define CGN_ND_ROUTER_SOLICIT 133
#define CGN_ND_ROUTER_ADVERT 134
#define CGN_ND_NEIGHBOR_SOLICIT 135
#define CGN_ND_NEIGHBOR_ADVERT 136
#define CGN_ND_REDIRECT 137

/* §4.6 option types; an option's length counts units of 8 octets, type and length included. */
#define CGN_ND_OPT_SOURCE_LINKADDR 1   /* "Source Link-Layer Address" */
#define CGN_ND_OPT_TARGET_LINKADDR 2   /* "Target Link-Layer Address" */
#define CGN_ND_OPT_PREFIX_INFORMATION 3
#define CGN_ND_OPT_REDIRECTED_HEADER 4
#define CGN_ND_OPT_MTU 5
#define CGN_ND_OPT_UNIT 8              /* octets per unit of an option's length field */

/* §4.4 Neighbor Advertisement flags: the first octet after the checksum. */
#define CGN_ND_NA_FLAG_ROUTER 0x80     /* R: the sender is a router */
#define CGN_ND_NA_FLAG_SOLICITED 0x40  /* S: sent in response to a Neighbor Solicitation */
#define CGN_ND_NA_FLAG_OVERRIDE 0x20   /* O: override an existing cache entry */

/* §4.3, §4.4: a solicitation or advertisement is its ICMPv6 header and the 16-octet target. */
#define CGN_ND_NS_LEN 24
#define CGN_ND_NA_LEN 24
#define CGN_ND_LLA_OPT_LEN 8           /* an Ethernet link-layer address option (RFC 2464 §6) */

/* §6.1.1, §7.1.1: ND messages are sent with, and accepted only with, hop limit 255. */
#define CGN_ND_HOP_LIMIT 255

/* §10 node constants. */
#define CGN_ND_MAX_MULTICAST_SOLICIT 3
#define CGN_ND_MAX_UNICAST_SOLICIT 3
#define CGN_ND_REACHABLE_TIME_MS 30000
#define CGN_ND_RETRANS_TIMER_MS 1000
#define CGN_ND_DELAY_FIRST_PROBE_TIME_MS 5000

/* ---- IPv6 (RFC 8200) -------------------------------------------------------------------- */

#define CGN_IPV6_HDR_LEN 40
#define CGN_IPV6_FRAG_HDR_LEN 8
#define CGN_IPV6_MIN_MTU 1280          /* §5: every link carries packets this big */
#define CGN_IPV6_VERSION 6

/* Next Header values (§4; IANA "Assigned Internet Protocol Numbers"). The extension headers
 * are hop-by-hop, routing, fragment, destination options, AH, ESP (which ends parsing: what
 * follows is encrypted), mobility (RFC 6275), HIP (RFC 7401), shim6 (RFC 5533) and the two
 * experimental values (RFC 3692, RFC 4727). */
#define CGN_IPV6_NH_HOPOPTS 0          /* Hop-by-Hop Options (§4.3); only right after the header */
#define CGN_IPV6_NH_ROUTING 43         /* Routing (§4.4) */
#define CGN_IPV6_NH_FRAGMENT 44        /* Fragment (§4.5) */
#define CGN_IPV6_NH_ESP 50             /* Encapsulating Security Payload (RFC 4303) */
#define CGN_IPV6_NH_AH 51              /* Authentication Header (RFC 4302): its length counts 4-octet units */
#define CGN_IPV6_NH_ICMPV6 58          /* = IPPROTO_ICMPV6 */
#define CGN_IPV6_NH_NONE 59            /* No Next Header (§4.7) */
#define CGN_IPV6_NH_DSTOPTS 60         /* Destination Options (§4.6) */
#define CGN_IPV6_NH_MOBILITY 135       /* Mobility Header (RFC 6275) */
#define CGN_IPV6_NH_HIP 139            /* Host Identity Protocol (RFC 7401) */
#define CGN_IPV6_NH_SHIM6 140          /* Shim6 (RFC 5533) */
#define CGN_IPV6_NH_EXP1 253           /* experimentation and testing (RFC 3692, RFC 4727) */
#define CGN_IPV6_NH_EXP2 254

/* §4.5 Fragment header: the offset (in 8-octet units) and M flag share one 16-bit word. */
#define CGN_IPV6_FRAG_OFFSET_MASK 0xfff8
#define CGN_IPV6_FRAG_MORE 0x0001

/**
 * @return true if a Next Header value names an IPv6 extension header (RFC 8200 §4 and IANA's
 *         "IPv6 Extension Header Types"), false for an upper-layer protocol or No Next Header.
 */
static inline bool
cgn_ipv6_is_ext_header(uint8_t nh)
{
	switch (nh) {
	case CGN_IPV6_NH_HOPOPTS:
	case CGN_IPV6_NH_ROUTING:
	case CGN_IPV6_NH_FRAGMENT:
	case CGN_IPV6_NH_ESP:
	case CGN_IPV6_NH_AH:
	case CGN_IPV6_NH_DSTOPTS:
	case CGN_IPV6_NH_MOBILITY:
	case CGN_IPV6_NH_HIP:
	case CGN_IPV6_NH_SHIM6:
	case CGN_IPV6_NH_EXP1:
	case CGN_IPV6_NH_EXP2:
		return true;
	default:
		return false;
	}
}

#endif /* CGN_PROTO_H */
