"""Golden cases of the group nat44: the NAT44 data plane (tests/golden/cases/nat44/<case>/).

Subscribers in 100.64.0.0/10 behind the inside port (100.64.0.254), the pool 203.0.113.0/30
out of the outside port (198.51.100.1), one static UDP mapping; BASE_CONF is the group's
config, conf() fills it in (each case changes only what it tests). Every case_<name>(work)
runs cgnatd (harness.Run) in the folder work and returns (run, counters): the run whose
output pcaps are compared with the case's expected ones, and the counter values it must show.
"""
import subprocess
import time

from scapy.all import ARP, Ether, IP, IPerror, UDP, TCP, ICMP, Raw, UDPerror, fragment, raw, wrpcap

from harness import NAT_OUT_MAC, PCPC, ROUTER_MAC, SUB_MAC, Run, cksums_ok, i_mac_ok, idle_expiry_ok, inside, ip_cksum_ok, outside, pcpc

A, B, REMOTE, REMOTE2 = "100.64.0.1", "100.64.0.2", "198.51.100.10", "198.51.100.11"
STATIC_IN, STATIC_EXT = "100.64.0.5", "203.0.113.2"
POOL = ("203.0.113.0", 30)

BASE_CONF = """
pcp = {{ listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10" ]; announce = {{ multicast = false; }}; }};
nat = {{ pool = [ "203.0.113.0/30" ]; block_size = {block_size}; max_blocks = {max_blocks}; ports = "{ports}";
        filtering = "{filtering}"; {nat_extra}
        static = ( {{ proto = "udp"; internal = "100.64.0.5:7000"; external = "203.0.113.2:7000"; }} ); }};
dataplane = {{ seed = 42; idle_sleep_us = 100; rx_delay_ms = {rx_delay}; icmp_source = "203.0.113.3";
              table_size = {table_size}; {dp_extra} }};
ports = ( {{ name = "net_pcap0"; role = "inside"; peer_mac = "{sub_mac}"; address = "100.64.0.254"; }},
          {{ name = "net_pcap1"; role = "outside"; peer_mac = "{router_mac}"; address = "198.51.100.1"; {out_port_extra} }} );
"""


def in_pool(addr):
    a = [int(x) for x in addr.split(".")]
    b = [int(x) for x in POOL[0].split(".")]
    return a[:3] == b[:3] and a[3] >> (32 - POOL[1]) == b[3] >> (32 - POOL[1])


def conf(**kw):
    v = dict(block_size=512, max_blocks=4, ports="1024-65535", rx_delay=300, filtering="endpoint-independent",
             sub_mac=SUB_MAC, router_mac=ROUTER_MAC, table_size=4096, nat_extra="", dp_extra="", out_port_extra="")
    v.update(kw)
    return BASE_CONF.format(**v)


# ---- the cases: each returns (run, checks) ---------------------------------------------------

def case_udp_out_and_reply(work):
    out_pkt = inside(IP(src=A, dst=REMOTE, ttl=64) / UDP(sport=1234, dport=53) / Raw(b"query"))
    learn = Run("udp", work, conf(), [out_pkt], [])
    ext, port = learn.external_of(f"{A}:1234")
    reply = outside(IP(src=REMOTE, dst=ext, ttl=50) / UDP(sport=53, dport=port) / Raw(b"answer"))
    r = Run("udp", work, conf(), [out_pkt], [reply])
    assert len(r.out_outside) == 1 and len(r.out_inside) == 1, (r.out_outside, r.out_inside)
    o, i = r.out_outside[0], r.out_inside[0]
    assert o[IP].src == ext and in_pool(ext) and o[UDP].sport == port and o[IP].dst == REMOTE and o[UDP].dport == 53
    assert o[IP].ttl == 63 and raw(o[UDP].payload) == b"query" and cksums_ok(o)
    assert o[Ether].dst == ROUTER_MAC and i_mac_ok(r.out_inside[0])
    assert i[IP].dst == A and i[UDP].dport == 1234 and i[IP].src == REMOTE and i[IP].ttl == 49 and cksums_ok(i)
    assert raw(i[UDP].payload) == b"answer"
    assert idle_expiry_ok(r.mapping_of(f"{A}:1234"), 300), r.mapping_of(f"{A}:1234")  # nat.timeouts.udp
    return r, {"pkt_out_translated": 1, "pkt_in_translated": 1, "pkt_sessions_created": 1}


def case_tcp_out_and_reply(work):
    syn = inside(IP(src=A, dst=REMOTE) / TCP(sport=40000, dport=80, flags="S", seq=1000))
    learn = Run("tcp", work, conf(), [syn], [])
    ext, port = learn.external_of(f"{A}:40000")
    synack = outside(IP(src=REMOTE, dst=ext) / TCP(sport=80, dport=port, flags="SA", seq=5000, ack=1001))
    r = Run("tcp", work, conf(), [syn], [synack])
    o, i = r.out_outside[0], r.out_inside[0]
    assert o[IP].src == ext and o[TCP].sport == port and o[TCP].flags == "S" and cksums_ok(o)
    assert i[IP].dst == A and i[TCP].dport == 40000 and i[TCP].ack == 1001 and cksums_ok(i)
    m = r.mapping_of(f"{A}:40000")
    assert m["tcp_state"] == "established" and idle_expiry_ok(m, 7440), m  # nat.timeouts.tcp_established
    return r, {"pkt_out_translated": 1, "pkt_in_translated": 1}


def case_icmp_echo_and_reply(work):
    req = inside(IP(src=A, dst=REMOTE) / ICMP(type=8, id=77, seq=1) / Raw(b"ping"))
    learn = Run("icmp", work, conf(), [req], [])
    ext, ident = learn.external_of(f"{A}:77")
    rep = outside(IP(src=REMOTE, dst=ext) / ICMP(type=0, id=ident, seq=1) / Raw(b"ping"))
    r = Run("icmp", work, conf(), [req], [rep])
    o, i = r.out_outside[0], r.out_inside[0]
    assert o[IP].src == ext and o[ICMP].id == ident and o[ICMP].type == 8 and cksums_ok(o)
    assert i[IP].dst == A and i[ICMP].id == 77 and i[ICMP].type == 0 and cksums_ok(i)
    assert idle_expiry_ok(r.mapping_of(f"{A}:77"), 60), r.mapping_of(f"{A}:77")  # nat.timeouts.icmp
    return r, {"pkt_out_translated": 1, "pkt_in_translated": 1}


def case_unsolicited_inbound_dropped(work):
    pkt = outside(IP(src=REMOTE, dst="203.0.113.1") / UDP(sport=53, dport=5555))
    r = Run("unsol", work, conf(), [], [pkt])
    assert r.out_inside == [] and r.out_outside == []
    return r, {"drop_NO_MAPPING": 1, "pkt_in_translated": 0}


def case_static_map_inbound(work):
    pkt = outside(IP(src=REMOTE, dst=STATIC_EXT) / UDP(sport=999, dport=7000) / Raw(b"to the server"))
    r = Run("static", work, conf(), [], [pkt])
    i = r.out_inside[0]
    assert i[IP].dst == STATIC_IN and i[UDP].dport == 7000 and i[IP].src == REMOTE and cksums_ok(i)
    return r, {"pkt_in_translated": 1}


def case_filter_allow_deny(work):
    state = {}

    def pcp_map(run):
        # A PCP MAP with a FILTER for 198.51.100.20 only, before the workers read packets.
        subprocess.run(["ip", "addr", "replace", "100.64.0.6/32", "dev", "lo"], check=True)
        # A suggested port with PREFER_FAILURE: the same external port in both runs.
        out = subprocess.run([PCPC, "-b", "100.64.0.6", "--irt", "0.3", "-p", "udp", "-i", "8000", "-l", "3600",
                              "-e", "40000", "-f", "-F", "198.51.100.20/32", "map"], capture_output=True, text=True,
                             timeout=20)
        assert out.returncode == 0, out.stdout + out.stderr
        ext = [l for l in out.stdout.splitlines() if l.startswith("external: ")][0].split(" ")[1]
        state["ext"], state["port"] = ext.rsplit(":", 1)

    # The first run learns the external endpoint; the second sends to it.
    Run("filter", work, conf(rx_delay=1500), [], [], before=pcp_map)
    ext, port = state["ext"], int(state["port"])
    allowed = outside(IP(src="198.51.100.20", dst=ext) / UDP(sport=1, dport=port) / Raw(b"allowed"))
    denied = outside(IP(src="198.51.100.21", dst=ext) / UDP(sport=1, dport=port) / Raw(b"denied"))
    r = Run("filter", work, conf(rx_delay=1500), [], [allowed, denied], before=pcp_map)
    assert len(r.out_inside) == 1 and r.out_inside[0][Raw].load == b"allowed"
    assert r.out_inside[0][IP].dst == "100.64.0.6" and r.out_inside[0][UDP].dport == 8000
    return r, {"drop_FILTERED": 1, "pkt_in_translated": 1}


def case_eim_two_destinations(work):
    p1 = inside(IP(src=A, dst=REMOTE) / UDP(sport=1234, dport=53))
    p2 = inside(IP(src=A, dst=REMOTE2) / UDP(sport=1234, dport=123))
    r = Run("eim", work, conf(), [p1, p2], [])
    o1, o2 = r.out_outside
    assert (o1[IP].src, o1[UDP].sport) == (o2[IP].src, o2[UDP].sport), "RFC 4787 REQ-1: one mapping"
    assert o1[IP].dst == REMOTE and o2[IP].dst == REMOTE2
    return r, {"pkt_sessions_created": 1, "pkt_out_translated": 2}


def case_hairpin(work):
    # B reaches the static mapping of 100.64.0.5:7000 through its external endpoint.
    p = inside(IP(src=B, dst=STATIC_EXT) / UDP(sport=2000, dport=7000) / Raw(b"hairpin"))
    r = Run("hairpin", work, conf(), [p], [])
    assert r.out_outside == [], "a hairpinned packet never leaves by the outside"
    i = r.out_inside[0]
    ext_b, port_b = r.external_of(f"{B}:2000")
    assert i[IP].dst == STATIC_IN and i[UDP].dport == 7000
    assert (i[IP].src, i[UDP].sport) == (ext_b, port_b), "RFC 4787 REQ-9: from B's external endpoint"
    assert cksums_ok(i) and i[Ether].dst == SUB_MAC
    return r, {"pkt_hairpinned": 1}


def case_icmp_error_for_an_outbound_flow(work):
    out_pkt = inside(IP(src=A, dst=REMOTE, ttl=64) / UDP(sport=1234, dport=53) / Raw(b"query"))
    learn = Run("icmperr", work, conf(), [out_pkt], [])
    ext, port = learn.external_of(f"{A}:1234")
    sent = learn.out_outside[0][IP]
    err = outside(IP(src=REMOTE, dst=ext) / ICMP(type=3, code=3) / raw(sent)[:28])
    r = Run("icmperr", work, conf(), [out_pkt], [err])
    i = r.out_inside[0]
    assert i[IP].dst == A and i[ICMP].type == 3 and i[ICMP].code == 3
    quoted = IP(raw(i[ICMP].payload))
    assert quoted.src == A and quoted[UDP].sport == 1234 and quoted.dst == REMOTE, "RFC 5508: the quoted packet translated"
    assert raw(IP(raw(quoted)))[:20] == raw(quoted)[:20]
    q = quoted.copy()
    del q.chksum
    assert IP(raw(q)).chksum == quoted.chksum, "the quoted IP header checksum fixed"
    icmp = i[ICMP].copy()
    del icmp.chksum
    assert ICMP(raw(icmp)).chksum == i[ICMP].chksum, "the ICMP checksum fixed"
    return r, {"pkt_icmp_errors_translated": 1}


def case_ttl_expiry(work):
    p = inside(IP(src=A, dst=REMOTE, ttl=1) / UDP(sport=1234, dport=53) / Raw(b"x" * 16))
    r = Run("ttl", work, conf(), [p], [])
    assert r.out_outside == []
    i = r.out_inside[0]
    assert i[IP].dst == A and i[IP].src == "203.0.113.3" and i[ICMP].type == 11 and i[ICMP].code == 0
    quoted = IP(raw(i[ICMP].payload))
    assert quoted.src == A and quoted[UDP].sport == 1234, "the original packet quoted"
    return r, {"drop_TTL_EXPIRED": 1, "pkt_icmp_sent": 1}


def case_quota_reached(work):
    pkts = [inside(IP(src=A, dst=REMOTE) / UDP(sport=10000 + i, dport=53)) for i in range(65)]
    r = Run("quota", work, conf(block_size=64, max_blocks=1), pkts, [])
    assert len(r.out_outside) == 64
    sports = {p[UDP].sport for p in r.out_outside}
    assert len(sports) == 64, "64 sessions, 64 ports"
    i = r.out_inside[0]
    assert i[ICMP].type == 3 and i[ICMP].code == 13 and i[IP].dst == A
    return r, {"drop_NO_PORTS": 1, "pkt_sessions_created": 64, "pkt_icmp_sent": 1}


def icmp_3_13_to(pkts, dsts):
    """Each frame an ICMP 3/13 (communication administratively prohibited, RFC 6888 REQ-4/-5)
    to the inside host that was refused, quoting its packet."""
    return [p[IP].dst for p in pkts if p[ICMP].type == 3 and p[ICMP].code == 13 and p[IP].src == "203.0.113.3"] == dsts


def case_table_full(work):
    # RFC 6888 REQ-4: "a CGN MUST ... drop" when a limit is reached; ours counts the reason and
    # answers ICMP 3/13. The table holds table_size entries, one of them the static mapping.
    pkts = [inside(IP(src=A, dst=REMOTE) / UDP(sport=10000 + i, dport=53)) for i in range(1025)]
    r = Run("tfull", work, conf(table_size=1024), pkts, [])
    assert len(r.out_outside) == 1023, len(r.out_outside)
    assert icmp_3_13_to(r.out_inside, [A, A]), [p.summary() for p in r.out_inside]
    assert r.out_inside[0][UDPerror].sport == 11023, "the first refused flow quoted"
    return r, {"drop_TABLE_FULL": 2, "pkt_sessions_created": 1023, "pkt_icmp_sent": 2, "table_mappings": 1024}


def case_pool_exhausted(work):
    # Four pool addresses of two 64-port blocks each (ports 7000-7127): the static mapping's
    # host holds one block, seven subscribers get one each; the eighth finds none (RFC 6888
    # REQ-4, counted as POOL_EXHAUSTED, ICMP 3/13).
    pkts = [inside(IP(src=f"100.64.1.{1 + i}", dst=REMOTE) / UDP(sport=5000, dport=53)) for i in range(8)]
    r = Run("pfull", work, conf(block_size=64, max_blocks=1, ports="7000-7127"), pkts, [])
    assert len(r.out_outside) == 7 and len({p[IP].src for p in r.out_outside}) == 4, "7 sessions on 4 addresses"
    assert icmp_3_13_to(r.out_inside, ["100.64.1.8"])
    return r, {"drop_POOL_EXHAUSTED": 1, "pkt_sessions_created": 7, "pkt_icmp_sent": 1}


def case_subscribers_full(work):
    # nat.max_subscribers = 3, one of them the static mapping's host: two more get sessions,
    # the third new host is refused (SUBSCRIBERS_FULL, ICMP 3/13).
    pkts = [inside(IP(src=f"100.64.1.{1 + i}", dst=REMOTE) / UDP(sport=5000, dport=53)) for i in range(3)]
    r = Run("sfull", work, conf(nat_extra="max_subscribers = 3;"), pkts, [])
    assert [p[IP].dst for p in r.out_outside] == [REMOTE, REMOTE]
    assert icmp_3_13_to(r.out_inside, ["100.64.1.3"])
    return r, {"drop_SUBSCRIBERS_FULL": 1, "pkt_sessions_created": 2, "pkt_icmp_sent": 1}


def case_icmp_errors_rate_limited(work):
    # The ICMP errors the NAT sends are rate-limited (RFC 1812 §4.3.2.8; issue: "rate-limited"):
    # with 2 a second, five expiring packets in a burst get two time-exceeded answers; the
    # other three are dropped and counted.
    pkts = [inside(IP(src=A, dst=REMOTE, ttl=1) / UDP(sport=6000 + i, dport=53)) for i in range(5)]
    r = Run("icmprl", work, conf(dp_extra="icmp_errors_per_second = 2;"), pkts, [])
    assert r.out_outside == [] and [(p[ICMP].type, p[ICMP].code) for p in r.out_inside] == [(11, 0), (11, 0)]
    return r, {"drop_TTL_EXPIRED": 5, "pkt_icmp_sent": 2, "pkt_icmp_rate_limited": 3}


def reassembled(frames, ip_id):
    """The datagram the fragments of ip_id make, as scapy parses it, checksums as sent."""
    frags = sorted((f[IP] for f in frames if f[IP].id == ip_id), key=lambda f: f.frag)
    data = b"".join(bytes(f.payload) for f in frags)
    first = frags[0]
    return IP(raw(IP(src=first.src, dst=first.dst, proto=first.proto, id=ip_id, ttl=first.ttl) / Raw(data)))


def udp_cksum_ok(ip):
    """cksums_ok, and the datagram kept a checksum (these were sent with one)."""
    return ip[UDP].chksum != 0 and cksums_ok(ip)


def case_fragments_in_and_out_of_order(work):
    # RFC 4787 REQ-14: "A NAT MUST support receiving in-order and out-of-order fragments".
    # Datagram 0x1001 goes out in order, 0x1002 last fragment first (held until its first
    # fragment is translated), and a reply comes back in fragments, its first one last. No reassembly: each
    # fragment is translated, the UDP checksum of the whole datagram fixed in the first.
    def frags(src, sport, ip_id, size, reverse=False):
        dgram = IP(src=src, dst=REMOTE, id=ip_id, ttl=64) / UDP(sport=sport, dport=53) / Raw(bytes(range(256)) * size)
        fr = [inside(f) for f in fragment(dgram, fragsize=480)]
        return fr[::-1] if reverse else fr
    # 0x1002's first fragment comes a burst (32 frames) after the rest: held, then released.
    filler = [inside(IP(src=B, dst=REMOTE, id=7) / UDP(sport=5000, dport=53)) for _ in range(32)]
    late = frags(A, 4001, 0x1002, 4, reverse=True)
    out_pkts = frags(A, 4000, 0x1001, 4) + late[:-1] + filler + late[-1:]
    learn = Run("frag", work, conf(), out_pkts, [])
    ext, port = learn.external_of(f"{A}:4000")
    reply = IP(src=REMOTE, dst=ext, id=0x2001, ttl=64) / UDP(sport=53, dport=port) / Raw(b"answer" * 200)
    # The reply's first fragment too comes a burst after the rest (inbound out of order).
    back = [outside(f) for f in fragment(reply, fragsize=480)]
    to_static = [outside(IP(src=REMOTE2, dst=STATIC_EXT, id=9) / UDP(sport=9, dport=7000)) for _ in range(32)]
    in_pkts = back[:0:-1] + to_static + back[:1]
    r = Run("frag", work, conf(), out_pkts, in_pkts)
    assert len(r.out_outside) == 6 + 32 and len(r.out_inside) == 3 + 32, (len(r.out_outside), len(r.out_inside))
    for ip_id, sport in ((0x1001, 4000), (0x1002, 4001)):
        d = reassembled(r.out_outside, ip_id)
        assert d.src == ext and d[UDP].dport == 53 and udp_cksum_ok(d), d.summary()
        assert bytes(d[UDP].payload) == bytes(range(256)) * 4, "the payload whole"
        assert (d.src, d[UDP].sport) == r.external_of(f"{A}:{sport}"), "the datagram's session"
    assert reassembled(r.out_outside, 0x1001)[UDP].sport == port
    first_of_1002 = [f for f in r.out_outside if f[IP].id == 0x1002]
    assert first_of_1002[0][IP].frag == 0, "the held fragments leave after their first"
    back = reassembled(r.out_inside, 0x2001)
    assert back.dst == A and back[UDP].dport == 4000 and udp_cksum_ok(back), back.summary()
    assert all(f[IP].ttl == 63 for f in r.out_outside + r.out_inside), "every fragment's TTL decremented"
    return r, {"pkt_out_translated": 2 + 32, "pkt_in_translated": 1 + 32, "pkt_fragments_translated": 6,
               "pkt_fragments_held": 4, "pkt_sessions_created": 3}


def case_fragments_of_tcp_icmp_and_hairpin(work):
    # REQ-14 for every protocol translated, and for a datagram that hairpins (RFC 4787 REQ-9):
    # to the static mapping's external endpoint from inside, back in to 100.64.0.5:7000.
    tcp = IP(src=A, dst=REMOTE, id=0x7001) / TCP(sport=4100, dport=80, flags="PA", seq=1, ack=1) / Raw(b"t" * 1200)
    echo = IP(src=A, dst=REMOTE, id=0x7002) / ICMP(type=8, id=77, seq=1) / Raw(b"e" * 1200)
    pin = IP(src=A, dst=STATIC_EXT, id=0x7003) / UDP(sport=4101, dport=7000) / Raw(b"h" * 1200)
    pkts = [inside(f) for d in (tcp, echo, pin) for f in fragment(d, fragsize=480)]
    r = Run("fragx", work, conf(), pkts, [])
    assert len(r.out_outside) == 6 and len(r.out_inside) == 3, (len(r.out_outside), len(r.out_inside))
    t = reassembled(r.out_outside, 0x7001)
    assert cksums_ok(t) and bytes(t[TCP].payload) == b"t" * 1200, "TCP whole"
    assert (t.src, t[TCP].sport) == r.external_of(f"{A}:4100")
    e = reassembled(r.out_outside, 0x7002)
    assert cksums_ok(e) and bytes(e[ICMP].payload) == b"e" * 1200, "echo whole"
    assert (e.src, e[ICMP].id) == r.external_of(f"{A}:77")
    h = reassembled(r.out_inside, 0x7003)
    assert h.dst == STATIC_IN and h[UDP].dport == 7000 and udp_cksum_ok(h), h.summary()
    assert (h.src, h[UDP].sport) == r.external_of(f"{A}:4101"), "hairpinned from A's external endpoint"
    assert all(i_mac_ok(f) for f in r.out_inside)
    return r, {"pkt_out_translated": 3, "pkt_hairpinned": 1, "pkt_fragments_translated": 6,
               "pkt_sessions_created": 3}


def case_fragment_without_its_first_is_dropped(work):
    # Later fragments whose first fragment never comes are held, then dropped and counted.
    # One side holds at most 32 a worker: the 33rd pushes the oldest out.
    pkts = []
    for i in range(33):
        dgram = IP(src=A, dst=REMOTE, id=0x3000 + i) / UDP(sport=4002, dport=53) / Raw(b"z" * 600)
        pkts.append(inside(fragment(dgram, fragsize=480)[1]))

    def after(run):
        time.sleep(2.5)  # the hold time is 2 s

    r = Run("fragto", work, conf(), pkts, [], after=after)
    assert r.out_outside == [] and r.out_inside == []
    return r, {"pkt_fragments_held": 33, "drop_FRAGMENTS_FULL": 1, "drop_FRAGMENT": 32,
               "pkt_fragments_translated": 0}


def case_fragments_that_cannot_be_ours_are_not_held(work):
    # Only fragments that could be ours wait for their first one: from outside, to an address
    # outside the pool, dropped at once (NO_MAPPING). A first fragment the steps drop (here 8
    # octets of TCP, too short for its header: RFC 1858's tiny fragment) takes its later
    # fragments with it, before or after it arrives.
    tcp = bytes(TCP(sport=1234, dport=80, flags="S")) + b"x" * 32

    def tiny(ip_id):
        first = inside(IP(src=A, dst=REMOTE, id=ip_id, flags="MF", proto=6) / Raw(tcp[:8]))
        later = inside(IP(src=A, dst=REMOTE, id=ip_id, frag=1, proto=6) / Raw(tcp[8:]))
        return first, later
    f1, l1 = tiny(0x5001)
    f2, l2 = tiny(0x5002)
    stray = outside(IP(src=REMOTE, dst="198.51.100.99", id=0x6001, frag=100, proto=17) / Raw(b"s" * 64))
    r = Run("fragno", work, conf(), [f1, l1, l2, f2], [stray])
    assert r.out_outside == [] and r.out_inside == []
    return r, {"drop_TRUNCATED": 2, "drop_FRAGMENT": 2, "drop_NO_MAPPING": 1, "pkt_fragments_held": 0}


def case_too_big_for_the_outside_link(work):
    # The outside port's mtu is 576. DF clear: the translated datagram leaves in fragments
    # (RFC 791 §3.2) that reassemble to it; DF set: ICMP 3/4 back with the MTU (RFC 1191 §4),
    # nothing out. The reply, 1428 octets, fits the inside port's 1500.
    c = conf(out_port_extra="mtu = 576;")
    big = inside(IP(src=A, dst=REMOTE, id=0x3001, ttl=64) / UDP(sport=4100, dport=53) / Raw(bytes(range(200)) * 7))
    df = inside(IP(src=B, dst=REMOTE, id=0x3002, flags="DF", ttl=64) / UDP(sport=4101, dport=53) / Raw(b"d" * 1000))
    learn = Run("mtu", work, c, [big], [])
    ext, port = learn.external_of(f"{A}:4100")
    reply = outside(IP(src=REMOTE, dst=ext, id=0x3003, flags="DF") / UDP(sport=53, dport=port) / Raw(b"r" * 1400))
    r = Run("mtu", work, c, [big, df], [reply])
    frags = r.out_outside
    assert [len(f[IP]) for f in frags] == [572, 572, 324], [len(f[IP]) for f in frags]
    assert [f[IP].frag for f in frags] == [0, 69, 138] and [f[IP].flags.MF for f in frags] == [1, 1, 0]
    assert all(f[IP].id == 0x3001 and f[IP].src == ext and f[IP].ttl == 63 and ip_cksum_ok(f) for f in frags)
    d = reassembled(frags, 0x3001)
    assert d[UDP].sport == port and udp_cksum_ok(d) and bytes(d[UDP].payload) == bytes(range(200)) * 7, d.summary()
    errs = [p for p in r.out_inside if ICMP in p]
    assert len(errs) == 1 and (errs[0][ICMP].type, errs[0][ICMP].code, errs[0][ICMP].nexthopmtu) == (3, 4, 576)
    assert errs[0][IP].dst == B and errs[0][IPerror].id == 0x3002 and cksums_ok(errs[0])
    back = [p for p in r.out_inside if UDP in p and ICMP not in p]
    assert len(back) == 1 and back[0][IP].dst == A and back[0][UDP].dport == 4100 and cksums_ok(back[0])
    assert (r.stats["port0_mtu"], r.stats["port1_mtu"]) == (1500, 576), "the ports' MTUs in telemetry"
    return r, {"pkt_fragmented": 1, "pkt_fragments_made": 3, "drop_TOO_BIG": 1, "pkt_icmp_sent": 1,
               "pkt_out_translated": 1, "pkt_in_translated": 1}


def case_bad_checksum_and_truncated(work):
    bad = inside(IP(src=A, dst=REMOTE, chksum=0x1234) / UDP(sport=1, dport=2))
    trunc = Ether(raw(inside(IP(src=A, dst=REMOTE, len=40) / UDP(sport=1, dport=2)))[:14 + 20 + 4])
    proto = inside(IP(src=A, dst=REMOTE, proto=47) / Raw(b"gre"))
    gre_frag = inside(IP(src=A, dst=REMOTE, proto=47, frag=64) / Raw(b"gre, later fragment"))
    r = Run("bad", work, conf(), [bad, trunc, proto, gre_frag], [])
    assert r.out_outside == [] and r.out_inside == []
    return r, {"drop_BAD_CHECKSUM": 1, "drop_TRUNCATED": 1, "drop_UNSUPPORTED_PROTO": 2}


def endpoint_dependent(work, mode, allowed_src, denied_src):
    out_pkt = inside(IP(src=A, dst=REMOTE) / UDP(sport=1234, dport=53) / Raw(b"q"))
    learn = Run(mode[:4], work, conf(filtering=mode), [out_pkt], [])
    ext, port = learn.external_of(f"{A}:1234")
    ins = [outside(IP(src=a, dst=ext) / UDP(sport=sp, dport=port) / Raw(tag)) for (a, sp), tag in
           ((allowed_src, b"allowed"), (denied_src, b"denied"))]
    r = Run(mode[:4], work, conf(filtering=mode), [out_pkt], ins)
    assert [raw(p[UDP].payload) for p in r.out_inside] == [b"allowed"], r.out_inside
    return r, {"drop_FILTERED": 1, "pkt_in_translated": 1}


def case_address_dependent_filtering(work):
    # RFC 4787 §5: the address the inside sent to may answer from any port; another may not.
    return endpoint_dependent(work, "address-dependent", (REMOTE, 9999), (REMOTE2, 53))


def case_address_and_port_dependent_filtering(work):
    # ... and with port dependence only the exact address and port.
    return endpoint_dependent(work, "address-and-port-dependent", (REMOTE, 53), (REMOTE, 9999))


def case_pcp_map_adopts_an_implicit_mapping(work):
    # RFC 6887 §11.3 item 4: traffic made the mapping; a MAP for it returns its endpoint.
    p = inside(IP(src=A, dst=REMOTE) / UDP(sport=4444, dport=53))
    state = {}

    def pcp_map(run):
        subprocess.run(["ip", "addr", "replace", A + "/32", "dev", "lo"], check=True)
        out = subprocess.run([PCPC, "-b", A, "--irt", "0.3", "-p", "udp", "-i", "4444", "-l", "3600", "map"],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stdout + out.stderr
        state["pcp"] = [l for l in out.stdout.splitlines() if l.startswith("external: ")][0].split(" ")[1]

    r = Run("adopt", work, conf(), [p], [], after=pcp_map)
    sent = r.out_outside[0]
    assert state["pcp"] == f"{sent[IP].src}:{sent[UDP].sport}", (state, sent.summary())
    flags = [m["flags"] for page in r.mappings for k, m in page.items()
             if k.startswith("mapping_") and m["internal"] == f"{A}:4444"]
    assert flags == ["EXPLICIT"], flags
    return r, {"pkt_sessions_created": 1, "table_replaces": 1}


def case_arp_and_echo_for_the_cgn(work):
    # The CGN answers ARP for its own addresses (and on the outside for its pool) and pings
    # to its own addresses; nothing else addressed to it.
    bcast = "ff:ff:ff:ff:ff:ff"
    ins = [Ether(src=SUB_MAC, dst=bcast) / ARP(op=1, hwsrc=SUB_MAC, psrc=A, pdst="100.64.0.254"),
           Ether(src=SUB_MAC, dst=bcast) / ARP(op=1, hwsrc=SUB_MAC, psrc=A, pdst="100.64.0.99"),
           inside(IP(src=A, dst="100.64.0.254") / ICMP(type=8, id=1, seq=1) / Raw(b"ping"))]
    outs = [Ether(src=ROUTER_MAC, dst=bcast) / ARP(op=1, hwsrc=ROUTER_MAC, psrc="198.51.100.254", pdst="203.0.113.1"),
            Ether(src=ROUTER_MAC, dst=bcast) / ARP(op=1, hwsrc=ROUTER_MAC, psrc="198.51.100.254", pdst="198.51.100.1"),
            outside(IP(src=REMOTE, dst="198.51.100.1") / ICMP(type=8, id=2, seq=1)),
            outside(IP(src=REMOTE, dst="198.51.100.1") / UDP(sport=1, dport=5351))]
    r = Run("local", work, conf(), ins, outs)
    arp_in = [p for p in r.out_inside if ARP in p]
    assert len(arp_in) == 1 and arp_in[0][ARP].op == 2 and arp_in[0][ARP].psrc == "100.64.0.254"
    assert arp_in[0][ARP].pdst == A and arp_in[0][ARP].hwdst == SUB_MAC and arp_in[0][Ether].dst == SUB_MAC
    echo_in = [p for p in r.out_inside if ICMP in p]
    assert len(echo_in) == 1 and echo_in[0][ICMP].type == 0 and echo_in[0][IP].src == "100.64.0.254"
    assert echo_in[0][IP].dst == A and cksums_ok(echo_in[0])
    arp_out = sorted(p[ARP].psrc for p in r.out_outside if ARP in p)
    assert arp_out == ["198.51.100.1", "203.0.113.1"], arp_out
    echo_out = [p for p in r.out_outside if ICMP in p]
    assert len(echo_out) == 1 and echo_out[0][IP].src == "198.51.100.1" and cksums_ok(echo_out[0])
    return r, {"pkt_arp_replies": 3, "pkt_echo_replies": 2, "drop_ARP_NOT_OURS": 1, "drop_LOCAL": 1}


def case_pcp_delete_waits_for_outbound_traffic(work):
    # RFC 6887 §15: a request may not make a mapping expire sooner than outbound traffic
    # would keep it: a delete right after traffic gets the remaining idle time, not 0.
    nonce = "00112233445566778899aabb"
    state = {}

    def before(run):
        subprocess.run(["ip", "addr", "replace", A + "/32", "dev", "lo"], check=True)
        rc, out = pcpc("-b", A, "-n", nonce, "-p", "udp", "-i", "4000", "-e", "41000", "-f", "map")
        assert rc == 0, out

    def after(run):
        rc, out = pcpc("-b", A, "-n", nonce, "-p", "udp", "-i", "4000", "-d", "map")
        assert rc == 0, out
        state["lifetime"] = int([l for l in out.splitlines() if l.startswith("lifetime: ")][0].split()[1])

    p = inside(IP(src=A, dst=REMOTE) / UDP(sport=4000, dport=53))
    r = Run("del", work, conf(rx_delay=1500), [p], [], before=before, after=after)
    assert r.out_outside[0][UDP].sport == 41000, "the traffic used the PCP mapping"
    assert 290 <= state["lifetime"] <= 300, f"lifetime {state['lifetime']}: the UDP idle timeout left"
    still = [m for page in r.mappings for k, m in page.items() if k.startswith("mapping_") and m["internal"] == f"{A}:4000"]
    assert len(still) == 1, "the mapping stays until traffic stops"
    return r, {"pkt_out_translated": 1, "pkt_sessions_created": 0}


def case_pcp_mapping_survives_fin_and_rst(work):
    # RFC 6887 §15.1: "An inbound mapping ... MUST NOT have its lifetime reduced by transport
    # protocol messages (e.g., TCP RST, TCP FIN)"; the workers' sweep leaves it alone.
    def before(run):
        subprocess.run(["ip", "addr", "replace", A + "/32", "dev", "lo"], check=True)
        rc, out = pcpc("-b", A, "-p", "tcp", "-i", "22", "-l", "600", "-e", "42022", "-f", "map")
        assert rc == 0, out

    pkts = [inside(IP(src=A, dst=REMOTE) / TCP(sport=22, dport=5555, flags=f)) for f in ("FA", "R")]
    r = Run("finrst", work, conf(rx_delay=1500), pkts, [], before=before)
    assert [p[TCP].sport for p in r.out_outside] == [42022, 42022]
    flags = [m["flags"] for page in r.mappings for k, m in page.items()
             if k.startswith("mapping_") and m["internal"] == f"{A}:22"]
    assert flags == ["EXPLICIT,PREFER_FAILURE"], flags
    return r, {"pkt_out_translated": 2}


def case_peer_session_ends_on_fin(work):
    # RFC 6887 §12.3: "A PEER-created or PEER-managed mapping may be terminated at any time by
    # action of the TCP client or server (e.g., due to TCP FIN or TCP RST), as per the NAT or
    # firewall device's existing policy." Ours: a FIN or RST the internal host sends to the
    # session's remote peer ends that session, not the others of the mapping; one from
    # outside (anyone can send it) ends nothing. The mapping lives on as an implicit one
    # would. A PEER request after the FIN starts a session the old FIN does not end.
    nonce = "0123456789abcdef01234567"

    def peer(port, ext, remote):
        return ["-b", A, "-n", nonce, "-p", "tcp", "-i", str(port), "-e", str(ext), "-r", remote + ":5555",
                "-l", "600", "peer"]
    seen = {}

    def before(run):
        subprocess.run(["ip", "addr", "replace", A + "/32", "dev", "lo"], check=True)
        for args in (peer(4001, 43001, REMOTE), peer(4001, 43001, REMOTE2), peer(4002, 43002, REMOTE2)):
            rc, out = pcpc(*args)
            assert rc == 0, out

    def wait_closed(run, closed, deadline_s=10):
        for _ in range(int(deadline_s / 0.2)):
            st = run.ctl("-j", "stats")
            if st["pcp_sessions_closed"] >= closed:
                return st
            time.sleep(0.2)
        return st

    def after(run):
        seen["closed"] = wait_closed(run, 1)
        seen["mappings"] = run.ctl("-j", "mappings", "-a")
        rc, out = pcpc(*peer(4001, 43001, REMOTE))   # a new session, made after the FIN
        assert rc == 0, out
        time.sleep(6)              # more than a whole sweep of the sessions (5 s)
        seen["later"] = run.ctl("-j", "stats")

    learn = Run("peerfin", work, conf(rx_delay=1500), [], [], before=before)
    ext, _ = learn.external_of(f"{A}:4002")
    pkts = [inside(IP(src=A, dst=REMOTE) / TCP(sport=4001, dport=5555, flags=f)) for f in ("S", "FA")]
    rst = outside(IP(src=REMOTE2, dst=ext) / TCP(sport=5555, dport=43002, flags="R"))
    r = Run("peerfin", work, conf(rx_delay=1500), pkts, [rst], before=before, after=after)
    assert [p[TCP].sport for p in r.out_outside] == [43001, 43001], "the traffic used the PEER mapping"
    assert len(r.out_inside) == 1 and r.out_inside[0][TCP].flags == "R", "the RST went in"
    c = seen["closed"]
    assert c["pcp_sessions_closed"] == 1 and c["pcp_sessions"] == 2 and c["pcp_sessions_expired"] == 0, c
    m = {v["internal"]: v for page in seen["mappings"] for k, v in page.items() if k.startswith("mapping_")}
    assert m[f"{A}:4001"]["tcp_state"] == "closing" and "PEER" in m[f"{A}:4001"]["flags"], m
    assert m[f"{A}:4002"]["tcp_state"] == "-", "an RST from outside changes nothing on a PEER mapping"
    n = seen["later"]
    assert n["pcp_sessions"] == 3 and n["pcp_sessions_closed"] == 1 and n["pcp_sessions_created"] == 4, n
    return r, {"pkt_out_translated": 2, "pkt_in_translated": 1, "pkt_sessions_created": 0}


def case_peer_session_on_a_map_mapping_ends_on_fin(work):
    # RFC 6887 §12.3 on a mapping MAP made: the PEER session joins it (one mapping an internal
    # endpoint) and ends on its host's FIN like any PEER session, while the mapping keeps the
    # lifetime MAP gave it and its untouched TCP state (§15.1: not reduced by TCP FIN or RST).
    seen = {}

    map_nonce = "00112233445566778899aabb"

    def before(run):
        subprocess.run(["ip", "addr", "replace", A + "/32", "dev", "lo"], check=True)
        rc, out = pcpc("-b", A, "-n", map_nonce, "-p", "tcp", "-i", "22", "-l", "600", "-e", "42022", "map")
        assert rc == 0, out
        rc, out = pcpc("-b", A, "-n", "0123456789abcdef01234567", "-p", "tcp", "-i", "22", "-e", "42022",
                       "-r", REMOTE + ":5555", "-l", "600", "peer")
        assert rc == 0, out

    def after(run):
        for _ in range(50):  # the session sweep runs every few seconds
            seen["stats"] = run.ctl("-j", "stats")
            if seen["stats"]["pcp_sessions_closed"] >= 1:
                break
            time.sleep(0.2)
        time.sleep(0.2)  # the worker applies the REPLACE that ends PEER management
        seen["mappings"] = run.ctl("-j", "mappings", "-a")
        # Deleted now, the mapping lives on by the outbound idle rule (§15). The close recorded
        # for the session does not make that the transitory timeout: a MAP mapping's TCP
        # state is not tracked (§15.1), so it is the established one.
        rc, out = pcpc("-b", A, "-n", map_nonce, "-p", "tcp", "-i", "22", "-d", "map")
        assert rc == 0, out
        seen["lifetime"] = int([l for l in out.splitlines() if l.startswith("lifetime: ")][0].split()[1])

    pkts = [inside(IP(src=A, dst=REMOTE) / TCP(sport=22, dport=5555, flags=f)) for f in ("S", "FA")]
    r = Run("mappeer", work, conf(rx_delay=1500), pkts, [], before=before, after=after)
    assert [p[TCP].sport for p in r.out_outside] == [42022, 42022], "the traffic used the MAP mapping"
    st = seen["stats"]
    assert st["pcp_sessions_closed"] == 1 and st["pcp_sessions"] == 0, st
    m = {v["internal"]: v for page in seen["mappings"] for k, v in page.items() if k.startswith("mapping_")}
    mine = m[f"{A}:22"]
    assert mine["flags"] == "EXPLICIT", f"PEER-managed only while the session lasted: {mine}"
    assert mine["tcp_state"] == "-", "the MAP mapping's TCP state is not touched"
    assert mine["expires_in_s"] > 500, f"MAP's lifetime kept: {mine}"
    assert 7400 <= seen["lifetime"] <= 7440, f"delete: {seen['lifetime']} s left, not nat.timeouts.tcp_established"
    # Two REPLACEs: the session joining (PEER-managed from then on) and leaving.
    return r, {"pkt_out_translated": 2, "pkt_sessions_created": 0, "table_replaces": 2}


def case_announce_out_of_the_inside_port(work):
    # RFC 6887 §14.1.3: at start the server multicasts ANNOUNCE to 224.0.0.1:5350 where its
    # clients are: out of the inside DPDK port, from the port's address, TTL 1, to the group's
    # MAC (RFC 1112 §6.4); never out of the outside port.
    c = conf().replace("announce = { multicast = false; }", "announce = { multicast = true; }")
    assert c != conf()
    r = Run("announce", work, c, [], [])
    assert len(r.out_outside) == 0, r.out_outside
    assert 1 <= len(r.out_inside) <= 10, len(r.out_inside)   # 0, 250, 750 ms... (§14.1.3)
    for p in r.out_inside:
        assert p[Ether].dst == "01:00:5e:00:00:01" and p[IP].src == "100.64.0.254" and p[IP].dst == "224.0.0.1"
        assert p[IP].ttl == 1 and p[UDP].sport == 5351 and p[UDP].dport == 5350 and cksums_ok(p)
        msg = raw(p[UDP].payload)
        assert len(msg) == 24 and msg[0] == 2 and msg[1] == 0x80 and msg[3] == 0, msg.hex()  # ANNOUNCE, SUCCESS
    # How many were sent depends on how long the run lasted: compare the first only.
    wrpcap(r.paths["out_inside"], r.out_inside[:1])
    return r, {"pkt_rx": 0, "punt_tx_failed": 0}


def case_next_hop_resolved_by_arp(work):
    # A port with next_hop instead of peer_mac: cgnatd broadcasts an ARP request for it from
    # the port's address (RFC 826); until an answer comes, what would leave by that port is
    # dropped and counted (NO_NEIGHBOUR); the answer is learned, not forwarded.
    c = conf().replace('peer_mac = "%s"; address = "198.51.100.1";' % ROUTER_MAC,
                       'address = "198.51.100.1"; next_hop = "198.51.100.254";')
    assert c != conf()
    out_pkt = inside(IP(src=A, dst=REMOTE) / UDP(sport=1234, dport=53) / Raw(b"query"))
    reply = Ether(src=ROUTER_MAC, dst=NAT_OUT_MAC) / ARP(op=2, hwsrc=ROUTER_MAC, psrc="198.51.100.254",
                                                         hwdst=NAT_OUT_MAC, pdst="198.51.100.1")
    r = Run("nexthop", work, c, [out_pkt], [reply])
    reqs = [p for p in r.out_outside if ARP in p]
    assert reqs and len(reqs) == len(r.out_outside), [p.summary() for p in r.out_outside]
    q = reqs[0]
    assert q[Ether].dst == "ff:ff:ff:ff:ff:ff" and q[ARP].op == 1 and q[ARP].psrc == "198.51.100.1"
    assert q[ARP].pdst == "198.51.100.254" and q[ARP].hwsrc == q[Ether].src
    assert r.stats["nh_resolved_now"] == 1 and r.stats["nh_arp_requests"] >= 1
    # One request a second until answered: how many depends on the run's length.
    wrpcap(r.paths["out_outside"], reqs[:1])
    return r, {"drop_NO_NEIGHBOUR": 1, "pkt_arp_learned": 1, "pkt_out_translated": 1}


def case_next_hop_forgotten_when_silent(work):
    # The next hop answers once, then falls silent: after arp.reachable_ms it is stale and
    # asked for arp.probes times, arp.retry_ms apart; unanswered, its MAC is forgotten and
    # cgnatd asks on, once every retry_ms (docs/operations.md, neighbours).
    c = conf().replace('peer_mac = "%s"; address = "198.51.100.1";' % ROUTER_MAC,
                       'address = "198.51.100.1"; next_hop = "198.51.100.254";')
    c += "arp = { reachable_ms = 300; retry_ms = 100; probes = 2; };\n"
    reply = Ether(src=ROUTER_MAC, dst=NAT_OUT_MAC) / ARP(op=2, hwsrc=ROUTER_MAC, psrc="198.51.100.254",
                                                         hwdst=NAT_OUT_MAC, pdst="198.51.100.1")
    seen = {}

    def after(run):
        seen["before"] = run.ctl("-j", "stats")
        time.sleep(1.5)   # > 300 ms reachable + 2 probes x 100 ms, with the 5 ms poll's slack
        seen["table"] = run.ctl("-j", "neighbours")
    r = Run("forget", work, c, [], [reply], after=after)
    assert r.stats["nh_expired"] == 1, r.stats["nh_expired"]
    assert r.stats["nh_resolved_now"] == 0
    # Asked for again and again after forgetting it: more requests than before the silence.
    assert r.stats["nh_arp_requests"] >= seen["before"]["nh_arp_requests"] + 2 + 5
    rows = [v for page in seen["table"] for k, v in page.items() if k.startswith("neighbour_")]
    assert [(n["address"], n["kind"], n["state"]) for n in rows] == [("198.51.100.254", "gateway", "incomplete")], rows
    reqs = [p for p in r.out_outside if ARP in p]
    assert len(reqs) == len(r.out_outside) and all(q[ARP].pdst == "198.51.100.254" for q in reqs)
    wrpcap(r.paths["out_outside"], reqs[:1])   # how many depends on the run's length
    return r, {"pkt_arp_learned": 1, "nh_learned": 0}


def case_routes_and_static_neighbours(work):
    # Longest match per side (rte_lpm): 100.64.0.5/32 (the static mapping's subscriber) via
    # 100.64.0.9, the rest of the inside on the port's peer_mac; the outside's default via
    # 198.51.100.9. Both gateways are static neighbours: no ARP at all.
    gw_in, gw_out = "02:00:00:00:09:09", "02:00:00:00:99:99"
    c = conf() + (
        'routes = ( { prefix = "100.64.0.5/32"; port = "net_pcap0"; via = "100.64.0.9"; },\n'
        '           { prefix = "0.0.0.0/0"; port = "net_pcap1"; via = "198.51.100.9"; } );\n'
        'neighbours = ( { address = "100.64.0.9"; mac = "%s"; port = "net_pcap0"; },\n'
        '               { address = "198.51.100.9"; mac = "%s"; port = "net_pcap1"; } );\n' % (gw_in, gw_out))
    to_static = outside(IP(src=REMOTE, dst=STATIC_EXT) / UDP(sport=999, dport=7000) / Raw(b"to the server"))
    out_pkt = inside(IP(src=A, dst=REMOTE) / UDP(sport=1234, dport=53) / Raw(b"query"))
    tables = {}
    r = Run("routes", work, c, [out_pkt], [to_static],
            after=lambda run: tables.update(routes=run.ctl("-j", "routes"), neigh=run.ctl("-j", "neighbours")))
    assert len(r.out_inside) == 1 and len(r.out_outside) == 1, (r.out_inside, r.out_outside)
    i, o = r.out_inside[0], r.out_outside[0]
    assert i[Ether].dst == gw_in and i[IP].dst == STATIC_IN and cksums_ok(i)
    assert o[Ether].dst == gw_out and o[IP].dst == REMOTE and in_pool(o[IP].src) and cksums_ok(o)
    assert not any(ARP in p for p in r.out_inside + r.out_outside)
    routes = [v for page in tables["routes"] for k, v in page.items() if k.startswith("route_")]
    assert [(x["prefix"], x["table"], x["via"]) for x in routes] == [
        ("100.64.0.5/32", "inside", "100.64.0.9"), ("0.0.0.0/0", "outside", "198.51.100.9")], routes
    neigh = [v for page in tables["neigh"] for k, v in page.items() if k.startswith("neighbour_")]
    assert sorted((n["address"], n["kind"], n["state"], n["mac"]) for n in neigh) == [
        ("100.64.0.9", "static", "permanent", gw_in), ("198.51.100.9", "static", "permanent", gw_out)], neigh
    return r, {"pkt_in_translated": 1, "pkt_out_translated": 1, "nh_arp_requests": 0, "drop_NO_NEIGHBOUR": 0}


def case_unicast_announce_to_an_inside_client(work):
    # §14.1.3 ANNOUNCE to a configured client inside (pcp.inside) leaves by the inside DPDK
    # port, to its next hop, from the port's address and 5351 to the client's 5350.
    c = conf().replace("announce = { multicast = false; }",
                       'announce = { multicast = false; clients = [ "%s:5350" ]; }' % A)
    assert c != conf()
    r = Run("ucast", work, c, [], [])
    assert len(r.out_outside) == 0, r.out_outside
    assert 1 <= len(r.out_inside) <= 10, len(r.out_inside)
    for p in r.out_inside:
        assert p[Ether].dst == SUB_MAC and p[IP].src == "100.64.0.254" and p[IP].dst == A and p[IP].ttl == 64
        assert p[UDP].sport == 5351 and p[UDP].dport == 5350 and cksums_ok(p)
        msg = raw(p[UDP].payload)
        assert len(msg) == 24 and msg[0] == 2 and msg[1] == 0x80 and msg[3] == 0, msg.hex()
    wrpcap(r.paths["out_inside"], r.out_inside[:1])   # how many depends on the run's length
    return r, {"pkt_rx": 0, "punt_tx_failed": 0}


def pcp_map_request(client, nonce, proto, int_port, lifetime):
    """RFC 6887 §7.1 request header + §11.1 MAP opcode, built here independently of pcp_wire.c."""
    mapped = bytes(10) + b"\xff\xff" + bytes(int(x) for x in client.split("."))
    return (bytes([2, 1, 0, 0]) + lifetime.to_bytes(4, "big") + mapped + nonce + bytes([proto, 0, 0, 0])
            + int_port.to_bytes(2, "big") + bytes(2) + bytes(16))


def case_pcp_map_through_the_inside_port(work):
    # PCP to the inside port's address is served by the data plane's port (no kernel socket):
    # the answer comes back from 100.64.0.254:5351 to the requester (RFC 6887 §8.3), the
    # server sees the packet's real source (a lying client IP gets ADDRESS_MISMATCH, §8.1),
    # and PCP from the outside is not served.
    nonce = bytes(range(1, 13))
    good = inside(IP(src=A, dst="100.64.0.254") / UDP(sport=40001, dport=5351)
                  / Raw(pcp_map_request(A, nonce, 17, 6000, 3600)))
    liar = inside(IP(src=A, dst="100.64.0.254") / UDP(sport=40002, dport=5351)
                  / Raw(pcp_map_request(B, nonce, 17, 6001, 3600)))
    from_outside = outside(IP(src=REMOTE, dst="198.51.100.1") / UDP(sport=40003, dport=5351)
                           / Raw(pcp_map_request(REMOTE, nonce, 17, 6002, 3600)))
    r = Run("punt", work, conf(), [good, liar], [from_outside])
    assert len(r.out_outside) == 0, r.out_outside
    answers = {p[UDP].dport: p for p in r.out_inside}
    assert sorted(answers) == [40001, 40002], [p.summary() for p in r.out_inside]
    for p in answers.values():
        assert p[Ether].dst == SUB_MAC and cksums_ok(p)
        assert p[IP].src == "100.64.0.254" and p[IP].dst == A and p[UDP].sport == 5351
    ok = raw(answers[40001][UDP].payload)
    assert len(ok) == 60 and ok[0] == 2 and ok[1] == 0x81 and ok[3] == 0, ok.hex()   # SUCCESS
    assert int.from_bytes(ok[4:8], "big") > 0 and ok[24:36] == nonce and ok[36] == 17
    assert int.from_bytes(ok[40:42], "big") == 6000
    ext_port, ext = int.from_bytes(ok[42:44], "big"), ".".join(str(b) for b in ok[56:60])
    assert ok[44:56] == bytes(10) + b"\xff\xff" and in_pool(ext), ok.hex()
    assert r.external_of(f"{A}:6000") == (ext, ext_port)
    bad = raw(answers[40002][UDP].payload)
    assert bad[1] == 0x81 and bad[3] == 12, bad.hex()   # ADDRESS_MISMATCH
    # Not compared byte for byte (checked above instead): the epoch (§8.5: seconds since the
    # server started, 0 or 1), the external port (the server picks it at random, RFC 6056),
    # and so the UDP checksum.
    r.masks = {"out_inside": [(40, 42), (50, 54), (84, 86)]}
    return r, {"pkt_punted": 2, "punt_answered": 2, "drop_LOCAL": 1, "pcp_mappings_created": 1}


def case_pcp_port_set_translates_every_port(work):
    # RFC 7753 §4.2: a PCP MAP with PORT_SET maps a set of consecutive ports; the data plane
    # holds one entry per port (docs/performance.md). Inbound traffic to every external port of
    # the set reaches its internal port (external first + k -> internal first + k), and traffic
    # to the ports just outside the set reaches nothing. The set's first external port is
    # suggested (§4: "the Suggested External Port Set"), so both runs get the same ones.
    host, first_in, n, first_ext = "100.64.0.7", 5000, 8, 40000
    nonce = "00112233445566778899aabb"
    state = {}

    def pcp_map(run):
        subprocess.run(["ip", "addr", "replace", host + "/32", "dev", "lo"], check=True)
        rc, out = pcpc("-b", host, "-n", nonce, "-p", "udp", "-i", str(first_in), "-e", str(first_ext),
                       "-l", "3600", "--port-set", str(n), "map")
        assert rc == 0, out
        assert f"option: PORT_SET size {n} first_internal_port {first_in} parity 0" in out, out
        ext = [l for l in out.splitlines() if l.startswith("external: ")][0].split(" ")[1]
        state["ext"], state["port"] = ext.rsplit(":", 1)

    Run("portset", work, conf(rx_delay=1500), [], [], before=pcp_map)
    ext, port = state["ext"], int(state["port"])
    assert port == first_ext and in_pool(ext), (ext, port)
    ports = [first_ext - 1] + [first_ext + k for k in range(n)] + [first_ext + n]
    pkts = [outside(IP(src=REMOTE, dst=ext) / UDP(sport=53, dport=p) / Raw(b"to %d" % p)) for p in ports]
    r = Run("portset", work, conf(rx_delay=1500), [], pkts, before=pcp_map)
    assert r.out_outside == []
    assert len(r.out_inside) == n, [p.summary() for p in r.out_inside]
    for k, i in enumerate(r.out_inside):
        assert i[IP].dst == host and i[UDP].dport == first_in + k and i[IP].src == REMOTE, i.summary()
        assert raw(i[UDP].payload) == b"to %d" % (first_ext + k) and cksums_ok(i) and i_mac_ok(i)
    row = r.mapping_of(f"{host}:{first_in}-{first_in + n - 1}")
    assert row["external"] == f"{ext}:{first_ext}-{first_ext + n - 1}" and row["set_size"] == n, row
    return r, {"pkt_in_translated": n, "drop_NO_MAPPING": 2, "pcp_mappings_created": 1, "pcp_port_sets_created": 1}
