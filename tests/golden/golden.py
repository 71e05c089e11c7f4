#!/usr/bin/python3
"""Golden packet tests of the data plane (Snabb lwAFTR style), in groups by address family.

Each group is a module beside this file with its own base config and its own cases: nat44.py
(NAT44), ipv6.py (IPv6 for the CGN itself: ND, echo, ICMPv6 errors, extension headers, routes),
nat64.py (stateful NAT64, RFC 6146 / 7915 / 6052), listed in GROUPS. The bench and the
harness every group uses are in harness.py. Each case builds its input packets with scapy,
runs the real cgnatd on net_pcap vdevs (one pcap in and one out for the inside port, the same
for the outside port), and checks:
  - the output pcaps, byte for byte, against tests/golden/cases/<group>/<case>/expected_*.pcap;
  - the case's own assertions, computed independently of cgnatd (addresses, ports, TTL,
    checksums recomputed by scapy, payloads);
  - counter values read from cgnatd's telemetry (cgnatctl stats);
  - every checksum of every output frame, recomputed from scratch (harness.checksum_problems()).
Inputs are written to the case folder too, and compared with what is there.

A case may build its expected outputs itself (run.expected = {"out_inside": [frames], ...}, as
nat64.py's do, from the RFCs' rules with scapy): --regen then stores those, not cgnatd's output,
and stores them (with the inputs and counters) before any check, so that a case cgnatd fails
still has its expectations to review; the run is then compared with them like any other, and
the case's own findings (run.problems, a list of strings) fail it too.

Cases whose outside input needs the external endpoint cgnatd chooses run twice: once with
the inside input only, to learn the mappings (the port choice is fixed by dataplane.seed),
then with both.

    golden.py [--regen] [CASE...]     --regen rewrites the expected files (review the diff!)

A CASE is group/name, a name found in one group only, or a group (all of its cases); none:
every case of every group. Ends with the line "N passed, M failed" (scripts/test.sh reads it).
Runs inside a network namespace of its own (tests/netns_run.sh); needs CGNATD, CGNATCTL, PCPC.
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile
import traceback

sys.dont_write_bytecode = True  # the group modules are imported from the source tree: leave no __pycache__ in it

from scapy.all import wrpcap  # noqa: E402

from harness import checksum_problems, pcap_difference, same_pcap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")

GROUPS = ("nat44", "ipv6", "nat64")


def all_cases():
    """{"group/name": case function}, in group order, then by name."""
    found = {}
    for group in GROUPS:
        module = importlib.import_module(group)
        for attr, fn in sorted(vars(module).items()):
            if attr.startswith("case_") and callable(fn):
                found[f"{group}/{attr[5:]}"] = fn
    return found


def select(cases, args):
    """The case keys args name (group/name, name or group), in the order given; exits 2 on a
    name that is unknown or in more than one group."""
    keys = []
    for a in args:
        if a in cases:
            hits = [a]
        elif a in GROUPS:
            hits = [k for k in cases if k.split("/", 1)[0] == a]
        else:
            hits = [k for k in cases if k.split("/", 1)[1] == a]
        if len(hits) != 1 and a not in GROUPS:
            why = "no such case" if not hits else "in more than one group: " + ", ".join(hits)
            sys.exit(f"golden.py: {a}: {why} (name it as group/name; groups: {', '.join(GROUPS)})")
        keys += [k for k in hits if k not in keys]
    return keys


def save_built(case_dir, run, counters, built):
    """--regen of a case that built its expected outputs: its inputs, those outputs (an empty
    pcap for a side it expects nothing on) and its counters, whatever cgnatd did."""
    for k in ("in_inside", "in_outside"):
        have = run.paths[k]
        if not os.path.exists(have) or os.path.getsize(have) <= 24:
            wrpcap(have, [])
        subprocess.run(["cp", have, os.path.join(case_dir, k + ".pcap")], check=True)
    for k in ("out_inside", "out_outside"):
        wrpcap(os.path.join(case_dir, "expected_" + k[4:] + ".pcap"), built.get(k, []))
    with open(os.path.join(case_dir, "counters.json"), "w") as f:
        json.dump(counters, f, indent=1, sort_keys=True)


def main():
    regen = "--regen" in sys.argv
    cases = all_cases()
    names = select(cases, [a for a in sys.argv[1:] if not a.startswith("--")]) or list(cases)
    failed = passed = 0
    for name in names:
        case_dir = os.path.join(CASES, name)
        work = tempfile.mkdtemp(prefix=f"golden-{name.replace('/', '-')}-")
        try:
            run, counters = cases[name](work)
            built = getattr(run, "expected", None)  # expected outputs the case built itself
            os.makedirs(case_dir, exist_ok=True)
            if regen and built is not None:
                save_built(case_dir, run, counters, built)
            bad = [f"{k}[{i}] {p}" for k in ("out_inside", "out_outside")
                   for i, f in enumerate(getattr(run, k)) for p in checksum_problems(f)]
            assert not bad, "checksums recomputed from scratch: " + "; ".join(bad)
            for k in ("in_inside", "in_outside", "out_inside", "out_outside"):
                have = run.paths[k]
                ref = os.path.join(case_dir, ("expected_" + k[4:] if k.startswith("out_") else k) + ".pcap")
                if not os.path.exists(have) or os.path.getsize(have) <= 24:
                    wrpcap(have, [])
                if regen and built is None:
                    subprocess.run(["cp", have, ref], check=True)
                else:
                    assert os.path.exists(ref), f"{ref} missing: run golden.py --regen {name} and review it"
                    masks = getattr(run, "masks", {}).get(k, ())
                    assert same_pcap(have, ref, masks), f"{k} differs from {ref}: {pcap_difference(have, ref, masks)}"
            for key, want in counters.items():
                assert run.stats.get(key) == want, f"{key} = {run.stats.get(key)}, expected {want}"
            with open(os.path.join(case_dir, "counters.json"), "w" if regen and built is None else "r") as f:
                if regen and built is None:
                    json.dump(counters, f, indent=1, sort_keys=True)
                else:
                    assert json.load(f) == counters, "counters.json differs from the case's expectations"
            problems = getattr(run, "problems", [])
            assert not problems, "; ".join(problems)
            print(f"PASS {name}")
            passed += 1
        except Exception as e:  # report every case, then fail
            print(f"FAIL {name}: {e!r}\n" + "".join(traceback.format_exc().splitlines(True)[-4:]))
            failed += 1
        finally:
            subprocess.run(["rm", "-rf", work])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
