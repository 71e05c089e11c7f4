/*
 * The NAT44 burst driver (see nat44.h for the steps). A burst from one port is classified
 * (each key's home bucket fetched as it is made), its candidate entries fetched in one pass
 * (cgn_table.h's lookup stages), then each packet confirms its mapping and goes through its
 * direction's steps until one returns a verdict other than CGN_CONTINUE:
 *
 *   outbound (inside port):  lookup | session (miss) | TCP state | TTL | MTU (DF) | translate out |
 *                            hairpin (to a pool address) | TX outside (or back inside), in
 *                            fragments when bigger than the port's MTU (mtu.c)
 *   inbound (outside port):  lookup | filter | TCP state | TTL | MTU (DF) | translate in | TX inside
 *
 * Worker context: no lock, no system call, no allocation on this path.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_prefetch.h>
#include <rte_tcp.h>

#include "cgn_dataplane.h"

#define PREFETCH_OFFSET 4 /* packets ahead whose headers are prefetched (l3fwd's pattern) */
#define TCP_SYN 0x02
#define TCP_FIN 0x01
#define TCP_RST 0x04
#define TCP_ACK 0x10

enum cgn_verdict
cgn_drop(struct cgn_worker *w, struct cgn_pkt *p, enum cgn_drop_reason why)
{
	w->pkt.drops[why]++;
	rte_pktmbuf_free(p->m);
	return CGN_DROPPED;
}

/* §13.3: a filtered mapping admits only remote peers of its FILTER set. */
static bool
filter_allows(const struct cgn_mapping *m, const struct cgn_pkt *p)
{
	if (m->n_filters == 0 || p->icmp_error)
		return true;
	struct cgn_addr remote = cgn_addr_from_v4(p->ip->src_addr);
	uint16_t rport = 0;
	if (p->proto != IPPROTO_ICMP)
		rport = (uint16_t)(p->l4[0] << 8 | p->l4[1]);
	for (unsigned i = 0; i < m->n_filters && i < CGN_MAP_FILTERS; i++) {
		const struct cgn_filter *f = &m->filters[i];
		struct cgn_prefix pfx = { f->addr, f->prefix_len };
		if (cgn_prefix_contains(&pfx, &remote) && (f->port == 0 || f->port == rport))
			return true;
	}
	return false;
}

/*
 * Endpoint-dependent filtering of implicit mappings (RFC 4787 §5 REQ-8, RFC 6888 REQ-7): an
 * outbound packet permits its destination (address, or address and port) to answer; an
 * inbound packet must come from a permitted one. Up to CGN_MAP_PEERS peers a mapping, one
 * atomic word each in a slot chosen by hash: a new peer takes the slot its hash picks, so a
 * flow to many peers may forget one it permitted earlier (documented limit). Off (EIF, the default) this costs nothing.
 */
static inline uint64_t
peer_tag(enum cgn_filtering mode, uint32_t addr, uint16_t port)
{
	return (uint64_t)addr << 32 | (uint64_t)(mode == CGN_FILTER_APDF ? port : 0) << 16 | 1;
}

static inline unsigned
peer_slot(uint64_t tag)
{
	return (unsigned)((tag * 0x9e3779b97f4a7c15ull) >> 61); /* 0..7 */
}

static void
peer_permit(struct cgn_mapping *m, const struct cgn_pkt *p, enum cgn_filtering mode)
{
	uint16_t dport = p->proto == IPPROTO_ICMP ? 0 : (uint16_t)(p->l4[2] << 8 | p->l4[3]);
	uint64_t tag = peer_tag(mode, p->ip->dst_addr, dport);
	uint64_t *slot = &m->peers[peer_slot(tag)];
	if (__atomic_load_n(slot, __ATOMIC_RELAXED) != tag)
		__atomic_store_n(slot, tag, __ATOMIC_RELAXED);
}

static bool
peer_permitted(const struct cgn_mapping *m, const struct cgn_pkt *p, enum cgn_filtering mode)
{
	uint16_t sport = p->proto == IPPROTO_ICMP ? 0 : (uint16_t)(p->l4[0] << 8 | p->l4[1]);
	uint64_t tag = peer_tag(mode, p->ip->src_addr, sport);
	return __atomic_load_n(&m->peers[peer_slot(tag)], __ATOMIC_RELAXED) == tag;
}

/* Records the FIN or RST of a TCP connection: when, and its remote end (the destination of
 * an outbound segment, the source of an inbound one). The time is stored last, with release:
 * a reader that loads it with acquire sees the end that goes with it, unless two closes of
 * the mapping race (best effort: one record a mapping, the latest). */
static void
record_close(struct cgn_mapping *m, const struct cgn_pkt *p, bool outbound, uint64_t now_ms)
{
	__atomic_store_n(&m->closed_peer, outbound ? p->ip->dst_addr : p->ip->src_addr, __ATOMIC_RELAXED);
	__atomic_store_n(&m->closed_port, (uint16_t)(p->l4[outbound ? 2 : 0] << 8 | p->l4[outbound ? 3 : 1]),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&m->closed_ms, now_ms, __ATOMIC_RELEASE);
}

/* RFC 5382 REQ-5 / RFC 7857 §2.1: the state that picks an implicit TCP mapping's timeout.
 * Kept for PEER mappings too: a session ends on a FIN or RST its internal host sends to its
 * remote peer (RFC 6887 §12.3, "as per the NAT or firewall device's existing policy";
 * control/mappings.c compares closed_peer). Not on one from outside: anyone can send those
 * to an unfiltered PEER mapping. The state of inbound (MAP, static, NAT-PMP) mappings is
 * never touched (§15: "MUST NOT have its lifetime reduced by transport protocol messages");
 * when PEER sessions joined one, only the close is recorded, for them. */
static void
track_tcp(struct cgn_mapping *m, const struct cgn_pkt *p, bool outbound, uint64_t now_ms)
{
	if (p->proto != IPPROTO_TCP || p->icmp_error || !(m->flags & (CGN_MAP_IMPLICIT | CGN_MAP_PEER)))
		return;
	uint8_t flags = p->l4[13]; /* struct rte_tcp_hdr tcp_flags */
	if (m->flags & CGN_MAP_INBOUND) {
		if (outbound && (m->flags & CGN_MAP_PEER) && (flags & (TCP_FIN | TCP_RST)))
			record_close(m, p, true, now_ms);
		return;
	}
	uint8_t st = __atomic_load_n(&m->tcp_state, __ATOMIC_RELAXED), next = st;
	if (flags & (TCP_FIN | TCP_RST)) {
		if (!outbound && (m->flags & CGN_MAP_PEER))
			return;
		next = CGN_TCP_CLOSING;
	} else if (flags & TCP_SYN) {
		next = outbound || st == CGN_TCP_NONE ? (st == CGN_TCP_ESTABLISHED ? st : CGN_TCP_TRANSITORY)
						      : CGN_TCP_ESTABLISHED; /* the SYN of the other side */
	} else if (st == CGN_TCP_NONE) {
		next = CGN_TCP_ESTABLISHED; /* mid-stream: a connection we learn of late */
	}
	if (next == CGN_TCP_CLOSING)
		record_close(m, p, outbound, now_ms);
	if (next != st)
		__atomic_store_n(&m->tcp_state, next, __ATOMIC_RELAXED);
}

/* Queues the frame on p->out_port (ports[pi]), in fragments if it is longer than max_frame,
 * the port's MTU and an Ethernet header (mtu.c). */
static inline __attribute__((always_inline)) bool
tx(struct cgn_worker *w, struct cgn_pkt *p, uint32_t max_frame, int16_t pi)
{
	if (unlikely(rte_pktmbuf_pkt_len(p->m) > max_frame))
		return cgn_send_fragments(w, p, &w->dp->ports[pi]);
	w->pkt.tx++;
	rte_eth_tx_buffer(p->out_port, (uint16_t)w->index, w->tx[p->out_port], p->m);
	return true;
}

/* Routes the frame toward p->to's side (route.h) and sends it. Without a matching route it
 * leaves by p->out_port, to that port's peer_mac, or back to the sender when it leaves by
 * the port it came in on, or broadcast. */
static inline __attribute__((always_inline)) bool
send_out(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	if (dp->l2[p->to].fixed && p->out_port == dp->role_port[p->to]) { /* no routes, a peer_mac */
		eth->dst_addr = dp->l2[p->to].dst;
		eth->src_addr = dp->l2[p->to].src;
		return tx(w, p, dp->l2[p->to].max_frame, dp->l2[p->to].port);
	}
	enum cgn_route_result r = cgn_route_frame(&dp->routes, (enum cgn_port_role)p->to, p->ip->dst_addr,
						  &p->out_port, &eth->dst_addr, &w->pkt.resolve_full);
	if (r == CGN_ROUTE_UNRESOLVED) {
		cgn_drop(w, p, CGN_DROP_NO_NEIGHBOUR);
		return false;
	}
	/* Always one of ours: routes name only our ports, and the fallbacks are a role's port or
	 * the one the frame came in by. */
	int16_t pi = dp->port_index[p->out_port];
	if (r == CGN_ROUTE_NONE) {
		if (dp->ports[pi].have_peer_mac)
			eth->dst_addr = dp->ports[pi].peer_mac;
		else if (p->out_port == p->in_port)
			eth->dst_addr = eth->src_addr;
		else /* no neighbour configured */
			memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	}
	eth->src_addr = dp->ports[pi].mac;
	return tx(w, p, (uint32_t)dp->ports[pi].mtu + RTE_ETHER_HDR_LEN, pi);
}

bool
cgn_send(struct cgn_worker *w, struct cgn_pkt *p)
{
	return send_out(w, p);
}

static enum cgn_verdict
outbound(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;
	if (p->map == NULL) {
		enum cgn_verdict v = cgn_session_create(w, p);
		if (v != CGN_CONTINUE)
			return v;
	}
	struct cgn_mapping *m = p->map;
	track_tcp(m, p, true, w->now_ms);
	enum cgn_filtering mode = dp->cfg->nat.filtering;
	if (mode != CGN_FILTER_EIF && (m->flags & CGN_MAP_IMPLICIT) && !p->icmp_error)
		peer_permit(m, p, mode);
	/* RFC 4787 REQ-6: outbound traffic refreshes the mapping (written at most once a second:
	 * the line is shared by every worker that sees the flow). */
	if (!p->icmp_error && w->now_ms - __atomic_load_n(&m->last_out_ms, __ATOMIC_RELAXED) >= 1000)
		__atomic_store_n(&m->last_out_ms, w->now_ms, __ATOMIC_RELAXED);
	if (cgn_ttl_expires(p))
		return cgn_icmp_reply(w, p, 11, 0, CGN_DROP_TTL_EXPIRED);
	if (unlikely(cgn_too_big_for(p, dp->mtu_floor))) {
		/* RFC 1191 §4, before translation: it leaves by the outside, or by the inside when
		 * it hairpins. */
		bool hairpin = !p->icmp_error && cgn_dataplane_in_pool(dp, p->ip->dst_addr);
		uint16_t mtu = dp->role_mtu[hairpin ? CGN_PORT_INSIDE : CGN_PORT_OUTSIDE];
		if (cgn_too_big_for(p, mtu))
			return cgn_icmp_too_big(w, p, mtu);
	}
	cgn_translate_out(p);
	w->pkt.out_translated++;
	if (p->icmp_error)
		w->pkt.icmp_errors_translated++;

	/* Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8): to one of our external endpoints. The
	 * source stays the external one just written, as REQ-9 asks. */
	p->out_port = dp->role_port[CGN_PORT_OUTSIDE];
	p->to = CGN_PORT_OUTSIDE;
	if (!p->icmp_error && cgn_dataplane_in_pool(dp, p->ip->dst_addr)) {
		struct cgn_addr dst = cgn_addr_from_v4(p->ip->dst_addr);
		uint16_t dport = (uint16_t)(p->l4[2] << 8 | p->l4[3]);
		struct cgn_key k = cgn_key_make(&dst, p->proto == IPPROTO_ICMP ? m->ext_port : dport, p->proto,
						CGN_SIDE_OUTSIDE);
		struct cgn_mapping *peer = cgn_table_lookup(dp->table, &k);
		if (peer == NULL)
			return cgn_drop(w, p, CGN_DROP_HAIRPIN_NO_MAPPING);
		/* Filtered like any inbound packet (RFC 4787 REQ-9: "as if it came from outside"). */
		if (!filter_allows(peer, p) ||
		    (mode != CGN_FILTER_EIF && (peer->flags & CGN_MAP_IMPLICIT) && !peer_permitted(peer, p, mode)))
			return cgn_drop(w, p, CGN_DROP_FILTERED);
		cgn_translate_hairpin(p, peer);
		p->out_port = p->in_port; /* when no inside route says otherwise */
		p->to = CGN_PORT_INSIDE;
		w->pkt.hairpinned++;
	}
	return CGN_TX;
}

static enum cgn_verdict
inbound(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_mapping *m = p->map;
	if (m == NULL)
		return cgn_drop(w, p, p->icmp_error ? CGN_DROP_ICMP_ERROR_UNMATCHED : CGN_DROP_NO_MAPPING);
	if (!filter_allows(m, p))
		return cgn_drop(w, p, CGN_DROP_FILTERED);
	enum cgn_filtering mode = w->dp->cfg->nat.filtering;
	if (mode != CGN_FILTER_EIF && (m->flags & CGN_MAP_IMPLICIT) && !p->icmp_error && !peer_permitted(m, p, mode))
		return cgn_drop(w, p, CGN_DROP_FILTERED);
	track_tcp(m, p, false, w->now_ms);
	if (cgn_ttl_expires(p))
		return cgn_icmp_reply(w, p, 11, 0, CGN_DROP_TTL_EXPIRED);
	if (cgn_too_big_for(p, w->dp->role_mtu[CGN_PORT_INSIDE]))
		return cgn_icmp_too_big(w, p, w->dp->role_mtu[CGN_PORT_INSIDE]);
	cgn_translate_in(p);
	w->pkt.in_translated++;
	if (p->icmp_error)
		w->pkt.icmp_errors_translated++;
	p->out_port = w->dp->role_port[CGN_PORT_INSIDE];
	p->to = CGN_PORT_INSIDE;
	return CGN_TX;
}

uint16_t
cgn_nat44_burst(struct cgn_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	struct cgn_dataplane *dp = w->dp;
	struct cgn_pkt ctx[CGN_RX_BURST];
	struct cgn_mapping *candidate[CGN_RX_BURST];
	uint16_t live[CGN_RX_BURST];
	uint16_t k = 0, sent = 0;
	int16_t pi = dp->port_index[port];
	uint8_t side = pi >= 0 && dp->ports[pi].role == CGN_PORT_OUTSIDE ? CGN_SIDE_OUTSIDE : CGN_SIDE_INSIDE;

	w->pkt.rx += n;
	/* Classify: the mbuf headers of the burst were read by the PMD; prefetch every frame's
	 * first line now, and the mbuf and frame PREFETCH_OFFSET packets ahead again while
	 * classifying (l3fwd's pattern). */
	for (uint16_t i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	uint16_t later[CGN_RX_BURST], n_later = 0; /* fragments after the first (fragment.h) */
	for (uint16_t i = 0; i < n; i++) {
		if (i + PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_OFFSET], char *) + RTE_CACHE_LINE_SIZE / 2);
		struct cgn_pkt *p = &ctx[i];
		p->m = pkts[i];
		p->side = side;
		p->in_port = port;
		p->map = NULL;
		p->frag = CGN_FRAG_NONE;
		if (cgn_classify(w, p) != CGN_CONTINUE) {
			if (unlikely(p->frag == CGN_FRAG_FIRST)) /* e.g. too short for its transport header */
				cgn_frag_refuse(w, &p->fkey);
			continue;
		}
		if (unlikely(p->frag == CGN_FRAG_LATER)) {
			later[n_later++] = i;
			continue;
		}
		cgn_table_prefetch(dp->table, side, p->hash); /* lookup stage 1 */
		live[k++] = i;
	}
	if (k == 0 && n_later == 0)
		return 0;

	/* Lookup stage 2 for the burst: every entry it may need on its way into the cache. */
	for (uint16_t j = 0; j < k; j++)
		candidate[j] = cgn_table_candidate(dp->table, side, ctx[live[j]].hash);

	for (uint16_t j = 0; j < k; j++) {
		struct cgn_pkt *p = &ctx[live[j]];
		p->map = cgn_table_confirm(dp->table, &p->key, p->hash, candidate[j]); /* stage 3 */
		enum cgn_verdict v = side == CGN_SIDE_INSIDE ? outbound(w, p) : inbound(w, p);
		if (v != CGN_TX) {
			if (unlikely(p->frag == CGN_FRAG_FIRST))
				cgn_frag_refuse(w, &p->fkey);
			continue;
		}
		const struct cgn_frag_entry *fe = unlikely(p->frag == CGN_FRAG_FIRST) ? cgn_frag_record(w, p) : NULL;
		if (send_out(w, p))
			sent++;
		if (unlikely(fe != NULL && w->frags.n_held))
			sent = (uint16_t)(sent + cgn_frag_release(w, fe));
	}
	/* After the burst's first fragments, so that a datagram within one burst needs no hold. */
	for (uint16_t j = 0; j < n_later; j++) {
		struct cgn_pkt *p = &ctx[later[j]];
		if (cgn_frag_later(w, p) == CGN_TX && send_out(w, p))
			sent++;
	}
	return sent;
}
