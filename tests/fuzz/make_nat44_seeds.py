#!/usr/bin/python3
"""Writes the seed corpus of fuzz_nat44 (seeds/nat44/*.bin): [side octet][Ethernet frame], one
frame of each kind the steps handle (side octet: bit 0 the outside port, bit 1 both ports'
MTU 576; fuzz_nat44.c). Generated, small, checked in; rerun to refresh (writes every seed
again, byte for byte the same unless this script changed; review the diff):
    /usr/bin/python3 tests/fuzz/make_nat44_seeds.py

IPv4 and ARP, as tests/lib/dp_env.c configures the ports (inside 100.64.0.254, outside
198.51.100.254, pool 203.0.113.0/30). IPv6 (its names start ipv6_ and nd_), on the inside port
as the lab wires it (scripts/lab.sh): the router 2001:db8:100::1, cgnatd's inside port
2001:db8:100::254, a subscriber 2001:db8:6::2, the NAT64 prefix 64:ff9b::/96 (RFC 6052):
  - one frame per extension header type (RFC 8200 §4.3-4.6: hop-by-hop, routing, fragment,
    destination options), a chain of them in RFC 8200 §4.1 order, a chain of more than 8,
    and truncated ones (a header longer than the packet, a fragment header cut short);
  - Neighbor Discovery (RFC 4861 §4): NS for 2001:db8:100::254 from the router (multicast,
    with its link-layer address; and unicast, a reachability probe) and from :: (duplicate
    address detection, §4.3 / RFC 4862 §5.4.2: no option), NA from the router, RS and RA;
  - an echo request to 2001:db8:100::254 from the subscriber, hop limit 1, IPv6 on the
    outside port (which is IPv4 only).
NAT64 (its names start nat64_ for IPv6 in, nat46_ for IPv4 in), as fuzz_nat44.c configures
it (enable_nat64(): 64:ff9b::/96 and 2001:db9:100::/40, 198.51.100.0/24 and 203.0.113.0/24
treated as global, IPv6 subscribers in 2001:db8::/32), for its primed mappings (prime(): the
external endpoints below are what it prints at start; they are made before any input, from
the env's fixed seed):
  - IPv6 UDP, TCP and ICMPv6 echo from 2001:db8:6::2 to 64:ff9b::198.51.100.10 on the inside
    (and under the /40), traffic class set, with the knobs bit (side bit 2) too;
  - their IPv4 answers on the outside to the pool address and ports of the mappings: UDP (a
    zero checksum too), TCP SYN-ACK, echo reply, TTL 1, IPv4 options, a source route, a
    non-global source, too big with and without DF at MTU 576;
  - ICMPv6 errors (RFC 7915 §5.2) quoting the IPv6 packets the NAT64 sent in, and ICMPv4
    errors (§4.2) quoting the IPv4 packets it sent out;
  - fragments both ways; hop limit 1; IPv6 from a Pref64 source; 64:ff9b::10.0.0.1 (RFC 6052
    §3.1); neither TCP, UDP nor ICMPv6; an IPv6 UDP zero checksum; hairpinning from
    2001:db8:7::2 to the mapping's external endpoint under the Pref64 (RFC 6146 §3.8).
Every checksum is scapy's (RFC 8200 §8.1: the pseudo-header's destination is the final one
of a routing header; a first fragment carries the whole datagram's).
"""
import os

from scapy.all import (ARP, Ether, ICMP, ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA,
                       ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6ND_RS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptMTU,
                       ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig, ICMPv6ParamProblem,
                       ICMPv6TimeExceeded, IP, IPOption_LSRR, IPOption_RR, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, TCP, UDP, raw)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "nat44")
PEER_MAC, CGN_MAC = "02:00:00:00:01:01", "02:00:00:00:00:01"   # the inside port's peer, the inside port
E = Ether(src=PEER_MAC, dst=CGN_MAC)
INSIDE, OUTSIDE, SMALL_MTU = b"\0", b"\1", b"\2"
KNOBS = 4                                                           # side bit 2: NAT64's knobs set

# ---- IPv4 and ARP ----
big = bytes(range(256)) * 5                                         # 1280 octets: fragmented at MTU 576
whole = raw(IP(src="100.64.0.1", dst="198.51.100.1", id=0x4242) / UDP(sport=1000, dport=53) / (b"f" * 100))
SEEDS = {
    "udp_out": INSIDE + raw(E / IP(src="100.64.0.1", dst="198.51.100.1") / UDP(sport=1234, dport=53) / b"q"),
    "tcp_out": INSIDE + raw(E / IP(src="100.64.0.1", dst="198.51.100.1") / TCP(sport=4000, dport=80, flags="S")),
    "icmp_out": INSIDE + raw(E / IP(src="100.64.0.1", dst="198.51.100.1") / ICMP(type=8, id=9)),
    "udp_in": OUTSIDE + raw(E / IP(src="198.51.100.1", dst="203.0.113.1") / UDP(sport=53, dport=1100) / b"a"),
    "icmp_err_in": OUTSIDE + raw(E / IP(src="198.51.100.1", dst="203.0.113.1") / ICMP(type=3, code=3)
                                 / raw(IP(src="203.0.113.1", dst="198.51.100.1") / UDP(sport=1100, dport=53))[:28]),
    "ttl1": INSIDE + raw(E / IP(src="100.64.0.1", dst="198.51.100.1", ttl=1) / UDP(sport=5, dport=6)),
    "hairpin": INSIDE + raw(E / IP(src="100.64.0.2", dst="203.0.113.1") / UDP(sport=7, dport=1100)),
    # For the CGN itself (tests/lib/dp_env.c gives the ports 100.64.0.254 and 198.51.100.254).
    "arp_in": INSIDE + raw(Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc="100.64.0.1", pdst="100.64.0.254")),
    "arp_pool": OUTSIDE + raw(Ether(src="02:00:00:00:02:02", dst="ff:ff:ff:ff:ff:ff")
                              / ARP(op=1, psrc="198.51.100.1", pdst="203.0.113.1")),
    "echo_cgn": INSIDE + raw(E / IP(src="100.64.0.1", dst="100.64.0.254") / ICMP(type=8, id=3)),
    "pcp_punt": INSIDE + raw(E / IP(src="100.64.0.1", dst="100.64.0.254") / UDP(sport=5350, dport=5351)
                             / (bytes([2, 1, 0, 0, 0, 0, 14, 16]) + bytes(10) + b"\xff\xff" + bytes([100, 64, 0, 1])
                                + bytes(12) + bytes([17, 0, 0, 0, 0x1f, 0x90, 0, 0]) + bytes(16))),
    # Bigger than MTU 576, DF clear and set (mtu.c: fragments, ICMP 3/4).
    "big_udp_small_mtu": SMALL_MTU + raw(E / IP(src="100.64.0.30", dst="198.51.100.1", id=77)
                                         / UDP(sport=3000, dport=53) / big),
    "big_udp_df_small_mtu": SMALL_MTU + raw(E / IP(src="100.64.0.30", dst="198.51.100.1", id=77, flags="DF")
                                            / UDP(sport=3000, dport=53) / big),
    # A datagram's first fragment (its UDP header and checksum the whole datagram's), and a later one.
    "fragment_first": INSIDE + raw(E / IP(src="100.64.0.1", dst="198.51.100.1", id=0x4242, flags="MF", proto=17)
                                   / (whole[20:28] + b"f" * 40)),
    "fragment_later": INSIDE + raw(E / IP(src="100.64.0.1", dst="198.51.100.1", id=0x4242, flags="MF", frag=6,
                                          proto=17) / (b"f" * 48)),
}

# ---- IPv6 ----
ROUTER6, CGN6, SUB6 = "2001:db8:100::1", "2001:db8:100::254", "2001:db8:6::2"
ROUTER_LL, HOST_LL = "fe80::ff:fe00:101", "fe80::ff:fe00:102"
REMOTE64 = "64:ff9b::c633:6401"                                     # 198.51.100.1 in 64:ff9b::/96
SOLICITED = "ff02::1:ff00:254"                                      # RFC 4291 §2.7.1, for CGN6


def v6(*layers, side=INSIDE, src=SUB6, dst=REMOTE64, hlim=63, eth=E):
    """[side] Ethernet / IPv6 / layers..., checksums computed."""
    p = eth / IPv6(src=src, dst=dst, hlim=hlim)
    for layer in layers:
        p = p / layer
    return side + raw(p)


def udp(sport=4000):
    return UDP(sport=sport, dport=53) / b"q6"


def multicast_eth(group):
    """RFC 2464 §7: 33:33 and the group's last 32 bits."""
    tail = bytes.fromhex(group.split(":")[-2].zfill(4) + group.split(":")[-1].zfill(4))
    return Ether(src=PEER_MAC, dst="33:33:" + ":".join(f"{b:02x}" for b in tail))


# The whole UDP datagram of the fragment seeds, for its checksum: 8 + 100 octets.
datagram6 = raw(IPv6(src=SUB6, dst=REMOTE64, hlim=63) / IPv6ExtHdrFragment(id=0x6006, m=0)
                / UDP(sport=4001, dport=53) / (b"6" * 100))
udp6_hdr = datagram6[40 + 8:40 + 16]

SEEDS.update({
    "ipv6_udp_out": v6(udp()),
    "ipv6_tcp_out": v6(TCP(sport=4000, dport=80, flags="S")),
    "ipv6_hop_limit_1": v6(udp(), hlim=1),
    "ipv6_on_the_outside": v6(udp(), side=OUTSIDE, src="2001:db8:ffff::1", dst="2001:db8:100::254"),
    # One of each extension header (RFC 8200 §4.3-4.6), before UDP.
    "ipv6_hop_by_hop": v6(IPv6ExtHdrHopByHop(), udp()),
    "ipv6_routing": v6(IPv6ExtHdrRouting(type=0, segleft=0, addresses=[REMOTE64]), udp()),
    "ipv6_routing_segments_left": v6(IPv6ExtHdrRouting(type=0, segleft=1, addresses=[REMOTE64]), udp(),
                                     dst="2001:db8:100::254"),
    "ipv6_destination_options": v6(IPv6ExtHdrDestOpt(), udp()),
    "ipv6_fragment_first": v6(IPv6ExtHdrFragment(id=0x6006, m=1, offset=0, nh=17), udp6_hdr + b"6" * 40),
    "ipv6_fragment_later": v6(IPv6ExtHdrFragment(id=0x6006, m=1, offset=6, nh=17), b"6" * 48),
    "ipv6_fragment_atomic": v6(IPv6ExtHdrFragment(id=0x6007, m=0, offset=0), udp()),
    # RFC 8200 §4.1's order: hop-by-hop, destination options, routing, fragment, destination options.
    "ipv6_chain": v6(IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting(segleft=0, addresses=[REMOTE64]),
                     IPv6ExtHdrFragment(id=0x6008, m=0), IPv6ExtHdrDestOpt(), udp()),
    # More than 8 extension headers (hop-by-hop and ten destination options) before UDP.
    "ipv6_chain_of_11": v6(IPv6ExtHdrHopByHop(), *[IPv6ExtHdrDestOpt() for _ in range(10)], udp()),
    # Truncated: destination options saying 64 octets (Hdr Ext Len 7) with 8 in the packet, and a
    # fragment header of 4 octets; the payload lengths are right, the headers are not.
    "ipv6_truncated_destination_options": INSIDE + raw(E / IPv6(src=SUB6, dst=REMOTE64, hlim=63, nh=60)
                                                       / bytes([17, 7, 1, 4, 0, 0, 0, 0])),
    "ipv6_truncated_fragment_header": INSIDE + raw(E / IPv6(src=SUB6, dst=REMOTE64, hlim=63, nh=44)
                                                   / bytes([17, 0, 0, 0])),
    # To cgnatd's inside address: echo from the subscriber behind the router (RFC 4443 §4.1).
    "ipv6_echo_cgn": v6(ICMPv6EchoRequest(id=6, seq=1, data=b"ping6"), dst=CGN6),
    # Neighbor Discovery (RFC 4861 §4), hop limit 255 (§7.1.1).
    "nd_ns_from_router": v6(ICMPv6ND_NS(tgt=CGN6), ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC),
                            src=ROUTER6, dst=SOLICITED, hlim=255, eth=multicast_eth(SOLICITED)),
    "nd_ns_unicast_probe": v6(ICMPv6ND_NS(tgt=CGN6), src=ROUTER6, dst=CGN6, hlim=255),
    "nd_ns_dad": v6(ICMPv6ND_NS(tgt=CGN6), src="::", dst=SOLICITED, hlim=255, eth=multicast_eth(SOLICITED)),
    "nd_na_from_router": v6(ICMPv6ND_NA(tgt=ROUTER6, R=1, S=1, O=1), ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC),
                            src=ROUTER6, dst=CGN6, hlim=255),
    "nd_rs": v6(ICMPv6ND_RS(), ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC), src=HOST_LL, dst="ff02::2", hlim=255,
                eth=multicast_eth("ff02::2")),
    "nd_ra": v6(ICMPv6ND_RA(routerlifetime=1800), ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC), ICMPv6NDOptMTU(mtu=1500),
                ICMPv6NDOptPrefixInfo(prefix="2001:db8:100::", prefixlen=64), src=ROUTER_LL, dst="ff02::1",
                hlim=255, eth=multicast_eth("ff02::1")),
})

# ---- NAT64 ----
REMOTE4, REMOTE6 = "198.51.100.10", "64:ff9b::c633:640a"           # 64:ff9b::198.51.100.10
REMOTE_NSP = "2001:db9:1c6:3364:a::"                                # 198.51.100.10 under 2001:db9:100::/40
SUB6_B = "2001:db8:7::2"                                            # another subscriber (another /56)
# The primed mappings of 2001:db8:6::2 (fuzz_nat44.c's start-up lines): UDP 4000, TCP 4000, echo 0x64.
EXT, EXT_UDP, EXT_TCP, EXT_ECHO = "203.0.113.3", 1476, 1507, 1477
E_OUT = Ether(src="02:00:00:00:02:02", dst="02:00:00:00:00:02")    # the outside port's peer, the outside port


def v4(*layers, side=OUTSIDE, src=REMOTE4, dst=EXT, **ip):
    """[side] Ethernet / IPv4 / layers... on the outside, checksums computed."""
    p = E_OUT / IP(src=src, dst=dst, **ip)
    for layer in layers:
        p = p / layer
    return side + raw(p)


# What the NAT64 sent: in, to the subscriber (quoted by its ICMPv6 errors); out, from the pool
# (quoted by the IPv4 side's ICMP errors).
sent_in_udp = raw(IPv6(src=REMOTE6, dst=SUB6, hlim=49) / UDP(sport=53, dport=4000) / b"answer")
sent_in_echo = raw(IPv6(src=REMOTE6, dst=SUB6, hlim=49) / ICMPv6EchoReply(id=0x64, seq=2, data=b"pong"))
sent_in_tcp = raw(IPv6(src=REMOTE6, dst=SUB6, hlim=49) / TCP(sport=80, dport=4000, flags="SA"))
sent_out_udp = raw(IP(src=EXT, dst=REMOTE4, ttl=63) / UDP(sport=EXT_UDP, dport=53) / b"q6")
sent_out_tcp = raw(IP(src=EXT, dst=REMOTE4, ttl=63) / TCP(sport=EXT_TCP, dport=80, flags="S"))
sent_out_echo = raw(IP(src=EXT, dst=REMOTE4, ttl=63) / ICMP(type=8, id=EXT_ECHO, seq=2) / b"ping")
# The whole datagrams of the fragment seeds, for their UDP checksums.
dgram64 = raw(IPv6(src=SUB6, dst=REMOTE6, hlim=63) / UDP(sport=4000, dport=53) / (b"n" * 100))
dgram46 = raw(IP(src=REMOTE4, dst=EXT) / UDP(sport=53, dport=EXT_UDP) / (b"r" * 100))

SEEDS.update({
    # IPv6 in from the subscriber: to 198.51.100.10 under each Pref64 (RFC 6146 §3.5, RFC 7915 §5.1).
    "nat64_udp_out": v6(UDP(sport=4000, dport=53) / b"q6", dst=REMOTE6),
    "nat64_tcp_out": v6(TCP(sport=4000, dport=80, flags="S"), dst=REMOTE6),
    "nat64_echo_out": v6(ICMPv6EchoRequest(id=0x64, seq=2, data=b"ping"), dst=REMOTE6),
    "nat64_udp_out_nsp": v6(UDP(sport=4000, dport=53) / b"q6", dst=REMOTE_NSP),
    "nat64_traffic_class": INSIDE + raw(E / IPv6(src=SUB6, dst=REMOTE6, hlim=63, tc=0x2e, fl=0x12345)
                                        / UDP(sport=4000, dport=53) / b"tc"),
    "nat64_traffic_class_knobs": bytes([KNOBS]) + raw(E / IPv6(src=SUB6, dst=REMOTE6, hlim=63, tc=0x2e)
                                                      / UDP(sport=4000, dport=53) / b"tc"),
    "nat64_hop_limit_1": v6(UDP(sport=4000, dport=53), dst=REMOTE6, hlim=1),
    "nat64_from_pref64": v6(UDP(sport=4000, dport=53), src="64:ff9b::c633:6414", dst=REMOTE6),
    "nat64_non_global": v6(UDP(sport=4000, dport=53), dst="64:ff9b::a00:1"),   # 10.0.0.1: RFC 6052 §3.1
    "nat64_sctp": INSIDE + raw(E / IPv6(src=SUB6, dst=REMOTE6, hlim=63, nh=132) / bytes(16)),
    "nat64_udp_zero_checksum": INSIDE + raw(E / IPv6(src=SUB6, dst=REMOTE6, hlim=63)
                                            / UDP(sport=4000, dport=53, chksum=0) / b"z"),
    "nat64_extension_headers": v6(IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(), UDP(sport=4000, dport=53), dst=REMOTE6),
    "nat64_big_df": v6(UDP(sport=4000, dport=53) / big, dst=REMOTE6),                      # IPv4 > 1260: DF
    "nat64_big_small_mtu": SMALL_MTU + v6(UDP(sport=4000, dport=53) / big, dst=REMOTE6)[1:],  # Packet Too Big
    "nat64_hairpin": v6(UDP(sport=5000, dport=EXT_UDP) / b"hp", src=SUB6_B, dst="64:ff9b::cb00:7103"),
    "nat64_fragment_first": v6(IPv6ExtHdrFragment(id=0x6464, m=1, offset=0, nh=17), dgram64[40:48] + b"n" * 40,
                               dst=REMOTE6),
    "nat64_fragment_later": v6(IPv6ExtHdrFragment(id=0x6464, m=0, offset=6, nh=17), b"n" * 60, dst=REMOTE6),
    # ICMPv6 errors from the subscriber about what the NAT64 sent it (RFC 7915 §5.2-§5.3).
    "nat64_icmp6_port_unreachable": v6(ICMPv6DestUnreach(code=4) / sent_in_udp, dst=REMOTE6),
    "nat64_icmp6_packet_too_big": v6(ICMPv6PacketTooBig(mtu=1280) / sent_in_udp, dst=REMOTE6),
    "nat64_icmp6_time_exceeded": v6(ICMPv6TimeExceeded(code=0) / sent_in_tcp, dst=REMOTE6),
    "nat64_icmp6_parameter_problem": v6(ICMPv6ParamProblem(code=0, ptr=7) / sent_in_udp, dst=REMOTE6),
    "nat64_icmp6_about_echo": v6(ICMPv6DestUnreach(code=1) / sent_in_echo, dst=REMOTE6),
    # IPv4 in on the outside to the mappings (RFC 7915 §4.1, RFC 6146 §3.5).
    "nat46_udp_in": v4(UDP(sport=53, dport=EXT_UDP) / b"answer", tos=0x28),
    "nat46_udp_in_knobs": bytes([KNOBS | 1]) + v4(UDP(sport=53, dport=EXT_UDP) / b"answer", tos=0x28)[1:],
    "nat46_udp_zero_checksum": v4(UDP(sport=53, dport=EXT_UDP, chksum=0) / b"nochecksum"),
    "nat46_udp_zero_checksum_knobs": bytes([KNOBS | 1]) + v4(UDP(sport=53, dport=EXT_UDP, chksum=0) / b"z")[1:],
    "nat46_tcp_syn_ack": v4(TCP(sport=80, dport=EXT_TCP, flags="SA")),
    "nat46_echo_reply": v4(ICMP(type=0, id=EXT_ECHO, seq=2) / b"pong"),
    "nat46_ttl_1": v4(UDP(sport=53, dport=EXT_UDP), ttl=1),
    "nat46_options": v4(UDP(sport=53, dport=EXT_UDP) / b"o", options=[IPOption_RR(routers=["192.0.2.1"])]),
    "nat46_source_route": v4(UDP(sport=53, dport=EXT_UDP) / b"o",
                             options=[IPOption_LSRR(routers=["192.0.2.1", "192.0.2.2"], pointer=4)]),
    "nat46_non_global_source": v4(UDP(sport=53, dport=EXT_UDP), src="10.0.0.1"),
    "nat46_big_df_small_mtu": bytes([2 | 1]) + v4(UDP(sport=53, dport=EXT_UDP) / big, flags="DF")[1:],
    "nat46_big_small_mtu": bytes([2 | 1]) + v4(UDP(sport=53, dport=EXT_UDP) / big)[1:],     # IPv6 fragments
    "nat46_fragment_first": v4(dgram46[20:28] + b"r" * 40, id=0x4646, flags="MF", proto=17),
    "nat46_fragment_later": v4(b"r" * 60, id=0x4646, frag=6, proto=17),
    "nat46_hairpin_from_ipv4": INSIDE + raw(E / IP(src="100.64.0.5", dst=EXT) / UDP(sport=6000, dport=EXT_UDP) / b"hp"),
    # ICMPv4 errors from the remote (or a router before it) about what the NAT64 sent out (§4.2-§4.3).
    "nat46_icmp_port_unreachable": v4(ICMP(type=3, code=3) / sent_out_udp),
    "nat46_icmp_frag_needed": v4(ICMP(type=3, code=4, nexthopmtu=1000) / sent_out_tcp, src="198.51.100.1"),
    "nat46_icmp_time_exceeded": v4(ICMP(type=11, code=0) / sent_out_udp[:28], src="198.51.100.1"),
    "nat46_icmp_parameter_problem": v4(ICMP(type=12, code=0, ptr=8) / sent_out_udp),
    "nat46_icmp_about_echo": v4(ICMP(type=3, code=1) / sent_out_echo, src="198.51.100.1"),
})

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(data)
print(f"wrote {len(SEEDS)} seeds to {OUT}")
