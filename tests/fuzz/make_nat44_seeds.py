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
Every checksum is scapy's (RFC 8200 §8.1: the pseudo-header's destination is the final one
of a routing header; a first fragment carries the whole datagram's).
"""
import os

from scapy.all import (ARP, Ether, ICMP, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6ND_RS,
                       ICMPv6NDOptDstLLAddr, ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, IP, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, TCP, UDP, raw)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "nat44")
PEER_MAC, CGN_MAC = "02:00:00:00:01:01", "02:00:00:00:00:01"   # the inside port's peer, the inside port
E = Ether(src=PEER_MAC, dst=CGN_MAC)
INSIDE, OUTSIDE, SMALL_MTU = b"\0", b"\1", b"\2"

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

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(data)
print(f"wrote {len(SEEDS)} seeds to {OUT}")
