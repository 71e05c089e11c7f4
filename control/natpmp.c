/*
 * NAT-PMP (RFC 6886) on the PCP port, for requests whose first octet is 0 (RFC 6887
 * Appendix A): external address (§3.2), map UDP/TCP (§3.3), destroy (§3.4). Mappings go
 * through the same lifecycle, subscribers and quotas as PCP MAP (mappings.c); NAT-PMP has no
 * nonce, so its mappings carry the all-zero nonce and the NATPMP flag.
 */
#include <netinet/in.h>
#include <string.h>

#include "pcp_server_int.h"

enum natpmp_result { /* §3.5 */
	NATPMP_SUCCESS = 0,
	NATPMP_UNSUPP_VERSION = 1,
	NATPMP_REFUSED = 2,
	NATPMP_NETWORK_FAILURE = 3,
	NATPMP_NO_RESOURCES = 4,
	NATPMP_UNSUPP_OPCODE = 5,
};

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* The common start of every response: version 0, opcode + 128, result, epoch (§3.2). */
static void
header(struct pcp_server *srv, uint64_t now, uint8_t *out, uint8_t op, uint16_t result)
{
	out[0] = 0;
	out[1] = (uint8_t)(op | 0x80);
	wr16(out + 2, result);
	wr32(out + 4, pcp_server_epoch(srv, now));
	srv->stats.natpmp_by_result[result < 6 ? result : NATPMP_NETWORK_FAILURE]++;
}

static uint16_t
from_pcp(uint8_t rc)
{
	switch (rc) {
	case PCP_RES_SUCCESS:
		return NATPMP_SUCCESS;
	case PCP_RES_NOT_AUTHORIZED:
		return NATPMP_REFUSED;
	case PCP_RES_NO_RESOURCES:
	case PCP_RES_USER_EX_QUOTA:
	case PCP_RES_CANNOT_PROVIDE_EXTERNAL:
		return NATPMP_NO_RESOURCES;
	default:
		return NATPMP_NETWORK_FAILURE;
	}
}

/* §3.4: internal port 0 and lifetime 0 delete every mapping of the client for the protocol.
 * A full scan: rare, and bounded by the table size. */
struct delete_all {
	struct pcp_server *srv;
	uint64_t now;
	struct cgn_addr client;
	uint8_t proto;
};

static void
delete_one(void *r, void *arg)
{
	struct pcp_mapping_rec *rec = r;
	struct delete_all *d = arg;
	if (!(rec->flags & CGN_MAP_NATPMP) || rec->in.proto != d->proto || !cgn_addr_eq(&rec->in.addr, &d->client) ||
	    mapping_in_set(rec))
		return;
	struct map_intent mi = { .in = rec->in, .lifetime = 0, .origin = CGN_MAP_NATPMP, .client = d->client };
	struct map_outcome out;
	mapping_map(d->srv, d->now, &mi, &out);
}

static size_t
map_request(struct pcp_server *srv, uint64_t now, const uint8_t *msg, const struct cgn_addr *src,
	    uint16_t src_port, uint8_t *out)
{
	uint8_t op = msg[1];
	uint8_t proto = op == 1 ? IPPROTO_UDP : IPPROTO_TCP;
	uint16_t internal_port = (uint16_t)(msg[4] << 8 | msg[5]);
	uint16_t suggested = (uint16_t)(msg[6] << 8 | msg[7]);
	uint32_t lifetime = (uint32_t)msg[8] << 24 | (uint32_t)msg[9] << 16 | (uint32_t)msg[10] << 8 | msg[11];

	memset(out, 0, 16);
	wr16(out + 8, internal_port);
	if (lifetime == 0 && internal_port == 0) {
		struct delete_all d = { srv, now, *src, proto };
		uint32_t cursor = 0;
		rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), delete_one, &d);
		header(srv, now, out, op, NATPMP_SUCCESS);
		return 16;
	}
	if (internal_port == 0) {
		header(srv, now, out, op, NATPMP_REFUSED); /* a port-0 mapping is not a thing */
		return 16;
	}

	struct map_intent mi;
	memset(&mi, 0, sizeof(mi));
	mi.in = cgn_key_make(src, internal_port, proto, CGN_SIDE_INSIDE);
	mi.suggested_addr = cgn_addr_from_v4(0);
	mi.suggested_port = lifetime ? suggested : 0;
	mi.lifetime = lifetime;
	mi.origin = CGN_MAP_NATPMP;
	mi.client = *src;
	mi.client_port = src_port;
	/* A port of an RFC 7753 port set (made by PCP with the all-zero nonce, else the nonce
	 * refuses it anyway): the set is renewed and deleted as one (§4.4), which a NAT-PMP
	 * request of one port cannot express: refused, as a mapping of another client's. */
	const struct pcp_mapping_rec *in_set = rec_db_find(srv->mappings, &mi.in);
	if (in_set && mapping_in_set(in_set)) {
		header(srv, now, out, op, NATPMP_REFUSED);
		return 16;
	}
	struct map_outcome res;
	uint8_t rc = mapping_map(srv, now, &mi, &res);
	header(srv, now, out, op, from_pcp(rc));
	if (rc == PCP_RES_SUCCESS && res.rec && res.lifetime) {
		wr16(out + 10, res.rec->ext_port);
		wr32(out + 12, res.lifetime == UINT32_MAX ? UINT32_MAX : res.lifetime);
	}
	return 16;
}

size_t
natpmp_handle(struct pcp_server *srv, uint64_t now, const uint8_t *msg, size_t len, const struct cgn_addr *src,
	      uint16_t src_port, uint8_t *out)
{
	if (len < 2 || msg[1] >= 128) { /* §3.5: an opcode of 128 or more is a response: ignore */
		srv->stats.dropped[PCP_DROP_NATPMP_MALFORMED]++;
		return 0;
	}
	uint8_t op = msg[1];
	srv->stats.natpmp_by_opcode[op < 3 ? op : 3]++;

	switch (op) {
	case 0: { /* §3.2: the external address: the subscriber's paired address */
		int32_t sub = cgn_pb_subscriber(&srv->pb, src, true);
		memset(out, 0, 12);
		if (sub < 0) {
			header(srv, now, out, 0, NATPMP_NO_RESOURCES);
			return 12;
		}
		header(srv, now, out, 0, NATPMP_SUCCESS);
		memcpy(out + 8, &srv->pb.addrs[cgn_pb_sub(&srv->pb, (uint32_t)sub)->ext_index], 4);
		return 12;
	}
	case 1:
	case 2:
		if (len < 12) {
			srv->stats.dropped[PCP_DROP_NATPMP_MALFORMED]++;
			return 0;
		}
		return map_request(srv, now, msg, src, src_port, out);
	default: {
		/* §3.5: "the entire request MUST be returned to the sender, with the top bit of the
		 * opcode set ... and the result code set to 5" */
		size_t n = len < 16 ? len : 16;
		memcpy(out, msg, n);
		if (n < 8)
			memset(out + n, 0, 8 - n), n = 8;
		header(srv, now, out, op, NATPMP_UNSUPP_OPCODE);
		return n;
	}
	}
}
