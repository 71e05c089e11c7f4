/*
 * The PCP wire codec (RFC 6887 §7, §11.1, §12.1, §13; option formats of RFC 7220, 7225, 7652,
 * 7753, 7767, 7843): parses requests and responses into views over the caller's buffer, and
 * builds requests, success responses and §8.2 error responses.
 *
 * The codec knows the wire and the registries, not policy: it says whether a message is
 * well formed and which options it carries; whether an option is enabled or a client is
 * allowed to use it is the server's decision (control/).
 *
 * Every read is bounded by the length the caller passes. No allocation, no state: any thread.
 */
#ifndef PCP_WIRE_H
#define PCP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgn_addr.h"
#include "pcp_registry.h"

#define PCP_VERSION 2
#define PCP_VERSION_NATPMP 0   /* RFC 6886: a NAT-PMP request (RFC 6887 Appendix A) */
#define PCP_SERVER_PORT 5351   /* RFC 6887 §19.1 */
#define PCP_CLIENT_PORT 5350   /* unsolicited responses go to this port (§14.1.3) */
#define PCP_MAX_MSG 1100       /* maximum UDP payload (§7) */
#define PCP_HDR_LEN 24         /* request and response common headers (§7.1, §7.2) */
#define PCP_MAP_LEN 36         /* MAP opcode data (§11.1) */
#define PCP_PEER_LEN 56        /* PEER opcode data (§12.1) */
#define PCP_OPT_HDR_LEN 4      /* option header (§7.3) */
#define PCP_NONCE_LEN 12       /* mapping nonce (§11.1) */
#define PCP_FILTER_LEN 20      /* FILTER option data (§13.3) */
#define PCP_PORT_SET_LEN 5     /* PORT_SET option data (RFC 7753 §5.1) */
#define PCP_PREFIX64_LEN 14    /* PREFIX64 data without its IPv4 Prefix List (RFC 7225 §4.1) */
#define PCP_PREFIX64_V4_LEN 6  /* one IPv4 prefix of that list: length (16 bits), address (32) */
#define PCP_R_BIT 0x80         /* request (0) / response (1) */

/* The most options one message can hold: every option header with no data. */
#define PCP_MAX_OPTIONS ((PCP_MAX_MSG - PCP_HDR_LEN) / PCP_OPT_HDR_LEN)

/* MAP and the first part of PEER share this layout (§11.1, §12.1). Ports in host order. */
struct pcp_map_data {
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t protocol;
	uint16_t internal_port;
	uint16_t external_port;       /* suggested (request) or assigned (response) */
	struct cgn_addr external_addr; /* suggested (request) or assigned (response) */
};

struct pcp_peer_data {
	struct pcp_map_data map;
	uint16_t remote_port;
	struct cgn_addr remote_addr;
};

/* One option as it stands in a message: a view, valid while the message buffer is. */
struct pcp_option {
	uint8_t code;
	uint16_t len;          /* semantic length, without padding */
	const uint8_t *data;   /* len octets */
	const struct pcp_option_desc *desc; /* NULL for an unassigned optional option */
};

/* A parsed request, or a request to build. */
struct pcp_request {
	uint8_t version;
	uint8_t opcode;
	uint32_t lifetime;
	struct cgn_addr client_addr;
	union {
		struct pcp_map_data map;
		struct pcp_peer_data peer;
	} u;
	uint16_t n_options;
	struct pcp_option options[PCP_MAX_OPTIONS];
};

/* A parsed response, or a response to build. */
struct pcp_response {
	uint8_t version;
	uint8_t opcode;
	uint8_t result;
	bool has_opcode_data; /* parsed: the message was long enough to hold the opcode's data */
	uint32_t lifetime;
	uint32_t epoch;
	union {
		struct pcp_map_data map;
		struct pcp_peer_data peer;
	} u;
	uint16_t n_options;
	struct pcp_option options[PCP_MAX_OPTIONS];
};

/* What the server does with a received message (RFC 6887 §8.2). */
enum pcp_verdict {
	PCP_VERDICT_OK,     /* well formed: process the opcode */
	PCP_VERDICT_DROP,   /* silently drop */
	PCP_VERDICT_NATPMP, /* version 0: hand to the NAT-PMP handler (RFC 6886), or answer UNSUPP_VERSION */
	PCP_VERDICT_ERROR,  /* answer with an error response carrying *result */
};

/**
 * Header-level checks of §8.2, in its order: < 2 octets, R bit, version, < 24 octets, > 1100
 * octets or not a multiple of 4, unknown opcode, too short for the opcode. Fills the header
 * fields of req (version, opcode, lifetime, client address) when it gets that far.
 *
 * @param msg, len  the UDP payload; only len octets are read.
 * @param result    receives the result code when the verdict is PCP_VERDICT_ERROR.
 */
enum pcp_verdict pcp_parse_request_header(const uint8_t *msg, size_t len,
					  struct pcp_request *req, uint8_t *result);

/**
 * Parses the opcode data and the options of a request whose header passed
 * pcp_parse_request_header(). Options are checked against the IANA registry (§7.3): structure
 * and padding, length, valid opcodes, maximum occurrences; an unknown mandatory option gives
 * UNSUPP_OPTION, an unknown optional one is kept with desc == NULL. A mandatory option that is
 * not valid for the opcode gives MALFORMED_OPTION (§11.3: "does not make sense"), except
 * PREFER_FAILURE in a PEER request, which §12.1 answers with MALFORMED_REQUEST.
 *
 * @return PCP_VERDICT_OK, or PCP_VERDICT_ERROR with *result set.
 */
enum pcp_verdict pcp_parse_request_body(const uint8_t *msg, size_t len, struct pcp_request *req,
					uint8_t *result);

/** Both steps above. */
enum pcp_verdict pcp_parse_request(const uint8_t *msg, size_t len, struct pcp_request *req,
				   uint8_t *result);

/**
 * Builds an error response as §8.2 says: a copy of the request up to 1100 octets, zero-padded
 * to a multiple of 4 (and to at least a full header), version 2, R bit set, result, lifetime
 * and epoch. When the request was not successfully parsed (parsed == false) the reserved field
 * keeps the last 96 bits of the request's client address (§7.2); otherwise it is zeroed.
 *
 * @param out at least PCP_MAX_MSG octets.
 * @return the response length.
 */
size_t pcp_build_error(const uint8_t *req, size_t req_len, uint8_t result, uint32_t lifetime,
		       uint32_t epoch, bool parsed, uint8_t *out);

/**
 * Builds a response (success or error) from its fields and options, padding each option to
 * 4 octets (§7.3).
 * @return the length, or -EMSGSIZE if it would exceed cap or PCP_MAX_MSG (the server then
 *         answers MALFORMED_REQUEST, §7.3), -EINVAL for an opcode without a known layout.
 */
/** @return the octets resp takes on the wire (header, opcode data, options padded, §7). */
size_t pcp_response_len(const struct pcp_response *resp);
ssize_t pcp_build_response(const struct pcp_response *resp, uint8_t *out, size_t cap);

/** Builds a request; same return values as pcp_build_response(). */
ssize_t pcp_build_request(const struct pcp_request *req, uint8_t *out, size_t cap);

/**
 * Parses a response as a client does (§8.3): < 4 octets or R bit clear → DROP; UNSUPP_VERSION
 * is returned as OK with only the header fields filled; < 24, > 1100 or not a multiple of 4 →
 * DROP. Options are split but not judged (a client ignores options it does not understand).
 * For an opcode without a known layout only the header is read.
 */
enum pcp_verdict pcp_parse_response(const uint8_t *msg, size_t len, struct pcp_response *resp);

/** @return the opcode data length of opcode, or -1 if the codec knows no layout for it. */
int pcp_opcode_data_len(uint8_t opcode);

/** @return the first option with this code in req, or NULL. */
const struct pcp_option *pcp_request_option(const struct pcp_request *req, uint8_t code);

/** Appends an option to a request or response being built. @return 0 or -ENOSPC. */
int pcp_request_add_option(struct pcp_request *req, uint8_t code, const void *data, uint16_t len);
int pcp_response_add_option(struct pcp_response *resp, uint8_t code, const void *data,
			    uint16_t len);

/* Decoded forms of the options whose data has structure. */

/* FILTER (§13.3). */
struct pcp_filter {
	uint8_t prefix_len;           /* 0..128; IPv4 filters use 96..128 */
	uint16_t remote_port;         /* host order; 0 = all ports */
	struct cgn_addr remote_addr;
};

/* PORT_SET (RFC 7753 §5.1). */
struct pcp_port_set {
	uint16_t size;
	uint16_t first_internal_port;
	bool parity;
};

/*
 * PREFIX64 (RFC 7225 §4.1, Figures 1 and 2): Prefix64 Length (16 bits, in octets: 4, 5, 6, 7,
 * 8 or 12), the Prefix64's first L octets, a Suffix of 12 - L octets, then optionally the IPv4
 * Prefix List: IPv4 Prefix Count (16 bits) and Count entries of IPv4 Prefix Length (16 bits,
 * 0..32) and IPv4 Address (32 bits). The Suffix covers every octet of the IPv4-converted
 * address that is neither prefix nor IPv4 address: the u octet (RFC 6052 §2.2) and the
 * RFC 6052 suffix; cgnat's NAT64 embeds with the null suffix, so it sends zeros there.
 */
struct pcp_prefix64 {
	struct cgn_prefix pref64;    /* the Prefix64, its length in bits (32..96), the rest zero */
	uint8_t suffix[12];          /* the Suffix's 12 - pref64.len / 8 octets; zero beyond */
	bool has_list;               /* the IPv4 Prefix List is present (Count, maybe 0) */
	uint16_t n_v4;               /* IPv4 Prefix Count */
	const uint8_t *v4;           /* its n_v4 entries, PCP_PREFIX64_V4_LEN octets each (a view) */
};

/**
 * Decodes a PREFIX64 option. Any thread.
 * @return 0; -EINVAL if the data is shorter than 14 octets, the Prefix64 Length is not one of
 *         RFC 6052's (4, 5, 6, 7, 8, 12), or the length does not match the IPv4 Prefix Count
 *         (exactly 14, or 16 + 6 x Count octets).
 */
int pcp_option_prefix64(const struct pcp_option *opt, struct pcp_prefix64 *out);

/**
 * Reads entry i (< p->n_v4) of a decoded PREFIX64's IPv4 Prefix List. Any thread.
 * @param out receives the prefix, IPv4-mapped (length 96 + the IPv4 length).
 * @return 0; -EINVAL if the IPv4 Prefix Length exceeds 32 or host bits are set (RFC 4632
 *         §3.1: "the client ignores that IPv4 prefix", RFC 7225 §4.3).
 */
int pcp_prefix64_v4(const struct pcp_prefix64 *p, unsigned i, struct cgn_prefix *out);

/**
 * Encodes a PREFIX64 option's data: pref64 (an RFC 6052 length) with the null suffix, and, if
 * with_list, the IPv4 Prefix List of v4[0..n_v4) (IPv4-mapped prefixes). Any thread.
 * @return the data length (14, or 16 + 6 x n_v4), or -EINVAL for a Prefix64 length RFC 6052
 *         does not allow or an IPv4 prefix that is not IPv4, -EMSGSIZE if it exceeds cap.
 */
ssize_t pcp_prefix64_encode(const struct cgn_prefix *pref64, const struct cgn_prefix *v4, unsigned n_v4,
			    bool with_list, uint8_t *out, size_t cap);

/* Decoders; each assumes the option passed the registry length check. */
void pcp_option_filter(const struct pcp_option *opt, struct pcp_filter *out);
void pcp_option_third_party(const struct pcp_option *opt, struct cgn_addr *out);
void pcp_option_port_set(const struct pcp_option *opt, struct pcp_port_set *out);

/* Encoders into caller buffers of the option's fixed length. */
void pcp_filter_encode(const struct pcp_filter *f, uint8_t out[PCP_FILTER_LEN]);
void pcp_port_set_encode(const struct pcp_port_set *ps, uint8_t out[PCP_PORT_SET_LEN]);

#endif /* PCP_WIRE_H */
