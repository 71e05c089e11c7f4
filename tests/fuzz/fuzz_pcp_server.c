/*
 * libFuzzer target for the whole request handler (control/pcp_server.c and everything it
 * calls: MAP, PEER, ANNOUNCE, NAT-PMP, options, the mapping lifecycle, port blocks, holds,
 * expiry), not only the codec. Each input is a script run against a fresh server:
 *
 *   repeated: [flags:1][len:2 big-endian, bit 15 apart][len octets of datagram]
 *   flags bits 0-2: the source (127.0.0.1 .. 127.0.0.6, the third-party host 127.0.0.2,
 *                   or 198.51.100.7, outside)
 *         bit 3:    the data plane refuses this request's changes (ring full: rollback paths)
 *         bits 4-7: seconds x 30 to let pass first (expiry, holds, epochs)
 *   len bit 14:     the data plane takes this request's first 3 changes and refuses the rest
 *                   (a ring that fills in the middle of an RFC 7753 port set: its rollback)
 *   len bit 15:     the source is IPv6 instead, by the same bits 0-2: NAT64 subscribers in
 *                   2001:db8:64::/48 (two in one /56), the IPv6 third party, one outside;
 *                   the server runs NAT64 with two Pref64s, one with an IPv4 list (PREFIX64)
 *
 * Checks, beyond ASan/UBSan: every answer to a PCP request is 24..1100 octets, a multiple
 * of 4 and readable by the client parser; the server's counts stay within their limits;
 * every mapping the server reports added and not removed is one the data plane was told of.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "pcp_server_int.h"

/* EAL leaves an (empty, with --no-shconf --no-telemetry) runtime directory behind. */
static char runtime_dir[4096];

static void
remove_runtime_dir(void)
{
	if (runtime_dir[0])
		rmdir(runtime_dir);
}

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static struct cgn_config cfg;
static bool refuse;
static int taken_left = -1; /* >= 0: changes the data plane takes before it refuses (len bit 14) */
static int64_t live; /* adds - dels the data plane was told of */

static int
push(void *ctx, struct cgn_ring_msg *msg)
{
	(void)ctx;
	if (refuse || taken_left == 0)
		return -1;
	if (taken_left > 0)
		taken_left--;
	CHECK(msg->op >= CGN_MSG_ADD && msg->op <= CGN_MSG_REPLACE);
	CHECK(msg->m.n_filters <= CGN_MAP_FILTERS);
	live += msg->op == CGN_MSG_ADD ? 1 : msg->op == CGN_MSG_DEL ? -1 : 0;
	return 0;
}

static int
send_unsolicited(void *ctx, const struct cgn_addr *dst, uint16_t port, const uint8_t *msg, size_t len)
{
	(void)ctx, (void)dst, (void)port;
	CHECK(len >= PCP_HDR_LEN && len <= PCP_MAX_MSG && msg[1] & PCP_R_BIT);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=cgnfuzz%d", getpid());
	char *eal[] = { "fuzz", "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
			"--log-level=*:error", prefix, NULL };
	atexit(remove_runtime_dir);
	if (rte_eal_init(11, eal) < 0)
		abort();
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	const char *text =
		"pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\", \"2001:db8:64::/48\" ];\n"
		"  third_party = [ \"127.0.0.2\", \"2001:db8:64:ff00::2\" ];\n"
		"  max_mappings_per_subscriber = 3; max_filters = 2; max_requests_per_second = 0; };\n"
		"nat = { pool = [ \"203.0.113.0/30\" ]; ports = \"5000-5511\"; block_size = 64; max_blocks = 2;\n"
		"  max_subscribers = 8; port_hold_s = 60;\n"
		"  static = ( { proto = \"udp\"; internal = \"127.0.0.3:53\"; external = \"203.0.113.1:5053\"; } ); };\n"
		"nat64 = { prefixes = [ \"64:ff9b::/96\", \"2001:db8:122:300::/56\" ];\n"
		"  ipv4_prefixes = ( { pref64 = \"2001:db8:122:300::/56\"; ipv4 = [ \"192.0.2.0/24\" ]; } ); };\n"
		"dataplane = { table_size = 1024; };\n";
	char err[256];
	if (cgn_config_load_string(text, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return 0;
}

static const char *const sources6[8] = { "2001:db8:64:100::1", "2001:db8:64:100::2", "2001:db8:64:200::1",
					 "2001:db8:64:300::1", "2001:db8:64:400::1", "2001:db8:64:500::9",
					 "2001:db8:64:ff00::2", "2001:db8:9::1" /* outside */ };
static const char *const sources[8] = { "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4",
					"127.0.0.5", "127.0.0.6", "127.0.0.2", "198.51.100.7" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PCP_MAX_MSG];
	static struct pcp_response resp;
	struct pcp_server_ops ops = { .push = push, .send = send_unsolicited };
	uint64_t now = 1000000;

	refuse = false;
	taken_left = -1;
	live = 0;
	struct pcp_server *srv = pcp_server_create(&cfg, &ops, now);
	CHECK(srv != NULL);
	CHECK(pcp_server_start(srv, now) == 0);

	size_t off = 0;
	while (size - off >= 3) {
		uint8_t flags = data[off];
		bool v6 = data[off + 1] & 0x80;
		taken_left = data[off + 1] & 0x40 ? 3 : -1;
		size_t len = (size_t)((data[off + 1] & 0x3f) << 8 | data[off + 2]);
		off += 3;
		if (len > size - off)
			len = size - off;
		struct cgn_addr src;
		cgn_addr_parse(v6 ? sources6[flags & 7] : sources[flags & 7], &src);
		refuse = flags & 8;
		now += (uint64_t)(flags >> 4) * 30000;
		pcp_server_tick(srv, now);

		size_t n = pcp_server_handle(srv, now, data + off, len, &src, 40000, out);
		if (n > 0 && len >= 1 && data[off] != 0) { /* a PCP answer, not NAT-PMP */
			CHECK(n >= PCP_HDR_LEN && n <= PCP_MAX_MSG && n % 4 == 0);
			CHECK(pcp_parse_response(out, n, &resp) == PCP_VERDICT_OK);
		}
		off += len;

		CHECK(pcp_server_mapping_count(srv) <= cfg.dataplane.table_size);
		CHECK(live == (int64_t)pcp_server_mapping_count(srv));
		for (uint32_t i = 0; i < __atomic_load_n(&srv->pb.n_subs, __ATOMIC_SEQ_CST); i++)
			CHECK(__atomic_load_n(&cgn_pb_sub(&srv->pb, i)->explicit_mappings, __ATOMIC_SEQ_CST) <=
			      cfg.pcp.max_mappings_per_subscriber);
	}
	refuse = false;
	taken_left = -1;
	pcp_server_tick(srv, now + 100ull * 86400 * 1000); /* everything but statics expires */
	pcp_server_free(srv);
	return 0;
}
