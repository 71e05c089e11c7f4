/*
 * pcpc: a PCP client (RFC 6887) for operators and tests. Sends one MAP, PEER or ANNOUNCE
 * request (or raw octets), retransmits per §8.1.1 until a matching response arrives or the
 * bounds run out, prints the decoded response and exits with its result code.
 *
 * Both families: the server is an IPv4 address or an IPv6 one ("[2001:db8::1]:5351", a bare
 * "2001:db8::1", "fe80::1%eth0" with its zone); the request's PCP Client IP Address is the
 * socket's own source, so from an IPv6 socket the internal address is IPv6 (a NAT64 mapping on
 * a server fronting a NAT64, RFC 6887 §1 and RFC 7225). --prefix64 asks for the NAT64 prefixes
 * (RFC 7225 §4.3) and every PREFIX64 of the response is printed on a "prefix64:" line.
 * --port-set N asks for N consecutive ports (RFC 7753); the PORT_SET granted is printed.
 *
 * Exit status: the response's result code (0 = SUCCESS), 100 no response, 101 usage error,
 * 102 local error (socket, address).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cgn_clock.h"
#include "pcp_description.h"
#include "pcp_wire.h"

#define EXIT_NO_RESPONSE 100
#define EXIT_USAGE 101
#define EXIT_LOCAL 102
#define MAX_FILTERS 16

struct args {
	const char *command;
	const char *raw_hex;
	struct cgn_addr server;
	uint16_t server_port;
	uint32_t server_zone;          /* sin6_scope_id of a link-local server, 0 = none */
	struct cgn_addr bind_addr;
	uint16_t bind_port;
	uint32_t bind_zone;
	bool have_bind;
	uint8_t protocol;
	uint16_t internal_port, external_port, remote_port;
	struct cgn_addr external_addr, remote_addr;
	bool have_external_addr, have_remote;
	uint32_t lifetime;
	uint8_t nonce[PCP_NONCE_LEN];
	bool have_nonce;
	struct cgn_addr third_party;
	bool have_third_party;
	bool prefer_failure;
	bool prefix64;                 /* ask for PREFIX64 (RFC 7225 §4.3) */
	uint32_t port_set;             /* PORT_SET (RFC 7753) Port Set Size; 0 = no option */
	bool have_port_set, port_set_parity;
	struct pcp_filter filters[MAX_FILTERS];
	unsigned n_filters;
	struct cgn_addr client_ip;
	bool have_client_ip;
	const char *description;
	double irt, mrt, mrd;
	unsigned mrc;
	bool json, quiet;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: pcpc [options] map|peer|announce\n"
		"       pcpc [options] raw HEX\n"
		"\n"
		"server and transport:\n"
		"  -s, --server ADDR[:PORT]      PCP server (default 127.0.0.1:5351); IPv6 as [ADDR]:PORT\n"
		"                                or a bare ADDR, a link-local one with its zone (fe80::1%%eth0)\n"
		"  -b, --bind ADDR[:PORT]        source address and port of the requests (the internal\n"
		"                                address of a MAP or PEER: IPv6 for a NAT64 mapping)\n"
		"request fields:\n"
		"  -p, --protocol tcp|udp|N      mapping protocol (map, peer)\n"
		"  -i, --internal-port PORT      internal port (map, peer)\n"
		"  -e, --external-port PORT      suggested external port\n"
		"  -E, --external-addr ADDR      suggested external address\n"
		"  -r, --remote ADDR:PORT        remote peer (peer); IPv6 as [ADDR]:PORT\n"
		"  -l, --lifetime SECONDS        requested lifetime (default 7200; 0 deletes a mapping)\n"
		"  -d, --delete                  same as --lifetime 0\n"
		"  -n, --nonce HEX               mapping nonce, 24 hex digits (default random)\n"
		"  -C, --client-ip ADDR          PCP Client's IP Address field (default: the source address)\n"
		"options (RFC 6887 §13):\n"
		"  -t, --third-party ADDR        THIRD_PARTY: request for another host\n"
		"  -f, --prefer-failure          PREFER_FAILURE: fail rather than take another port\n"
		"  -F, --filter PREFIX[:PORT]    FILTER: allow only this remote peer (repeatable);\n"
		"                                IPv6 as [PREFIX]:PORT or a bare PREFIX\n"
		"  -D, --description TEXT        DESCRIPTION (RFC 7220)\n"
		"      --prefix64                PREFIX64 (RFC 7225): ask for the NAT64 prefixes (map,\n"
		"                                announce); each one answered is printed as\n"
		"                                \"prefix64: PREF64/LEN suffix HEX|- ipv4 any|none|V4/LEN,...\"\n"
		"      --port-set N              PORT_SET (RFC 7753, map): N consecutive ports from the\n"
		"                                internal port (1..65535; 65535: as many as the server gives);\n"
		"                                printed \"option: PORT_SET size N first_internal_port P parity B\"\n"
		"      --port-set-parity         PORT_SET's P bit: keep the parity of the ports\n"
		"retransmission (§8.1.1):\n"
		"      --irt SECONDS             initial retransmission time (default 3)\n"
		"      --mrt SECONDS             maximum retransmission time (default 1024)\n"
		"      --mrc COUNT               maximum transmissions (default 4; 0 = no limit)\n"
		"      --mrd SECONDS             maximum retransmission duration (default 0 = none)\n"
		"output:\n"
		"  -j, --json                    print the response as JSON\n"
		"  -q, --quiet                   print nothing; the exit status tells the result\n"
		"\n"
		"exit status: the result code (0 = SUCCESS), 100 no response, 101 usage, 102 local error\n");
}

/* "ADDR[:PORT]", "[V6ADDR]:PORT" or a bare "V6ADDR"; an IPv6 address may end in "%ZONE" (an
 * interface name or index), which goes to *zone (sin6_scope_id; 0 without one). */
static int
parse_hostport(const char *text, struct cgn_addr *addr, uint16_t *port, uint32_t *zone, bool port_required)
{
	char host[CGN_ADDR_STRLEN + IF_NAMESIZE + 1];
	const char *p = NULL;
	size_t n;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || (size_t)(end - text - 1) >= sizeof(host))
			return -1;
		n = (size_t)(end - text - 1);
		memcpy(host, text + 1, n);
		if (end[1] == ':')
			p = end + 2;
		else if (end[1])
			return -1;
	} else {
		const char *colon = strrchr(text, ':');
		bool v6 = colon && strchr(text, ':') != colon;
		n = colon && !v6 ? (size_t)(colon - text) : strlen(text);
		if (colon && !v6)
			p = colon + 1;
		if (n >= sizeof(host))
			return -1;
		memcpy(host, text, n);
	}
	host[n] = '\0';
	*zone = 0;
	char *pct = strchr(host, '%');
	if (pct) {
		*pct++ = '\0';
		char *end;
		unsigned long idx = strtoul(pct, &end, 10);
		*zone = *pct && !*end ? (uint32_t)idx : if_nametoindex(pct);
		if (*zone == 0)
			return -1;
	}
	if (strlen(host) >= CGN_ADDR_STRLEN || cgn_addr_parse(host, addr) < 0 || (pct && cgn_addr_is_v4(addr)))
		return -1;
	if (p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || *end || v < 0 || v > 65535)
			return -1;
		*port = (uint16_t)v;
	} else if (port_required) {
		return -1;
	}
	return 0;
}

static int
parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
parse_hex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == ':' || *s == '\n')
			continue;
		if (n / 2 >= max)
			return -1;
		int v = (*s >= '0' && *s <= '9') ? *s - '0' : (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10
			: (*s >= 'A' && *s <= 'F') ? *s - 'A' + 10 : -1;
		if (v < 0)
			return -1;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	if (n % 2)
		return -1;
	*len = n / 2;
	return 0;
}

static int
parse_protocol(const char *s, uint8_t *out)
{
	uint32_t v;
	if (strcmp(s, "tcp") == 0)
		*out = 6;
	else if (strcmp(s, "udp") == 0)
		*out = 17;
	else if (parse_u32(s, 255, &v) == 0)
		*out = (uint8_t)v;
	else
		return -1;
	return 0;
}

/* "PREFIX[:PORT]" or "[V6PREFIX]:PORT". */
static int
parse_filter(const char *text, struct pcp_filter *f)
{
	char buf[CGN_PREFIX_STRLEN + 8];
	struct cgn_prefix pfx;
	const char *port = NULL;

	if (strlen(text) >= sizeof(buf))
		return -1;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end)
			return -1;
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - text - 1), text + 1);
		if (end[1] == ':')
			port = end + 2;
	} else {
		snprintf(buf, sizeof(buf), "%s", text);
		char *colon = strrchr(buf, ':');
		if (colon && strchr(buf, ':') == colon) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (cgn_prefix_parse(buf, &pfx) < 0)
		return -1;
	f->prefix_len = pfx.len;
	f->remote_addr = pfx.addr;
	f->remote_port = 0;
	if (port) {
		uint32_t v;
		if (parse_u32(port, 65535, &v) < 0)
			return -1;
		f->remote_port = (uint16_t)v;
	}
	return 0;
}

enum { OPT_IRT = 1000, OPT_MRT, OPT_MRC, OPT_MRD, OPT_PREFIX64, OPT_PORT_SET, OPT_PORT_SET_PARITY };

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },      { "bind", required_argument, NULL, 'b' },
		{ "protocol", required_argument, NULL, 'p' },    { "internal-port", required_argument, NULL, 'i' },
		{ "external-port", required_argument, NULL, 'e' }, { "external-addr", required_argument, NULL, 'E' },
		{ "remote", required_argument, NULL, 'r' },      { "lifetime", required_argument, NULL, 'l' },
		{ "delete", no_argument, NULL, 'd' },            { "nonce", required_argument, NULL, 'n' },
		{ "client-ip", required_argument, NULL, 'C' },   { "third-party", required_argument, NULL, 't' },
		{ "prefer-failure", no_argument, NULL, 'f' },    { "filter", required_argument, NULL, 'F' },
		{ "description", required_argument, NULL, 'D' }, { "irt", required_argument, NULL, OPT_IRT },
		{ "mrt", required_argument, NULL, OPT_MRT },     { "mrc", required_argument, NULL, OPT_MRC },
		{ "mrd", required_argument, NULL, OPT_MRD },     { "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },             { "help", no_argument, NULL, 'h' },
		{ "prefix64", no_argument, NULL, OPT_PREFIX64 },
		{ "port-set", required_argument, NULL, OPT_PORT_SET },
		{ "port-set-parity", no_argument, NULL, OPT_PORT_SET_PARITY },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v, zone;
	size_t len;
	int c;

	cgn_addr_parse("127.0.0.1", &a->server);
	a->server_port = PCP_SERVER_PORT;
	a->lifetime = 7200;
	a->irt = 3;
	a->mrt = 1024;
	a->mrc = 4;
	a->mrd = 0;

	while ((c = getopt_long(argc, argv, "s:b:p:i:e:E:r:l:dn:C:t:fF:D:jqh", longopts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 's':
			bad = parse_hostport(optarg, &a->server, &a->server_port, &a->server_zone, false);
			break;
		case 'b':
			bad = parse_hostport(optarg, &a->bind_addr, &a->bind_port, &a->bind_zone, false);
			a->have_bind = true;
			break;
		case 'p':
			bad = parse_protocol(optarg, &a->protocol);
			break;
		case 'i':
			bad = parse_u32(optarg, 65535, &v);
			a->internal_port = (uint16_t)v;
			break;
		case 'e':
			bad = parse_u32(optarg, 65535, &v);
			a->external_port = (uint16_t)v;
			break;
		case 'E':
			bad = cgn_addr_parse(optarg, &a->external_addr);
			a->have_external_addr = true;
			break;
		case 'r':
			bad = parse_hostport(optarg, &a->remote_addr, &a->remote_port, &zone, true) || zone != 0;
			a->have_remote = true;
			break;
		case 'l':
			bad = parse_u32(optarg, UINT32_MAX, &a->lifetime);
			break;
		case 'd':
			a->lifetime = 0;
			break;
		case 'n':
			bad = parse_hex(optarg, a->nonce, sizeof(a->nonce), &len) || len != PCP_NONCE_LEN;
			a->have_nonce = true;
			break;
		case 'C':
			bad = cgn_addr_parse(optarg, &a->client_ip);
			a->have_client_ip = true;
			break;
		case 't':
			bad = cgn_addr_parse(optarg, &a->third_party);
			a->have_third_party = true;
			break;
		case 'f':
			a->prefer_failure = true;
			break;
		case OPT_PREFIX64:
			a->prefix64 = true;
			break;
		case OPT_PORT_SET: /* 0 is sent as asked: a server must refuse it (RFC 7753 §4.2) */
			bad = parse_u32(optarg, 65535, &a->port_set);
			a->have_port_set = true;
			break;
		case OPT_PORT_SET_PARITY:
			a->port_set_parity = true;
			break;
		case 'F':
			if (a->n_filters >= MAX_FILTERS) {
				fprintf(stderr, "pcpc: at most %d filters\n", MAX_FILTERS);
				return -1;
			}
			bad = parse_filter(optarg, &a->filters[a->n_filters++]);
			break;
		case 'D':
			a->description = optarg;
			bad = strlen(optarg) > 1016;
			break;
		case OPT_IRT:
		case OPT_MRT:
		case OPT_MRD: {
			char *end;
			double d = strtod(optarg, &end);
			bad = end == optarg || *end || d < 0 || (c == OPT_IRT && d <= 0);
			*(c == OPT_IRT ? &a->irt : c == OPT_MRT ? &a->mrt : &a->mrd) = d;
			break;
		}
		case OPT_MRC:
			bad = parse_u32(optarg, 1000000, &v);
			a->mrc = v;
			break;
		case 'j':
			a->json = true;
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "pcpc: invalid value for -%c: '%s'\n", c < 256 ? c : '-', optarg);
			return -1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -1;
	}
	a->command = argv[optind++];
	if (strcmp(a->command, "raw") == 0) {
		if (optind >= argc) {
			fprintf(stderr, "pcpc: raw needs the request in hex\n");
			return -1;
		}
		a->raw_hex = argv[optind++];
	}
	if (optind < argc) {
		fprintf(stderr, "pcpc: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	bool map = strcmp(a->command, "map") == 0, peer = strcmp(a->command, "peer") == 0;
	if (!map && !peer && strcmp(a->command, "announce") != 0 && strcmp(a->command, "raw") != 0) {
		fprintf(stderr, "pcpc: unknown command '%s'\n", a->command);
		return -1;
	}
	if (peer && !a->have_remote) {
		fprintf(stderr, "pcpc: peer needs --remote ADDR:PORT\n");
		return -1;
	}
	/* RFC 7225 §4.1: "Valid for Opcodes: MAP, ANNOUNCE" (raw sends its own octets). */
	if (a->prefix64 && (peer || a->raw_hex)) {
		fprintf(stderr, "pcpc: --prefix64 is for map and announce\n");
		return -1;
	}
	/* RFC 7753 §4: "Valid for Opcodes: MAP". */
	if ((a->have_port_set || a->port_set_parity) && !map) {
		fprintf(stderr, "pcpc: --port-set is for map\n");
		return -1;
	}
	if (a->port_set_parity && !a->have_port_set) {
		fprintf(stderr, "pcpc: --port-set-parity needs --port-set N\n");
		return -1;
	}
	if (!a->have_external_addr) /* §11.1: all-zeros of the family we expect */
		a->external_addr = cgn_addr_from_v4(0);
	return 0;
}

static int
build_request(const struct args *a, const struct cgn_addr *client, uint8_t *out, size_t *len)
{
	static struct pcp_request req;
	uint8_t filters[MAX_FILTERS][PCP_FILTER_LEN], prefix64[PCP_PREFIX64_LEN], port_set[PCP_PORT_SET_LEN];

	if (a->raw_hex)
		return parse_hex(a->raw_hex, out, PCP_MAX_MSG + 64, len);

	memset(&req, 0, sizeof(req));
	req.version = PCP_VERSION;
	req.client_addr = a->have_client_ip ? a->client_ip : *client;
	if (strcmp(a->command, "announce") == 0) {
		req.opcode = PCP_OP_ANNOUNCE;
		req.lifetime = 0; /* §14.1.2 */
	} else {
		req.opcode = strcmp(a->command, "map") == 0 ? PCP_OP_MAP : PCP_OP_PEER;
		req.lifetime = a->lifetime;
		struct pcp_map_data *m = &req.u.map;
		memcpy(m->nonce, a->nonce, PCP_NONCE_LEN);
		m->protocol = a->protocol;
		m->internal_port = a->internal_port;
		m->external_port = a->lifetime ? a->external_port : 0; /* §15.1 erratum 3621 */
		m->external_addr = a->external_addr;
		if (req.opcode == PCP_OP_PEER) {
			req.u.peer.remote_port = a->remote_port;
			req.u.peer.remote_addr = a->remote_addr;
		}
	}
	if (a->have_third_party)
		pcp_request_add_option(&req, PCP_OPT_THIRD_PARTY, a->third_party.b, 16);
	if (a->prefer_failure)
		pcp_request_add_option(&req, PCP_OPT_PREFER_FAILURE, NULL, 0);
	for (unsigned i = 0; i < a->n_filters; i++) {
		pcp_filter_encode(&a->filters[i], filters[i]);
		pcp_request_add_option(&req, PCP_OPT_FILTER, filters[i], PCP_FILTER_LEN);
	}
	if (a->have_port_set) {
		/* RFC 7753 §4: "In a request, this field MUST be set equal to the Internal Port". */
		struct pcp_port_set ps = { .size = (uint16_t)a->port_set, .first_internal_port = a->internal_port,
					   .parity = a->port_set_parity };
		pcp_port_set_encode(&ps, port_set);
		pcp_request_add_option(&req, PCP_OPT_PORT_SET, port_set, PCP_PORT_SET_LEN);
	}
	if (a->description)
		pcp_request_add_option(&req, PCP_OPT_DESCRIPTION, a->description, (uint16_t)strlen(a->description));
	if (a->prefix64) {
		/* RFC 7225 §4.3: "When enclosed in a PCP request, the Prefix64 MUST be set to ::/96";
		 * no suffix octets then, and no IPv4 Prefix List (its Count would be 0, §4.1). */
		const struct cgn_prefix unspecified96 = { .len = 96 };
		ssize_t n = pcp_prefix64_encode(&unspecified96, NULL, 0, false, prefix64, sizeof(prefix64));
		if (n != PCP_PREFIX64_LEN)
			return -1;
		pcp_request_add_option(&req, PCP_OPT_PREFIX64, prefix64, (uint16_t)n);
	}
	ssize_t n = pcp_build_request(&req, out, PCP_MAX_MSG);
	if (n < 0) {
		fprintf(stderr, "pcpc: the request does not fit in %d octets\n", PCP_MAX_MSG);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* RAND of §8.1.1: uniform in [-0.1, +0.1]. */
static double
rand_factor(void)
{
	uint32_t r;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	return ((double)r / UINT32_MAX) * 0.2 - 0.1;
}

/* §8.3: a response matches if its opcode does, and for MAP/PEER its nonce, protocol and
 * internal port (§11.4; and for PEER the remote peer, §12.4) do. */
static bool
response_matches(const uint8_t *req, size_t req_len, const struct pcp_response *r)
{
	if (req_len < 2 || r->opcode != (req[1] & 0x7f))
		return false;
	if (r->result == PCP_RES_UNSUPP_VERSION || (r->opcode != PCP_OP_MAP && r->opcode != PCP_OP_PEER))
		return true;
	if (req_len < PCP_HDR_LEN + PCP_MAP_LEN)
		return true; /* a malformed request we sent on purpose: the opcode is all we have */
	const uint8_t *rd = req + PCP_HDR_LEN;
	if (memcmp(rd, r->u.map.nonce, PCP_NONCE_LEN) != 0 || rd[12] != r->u.map.protocol ||
	    (uint16_t)(rd[16] << 8 | rd[17]) != r->u.map.internal_port)
		return false;
	/* §12.4: for PEER the remote peer address and port too; a NAT64 gives them back as the
	 * client sent them (an address under its Pref64, not the IPv4 one it stands for). */
	if (r->opcode == PCP_OP_PEER && req_len >= PCP_HDR_LEN + PCP_PEER_LEN &&
	    ((uint16_t)(rd[36] << 8 | rd[37]) != r->u.peer.remote_port ||
	     memcmp(rd + 40, r->u.peer.remote_addr.b, 16) != 0))
		return false;
	return true;
}

static void
print_addr_port(const char *label, const struct cgn_addr *a, uint16_t port, bool json, bool *first)
{
	char buf[CGN_ADDR_STRLEN];
	cgn_addr_format(a, buf, sizeof(buf));
	if (json)
		printf("%s\"%s\": \"%s%s%s:%u\"", *first ? "" : ", ", label, cgn_addr_is_v4(a) ? "" : "[", buf,
		       cgn_addr_is_v4(a) ? "" : "]", port);
	else
		printf("%s: %s%s%s:%u\n", label, cgn_addr_is_v4(a) ? "" : "[", buf, cgn_addr_is_v4(a) ? "" : "]",
		       port);
	*first = false;
}

/* A PREFIX64 option (RFC 7225 §4.1) in text form, for print_option(). */
struct prefix64_text {
	char pref64[CGN_PREFIX_STRLEN]; /* "64:ff9b::/96" */
	char suffix[25];                /* the Suffix's 12 - L octets in hex, "" for a /96 */
	char ipv4[4096];                /* the valid IPv4 prefixes, comma-separated, each quoted in JSON: up to 176 of at most 23 octets */
	bool has_list;
	unsigned n_ipv4, ignored;
};

/*
 * Decodes a PREFIX64 option into text. Entries of the IPv4 Prefix List that are not valid
 * (length > 32, host bits set) are left out and counted: "the PCP client ignores that IPv4
 * prefix" (§4.3). @return false if the option does not decode.
 */
static bool
format_prefix64(const struct pcp_option *o, bool json, struct prefix64_text *t)
{
	struct pcp_prefix64 p;
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	if (pcp_option_prefix64(o, &p) < 0)
		return false;
	cgn_prefix_format(&p.pref64, t->pref64, sizeof(t->pref64));
	for (unsigned i = 0; i < 12 - p.pref64.len / 8u; i++)
		snprintf(t->suffix + 2 * i, 3, "%02x", p.suffix[i]);
	t->has_list = p.has_list;
	for (unsigned i = 0; p.has_list && i < p.n_v4; i++) {
		struct cgn_prefix v4;
		char text[CGN_PREFIX_STRLEN];
		if (pcp_prefix64_v4(&p, i, &v4) < 0) {
			t->ignored++;
			continue;
		}
		cgn_prefix_format(&v4, text, sizeof(text));
		int k = snprintf(t->ipv4 + n, sizeof(t->ipv4) - n, json ? "%s\"%s\"" : "%s%s", t->n_ipv4 ? "," : "", text);
		if (k < 0 || (size_t)k >= sizeof(t->ipv4) - n)
			return false; /* cannot happen: 1100 octets of message hold at most 176 entries of 6 */
		n += (size_t)k;
		t->n_ipv4++;
	}
	return true;
}

static void
print_option(const struct pcp_option *o, bool json, bool first)
{
	char text[1100], a[CGN_ADDR_STRLEN];
	const char *name = o->desc ? o->desc->name : "UNKNOWN";
	struct prefix64_text p64;
	text[0] = '\0';
	if (o->code == PCP_OPT_PREFIX64 && format_prefix64(o, json, &p64)) {
		/* "prefix64: PREF64/LEN suffix HEX|- ipv4 any|none|LIST[ ignored N]": "any" when the
		 * option has no IPv4 Prefix List ("the PCP client assumes the prefix is valid for any
		 * destination IPv4 address", §4.1), "none" when it lists no valid prefix. */
		if (!json) {
			printf("prefix64: %s suffix %s ipv4 %s", p64.pref64, p64.suffix[0] ? p64.suffix : "-",
			       !p64.has_list ? "any" : p64.n_ipv4 ? p64.ipv4 : "none");
			if (p64.ignored)
				printf(" ignored %u", p64.ignored);
			printf("\n");
			return;
		}
		printf("%s{\"code\": %u, \"name\": \"%s\", \"prefix64\": \"%s\", \"suffix\": \"%s\", \"ipv4\": %s%s%s, "
		       "\"ignored\": %u, \"value\": \"", first ? "" : ", ", o->code, name, p64.pref64, p64.suffix,
		       p64.has_list ? "[" : "null", p64.ipv4, p64.has_list ? "]" : "", p64.ignored);
		for (uint16_t i = 0; i < o->len; i++)
			printf("%02x", o->data[i]);
		printf("\"}");
		return;
	}
	if (o->code == PCP_OPT_PREFIX64 && !json)
		printf("prefix64: malformed\n"); /* and its octets below */
	if (o->code == PCP_OPT_THIRD_PARTY && o->len == 16) {
		struct cgn_addr t;
		pcp_option_third_party(o, &t);
		snprintf(text, sizeof(text), "%s", cgn_addr_format(&t, a, sizeof(a)));
	} else if (o->code == PCP_OPT_FILTER && o->len == PCP_FILTER_LEN) {
		struct pcp_filter f;
		pcp_option_filter(o, &f);
		bool v4 = cgn_addr_is_v4(&f.remote_addr) && f.prefix_len >= 96;
		snprintf(text, sizeof(text), "%s%s/%u%s:%u", v4 ? "" : "[", cgn_addr_format(&f.remote_addr, a, sizeof(a)),
			 v4 ? f.prefix_len - 96 : f.prefix_len, v4 ? "" : "]", f.remote_port);
	} else if (o->code == PCP_OPT_PORT_SET && o->len == PCP_PORT_SET_LEN) {
		struct pcp_port_set ps;
		pcp_option_port_set(o, &ps);
		snprintf(text, sizeof(text), "size %u first_internal_port %u parity %u", ps.size, ps.first_internal_port,
			 ps.parity);
	} else if (o->code == PCP_OPT_DESCRIPTION) {
		/* RFC 7220: UTF-8 text, as a JSON string body (ASCII with --json; UTF-8 kept
		 * otherwise), control characters escaped, an invalid octet as U+FFFD: the text as
		 * the server stored it (possibly cut), whatever it holds. 1016 octets escape to at
		 * most 6 times as many. */
		static char desc[6 * 1016 + 1];
		pcp_utf8_escape(o->data, o->len, json, desc, sizeof(desc), NULL);
		if (json)
			printf("%s{\"code\": %u, \"name\": \"%s\", \"value\": \"%s\"}", first ? "" : ", ", o->code, name,
			       desc);
		else
			printf("option: %s %s\n", name, desc);
		return;
	} else {
		for (size_t i = 0; i < o->len && 2 * i + 2 < sizeof(text); i++)
			snprintf(text + 2 * i, 3, "%02x", o->data[i]);
	}
	if (json)
		printf("%s{\"code\": %u, \"name\": \"%s\", \"value\": \"%s\"}", first ? "" : ", ", o->code, name, text);
	else
		printf("option: %s %s\n", name, text);
}

static void
print_response(const struct pcp_response *r, bool json)
{
	const char *rname = pcp_result_name(r->result);
	const char *oname = pcp_opcode_name(r->opcode);
	bool first = true;

	if (json) {
		printf("{\"result\": \"%s\", \"result_code\": %u, \"opcode\": \"%s\", \"version\": %u, "
		       "\"lifetime\": %u, \"epoch\": %u",
		       rname ? rname : "UNKNOWN", r->result, oname ? oname : "UNKNOWN", r->version, r->lifetime,
		       r->epoch);
		first = false;
	} else {
		printf("result: %s (%u)\nopcode: %s\nversion: %u\nlifetime: %u\nepoch: %u\n",
		       rname ? rname : "UNKNOWN", r->result, oname ? oname : "UNKNOWN", r->version, r->lifetime,
		       r->epoch);
	}
	/* UNSUPP_VERSION, or an error copying a request cut short: only the header is known. */
	if ((r->opcode == PCP_OP_MAP || r->opcode == PCP_OP_PEER) && r->has_opcode_data) {
		const struct pcp_map_data *m = &r->u.map;
		char nonce[2 * PCP_NONCE_LEN + 1];
		for (int i = 0; i < PCP_NONCE_LEN; i++)
			snprintf(nonce + 2 * i, 3, "%02x", m->nonce[i]);
		if (json)
			printf(", \"nonce\": \"%s\", \"protocol\": %u, \"internal_port\": %u", nonce, m->protocol,
			       m->internal_port);
		else
			printf("nonce: %s\nprotocol: %u\ninternal port: %u\n", nonce, m->protocol, m->internal_port);
		print_addr_port("external", &m->external_addr, m->external_port, json, &first);
		if (r->opcode == PCP_OP_PEER)
			print_addr_port("remote", &r->u.peer.remote_addr, r->u.peer.remote_port, json, &first);
	}
	if (json) {
		printf(", \"options\": [");
		for (uint16_t i = 0; i < r->n_options; i++)
			print_option(&r->options[i], true, i == 0);
		printf("]}\n");
	} else {
		for (uint16_t i = 0; i < r->n_options; i++)
			print_option(&r->options[i], false, false);
	}
}

int
main(int argc, char **argv)
{
	static struct args a;
	static struct pcp_response resp;
	uint8_t req[PCP_MAX_MSG + 64], buf[PCP_MAX_MSG + 64];
	size_t req_len;

	if (parse_args(argc, argv, &a) < 0)
		return EXIT_USAGE;
	if (!a.have_nonce && getrandom(a.nonce, sizeof(a.nonce), 0) != sizeof(a.nonce)) {
		perror("pcpc: getrandom");
		return EXIT_LOCAL;
	}

	struct sockaddr_storage ss, local;
	socklen_t sl, ll = sizeof(local);
	cgn_addr_to_sockaddr(&a.server, a.server_port, &ss, &sl);
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_scope_id = a.server_zone;
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("pcpc: socket");
		return EXIT_LOCAL;
	}
	if (a.have_bind) {
		struct sockaddr_storage bs;
		socklen_t bl;
		cgn_addr_to_sockaddr(&a.bind_addr, a.bind_port, &bs, &bl);
		if (bs.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&bs)->sin6_scope_id = a.bind_zone;
		if (bind(fd, (struct sockaddr *)&bs, bl) < 0) {
			perror("pcpc: bind");
			return EXIT_LOCAL;
		}
	}
	/* Connected: the kernel drops datagrams from anyone but the server (§8.3 first check). */
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 || getsockname(fd, (struct sockaddr *)&local, &ll) < 0) {
		perror("pcpc: connect");
		return EXIT_LOCAL;
	}
	struct cgn_addr client;
	uint16_t client_port;
	cgn_addr_from_sockaddr((struct sockaddr *)&local, &client, &client_port);
	if (build_request(&a, &client, req, &req_len) < 0) {
		fprintf(stderr, "pcpc: cannot build the request\n");
		return EXIT_USAGE;
	}

	/* §8.1.1: RT = (1 + RAND) * IRT, then RT = (1 + RAND) * MIN(2 * RTprev, MRT). */
	double start = cgn_clock_s(), rt = (1 + rand_factor()) * a.irt;
	for (unsigned sent = 0;;) {
		if (send(fd, req, req_len, 0) < 0 && errno != ECONNREFUSED) {
			perror("pcpc: send");
			return EXIT_LOCAL;
		}
		sent++;
		double deadline = cgn_clock_s() + rt;
		if (a.mrd > 0 && deadline > start + a.mrd)
			deadline = start + a.mrd;
		for (;;) {
			double left = deadline - cgn_clock_s();
			if (left <= 0)
				break;
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
				continue;
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0)
				continue; /* ECONNREFUSED from an ICMP error: keep waiting until RT */
			if (pcp_parse_response(buf, (size_t)n, &resp) != PCP_VERDICT_OK ||
			    !response_matches(req, req_len, &resp))
				continue;
			if (!a.quiet)
				print_response(&resp, a.json);
			return resp.result;
		}
		if ((a.mrc && sent >= a.mrc) || (a.mrd > 0 && cgn_clock_s() - start >= a.mrd))
			break;
		double next = 2 * rt;
		if (a.mrt > 0 && next > a.mrt)
			next = a.mrt;
		rt = (1 + rand_factor()) * next;
	}
	if (!a.quiet)
		fprintf(stderr, "pcpc: no response from the server after %.1f s\n", cgn_clock_s() - start);
	return EXIT_NO_RESPONSE;
}
