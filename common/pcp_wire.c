/*
 * The PCP wire codec (see pcp_wire.h). Offsets follow RFC 6887 Figures 2, 3, 4, 9, 10, 11, 12,
 * 13 and 15; every read is checked against the length the caller passed before it is made.
 */
#include "pcp_wire.h"

#include <errno.h>
#include <string.h>

#include "cgn_rfc6052.h"

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline size_t
pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

int
pcp_opcode_data_len(uint8_t opcode)
{
	switch (opcode) {
	case PCP_OP_ANNOUNCE:
		return 0; /* §14.1: the common header only */
	case PCP_OP_MAP:
		return PCP_MAP_LEN;
	case PCP_OP_PEER:
		return PCP_PEER_LEN;
	case PCP_OP_AUTHENTICATION:
		return 0; /* RFC 7652 §5.1: everything travels in options */
	default:
		return -1;
	}
}

/* ---- opcode data ------------------------------------------------------------------------ */

/* §11.1 Figure 9/10; the PEER layout (Figure 11/12) begins with the same 36 octets. */
static void
map_data_read(const uint8_t *p, struct pcp_map_data *m)
{
	memcpy(m->nonce, p, PCP_NONCE_LEN);
	m->protocol = p[12];
	m->internal_port = rd16(p + 16);
	m->external_port = rd16(p + 18);
	memcpy(m->external_addr.b, p + 20, 16);
}

static void
map_data_write(uint8_t *p, const struct pcp_map_data *m)
{
	memcpy(p, m->nonce, PCP_NONCE_LEN);
	p[12] = m->protocol;
	p[13] = p[14] = p[15] = 0;
	wr16(p + 16, m->internal_port);
	wr16(p + 18, m->external_port);
	memcpy(p + 20, m->external_addr.b, 16);
}

static void
peer_data_read(const uint8_t *p, struct pcp_peer_data *d)
{
	map_data_read(p, &d->map);
	d->remote_port = rd16(p + 36);
	memcpy(d->remote_addr.b, p + 40, 16);
}

static void
peer_data_write(uint8_t *p, const struct pcp_peer_data *d)
{
	map_data_write(p, &d->map);
	wr16(p + 36, d->remote_port);
	p[38] = p[39] = 0;
	memcpy(p + 40, d->remote_addr.b, 16);
}

/* ---- options ---------------------------------------------------------------------------- */

enum split_mode { SPLIT_REQUEST, SPLIT_RESPONSE };

/*
 * Splits the option area msg[off, len) into views and judges each against the registry.
 * For responses (a client reading them) only the structure is checked.
 */
static enum pcp_verdict
options_split(const uint8_t *msg, size_t off, size_t len, uint8_t opcode, enum split_mode mode,
	      struct pcp_option *opts, uint16_t *n_opts, uint8_t *result)
{
	uint16_t seen[256] = { 0 };
	uint16_t n = 0;

	while (off < len) {
		if (len - off < PCP_OPT_HDR_LEN)
			goto malformed_option; /* a header cut short */
		uint8_t code = msg[off];
		uint16_t olen = rd16(msg + off + 2);
		size_t avail = len - off - PCP_OPT_HDR_LEN;
		if (pad4(olen) > avail)
			goto malformed_option; /* §7.3: option length longer than the message */

		const struct pcp_option_desc *d = pcp_option_desc(code);
		const uint8_t *data = msg + off + PCP_OPT_HDR_LEN;
		off += PCP_OPT_HDR_LEN + pad4(olen);

		if (mode == SPLIT_RESPONSE) {
			opts[n++] = (struct pcp_option){ code, olen, data, d };
			continue;
		}

		if (d == NULL) {
			if (pcp_option_is_mandatory(code)) {
				*result = PCP_RES_UNSUPP_OPTION; /* §7.3: unrecognized */
				return PCP_VERDICT_ERROR;
			}
			opts[n++] = (struct pcp_option){ code, olen, data, NULL };
			continue;
		}

		bool valid_here = (d->opcodes & (1u << opcode)) && d->where != PCP_IN_RESP;
		if (!valid_here) {
			if (opcode == PCP_OP_PEER && code == PCP_OPT_PREFER_FAILURE) {
				/* §12.1: "it MUST return a MALFORMED_REQUEST error response" */
				*result = PCP_RES_MALFORMED_REQUEST;
				return PCP_VERDICT_ERROR;
			}
			if (pcp_option_is_mandatory(code))
				goto malformed_option; /* §11.3: an option that does not make sense */
			continue;              /* optional and meaningless here: ignored, not echoed */
		}

		bool len_ok = d->len_kind == PCP_LEN_FIXED ? olen == d->len
			    : d->len_kind == PCP_LEN_MAX   ? olen <= d->len
							   : true;
		if (!len_ok)
			goto malformed_option;
		if (d->max_in_request != PCP_OCC_ANY && ++seen[code] > d->max_in_request)
			goto malformed_option; /* §7.3: more occurrences than the definition allows */

		opts[n++] = (struct pcp_option){ code, olen, data, d };
	}
	*n_opts = n;
	return PCP_VERDICT_OK;

malformed_option:
	*result = PCP_RES_MALFORMED_OPTION;
	return PCP_VERDICT_ERROR;
}

/* ---- requests --------------------------------------------------------------------------- */

enum pcp_verdict
pcp_parse_request_header(const uint8_t *msg, size_t len, struct pcp_request *req,
			 uint8_t *result)
{
	/* §8.2, in the order it gives. */
	if (len < 2)
		return PCP_VERDICT_DROP;
	if (msg[1] & PCP_R_BIT)
		return PCP_VERDICT_DROP;

	req->version = msg[0];
	req->opcode = msg[1] & (uint8_t)~PCP_R_BIT;
	if (req->version == PCP_VERSION_NATPMP)
		return PCP_VERDICT_NATPMP;
	if (req->version != PCP_VERSION) {
		*result = PCP_RES_UNSUPP_VERSION;
		return PCP_VERDICT_ERROR;
	}
	if (len < PCP_HDR_LEN)
		return PCP_VERDICT_DROP;

	req->lifetime = rd32(msg + 4);
	memcpy(req->client_addr.b, msg + 8, 16);
	req->n_options = 0;

	if (len > PCP_MAX_MSG || len % 4 != 0) {
		*result = PCP_RES_MALFORMED_REQUEST;
		return PCP_VERDICT_ERROR;
	}
	int dlen = pcp_opcode_data_len(req->opcode);
	if (dlen < 0) {
		*result = PCP_RES_UNSUPP_OPCODE;
		return PCP_VERDICT_ERROR;
	}
	if (len < PCP_HDR_LEN + (size_t)dlen) {
		*result = PCP_RES_MALFORMED_REQUEST; /* too short for the opcode */
		return PCP_VERDICT_ERROR;
	}
	return PCP_VERDICT_OK;
}

enum pcp_verdict
pcp_parse_request_body(const uint8_t *msg, size_t len, struct pcp_request *req, uint8_t *result)
{
	size_t dlen = (size_t)pcp_opcode_data_len(req->opcode);

	memset(&req->u, 0, sizeof(req->u));
	if (req->opcode == PCP_OP_MAP)
		map_data_read(msg + PCP_HDR_LEN, &req->u.map);
	else if (req->opcode == PCP_OP_PEER)
		peer_data_read(msg + PCP_HDR_LEN, &req->u.peer);

	return options_split(msg, PCP_HDR_LEN + dlen, len, req->opcode, SPLIT_REQUEST, req->options,
			     &req->n_options, result);
}

enum pcp_verdict
pcp_parse_request(const uint8_t *msg, size_t len, struct pcp_request *req, uint8_t *result)
{
	enum pcp_verdict v = pcp_parse_request_header(msg, len, req, result);
	if (v != PCP_VERDICT_OK)
		return v;
	return pcp_parse_request_body(msg, len, req, result);
}

size_t
pcp_build_error(const uint8_t *req, size_t req_len, uint8_t result, uint32_t lifetime,
		uint32_t epoch, bool parsed, uint8_t *out)
{
	size_t n = req_len < PCP_MAX_MSG ? req_len : PCP_MAX_MSG;
	size_t out_len = pad4(n) < PCP_HDR_LEN ? PCP_HDR_LEN : pad4(n);

	memcpy(out, req, n);
	memset(out + n, 0, out_len - n);
	out[0] = PCP_VERSION; /* §9: the version the server supports */
	out[1] |= PCP_R_BIT;
	out[2] = 0;
	out[3] = result;
	wr32(out + 4, lifetime);
	wr32(out + 8, epoch);
	/* §7.2: octets 12..23 already hold the last 96 bits of the client address. */
	if (parsed)
		memset(out + 12, 0, 12);
	return out_len;
}

/* Writes header, opcode data and options; the header's first 12 octets are the caller's. */
static ssize_t
build_message(uint8_t opcode, const void *data_union, const struct pcp_option *opts,
	      uint16_t n_opts, uint8_t *out, size_t cap)
{
	int dlen = pcp_opcode_data_len(opcode);
	if (dlen < 0)
		return -EINVAL;
	size_t limit = cap < PCP_MAX_MSG ? cap : PCP_MAX_MSG;
	size_t off = PCP_HDR_LEN + (size_t)dlen;
	if (off > limit)
		return -EMSGSIZE;

	if (opcode == PCP_OP_MAP)
		map_data_write(out + PCP_HDR_LEN, data_union);
	else if (opcode == PCP_OP_PEER)
		peer_data_write(out + PCP_HDR_LEN, data_union);

	for (uint16_t i = 0; i < n_opts; i++) {
		size_t need = PCP_OPT_HDR_LEN + pad4(opts[i].len);
		if (need > limit - off)
			return -EMSGSIZE;
		out[off] = opts[i].code;
		out[off + 1] = 0;
		wr16(out + off + 2, opts[i].len);
		if (opts[i].len)
			memcpy(out + off + PCP_OPT_HDR_LEN, opts[i].data, opts[i].len);
		memset(out + off + PCP_OPT_HDR_LEN + opts[i].len, 0, pad4(opts[i].len) - opts[i].len);
		off += need;
	}
	return (ssize_t)off;
}

size_t
pcp_response_len(const struct pcp_response *resp)
{
	int dlen = pcp_opcode_data_len(resp->opcode);
	size_t len = PCP_HDR_LEN + (dlen > 0 ? (size_t)dlen : 0);
	for (uint16_t i = 0; i < resp->n_options; i++)
		len += PCP_OPT_HDR_LEN + pad4(resp->options[i].len);
	return len;
}

ssize_t
pcp_build_response(const struct pcp_response *resp, uint8_t *out, size_t cap)
{
	if (cap < PCP_HDR_LEN)
		return -EMSGSIZE;
	ssize_t n = build_message(resp->opcode, &resp->u, resp->options, resp->n_options, out, cap);
	if (n < 0)
		return n;
	out[0] = resp->version ? resp->version : PCP_VERSION;
	out[1] = (uint8_t)(PCP_R_BIT | resp->opcode);
	out[2] = 0;
	out[3] = resp->result;
	wr32(out + 4, resp->lifetime);
	wr32(out + 8, resp->epoch);
	memset(out + 12, 0, 12); /* §7.2: reserved, zero for parsed requests */
	return n;
}

ssize_t
pcp_build_request(const struct pcp_request *req, uint8_t *out, size_t cap)
{
	if (cap < PCP_HDR_LEN)
		return -EMSGSIZE;
	ssize_t n = build_message(req->opcode, &req->u, req->options, req->n_options, out, cap);
	if (n < 0)
		return n;
	out[0] = req->version ? req->version : PCP_VERSION;
	out[1] = req->opcode & (uint8_t)~PCP_R_BIT;
	out[2] = out[3] = 0;
	wr32(out + 4, req->lifetime);
	memcpy(out + 8, req->client_addr.b, 16);
	return n;
}

/* ---- responses (client side) ----------------------------------------------------------- */

enum pcp_verdict
pcp_parse_response(const uint8_t *msg, size_t len, struct pcp_response *resp)
{
	uint8_t unused;

	memset(resp, 0, offsetof(struct pcp_response, options));
	/* §8.3, in its order. */
	if (len < 4 || !(msg[1] & PCP_R_BIT))
		return PCP_VERDICT_DROP;
	resp->version = msg[0];
	resp->opcode = msg[1] & (uint8_t)~PCP_R_BIT;
	resp->result = msg[3];
	if (resp->result == PCP_RES_UNSUPP_VERSION) {
		if (len >= 12) {
			resp->lifetime = rd32(msg + 4);
			resp->epoch = rd32(msg + 8);
		}
		return PCP_VERDICT_OK;
	}
	if (len < PCP_HDR_LEN || len > PCP_MAX_MSG || len % 4 != 0)
		return PCP_VERDICT_DROP;
	resp->lifetime = rd32(msg + 4);
	resp->epoch = rd32(msg + 8);

	int dlen = pcp_opcode_data_len(resp->opcode);
	if (dlen < 0)
		return PCP_VERDICT_OK; /* an opcode we do not know: the header is all we read */
	if (len < PCP_HDR_LEN + (size_t)dlen) /* an error copying a request cut short (§8.2) */
		return resp->result != PCP_RES_SUCCESS ? PCP_VERDICT_OK : PCP_VERDICT_DROP;
	if (resp->opcode == PCP_OP_MAP)
		map_data_read(msg + PCP_HDR_LEN, &resp->u.map);
	else if (resp->opcode == PCP_OP_PEER)
		peer_data_read(msg + PCP_HDR_LEN, &resp->u.peer);
	resp->has_opcode_data = true;

	if (options_split(msg, PCP_HDR_LEN + (size_t)dlen, len, resp->opcode, SPLIT_RESPONSE,
			  resp->options, &resp->n_options, &unused) != PCP_VERDICT_OK) {
		/* An error response copies the request (§8.2), malformed options and all: its
		 * result still stands. A success response with broken options is not trusted. */
		resp->n_options = 0;
		return resp->result != PCP_RES_SUCCESS ? PCP_VERDICT_OK : PCP_VERDICT_DROP;
	}
	return PCP_VERDICT_OK;
}

/* ---- option helpers --------------------------------------------------------------------- */

const struct pcp_option *
pcp_request_option(const struct pcp_request *req, uint8_t code)
{
	for (uint16_t i = 0; i < req->n_options; i++)
		if (req->options[i].code == code)
			return &req->options[i];
	return NULL;
}

static int
option_append(struct pcp_option *opts, uint16_t *n, uint8_t code, const void *data, uint16_t len)
{
	if (*n >= PCP_MAX_OPTIONS)
		return -ENOSPC;
	opts[(*n)++] = (struct pcp_option){ code, len, data, pcp_option_desc(code) };
	return 0;
}

int
pcp_request_add_option(struct pcp_request *req, uint8_t code, const void *data, uint16_t len)
{
	return option_append(req->options, &req->n_options, code, data, len);
}

int
pcp_response_add_option(struct pcp_response *resp, uint8_t code, const void *data, uint16_t len)
{
	return option_append(resp->options, &resp->n_options, code, data, len);
}

/* §13.3 Figure 15: Reserved (8), Prefix Length (8), Remote Peer Port (16), Remote Peer IP (128). */
void
pcp_option_filter(const struct pcp_option *opt, struct pcp_filter *out)
{
	out->prefix_len = opt->data[1];
	out->remote_port = rd16(opt->data + 2);
	memcpy(out->remote_addr.b, opt->data + 4, 16);
}

void
pcp_filter_encode(const struct pcp_filter *f, uint8_t out[PCP_FILTER_LEN])
{
	out[0] = 0;
	out[1] = f->prefix_len;
	wr16(out + 2, f->remote_port);
	memcpy(out + 4, f->remote_addr.b, 16);
}

/* §13.1 Figure 13: the internal IP address, 128 bits. */
void
pcp_option_third_party(const struct pcp_option *opt, struct cgn_addr *out)
{
	memcpy(out->b, opt->data, 16);
}

/* RFC 7753 §5.1: Port Set Size (16), First Internal Port (16), Reserved (7), P (1). */
void
pcp_option_port_set(const struct pcp_option *opt, struct pcp_port_set *out)
{
	out->size = rd16(opt->data);
	out->first_internal_port = rd16(opt->data + 2);
	out->parity = opt->data[4] & 1;
}

void
pcp_port_set_encode(const struct pcp_port_set *ps, uint8_t out[PCP_PORT_SET_LEN])
{
	wr16(out, ps->size);
	wr16(out + 2, ps->first_internal_port);
	out[4] = ps->parity ? 1 : 0;
}

/* ---- PREFIX64 (RFC 7225 §4.1) ------------------------------------------------------------ */

int
pcp_option_prefix64(const struct pcp_option *opt, struct pcp_prefix64 *out)
{
	memset(out, 0, sizeof(*out));
	if (opt->len < PCP_PREFIX64_LEN)
		return -EINVAL;
	unsigned l = rd16(opt->data);
	if (!cgn_rfc6052_len_valid(l * 8)) /* "specified in [RFC6052] (i.e., 4, 5, 6, 7, 8, or 12)" */
		return -EINVAL;
	memcpy(out->pref64.addr.b, opt->data + 2, l);
	out->pref64.len = (uint8_t)(l * 8);
	memcpy(out->suffix, opt->data + 2 + l, 12 - l);
	if (opt->len == PCP_PREFIX64_LEN)
		return 0;
	if (opt->len < PCP_PREFIX64_LEN + 2)
		return -EINVAL;
	out->has_list = true;
	out->n_v4 = rd16(opt->data + PCP_PREFIX64_LEN);
	if (opt->len != PCP_PREFIX64_LEN + 2 + (size_t)out->n_v4 * PCP_PREFIX64_V4_LEN)
		return -EINVAL;
	out->v4 = opt->data + PCP_PREFIX64_LEN + 2;
	return 0;
}

int
pcp_prefix64_v4(const struct pcp_prefix64 *p, unsigned i, struct cgn_prefix *out)
{
	if (i >= p->n_v4)
		return -EINVAL;
	const uint8_t *e = p->v4 + (size_t)i * PCP_PREFIX64_V4_LEN;
	unsigned len = rd16(e);
	if (len > 32)
		return -EINVAL;
	uint32_t a = rd32(e + 2);
	if (len < 32 && (a & (0xffffffffu >> len)) != 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->addr.b[10] = out->addr.b[11] = 0xff;
	wr32(out->addr.b + 12, a);
	out->len = (uint8_t)(96 + len);
	return 0;
}

ssize_t
pcp_prefix64_encode(const struct cgn_prefix *pref64, const struct cgn_prefix *v4, unsigned n_v4, bool with_list,
		    uint8_t *out, size_t cap)
{
	unsigned l = pref64->len / 8u;
	if (!cgn_rfc6052_len_valid(pref64->len) || n_v4 > UINT16_MAX)
		return -EINVAL;
	size_t need = PCP_PREFIX64_LEN + (with_list ? 2 + (size_t)n_v4 * PCP_PREFIX64_V4_LEN : 0);
	if (need > cap)
		return -EMSGSIZE;
	wr16(out, (uint16_t)l);
	memcpy(out + 2, pref64->addr.b, l);
	memset(out + 2 + l, 0, 12 - l); /* the null suffix (RFC 7225 §4.2) */
	if (!with_list)
		return (ssize_t)need;
	wr16(out + PCP_PREFIX64_LEN, (uint16_t)n_v4);
	for (unsigned i = 0; i < n_v4; i++) {
		uint8_t *e = out + PCP_PREFIX64_LEN + 2 + (size_t)i * PCP_PREFIX64_V4_LEN;
		if (!cgn_addr_is_v4(&v4[i].addr) || v4[i].len < 96 || v4[i].len > 128)
			return -EINVAL;
		wr16(e, (uint16_t)(v4[i].len - 96));
		memcpy(e + 2, v4[i].addr.b + 12, 4);
	}
	return (ssize_t)need;
}
