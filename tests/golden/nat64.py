"""Golden cases of the group nat64: stateful NAT64 (RFC 6146) translating by RFC 7915 with RFC 6052
addresses (tests/golden/cases/nat64/<case>/).

The bench: IPv6 subscribers in 2001:db8:6::/64 (in pcp.inside) behind their access router on
the inside port (2001:db8:5::254): the route 2001:db8:6::/64 via 2001:db8:5::1, a static
neighbour whose MAC is the inside port's peer_mac (GW_MAC = SUB_MAC: one router is both), brings
translated packets back to them. case_translated_packets_follow_the_ipv6_routes adds a second
gateway for one subscriber, whose MAC only the IPv6 routes know. The IPv4 internet, 198.51.100.0/24, is
behind the outside port's router (ROUTER_MAC); the pool is 203.0.113.0/24; Pref64 is the
Well-Known Prefix 64:ff9b::/96 unless a case says otherwise.

RFC 6052 §3.1 forbids the Well-Known Prefix with a non-global IPv4 address, and RFC 5735 §3 lists
198.51.100.0/24 and 203.0.113.0/24 (TEST-NET-2, -3) among those: the base config names both in
nat64.treat_as_global (what a lab with documentation addresses does), so that the rule is still
seen at work on the others (10.0.0.1, 192.0.2.1: case_wkp_non_global_dropped).

Every expected packet is built here with scapy from the RFCs' rules (v4_of(), v6_of(),
icmp4_msg(), icmp6_msg(), embed()), with only the values cgnatd may choose read from it: the
external address and port of a mapping (from its table, `cgnatctl mappings`), never from its
output. A case returns finish(run, counters, inside=[...], outside=[...], masks=...): run.expected
holds those frames; golden.py --regen stores them (not cgnatd's output) and the run is compared
with them byte for byte, but for the masked ranges:
  - the IPv4 Identification of a 6->4 packet (RFC 7915 §5.1: "Set according to a Fragment
    Identification generator at the translator"), and so its header checksum, checked on its
    own: checksum_problems() recomputes every checksum of every output frame from scratch
    (IPv4 header, TCP/UDP over either pseudo-header, ICMPv4, ICMPv6 over its pseudo-header, and
    those of the packet an ICMP error quotes);
  - in a translated ICMPv4 error, also the quoted IPv4 Identification, its header checksum and
    the ICMPv4 checksum that covers them (checked the same way).
A 6->4 packet's DF bit is compared, not masked.

The ICMP error cases (case_icmp4_*, case_icmp6_*: RFC 7915 §4.2-§4.3, §5.2-§5.3) are written from
the RFC's tables ahead of the error translation; until it is wired they fail, each saying which
frame it misses.
"""
import sys
import traceback
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton

from scapy.all import (ICMP, IP, TCP, UDP, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrHopByHop, PadN, Raw, raw)

from harness import ROUTER_MAC, SUB_MAC, Run, checksum_problems, frames_difference, idle_expiry_ok

# The ports' own MACs: net_pcap gives its ports 02:70:63:61:70:<n> in the order of the vdevs
# (see ipv6.py). IPv6 frames must be sent to the inside port's (classify6 drops IPv6 for
# another MAC), and what cgnatd sends leaves from them.
NAT_IN_MAC, NAT_OUT_MAC = "02:70:63:61:70:00", "02:70:63:61:70:01"

PORT6 = "2001:db8:5::254"                        # the inside port's address6: ICMPv6 errors come from it
GW6, GW_MAC = "2001:db8:5::1", SUB_MAC             # the subscribers' gateway: the inside port's peer
GW6_B, GW_MAC_B = "2001:db8:5::2", "02:00:00:00:06:02"  # another gateway (case_translated_packets_follow_...)
A, B = "2001:db8:6::a", "2001:db8:6::b"          # subscribers
ROUTER6 = "2001:db8:6::1"                        # a router on the subscribers' side (ICMPv6 errors)
REMOTE, REMOTE2 = "198.51.100.10", "198.51.100.11"
ROUTER4 = "198.51.100.254"                       # a router on the IPv4 side (ICMPv4 errors)
WKP = "64:ff9b::/96"
POOL = "203.0.113.0/24"

BASE_CONF = """
pcp = {{ listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10", "2001:db8:6::/64" ]; announce = {{ multicast = false; }}; }};
nat = {{ pool = [ "203.0.113.0/24" ]; filtering = "{filtering}"; }};
nat64 = {{ prefixes = [ {prefixes} ]; subscriber_prefix_len = {sub_len};
          treat_as_global = [ "198.51.100.0/24", "203.0.113.0/24" ]; {nat64_extra} }};
dataplane = {{ seed = 42; idle_sleep_us = 100; rx_delay_ms = 300; icmp_source = "203.0.113.3"; }};
ports = ( {{ name = "net_pcap0"; role = "inside"; peer_mac = "{sub_mac}"; address = "100.64.0.254";
            address6 = "2001:db8:5::254"; }},
          {{ name = "net_pcap1"; role = "outside"; peer_mac = "{router_mac}"; address = "198.51.100.1"; }} );
routes = ( {{ prefix = "2001:db8:6::/64"; port = "net_pcap0"; via = "2001:db8:5::1"; }},
           {{ prefix = "2001:db8:5::/64"; port = "net_pcap0"; }} {routes} );
neighbours = ( {{ address = "2001:db8:5::1"; mac = "{gw_mac}"; port = "net_pcap0"; }} {neighbours} );
"""


def conf(prefixes=(WKP,), filtering="endpoint-independent", sub_len=56, nat64_extra="", routes="", neighbours=""):
    """The group's config; routes, neighbours: more entries for those lists (each ", { ... }")."""
    return BASE_CONF.format(prefixes=", ".join(f'"{p}"' for p in prefixes), filtering=filtering, sub_len=sub_len,
                            nat64_extra=nat64_extra, sub_mac=SUB_MAC, router_mac=ROUTER_MAC, gw_mac=GW_MAC,
                            routes=routes, neighbours=neighbours)


# ---- RFC 6052 §2.2: the IPv4-embedded IPv6 address, written here ------------------------------

def embed(prefix, v4):
    """RFC 6052 §2.2: the prefix's first n bits, then the 32 bits of v4 with the octet of bits
    64-71 (u) left zero and skipped, then a zero suffix. /96: the last 32 bits; /64: octets
    9-12; /40: octets 5-7 and 9."""
    net, n = prefix.split("/")
    n = int(n)
    assert n in (32, 40, 48, 56, 64, 96), prefix
    out = bytearray(16)
    out[:n // 8] = inet_pton(AF_INET6, net)[:n // 8]
    slots = [i for i in range(n // 8, 16) if i != 8][:4]
    for i, octet in zip(slots, inet_pton(AF_INET, v4)):
        out[i] = octet
    return inet_ntop(AF_INET6, bytes(out))


def W(v4):
    """v4 under the Well-Known Prefix."""
    return embed(WKP, v4)


# ---- frames -------------------------------------------------------------------------------------

def inside(ip6):
    """An IPv6 packet from the subscribers' side: from their gateway to the inside port."""
    return Ether(src=GW_MAC, dst=NAT_IN_MAC) / ip6


def outside(ip4):
    """An IPv4 packet from the internet: from the router to the outside port."""
    return Ether(src=ROUTER_MAC, dst=NAT_OUT_MAC) / ip4


def to_inside(ip6, gw_mac=GW_MAC):
    """An IPv6 packet cgnatd must send to a subscriber: routed by 2001:db8:6::/64 to the gateway."""
    return Ether(src=NAT_IN_MAC, dst=gw_mac) / ip6


def to_outside(ip4):
    """An IPv4 packet cgnatd must send to the internet: to the outside port's peer."""
    return Ether(src=NAT_OUT_MAC, dst=ROUTER_MAC) / ip4


# Masks (Ethernet 14 + IPv4 offsets): a 6->4 packet's Identification and header checksum; in a
# translated ICMPv4 error also the ICMPv4 checksum and the quoted Identification and header
# checksum (all checked by checksum_problems()).
V4_ID = [(18, 20), (24, 26)]
V4_ERROR = [(36, 38), (46, 48), (52, 54)]


def error_masks(first, count):
    """V4_ID for every frame, V4_ERROR for frames first .. first + count - 1 (the errors)."""
    idx = frozenset(range(first, first + count))
    return V4_ID + [(lo, hi, idx) for lo, hi in V4_ERROR]


# ---- translation, built from RFC 7915 and RFC 6146 §3.7 ----------------------------------------

def upper_of(ip6):
    """The upper layer of an IPv6 packet, past Hop-by-Hop and Destination Options headers."""
    up = ip6.payload
    while isinstance(up, (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt)):
        up = up.payload
    return up


def v4_of(pkt6, src, dst, sport=None, ident=None, ttl=None, ip_id=0, tos=None):
    """The IPv4 packet RFC 7915 §5.1 makes of pkt6 with the outgoing tuple of RFC 6146 §3.6:
    IHL 5, TOS = Traffic Class, Total Length = 20 + the upper layer (extension headers
    skipped), DF iff that is > 1260 (§5), MF 0, offset 0, TTL = Hop Limit - 1, Protocol from
    the last Next Header (58 -> 1), the addresses given; UDP/TCP with the port given, their
    checksum recomputed over the IPv4 pseudo-header (§5.5); ICMPv6 echo 128/129 -> ICMPv4 8/0
    (§5.2) with the identifier given, its checksum without a pseudo-header."""
    ip6 = pkt6[IPv6]
    up = upper_of(ip6)
    if isinstance(up, UDP):
        l4 = UDP(sport=up.sport if sport is None else sport, dport=up.dport) / Raw(raw(up)[8:])
    elif isinstance(up, TCP):
        l4 = TCP(raw(up))
        l4.sport = up.sport if sport is None else sport
        del l4.chksum
    elif isinstance(up, (ICMPv6EchoRequest, ICMPv6EchoReply)):
        l4 = ICMP(type=8 if isinstance(up, ICMPv6EchoRequest) else 0, code=up.code, id=ident, seq=up.seq) / Raw(up.data)
    else:
        raise ValueError(f"no 6->4 rule here for {up.summary()}")
    total = 20 + len(raw(l4))
    return IP(tos=ip6.tc if tos is None else tos, id=ip_id, flags="DF" if total > 1260 else 0, frag=0,
              ttl=ip6.hlim - 1 if ttl is None else ttl, src=src, dst=dst) / l4


def v6_of(pkt4, src, dst, dport=None, ident=None, hlim=None, tc=None):
    """The IPv6 packet RFC 7915 §4.1 makes of pkt4 with the outgoing tuple of RFC 6146 §3.6:
    Traffic Class = TOS, Flow Label 0, Payload Length = Total Length - 20, Next Header =
    Protocol (1 -> 58), Hop Limit = TTL - 1, no Fragment header (the packet is no fragment);
    UDP/TCP with the port given, the checksum over the IPv6 pseudo-header (§4.5; a UDP
    checksum of 0 computed: RFC 6146 §3.4); ICMPv4 echo 8/0 -> 128/129 (§4.2) with the
    identifier given, the checksum over the ICMPv6 pseudo-header."""
    ip4 = pkt4[IP]
    up = ip4.payload
    if isinstance(up, UDP):
        l4 = UDP(sport=up.sport, dport=up.dport if dport is None else dport) / Raw(raw(up)[8:])
    elif isinstance(up, TCP):
        l4 = TCP(raw(up))
        l4.dport = up.dport if dport is None else dport
        del l4.chksum
    elif isinstance(up, ICMP) and up.type in (0, 8):
        cls = ICMPv6EchoRequest if up.type == 8 else ICMPv6EchoReply
        l4 = cls(code=up.code, id=ident, seq=up.seq, data=raw(up)[8:])
    else:
        raise ValueError(f"no 4->6 rule here for {up.summary()}")
    return IPv6(tc=ip4.tos if tc is None else tc, fl=0, hlim=ip4.ttl - 1 if hlim is None else hlim,
                src=src, dst=dst) / l4


def cksum16(b):
    """The Internet checksum (RFC 1071) of b."""
    if len(b) % 2:
        b += b"\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp4_msg(type_, code, rest, body):
    """An ICMPv4 message (RFC 792): type, code, checksum over the message, the 4 octets rest, body."""
    msg = bytes([type_, code, 0, 0]) + bytes(rest) + bytes(body)
    return msg[:2] + cksum16(msg).to_bytes(2, "big") + msg[4:]


def icmp6_msg(src, dst, type_, code, rest, body):
    """An ICMPv6 message (RFC 4443 §2.1), its checksum over the pseudo-header (§2.3)."""
    msg = bytes([type_, code, 0, 0]) + bytes(rest) + bytes(body)
    pseudo = inet_pton(AF_INET6, src) + inet_pton(AF_INET6, dst) + len(msg).to_bytes(4, "big") + bytes([0, 0, 0, 58])
    return msg[:2] + cksum16(pseudo + msg).to_bytes(2, "big") + msg[4:]


def icmp4_error(src, dst, type_, code, rest, quote, ttl=64, tos=0, ip_id=0):
    return IP(src=src, dst=dst, ttl=ttl, tos=tos, id=ip_id, proto=1) / Raw(icmp4_msg(type_, code, rest, quote))


def icmp6_error(src, dst, type_, code, rest, quote, hlim=64, tc=0):
    return IPv6(src=src, dst=dst, hlim=hlim, tc=tc, fl=0, nh=58) / Raw(icmp6_msg(src, dst, type_, code, rest, quote))


def u32(v):
    return int(v).to_bytes(4, "big")


ZERO = bytes(4)


# ---- reading what cgnatd chose (its table, not its output) -------------------------------------

def same6(a, b):
    try:
        return inet_pton(AF_INET6, a.strip("[]")) == inet_pton(AF_INET6, b)
    except OSError:
        return False


def ext_of(run, addr6, port, proto="udp"):
    """The external (address, port) of the mapping of [addr6]:port, proto (RFC 6146 §3.1 BIB),
    from the shared table (cgnatctl -j mappings -a)."""
    for page in run.mappings:
        for k, m in page.items():
            if not k.startswith("mapping_") or m.get("proto") != proto:
                continue
            a, p = m["internal"].rsplit(":", 1)
            if same6(a, addr6) and int(p) == port:
                e, q = m["external"].rsplit(":", 1)
                return e, int(q)
    raise AssertionError(f"no {proto} mapping for [{addr6}]:{port}: {run.mappings}")


def mapping6(run, addr6, port, proto="udp"):
    for page in run.mappings:
        for k, m in page.items():
            if k.startswith("mapping_") and m.get("proto") == proto:
                a, p = m["internal"].rsplit(":", 1)
                if same6(a, addr6) and int(p) == port:
                    return m
    raise AssertionError(f"no {proto} mapping for [{addr6}]:{port}")


def in_pool(v4):
    return v4.startswith("203.0.113.")


def finish(run, counters, inside=(), outside=(), masks=None, checks=None):
    """Hands the case's built expectations to golden.py (run.expected, run.masks) and records
    what is wrong in run.problems (golden.py fails the case on any): a checksum of an output
    frame, outputs that are not the built ones (said where), a case's own check (checks(), its
    AssertionError)."""
    run.expected = {"out_inside": list(inside), "out_outside": list(outside)}
    run.masks = masks or {}
    problems = []
    for side in ("out_inside", "out_outside"):
        for i, f in enumerate(getattr(run, side)):
            problems += [f"{side}[{i}] {p}" for p in checksum_problems(f)]
        why = frames_difference(getattr(run, side), run.expected[side], run.masks.get(side, ()))
        if why:
            problems.append(f"{side} is not what the RFCs give: {why}")
    if checks:
        try:
            checks()
        except AssertionError as e:
            where = traceback.extract_tb(sys.exc_info()[2])[-1]
            problems.append(f"check at nat64.py:{where.lineno}: {e}")
    run.problems = problems
    return run, counters


# ---- the flows most cases start from -----------------------------------------------------------

def udp_out(src=A, sport=4000, dst4=REMOTE, dport=53, data=b"query", prefix=WKP, **ip):
    return inside(IPv6(src=src, dst=embed(prefix, dst4), hlim=ip.pop("hlim", 64), **ip) / UDP(sport=sport, dport=dport)
                  / Raw(data))


def udp_in(ext, port, src4=REMOTE, sport=53, data=b"answer", **ip):
    return outside(IP(src=src4, dst=ext, ttl=ip.pop("ttl", 64), **ip) / UDP(sport=sport, dport=port) / Raw(data))


# ================================================================================================
# Translation (RFC 6146 §3.5-§3.7, RFC 7915 §4.1, §5.1)
# ================================================================================================

def case_udp_out_and_reply(work):
    """RFC 6146 §3.5.1: an IPv6 UDP packet to 64:ff9b::198.51.100.10 makes a BIB entry
    (X',x) <-> (T,t) and leaves as IPv4 from (T,t) to 198.51.100.10 (§3.6.1: the destination
    "computed algorithmically", RFC 6052 §2.2 /96); the reply to (T,t) goes back to (X',x)
    from 64:ff9b::198.51.100.10 (§3.6.1). Headers by RFC 7915 §5.1 and §4.1, the UDP checksum
    fixed for the new pseudo-header (§3.7, RFC 7915 §4.5, §5.5). The session lives by the UDP
    idle timeout (§3.5.1: "at least UDP_DEFAULT", 5 minutes)."""
    out = udp_out()
    learn = Run("udp64", work, conf(), [out], [])
    ext, port = ext_of(learn, A, 4000)
    reply = udp_in(ext, port, ttl=50)
    r = Run("udp64", work, conf(), [out], [reply])

    def checks():
        assert ext_of(r, A, 4000) == (ext, port), "the same endpoint in both runs (dataplane.seed)"
        assert in_pool(ext), ext
        m = mapping6(r, A, 4000)
        assert idle_expiry_ok(m, 300), m
    return finish(r, {"pkt_out_translated": 1, "pkt_in_translated": 1, "pkt_sessions_created": 1},
                  outside=[to_outside(v4_of(out, ext, REMOTE, sport=port))],
                  inside=[to_inside(v6_of(reply, W(REMOTE), A, dport=4000))],
                  masks={"out_outside": V4_ID}, checks=checks)


def case_tcp_syn_synack_data(work):
    """RFC 6146 §3.5.2.2: a SYN from IPv6 creates the TCP BIB entry and session (V6 SYN RCV),
    the SYN-ACK from IPv4 to its external endpoint goes in (ESTABLISHED), data follows out.
    Each translated by RFC 7915 §5.1/§4.1 with the TCP checksum fixed (§3.7)."""
    syn = inside(IPv6(src=A, dst=W(REMOTE)) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=65535))
    data = inside(IPv6(src=A, dst=W(REMOTE)) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=5001)
                  / Raw(b"GET / HTTP/1.0\r\n\r\n"))
    learn = Run("tcp64", work, conf(), [syn], [])
    ext, port = ext_of(learn, A, 40000, "tcp")
    synack = outside(IP(src=REMOTE, dst=ext) / TCP(sport=80, dport=port, flags="SA", seq=5000, ack=1001))
    r = Run("tcp64", work, conf(), [syn, data], [synack])

    def checks():
        m = mapping6(r, A, 40000, "tcp")
        assert m["tcp_state"] == "established", m
    return finish(r, {"pkt_out_translated": 2, "pkt_in_translated": 1, "pkt_sessions_created": 1},
                  outside=[to_outside(v4_of(syn, ext, REMOTE, sport=port)), to_outside(v4_of(data, ext, REMOTE, sport=port))],
                  inside=[to_inside(v6_of(synack, W(REMOTE), A, dport=40000))],
                  masks={"out_outside": V4_ID}, checks=checks)


def case_icmp_echo_and_reply(work):
    """RFC 6146 §3.5.3: an ICMPv6 echo request makes an ICMP Query BIB entry (X',i1) <-> (T,i2)
    and leaves as ICMPv4 echo (RFC 7915 §5.2: type 128 -> 8, checksum without the pseudo-header)
    with identifier i2; the echo reply to (T,i2) goes back as ICMPv6 129 with i1 (§4.2: 0 ->
    129, checksum with the pseudo-header). ICMP_DEFAULT: 60 s idle."""
    req = inside(IPv6(src=A, dst=W(REMOTE)) / ICMPv6EchoRequest(id=77, seq=1, data=b"ping6"))
    learn = Run("echo64", work, conf(), [req], [])
    ext, ident = ext_of(learn, A, 77, "icmp")
    rep = outside(IP(src=REMOTE, dst=ext) / ICMP(type=0, id=ident, seq=1) / Raw(b"ping6"))
    r = Run("echo64", work, conf(), [req], [rep])

    def checks():
        assert idle_expiry_ok(mapping6(r, A, 77, "icmp"), 60)
    return finish(r, {"pkt_out_translated": 1, "pkt_in_translated": 1},
                  outside=[to_outside(v4_of(req, ext, REMOTE, ident=ident))],
                  inside=[to_inside(v6_of(rep, W(REMOTE), A, ident=77))],
                  masks={"out_outside": V4_ID}, checks=checks)


def case_eim_one_endpoint_for_two_destinations(work):
    """RFC 6146 §3.5.1: the BIB entry is looked up by the IPv6 source transport address (X',x)
    alone, so one source port to two IPv4 destinations leaves from one external endpoint
    (T,t) (Endpoint-Independent Mapping, RFC 4787 REQ-1); two sessions, one mapping."""
    p1 = udp_out(dst4=REMOTE, dport=53)
    p2 = udp_out(dst4=REMOTE2, dport=123, data=b"ntp")
    r = Run("eim64", work, conf(), [p1, p2], [])
    ext, port = ext_of(r, A, 4000)
    return finish(r, {"pkt_sessions_created": 1, "pkt_out_translated": 2},
                  outside=[to_outside(v4_of(p1, ext, REMOTE, sport=port)), to_outside(v4_of(p2, ext, REMOTE2, sport=port))],
                  masks={"out_outside": V4_ID})


def case_hop_limit_1_time_exceeded(work):
    """RFC 7915 §5.1 Time to Live: the translator "is a router": it decrements and, at zero,
    sends ICMPv6 Hop Limit Exceeded (RFC 4443 §3.3, type 3 code 0) to the source, from the
    inside port's address (§2.2), quoting the packet whole (it fits 1280). Hop limit 2 leaves
    with TTL 1."""
    dying = udp_out(sport=4000, hlim=1, data=b"x" * 16)
    last = udp_out(sport=4001, hlim=2, data=b"y" * 16)
    r = Run("hlim64", work, conf(), [dying, last], [])
    ext, port = ext_of(r, A, 4001)
    err = icmp6_error(PORT6, A, 3, 0, ZERO, raw(dying[IPv6]))
    return finish(r, {"drop_TTL_EXPIRED": 1, "pkt_icmp_sent": 1, "pkt_out_translated": 1},
                  inside=[to_inside(err)], outside=[to_outside(v4_of(last, ext, REMOTE, sport=port))],
                  masks={"out_outside": V4_ID})


def case_ttl_1_inbound_time_exceeded(work):
    """RFC 7915 §4.1 Hop Limit: an IPv4 packet arriving with TTL 1 would leave with hop limit 0:
    ICMPv4 Time Exceeded 11/0 (RFC 792) to its source instead, from the external address it
    was sent to, quoting its IPv4 header and 8 octets (as NAT44 inbound does: icmp4.c, TTL 64,
    ID 0). TTL 2 goes in with hop limit 1."""
    out = udp_out()
    learn = Run("ttl64", work, conf(), [out], [])
    ext, port = ext_of(learn, A, 4000)
    dying = udp_in(ext, port, ttl=1, data=b"d" * 16)
    last = udp_in(ext, port, ttl=2, data=b"l" * 16)
    r = Run("ttl64", work, conf(), [out], [dying, last])
    err = Ether(src=NAT_OUT_MAC, dst=ROUTER_MAC) / icmp4_error(ext, REMOTE, 11, 0, ZERO, raw(dying[IP])[:28])
    return finish(r, {"drop_TTL_EXPIRED": 1, "pkt_icmp_sent": 1, "pkt_in_translated": 1},
                  outside=[to_outside(v4_of(out, ext, REMOTE, sport=port)), err],
                  inside=[to_inside(v6_of(last, W(REMOTE), A, dport=4000))],
                  masks={"out_outside": V4_ID})


def case_udp_zero_checksum_inbound_computed(work):
    """RFC 6146 §3.4: "For incoming IPv4 packets carrying UDP packets with a zero checksum, if
    the NAT64 has enough resources, the NAT64 MUST ... calculate the checksum" (RFC 7915 §4.5
    option 2; IPv6 UDP has no "no checksum", RFC 8200 §8.1): the reply, sent without one,
    reaches the subscriber with the checksum of its IPv6 pseudo-header."""
    out = udp_out()
    learn = Run("udp0", work, conf(), [out], [])
    ext, port = ext_of(learn, A, 4000)
    reply = udp_in(ext, port, data=b"no checksum")
    reply[UDP].chksum = 0
    assert raw(reply)[14 + 20 + 6:14 + 20 + 8] == b"\0\0"
    r = Run("udp0", work, conf(), [out], [reply])
    return finish(r, {"pkt_in_translated": 1, "drop_NAT64_UDP_ZERO_CHECKSUM": 0},
                  outside=[to_outside(v4_of(out, ext, REMOTE, sport=port))],
                  inside=[to_inside(v6_of(reply, W(REMOTE), A, dport=4000))],
                  masks={"out_outside": V4_ID})


def case_udp_zero_checksum_dropped_when_configured(work):
    """RFC 7915 §4.5 option 1, nat64.udp_zero_checksum = "drop": the IPv4 UDP datagram without a
    checksum is dropped and counted (NAT64_UDP_ZERO_CHECKSUM), one with a checksum still goes in."""
    c = conf(nat64_extra='udp_zero_checksum = "drop";')
    out = udp_out()
    learn = Run("udp0d", work, c, [out], [])
    ext, port = ext_of(learn, A, 4000)
    bare = udp_in(ext, port, data=b"no checksum")
    bare[UDP].chksum = 0
    summed = udp_in(ext, port, data=b"checksum")
    r = Run("udp0d", work, c, [out], [bare, summed])
    return finish(r, {"pkt_in_translated": 1, "drop_NAT64_UDP_ZERO_CHECKSUM": 1},
                  outside=[to_outside(v4_of(out, ext, REMOTE, sport=port))],
                  inside=[to_inside(v6_of(summed, W(REMOTE), A, dport=4000))],
                  masks={"out_outside": V4_ID})


# ---- filtering (RFC 6146 §3.5.1, RFC 4787 §5) --------------------------------------------------

def filtering(work, mode, tag, tries, counters):
    """A's mapping (A:4000 -> 198.51.100.10:53), then inbound from each (source, port) of tries
    to its external endpoint: the ones marked True go in (from the source's IPv6
    representation, RFC 6146 §3.6.1), the others are dropped."""
    out = udp_out()
    c = conf(filtering=mode)
    learn = Run(tag, work, c, [out], [])
    ext, port = ext_of(learn, A, 4000)
    ins = [udp_in(ext, port, src4=a, sport=p, data=f"from {a}:{p}".encode()) for (a, p), _ in tries]
    r = Run(tag, work, c, [out], ins)
    want = [to_inside(v6_of(pkt, W(pkt[IP].src), A, dport=4000)) for pkt, ((_, _), ok) in zip(ins, tries) if ok]
    return finish(r, counters, outside=[to_outside(v4_of(out, ext, REMOTE, sport=port))], inside=want,
                  masks={"out_outside": V4_ID})


def case_unsolicited_inbound_endpoint_independent_filtering(work):
    """RFC 6146 §3.5.1, with no Address-Dependent Filter (nat.filtering endpoint-independent,
    RFC 4787 REQ-8's EIF): once the BIB entry (X',x) <-> (T,t) exists, IPv4 from any address
    and port to (T,t) goes in, a new session made for it ("the NAT64 tries to create a new
    entry"). One to an external port with no BIB entry is dropped ("If such an entry does not
    exist, the packet MUST be dropped"; NO_MAPPING)."""
    out = udp_out()
    learn = Run("eif64", work, conf(), [out], [])
    ext, port = ext_of(learn, A, 4000)
    stranger = udp_in(ext, port, src4=REMOTE2, sport=9999, data=b"unsolicited")
    nobody = udp_in(ext, port + 1 if port < 65535 else port - 1, src4=REMOTE2, sport=9999, data=b"to no mapping")
    r = Run("eif64", work, conf(), [out], [stranger, nobody])
    return finish(r, {"pkt_in_translated": 1, "drop_NO_MAPPING": 1, "drop_FILTERED": 0},
                  outside=[to_outside(v4_of(out, ext, REMOTE, sport=port))],
                  inside=[to_inside(v6_of(stranger, W(REMOTE2), A, dport=4000))],
                  masks={"out_outside": V4_ID})


def case_unsolicited_inbound_address_dependent_filtering(work):
    """RFC 6146 §3.5.1: "If the NAT64 applies Address-Dependent Filters on its IPv4 interface"
    a packet goes in only if a session of (T,t) has its source address W: 198.51.100.10 from any
    port, not 198.51.100.11 (FILTERED)."""
    return filtering(work, "address-dependent", "adf64", [((REMOTE, 9999), True), ((REMOTE2, 53), False)],
                     {"pkt_in_translated": 1, "drop_FILTERED": 1})


def case_unsolicited_inbound_address_and_port_dependent_filtering(work):
    """RFC 4787 REQ-8's APDF under RFC 6146 §3.5.1: only the address and port A sent to,
    198.51.100.10:53, may answer; 198.51.100.10:9999 is dropped (FILTERED)."""
    return filtering(work, "address-and-port-dependent", "apdf64", [((REMOTE, 53), True), ((REMOTE, 9999), False)],
                     {"pkt_in_translated": 1, "drop_FILTERED": 1})


# ---- what is not translated (RFC 6146 §3.4, §3.5; RFC 6052 §3.1) -------------------------------

def case_source_inside_pref64_dropped(work):
    """RFC 6146 §3.5: "the NAT64 MUST silently discard all incoming IPv6 packets containing a
    source address that contains the Pref64::/n" (hairpinning loops, §5): no error, counted
    (NAT64_SRC_PREF64)."""
    p = inside(IPv6(src=W("198.51.100.20"), dst=W(REMOTE)) / UDP(sport=4000, dport=53) / Raw(b"loop"))
    r = Run("srcpref", work, conf(), [p], [])
    return finish(r, {"drop_NAT64_SRC_PREF64": 1, "pkt_out_translated": 0, "pkt_icmp_sent": 0})


def case_wkp_non_global_dropped(work):
    """RFC 6052 §3.1: "Address translators MUST NOT translate packets in which an address is
    composed of the Well-Known Prefix and a non-global IPv4 address; they MUST drop these
    packets": 64:ff9b::10.0.0.1 (RFC 1918) and 64:ff9b::192.0.2.1 (TEST-NET-1, RFC 5735 §3; not
    in treat_as_global) as destinations, and 10.0.0.1 as the source of an inbound packet to A's
    endpoint (it would become 64:ff9b::10.0.0.1). All three dropped without an error
    (NAT64_NON_GLOBAL); 64:ff9b::198.51.100.10 (treated as global here) is translated."""
    out = udp_out()
    private = udp_out(sport=4001, dst4="10.0.0.1")
    testnet = udp_out(sport=4002, dst4="192.0.2.1")
    learn = Run("wkp", work, conf(), [out], [])
    ext, port = ext_of(learn, A, 4000)
    from_private = udp_in(ext, port, src4="10.0.0.1", data=b"from 10.0.0.1")
    r = Run("wkp", work, conf(), [out, private, testnet], [from_private])
    return finish(r, {"drop_NAT64_NON_GLOBAL": 3, "pkt_out_translated": 1, "pkt_in_translated": 0, "pkt_icmp_sent": 0},
                  outside=[to_outside(v4_of(out, ext, REMOTE, sport=port))], masks={"out_outside": V4_ID})


def case_unsupported_protocol_port_unreachable(work):
    """RFC 6146 §3.4: an IPv6 packet whose last Next Header is not TCP, UDP or ICMPv6 "SHOULD be
    discarded and ... the NAT64 SHOULD send an ICMPv6 Destination Unreachable error message
    with Code 4 (Port Unreachable)": SCTP (132) answered 1/4 from the inside port's address,
    quoting it (RFC 4443 §3.1). An ICMPv6 informational type other than echo (here 139, Node
    Information Query) is silently dropped (RFC 7915 §5.2: "Unknown informational messages:
    Silently drop"; NAT64_ICMP6_TYPE), no error (RFC 4443 §2.4(e.2) concerns errors only, but
    the RFC 7915 rule is a silent drop)."""
    sctp = inside(IPv6(src=A, dst=W(REMOTE), nh=132) / Raw(bytes(range(12)) + b"sctp"))
    niq = inside(IPv6(src=A, dst=W(REMOTE)) / Raw(icmp6_msg(A, W(REMOTE), 139, 0, b"\0\0\0\0", bytes(16))))
    niq[IPv6].nh = 58
    r = Run("proto64", work, conf(), [sctp, niq], [])
    err = icmp6_error(PORT6, A, 1, 4, ZERO, raw(sctp[IPv6]))
    return finish(r, {"drop_NAT64_PROTO": 1, "drop_NAT64_ICMP6_TYPE": 1, "pkt_icmp_sent": 1, "pkt_out_translated": 0},
                  inside=[to_inside(err)])


# ---- header fields (RFC 7915 §4.1, §5.1) -------------------------------------------------------

def case_traffic_class_and_tos_copied(work):
    """RFC 7915 §5.1: TOS "By default, copied from the IPv6 Traffic Class (all 8 bits)" (here EF
    with ECN 01, 0xb9); §4.1: Traffic Class "By default, copied from the IP Type Of Service" (AF11
    with ECN 10, 0x2a), Flow Label "0 (all zero bits)" whatever the IPv6 side used."""
    out = udp_out(tc=0xB9, fl=0x12345)
    learn = Run("tc64", work, conf(), [out], [])
    ext, port = ext_of(learn, A, 4000)
    reply = udp_in(ext, port, tos=0x2A)
    r = Run("tc64", work, conf(), [out], [reply])
    o, i = v4_of(out, ext, REMOTE, sport=port), v6_of(reply, W(REMOTE), A, dport=4000)
    assert o.tos == 0xB9 and i.tc == 0x2A and i.fl == 0
    return finish(r, {"pkt_out_translated": 1, "pkt_in_translated": 1},
                  outside=[to_outside(o)], inside=[to_inside(i)], masks={"out_outside": V4_ID})


def case_traffic_class_and_tos_reset_when_configured(work):
    """RFC 7915 §5.1 "the ability to ignore the IPv6 traffic class and always set the IPv4 TOS
    Octet to a specified value" (nat64.reset_tos, new_tos = 0x10) and §4.1 "an administratively
    configurable option to ignore the IPv4 TOS and always set the IPv6 traffic class (TC) to
    zero" (nat64.reset_traffic_class)."""
    c = conf(nat64_extra="reset_traffic_class = true; reset_tos = true; new_tos = 16;")
    out = udp_out(tc=0xB9)
    learn = Run("tcr64", work, c, [out], [])
    ext, port = ext_of(learn, A, 4000)
    reply = udp_in(ext, port, tos=0x2A)
    r = Run("tcr64", work, c, [out], [reply])
    return finish(r, {"pkt_out_translated": 1, "pkt_in_translated": 1},
                  outside=[to_outside(v4_of(out, ext, REMOTE, sport=port, tos=0x10))],
                  inside=[to_inside(v6_of(reply, W(REMOTE), A, dport=4000, tc=0))], masks={"out_outside": V4_ID})


def case_df_set_above_1260(work):
    """RFC 7915 §5: "When the resulting IPv4 packet is smaller than or equal to 1260 bytes, the
    translator MUST send the packet with a cleared Don't Fragment bit. Otherwise, the packet
    MUST be sent with the Don't Fragment bit set" (§5.1 Flags): IPv6 packets of 1280 and 1281
    octets become IPv4 packets of 1260 (DF 0) and 1261 (DF 1) octets."""
    at = udp_out(sport=4000, data=b"a" * 1232)
    over = udp_out(sport=4000, data=b"b" * 1233)
    assert len(raw(at[IPv6])) == 1280 and len(raw(over[IPv6])) == 1281
    r = Run("df64", work, conf(), [at, over], [])
    ext, port = ext_of(r, A, 4000)
    o1, o2 = v4_of(at, ext, REMOTE, sport=port), v4_of(over, ext, REMOTE, sport=port)
    assert (len(raw(o1)), o1.flags.DF, len(raw(o2)), o2.flags.DF) == (1260, 0, 1261, 1)
    return finish(r, {"pkt_out_translated": 2},
                  outside=[to_outside(o1), to_outside(o2)], masks={"out_outside": V4_ID})


def case_extension_headers_skipped(work):
    """RFC 7915 §5.1: "If any of an IPv6 Hop-by-Hop Options header, Destination Options header, or
    Routing header with the Segments Left field equal to zero are present in the IPv6 packet,
    those IPv6 extension headers MUST be ignored ... However, the Total Length field and the
    Protocol field are adjusted to "skip" these extension headers"."""
    p = inside(IPv6(src=A, dst=W(REMOTE)) / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0" * 4)])
               / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]) / UDP(sport=4000, dport=53) / Raw(b"behind options"))
    r = Run("ext64", work, conf(), [p], [])
    ext, port = ext_of(r, A, 4000)
    o = v4_of(p, ext, REMOTE, sport=port)
    assert o.proto == 17 and len(raw(o)) == 20 + 8 + len(b"behind options")
    return finish(r, {"pkt_out_translated": 1}, outside=[to_outside(o)], masks={"out_outside": V4_ID})


def case_translated_packets_follow_the_ipv6_routes(work):
    """RFC 7915 §4: the translator "then forwards the packet based on the IPv6 destination
    address": by the IPv6 routes, longest match (RFC 4861 §5.2), as the ICMPv6 errors cgnatd
    sends go. B (2001:db8:6::b/128) is behind another gateway, 2001:db8:5::2 (GW_MAC_B, a static
    neighbour): REMOTE's answer to B and the Time Exceeded for B's hop-limit-1 packet go to
    GW_MAC_B; the answer to A goes by 2001:db8:6::/64 to GW_MAC. The inside port has a peer_mac
    (for IPv4) and no IPv4 route: that must not send IPv6 past its routes."""
    c = conf(routes=', { prefix = "2001:db8:6::b/128"; port = "net_pcap0"; via = "2001:db8:5::2"; }',
             neighbours=', { address = "2001:db8:5::2"; mac = "%s"; port = "net_pcap0"; }' % GW_MAC_B)
    a_out, b_out = udp_out(src=A, sport=4000), udp_out(src=B, sport=5000)
    b_dying = udp_out(src=B, sport=5001, hlim=1)
    learn = Run("route64", work, c, [a_out, b_out], [])
    ext_a, port_a = ext_of(learn, A, 4000)
    ext_b, port_b = ext_of(learn, B, 5000)
    a_in, b_in = udp_in(ext_a, port_a, data=b"to A"), udp_in(ext_b, port_b, data=b"to B")
    r = Run("route64", work, c, [a_out, b_out, b_dying], [a_in, b_in])
    return finish(r, {"pkt_out_translated": 2, "pkt_in_translated": 2, "pkt_icmp_sent": 1},
                  outside=[to_outside(v4_of(a_out, ext_a, REMOTE, sport=port_a)),
                           to_outside(v4_of(b_out, ext_b, REMOTE, sport=port_b))],
                  inside=[to_inside(icmp6_error(PORT6, B, 3, 0, ZERO, raw(b_dying[IPv6])), GW_MAC_B),
                          to_inside(v6_of(a_in, W(REMOTE), A, dport=4000)),
                          to_inside(v6_of(b_in, W(REMOTE), B, dport=5000), GW_MAC_B)],
                  masks={"out_outside": V4_ID})


# ---- hairpinning (RFC 6146 §3.8) ---------------------------------------------------------------

def case_hairpin_6_to_4_to_6(work):
    """RFC 6146 §3.8: A sends to 64:ff9b::<B's external address>, port <B's external port>; the
    translated destination is "an IPv4 address assigned to the NAT64 itself": the packet is
    processed as if received on the IPv4 side and reaches B at its internal endpoint, from
    64:ff9b::<A's external address> and A's external port (§3.6.1: the source "generated from S
    using the address transformation", S being A's (T,t); RFC 4787 REQ-9). Each address its own
    subscriber here (subscriber_prefix_len 128). Choice: the CGN is one router hop for the
    packet, so its hop limit is decremented once (64 -> 63), as NAT44's hairpin does its TTL."""
    c = conf(sub_len=128)
    b_out = udp_out(src=B, sport=5000, data=b"b's query")
    learn = Run("pin64", work, c, [b_out], [])
    ext_b, port_b = ext_of(learn, B, 5000)
    a_pin = inside(IPv6(src=A, dst=W(ext_b), tc=0x20) / UDP(sport=4000, dport=port_b) / Raw(b"hairpin"))
    r = Run("pin64", work, c, [b_out, a_pin], [])
    ext_a, port_a = ext_of(r, A, 4000)
    at_b = IPv6(tc=0x20, fl=0, hlim=63, src=W(ext_a), dst=B) / UDP(sport=port_a, dport=5000) / Raw(b"hairpin")

    def checks():
        assert ext_of(r, B, 5000) == (ext_b, port_b)
        assert in_pool(ext_a) and in_pool(ext_b)
    return finish(r, {"pkt_hairpinned": 1, "pkt_sessions_created": 2},
                  outside=[to_outside(v4_of(b_out, ext_b, REMOTE, sport=port_b))], inside=[to_inside(at_b)],
                  masks={"out_outside": V4_ID}, checks=checks)


# ---- Pref64 lengths (RFC 6052 §2.2, §2.4) ------------------------------------------------------

def pref64_case(work, tag, prefix, literal):
    """A's UDP flow to 192.0.2.33 under prefix (RFC 6052 §2.4's example address), whose IPv6
    form must be the RFC's literal; the reply comes back from that address. And a flow under
    the Well-Known Prefix at the same time: each reply carries the prefix its mapping was made
    with (RFC 6146 §3.5.4 "the IPv6 prefix (denoted Pref64::/n) used")."""
    assert embed(prefix, "192.0.2.33") == literal, (embed(prefix, "192.0.2.33"), literal)
    c = conf(prefixes=(prefix, WKP))
    out = udp_out(sport=4000, dst4="192.0.2.33", prefix=prefix)
    wkp = udp_out(sport=4001, dst4=REMOTE)
    learn = Run(tag, work, c, [out, wkp], [])
    ext, port = ext_of(learn, A, 4000)
    ext2, port2 = ext_of(learn, A, 4001)
    reply = udp_in(ext, port, src4="192.0.2.33")
    reply2 = udp_in(ext2, port2, src4=REMOTE)
    r = Run(tag, work, c, [out, wkp], [reply, reply2])
    return finish(r, {"pkt_out_translated": 2, "pkt_in_translated": 2},
                  outside=[to_outside(v4_of(out, ext, "192.0.2.33", sport=port)),
                           to_outside(v4_of(wkp, ext2, REMOTE, sport=port2))],
                  inside=[to_inside(v6_of(reply, literal, A, dport=4000)),
                          to_inside(v6_of(reply2, W(REMOTE), A, dport=4001))],
                  masks={"out_outside": V4_ID})


def case_pref64_40_u_octet(work):
    """RFC 6052 §2.2 for a /40: the IPv4 address in bits 40-63 and 72-79, the u octet (bits
    64-71) zero between them: 2001:db8:100::/40 with 192.0.2.33 is 2001:db8:1c0:2:21:: (§2.4)."""
    return pref64_case(work, "pref40", "2001:db8:100::/40", "2001:db8:1c0:2:21::")


def case_pref64_64_u_octet(work):
    """RFC 6052 §2.2 for a /64: the u octet (bits 64-71) zero, the IPv4 address in bits 72-103:
    2001:db8:122:344::/64 with 192.0.2.33 is 2001:db8:122:344:c0:2:2100:0 (§2.4)."""
    return pref64_case(work, "pref64", "2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0")


# ================================================================================================
# ICMP errors (RFC 7915 §4.2-§4.3, §5.2-§5.3; RFC 6146 §3.4, §3.6, §3.7)
#
# The packet in error is found by the quoted packet's tuple, source and destination swapped
# (RFC 6146 §3.4), and translated "just like a normal IP packet (except the TTL value of the
# inner IPv4/IPv6 packet)" (RFC 7915 §4.3, §5.3): its addresses and ports are the outgoing
# tuple's, swapped (RFC 6146 §3.7), its checksums fixed (the quotes here are whole or RFC 792's
# 28 octets, so the expected inner checksums are those of the original packet). The outer
# header is translated as any packet (§4.1, §5.1): 4->6 from the IPv6 form of the error's own
# source (the router that sent it: choice, so that traceroute shows the IPv4 hops; RFC 6146
# §3.7 read literally would put the quoted destination there; the two agree when the remote
# host itself answers); 6->4 from the mapping's external address T (the IPv6 router has no
# IPv4 form) to the quoted packet's IPv4 source. RFC 4884 lengths are 0 (no extensions).
# ================================================================================================

def flows():
    """The three flows of A the error cases are about: UDP 4000 -> 53, a TCP SYN 40000 -> 80,
    an echo request of identifier 77, all to 64:ff9b::198.51.100.10."""
    udp = udp_out()
    tcp = inside(IPv6(src=A, dst=W(REMOTE)) / TCP(sport=40000, dport=80, flags="S", seq=1000))
    echo = inside(IPv6(src=A, dst=W(REMOTE)) / ICMPv6EchoRequest(id=77, seq=1, data=b"ping6"))
    return udp, tcp, echo


def learn_flows(tag, work, c=None):
    udp, tcp, echo = flows()
    learn = Run(tag, work, c or conf(), [udp, tcp, echo], [])
    return (udp, tcp, echo), {"udp": ext_of(learn, A, 4000), "tcp": ext_of(learn, A, 40000, "tcp"),
                              "icmp": ext_of(learn, A, 77, "icmp")}


RX_BURST = 32  # CGN_RX_BURST: frames a worker reads from a port at once


def burst_filler(n):
    """n frames that make no mapping and no output (sources under the Pref64: RFC 6146 §3.5,
    silently discarded, counted NAT64_SRC_PREF64), so that what follows them is read in a
    later burst. The ICMPv6 errors about A's flows come after their mappings were made: in
    one burst the lookups of all its frames come before any mapping is made (pipeline.c),
    and an error finding none is dropped (ICMP_ERROR_UNMATCHED), where in life an error about
    a packet the NAT64 translated in always finds the mapping that packet used."""
    return [inside(IPv6(src=W("198.51.100.99"), dst=W(REMOTE)) / UDP(sport=9, dport=9) / Raw(b"filler"))
            for _ in range(n)]


def sent4(pkt6, ext, port, proto, ttl=63, ip_id=0x4242):
    """pkt6 as it left the outside (RFC 7915 §5.1), TTL as a router on the path saw it."""
    if proto == "icmp":
        pkt = v4_of(pkt6, ext, REMOTE, ident=port, ttl=ttl, ip_id=ip_id)
    else:
        pkt = v4_of(pkt6, ext, REMOTE, sport=port, ttl=ttl, ip_id=ip_id)
    return IP(raw(pkt))  # built: its lengths and checksums filled in


def inner6_of(pkt6, quoted4, length=None):
    """What the packet quoted in an ICMPv4 error becomes (RFC 7915 §4.3 with §4.1): the original
    IPv6 packet, Traffic Class = the quoted TOS, Flow Label 0, Payload Length = the quoted Total
    Length - 20, Hop Limit = the quoted TTL (not decremented), addresses and ports back to
    A's and 64:ff9b::REMOTE (RFC 6146 §3.7); truncated as the quote was (length: the IPv4
    octets quoted)."""
    ip6 = pkt6[IPv6]
    whole = IPv6(tc=quoted4.tos, fl=0, plen=quoted4.len - 20, nh=ip6.nh, hlim=quoted4.ttl, src=ip6.src, dst=ip6.dst)
    b = raw(whole) + raw(ip6)[40:]
    return b if length is None else b[:40 + length - 20]


def icmp4_errors_case(work, tag, errors, counters):
    """errors: (src4, type, code, rest, proto, quote_len or None, type6, code6, rest6, ttl_in_quote).
    A's three flows are learnt, then each ICMPv4 error about one of them comes in from src4;
    each must reach A as the ICMPv6 error (type6, code6, rest6) with its quoted packet."""
    pkts, ext = learn_flows(tag, work)
    by = dict(zip(("udp", "tcp", "icmp"), pkts))
    ins, want = [], []
    for src4, t4, c4, rest4, proto, qlen, t6, c6, rest6, qttl in errors:
        e, p = ext[proto]
        q = sent4(by[proto], e, p, proto, ttl=qttl)
        quote = raw(q) if qlen is None else raw(q)[:qlen]
        ins.append(outside(icmp4_error(src4, e, t4, c4, rest4, quote, ttl=60)))
        if t6 is not None:
            want.append(to_inside(icmp6_error(W(src4), A, t6, c6, rest6, inner6_of(by[proto], q, qlen), hlim=59)))
    r = Run(tag, work, conf(), list(pkts), ins)
    out = [to_outside(sent4(pk, *ext[pr], pr, ttl=63, ip_id=0)) for pk, pr in zip(pkts, ("udp", "tcp", "icmp"))]
    return finish(r, counters, outside=out, inside=want, masks={"out_outside": V4_ID})


def case_icmp4_dest_unreachable_translated(work):
    """RFC 7915 §4.2 Destination Unreachable (Type 3) -> ICMPv6 Type 1: codes 0, 1 -> 0 (no
    route); 3 -> 4 (port unreachable, here from the remote host itself); 5, 6, 7, 8, 11, 12 -> 0;
    9, 10, 13, 15 -> 1 (administratively prohibited); code 2 -> Parameter Problem 4/1 with the
    pointer at the IPv6 Next Header field (6). Unused octets zero. Each about A's UDP flow,
    quoting it whole (RFC 1812 §4.3.2.3 allows more than RFC 792's 8 octets)."""
    codes = [(0, 0), (1, 0), (3, 4), (5, 0), (6, 0), (7, 0), (8, 0), (9, 1), (10, 1), (11, 0), (12, 0), (13, 1), (15, 1)]
    errors = [(REMOTE if c4 == 3 else ROUTER4, 3, c4, ZERO, "udp", None, 1, c6, ZERO, 63) for c4, c6 in codes]
    errors.append((ROUTER4, 3, 2, ZERO, "udp", None, 4, 1, u32(6), 63))
    return icmp4_errors_case(work, "du4", errors, {"pkt_icmp_errors_translated": len(errors)})


def case_icmp4_time_exceeded_translated(work):
    """RFC 7915 §4.2 Time Exceeded (Type 11) -> ICMPv6 Type 3, "The Code is unchanged": 11/0
    about A's UDP, TCP and echo flows (RFC 6146 §3.4: the 3-tuple of an ICMP query in error,
    §3.6.2; the quoted echo request's identifier back to A's, RFC 7915 §4.2's type 8 -> 128),
    11/1 about the UDP flow; and 11/0 quoting RFC 792's 28 octets only: the translated quote is
    the IPv6 header (Payload Length still the whole packet's) and the same 8 octets of UDP."""
    errors = [(ROUTER4, 11, 0, ZERO, pr, None, 3, 0, ZERO, 1) for pr in ("udp", "tcp", "icmp")]
    errors += [(ROUTER4, 11, 1, ZERO, "udp", None, 3, 1, ZERO, 63), (ROUTER4, 11, 0, ZERO, "udp", 28, 3, 0, ZERO, 1)]
    return icmp4_errors_case(work, "te4", errors, {"pkt_icmp_errors_translated": len(errors)})


def case_icmp4_parameter_problem_pointers(work):
    """RFC 7915 §4.2 Parameter Problem (Type 12) -> ICMPv6 4/0, codes 0 and 2, the pointer by
    Figure 3: 0->0, 1->1, 2,3->4, 8->7, 9->6, 12..15->8, 16..19->24 (ICMPv4's one-octet pointer
    at octet 4; ICMPv6's 32-bit one at octets 4-7)."""
    table = [(0, 0), (1, 1), (2, 4), (3, 4), (8, 7), (9, 6), (12, 8), (15, 8), (16, 24), (19, 24)]
    errors = [(ROUTER4, 12, 0, bytes([p4, 0, 0, 0]), "udp", None, 4, 0, u32(p6), 63) for p4, p6 in table]
    errors.append((ROUTER4, 12, 2, bytes([2, 0, 0, 0]), "udp", None, 4, 0, u32(4), 63))
    return icmp4_errors_case(work, "pp4", errors, {"pkt_icmp_errors_translated": len(errors)})


def case_icmp4_frag_needed_to_packet_too_big(work):
    """RFC 7915 §4.2 code 4 -> Packet Too Big 2/0, MTU = max(1280, min(MTU + 20, MTU of the IPv6
    next hop, MTU of the IPv4 next hop + 20)), both ports' MTUs 1500: 1350 -> 1370; 1490 -> 1500
    (the IPv6 next hop); 1000 -> 1280 (the floor); 0 (a router before RFC 1191) -> "the greatest
    plateau value that is less than the returned Total Length field, but that is larger than or
    equal to 1280": none below 1400, so the floor, 1280. The packet in error is a 1400-octet
    datagram of A's flow (DF: > 1260), quoted in 548 octets (RFC 1812 §4.3.2.3: 576 in all):
    its IPv6 form keeps Payload Length 1380."""
    out = udp_out()
    learn = Run("ptb4", work, conf(), [out], [])
    ext, port = ext_of(learn, A, 4000)
    big = udp_out(data=bytes(range(256)) * 5 + bytes(1380 - 8 - 1280))
    q = sent4(big, ext, port, "udp")
    assert q.len == 1400 and q.flags.DF
    ins, want = [], []
    for mtu4, mtu6 in ((1350, 1370), (1490, 1500), (1000, 1280), (0, 1280)):
        ins.append(outside(icmp4_error(ROUTER4, ext, 3, 4, bytes(2) + mtu4.to_bytes(2, "big"), raw(q)[:548], ttl=60)))
        want.append(to_inside(icmp6_error(W(ROUTER4), A, 2, 0, u32(mtu6), inner6_of(big, q, 548), hlim=59)))
    r = Run("ptb4", work, conf(), [out], ins)
    return finish(r, {"pkt_icmp_errors_translated": 4},
                  outside=[to_outside(v4_of(out, ext, REMOTE, sport=port))], inside=want, masks={"out_outside": V4_ID})


def case_icmp4_errors_not_translated(work):
    """RFC 7915 §4.2's "Silently drop" list: 3/14 (Host Precedence Violation), 3/16 (other code),
    12/1 (Missing a required option), 12/0 with pointer 4 (Identification: "n/a") and 20 (not
    listed: an option), Source Quench 4, Redirect 5, Alternative Host Address 6; RFC 6146 §3.4:
    an error quoting an ICMP error ("silently discarded"), and one whose quoted packet matches no
    BIB entry (§3.5.1: dropped). None goes in; each is counted under some reason (cgn_drop.h:
    nothing is dropped silently)."""
    (udp, tcp, echo), ext = learn_flows("noerr4", work)
    e, p = ext["udp"]
    q = raw(sent4(udp, e, p, "udp"))
    kinds = [(3, 14, ZERO), (3, 16, ZERO), (12, 1, ZERO), (12, 0, bytes([4, 0, 0, 0])), (12, 0, bytes([20, 0, 0, 0])),
             (4, 0, ZERO), (5, 0, bytes([192, 0, 2, 1])), (6, 0, ZERO)]
    ins = [outside(icmp4_error(ROUTER4, e, t, c, rest, q, ttl=60)) for t, c, rest in kinds]
    # An ICMP error about an ICMP error: A's flow's error, as if it had gone out, quoted.
    inner_err = IP(src=e, dst=REMOTE, ttl=63, id=0x4343, proto=1) / Raw(icmp4_msg(3, 3, ZERO, q[:28]))
    ins.append(outside(icmp4_error(ROUTER4, e, 3, 1, ZERO, raw(inner_err), ttl=60)))
    # An error about a packet from an external port no mapping has.
    stray = sent4(udp, e, p + 1 if p < 65535 else p - 1, "udp")
    ins.append(outside(icmp4_error(ROUTER4, e, 3, 1, ZERO, raw(stray), ttl=60)))
    r = Run("noerr4", work, conf(), [udp, tcp, echo], ins)

    def checks():
        drops = sum(v for k, v in r.stats.items() if k.startswith("drop_"))
        assert drops == len(ins), f"{drops} drops counted for {len(ins)} errors not translated"
    out = [to_outside(sent4(pk, *ext[pr], pr, ttl=63, ip_id=0)) for pk, pr in zip((udp, tcp, echo), ("udp", "tcp", "icmp"))]
    return finish(r, {"pkt_icmp_errors_translated": 0, "pkt_in_translated": 0},
                  outside=out, inside=[], masks={"out_outside": V4_ID}, checks=checks)


# ---- ICMPv6 errors about inbound flows, translated to ICMPv4 (RFC 7915 §5.2, §5.3) -------------

def received6(proto, hlim=63):
    """What A received of REMOTE's answers on its three flows (RFC 7915 §4.1 from IPv4 TTL 64):
    the packets an ICMPv6 error on the subscribers' side quotes."""
    src = W(REMOTE)
    if proto == "udp":
        return IPv6(src=src, dst=A, hlim=hlim) / UDP(sport=53, dport=4000) / Raw(b"answer")
    if proto == "tcp":
        return IPv6(src=src, dst=A, hlim=hlim) / TCP(sport=80, dport=40000, flags="SA", seq=5000, ack=1001)
    return IPv6(src=src, dst=A, hlim=hlim) / ICMPv6EchoReply(id=77, seq=1, data=b"ping6")


def inner4_of(quoted6, ext, port, proto, length=None):
    """What the IPv6 packet quoted in an ICMPv6 error becomes (RFC 7915 §5.3 with §5.1): IPv4
    from REMOTE to (T,t) (RFC 6146 §3.7, swapped), TOS = Traffic Class, Total Length = Payload
    Length + 20, TTL = the Hop Limit (not decremented), DF by §5's 1260 rule, Identification
    0 here (masked: the translator's generator); checksums recomputed (UDP/TCP over the IPv4
    pseudo-header, ICMP echo reply 129 -> 0 with the external identifier, no pseudo-header);
    cut as the quote was (length: the IPv6 octets quoted)."""
    ip6 = quoted6[IPv6]
    up = ip6.payload
    if proto == "icmp":
        l4 = ICMP(type=0 if isinstance(up, ICMPv6EchoReply) else 8, id=port, seq=up.seq) / Raw(up.data)
    elif proto == "tcp":
        l4 = TCP(raw(up))
        l4.dport = port
        del l4.chksum
    else:
        l4 = UDP(sport=up.sport, dport=port) / Raw(raw(up)[8:])
    total = 20 + len(raw(l4))
    whole = raw(IP(tos=ip6.tc, id=0, flags="DF" if total > 1260 else 0, ttl=ip6.hlim, src=REMOTE, dst=ext) / l4)
    return whole if length is None else whole[:20 + length - 40]


def icmp6_errors_case(work, tag, errors, counters, c=None):
    """errors: (src6, type, code, rest, proto, quote_len or None, type4, code4, rest4). A's three
    flows make their mappings; each ICMPv6 error about REMOTE's answer on one of them comes
    from src6 (A itself or a router on its side) to 64:ff9b::REMOTE; each must leave as the
    ICMPv4 error (type4, code4, rest4) from T to REMOTE with the translated quote."""
    (udp, tcp, echo), ext = learn_flows(tag, work, c)
    ins, want = [], []
    for src6, t6, c6, rest6, proto, qlen, t4, c4, rest4 in errors:
        q6 = received6(proto)
        quote = raw(q6) if qlen is None else raw(q6)[:qlen]
        ins.append(inside(icmp6_error(src6, W(REMOTE), t6, c6, rest6, quote, hlim=64)))
        if t4 is not None:
            e, p = ext[proto]
            want.append(to_outside(icmp4_error(e, REMOTE, t4, c4, rest4, inner4_of(q6, e, p, proto, qlen), ttl=63)))
    r = Run(tag, work, c or conf(), [udp, tcp, echo] + burst_filler(RX_BURST - 3) + ins, [])
    out = [to_outside(sent4(pk, *ext[pr], pr, ttl=63, ip_id=0)) for pk, pr in zip((udp, tcp, echo), ("udp", "tcp", "icmp"))]
    return finish(r, dict(counters, drop_NAT64_SRC_PREF64=RX_BURST - 3), outside=out + want,
                  masks={"out_outside": error_masks(3, len(want))})


def case_icmp6_dest_unreachable_translated(work):
    """RFC 7915 §5.2 Destination Unreachable (Type 1) -> ICMPv4 Type 3: code 0 -> 1 (host
    unreachable), 1 -> 10 (host administratively prohibited), 2 -> 1, 3 -> 1, 4 -> 3 (port
    unreachable, from A itself). Unused octets zero."""
    codes = [(0, 1), (1, 10), (2, 1), (3, 1), (4, 3)]
    errors = [(A if c6 == 4 else ROUTER6, 1, c6, ZERO, "udp", None, 3, c4, ZERO) for c6, c4 in codes]
    return icmp6_errors_case(work, "du6", errors, {"pkt_icmp_errors_translated": len(errors)})


def case_icmp6_time_exceeded_translated(work):
    """RFC 7915 §5.2 Time Exceeded (Type 3) -> ICMPv4 Type 11, "The Code is unchanged": 3/0
    about REMOTE's UDP answer, its TCP SYN-ACK and its echo reply (the quoted echo reply back to
    ICMPv4 type 0 with the external identifier, RFC 6146 §3.6.2), 3/1 about the UDP answer."""
    errors = [(ROUTER6, 3, 0, ZERO, pr, None, 11, 0, ZERO) for pr in ("udp", "tcp", "icmp")]
    errors.append((A, 3, 1, ZERO, "udp", None, 11, 1, ZERO))
    return icmp6_errors_case(work, "te6", errors, {"pkt_icmp_errors_translated": len(errors)})


def case_icmp6_parameter_problem_pointers(work):
    """RFC 7915 §5.2 Parameter Problem (Type 4): code 0 -> 12/0 with the pointer by Figure 6:
    0->0, 1->1, 4,5->2, 6->9, 7->8, 8..23->12, 24..39->16 (ICMPv4's pointer is octet 4, the
    rest zero); code 1 (Unrecognized Next Header) -> Protocol Unreachable 3/2."""
    table = [(0, 0), (1, 1), (4, 2), (5, 2), (6, 9), (7, 8), (8, 12), (23, 12), (24, 16), (39, 16)]
    errors = [(A, 4, 0, u32(p6), "udp", None, 12, 0, bytes([p4, 0, 0, 0])) for p6, p4 in table]
    errors.append((A, 4, 1, u32(6), "udp", None, 3, 2, ZERO))
    return icmp6_errors_case(work, "pp6", errors, {"pkt_icmp_errors_translated": len(errors)})


def case_icmp6_packet_too_big_to_frag_needed(work):
    """RFC 7915 §5.2 Packet Too Big (Type 2) -> ICMPv4 3/4, MTU = min(MTU - 20, MTU of the IPv4
    next hop, MTU of the IPv6 next hop - 20), both ports' MTUs 1500: 1300 -> 1280; 1400 -> 1380;
    9000 -> 1480 (the IPv6 next hop). The packet in error is REMOTE's 1400-octet answer (IPv4 DF,
    1420 octets in IPv6), quoted in 1232 octets as RFC 4443 §3.2 has the router do (the error
    1280 in all); its IPv4 form keeps Total Length 1400 and DF (§5: > 1260). RFC 7915 sets no
    size for the ICMPv4 error; cgnatd keeps RFC 1812 §4.3.2.3's for the ICMPv4 errors a router
    sends ("without the length of the ICMP datagram exceeding 576 bytes"): the quote is cut to
    548 octets, the error (576) has DF clear."""
    (udp, tcp, echo), ext = learn_flows("ptb6", work)
    e, p = ext["udp"]
    big6 = IPv6(src=W(REMOTE), dst=A, hlim=63) / UDP(sport=53, dport=4000) / Raw(bytes(range(256)) * 5 + bytes(1372 - 1280))
    assert big6.plen is None and len(raw(big6)) == 1420
    ins, want = [], []
    for mtu6, mtu4 in ((1300, 1280), (1400, 1380), (9000, 1480)):
        ins.append(inside(icmp6_error(ROUTER6, W(REMOTE), 2, 0, u32(mtu6), raw(big6)[:1232])))
        inner = inner4_of(big6, e, p, "udp", 1232)[:576 - 28]
        assert inner[6] & 0x40 and int.from_bytes(inner[2:4], "big") == 1400, "the quote's DF and length"
        want.append(to_outside(icmp4_error(e, REMOTE, 3, 4, bytes(2) + mtu4.to_bytes(2, "big"), inner, ttl=63)))
    assert len(raw(want[0][IP])) == 576
    r = Run("ptb6", work, conf(), [udp, tcp, echo] + burst_filler(RX_BURST - 3) + ins, [])
    out = [to_outside(sent4(pk, *ext[pr], pr, ttl=63, ip_id=0)) for pk, pr in zip((udp, tcp, echo), ("udp", "tcp", "icmp"))]
    return finish(r, {"pkt_icmp_errors_translated": 3, "drop_NAT64_SRC_PREF64": RX_BURST - 3}, outside=out + want,
                  masks={"out_outside": error_masks(3, len(want))})


def case_icmp6_errors_not_translated(work):
    """RFC 7915 §5.2's "Silently drop" list: 1/5 and 1/6 ("Other Code values"), 4/2
    (Unrecognized IPv6 option), 4/0 with pointer 2 (Flow Label: "n/a") and 40 (not listed),
    an unknown error type (100); RFC 8201 §4: a Packet Too Big below 1280 "must" be discarded;
    RFC 6146 §3.4: an error quoting an ICMPv6 error, and one whose quoted packet matches no BIB
    entry. None goes out; each is counted under some reason."""
    (udp, tcp, echo), ext = learn_flows("noerr6", work)
    q = raw(received6("udp"))
    kinds = [(1, 5, ZERO), (1, 6, ZERO), (4, 2, u32(40)), (4, 0, u32(2)), (4, 0, u32(40)), (100, 0, ZERO),
             (2, 0, u32(1200))]
    ins = [inside(icmp6_error(ROUTER6, W(REMOTE), t, c, rest, q)) for t, c, rest in kinds]
    err_in_err = icmp6_error(W(REMOTE), A, 1, 4, ZERO, raw(IPv6(src=A, dst=W(REMOTE), hlim=64) / UDP(sport=4000, dport=53)))
    ins.append(inside(icmp6_error(ROUTER6, W(REMOTE), 1, 0, ZERO, raw(err_in_err))))
    stray = IPv6(src=W(REMOTE), dst=A, hlim=63) / UDP(sport=53, dport=4999) / Raw(b"no mapping")
    ins.append(inside(icmp6_error(A, W(REMOTE), 1, 4, ZERO, raw(stray))))
    r = Run("noerr6", work, conf(), [udp, tcp, echo] + burst_filler(RX_BURST - 3) + ins, [])

    def checks():
        drops = sum(v for k, v in r.stats.items() if k.startswith("drop_") and k != "drop_NAT64_SRC_PREF64")
        assert drops == len(ins), f"{drops} drops counted for {len(ins)} errors not translated"
    out = [to_outside(sent4(pk, *ext[pr], pr, ttl=63, ip_id=0)) for pk, pr in zip((udp, tcp, echo), ("udp", "tcp", "icmp"))]
    return finish(r, {"pkt_icmp_errors_translated": 0, "pkt_out_translated": 3, "drop_NAT64_SRC_PREF64": RX_BURST - 3},
                  outside=out, masks={"out_outside": V4_ID}, checks=checks)
