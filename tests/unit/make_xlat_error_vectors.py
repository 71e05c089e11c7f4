#!/usr/bin/python3
"""Writes tests/unit/xlat_error_vectors.h: ICMP errors and their NAT64 translations built by
scapy, independently of the code under test, for tests/unit/test_xlat_error.c -- each an input
packet (from its IP header) and the packet common/cgn_xlat_error.c must write, byte for byte.
Every checksum is scapy's, computed over the complete datagram before any cut (a quoted
transport checksum covers the whole original datagram, not what the error carries).
Checked in; regenerate with
    ninja -C build xlat_error_vectors   (or: /usr/bin/python3 tests/unit/make_xlat_error_vectors.py)

The mapping (test_xlat_error.c's VEC_* constants say the same):
    subscriber 2001:db8:1::10 port/identifier 40000  <->  external 192.0.2.1 port 1025
    Pref64 2001:db8:64::/96; remote 198.51.100.7; IPv4 router 203.0.113.254; IPv6 router 2001:db8:1::1
    mtu6_nexthop = mtu4_nexthop = 9000 (the MTU results come from the messages), 6->4 outer ID 0x4242
"""
import os
import struct

from scapy.all import (IP, IPOption, ICMP, UDP, TCP, Raw, IPv6, ICMPv6DestUnreach, ICMPv6PacketTooBig,
                       ICMPv6TimeExceeded, ICMPv6ParamProblem, ICMPv6EchoRequest, ICMPv6EchoReply,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrFragment,
                       raw)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xlat_error_vectors.h")

INT6, INT_PORT = "2001:db8:1::10", 40000
EXT4, EXT_PORT = "192.0.2.1", 1025
PREF = "2001:db8:64::"
D4 = "198.51.100.7"
D6 = PREF + D4
R4 = "203.0.113.254"
R6_EMB = PREF + R4
R6 = "2001:db8:1::1"
IP_ID = 0x4242

PAYLOAD = bytes(range(256)) * 8


def pay(n):
    return PAYLOAD[:n]


def l4(kind, src_port, dst_port, n, v6, echo_type=None):
    """A transport header and n octets of data; kind udp, tcp or echo (port = identifier)."""
    if kind == "udp":
        return UDP(sport=src_port, dport=dst_port) / Raw(pay(n))
    if kind == "tcp":
        return TCP(sport=src_port, dport=dst_port, seq=0x01020304, ack=0x0a0b0c0d, flags="SA",
                   window=5000) / Raw(pay(n))
    ident = src_port if src_port is not None else dst_port
    if v6:
        cls = ICMPv6EchoRequest if echo_type in (None, 128) else ICMPv6EchoReply
        return cls(id=ident, seq=9) / Raw(pay(n))
    return ICMP(type=8 if echo_type in (None, 8) else 0, id=ident, seq=9) / Raw(pay(n))


# ---- 4 -> 6: what the NAT64 sent out (EXT -> D), quoted by an IPv4 router ------------------

def out4(kind, n, ttl=61, tos=0x10, mf=False, ipid=0x77):
    """The IPv4 packet the NAT64 sent out, complete (its lengths and checksums whole)."""
    if kind == "echo":
        t = l4("echo", EXT_PORT, None, n, False)
    else:
        t = l4(kind, EXT_PORT, 443 if kind == "tcp" else 53, n, False)
    return IP(src=EXT4, dst=D4, ttl=ttl, tos=tos, id=ipid, flags="MF" if mf else 0) / t


def in6(kind, n, hlim=61, tc=0x10):
    """Its IPv6 original: what the quoted packet must become, complete."""
    if kind == "echo":
        t = l4("echo", INT_PORT, None, n, True)
    else:
        t = l4(kind, INT_PORT, 443 if kind == "tcp" else 53, n, True)
    return IPv6(src=INT6, dst=D6, hlim=hlim, tc=tc) / t


def err4(icmp, quote, ttl=64, tos=0x28, extra_ip=None):
    ip = IP(src=R4, dst=EXT4, ttl=ttl, tos=tos, id=7)
    if extra_ip:
        ip = IP(src=R4, dst=EXT4, ttl=ttl, tos=tos, id=7, **extra_ip)
    return raw(ip / icmp / Raw(quote))


def res6(icmp6, quote, hlim=63, tc=0x28):
    return raw(IPv6(src=R6_EMB, dst=INT6, hlim=hlim, tc=tc) / icmp6 / Raw(quote))


def v4quote(kind, n, carried=None, **kw):
    """The IPv4 datagram as quoted: whole, or its first `carried` octets."""
    b = raw(out4(kind, n, **kw))
    return b if carried is None else b[:carried]


def v6quote(kind, n, carried=None, **kw):
    b = raw(in6(kind, n, **kw))
    return b if carried is None else b[:carried]


def ext_structure():
    """An RFC 4884 extension: header (version 2, checksum) and an MPLS label stack object."""
    obj = struct.pack("!HBB", 8, 1, 1) + bytes([0x01, 0x23, 0x41, 0x01])
    hdr = bytes([0x20, 0, 0, 0])
    body = hdr + obj
    s = sum(struct.unpack("!%dH" % (len(body) // 2), body))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    ck = (~s) & 0xffff
    return hdr[:2] + struct.pack("!H", ck) + obj


def pad(b, word, minimum=128):
    n = max(len(b), minimum)
    n = (n + word - 1) // word * word
    return b + bytes(n - len(b))


VECTORS = []


def vec(name, doc, direction, inp, exp):
    VECTORS.append((name, doc, direction, inp, exp))


# Destination Unreachable, Port Unreachable (3/3 -> 1/4), quoting the whole UDP datagram.
vec("46_port_unreach_udp", "ICMPv4 3/3 quoting UDP -> ICMPv6 1/4", 46,
    err4(ICMP(type=3, code=3), v4quote("udp", 40)),
    res6(ICMPv6DestUnreach(code=4), v6quote("udp", 40)))
# Time Exceeded (11/0 -> 3/0), quoting TCP, cut by the router after 28 octets of TCP.
vec("46_time_exceeded_tcp", "ICMPv4 11/0 quoting TCP (cut) -> ICMPv6 3/0", 46,
    err4(ICMP(type=11, code=0), v4quote("tcp", 100, carried=20 + 28)),
    res6(ICMPv6TimeExceeded(code=0), v6quote("tcp", 100, carried=40 + 28)))
# Host unreachable (3/1 -> 1/0) quoting an echo request: 8 -> 128, identifier back.
vec("46_host_unreach_echo", "ICMPv4 3/1 quoting an echo request -> ICMPv6 1/0", 46,
    err4(ICMP(type=3, code=1), v4quote("echo", 56)),
    res6(ICMPv6DestUnreach(code=0), v6quote("echo", 56)))
# RFC 1812 style quote with only 8 octets of TCP: no checksum to fix.
vec("46_admin_tcp8", "ICMPv4 3/13 quoting 8 octets of TCP -> ICMPv6 1/1", 46,
    err4(ICMP(type=3, code=13), v4quote("tcp", 0, carried=28)),
    res6(ICMPv6DestUnreach(code=1), v6quote("tcp", 0, carried=48)))
# Fragmentation Needed (3/4, MTU 1400 -> PTB 1420).
vec("46_frag_needed", "ICMPv4 3/4 MTU 1400 -> ICMPv6 PTB 1420", 46,
    err4(ICMP(type=3, code=4, nexthopmtu=1400), v4quote("udp", 1472, carried=548)),
    res6(ICMPv6PacketTooBig(mtu=1420), v6quote("udp", 1472, carried=568)))
# Fragmentation Needed with MTU 0 (RFC 1191 plateau below Total Length 1500: 1492 -> 1512).
vec("46_frag_needed_plateau", "ICMPv4 3/4 MTU 0, Total Length 1500 -> ICMPv6 PTB 1512", 46,
    err4(ICMP(type=3, code=4, nexthopmtu=0), v4quote("udp", 1472, carried=548)),
    res6(ICMPv6PacketTooBig(mtu=1512), v6quote("udp", 1472, carried=568)))
# Parameter Problem 12/0 pointer 9 (Protocol) -> 4/0 pointer 6 (Next Header).
vec("46_param_problem", "ICMPv4 12/0 pointer 9 -> ICMPv6 4/0 pointer 6", 46,
    err4(ICMP(type=12, code=0, ptr=9), v4quote("tcp", 10)),
    res6(ICMPv6ParamProblem(code=0, ptr=6), v6quote("tcp", 10)))
# Protocol unreachable 3/2 -> Parameter Problem 4/1 pointer 6.
vec("46_proto_unreach", "ICMPv4 3/2 -> ICMPv6 4/1 pointer 6", 46,
    err4(ICMP(type=3, code=2), v4quote("udp", 20)),
    res6(ICMPv6ParamProblem(code=1, ptr=6), v6quote("udp", 20)))
# A quote of 1400 octets: the result is cut at 1280 (RFC 4443 §2.4(c)).
vec("46_truncated_1280", "ICMPv4 3/3 quoting 1400 octets -> ICMPv6 1/4 of 1280 octets", 46,
    err4(ICMP(type=3, code=3), v4quote("udp", 1372)),
    res6(ICMPv6DestUnreach(code=4), v6quote("udp", 1372, carried=1280 - 48)))
# The quoted packet carried IPv4 options (a Record Route): they are not translated.
q = raw(IP(src=EXT4, dst=D4, ttl=61, tos=0x10, id=0x77, options=IPOption(b"\x07\x07\x04\x00\x00\x00\x00\x00"))
        / UDP(sport=EXT_PORT, dport=53) / Raw(pay(30)))
vec("46_quoted_options", "ICMPv4 3/3 quoting UDP with IPv4 options -> options dropped", 46,
    err4(ICMP(type=3, code=3), q),
    res6(ICMPv6DestUnreach(code=4), v6quote("udp", 30)))
# The quoted packet was a first fragment (MF): a Fragment header, ID in its low 16 bits.
whole4 = raw(out4("udp", 992, mf=False, ipid=0x1234))
first4 = raw(IP(src=EXT4, dst=D4, ttl=61, tos=0x10, id=0x1234, flags="MF", proto=17) / Raw(whole4[20:20 + 520]))
whole6_udp = raw(in6("udp", 992))[40:]
qfrag6 = raw(IPv6(src=INT6, dst=D6, hlim=61, tc=0x10, nh=44, plen=520 + 8)) + \
    raw(IPv6ExtHdrFragment(nh=17, m=1, offset=0, id=0x1234)) + whole6_udp[:520]
vec("46_quoted_first_fragment", "ICMPv4 11/1 quoting a first fragment -> Fragment header", 46,
    err4(ICMP(type=11, code=1), first4),
    res6(ICMPv6TimeExceeded(code=1), qfrag6))
# RFC 4884: Time Exceeded with a 128-octet datagram field and an MPLS extension; the IPv6
# field is padded to 128 again (length 16 words of 8), the extension copied.
ext = ext_structure()
d4 = v4quote("udp", 72)             # 100 octets
d6 = v6quote("udp", 72)             # 120 octets
vec("46_rfc4884_extension", "ICMPv4 11/0 with RFC 4884 extension -> ICMPv6 3/0 length 16", 46,
    err4(ICMP(type=11, code=0, length=128 // 4), pad(d4, 4) + ext),
    res6(ICMPv6TimeExceeded(code=0, length=128 // 8), pad(d6, 8) + ext))
d4 = v4quote("udp", 172)            # 200 octets
d6 = v6quote("udp", 172)            # 220 -> 224
vec("46_rfc4884_long", "ICMPv4 3/3 with a 200-octet field and an extension -> 224, length 28", 46,
    err4(ICMP(type=3, code=3, length=200 // 4), pad(d4, 4) + ext),
    res6(ICMPv6DestUnreach(code=4, length=224 // 8), pad(d6, 8) + ext))
# RFC 4884 on a Fragmentation Needed: the extension has no place in a Packet Too Big.
d4 = v4quote("udp", 172)
vec("46_rfc4884_ptb_dropped", "ICMPv4 3/4 with an extension -> PTB without it", 46,
    err4(ICMP(type=3, code=4, nexthopmtu=1400, length=200 // 4), pad(d4, 4) + ext),
    res6(ICMPv6PacketTooBig(mtu=1420), v6quote("udp", 172)))


# ---- 6 -> 4: what the NAT64 sent in (D6 -> INT6), quoted by an IPv6 node ------------------

def in6q(kind, n, hlim=57, tc=0x20, exts=None, echo_type=None):
    """The IPv6 packet the NAT64 sent in (to the subscriber), complete."""
    if kind == "echo":
        t = l4("echo", None, INT_PORT, n, True, echo_type)
    else:
        t = l4(kind, 443 if kind == "tcp" else 53, INT_PORT, n, True)
    ip = IPv6(src=D6, dst=INT6, hlim=hlim, tc=tc)
    for e in exts or []:
        ip = ip / e
    return ip / t


def out4q(kind, n, ttl=57, tos=0x20, echo_type=None, ipid=0, flags=None):
    """Its IPv4 original: what the quoted packet must become, complete."""
    if kind == "echo":
        t = l4("echo", None, EXT_PORT, n, False, 8 if echo_type in (None, 128) else 0)
    else:
        t = l4(kind, 443 if kind == "tcp" else 53, EXT_PORT, n, False)
    tot = 20 + len(raw(t))
    if flags is None:
        flags = "DF" if tot > 1260 else 0
    return IP(src=D4, dst=EXT4, ttl=ttl, tos=tos, id=ipid, flags=flags) / t


def err6(icmp6, quote, hlim=64, tc=0x48, src=R6):
    return raw(IPv6(src=src, dst=D6, hlim=hlim, tc=tc) / icmp6 / Raw(quote))


def res4(icmp, quote, ttl=63, tos=0x48):
    body = raw(icmp / Raw(quote))
    tot = 20 + len(body)
    return raw(IP(src=EXT4, dst=D4, ttl=ttl, tos=tos, id=IP_ID, flags="DF" if tot > 1260 else 0) / icmp /
               Raw(quote))


vec("64_port_unreach_udp", "ICMPv6 1/4 quoting UDP -> ICMPv4 3/3", 64,
    err6(ICMPv6DestUnreach(code=4), raw(in6q("udp", 40))),
    res4(ICMP(type=3, code=3), raw(out4q("udp", 40))))
vec("64_time_exceeded_tcp", "ICMPv6 3/0 quoting TCP (cut) -> ICMPv4 11/0", 64,
    err6(ICMPv6TimeExceeded(code=0), raw(in6q("tcp", 100))[:40 + 30]),
    res4(ICMP(type=11, code=0), raw(out4q("tcp", 100))[:20 + 30]))
vec("64_no_route_echo", "ICMPv6 1/0 quoting an echo reply -> ICMPv4 3/1", 64,
    err6(ICMPv6DestUnreach(code=0), raw(in6q("echo", 56, echo_type=129))),
    res4(ICMP(type=3, code=1), raw(out4q("echo", 56, echo_type=129))))
vec("64_admin_echo_request", "ICMPv6 1/1 quoting an echo request -> ICMPv4 3/10", 64,
    err6(ICMPv6DestUnreach(code=1), raw(in6q("echo", 20))),
    res4(ICMP(type=3, code=10), raw(out4q("echo", 20))))
vec("64_packet_too_big", "ICMPv6 PTB 1400 -> ICMPv4 3/4 MTU 1380", 64,
    err6(ICMPv6PacketTooBig(mtu=1400), raw(in6q("udp", 1400))[:1232]),
    res4(ICMP(type=3, code=4, nexthopmtu=1380), raw(out4q("udp", 1400))[:576 - 28]))
vec("64_param_problem", "ICMPv6 4/0 pointer 7 -> ICMPv4 12/0 pointer 8", 64,
    err6(ICMPv6ParamProblem(code=0, ptr=7), raw(in6q("udp", 12))),
    res4(ICMP(type=12, code=0, ptr=8), raw(out4q("udp", 12))))
vec("64_param_problem_dst", "ICMPv6 4/0 pointer 30 -> ICMPv4 12/0 pointer 16", 64,
    err6(ICMPv6ParamProblem(code=0, ptr=30), raw(in6q("tcp", 0))),
    res4(ICMP(type=12, code=0, ptr=16), raw(out4q("tcp", 0))))
vec("64_unrecognized_nh", "ICMPv6 4/1 -> ICMPv4 3/2", 64,
    err6(ICMPv6ParamProblem(code=1, ptr=6), raw(in6q("udp", 12))),
    res4(ICMP(type=3, code=2), raw(out4q("udp", 12))))
vec("64_truncated_576", "ICMPv6 1/4 quoting 1232 octets -> ICMPv4 of 576 octets", 64,
    err6(ICMPv6DestUnreach(code=4), raw(in6q("udp", 1400))[:1232]),
    res4(ICMP(type=3, code=3), raw(out4q("udp", 1400))[:576 - 28]))
# The quoted packet with Hop-by-Hop and Destination Options headers: skipped.
vec("64_quoted_ext_headers", "ICMPv6 3/0 quoting UDP after Hop-by-Hop and Destination Options", 64,
    err6(ICMPv6TimeExceeded(code=0),
         raw(in6q("udp", 30, exts=[IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt()]))),
    res4(ICMP(type=11, code=0), raw(out4q("udp", 30))))
# A Routing header with segments left 0: skipped too.
vec("64_quoted_routing0", "ICMPv6 1/4 quoting UDP after a Routing header, segments left 0", 64,
    err6(ICMPv6DestUnreach(code=4),
         raw(in6q("udp", 30, exts=[IPv6ExtHdrRouting(type=0, segleft=0, addresses=["2001:db8::99"])]))),
    res4(ICMP(type=3, code=3), raw(out4q("udp", 30))))
# The quoted packet was a first fragment: IPv4 ID = the low 16 bits, MF, DF clear; the PTB
# MTU accounts for the Fragment header (1400 - 28).
whole6 = raw(in6q("udp", 1000))
first6 = raw(IPv6(src=D6, dst=INT6, hlim=57, tc=0x20, nh=44, plen=8 + 600)) + \
    raw(IPv6ExtHdrFragment(nh=17, m=1, offset=0, id=0xabcd1234)) + whole6[40:40 + 600]
whole4u = raw(out4q("udp", 1000))
first4q = raw(IP(src=D4, dst=EXT4, ttl=57, tos=0x20, id=0x1234, flags="MF", proto=17) / Raw(whole4u[20:20 + 600]))
vec("64_quoted_first_fragment", "ICMPv6 PTB 1400 quoting a first fragment -> 3/4 MTU 1372, MF", 64,
    err6(ICMPv6PacketTooBig(mtu=1400), first6),
    res4(ICMP(type=3, code=4, nexthopmtu=1372), first4q[:576 - 28]))
# RFC 4884: ICMPv6 Destination Unreachable with a 128-octet field and an extension.
d6 = raw(in6q("udp", 52))     # 100 octets
d4 = raw(out4q("udp", 52))    # 80 octets
vec("64_rfc4884_extension", "ICMPv6 1/4 with an RFC 4884 extension -> ICMPv4 3/3 length 32", 64,
    err6(ICMPv6DestUnreach(code=4, length=128 // 8), pad(d6, 8) + ext),
    res4(ICMP(type=3, code=3, length=128 // 4), pad(d4, 4) + ext))
# The outer packet with a Hop-by-Hop header (skipped), from a router with no IPv4 form.
vec("64_outer_hbh", "ICMPv6 3/0 after a Hop-by-Hop header -> ICMPv4 11/0", 64,
    raw(IPv6(src="fe80::1", dst=D6, hlim=2, tc=0) / IPv6ExtHdrHopByHop() / ICMPv6TimeExceeded(code=0) /
        Raw(raw(in6q("udp", 8)))),
    raw(IP(src=EXT4, dst=D4, ttl=1, tos=0, id=IP_ID) / ICMP(type=11, code=0) / Raw(raw(out4q("udp", 8)))))


def c_array(name, data):
    lines = [f"static const uint8_t xev_{name}[] = {{"]
    for i in range(0, len(data), 12):
        lines.append("\t" + " ".join(f"0x{b:02x}," for b in data[i:i + 12]))
    lines.append("};")
    return "\n".join(lines)


def main():
    out = ["/* Generated by tests/unit/make_xlat_error_vectors.py (scapy), do not edit. */",
           "#ifndef XLAT_ERROR_VECTORS_H", "#define XLAT_ERROR_VECTORS_H", "", "#include <stddef.h>",
           "#include <stdint.h>", ""]
    for name, doc, _, inp, exp in VECTORS:
        out.append(f"/* {name}: {doc} ({len(inp)} -> {len(exp)} octets) */")
        out.append(c_array(name + "_in", inp))
        out.append(c_array(name + "_out", exp))
        out.append("")
    out.append("struct xlat_error_vector {")
    out.append("\tconst char *name;")
    out.append("\tint direction; /* 46 or 64 */")
    out.append("\tconst uint8_t *in, *out;")
    out.append("\tsize_t in_len, out_len;")
    out.append("};")
    out.append("")
    out.append("static const struct xlat_error_vector xlat_error_vectors[] = {")
    for name, _, direction, _, _ in VECTORS:
        out.append(f"\t{{ \"{name}\", {direction}, xev_{name}_in, xev_{name}_out, "
                   f"sizeof(xev_{name}_in), sizeof(xev_{name}_out) }},")
    out.append("};")
    out.append("")
    out.append("#endif /* XLAT_ERROR_VECTORS_H */")
    with open(OUT, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
