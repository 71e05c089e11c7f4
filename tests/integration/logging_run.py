"""NAT logging and metrics with real receivers (issue 16): one scripted run of the real cgnatd.

cgnatd runs on net_pcap vdevs (tests/golden/harness.py's bench) in a network namespace that has
only its loopback (tests/netns_run.sh), with logging to an IPFIX collector built on libfixbuf
(tests/tools/ipfix_collect, UDP 127.0.0.1:4739), to a syslog receiver of this script (UDP
127.0.0.1:5514), and its Prometheus page on 127.0.0.1:9464. The run:

  1. subscriber A (100.64.0.1, behind the inside port) opens 70 UDP flows: its first port
     block (BINDING_CREATE, PORT_BLOCK_ALLOC) and a session each (NAT44_SESSION_CREATE:
     logging.sessions) until its one block of 64 ports is full, then QUOTA_EXCEEDED (per
     user, limit 64; rate-limited: one);
  2. a PCP client on 127.0.0.1 maps UDP 8080: the second subscriber's block (half the pool's
     blocks in use: THRESHOLD_REACHED ports-high 50) and NAT44_BIB_CREATE (origin PCP);
  3. it deletes the mapping: NAT44_BIB_DELETE; the subscriber holds no port any more, its
     block goes back (PORT_BLOCK_FREE, BINDING_DELETE);
  4. /metrics is read (promtool check metrics; known counters) and cgnatd is stopped.

Checked: every field of every record the collector decoded, the templates, tshark's IPFIX
dissector on a capture of the same messages (no malformed field), the RFC 5424 lines of
syslog, the counters (log_events = what arrived, log_dropped 0).
"""
import os
import re
import socket
import subprocess
import shutil
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from harness import Run, inside, pcpc  # noqa: E402
from scapy.all import IP, UDP  # noqa: E402

COLLECT = os.environ["IPFIX_COLLECT"]
A, REMOTE, PCP_CLIENT = "100.64.0.1", "198.51.100.10", "127.0.0.1"
FLOWS = 70
POOL = ("203.0.113.0", "203.0.113.1")
NONCE = "0123456789abcdef01234567"

CONF = """
pcp = { listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10", "127.0.0.0/8" ]; announce = { multicast = false; };
        lifetime = { min = 120; max = 86400; }; };
nat = { pool = [ "203.0.113.0/31" ]; ports = "1024-1151"; block_size = 64; max_blocks = 1; port_hold_s = 0; };
dataplane = { seed = 42; idle_sleep_us = 100; rx_delay_ms = 300; table_size = 4096; };
ports = ( { name = "net_pcap0"; role = "inside"; peer_mac = "02:00:00:00:01:01"; address = "100.64.0.254"; },
          { name = "net_pcap1"; role = "outside"; peer_mac = "02:00:00:00:02:02"; address = "198.51.100.1"; } );
logging = { sessions = true; threshold = 50;
            ipfix = { collector = "127.0.0.1:4739"; transport = "udp"; observation_domain = 7; };
            syslog = { server = "127.0.0.1:5514"; transport = "udp"; hostname = "cgn-test"; }; };
metrics = { listen = "127.0.0.1:9464"; };
"""

# RFC 5424 §6: HEADER SP STRUCTURED-DATA [SP MSG], as this sink writes it.
SYSLOG_RE = re.compile(
    r'^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S{1,255}) cgnatd (\d+) ([A-Z]{1,32}) '
    r'\[nat@32473((?: [a-zA-Z]+="(?:[^"\\\]]|\\["\\\]])*")+)\] ([ -~]+)$')


WORK = None


def fail(why):
    print("FAIL:", why, f"(what was received: {WORK})")
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


class SyslogReceiver(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 5514))
        self.sock.settimeout(0.2)
        self.lines, self.stop = [], False

    def run(self):
        while not self.stop:
            try:
                self.lines.append(self.sock.recv(4096).decode("ascii"))
            except socket.timeout:
                pass


def parse_records(out):
    recs, templates = [], {}
    for line in out.splitlines():
        words = line.split()
        if not words:
            continue
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if words[0] == "record":
            recs.append(kv)
        elif words[0] == "template":
            templates[kv["id"]] = kv["fields"]
    return recs, templates


def scripted_run(work):
    flows = [inside(IP(src=A, dst=REMOTE) / UDP(sport=10000 + i, dport=53) / b"q") for i in range(FLOWS)]

    def pcp_steps(run):
        rc, out = pcpc("-s", PCP_CLIENT, "-p", "udp", "-i", "8080", "-l", "600", "-n", NONCE, "map")
        check(rc == 0, f"pcpc map: {out}")
        time.sleep(1.5)  # the logger's threshold check runs once a second
        rc, out = pcpc("-s", PCP_CLIENT, "-p", "udp", "-i", "8080", "-l", "0", "-n", NONCE, "map")
        check(rc == 0, f"pcpc delete: {out}")
        time.sleep(0.6)  # the control thread's sweep (100 ms) gives the block back
        page = urllib.request.urlopen("http://127.0.0.1:9464/metrics", timeout=5).read().decode()
        with open(os.path.join(work, "metrics.txt"), "w") as f:
            f.write(page)
        run.metrics = page
        run.stats_before_stop = run.ctl("-j", "stats")
        run.stats_before_stop.update(run.ctl("-j", "logging"))

    return Run("logging", work, CONF, flows, [], after=pcp_steps)


TCP_CONF = """
pcp = { listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10", "127.0.0.0/8" ]; announce = { multicast = false; }; };
nat = { pool = [ "203.0.113.0/30" ]; block_size = 64; max_blocks = 4; };
dataplane = { seed = 42; idle_sleep_us = 100; rx_delay_ms = 1500; table_size = 4096; };
ports = ( { name = "net_pcap0"; role = "inside"; peer_mac = "02:00:00:00:01:01"; address = "100.64.0.254"; },
          { name = "net_pcap1"; role = "outside"; peer_mac = "02:00:00:00:02:02"; address = "198.51.100.1"; } );
logging = { ipfix = { collector = "127.0.0.1:4740"; transport = "tcp"; reconnect_s = 1; }; };
"""


def tcp_collector_restart():
    """A TCP collector stopped and started again mid-run: cgnatd forwards all the while, counts
    the events meanwhile as dropped, connects again (a new Transport Session: templates
    first) and the events after that arrive."""
    def start():
        c = subprocess.Popen([COLLECT, "-t", "-p", "4740", "-n", "0", "-T", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(c.stdout.readline().startswith("ready"), "the TCP collector did not start")
        return c

    def stop(c):
        c.terminate()
        return parse_records(c.communicate(timeout=20)[0])[0]

    def mapping(port):
        rc, out = pcpc("-s", PCP_CLIENT, "-p", "tcp", "-i", str(port), "-l", "600", "map")
        check(rc == 0, f"pcpc map {port}: {out}")

    got = {}

    def phases(run):
        time.sleep(0.5)                  # connected at the logger's first flush
        mapping(9001)
        time.sleep(0.5)
        got["first"] = stop(got["c"])    # the collector goes away
        mapping(9002)                    # events while it is away: dropped, counted
        mapping(9003)
        time.sleep(0.5)
        got["away"] = run.ctl("-j", "logging")
        got["c"] = start()               # back: reconnected within reconnect_s
        time.sleep(1.8)
        mapping(9004)
        time.sleep(0.5)
        got["last"] = run.ctl("-j", "logging")

    work = tempfile.mkdtemp(prefix="cgnat-logging-tcp.")
    flows = [inside(IP(src=A, dst=REMOTE) / UDP(sport=20000 + i, dport=53) / b"q") for i in range(40)]
    got["c"] = start()
    try:
        run = Run("logtcp", work, TCP_CONF, flows, [], before=phases)
    finally:
        second = stop(got["c"])
    first, away, stats = got["first"], got["away"], run.stats
    stats.update(got["last"])
    ports = lambda recs: sorted(int(r["sourceTransportPort"]) for r in recs if r["natEvent"] == "8")
    check(ports(first) == [9001], f"before the collector went away: {first}")
    check(ports(second) == [9004], f"after it came back: {second}")
    ends = sorted(int(r["sourceTransportPort"]) for r in second if r["natEvent"] == "9")
    check(ends == [9001, 9002, 9003, 9004],
          f"at shutdown, with no state store to keep them, every PCP mapping ends in the log: {ends}")
    check(away["ipfix_dropped"] >= 2, f"events while it was away are counted dropped: {away['ipfix_dropped']}")
    check(stats["ipfix_connects"] == 2, f"connected twice: {stats['ipfix_connects']}")
    check(stats["pkt_tx"] == len(flows) and stats["pkt_sessions_created"] == len(flows),
          f"forwarding went on: {stats['pkt_tx']} of {len(flows)} sent")
    check(stats["log_dropped"] == 0, "no event ring overflowed")
    shutil.rmtree(work)
    print(f"ok: TCP collector restarted; {away['ipfix_dropped']} events dropped while away")


def main():
    global WORK
    work = WORK = tempfile.mkdtemp(prefix="cgnat-logging.")
    pcap = os.path.join(work, "ipfix.pcap")
    syslog = SyslogReceiver()
    syslog.start()
    collector = subprocess.Popen([COLLECT, "-u", "-p", "4739", "-n", "0", "-T", "120", "-w", pcap],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(collector.stdout.readline().startswith("ready"), "the collector did not start")
    try:
        run = scripted_run(work)
    finally:
        collector.terminate()
        out = collector.communicate(timeout=20)[0]
        syslog.stop = True
        syslog.join()
    with open(os.path.join(work, "collector.txt"), "w") as f:
        f.write(out)
    recs, templates = parse_records(out)
    stats = run.stats_before_stop

    # --- IPFIX ------------------------------------------------------------------------------
    check(len(templates) >= 20, f"templates: {sorted(templates)}")
    by_event = {}
    for r in recs:
        by_event.setdefault(int(r["natEvent"]), []).append(r)
    now_ms = time.time() * 1000
    for r in recs:
        t = int(r["observationTimeMilliseconds"])
        check(now_ms - 120000 < t <= now_ms, f"timeStamp {t} is not of this run: {r}")
    for r in recs:
        check(r.get("domain") == "7", f"observation domain: {r}")

    made = stats["pkt_sessions_created"]
    check(made == 64, f"A's one block of 64 ports makes 64 sessions, not {made}")
    sessions = by_event.get(4, [])
    check(len(sessions) == made, f"{len(sessions)} NAT44 session create records for {made} sessions")
    seen_ports = set()
    for r in sessions:
        check(r["sourceIPv4Address"] == A and r["protocolIdentifier"] == "17", f"session: {r}")
        check(10000 <= int(r["sourceTransportPort"]) < 10000 + FLOWS, f"session port: {r}")
        check(r["postNATSourceIPv4Address"] in POOL, f"session external address: {r}")
        seen_ports.add(int(r["postNAPTSourceTransportPort"]))
        check("destinationIPv4Address" not in r, f"RFC 6888 REQ-12: no destination logged: {r}")
    check(len(seen_ports) == made, "every session has its own external port")

    blocks = by_event.get(16, [])
    check(len(blocks) == 2, f"two blocks allocated (A, the PCP client): {blocks}")
    block_of = {r["sourceIPv4Address"]: r for r in blocks}
    check(set(block_of) == {A, PCP_CLIENT}, f"blocks: {blocks}")
    a_block = block_of[A]
    first, last = int(a_block["portRangeStart"]), int(a_block["portRangeEnd"])
    check(last - first == 63 and 1024 <= first and last <= 1151, f"A's block: {a_block}")
    check(all(first <= p <= last for p in seen_ports), "A's sessions use ports of its block")
    check(all(r["postNATSourceIPv4Address"] == a_block["postNATSourceIPv4Address"] for r in sessions),
          "paired pooling: A's sessions on its block's address")
    bindings = by_event.get(14, [])
    check(sorted(r["sourceIPv4Address"] for r in bindings) == sorted([A, PCP_CLIENT]), f"bindings: {bindings}")

    quota = by_event.get(13, [])
    check(len(quota) == 1, f"one quota event (rate-limited): {quota}")
    q = quota[0]
    check(q["natQuotaExceededEvent"] == "3" and q["maxEntriesPerUser"] == "64" and q["sourceIPv4Address"] == A,
          f"quota exceeded: {q}")
    check(stats["drop_NO_PORTS"] == FLOWS - made, f"{stats['drop_NO_PORTS']} NO_PORTS drops")

    thr = by_event.get(18, [])
    check(len(thr) == 1 and thr[0]["natThresholdEvent"] == "3" and thr[0]["addressPortMappingHighThreshold"] == "50",
          f"threshold ports-high 50: {thr}")

    bib_c, bib_d = by_event.get(8, []), by_event.get(9, [])
    check(len(bib_c) == 1 and len(bib_d) == 1, f"PCP mapping create/delete: {bib_c} {bib_d}")
    for r in bib_c + bib_d:
        check(r["sourceIPv4Address"] == PCP_CLIENT and r["sourceTransportPort"] == "8080" and
              r["protocolIdentifier"] == "17", f"PCP mapping record: {r}")
    check(bib_c[0]["postNAPTSourceTransportPort"] == bib_d[0]["postNAPTSourceTransportPort"], "same mapping")
    c_block = block_of[PCP_CLIENT]
    check(int(c_block["portRangeStart"]) <= int(bib_c[0]["postNAPTSourceTransportPort"]) <= int(c_block["portRangeEnd"]),
          "the mapping's port lies in the client's block")
    # Every block, binding and session a run reported ends in the log, at the latest when
    # cgnatd stops (the process's blocks and sessions go with it; a restart claims anew): the
    # client's block when its mapping went, A's at the stop.
    freed = by_event.get(17, [])
    freed_of = {r["sourceIPv4Address"]: r for r in freed}
    check(len(freed) == 2 and set(freed_of) == {A, PCP_CLIENT}, f"both blocks freed: {freed}")
    for who, blk in ((PCP_CLIENT, c_block), (A, a_block)):
        check(freed_of[who]["portRangeStart"] == blk["portRangeStart"] and
              freed_of[who]["portRangeEnd"] == blk["portRangeEnd"] and
              freed_of[who]["postNATSourceIPv4Address"] == blk["postNATSourceIPv4Address"],
              f"{who}'s block freed as allocated: {freed_of[who]} {blk}")
    unbound = by_event.get(15, [])
    check(sorted(r["sourceIPv4Address"] for r in unbound) == sorted([A, PCP_CLIENT]), f"binding delete: {unbound}")
    ended = by_event.get(5, [])
    key = lambda r: (r["sourceTransportPort"], r["postNATSourceIPv4Address"], r["postNAPTSourceTransportPort"])
    check(sorted(map(key, ended)) == sorted(map(key, sessions)),
          f"every session created is deleted at the latest at the stop: {len(ended)} of {len(sessions)}")
    order_a = [int(r["natEvent"]) for r in recs if r.get("sourceIPv4Address") == A]
    check(max(i for i, e in enumerate(order_a) if e == 4) < min(i for i, e in enumerate(order_a) if e == 5) and
          order_a.index(17) < order_a.index(15) and order_a.index(16) < order_a.index(17),
          f"order of A's events: sessions created, then deleted; its block freed, then unbound: {order_a}")
    # Order: a block is allocated before its mapping, freed after its deletion.
    order = [int(r["natEvent"]) for r in recs if r.get("sourceIPv4Address") == PCP_CLIENT]
    check(order.index(16) < order.index(8) < order.index(9) < order.index(17), f"order of the client's events: {order}")

    expected = 2 * len(sessions) + 2 * len(blocks) + 2 * len(bindings) + 1 + 1 + 2
    check(len(recs) == expected, f"{len(recs)} records, expected {expected}: {sorted(by_event)}")
    check(stats["log_dropped"] == 0 and stats["log_invalid"] == 0, "nothing lost")
    check(stats["ipfix_dropped"] == 0 and stats["ipfix_errors"] == 0, "IPFIX: nothing lost")

    # tshark's IPFIX dissector on the same messages: every record decoded, nothing malformed.
    ts = subprocess.run(["tshark", "-n", "-r", pcap, "-d", "udp.port==4739,cflow", "-V"],
                        capture_output=True, text=True, timeout=60)
    check(ts.returncode == 0, ts.stderr)
    check("alformed" not in ts.stdout and "Expert Info (Error" not in ts.stdout, "tshark: malformed IPFIX")
    check(ts.stdout.count("Nat Event:") == len(recs), f"tshark decoded {ts.stdout.count('Nat Event:')} of {len(recs)}")
    check("Port Range Start" in ts.stdout or "portRangeStart" in ts.stdout, "tshark shows the port ranges")

    # --- syslog (RFC 5424) ------------------------------------------------------------------
    lines = syslog.lines
    for ln in lines:
        m = SYSLOG_RE.match(ln)
        check(m is not None, f"not RFC 5424: {ln!r}")
        check(m.group(3) == "cgn-test", f"HOSTNAME: {ln}")
    check(len(lines) == len(recs), f"{len(lines)} syslog lines for {len(recs)} events")
    alloc = [ln for ln in lines if 'event="port-block-alloc"' in ln and f'src="{A}"' in ln]
    check(len(alloc) == 1 and f'ports="{first}-{last}"' in alloc[0] and
          f'xaddr="{a_block["postNATSourceIPv4Address"]}"' in alloc[0] and alloc[0].startswith("<134>1 "),
          f"A's block in syslog: {alloc}")
    check(any('event="nat44-bib-create"' in ln and 'origin="pcp"' in ln and 'sport="8080"' in ln and
              'lifetime="600"' in ln for ln in lines), "the PCP mapping in syslog")
    check(any('event="port-block-free"' in ln and f'src="{PCP_CLIENT}"' in ln for ln in lines), "the freed block in syslog")
    check(any(ln.startswith("<132>1 ") and 'quota="per-user"' in ln for ln in lines), "quota at warning severity")
    check(stats["syslog_dropped"] == 0, "syslog: nothing lost")

    # --- metrics ----------------------------------------------------------------------------
    pc = subprocess.run(["promtool", "check", "metrics"], input=run.metrics, capture_output=True, text=True, timeout=60)
    check(pc.returncode == 0 and pc.stdout.strip() == "" and pc.stderr.strip() == "",
          f"promtool check metrics: {pc.stdout} {pc.stderr}")
    mv = {}
    for ln in run.metrics.splitlines():
        if ln and not ln.startswith("#"):
            name, value = ln.rsplit(" ", 1)
            mv[name] = float(value)
    check(mv.get('cgnat_pcp_requests_total{opcode="MAP"}') == 2, "two PCP MAP requests in /metrics")
    check(sum(v for k, v in mv.items() if k.startswith("cgnat_log_events_total")) == stats["log_events"],
          "log_events in /metrics")
    shutil.rmtree(work)
    tcp_collector_restart()
    print(f"ok: {len(recs)} IPFIX records ({len(sessions)} sessions), {len(lines)} syslog lines, "
          f"{len(mv)} metric series")


if __name__ == "__main__":
    main()
