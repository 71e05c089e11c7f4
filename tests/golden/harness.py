"""The golden tests' bench and harness, shared by every group of cases (nat44.py, ipv6.py; a
nat64 group slots in beside them, each a module of its own with its own base config).

What it owns, for all groups alike:
  - the bench's wiring: cgnatd on two net_pcap vdevs, net_pcap0 the inside port (its peer the
    subscriber side, SUB_MAC) and net_pcap1 the outside port (its peer the router, ROUTER_MAC),
    one pcap in and one out each; frames onto either side (inside(), outside());
  - Run: one cgnatd on those pcaps with a group's config, its counters and mappings read by
    cgnatctl before it stops;
  - the tools (CGNATD, CGNATCTL, PCPC from the environment, pcpc());
  - checks independent of a group's addresses: checksums recomputed by scapy (IPv4) or from
    the pseudo-header here (IPv6), pcaps compared byte for byte but for the ranges a case masks.
The runner (golden.py) finds the groups' cases and compares their outputs with
tests/golden/cases/<group>/<case>/.
"""
import json
import os
import signal
import subprocess
import time
from socket import AF_INET6, inet_pton

from scapy.all import Ether, IP, IPv6, UDP, TCP, ICMP, rdpcap, wrpcap, raw

CGNATD, CGNATCTL, PCPC = os.environ["CGNATD"], os.environ["CGNATCTL"], os.environ["PCPC"]

SUB_MAC, NAT_IN_MAC, NAT_OUT_MAC, ROUTER_MAC = "02:00:00:00:01:01", "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:02:02"


def inside(pkt):
    return Ether(src=SUB_MAC, dst=NAT_IN_MAC) / pkt


def outside(pkt):
    return Ether(src=ROUTER_MAC, dst=NAT_OUT_MAC) / pkt


def i_mac_ok(pkt):
    """Frames to the inside go to the subscriber's (configured) MAC."""
    return pkt[Ether].dst == SUB_MAC


def cksums_ok(pkt):
    """scapy recomputes every checksum; the packet must already carry those values."""
    ip = pkt[IP]
    fresh = IP(raw(ip.copy()))
    rebuilt = ip.copy()
    del rebuilt.chksum
    for layer in (TCP, UDP, ICMP):
        if layer in rebuilt:
            if layer is UDP and rebuilt[UDP].chksum == 0:
                continue
            del rebuilt[layer].chksum
    # The quoted packet of an ICMP error keeps its own checksums as translated: rebuild
    # only the outer layers.
    rebuilt = IP(raw(rebuilt))
    return raw(fresh) == raw(rebuilt)


def ip_cksum_ok(pkt):
    """The IPv4 header checksum alone (a fragment's transport checksum is the datagram's)."""
    hdr = bytearray(raw(pkt[IP])[:pkt[IP].ihl * 4])
    hdr[10:12] = b"\0\0"
    return _ones_sum(bytes(hdr)) == pkt[IP].chksum


def upper6_cksum_ok(pkt):
    """The upper-layer checksum of an IPv6 packet without extension headers (ICMPv6, UDP, TCP),
    recomputed here from RFC 8200 §8.1's pseudo-header: the octets as sent must sum to 0."""
    ip = pkt[IPv6]
    data = raw(ip)[40:40 + ip.plen]
    pseudo = inet_pton(AF_INET6, ip.src) + inet_pton(AF_INET6, ip.dst) + len(data).to_bytes(4, "big") + bytes(3) + bytes([ip.nh])
    return ip.nh in (6, 17, 58) and _ones_sum(pseudo + data) == 0


def _ones_sum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def pcpc(*args):
    out = subprocess.run([PCPC, "--irt", "0.3"] + list(args), capture_output=True, text=True, timeout=20)
    return out.returncode, out.stdout + out.stderr


class Run:
    """One cgnatd run on two pcaps in, two pcaps out."""

    def __init__(self, case, work, conf, inside_pkts, outside_pkts, before=None, after=None):
        self.work = work
        self.prefix = f"gold{os.getpid()}{case[:6]}"
        p = {k: os.path.join(work, k + ".pcap") for k in ("in_inside", "in_outside", "out_inside", "out_outside")}
        wrpcap(p["in_inside"], inside_pkts or [])
        wrpcap(p["in_outside"], outside_pkts or [])
        for k in ("out_inside", "out_outside"):
            if os.path.exists(p[k]):
                os.unlink(p[k])
        cfile = os.path.join(work, "cgnat.conf")
        with open(cfile, "w") as f:
            f.write(conf)
        cmd = [CGNATD, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--file-prefix", self.prefix,
               "--vdev", f"net_pcap0,rx_pcap={p['in_inside']},tx_pcap={p['out_inside']}",
               "--vdev", f"net_pcap1,rx_pcap={p['in_outside']},tx_pcap={p['out_outside']}",
               "--", "-c", cfile]
        self.log = open(os.path.join(work, "cgnatd.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()
        if before:
            before(self)
        total = len(inside_pkts or []) + len(outside_pkts or [])
        self.stats = self._wait_processed(total)
        if after:
            after(self)
            time.sleep(0.2)  # the workers apply what the control plane pushed
            self.stats = self.ctl("-j", "stats")
        self.mappings = self.ctl("-j", "mappings", "-a")
        worker = self.ctl("-j", "worker", "0")
        assert worker["pkt_rx"] == self.stats["pkt_rx"], "one worker: its counters are the totals"
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.log.close()
        assert rc == 0, f"cgnatd exited {rc}: {open(self.log.name).read()}"
        self.out_inside = list(rdpcap(p["out_inside"])) if os.path.getsize(p["out_inside"]) > 24 else []
        self.out_outside = list(rdpcap(p["out_outside"])) if os.path.getsize(p["out_outside"]) > 24 else []
        self.paths = p

    def ctl(self, *args):
        out = subprocess.run([CGNATCTL, "-p", self.prefix] + list(args), capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def _wait_ready(self):
        for _ in range(300):
            if "cgnatd: ready" in open(self.log.name).read():
                return
            assert self.proc.poll() is None, open(self.log.name).read()
            time.sleep(0.05)
        raise AssertionError("cgnatd did not start: " + open(self.log.name).read())

    def _wait_processed(self, total):
        stats = {}
        for _ in range(200):
            stats = self.ctl("-j", "stats")
            if stats["pkt_rx"] >= total:
                time.sleep(0.2)  # let the last TX buffer flush
                return self.ctl("-j", "stats")
            time.sleep(0.05)
        raise AssertionError(f"cgnatd read {stats.get('pkt_rx')} of {total} packets")

    def mapping_of(self, internal):
        """'100.64.0.1:1234' -> its entry of the shared table (cgnatctl -j mappings -a)."""
        for page in self.mappings:
            for k, m in page.items():
                if k.startswith("mapping_") and m["internal"] == internal:
                    return m
        raise AssertionError(f"no mapping for {internal}: {self.mappings}")

    def external_of(self, internal):
        """'100.64.0.1:1234' -> ('203.0.113.x', port) from the shared table."""
        a, p = self.mapping_of(internal)["external"].rsplit(":", 1)
        return a, int(p)


def idle_expiry_ok(m, timeout_s):
    """An implicit session reports its idle timeout as lifetime_s and the idle time left as
    expires_in_s (seen seconds after its last packet: close to the timeout, never 0)."""
    return (m["flags"] == "IMPLICIT" and m["lifetime_s"] == timeout_s
            and timeout_s - 30 <= m["expires_in_s"] <= timeout_s and m["expires_in_s"] + m["idle_s"] <= timeout_s)


def same_pcap(a, b, masks=()):
    """Byte for byte, but for the (start, end) ranges a case masks (values that vary by run)."""
    def bytes_of(path):
        out = []
        for p in rdpcap(path):
            b = bytearray(raw(p))
            for lo, hi in masks:
                b[lo:hi] = bytes(max(0, min(hi, len(b)) - lo))
            out.append(bytes(b))
        return out
    return bytes_of(a) == bytes_of(b)
