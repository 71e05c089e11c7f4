#!/usr/bin/env python3
"""Writes the seed corpora of the PCP fuzz targets: seeds/pcp_wire/*.bin, one message of each
kind plus a few near misses; seeds/pcp_server/*.bin, short request scripts for the handler.
Generated, small, checked in; rerun to refresh:
    python3 tests/fuzz/make_seeds.py
"""
import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds", "pcp_wire")


def v4(a):
    return b"\0" * 10 + b"\xff\xff" + bytes(int(x) for x in a.split("."))


def hdr(opcode, lifetime=7200, client="127.0.0.1", version=2, r=0):
    return struct.pack("!BBHI", version, opcode | (0x80 if r else 0), 0, lifetime) + v4(client)


def opt(code, data):
    pad = (-len(data)) % 4
    return struct.pack("!BBH", code, 0, len(data)) + data + b"\0" * pad


def map_body(proto=17, iport=8080, eport=0, eaddr="0.0.0.0", nonce=bytes(range(12))):
    return nonce + struct.pack("!B3xHH", proto, iport, eport) + v4(eaddr)


def peer_body(**kw):
    return map_body(**kw) + struct.pack("!H2x", 443) + v4("198.51.100.1")


seeds = {
    "announce": hdr(0, 0),
    "map": hdr(1) + map_body(),
    "map_delete": hdr(1, 0) + map_body(),
    "map_options": hdr(1) + map_body(eport=40000) + opt(1, v4("127.0.0.5")) + opt(2, b"")
    + opt(3, struct.pack("!BBH", 0, 120, 443) + v4("198.51.100.0")) + opt(128, b"web server"),
    "map_port_set": hdr(1) + map_body() + opt(130, struct.pack("!HHB", 64, 5000, 1)) + opt(192, b""),
    "map_prefix64": hdr(1) + map_body() + opt(129, bytes(12)) + opt(13, b"subscriber-42"),
    "peer": hdr(2) + peer_body(),
    "auth": hdr(3, 0) + opt(4, b"\1\2\3\4") + opt(7, b"eap!") + opt(8, bytes(4)) + opt(9, bytes(4)),
    "natpmp_addr": b"\0\0",
    "natpmp_map": struct.pack("!BBHHHI", 0, 1, 0, 8080, 8080, 3600),
    "version1": hdr(1, version=1) + map_body(),
    "response_map": struct.pack("!BBBBII", 2, 0x81, 0, 0, 7200, 12) + bytes(12) + map_body(eport=40000, eaddr="203.0.113.1"),
    "response_error": struct.pack("!BBBBII", 2, 0x81, 0, 3, 1800, 12) + bytes(12),
    "bad_option_len": hdr(1) + map_body() + struct.pack("!BBH", 1, 0, 200),
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {OUT}")


# fuzz_pcp_server reads scripts: [flags][len:2][datagram]...; flags bits 0-2 pick the source
# (0 = 127.0.0.1, 1 = the third-party host 127.0.0.2), bit 3 refuses the push, bits 4-7 wait;
# len bit 14: the push takes 3 changes, then refuses (a ring full in the middle of a port set).
def step(src, msg, refuse=False, wait=0, refuse_after_3=False):
    return struct.pack("!BH", src | (8 if refuse else 0) | (wait << 4), len(msg) | (0x4000 if refuse_after_3 else 0)) + msg


def port_set(size, first, parity=0):
    """RFC 7753 PORT_SET: Port Set Size, First Internal Port, Reserved and P."""
    return opt(130, struct.pack("!HHB", size, first, parity))


SERVER_OUT = os.path.join(HERE, "seeds", "pcp_server")
nat64_set = (struct.pack("!BBHI", 2, 1, 0, 7200) + socket.inet_pton(socket.AF_INET6, "2001:db8:64:100::1")
             + map_body(iport=4000) + port_set(8, 4000))
c1, c2 = "127.0.0.1", "127.0.0.2"
scripts = {
    "map_renew_delete": step(0, hdr(1, client=c1) + map_body()) + step(0, hdr(1, client=c1) + map_body())
    + step(0, hdr(1, 0, client=c1) + map_body()),
    "map_expire": step(0, hdr(1, 120, client=c1) + map_body()) + step(0, hdr(0, 0, client=c1), wait=15),
    "map_refused": step(0, hdr(1, client=c1) + map_body(), refuse=True) + step(0, hdr(1, client=c1) + map_body()),
    "peer_then_map": step(0, hdr(2, client=c1) + peer_body(proto=6, iport=5000))
    + step(0, hdr(1, client=c1) + map_body(proto=6, iport=5000)),
    "third_party_filter": step(1, hdr(1, client=c2) + map_body() + opt(1, v4("127.0.0.5"))
                              + opt(3, struct.pack("!BBH", 0, 120, 443) + v4("198.51.100.0"))),
    "quota": b"".join(step(0, hdr(1, client=c1) + map_body(iport=p)) for p in range(1000, 1005)),
    "natpmp": step(0, b"\0\0") + step(0, struct.pack("!BBHHHI", 0, 1, 0, 8080, 8080, 3600))
    + step(0, struct.pack("!BBHHHI", 0, 1, 0, 0, 0, 0)),
    "hold_reclaim": step(0, hdr(1, client=c1) + map_body(eport=5100)) + step(0, hdr(1, 0, client=c1) + map_body())
    + step(0, hdr(1, client=c1) + map_body(eport=5100)),
    # RFC 7220 DESCRIPTION: stored, replaced, kept, cleared, ignored (not UTF-8), on a refused
    # renewal (rollback), deleted with its mapping; long texts cut at a character boundary
    "description_map": step(0, hdr(1, client=c1) + map_body() + opt(128, b"camera"))
    + step(0, hdr(1, client=c1) + map_body() + opt(128, "caméra €".encode()))
    + step(0, hdr(1, client=c1) + map_body())
    + step(0, hdr(1, client=c1) + map_body() + opt(128, b"\xed\xa0\x80 surrogate"))
    + step(0, hdr(1, client=c1) + map_body() + opt(128, b"refused"), refuse=True)
    + step(0, hdr(1, client=c1) + map_body() + opt(128, b""))
    + step(0, hdr(1, client=c1) + map_body() + opt(128, b"again"))
    + step(0, hdr(1, 0, client=c1) + map_body() + opt(128, b"bye")),
    "description_long": step(0, hdr(1, client=c1) + map_body(iport=1) + opt(128, "é".encode() * 100 + b"x"))
    + step(0, hdr(1, client=c1) + map_body(iport=2) + opt(128, "📷".encode() * 254))
    + step(0, hdr(1, client=c1) + map_body(iport=3) + opt(128, b"a" * 127 + "€".encode()))
    + step(0, hdr(1, client=c1) + map_body(iport=4) + opt(128, b"b" * 200 + b"\xc0\xaf")),
    "description_peer": step(0, hdr(2, client=c1) + peer_body(proto=6, iport=5000) + opt(128, b"peer one"))
    + step(0, hdr(2, client=c1) + peer_body(proto=6, iport=5000) + opt(128, b"peer two"))
    + step(0, hdr(1, client=c1) + map_body(proto=6, iport=5000) + opt(128, b"map part"))
    + step(0, hdr(1, 0, client=c1) + map_body(proto=6, iport=5000))
    + step(0, hdr(2, client=c1) + peer_body(proto=6, iport=5000) + opt(128, b"\xff"), wait=4)
    + step(0, hdr(0, 0, client=c1), wait=15),
    "description_twice": step(0, hdr(1, client=c1) + map_body() + opt(128, b"one") + opt(128, b"two"))
    + step(0, hdr(2, client=c1) + peer_body() + opt(128, b"one") + opt(128, b"two")),
    # RFC 7753: a set created, renewed by a MAP naming a port inside it, deleted
    "port_set_life": step(0, hdr(1, client=c1) + map_body(iport=7000) + port_set(20, 7000))
    + step(0, hdr(1, client=c1) + map_body(iport=7010))
    + step(0, hdr(1, 0, client=c1) + map_body(iport=7000) + port_set(20, 7000)),
    # §5.3: a single port and a set, then one request over both (two responses)
    "port_set_overlap": step(0, hdr(1, client=c1) + map_body(iport=100))
    + step(0, hdr(1, client=c1) + map_body(iport=101) + port_set(99, 101))
    + step(0, hdr(1, client=c1) + map_body(iport=100) + port_set(100, 100)),
    # as many as the server gives, with parity; then expiry of the set as one
    "port_set_all_parity": step(0, hdr(1, 120, client=c1) + map_body(iport=6001) + port_set(0xffff, 6001, 1))
    + step(0, hdr(0, 0, client=c1), wait=15),
    # the ring fills after three ports: every port taken back; the same again with room
    "port_set_refused": step(0, hdr(1, client=c1) + map_body(iport=8000) + port_set(10, 8000), refuse_after_3=True)
    + step(0, hdr(1, client=c1) + map_body(iport=8000) + port_set(10, 8000))
    + step(0, hdr(1, client=c1) + map_body(iport=8000) + port_set(10, 8000), refuse_after_3=True)
    + step(0, hdr(1, 0, client=c1) + map_body(iport=8000) + port_set(10, 8000), refuse_after_3=True),
    # malformed: size 0, two options, PREFER_FAILURE, First Internal Port elsewhere
    "port_set_malformed": step(0, hdr(1, client=c1) + map_body(iport=9000) + port_set(0, 9000))
    + step(0, hdr(1, client=c1) + map_body(iport=9000) + port_set(5, 9000) + port_set(5, 9000))
    + step(0, hdr(1, client=c1) + map_body(iport=9000, eport=5200) + opt(2, b"") + port_set(5, 9000))
    + step(0, hdr(1, client=c1) + map_body(iport=9000) + port_set(5, 9001)),
    # a NAT64 subscriber's set (len bit 15: the IPv6 source 2001:db8:64:100::1)
    "port_set_nat64": struct.pack("!BH", 0, 0x8000 | len(nat64_set)) + nat64_set,
}
os.makedirs(SERVER_OUT, exist_ok=True)
for name, data in scripts.items():
    with open(os.path.join(SERVER_OUT, name + ".bin"), "wb") as f:
        f.write(data)
print(f"wrote {len(scripts)} scripts to {SERVER_OUT}")
