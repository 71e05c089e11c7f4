/*
 * NAT-PMP (RFC 6886) on the PCP port, and Debian's natpmpc against it. Subscribers 127.6.0.x.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proc.h"

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
natpmp_map(const char *src, uint8_t op, uint16_t internal, uint16_t suggested, uint32_t lifetime)
{
	uint8_t m[12] = { 0, op, 0, 0, (uint8_t)(internal >> 8), (uint8_t)internal, (uint8_t)(suggested >> 8),
			  (uint8_t)suggested, (uint8_t)(lifetime >> 24), (uint8_t)(lifetime >> 16),
			  (uint8_t)(lifetime >> 8), (uint8_t)lifetime };
	return h_send_raw(src, m, sizeof(m), H_WAIT);
}

Test(rfc6886_3_2, external_address_is_the_subscribers_paired_address)
{
	uint8_t req[2] = { 0, 0 };
	cr_assert_eq(h_send_raw("127.6.0.1", req, 2, H_WAIT), 12);
	cr_assert_eq(H_raw[0], 0);
	cr_assert_eq(H_raw[1], 128);
	cr_assert_eq(rd16(H_raw + 2), 0, "success");
	char ext[16];
	snprintf(ext, sizeof(ext), "%u.%u.%u.%u", H_raw[8], H_raw[9], H_raw[10], H_raw[11]);
	/* the same address PCP hands the subscriber (RFC 6888 REQ-2) */
	h_begin(PCP_OP_MAP, "127.6.0.1", 3600);
	h_map(17, 1000, 0, NULL, "pcp");
	cr_assert_eq(h_send("127.6.0.1", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_str_eq(h_ext_addr(), ext);
}

Test(rfc6886_3_3, map_udp_and_tcp_then_destroy)
{
	cr_assert_eq(natpmp_map("127.6.0.2", 1, 8080, 48080, 3600), 16);
	cr_assert_eq(H_raw[1], 129);
	cr_assert_eq(rd16(H_raw + 2), 0);
	cr_assert_eq(rd16(H_raw + 8), 8080, "internal port");
	cr_assert_eq(rd16(H_raw + 10), 48080, "the suggested port, free");
	cr_assert_eq(rd32(H_raw + 12), 3600);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.6.0.2:8080\"", true));
	cr_assert(strstr(h_ctl("-j mappings -a"), "NATPMP"));
	cr_assert_eq(natpmp_map("127.6.0.2", 2, 22, 0, 7200), 16);
	cr_assert_eq(H_raw[1], 130);
	cr_assert_eq(rd16(H_raw + 2), 0);
	/* §3.4: lifetime 0 destroys */
	cr_assert_eq(natpmp_map("127.6.0.2", 1, 8080, 0, 0), 16);
	cr_assert_eq(rd16(H_raw + 2), 0);
	cr_assert_eq(rd16(H_raw + 10), 0);
	cr_assert_eq(rd32(H_raw + 12), 0);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.6.0.2:8080\"", false));
}

Test(rfc6886_3_4, internal_port_0_and_lifetime_0_destroy_all_of_the_protocol)
{
	cr_assert_eq(natpmp_map("127.6.0.3", 2, 80, 0, 3600), 16);
	cr_assert_eq(natpmp_map("127.6.0.3", 2, 81, 0, 3600), 16);
	cr_assert_eq(natpmp_map("127.6.0.3", 1, 82, 0, 3600), 16);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.6.0.3:81\"", true));
	cr_assert_eq(natpmp_map("127.6.0.3", 2, 0, 0, 0), 16);
	cr_assert_eq(rd16(H_raw + 2), 0);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.6.0.3:80\"", false));
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.6.0.3:81\"", false));
	cr_assert(strstr(h_ctl("-j mappings -a"), "\"internal\": \"127.6.0.3:82\""), "UDP stays");
}

Test(rfc6886_3_5, unknown_opcode_is_result_5_and_responses_are_ignored)
{
	uint8_t req[4] = { 0, 7, 0, 0 };
	cr_assert_geq(h_send_raw("127.6.0.4", req, sizeof(req), H_WAIT), 8);
	cr_assert_eq(H_raw[1], 128 + 7);
	cr_assert_eq(rd16(H_raw + 2), 5);
	uint8_t resp[12] = { 0, 129 };
	cr_assert_eq(h_send_raw("127.6.0.4", resp, sizeof(resp), H_SILENCE), -1, "an opcode >= 128 is ignored");
}

Test(rfc6886, natpmp_and_pcp_share_a_subscribers_state)
{
	cr_assert_eq(natpmp_map("127.6.0.5", 1, 9999, 0, 3600), 16);
	/* A PCP request for the same internal endpoint with a nonce is another client: refused */
	h_begin(PCP_OP_MAP, "127.6.0.5", 3600);
	h_map(17, 9999, 0, NULL, "pcp-client");
	cr_assert_eq(h_send("127.6.0.5", H_WAIT), PCP_RES_NOT_AUTHORIZED);
	/* and the quota counts both */
	for (int i = 1; i < H_MAX_MAPPINGS; i++)
		cr_assert_eq(natpmp_map("127.6.0.5", 1, (uint16_t)(9000 + i), 0, 3600), 16);
	cr_assert_eq(rd16(H_raw + 2), 0);
	h_begin(PCP_OP_MAP, "127.6.0.5", 3600);
	h_map(17, 1, 0, NULL, "over");
	cr_assert_eq(h_send("127.6.0.5", H_WAIT), PCP_RES_USER_EX_QUOTA);
	cr_assert_eq(natpmp_map("127.6.0.5", 1, 2, 0, 3600), 16);
	cr_assert_eq(rd16(H_raw + 2), 4, "NAT-PMP: out of resources");
}

Test(rfc6886, debian_natpmpc_maps_and_unmaps)
{
	char out[8192];
	/* natpmpc -g GATEWAY -a PUBLIC PRIVATE PROTO LIFETIME (libnatpmp's client) */
	int rc = proc_run(out, sizeof(out), "timeout 20 natpmpc -g 127.0.0.1 -a 43210 4321 udp 3600");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "Mapped public port 43210 protocol UDP to local port 4321"), "%s", out);
	cr_assert(strstr(out, "Public IP address : 203.0.113."), "%s", out);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.0.0.1:4321\", \"external\": \"203.0.113.", true));
	rc = proc_run(out, sizeof(out), "timeout 20 natpmpc -g 127.0.0.1 -a 43210 4321 udp 0");
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.0.0.1:4321\"", false));
}
