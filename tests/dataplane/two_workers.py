#!/usr/bin/python3
"""Two workers on one shared table: the real cgnatd with two worker lcores, each reading its
own RX queue of the same ports (net_pcap: one rx_pcap a queue, standing in for RSS).

Every flow arrives on both queues at about the same time, so both workers miss it and try
to create its session at once. How much the two overlap is the scheduler's: the sessions each
worker made are printed (usually a near even split); the checks hold for any interleaving,
and fail without the per-subscriber creation guard of dataplane/steps/session.c. Checked:
  - each worker read its own queue, and every packet left translated (no drop);
  - exactly one session a flow (the loser of a race uses the winner's: RFC 4787 REQ-1,
    endpoint-independent mapping, holds across workers), counted once;
  - every packet of a flow, whichever worker sent it, carries the same external endpoint; no
    two flows share one; a subscriber's flows share one external address (RFC 6888 REQ-2,
    paired pooling); checksums are valid;
  - what left agrees with the shared table (cgnatctl mappings);
  - inbound packets to a static mapping, on both queues of the outside port, are translated
    by both workers through the same entry.
(Replies to the implicit sessions would need their external endpoints before the run that
makes them: net_pcap reads its input from the start, and the races make the ports vary.)

    two_workers.py      (inside a network namespace: tests/netns_run.sh; needs CGNATD, CGNATCTL)
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import Ether, IP, UDP, Raw, rdpcap, wrpcap, raw  # noqa: E402

CGNATD, CGNATCTL = os.environ["CGNATD"], os.environ["CGNATCTL"]
SUBS, FLOWS, COPIES = 16, 40, 2  # subscribers, flows each, packets of a flow on each queue
INBOUND = 100                    # packets to the static mapping on each outside queue
REMOTE = "198.51.100.10"
SUB_MAC, NAT_IN_MAC, NAT_OUT_MAC, ROUTER_MAC = "02:00:00:00:01:01", "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:02:02"

CONF = """
pcp = { listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10" ]; announce = { multicast = false; }; };
nat = { pool = [ "203.0.113.0/28" ]; block_size = 64; max_blocks = 2; ports = "1024-65535";
        static = ( { proto = "udp"; internal = "100.64.0.200:7000"; external = "203.0.113.2:7000"; } ); };
dataplane = { seed = 42; idle_sleep_us = 100; rx_delay_ms = %d; table_size = 16384; };
ports = ( { name = "net_pcap0"; role = "inside"; peer_mac = "02:00:00:00:01:01"; },
          { name = "net_pcap1"; role = "outside"; peer_mac = "02:00:00:00:02:02"; } );
"""


def flow_packets():
    """Every flow COPIES times, flows in the same order on both queues: the most races."""
    pkts = []
    for copy in range(COPIES):
        for s in range(SUBS):
            for f in range(FLOWS):
                src, sport = f"100.64.0.{1 + s}", 20000 + f
                pkts.append(Ether(src=SUB_MAC, dst=NAT_IN_MAC) / IP(src=src, dst=REMOTE, ttl=64) /
                            UDP(sport=sport, dport=53) / Raw(f"{src}:{sport}".encode()))
    return pkts


def inbound_packets(queue):
    """Packets from several remote peers to the static mapping's external endpoint."""
    return [Ether(src=ROUTER_MAC, dst=NAT_OUT_MAC) / IP(src=f"198.51.100.{20 + i % 8}", dst="203.0.113.2", ttl=64) /
            UDP(sport=4000 + i, dport=7000) / Raw(f"q{queue}-{i}".encode()) for i in range(INBOUND)]


class Run:
    def __init__(self, work, inside, outside, rx_delay_ms):
        self.prefix = f"twow{os.getpid()}{len(outside)}"
        self.paths = {}
        args = []
        for port, pkts in (("in", inside), ("out", outside)):
            vdev = f"net_pcap{0 if port == 'in' else 1}"
            for q in range(2):
                rx, tx = (os.path.join(work, f"{port}_rx{q}.pcap"), os.path.join(work, f"{port}_tx{q}.pcap"))
                wrpcap(rx, pkts[q])
                vdev += f",rx_pcap={rx},tx_pcap={tx}"
                self.paths[(port, q)] = tx
            args += ["--vdev", vdev]
        conf = os.path.join(work, "cgnat.conf")
        with open(conf, "w") as f:
            f.write(CONF % rx_delay_ms)
        # Two worker lcores on the two CPUs (the control thread shares the first): they run at once.
        cmd = [CGNATD, "--lcores", "0@0,1@0,2@1", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
               "--file-prefix", self.prefix] + args + ["--", "-c", conf]
        self.log = os.path.join(work, "cgnatd.log")
        proc = subprocess.Popen(cmd, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        try:
            self._wait(lambda: "cgnatd: ready" in open(self.log).read(), "start", proc)
            total = sum(len(q) for q in inside) + sum(len(q) for q in outside)
            self._wait(lambda: self.ctl("stats")["pkt_rx"] >= total, f"read {total} packets", proc)
            time.sleep(0.3)  # the last TX buffers flush
            self.stats = self.ctl("stats")
            self.workers = [self.ctl("worker", str(i)) for i in range(2)]
            self.mappings = [m for page in self.ctl("mappings", "-a") for k, m in page.items() if k.startswith("mapping_")]
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=20)
        assert rc == 0, f"cgnatd exited {rc}: " + open(self.log).read()
        self.sent = {k: list(rdpcap(p)) if os.path.getsize(p) > 24 else [] for k, p in self.paths.items()}

    def ctl(self, *args):
        out = subprocess.run([CGNATCTL, "-p", self.prefix, "-j"] + list(args), capture_output=True, text=True,
                             timeout=10)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def _wait(self, done, what, proc):
        for _ in range(400):
            if done():
                return
            assert proc.poll() is None, open(self.log).read()
            time.sleep(0.05)
        raise AssertionError(f"cgnatd did not {what}: " + open(self.log).read())


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    work = tempfile.mkdtemp(prefix="two-workers-")
    try:
        pkts = flow_packets()
        n_flows = SUBS * FLOWS
        # rx_delay: both workers begin reading together, well after the EAL start.
        run = Run(work, [pkts, pkts], [inbound_packets(0), inbound_packets(1)], 300)
        st = run.stats
        for i in range(2):
            check(run.workers[i]["pkt_rx"] == len(pkts) + INBOUND,
                  f"worker {i} reads its queue of each port: {run.workers[i]['pkt_rx']}")
            check(run.workers[i]["pkt_in_translated"] == INBOUND, f"worker {i} translates its inbound queue")
        check(st["pkt_out_translated"] == 2 * len(pkts) and st["pkt_in_translated"] == 2 * INBOUND and
              st["pkt_tx"] == 2 * (len(pkts) + INBOUND),
              f"every packet translated and sent: {st['pkt_out_translated']}, {st['pkt_in_translated']}, "
              f"{st['pkt_tx']}")
        drops = {k: v for k, v in st.items() if k.startswith("drop_") and v}
        check(not drops, f"no drop: {drops}")
        check(st["pkt_sessions_created"] == n_flows, f"one session a flow: {st['pkt_sessions_created']} for {n_flows}")
        check(len(run.mappings) == n_flows + 1, f"{len(run.mappings)} mappings in the table: {n_flows} flows and a static")

        out = run.sent[("out", 0)] + run.sent[("out", 1)]
        check(len(out) == 2 * len(pkts), f"{len(out)} frames out of the outside port")
        check(run.sent[("out", 0)] and run.sent[("out", 1)], "both workers sent out of their TX queue")
        ext_of, addr_of_sub = {}, {}
        for p in out:
            internal = bytes(p[UDP].payload).decode()
            ext = (p[IP].src, p[UDP].sport)
            check(ext_of.setdefault(internal, ext) == ext, f"{internal} left as {ext_of[internal]} and as {ext}")
            sub = internal.split(":")[0]
            check(addr_of_sub.setdefault(sub, ext[0]) == ext[0], f"{sub} on two external addresses")
            fixed = IP(raw(p[IP]))
            del fixed[IP].chksum, fixed[UDP].chksum
            fixed = IP(raw(fixed))
            check(fixed[IP].chksum == p[IP].chksum and fixed[UDP].chksum == p[UDP].chksum, f"checksums of {internal}")
            check(p[IP].ttl == 63, "TTL decremented")
            check(p[Ether].dst == ROUTER_MAC, "sent to the outside port's peer_mac")
        check(len(ext_of) == n_flows, f"{len(ext_of)} flows seen for {n_flows}")
        check(len(set(ext_of.values())) == n_flows, "no two flows share an external endpoint")
        table = {m["internal"]: tuple(m["external"].rsplit(":", 1)) for m in run.mappings}
        for internal, (a, port) in ext_of.items():
            check(table.get(internal) == (a, str(port)), f"{internal}: sent as {a}:{port}, table {table.get(internal)}")

        inside = run.sent[("in", 0)] + run.sent[("in", 1)]
        check(len(inside) == 2 * INBOUND and run.sent[("in", 0)] and run.sent[("in", 1)],
              f"{len(inside)} inbound frames out of the inside port, from both workers")
        check(sorted(bytes(p[UDP].payload).decode() for p in inside) ==
              sorted(f"q{q}-{i}" for q in range(2) for i in range(INBOUND)), "every inbound packet, once")
        check(all(p[IP].dst == "100.64.0.200" and p[UDP].dport == 7000 and p[Ether].dst == SUB_MAC for p in inside),
              "inbound translated to the static mapping's internal endpoint")
        made = [w["pkt_sessions_created"] for w in run.workers]
        print(f"PASS two_workers: {n_flows} flows raced on 2 workers (sessions made: {made}), {len(out)} packets, "
              f"{st['pkt_sessions_created']} sessions")
        return 0
    except AssertionError as e:
        print(f"FAIL two_workers: {e}")
        return 1
    finally:
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
