"""Golden cases of the group ipv6: IPv6 for the CGN itself (tests/golden/cases/ipv6/<case>/).

The inside port (net_pcap0, its MAC NAT_IN_MAC) has the global address 2001:db8:100::254 and the
link-local address its MAC gives it (modified EUI-64, RFC 4291 §2.5.1, App. A: computed here
by scapy, not read from cgnatd). Its IPv6 routes: 2001:db8::/32 via the gateway
2001:db8:100::1, and 2001:db8:100::/64 directly connected. There is no NAT64 yet: IPv6 to any
other destination is answered "no route". What is checked is what an IPv6 router interface
owes its link: Neighbor Discovery (RFC 4861), the echo responder and ICMPv6 errors
(RFC 4443), the extension header walk (RFC 8200 §4), routing by longest match.

BASE_CONF is the group's config and conf() fills it in: by default the gateway is a static
neighbour (GW_MAC), so that no Neighbor Solicitation for it, sent once a second at most,
makes an output depend on the run's length; the cases about resolving it leave it to ND.
Every case_<name>(work) runs cgnatd (harness.Run) in the folder work and returns
(run, counters), as nat44.py's do.
"""
from socket import AF_INET6, inet_ntop, inet_pton

from scapy.all import (AH, IP, Ether, ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6MLReport2,
                       ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, PadN, Raw, RouterAlert, UDP, in6_getnsma,
                       in6_getnsmac, in6_mactoifaceid, raw, wrpcap)

from harness import SUB_MAC, Run, upper6_cksum_ok

# The inside port's own MAC: DPDK's net_pcap gives its ports 02:70:63:61:70:<n> ("pcap", n in
# the order of the vdevs; rte_eth_pcap.c), net_pcap0 the first. ND puts it on the wire (the
# link-layer address options) and the link-local address is made of it, so it is the real one
# here, not harness.NAT_IN_MAC (the destination nat44's frames are sent to, never checked).
NAT_IN_MAC = "02:70:63:61:70:00"

GLOBAL = "2001:db8:100::254"                                  # the inside port's address6
LINK_LOCAL = inet_ntop(AF_INET6, inet_pton(AF_INET6, "fe80::" + in6_mactoifaceid(NAT_IN_MAC)))  # modified EUI-64
GW, GW_MAC = "2001:db8:100::1", "02:00:00:00:06:01"           # the gateway of 2001:db8::/32
HOST = "2001:db8:6::2"                                        # a host behind the gateway
ONLINK, ONLINK_MAC = "2001:db8:100::7", "02:00:00:00:01:07"   # a host on 2001:db8:100::/64
ONLINK_LL = "fe80::7"                                         # its link-local address
ALL_NODES = "ff02::1"

BASE_CONF = """
pcp = {{ listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10" ]; announce = {{ multicast = false; }}; }};
nat = {{ pool = [ "203.0.113.0/30" ]; }};
dataplane = {{ seed = 42; idle_sleep_us = 100; rx_delay_ms = {rx_delay}; icmp_source = "203.0.113.3"; }};
ports = ( {{ name = "net_pcap0"; role = "inside"; peer_mac = "{sub_mac}"; address = "100.64.0.254";
            address6 = "2001:db8:100::254"; }},
          {{ name = "net_pcap1"; role = "outside"; peer_mac = "02:00:00:00:02:02"; address = "198.51.100.1"; }} );
routes = ( {{ prefix = "2001:db8::/32"; port = "net_pcap0"; via = "2001:db8:100::1"; }},
           {{ prefix = "2001:db8:100::/64"; port = "net_pcap0"; }} );
{neighbours}
"""

STATIC_GW = '{ address = "2001:db8:100::1"; mac = "%s"; port = "net_pcap0"; }' % GW_MAC


def conf(static=(STATIC_GW,), rx_delay=300):
    """The group's config; static: the static neighbour entries (the gateway's by default)."""
    neighbours = "neighbours = ( %s );" % ",\n  ".join(static) if static else ""
    return BASE_CONF.format(rx_delay=rx_delay, sub_mac=SUB_MAC, neighbours=neighbours)


def solicited_node(addr):
    """ff02::1:ffXX:XXXX of addr (RFC 4291 §2.7.1)."""
    return inet_ntop(AF_INET6, in6_getnsma(inet_pton(AF_INET6, addr)))


def l2_dst(ip6_dst):
    """Where a frame to ip6_dst goes on the wire: a group's 33:33 MAC (RFC 2464 §7), else the port."""
    return in6_getnsmac(inet_pton(AF_INET6, ip6_dst)) if ip6_dst.startswith("ff") else NAT_IN_MAC


def frame(pkt, src_mac=GW_MAC):
    """pkt (IPv6) onto the inside link from src_mac (by default the gateway's: the hosts of
    2001:db8::/32 are behind it)."""
    return Ether(src=src_mac, dst=l2_dst(pkt[IPv6].dst)) / pkt


def echo(src, dst, ident=0x66, seq=1, data=b"ping6", hlim=64, src_mac=GW_MAC):
    return frame(IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6EchoRequest(id=ident, seq=seq, data=data), src_mac)


def ns(target, src=ONLINK, dst=None, hlim=255, slla=ONLINK_MAC, src_mac=ONLINK_MAC):
    """A Neighbor Solicitation (RFC 4861 §4.3) for target: to its solicited-node group unless
    dst says otherwise, with a Source Link-Layer Address option unless slla is None."""
    pkt = IPv6(src=src, dst=dst or solicited_node(target), hlim=hlim) / ICMPv6ND_NS(tgt=target)
    if slla:
        pkt = pkt / ICMPv6NDOptSrcLLAddr(lladdr=slla)
    return frame(pkt, src_mac)


def na_from(addr, mac, dst=LINK_LOCAL, solicited=1):
    """A Neighbor Advertisement (§4.4) from addr for itself, with its Target Link-Layer Address."""
    return frame(IPv6(src=addr, dst=dst, hlim=255) / ICMPv6ND_NA(R=1, S=solicited, O=1, tgt=addr)
                 / ICMPv6NDOptDstLLAddr(lladdr=mac), mac)


def solicitations(pkts):
    return [p for p in pkts if ICMPv6ND_NS in p]


def check_na(p, target, to, to_mac, solicited):
    """RFC 4861 §7.2.4: the NA for target; §4.4: R (a router), S as asked, O (not anycast, not
    proxied: §7.2.4 "SHOULD be set to one"), the Target Link-Layer Address option with the port's
    MAC; §7.1.2: hop limit 255; from the target address, to `to` at to_mac."""
    na = p[ICMPv6ND_NA]
    assert p[Ether].src == NAT_IN_MAC and p[Ether].dst == to_mac, p.summary()
    assert p[IPv6].src == target and p[IPv6].dst == to and p[IPv6].hlim == 255, p[IPv6].summary()
    assert na.code == 0 and na.tgt == target and (na.R, na.S, na.O) == (1, solicited, 1), (na.R, na.S, na.O)
    assert ICMPv6NDOptDstLLAddr in p and p[ICMPv6NDOptDstLLAddr].lladdr == NAT_IN_MAC
    assert upper6_cksum_ok(p), "the NA's checksum"


def check_echo_reply(p, request, to_mac):
    """RFC 4443 §4.2: from the request's destination to its source, "the entire Echo Request
    message" data, identifier and sequence number unchanged; its checksum (§2.3) right."""
    q = request[ICMPv6EchoRequest]
    assert ICMPv6EchoReply in p, p.summary()
    r = p[ICMPv6EchoReply]
    assert p[Ether].src == NAT_IN_MAC and p[Ether].dst == to_mac, p.summary()
    assert p[IPv6].src == request[IPv6].dst and p[IPv6].dst == request[IPv6].src, p[IPv6].summary()
    assert p[IPv6].nh == 58 and r.code == 0 and (r.id, r.seq, r.data) == (q.id, q.seq, q.data)
    assert upper6_cksum_ok(p), "the echo reply's checksum"


def check_error(p, offending, type_, code, src, to_mac):
    """RFC 4443 §3.1 (§2.4(c)): the error from src to the offending packet's source, quoting as
    much of it as fits in the minimum MTU (here all of it), unused field 0, checksum right."""
    assert p[Ether].src == NAT_IN_MAC and p[Ether].dst == to_mac, p.summary()
    ip = p[IPv6]
    assert ip.src == src and ip.dst == offending[IPv6].src and ip.nh == 58, ip.summary()
    icmp = raw(ip)[40:]
    assert (icmp[0], icmp[1]) == (type_, code) and icmp[4:8] == bytes(4), icmp[:8].hex()
    assert icmp[8:] == raw(offending[IPv6]), "the offending packet quoted whole"
    assert upper6_cksum_ok(p), "the error's checksum"


# ---- Neighbor Discovery: answering (RFC 4861 §7.2.3, §7.2.4) -----------------------------------

def case_ns_for_the_global_address(work):
    """RFC 4861 §7.2.4: an NS for the port's global address, to its solicited-node group with a
    Source Link-Layer Address option, is answered with a solicited NA, unicast to the
    solicitation's source at the MAC of its option (§7.2.4: "unicast the advertisement to the
    Source Address of the solicitation"; §7.2.3's link-layer address)."""
    q = ns(GLOBAL)
    r = Run("ns", work, conf(), [q], [])
    assert r.out_outside == [] and len(r.out_inside) == 1, [p.summary() for p in r.out_inside]
    check_na(r.out_inside[0], GLOBAL, ONLINK, ONLINK_MAC, solicited=1)
    return r, {"pkt_nd_answered": 1, "pkt_nd_learned": 0, "drop_ND_INVALID": 0}


def case_ns_for_the_link_local_address(work):
    """RFC 4861 §7.2.4 for the port's link-local address (RFC 4291 §2.5.6, its interface
    identifier from the MAC, App. A), asked from a link-local source: the NA from the
    link-local address, solicited, to the asker's link-local address."""
    q = ns(LINK_LOCAL, src=ONLINK_LL)
    r = Run("nsll", work, conf(), [q], [])
    assert len(r.out_inside) == 1, [p.summary() for p in r.out_inside]
    check_na(r.out_inside[0], LINK_LOCAL, ONLINK_LL, ONLINK_MAC, solicited=1)
    return r, {"pkt_nd_answered": 1, "drop_ND_INVALID": 0}


def case_dad_ns_answered_to_all_nodes(work):
    """RFC 4862 §5.4.3 Duplicate Address Detection for the port's address, answered as RFC 4861
    §7.2.4 says for a source of ::: "the node MUST set the Solicited flag to zero and multicast
    the advertisement to the all-nodes address" (ff02::1 at 33:33:00:00:00:01, RFC 2464 §7).
    §7.1.1: a DAD NS carries no Source Link-Layer Address option."""
    q = ns(GLOBAL, src="::", slla=None)
    r = Run("dad", work, conf(), [q], [])
    assert len(r.out_inside) == 1, [p.summary() for p in r.out_inside]
    check_na(r.out_inside[0], GLOBAL, ALL_NODES, "33:33:00:00:00:01", solicited=0)
    return r, {"pkt_nd_answered": 1}


def case_ns_for_another_address_not_answered(work):
    """RFC 4861 §7.2.3: an NS whose target is not one of the port's addresses is silently
    discarded. 2001:db8:200::254 shares the port's solicited-node group (the low 24 bits,
    RFC 4291 §2.7.1): the NS reaches ND and is dropped there (ND_NOT_OURS); one to another
    node's group is not for a group the port is in at all (IP6_MULTICAST)."""
    same_group = ns("2001:db8:200::254")
    assert same_group[IPv6].dst == solicited_node(GLOBAL)
    other_group = ns("2001:db8:100::99")
    r = Run("nsother", work, conf(), [same_group, other_group], [])
    assert r.out_inside == [] and r.out_outside == []
    return r, {"pkt_nd_answered": 0, "drop_ND_NOT_OURS": 1, "drop_IP6_MULTICAST": 1}


def case_ns_with_hop_limit_254_refused(work):
    """RFC 4861 §7.1.1: "The IP Hop Limit field has a value of 255, i.e., the packet could not
    possibly have been forwarded by a router": an NS with 254 is discarded, not answered,
    counted ND_INVALID and by its reason (nd_refused_HOP_LIMIT).
    cgnatd fails this today: the worker counts nd_refused[] (local6.c refused()) but telemetry
    (control/telemetry.c, the stats command) never shows those counters. Its counters.json was
    written by hand, not by --regen."""
    q = ns(GLOBAL, hlim=254)
    r = Run("nshl", work, conf(), [q], [])
    assert r.out_inside == []
    return r, {"pkt_nd_answered": 0, "drop_ND_INVALID": 1, "pkt_nd_refused_HOP_LIMIT": 1}


# ---- Neighbor Discovery: learning and resolving (RFC 4861 §7.2.2, §7.2.5) ----------------------

def check_gateway_ns(p):
    """RFC 4861 §7.2.2 (§4.3): the NS for the gateway to its solicited-node group at its 33:33
    MAC (RFC 2464 §7), from the port's link-local address (the port's MAC as Ethernet source),
    hop limit 255, with the Source Link-Layer Address option, checksum right."""
    ns_ = p[ICMPv6ND_NS]
    assert p[Ether].src == NAT_IN_MAC and p[Ether].dst == "33:33:ff:00:00:01", p.summary()
    assert p[IPv6].src == LINK_LOCAL and p[IPv6].dst == "ff02::1:ff00:1" and p[IPv6].hlim == 255, p[IPv6].summary()
    assert ns_.code == 0 and ns_.tgt == GW and p[ICMPv6NDOptSrcLLAddr].lladdr == NAT_IN_MAC
    assert upper6_cksum_ok(p), "the NS's checksum"


def neighbour_rows(table):
    return [v for page in table for k, v in page.items() if k.startswith("neighbour_")]


def case_na_from_the_gateway_learned(work):
    """RFC 4861 §7.2.5: an NA for an entry of the neighbour cache updates it (the gateway's,
    made at start and asked for by NS: incomplete until then); "If no entry exists, the
    advertisement SHOULD be silently discarded": an NA from 2001:db8:100::77, no neighbour of
    ours, teaches nothing and makes no entry (ND_NOT_OURS)."""
    seen = {}
    stranger = na_from("2001:db8:100::77", "02:00:00:00:01:77")
    r = Run("nalearn", work, conf(static=()), [na_from(GW, GW_MAC), stranger], [],
            after=lambda run: seen.update(neigh=run.ctl("-j", "neighbours")))
    rows = [(n["address"], n["kind"], n["state"], n.get("mac")) for n in neighbour_rows(seen["neigh"])]
    assert rows == [(GW, "gateway", "reachable", GW_MAC)], rows
    ns_ = solicitations(r.out_inside)
    assert ns_ and len(ns_) == len(r.out_inside), [p.summary() for p in r.out_inside]
    check_gateway_ns(ns_[0])
    wrpcap(r.paths["out_inside"], ns_[:1])  # one a second (arp.retry_ms) until answered: the first
    return r, {"pkt_nd_learned": 1, "drop_ND_NOT_OURS": 1, "nh_learned": 0}


def case_unicast_ns_from_the_gateway_answered_and_learned(work):
    """RFC 4861 §7.2.3: an NS with a Source Link-Layer Address option from a unicast source
    teaches the receiver the sender's MAC; the gateway's entry exists (it is asked for from the
    start), so its MAC is learned from its solicitation alone. The NS is unicast to the port's
    global address, as Neighbor Unreachability Detection probes are (§7.3.1): answered all the
    same, solicited, to the gateway (§7.2.4)."""
    seen = {}
    probe = ns(GLOBAL, src=GW, dst=GLOBAL, slla=GW_MAC, src_mac=GW_MAC)
    assert probe[Ether].dst == NAT_IN_MAC
    r = Run("nsgw", work, conf(static=()), [probe], [],
            after=lambda run: seen.update(neigh=run.ctl("-j", "neighbours")))
    rows = [(n["address"], n["kind"], n["state"], n.get("mac")) for n in neighbour_rows(seen["neigh"])]
    assert rows == [(GW, "gateway", "reachable", GW_MAC)], rows
    nas = [p for p in r.out_inside if ICMPv6ND_NA in p]
    ns_ = solicitations(r.out_inside)
    assert len(nas) == 1 and ns_ and len(ns_) + 1 == len(r.out_inside), [p.summary() for p in r.out_inside]
    check_na(nas[0], GLOBAL, GW, GW_MAC, solicited=1)
    check_gateway_ns(ns_[0])
    wrpcap(r.paths["out_inside"], ns_[:1] + nas)  # the NS sent at start, before the input was read
    return r, {"pkt_nd_answered": 1, "pkt_nd_learned": 1}


def case_next_hop_resolved_by_ns(work):
    """RFC 4861 §7.2.2: the gateway's MAC is asked for by NS at start, and until it is known what
    goes to it is dropped (NO_NEIGHBOUR, the first run: the echo request alone). The NA (§7.2.5)
    makes it reachable, and the echo reply to a host behind it (RFC 4443 §4.2), routed by
    2001:db8::/32, goes to the MAC the NA taught (the second run: the NA, then the request)."""
    request = echo(HOST, GLOBAL)
    first = Run("resolve", work, conf(static=()), [request], [])
    ns_ = solicitations(first.out_inside)
    assert ns_ and len(ns_) == len(first.out_inside), "no reply without the gateway's MAC"
    check_gateway_ns(ns_[0])
    # echo6_replies, like icmp_sent, counts only what left (not this one: NO_NEIGHBOUR).
    assert first.stats["drop_NO_NEIGHBOUR"] == 1 and first.stats["pkt_echo6_replies"] == 0
    r = Run("resolve", work, conf(static=()), [na_from(GW, GW_MAC), request], [])
    ns_ = solicitations(r.out_inside)
    replies = [p for p in r.out_inside if ICMPv6EchoReply in p]
    assert ns_ and len(replies) == 1 and len(ns_) + 1 == len(r.out_inside), [p.summary() for p in r.out_inside]
    check_gateway_ns(ns_[0])
    check_echo_reply(replies[0], request, GW_MAC)
    assert r.stats["nh_nd_requests"] >= 1
    wrpcap(r.paths["out_inside"], ns_[:1] + replies)  # the NS sent before the input was read
    return r, {"pkt_nd_learned": 1, "pkt_echo6_replies": 1, "drop_NO_NEIGHBOUR": 0}


# ---- the echo responder (RFC 4443 §4.2) ---------------------------------------------------------

def case_echo6_to_global_and_link_local(work):
    """RFC 4443 §4.2: "Every node MUST implement an ICMPv6 Echo responder function"; "The source
    address of the reply to a unicast Echo Request message MUST be the same as the destination
    address of that Echo Request message". One to the global address from behind the gateway
    (the reply routed back by 2001:db8::/32 to the gateway's MAC), one to the link-local address
    from a neighbour's link-local address (no route: back to the MAC it came from)."""
    to_global = echo(HOST, GLOBAL, ident=1, data=b"to the global address")
    to_ll = echo(ONLINK_LL, LINK_LOCAL, ident=2, data=b"to the link-local address", src_mac=ONLINK_MAC)
    r = Run("echo6", work, conf(), [to_global, to_ll], [])
    assert len(r.out_inside) == 2 and r.out_outside == [], [p.summary() for p in r.out_inside]
    check_echo_reply(r.out_inside[0], to_global, GW_MAC)
    check_echo_reply(r.out_inside[1], to_ll, ONLINK_MAC)
    return r, {"pkt_echo6_replies": 2, "pkt_rx": 2, "pkt_tx": 2}


def case_echo6_to_a_multicast_group_not_answered(work):
    """An echo request to a group: to all-nodes (ff02::1, a group the port is in) cgnatd does not
    answer by design (LOCAL; RFC 4443 §4.2 says an Echo Reply "SHOULD be sent" to one sent to a
    multicast address: a deliberate departure, no amplification from a link); to a group the
    port is not in, it is not its business (IP6_MULTICAST). Neither is answered."""
    to_all = echo(ONLINK_LL, ALL_NODES, src_mac=ONLINK_MAC)
    to_other = echo(ONLINK_LL, "ff02::1234", src_mac=ONLINK_MAC)
    r = Run("echomc", work, conf(), [to_all, to_other], [])
    assert r.out_inside == [] and r.out_outside == []
    return r, {"pkt_echo6_replies": 0, "drop_LOCAL": 1, "drop_IP6_MULTICAST": 1}


# ---- routing (RFC 4861 §5.2: longest match) -----------------------------------------------------

def case_routes_longest_match(work):
    """RFC 4861 §5.2 next-hop determination, longest prefix match (rte_lpm6): echo replies to
    2001:db8:100::7 match 2001:db8:100::/64 (directly connected: the destination's own MAC, here
    a static neighbour), to 2001:db8:6::2 only 2001:db8::/32 (the gateway's MAC), to
    2001:db9::5 no route (back to the MAC it came from). 2001:db8:100::8 is connected and
    unknown: its reply is dropped (NO_NEIGHBOUR) while cgnatd asks for it (§7.2.2: an NS to
    its solicited-node group)."""
    static = (STATIC_GW, '{ address = "%s"; mac = "%s"; port = "net_pcap0"; }' % (ONLINK, ONLINK_MAC))
    onlink = echo(ONLINK, GLOBAL, ident=1, src_mac=ONLINK_MAC)
    behind = echo(HOST, GLOBAL, ident=2)
    unrouted = echo("2001:db9::5", GLOBAL, ident=3, src_mac=SUB_MAC)
    unknown = echo("2001:db8:100::8", GLOBAL, ident=4, src_mac="02:00:00:00:01:08")
    r = Run("lpm6", work, conf(static=static), [onlink, behind, unrouted, unknown], [])
    replies = [p for p in r.out_inside if ICMPv6EchoReply in p]
    ns_ = solicitations(r.out_inside)
    assert len(replies) == 3 and len(ns_) + 3 == len(r.out_inside), [p.summary() for p in r.out_inside]
    check_echo_reply(replies[0], onlink, ONLINK_MAC)
    check_echo_reply(replies[1], behind, GW_MAC)
    check_echo_reply(replies[2], unrouted, SUB_MAC)
    q = ns_[0]
    assert q[ICMPv6ND_NS].tgt == "2001:db8:100::8" and q[IPv6].dst == "ff02::1:ff00:8" and q[IPv6].hlim == 255
    assert q[Ether].dst == "33:33:ff:00:00:08" and q[IPv6].src == LINK_LOCAL and upper6_cksum_ok(q)
    assert all(p[ICMPv6ND_NS].tgt == "2001:db8:100::8" for p in ns_)
    wrpcap(r.paths["out_inside"], replies + ns_[:1])  # NS once a second (arp.retry_ms): the first
    # Four replies made, three sent (the counter counts those).
    return r, {"pkt_echo6_replies": 3, "drop_NO_NEIGHBOUR": 1, "nh_learned": 1}


# ---- extension headers (RFC 8200 §4) ------------------------------------------------------------

def case_echo_behind_extension_headers(work):
    """RFC 8200 §4: Hop-by-Hop Options and Destination Options are processed (their Pad1/PadN
    options every node knows, §4.2), then the upper-layer header: an echo request behind them is
    an echo request still, and RFC 4443 §4.2's responder ("Every node MUST implement") answers
    it. The reply carries no extension headers (nothing asks it to).
    cgnatd fails this today: local6.c hands the frame to nd.c's cgn_nd_echo_reply(), which takes
    ICMPv6 only right behind the IPv6 header and refuses the rest (ND_INVALID,
    nd_refused_NOT_ICMP6). Its expected_inside.pcap was therefore written by hand, not by
    --regen: the reply cgnatd sends to the same request without the options (hop limit 64)."""
    request = frame(IPv6(src=HOST, dst=GLOBAL) / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0" * 4)])
                    / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)])
                    / ICMPv6EchoRequest(id=9, seq=1, data=b"behind options"))
    r = Run("echoext", work, conf(), [request], [])
    assert len(r.out_inside) == 1, "no reply: %s; nd_refused_NOT_ICMP6 = %s, drop_ND_INVALID = %s" % (
        [p.summary() for p in r.out_inside], r.stats.get("pkt_nd_refused_NOT_ICMP6"), r.stats.get("drop_ND_INVALID"))
    check_echo_reply(r.out_inside[0], request, GW_MAC)
    return r, {"pkt_echo6_replies": 1, "drop_ND_INVALID": 0}


def dst_opts(n, last_nh=58):
    """n Destination Options headers of 8 octets each (PadN), in a chain ending in last_nh."""
    hdrs = None
    for i in range(n):
        h = IPv6ExtHdrDestOpt(nh=60 if i < n - 1 else last_nh, options=[PadN(optdata=b"\0" * 4)])
        hdrs = h if hdrs is None else hdrs / h
    return hdrs


def case_extension_header_chains_refused(work):
    """RFC 8200 §4: the chain is walked with explicit bounds and at most CGN_IP6_MAX_EXT (8)
    headers, and the node may drop what it does not process (RFC 7045 §2.2): 8 headers (Hop-by-
    Hop, then 7 Destination Options) are walked to the UDP inside, answered port unreachable
    (RFC 4443 §3.1 code 4); 9 are dropped (IP6_EXT_CHAIN); a Destination Options header whose
    length runs past the payload (IP6_EXT_TRUNCATED); Hop-by-Hop after another header, §4.1:
    "MUST immediately follow the IPv6 header" (IP6_EXT_ORDER); an Authentication Header,
    not processed here (IP6_EXT_UNSUPPORTED). None of the refused is answered."""
    hbh = IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0" * 4)])
    base = IPv6(src=HOST, dst=GLOBAL)
    eight = frame(base / hbh / dst_opts(7, last_nh=17) / UDP(sport=5000, dport=7) / Raw(b"eight"))
    nine = frame(base / hbh / dst_opts(8, last_nh=17) / UDP(sport=5000, dport=7) / Raw(b"nine"))
    # Hdr Ext Len 4: 40 octets, of which the payload has 16.
    truncated = frame(IPv6(src=HOST, dst=GLOBAL, nh=60) / Raw(bytes([58, 4]) + bytes(14)))
    misplaced = frame(base / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]) / hbh
                      / ICMPv6EchoRequest(id=1, seq=1))
    ah = frame(base / AH(nh=58, payloadlen=4, spi=0x100, seq=1, icv=bytes(12)) / ICMPv6EchoRequest(id=2, seq=1))
    r = Run("extchain", work, conf(), [eight, nine, truncated, misplaced, ah], [])
    assert len(r.out_inside) == 1 and r.out_outside == [], [p.summary() for p in r.out_inside]
    check_error(r.out_inside[0], eight, 1, 4, GLOBAL, GW_MAC)
    return r, {"drop_IP6_EXT_CHAIN": 1, "drop_IP6_EXT_TRUNCATED": 1, "drop_IP6_EXT_ORDER": 1,
               "drop_IP6_EXT_UNSUPPORTED": 1, "drop_LOCAL": 1, "pkt_icmp_sent": 1}


def case_malformed_ipv6_dropped(work):
    """RFC 8200 §3: Version is 6 (a version 5 header behind the IPv6 EtherType is not IPv6:
    BAD_IP6_HEADER); the Payload Length says how much follows, and a frame shorter than that is
    truncated (TRUNCATED). Neither is answered (RFC 4443 §2.4(e) does not apply: nothing can be
    trusted in them)."""
    v5 = frame(IPv6(version=5, src=HOST, dst=GLOBAL) / ICMPv6EchoRequest(id=1, seq=1))
    short = frame(IPv6(src=HOST, dst=GLOBAL, plen=100) / ICMPv6EchoRequest(id=2, seq=1, data=b"short"))
    assert raw(v5)[14] >> 4 == 5 and len(raw(short)) - 14 - 40 < 100
    r = Run("badip6", work, conf(), [v5, short], [])
    assert r.out_inside == [] and r.out_outside == []
    return r, {"drop_BAD_IP6_HEADER": 1, "drop_TRUNCATED": 1, "pkt_echo6_replies": 0}


# ---- ICMPv6 errors (RFC 4443 §3.1) and multicast ------------------------------------------------

def case_no_nat64_destination_unreachable(work):
    """RFC 4443 §3.1: a packet that cannot be delivered "due to lack of a matching entry in the
    forwarding node's routing table" gets Destination Unreachable code 0. There is no NAT64 yet:
    64:ff9b::198.51.100.10 (RFC 6052 §2.1) is such a destination. The error comes from the
    port's address (§2.2: the packet was not sent to one of ours, no icmp_source6 is set),
    quotes the whole packet (§3.1: "as much of invoking packet as possible without the ICMPv6
    packet exceeding the minimum IPv6 MTU") and is routed back by 2001:db8::/32."""
    pkt = frame(IPv6(src=HOST, dst="64:ff9b::c633:640a") / UDP(sport=4000, dport=53) / Raw(b"query"))
    r = Run("nonat64", work, conf(), [pkt], [])
    assert len(r.out_inside) == 1 and r.out_outside == [], [p.summary() for p in r.out_inside]
    check_error(r.out_inside[0], pkt, 1, 0, GLOBAL, GW_MAC)
    assert ICMPv6DestUnreach in r.out_inside[0]
    return r, {"drop_NO_NAT64": 1, "pkt_icmp_sent": 1}


def case_udp_port_unreachable(work):
    """RFC 4443 §3.1 code 4: "if the transport protocol ... has no listener", sent from the
    address the datagram was sent to (§2.2), quoting it, toward its source by the routes. (Port
    7: 5351 has a listener, the PCP server; see pcp_over_ipv6_through_the_inside_port.)"""
    pkt = frame(IPv6(src=HOST, dst=GLOBAL) / UDP(sport=4000, dport=7) / Raw(b"no listener"))
    r = Run("portunr", work, conf(), [pkt], [])
    assert len(r.out_inside) == 1 and r.out_outside == [], [p.summary() for p in r.out_inside]
    check_error(r.out_inside[0], pkt, 1, 4, GLOBAL, GW_MAC)
    return r, {"drop_LOCAL": 1, "pkt_icmp_sent": 1}


def case_mld_report_dropped(work):
    """An MLDv2 report (RFC 3810 §5.2) to ff02::16, behind a Hop-by-Hop Router Alert (RFC 2711):
    the CGN is no multicast router and not in that group: dropped, counted (IP6_MULTICAST), and
    never answered (RFC 4443 §2.4(e.3): no error about a packet sent to a multicast address)."""
    report = frame(IPv6(src=ONLINK_LL, dst="ff02::16", hlim=1) / IPv6ExtHdrHopByHop(options=[RouterAlert()])
                   / ICMPv6MLReport2(), ONLINK_MAC)
    assert report[Ether].dst == "33:33:00:00:00:16"
    r = Run("mld", work, conf(), [report], [])
    assert r.out_inside == [] and r.out_outside == []
    return r, {"drop_IP6_MULTICAST": 1, "pkt_icmp_sent": 0}


# ---- PCP over IPv6 on the inside port (RFC 6887; dataplane local6.c -> punt.c) ----------------

PCP6_INSIDE = '"100.64.0.0/10", "2001:db8::/32", "fe80::/10"'


def conf_pcp6(announce="announce = { multicast = false; }"):
    """conf() with IPv6 subscribers in pcp.inside (2001:db8::/32, and link-local clients) and
    the given announce group."""
    c = conf().replace('inside = [ "100.64.0.0/10" ]; announce = { multicast = false; }',
                       "inside = [ %s ]; %s" % (PCP6_INSIDE, announce))
    assert c != conf()
    return c


def pcp_header(opcode, client, lifetime=0, version=2):
    """RFC 6887 §7.1's request header, built here independently of pcp_wire.c: the client's
    IPv6 address as is (§5)."""
    return bytes([version, opcode, 0, 0]) + lifetime.to_bytes(4, "big") + inet_pton(AF_INET6, client)


def pcp_map6(client, nonce, proto, int_port, lifetime):
    """§11.1's MAP opcode data after the header: nonce, protocol, internal port, no suggestion
    (::ffff:0:0, an IPv4 external address asked for, RFC 6887 §11.1)."""
    return (pcp_header(1, client, lifetime) + nonce + bytes([proto, 0, 0, 0]) + int_port.to_bytes(2, "big")
            + bytes(2) + bytes(10) + b"\xff\xff" + bytes(4))


def pcp6_to(src, dst, sport, msg, src_mac=GW_MAC, ext=None):
    """A PCP request in a UDP datagram from src:sport to dst:5351, behind ext (extension
    headers) if given."""
    ip = IPv6(src=src, dst=dst)
    if ext is not None:
        ip = ip / ext
    return frame(ip / UDP(sport=sport, dport=5351) / Raw(msg), src_mac)


def check_pcp6_answer(p, request, to_mac):
    """RFC 6887 §8.3: "sent from the IP address and port to which the request was sent" to
    the requester's address and port; to the MAC it came from, with no extension headers, hop
    limit 64 and a UDP checksum (mandatory over IPv6, RFC 8200 §8.1) that sums right.
    @return the PCP message."""
    q = request[IPv6]
    assert p[Ether].src == NAT_IN_MAC and p[Ether].dst == to_mac, p.summary()
    assert p[IPv6].src == q.dst and p[IPv6].dst == q.src and p[IPv6].nh == 17 and p[IPv6].hlim == 64, p[IPv6].summary()
    assert p[UDP].sport == 5351 and p[UDP].dport == request[UDP].sport and p[UDP].chksum != 0
    assert upper6_cksum_ok(p), "the answer's UDP checksum"
    return raw(p[UDP].payload)


def case_pcp_over_ipv6_through_the_inside_port(work):
    """PCP to the inside port's IPv6 addresses is served by the data plane's port, no kernel
    socket: the worker punts UDP to 5351 (local6.c) and the control thread answers (punt.c).
      - an ANNOUNCE to the global address from a host behind the gateway: SUCCESS (§14.1.2);
      - an ANNOUNCE to the link-local address from a neighbour's link-local address, behind a
        Destination Options header: answered from the link-local address, without it;
      - a MAP whose PCP Client IP Address is not the packet's real source (2001:db8:6::3 in
        the field, sent from 2001:db8:6::2): ADDRESS_MISMATCH (§8.2), a copy of the request
        (§8.2, 60 octets: header and MAP data);
      - version 3: UNSUPP_VERSION in version 2, and §7.2's Reserved field holding the last 96
        bits of the client address (not parsed);
      - from 2001:db9::5, not in pcp.inside: no answer (§8.2 ¶2);
      - a datagram to 5351 with a wrong UDP checksum: not handed to the server (punt_malformed),
        as a host's stack would discard it."""
    nonce = bytes(range(21, 33))
    announce_global = pcp6_to(HOST, GLOBAL, 40001, pcp_header(0, HOST))
    announce_ll = pcp6_to(ONLINK_LL, LINK_LOCAL, 40002, pcp_header(0, ONLINK_LL), src_mac=ONLINK_MAC,
                          ext=IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]))
    liar = pcp6_to(HOST, GLOBAL, 40003, pcp_map6("2001:db8:6::3", nonce, 17, 6000, 3600))
    v3 = pcp6_to(HOST, GLOBAL, 40004, pcp_header(0, HOST, version=3))
    stranger = pcp6_to("2001:db9::5", GLOBAL, 40005, pcp_header(0, "2001:db9::5"), src_mac=SUB_MAC)
    corrupt = pcp6_to(HOST, GLOBAL, 40006, pcp_header(0, HOST))
    corrupt[UDP].chksum = 0x1234
    corrupt = Ether(raw(corrupt))
    assert not upper6_cksum_ok(corrupt)
    r = Run("pcp6", work, conf_pcp6(), [announce_global, announce_ll, liar, v3, stranger, corrupt], [])
    assert r.out_outside == []
    answers = {p[UDP].dport: p for p in r.out_inside if UDP in p}
    assert sorted(answers) == [40001, 40002, 40003, 40004] and len(r.out_inside) == 4, \
        [p.summary() for p in r.out_inside]

    ok = check_pcp6_answer(answers[40001], announce_global, GW_MAC)
    assert len(ok) == 24 and ok[:4] == bytes([2, 0x80, 0, 0]) and ok[4:8] == bytes(4) and ok[12:] == bytes(12), ok.hex()
    ll = check_pcp6_answer(answers[40002], announce_ll, ONLINK_MAC)
    assert answers[40002][IPv6].src == LINK_LOCAL and ll[:4] == bytes([2, 0x80, 0, 0]), ll.hex()
    mm = check_pcp6_answer(answers[40003], liar, GW_MAC)
    sent = raw(liar[UDP].payload)
    assert len(mm) == 60 and mm[1] == 0x81 and mm[3] == 12, mm.hex()   # MAP, ADDRESS_MISMATCH
    assert int.from_bytes(mm[4:8], "big") == 1800 and mm[24:] == sent[24:], mm.hex()   # long error; MAP data copied
    vv = check_pcp6_answer(answers[40004], v3, GW_MAC)
    assert vv[0] == 2 and vv[1] == 0x80 and vv[3] == 1, vv.hex()   # UNSUPP_VERSION
    assert vv[12:24] == inet_pton(AF_INET6, HOST)[4:], "§7.2: the last 96 bits of the client address"
    assert r.stats["pcp_drop_NOT_INSIDE"] == 1
    # Not compared byte for byte: the epoch (§8.5: seconds since start, 0 or 1) and so the
    # UDP checksum, at 62 + 8 and 60 in every answer.
    r.masks = {"out_inside": [(60, 62), (70, 74)]}
    return r, {"pkt_punted": 6, "punt_answered": 4, "punt_unanswered": 1, "punt_malformed": 1,
               "pcp_result_ADDRESS_MISMATCH": 1, "pcp_result_UNSUPP_VERSION": 1, "pcp_result_SUCCESS": 2,
               "drop_LOCAL": 0, "pkt_icmp_sent": 0}


def check_announce6(p, src, dst, to_mac, hlim):
    """§14.1.3: an unsolicited ANNOUNCE, "result code equal to zero (SUCCESS)", from src:5351
    to dst:5350, a bare 24-octet response header; its UDP checksum right."""
    assert p[Ether].src == NAT_IN_MAC and p[Ether].dst == to_mac, p.summary()
    assert p[IPv6].src == src and p[IPv6].dst == dst and p[IPv6].hlim == hlim and p[IPv6].nh == 17, p[IPv6].summary()
    assert p[UDP].sport == 5351 and p[UDP].dport == 5350 and upper6_cksum_ok(p)
    msg = raw(p[UDP].payload)
    assert len(msg) == 24 and msg[:4] == bytes([2, 0x80, 0, 0]) and msg[12:] == bytes(12), msg.hex()


def case_announce6_to_all_nodes_out_of_the_inside_port(work):
    """RFC 6887 §14.1.3: "a PCP server device that accepts PCP requests over both IPv4 and IPv6
    sends a pair of Restart Announcements, one to each multicast address": the inside port has
    an address and an address6, so at start 224.0.0.1:5350 (TTL 1, from the address) and
    [ff02::1]:5350, from the port's link-local address (the group is link-scoped, RFC 4291
    §2.7) to 33:33:00:00:00:01 (RFC 2464 §7), hop limit 255 (RFC 6887 names none; 255 shows a
    client that it came from its link, as ND does, RFC 4861 §7.1); "up to ten times"."""
    r = Run("announce6", work, conf_pcp6("announce = { multicast = true; }"), [], [])
    assert r.out_outside == []
    v6 = [p for p in r.out_inside if IPv6 in p]
    v4 = [p for p in r.out_inside if IP in p]
    assert 1 <= len(v6) <= 10 and len(v4) + len(v6) == len(r.out_inside), [p.summary() for p in r.out_inside]
    assert abs(len(v4) - len(v6)) <= 1, "sent in pairs"
    for p in v6:
        check_announce6(p, LINK_LOCAL, ALL_NODES, "33:33:00:00:00:01", 255)
    assert v4[0][IP].dst == "224.0.0.1" and v4[0][IP].ttl == 1 and v4[0][UDP].dport == 5350
    # How many were sent depends on how long the run lasted: compare the first pair only.
    wrpcap(r.paths["out_inside"], [v4[0], v6[0]])
    return r, {"pkt_rx": 0, "punt_tx_failed": 0}


def case_unicast_announce6_to_inside_clients(work):
    """§14.1.3 "If sending a unicast ANNOUNCE messages, it sends ANNOUNCE response message to
    the IP address(es) and port(s) of its PCP clients": configured IPv6 clients in pcp.inside
    are sent it out of the inside port, 2001:db8:6::2 by the IPv6 routes (2001:db8::/32 via the
    gateway, a static neighbour) from the port's global address, fe80::7 (link-local: no route
    names it) to the port's peer_mac from the port's link-local address. Hop limit 64."""
    c = conf_pcp6('announce = { multicast = false; clients = [ "[%s]:5350", "[%s]:5350" ]; }' % (HOST, ONLINK_LL))
    r = Run("ucast6", work, c, [], [])
    assert r.out_outside == []
    to_host = [p for p in r.out_inside if p[IPv6].dst == HOST]
    to_ll = [p for p in r.out_inside if p[IPv6].dst == ONLINK_LL]
    assert to_host and to_ll and len(to_host) + len(to_ll) == len(r.out_inside), [p.summary() for p in r.out_inside]
    assert len(to_host) <= 10 and len(to_ll) <= 10
    for p in to_host:
        check_announce6(p, GLOBAL, HOST, GW_MAC, 64)
    for p in to_ll:
        check_announce6(p, LINK_LOCAL, ONLINK_LL, SUB_MAC, 64)
    wrpcap(r.paths["out_inside"], [to_host[0], to_ll[0]])   # how many depends on the run's length
    return r, {"pkt_rx": 0, "punt_tx_failed": 0}
