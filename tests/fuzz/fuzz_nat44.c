/*
 * libFuzzer target for the data plane's packet steps (dataplane/: classify, session, filter,
 * translate, ICMP errors, hairpin, TTL, ICMP generation), NAT44 and NAT64 both ways, through
 * the burst driver on a test data plane (tests/lib/dp_env.c: EAL, two net_null ports). Any
 * bytes in:
 *
 *   [side:1][frame...]   side bit 0: 0 = arrived on the inside port, 1 = on the outside;
 *                        bit 1: both ports' MTU 576 instead of 1500 (mtu.c: fragments, ICMP 3/4,
 *                        Packet Too Big);
 *                        bit 2: NAT64's knobs set (nat64.reset_traffic_class, reset_tos with
 *                        new_tos 0xb8, udp_zero_checksum = "drop") instead of their defaults
 *
 * NAT64 is on in this target only (enable_nat64(): the env's configuration edited after
 * dp_env_get(), as tests/dataplane/test_nat64.c's setup64 does): the Well-Known Prefix and the
 * Network-Specific Prefix 2001:db9:100::/40, the documentation ranges treated as global, IPv6
 * subscribers in 2001:db8::/32. At start, and every PRIME_EVERY inputs after, the subscriber
 * 2001:db8:6::2 sends UDP 4000 -> :53, TCP 4000 -> :80 and an ICMPv6 echo (identifier 0x64) to
 * 64:ff9b::198.51.100.10 (prime()): the mappings are made first, so their external endpoints
 * are always the same (the env's fixed seed; printed at start), and they never expire, so the
 * seeds' IPv4 answers and errors (make_nat44_seeds.py) find them.
 *
 * Checks, beyond ASan/UBSan, on every frame the steps send (read back from the TX buffer
 * before it is flushed; check_sent()): an IPv4 packet carries a valid header checksum, an IPv6
 * packet fits its frame, and ARP replies are the only other kind. Transport checksums (ICMP,
 * ICMPv6, UDP, TCP) must verify in every packet the data plane writes itself, and in every
 * packet it translates (NAT44, 6->4, 4->6, hairpin) from one whose checksum verified
 * (in_sum_ok(): checksums are updated, not recomputed, RFC 1624, so a wrong one stays wrong);
 * fragments and IPv4 UDP without a checksum excepted. Sessions never exceed the table. PCP
 * punted to the control thread is answered by an echo through punt.c, and the answers are
 * checked the same way. State (mappings) persists between inputs, as it would on a wire.
 * Seeds: seeds/nat44/, written by make_nat44_seeds.py (IPv4, ARP, IPv6, ND and NAT64 frames).
 * What each does: FUZZ_NAT44_TRACE=1 fuzz_nat44 seeds/nat44/*.bin (the frames sent, the drops).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgn_cksum.h"
#include "cgn_rfc6052.h"
#include "dp_env.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static struct dp_env *E;
static bool trace; /* FUZZ_NAT44_TRACE set: each input's frames sent and drops, on stderr */

/* The control thread's side of the punt path, with an echo for a PCP server: the answer is the
 * request's first octets, so punt.c's parsing and answer building see fuzzed bytes. */
static size_t
echo(void *ctx, const uint8_t *msg, size_t len, const struct cgn_addr *src, uint16_t src_port, bool outside,
     uint8_t *resp)
{
	(void)ctx, (void)src, (void)src_port, (void)outside;
	size_t n = len < 1100 ? len : 1100;
	memcpy(resp, msg, n);
	return n;
}

/* The one's-complement sum of an IPv6 upper-layer packet with its pseudo-header (RFC 8200
 * §8.1): 0 when its checksum verifies. */
static uint16_t
sum6(const uint8_t *ip6, uint32_t plen, uint8_t nh)
{
	uint32_t s = cgn_cksum_pseudo6(ip6 + 8, ip6 + 24, plen, nh);
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(ip6 + 40, plen, s));
}

/* The same for an IPv4 packet's transport (ICMP: none). *zero_udp: UDP without a checksum. */
static uint16_t
sum4(const uint8_t *ip, uint32_t ihl, uint32_t len, bool *zero_udp)
{
	uint8_t proto = ip[9];
	*zero_udp = proto == IPPROTO_UDP && len >= 8 && ip[ihl + 6] == 0 && ip[ihl + 7] == 0;
	uint32_t s = 0;
	if (proto != IPPROTO_ICMP) {
		uint8_t pseudo[12] = { 0 };
		memcpy(pseudo, ip + 12, 8);
		pseudo[9] = proto, pseudo[10] = (uint8_t)(len >> 8), pseudo[11] = (uint8_t)len;
		s = cgn_cksum_partial(pseudo, sizeof(pseudo), 0);
	}
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(ip + ihl, len, s));
}

static bool
is_transport(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/*
 * Whether the frame the fuzzer sends has a transport checksum that verifies: an IPv4 packet
 * that is no fragment, or an IPv6 packet with no extension header, whose lengths fit the
 * frame, carrying TCP, UDP (IPv4: a zero checksum counts as right), ICMP or ICMPv6 (not
 * Neighbor Discovery, which may release packets of earlier inputs). Anything else: false.
 */
static bool
in_sum_ok(const uint8_t *f, uint32_t len)
{
	bool zero;
	if (len >= 14 + 20 && f[12] == 0x08 && f[13] == 0x00) {
		const uint8_t *ip = f + 14;
		uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4, total = (uint32_t)(ip[2] << 8 | ip[3]);
		if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl + 8 || 14 + total > len || (ip[6] & 0x3f) || ip[7] ||
		    !is_transport(ip[9]) || ip[9] == IPPROTO_ICMPV6)
			return false;
		return sum4(ip, ihl, total - ihl, &zero) == 0 || (ip[9] == IPPROTO_UDP && zero);
	}
	if (len >= 14 + 40 + 8 && f[12] == 0x86 && f[13] == 0xdd) {
		const uint8_t *ip6 = f + 14;
		uint32_t plen = (uint32_t)(ip6[4] << 8 | ip6[5]);
		uint8_t nh = ip6[6];
		if ((ip6[0] >> 4) != 6 || plen < 8 || 14 + 40 + plen > len || !is_transport(nh) || nh == IPPROTO_ICMP)
			return false;
		if (nh == IPPROTO_ICMPV6 && ip6[40] >= 133 && ip6[40] <= 137) /* RS, RA, NS, NA, redirect */
			return false;
		return sum6(ip6, plen, nh) == 0;
	}
	return false;
}

/*
 * One frame the data plane sends, whole (chained mbufs read into a copy): ARP (a reply for one
 * of our addresses); IPv4 with its header checksum right, that header in the first mbuf (a
 * fragment's too); or IPv6 whose payload fits the frame. And the transport checksum right
 * (see the file's head) when ICMP(v6), UDP or TCP follows the header directly: always for
 * IPv6 the data plane wrote itself (a source not under a Pref64: its ICMPv6 errors and
 * replies; RFC 8200 §8.1: a UDP checksum of zero does not verify, as IPv6 forbids it), and for
 * anything translated when in_ok, the input's checksum verified. Aborts otherwise.
 */
static void
check_sent(const struct rte_mbuf *m, bool in_ok)
{
	static uint8_t copy[9216];
	uint32_t len = rte_pktmbuf_pkt_len(m);
	CHECK(len >= 42 && len <= sizeof(copy));
	const uint8_t *f = rte_pktmbuf_read(m, 0, len, copy);
	CHECK(f != NULL);
	if (f[12] == 0x08 && f[13] == 0x06)
		return;
	if (f[12] == 0x86 && f[13] == 0xdd) {
		CHECK(len >= 14 + 40 && (f[14] >> 4) == 6);
		uint32_t plen = (uint32_t)(f[14 + 4] << 8 | f[14 + 5]);
		CHECK(14 + 40 + plen <= len);
		uint8_t nh = f[14 + 6];
		if (nh != IPPROTO_ICMPV6 && nh != IPPROTO_UDP && nh != IPPROTO_TCP)
			return;
		const struct cgn_nat64_cfg *n64 = &E->cfg.nat64;
		bool translated = cgn_rfc6052_find(n64->prefixes, n64->n_prefixes, (const struct cgn_addr *)(f + 14 + 8)) >= 0;
		if (in_ok || !translated)
			CHECK(sum6(f + 14, plen, nh) == 0);
		return;
	}
	CHECK(f[12] == 0x08 && f[13] == 0x00);
	uint32_t ihl = (uint32_t)(f[14] & 0x0f) * 4;
	CHECK(ihl >= 20 && len >= 14 + ihl);
	CHECK(rte_pktmbuf_data_len(m) >= 14 + ihl); /* a fragment's header in its first mbuf */
	CHECK(cgn_cksum(f + 14, ihl) == 0);
	uint32_t total = (uint32_t)(f[14 + 2] << 8 | f[14 + 3]);
	CHECK(total >= ihl && 14 + total <= len);
	bool fragment = (f[14 + 6] & 0x3f) || f[14 + 7];
	if (!in_ok || fragment || total - ihl < 8 || !is_transport(f[14 + 9]) || f[14 + 9] == IPPROTO_ICMPV6)
		return;
	bool zero;
	CHECK(sum4(f + 14, ihl, total - ihl, &zero) == 0 || (f[14 + 9] == IPPROTO_UDP && zero));
}

/*
 * The ports' identities the seeds are written for (make_nat44_seeds.py): net_null makes up a
 * random MAC each run, so the inside port becomes 02:00:00:00:00:01 and the outside one
 * 02:00:00:00:00:02 (their link-local addresses with them), and the inside port gets the
 * lab's IPv6 address 2001:db8:100::254 (dp_env's ports have none).
 */
static void
fix_ports(void)
{
	for (unsigned i = 0; i < E->dp->n_ports; i++) {
		struct cgn_port *p = &E->dp->ports[i];
		p->mac = (struct rte_ether_addr){ { 2, 0, 0, 0, 0, p->port_id == E->inside_port ? 1 : 2 } };
		p->link_local = cgn_addr_link_local_from_mac(p->mac.addr_bytes);
		if (p->port_id == E->inside_port) {
			CHECK(cgn_addr_parse("2001:db8:100::254", &p->address6) == 0);
			p->have_address6 = true;
		}
	}
	cgn_dataplane_derive_tx(E->dp);
}

/* Adds the NAT64 configuration of the file's head to the env's (which the data plane reads
 * through dp->cfg), through the configuration loader (its checks, the wkp flags). */
static void
enable_nat64(void)
{
	static struct cgn_config c;
	char err[256];
	static const char *text =
		"pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"100.64.0.0/10\", \"2001:db8::/32\" ]; };\n"
		"nat = { pool = [ \"203.0.113.0/30\" ]; };\n"
		"nat64 = { prefixes = [ \"64:ff9b::/96\", \"2001:db9:100::/40\" ];\n"
		"          treat_as_global = [ \"198.51.100.0/24\", \"203.0.113.0/24\" ]; };\n";
	if (cgn_config_load_string(text, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_nat44: %s\n", err);
		abort();
	}
	CHECK(E->cfg.pcp.n_inside < CGN_MAX_PREFIXES);
	E->cfg.pcp.inside[E->cfg.pcp.n_inside++] = c.pcp.inside[1];
	E->cfg.nat64 = c.nat64;
	CHECK(cgn_nat64_enabled(&E->cfg));
}

/* Frames of prime(): Ethernet (to the inside port's MAC) + IPv6 from SUB6 to REMOTE64 + proto. */
#define PRIME_EVERY 1024 /* inputs (10 ms each): 10 s, well within every idle timeout */
static const uint8_t SUB6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 6, [15] = 2 };                    /* 2001:db8:6::2 */
static const uint8_t REMOTE64[16] = { 0, 0x64, 0xff, 0x9b, [12] = 198, 51, 100, 10 }; /* 64:ff9b::198.51.100.10 */

static void
prime_one(uint8_t proto, bool print)
{
	uint8_t f[14 + 40 + 20] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1, 0x86, 0xdd };
	uint8_t *ip6 = f + 14, *l4 = f + 54;
	uint16_t l4len = proto == IPPROTO_TCP ? 20 : 8;
	ip6[0] = 0x60, ip6[5] = (uint8_t)l4len, ip6[6] = proto, ip6[7] = 64;
	memcpy(ip6 + 8, SUB6, 16);
	memcpy(ip6 + 24, REMOTE64, 16);
	unsigned ck = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
	if (proto == IPPROTO_ICMPV6) {
		l4[0] = 128, l4[5] = 0x64, l4[7] = 1; /* echo request, identifier 0x64, sequence 1 */
	} else {
		l4[0] = 0x0f, l4[1] = 0xa0, l4[3] = proto == IPPROTO_TCP ? 80 : 53; /* 4000 -> 80 or 53 */
		if (proto == IPPROTO_TCP)
			l4[12] = 0x50, l4[13] = 0x02, l4[14] = 0xff; /* SYN */
		else
			l4[5] = 8;
	}
	uint16_t c = sum6(ip6, l4len, proto);
	memcpy(l4 + ck, &c, 2);
	uint16_t op, ol;
	uint8_t *o = dp_env_run(E->inside_port, f, (uint16_t)(54 + l4len), &op, &ol);
	if (o == NULL) /* its mapping is gone (an RST, a full table): the seeds' answers miss */
		return;
	if (print && op == E->outside_port && ol >= 14 + 20 + 8 && o[12] == 0x08 && o[13] == 0x00) {
		unsigned at = 34 + (proto == IPPROTO_ICMPV6 ? 4 : 0); /* source port, or echo identifier */
		fprintf(stderr, "fuzz_nat44: NAT64 %s of 2001:db8:6::2 leaves from %u.%u.%u.%u:%u\n",
			proto == IPPROTO_TCP ? "TCP 4000" : proto == IPPROTO_UDP ? "UDP 4000" : "echo 0x64", o[26], o[27],
			o[28], o[29], (unsigned)(o[at] << 8 | o[at + 1]));
	}
}

/* The subscriber's three flows of the file's head, out (making or refreshing their mappings). */
static void
prime(bool print)
{
	prime_one(IPPROTO_UDP, print);
	prime_one(IPPROTO_TCP, print);
	prime_one(IPPROTO_ICMPV6, print);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	E = dp_env_get();
	if (E == NULL)
		abort();
	trace = getenv("FUZZ_NAT44_TRACE") != NULL;
	fix_ports();
	enable_nat64();
	prime(true);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 2000)
		return 0;
	struct rte_mbuf *m = dp_env_mbuf(data + 1, (uint16_t)(size - 1));
	if (m == NULL)
		return 0;
	static uint32_t inputs;
	uint16_t port = (data[0] & 1) ? E->outside_port : E->inside_port;
	uint16_t mtu = (data[0] & 2) ? 576 : 1500;
	for (unsigned i = 0; i < E->dp->n_ports; i++)
		E->dp->ports[i].mtu = mtu;
	cgn_dataplane_derive_tx(E->dp);
	struct cgn_nat64_cfg *n64 = &E->cfg.nat64;
	bool knobs = (data[0] & 4) != 0;
	n64->reset_traffic_class = knobs;
	n64->reset_tos = knobs;
	n64->new_tos = knobs ? 0xb8 : 0;
	n64->udp_zero_checksum_drop = knobs;
	E->w->now_ms += 10;
	if (++inputs % PRIME_EVERY == 0) /* before the input: its TX buffers start empty */
		prime(false);
	bool in_ok = in_sum_ok(data + 1, (uint32_t)(size - 1));
	uint64_t before[CGN_DROP_COUNT];
	if (trace)
		memcpy(before, E->w->pkt.drops, sizeof(before));
	dp_env_burst(port, &m, 1);
	for (unsigned i = 0; i < E->dp->n_ports; i++) {
		uint16_t pid = E->dp->ports[i].port_id;
		struct rte_eth_dev_tx_buffer *b = E->w->tx[pid];
		for (uint16_t k = 0; k < b->length; k++) {
			check_sent(b->pkts[k], in_ok);
			if (trace)
				fprintf(stderr, "  sent %u octets by the %s port\n", rte_pktmbuf_pkt_len(b->pkts[k]),
					pid == E->inside_port ? "inside" : "outside");
		}
		rte_eth_tx_buffer_flush(pid, 0, b);
	}
	for (unsigned r = 0; trace && r < CGN_DROP_COUNT; r++)
		if (E->w->pkt.drops[r] != before[r])
			fprintf(stderr, "  dropped: %s\n", cgn_drop_name((enum cgn_drop_reason)r));
	cgn_punt_serve(E->dp, echo, NULL);
	struct rte_mbuf *answer;
	while (rte_ring_dequeue(E->dp->punt_tx, (void **)&answer) == 0) {
		check_sent(answer, false);
		rte_pktmbuf_free(answer);
	}
	cgn_expire(E->w, E->w->now_ms);
	cgn_frag_expire(E->w, E->w->now_ms); /* fragments held for a first one that never came */
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
	CHECK(cgn_table_count(E->dp->table) <= E->dp->table->capacity);
	return 0;
}
