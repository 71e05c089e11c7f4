#!/usr/bin/python3
"""Writes the seed corpus of fuzz_nat44 (seeds/nat44/*.bin): [side octet][Ethernet frame],
one frame of each kind the steps handle. Generated, small, checked in; rerun to refresh:
    /usr/bin/python3 tests/fuzz/make_nat44_seeds.py
"""
import os

from scapy.all import ARP, Ether, IP, UDP, TCP, ICMP, raw

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "nat44")
E = Ether(src="02:00:00:00:01:01", dst="02:00:00:00:00:01")
SEEDS = {
    "udp_out": b"\0" + raw(E / IP(src="100.64.0.1", dst="198.51.100.1") / UDP(sport=1234, dport=53) / b"q"),
    "tcp_out": b"\0" + raw(E / IP(src="100.64.0.1", dst="198.51.100.1") / TCP(sport=4000, dport=80, flags="S")),
    "icmp_out": b"\0" + raw(E / IP(src="100.64.0.1", dst="198.51.100.1") / ICMP(type=8, id=9)),
    "udp_in": b"\1" + raw(E / IP(src="198.51.100.1", dst="203.0.113.1") / UDP(sport=53, dport=1100) / b"a"),
    "icmp_err_in": b"\1" + raw(E / IP(src="198.51.100.1", dst="203.0.113.1") / ICMP(type=3, code=3)
                               / raw(IP(src="203.0.113.1", dst="198.51.100.1") / UDP(sport=1100, dport=53))[:28]),
    "ttl1": b"\0" + raw(E / IP(src="100.64.0.1", dst="198.51.100.1", ttl=1) / UDP(sport=5, dport=6)),
    "hairpin": b"\0" + raw(E / IP(src="100.64.0.2", dst="203.0.113.1") / UDP(sport=7, dport=1100)),
    # For the CGN itself (tests/lib/dp_env.c gives the ports 100.64.0.254 and 198.51.100.254).
    "arp_in": b"\0" + raw(Ether(src="02:00:00:00:01:01", dst="ff:ff:ff:ff:ff:ff")
                          / ARP(op=1, psrc="100.64.0.1", pdst="100.64.0.254")),
    "arp_pool": b"\1" + raw(Ether(src="02:00:00:00:02:02", dst="ff:ff:ff:ff:ff:ff")
                            / ARP(op=1, psrc="198.51.100.1", pdst="203.0.113.1")),
    "echo_cgn": b"\0" + raw(E / IP(src="100.64.0.1", dst="100.64.0.254") / ICMP(type=8, id=3)),
    "pcp_punt": b"\0" + raw(E / IP(src="100.64.0.1", dst="100.64.0.254") / UDP(sport=5350, dport=5351)
                            / (bytes([2, 1, 0, 0, 0, 0, 14, 16]) + bytes(10) + b"\xff\xff" + bytes([100, 64, 0, 1])
                               + bytes(12) + bytes([17, 0, 0, 0, 0x1f, 0x90, 0, 0]) + bytes(16))),
}
os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(data)
print(f"wrote {len(SEEDS)} seeds to {OUT}")
