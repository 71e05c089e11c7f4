/*
 * NAT64 by PCP: the Pref64 side of the server. PREFIX64 (RFC 7225 §4.2) in MAP and ANNOUNCE
 * responses and unsolicited ANNOUNCEs, and the remote peers of NAT64 clients (PEER, FILTER),
 * which "the IPv6 PCP client ... expresses ... from its perspective" (RFC 6887 §5, Figure 5):
 * under a Pref64, mapped to the IPv4 address the data plane sees through RFC 6052.
 *
 * Pure functions of the configuration: control thread (the server's), any thread in fact.
 */
#include <errno.h>
#include <string.h>

#include "cgn_rfc6052.h"
#include "pcp_server_int.h"

bool
pcp_prefix64_asked(const struct pcp_request *req)
{
	/* RFC 7225 §4.3 wants ::/96 in a request; a client that sends another prefix still asks
	 * for ours. Malformed contents: ignored (pcp-extensions-notes.md §3.4 item 7); a second
	 * PREFIX64 never gets here (the codec answers MALFORMED_OPTION, §7.3). */
	const struct pcp_option *o = pcp_request_option(req, PCP_OPT_PREFIX64);
	struct pcp_prefix64 p;
	return o != NULL && pcp_option_prefix64(o, &p) == 0;
}

/* One PREFIX64 option for prefixes[i], with its IPv4 list if it has one. */
static int
append_one(const struct cgn_nat64_cfg *n64, unsigned i, struct pcp_response *resp, uint8_t *store, size_t cap,
	   size_t *used)
{
	ssize_t n = pcp_prefix64_encode(&n64->prefixes[i], n64->v4_lists[i], n64->n_v4[i], n64->n_v4[i] > 0,
					store + *used, cap - *used);
	if (n < 0 || pcp_response_add_option(resp, PCP_OPT_PREFIX64, store + *used, (uint16_t)n) != 0)
		return -ENOSPC;
	*used += (size_t)n;
	return 0;
}

void
pcp_prefix64_append(const struct cgn_config *cfg, struct pcp_response *resp, uint8_t *store, size_t cap)
{
	const struct cgn_nat64_cfg *n64 = &cfg->nat64;
	size_t used = 0;
	/* RFC 6887 §7.3 limits a response to 1100 octets: PREFIX64s are added, in the order
	 * below, while they fit beside what the response already echoes; the rest is left out
	 * (never a failure after the mapping changed). */
	/* §4.2: "If IPv4 prefix lists are configured, the PCP server includes in the first
	 * PREFIX64 options the Pref64::/n and suffix that are associated with an IPv4 prefix
	 * list ... Additional PREFIX64 options convey any other Pref64::/n values configured";
	 * without lists the first is the one to synthesise with: nat64.prefixes[0]. */
	for (int with_list = 1; with_list >= 0; with_list--)
		for (unsigned i = 0; i < n64->n_prefixes; i++)
			if ((n64->n_v4[i] > 0) == with_list) {
				uint16_t before = resp->n_options;
				if (append_one(n64, i, resp, store, cap, &used) != 0)
					return;
				if (pcp_response_len(resp) > PCP_MAX_MSG) { /* did not fit: taken back */
					resp->n_options = before;
					return;
				}
			}
}

int
pcp_nat64_remote(const struct cgn_config *cfg, const struct cgn_addr *sent, struct cgn_addr *v4, int *pref64)
{
	int i = -1;
	if (cgn_addr_is_v4(sent)) {
		/* It knows the IPv4 address: answered under the first Pref64 that may carry it. */
		*v4 = *sent;
		for (unsigned k = 0; k < cfg->nat64.n_prefixes && i < 0; k++)
			if (cgn_nat64_v4_allowed(cfg, k, v4))
				i = (int)k;
	} else {
		i = cgn_rfc6052_find(cfg->nat64.prefixes, cfg->nat64.n_prefixes, sent);
		if (i >= 0 && (cgn_rfc6052_extract(&cfg->nat64.prefixes[i], sent, v4) != 0 ||
			       !cgn_nat64_v4_allowed(cfg, (unsigned)i, v4)))
			i = -1;
	}
	if (i < 0)
		return -ENOENT;
	*pref64 = i;
	return 0;
}

uint8_t
pcp_nat64_filter(const struct cgn_config *cfg, const struct cgn_filter *sent, struct cgn_filter *out, int *pref64)
{
	*out = *sent;
	*pref64 = -1;
	if (cgn_addr_is_v4(&sent->addr))
		return sent->prefix_len >= 96 ? PCP_RES_SUCCESS : PCP_RES_MALFORMED_OPTION;
	int i = cgn_rfc6052_find(cfg->nat64.prefixes, cfg->nat64.n_prefixes, &sent->addr);
	if (i < 0 || sent->prefix_len < cfg->nat64.prefixes[i].len)
		return PCP_RES_MALFORMED_OPTION; /* §13.3: no IPv4 peer can match it */
	/* The IPv4 bits the prefix covers: where RFC 6052 puts them (around the u octet). */
	struct cgn_addr ones = cgn_addr_from_v4(0xffffffffu), where, v4;
	cgn_rfc6052_embed(&cfg->nat64.prefixes[i], &ones, &where);
	unsigned v4_len = 0;
	for (unsigned bit = cfg->nat64.prefixes[i].len; bit < sent->prefix_len; bit++)
		v4_len += (where.b[bit / 8] >> (7 - bit % 8)) & 1;
	cgn_rfc6052_extract(&cfg->nat64.prefixes[i], &sent->addr, &v4);
	for (unsigned bit = 96 + v4_len; bit < 128; bit++)
		v4.b[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	out->addr = v4;
	out->prefix_len = (uint8_t)(96 + v4_len);
	*pref64 = i;
	return PCP_RES_SUCCESS;
}
