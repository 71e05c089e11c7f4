"""The golden tests' bench and harness, shared by every group of cases (nat44.py, ipv6.py,
nat64.py: each a module of its own with its own base config).

What it owns, for all groups alike:
  - the bench's wiring: cgnatd on two net_pcap vdevs, net_pcap0 the inside port (its peer the
    subscriber side, SUB_MAC) and net_pcap1 the outside port (its peer the router, ROUTER_MAC),
    one pcap in and one out each; frames onto either side (inside(), outside());
  - Run: one cgnatd on those pcaps with a group's config, its counters and mappings read by
    cgnatctl before it stops;
  - the tools (CGNATD, CGNATCTL, PCPC from the environment, pcpc());
  - checks independent of a group's addresses: checksums recomputed by scapy (IPv4) or from
    the pseudo-header here (IPv6); every checksum of a frame, both families, the packet quoted
    by an ICMP error included, recomputed here from scratch (checksum_problems()); pcaps
    compared byte for byte but for the ranges a case masks, and where they differ, how
    (pcap_difference()).
The runner (golden.py) finds the groups' cases and compares their outputs with
tests/golden/cases/<group>/<case>/.
"""
import json
import os
import signal
import subprocess
import time
from socket import AF_INET, AF_INET6, inet_pton

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


# ICMPv4 types that quote a datagram (RFC 792: destination unreachable, source quench, redirect,
# time exceeded, parameter problem); ICMPv6 errors are the types below 128 (RFC 4443 §2.1).
ICMP4_ERRORS = (3, 4, 5, 11, 12)


def checksum_problems(frame):
    """Every checksum of an Ethernet frame recomputed here from scratch (nothing from scapy, no
    field trusted but the lengths), both families: the IPv4 header checksum; TCP and UDP over
    the IPv4 (RFC 768, RFC 793) or IPv6 (RFC 8200 §8.1) pseudo-header; ICMPv4 over its message
    (RFC 792); ICMPv6 over its pseudo-header (RFC 4443 §2.3). IPv6 extension headers (Hop-by-Hop,
    Routing, Destination Options, Fragment) are walked to the upper layer. The packet an ICMP
    error quotes is checked the same way: its IP header when whole, its transport checksum
    when the quote holds its whole datagram (a truncated quote cannot be summed). A fragment's
    transport checksum is its datagram's: not checked. An IPv4 UDP checksum of 0 means "none"
    (RFC 768); an IPv6 one is an error (RFC 8200 §8.1).
    @return the problems found, [] when every checksum is right."""
    b = bytes(raw(frame)) if not isinstance(frame, (bytes, bytearray)) else bytes(frame)
    if len(b) < 14:
        return ["shorter than an Ethernet header"]
    ethertype = int.from_bytes(b[12:14], "big")
    if ethertype == 0x0800:
        return _v4_problems(b[14:], "")
    if ethertype == 0x86DD:
        return _v6_problems(b[14:], "")
    return []


def _v4_problems(ip, where, quoted=False):
    if len(ip) < 20 or ip[0] >> 4 != 4 or len(ip) < (ip[0] & 15) * 4:
        return [] if quoted else [f"{where}IPv4 header truncated"]
    ihl, total, proto = (ip[0] & 15) * 4, int.from_bytes(ip[2:4], "big"), ip[9]
    problems = [] if _ones_sum(ip[:ihl]) == 0 else [f"{where}IPv4 header checksum"]
    if len(ip) < total or int.from_bytes(ip[6:8], "big") & 0x3FFF:
        return problems  # a truncated quote or a fragment: the transport checksum is not ours to sum
    data = ip[ihl:total]
    if proto in (6, 17):
        if proto == 17 and len(data) >= 8 and data[6:8] == b"\0\0":
            return problems  # RFC 768: no checksum
        pseudo = ip[12:20] + bytes([0, proto]) + len(data).to_bytes(2, "big")
        if len(data) < (20 if proto == 6 else 8) or _ones_sum(pseudo + data) != 0:
            problems.append(f"{where}{'TCP' if proto == 6 else 'UDP'} checksum (IPv4 pseudo-header)")
    elif proto == 1:
        if len(data) < 8 or _ones_sum(data) != 0:
            problems.append(f"{where}ICMP checksum")
        elif not quoted and data[0] in ICMP4_ERRORS:
            problems += _v4_problems(data[8:], where + "quoted ", True)
    return problems


def _v6_problems(ip, where, quoted=False):
    if len(ip) < 40 or ip[0] >> 4 != 6:
        return [] if quoted else [f"{where}IPv6 header truncated"]
    plen, nh, off = int.from_bytes(ip[4:6], "big"), ip[6], 40
    if len(ip) < 40 + plen:
        return []  # a truncated quote: its upper-layer checksum cannot be summed
    end = 40 + plen
    for _ in range(16):  # extension headers (RFC 8200 §4), bounded
        if nh in (0, 43, 60) and off + 8 <= end:
            nh, off = ip[off], off + (ip[off + 1] + 1) * 8
        elif nh == 44 and off + 8 <= end:
            if int.from_bytes(ip[off + 2:off + 4], "big") & 0xFFF9:
                return []  # a fragment (offset or M): its datagram's checksum
            nh, off = ip[off], off + 8
        else:
            break
    if nh not in (6, 17, 58):
        return []
    data = ip[off:end]
    name = {6: "TCP", 17: "UDP", 58: "ICMPv6"}[nh]
    if nh == 17 and len(data) >= 8 and data[6:8] == b"\0\0":
        return [f"{where}UDP checksum 0 over IPv6 (RFC 8200 §8.1: not optional)"]
    pseudo = ip[8:40] + len(data).to_bytes(4, "big") + bytes([0, 0, 0, nh])
    if len(data) < {6: 20, 17: 8, 58: 4}[nh] or _ones_sum(pseudo + data) != 0:
        return [f"{where}{name} checksum (IPv6 pseudo-header)"]
    if nh == 58 and not quoted and data[0] < 128 and len(data) > 8:
        return _v6_problems(data[8:], where + "quoted ", True)
    return []


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


def _masked(frames, masks):
    """Each frame's octets, the masked ranges zeroed. A mask is (start, end), for every frame,
    or (start, end, frames): only for the frames of those indices (a pcap whose frames differ
    in layout, e.g. translated packets then ICMP errors)."""
    out = []
    for i, p in enumerate(frames):
        b = bytearray(p if isinstance(p, (bytes, bytearray)) else raw(p))
        for m in masks:
            lo, hi = m[0], m[1]
            if len(m) < 3 or i in m[2]:
                b[lo:hi] = bytes(max(0, min(hi, len(b)) - lo))
        out.append(bytes(b))
    return out


def same_pcap(a, b, masks=()):
    """Byte for byte, but for the ranges a case masks (values that vary by run; see _masked)."""
    return _masked(rdpcap(a), masks) == _masked(rdpcap(b), masks)


def frames_difference(have, want, masks=()):
    """Where the frames have (packets or bytes) differ from want, masks applied as same_pcap
    does: the frame counts, or the first frame and octet that differ, with both frames
    summarised (scapy) so that a failure says which field. None when they are the same."""
    a, b = _masked(have, masks), _masked(want, masks)
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            at = next((k for k in range(min(len(x), len(y))) if x[k] != y[k]), min(len(x), len(y)))
            got = f"{x[at]:02x}" if at < len(x) else "the end"
            exp = f"{y[at]:02x}" if at < len(y) else "the end"
            return (f"frame {i}, octet {at}: {got}, expected {exp} (lengths {len(x)}, {len(y)});"
                    f" has {Ether(x).summary()}; expected {Ether(y).summary()}")
    if len(a) != len(b):
        extra = a[len(b):] or b[len(a):]
        return (f"{len(a)} frames, expected {len(b)}; the first "
                f"{'extra' if len(a) > len(b) else 'missing'} one: {Ether(extra[0]).summary()}")
    return None


def pcap_difference(have, ref, masks=()):
    """frames_difference() of two pcap files."""
    return frames_difference(rdpcap(have), rdpcap(ref), masks)
