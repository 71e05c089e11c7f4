/*
 * The PEER opcode (RFC 6887 §12.3) on the wire: validates the request and the remote peer,
 * reads THIRD_PARTY (§13.1) and DESCRIPTION (RFC 7220), lets the mapping lifecycle create or extend the session
 * (mappings.c: mapping_peer), and writes the response. An IPv6 internal address makes a
 * NAT64 session: its remote peer is IPv6 under a Pref64 (RFC 6887 §5, Figure 5), keyed and
 * given to the data plane as the IPv4 address it embeds (RFC 6052), answered as sent.
 */
#include <netinet/in.h>
#include <string.h>

#include "pcp_server_int.h"

/* §12.3: a remote peer an implicit mapping could not have: unspecified, loopback, multicast,
 * broadcast, port 0; and IPv6 peers, which a NAT44 cannot reach. */
static bool
remote_peer_valid(const struct cgn_addr *a, uint16_t port)
{
	if (port == 0 || !cgn_addr_is_v4(a) || cgn_addr_is_unspecified(a))
		return false;
	uint8_t first = a->b[12];
	return first != 127 && first < 224 && first != 0;
}

uint8_t
pcp_peer_handle(struct pcp_ctx *ctx)
{
	const struct cgn_config *cfg = &ctx->srv->cfg;
	const struct pcp_peer_data *rq = &ctx->req.u.peer;
	struct cgn_addr internal = ctx->src;
	bool third_party = false;
	struct pcp_desc_want desc = { 0 };

	/* §12.3: Protocol, Internal Port, Remote Peer IP Address, Remote Peer Port and Mapping
	 * Nonce are copied into the response. */
	ctx->resp.u.peer = *rq;

	for (uint16_t i = 0; i < ctx->req.n_options; i++) {
		const struct pcp_option *opt = &ctx->req.options[i];
		if (opt->code == PCP_OPT_THIRD_PARTY) {
			uint8_t rc = pcp_option_third_party_check(ctx, opt, &internal);
			if (rc != PCP_RES_SUCCESS)
				return rc;
			third_party = true;
		} else if (opt->code == PCP_OPT_DESCRIPTION) {
			/* RFC 7220 §3, as MAP (pcp_map.c): ignored if not UTF-8; else echoed as
			 * stored, placed below (pcp_description_place).
			 * (A PEER never deletes: §12.1, "it is not possible to reduce the lifetime".) */
			if (!pcp_description_read(ctx->srv, opt, &desc.len))
				continue;
			desc.text = opt->data;
			desc.given = true;
			if (pcp_response_add_option(&ctx->resp, opt->code, opt->data, desc.len) != 0)
				return PCP_RES_MALFORMED_REQUEST;
			continue;
		} else if (pcp_option_is_mandatory(opt->code)) {
			return PCP_RES_UNSUPP_OPTION;
		} else {
			continue; /* not processed: not echoed */
		}
		if (pcp_response_add_option(&ctx->resp, opt->code, opt->data, opt->len) != 0)
			return PCP_RES_MALFORMED_REQUEST;
	}
	if (!cgn_prefix_list_contains(cfg->pcp.inside, cfg->pcp.n_inside, &internal))
		return PCP_RES_NOT_AUTHORIZED;
	bool nat64 = !cgn_addr_is_v4(&internal);
	if (nat64 && !cgn_nat64_enabled(cfg))
		return PCP_RES_NOT_AUTHORIZED; /* as MAP (pcp_map.c) */

	/* §12.1: "Protocol MUST NOT be zero", "Internal port MUST NOT be zero". */
	if (rq->map.protocol == 0 || rq->map.internal_port == 0)
		return PCP_RES_MALFORMED_REQUEST;
	if (rq->map.protocol != IPPROTO_TCP && rq->map.protocol != IPPROTO_UDP)
		return PCP_RES_UNSUPP_PROTOCOL;
	/* §12.3: an invalid remote peer is a MALFORMED_REQUEST. A NAT64 client's is IPv6 under a
	 * Pref64 (or IPv4-mapped: it knows the IPv4 address), and RFC 6052 §3.1 forbids the
	 * Well-Known Prefix with a non-global IPv4 address; any other IPv6 address is none the
	 * NAT64 can reach. */
	struct cgn_addr remote = rq->remote_addr;
	int pref64 = 0;
	if ((nat64 && pcp_nat64_remote(cfg, &rq->remote_addr, &remote, &pref64) != 0) ||
	    !remote_peer_valid(&remote, rq->remote_port))
		return PCP_RES_MALFORMED_REQUEST;

	struct peer_key pk;
	memset(&pk, 0, sizeof(pk));
	pk.in = cgn_key_make(&internal, rq->map.internal_port, rq->map.protocol, CGN_SIDE_INSIDE);
	pk.remote = remote;
	pk.remote_port = rq->remote_port;

	const struct pcp_mapping_rec *rec;
	uint32_t lifetime = 0, err_lifetime = 0;
	uint8_t rc = mapping_peer(ctx->srv, ctx->now_ms, &pk, &rq->remote_addr, (uint8_t)pref64,
				  &rq->map.external_addr, rq->map.external_port,
				  ctx->req.lifetime, rq->map.nonce, third_party, &ctx->src, ctx->src_port, &desc,
				  &rec, &lifetime, &err_lifetime);
	if (rc != PCP_RES_SUCCESS) {
		ctx->error_lifetime = err_lifetime;
		return rc;
	}
	if (desc.given) /* last; out if memory was short: "not accepted" (RFC 7220 §3) */
		pcp_description_place(&ctx->resp, desc.stored);
	ctx->resp.lifetime = lifetime;
	ctx->resp.u.peer.map.external_port = rec->ext_port;
	ctx->resp.u.peer.map.external_addr = cgn_addr_from_v4(rec->ext_addr);
	return PCP_RES_SUCCESS;
}
