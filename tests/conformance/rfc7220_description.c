/*
 * RFC 7220 (the DESCRIPTION option) against the running cgnatd: MAP and PEER, echo as stored,
 * truncation to pcp.description_max (128 in the shared cgnatd) at a character boundary,
 * invalid UTF-8 ignored, renewal, erasure, duplicates, never unasked, error responses; what
 * cgnatctl shows. Subscribers 127.72.0.x; one test runs a cgnatd of its own on 127.0.0.212.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* The response's DESCRIPTION, or NULL. */
static const struct pcp_option *
desc_of_resp(void)
{
	const struct pcp_option *found = NULL;
	for (uint16_t i = 0; i < H_resp.n_options; i++)
		if (H_resp.options[i].code == PCP_OPT_DESCRIPTION) {
			cr_assert_null(found, "one DESCRIPTION at most in a response (§2)");
			found = &H_resp.options[i];
		}
	return found;
}

static void
assert_echo(const void *text, uint16_t len)
{
	const struct pcp_option *d = desc_of_resp();
	cr_assert_not_null(d, "no DESCRIPTION in the response");
	cr_assert_eq(d->len, len, "echoed %u octets, want %u", d->len, len);
	cr_assert_eq(memcmp(d->data, text, len), 0, "the stored text comes back");
}

static int
map_desc(const char *src, uint16_t port, uint32_t lifetime, const char *nonce, const void *text, int len)
{
	h_begin(PCP_OP_MAP, src, lifetime);
	h_map(17, port, 0, NULL, nonce);
	if (len >= 0)
		h_opt(PCP_OPT_DESCRIPTION, text, (uint16_t)len);
	return h_send(src, H_WAIT);
}

static int
peer_desc(const char *src, uint16_t port, const char *nonce, const void *text, int len)
{
	h_begin(PCP_OP_PEER, src, 600);
	h_map(6, port, 0, NULL, nonce);
	h_peer_remote("198.51.100.72", 443);
	if (len >= 0)
		h_opt(PCP_OPT_DESCRIPTION, text, (uint16_t)len);
	return h_send(src, H_WAIT);
}

/* A counter of the shared cgnatd (cgnatctl -j stats). */
static unsigned long
counter(const char *name)
{
	char key[96];
	snprintf(key, sizeof(key), "\"%s\": ", name);
	const char *p = strstr(h_ctl("-j stats"), key);
	cr_assert_not_null(p, "no %s in cgnatctl stats", name);
	return strtoul(p + strlen(key), NULL, 10);
}

Test(rfc7220_3, map_description_is_stored_and_echoed)
{
	cr_assert_eq(map_desc("127.72.0.1", 7201, 3600, "d1", "FTP server", 10), PCP_RES_SUCCESS);
	assert_echo("FTP server", 10);
	cr_assert_eq(H_resp.n_options, 1);
	/* §2 on the wire: code 128, reserved 0, length 10, no NUL, padded to 4 with zeros */
	static const uint8_t wire[] = { 0x80, 0, 0, 10, 'F', 'T', 'P', ' ', 's', 'e', 'r', 'v', 'e', 'r', 0, 0 };
	cr_assert_eq(H_raw_len, 24 + 36 + sizeof(wire));
	cr_assert_eq(memcmp(H_raw + 60, wire, sizeof(wire)), 0);
	/* shown by cgnatctl, JSON and text */
	cr_assert(h_ctl_until("-j mappings -a", "\"description\": \"FTP server\"", true), "%s", h_ctl("-j mappings -a"));
	cr_assert(strstr(h_ctl("-j mappings -a"), "\"description_len\": 10"));
	const char *text = h_ctl("mappings -a");
	const char *row = strstr(text, "127.72.0.1:7201");
	cr_assert_not_null(row, "%s", text);
	const char *eol = strchr(row, '\n');
	const char *q = strstr(row, " \"FTP server\"\n");
	cr_assert(q && q < eol, "the description ends the mapping's row: %s", text);
}

Test(rfc7220_3, with_other_options_the_echo_comes_last)
{
	/* Processed in request order (a FILTER after it still counts), echoed last: RFC 6887 §7.3
	 * leaves the order open, and Wireshark 4.0 misreads an option after an unaligned one. */
	h_begin(PCP_OP_MAP, "127.72.0.14", 3600);
	h_map(17, 7209, 0, NULL, "d14");
	h_opt(PCP_OPT_DESCRIPTION, "cam", 3);
	h_filter(128, "198.51.100.9", 80);
	cr_assert_eq(h_send("127.72.0.14", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.n_options, 2);
	cr_assert_eq(H_resp.options[0].code, PCP_OPT_FILTER);
	cr_assert_eq(H_resp.options[1].code, PCP_OPT_DESCRIPTION);
	assert_echo("cam", 3);
}

Test(rfc7220_3, text_longer_than_the_maximum_is_truncated_to_128_octets)
{
	uint8_t text[1016];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)('a' + i % 26);
	cr_assert_eq(map_desc("127.72.0.2", 7202, 3600, "d2", text, 300), PCP_RES_SUCCESS);
	assert_echo(text, 128); /* "truncating it if it cannot store the entire value" */
	/* §2: 1016 octets is the longest a request may carry */
	cr_assert_eq(map_desc("127.72.0.2", 7203, 3600, "d2b", text, 1016), PCP_RES_SUCCESS);
	assert_echo(text, 128);
	cr_assert_eq(map_desc("127.72.0.2", 7204, 3600, "d2c", text, 128), PCP_RES_SUCCESS);
	assert_echo(text, 128);
	/* cgnatctl shows the first 127 (a telemetry string) and tells the stored length */
	char want[200];
	snprintf(want, sizeof(want), "\"description\": \"%.127s\", \"description_len\": 128", (const char *)text);
	cr_assert(h_ctl_until("-j mappings -a", want, true), "%s", h_ctl("-j mappings -a"));
	snprintf(want, sizeof(want), "\"%.127s\"...\n", (const char *)text);
	cr_assert(strstr(h_ctl("mappings -a"), want), "text output marks the cut: %s", h_ctl("mappings -a"));
}

Test(rfc7220_3, truncation_never_splits_a_character)
{
	/* 63 é (2 octets each) fill 126 octets; a € (3 octets) crosses 128: the stored text is
	 * the 126 octets before it, still UTF-8. */
	uint8_t text[140];
	size_t n = 0;
	for (int i = 0; i < 63; i++) {
		text[n++] = 0xc3;
		text[n++] = 0xa9;
	}
	text[n++] = 0xe2;
	text[n++] = 0x82;
	text[n++] = 0xac;
	text[n++] = 'x';
	cr_assert_eq(map_desc("127.72.0.3", 7205, 3600, "d3", text, (int)n), PCP_RES_SUCCESS);
	assert_echo(text, 126);
	/* 4-octet characters: 32 of them fill 128 exactly; a 33rd would not fit */
	uint8_t emoji[132];
	for (int i = 0; i < 33; i++)
		memcpy(emoji + 4 * i, "\xf0\x9f\x93\xb7", 4);
	cr_assert_eq(map_desc("127.72.0.3", 7206, 3600, "d3b", emoji, 132), PCP_RES_SUCCESS);
	assert_echo(emoji, 128);
	/* the whole text is checked before it is cut: a broken last character, even beyond
	 * the 128 octets kept, makes it "not a legal UTF-8 string" */
	cr_assert_eq(map_desc("127.72.0.3", 7207, 3600, "d3c", emoji, 131), PCP_RES_SUCCESS);
	cr_assert_null(desc_of_resp());
	/* a text that starts inside a character is not UTF-8: ignored */
	cr_assert_eq(map_desc("127.72.0.13", 7208, 3600, "d3d", text + 1, 20), PCP_RES_SUCCESS);
	cr_assert_null(desc_of_resp());
}

Test(rfc7220_3, invalid_utf8_is_ignored_and_the_request_served)
{
	static const struct {
		const char *s;
		uint16_t len;
	} bad[] = {
		{ "\xc0\xaf", 2 },             /* overlong '/' */
		{ "\xed\xa0\x80", 3 },         /* a surrogate */
		{ "\xf4\x90\x80\x80", 4 },     /* above U+10FFFF */
		{ "camera \xe2\x82", 9 },      /* a truncated sequence */
		{ "caf\xe9", 4 },              /* Latin-1 */
	};
	unsigned long before = counter("pcp_descriptions_invalid");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char src[32];
		snprintf(src, sizeof(src), "127.72.1.%zu", i + 1); /* a subscriber each: the quota is 4 */
		cr_assert_eq(map_desc(src, (uint16_t)(7210 + i), 3600, "d4", bad[i].s, bad[i].len), PCP_RES_SUCCESS,
			     "case %zu: the MAP itself is served", i);
		cr_assert_null(desc_of_resp(), "case %zu: \"MUST NOT return a DESCRIPTION option\"", i);
		cr_assert_neq(H_resp.u.map.external_port, 0);
	}
	cr_assert_eq(counter("pcp_descriptions_invalid"), before + 5, "each one counted");
	/* and a stored text survives an invalid renewal */
	cr_assert_eq(map_desc("127.72.0.4", 7220, 3600, "d4b", "camera-7220", 11), PCP_RES_SUCCESS);
	assert_echo("camera-7220", 11);
	cr_assert_eq(map_desc("127.72.0.4", 7220, 3000, "d4b", "\xff\xfe", 2), PCP_RES_SUCCESS);
	cr_assert_null(desc_of_resp());
	cr_assert_eq(H_resp.lifetime, 3000, "renewed");
	cr_assert(h_ctl_until("-j mappings -a", "\"description\": \"camera-7220\"", true), "the stored text is unchanged");
}

Test(rfc7220_3, renewal_with_a_description_replaces_it_and_without_keeps_it)
{
	cr_assert_eq(map_desc("127.72.0.5", 7230, 3600, "d5", "old-7230", 8), PCP_RES_SUCCESS);
	assert_echo("old-7230", 8);
	uint16_t port = H_resp.u.map.external_port;
	cr_assert_eq(map_desc("127.72.0.5", 7230, 3600, "d5", "new-7230 \xe2\x82\xac", 12), PCP_RES_SUCCESS);
	assert_echo("new-7230 \xe2\x82\xac", 12);
	cr_assert_eq(H_resp.u.map.external_port, port, "the same mapping");
	cr_assert(h_ctl_until("-j mappings -a", "\"description\": \"new-7230 \xe2\x82\xac\"", true), "%s",
		  h_ctl("-j mappings -a"));
	cr_assert_null(strstr(h_ctl("-j mappings -a"), "old-7230"));
	/* §3: "If the DESCRIPTION option is not included in the PCP client request, the PCP
	 * server MUST NOT include the DESCRIPTION option in the associated response." */
	cr_assert_eq(map_desc("127.72.0.5", 7230, 3600, "d5", NULL, -1), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.n_options, 0, "never unasked");
	cr_assert(strstr(h_ctl("-j mappings -a"), "\"description\": \"new-7230 \xe2\x82\xac\""), "kept");
}

Test(rfc7220_3, an_empty_description_clears_it_and_is_echoed_empty)
{
	cr_assert_eq(map_desc("127.72.0.6", 7240, 3600, "d6", "erase-me-7240", 13), PCP_RES_SUCCESS);
	cr_assert(h_ctl_until("-j mappings -a", "erase-me-7240", true));
	cr_assert_eq(map_desc("127.72.0.6", 7240, 3600, "d6", "", 0), PCP_RES_SUCCESS);
	assert_echo("", 0); /* "the PCP server returns the empty DESCRIPTION option" */
	cr_assert_eq(H_raw_len, 24 + 36 + 4, "an option header of length 0");
	cr_assert(h_ctl_until("-j mappings -a", "erase-me-7240", false), "cleared");
	/* an empty one on a new mapping: nothing stored, echoed empty */
	cr_assert_eq(map_desc("127.72.0.6", 7241, 3600, "d6b", "", 0), PCP_RES_SUCCESS);
	assert_echo("", 0);
}

Test(rfc7220_2, a_second_description_is_malformed_option)
{
	h_begin(PCP_OP_MAP, "127.72.0.7", 3600);
	h_map(17, 7250, 0, NULL, "d7");
	h_opt(PCP_OPT_DESCRIPTION, "one-7250", 8);
	h_opt(PCP_OPT_DESCRIPTION, "two-7250", 8);
	/* §2 "Maximum occurrences: 1"; RFC 6887 §7.3: MALFORMED_OPTION, and no state change */
	cr_assert_eq(h_send("127.72.0.7", H_WAIT), PCP_RES_MALFORMED_OPTION);
	usleep(100000);
	cr_assert_null(strstr(h_ctl("-j mappings -a"), "127.72.0.7:7250"), "no mapping made");
}

Test(rfc7220_3, a_delete_stores_and_echoes_none)
{
	cr_assert_eq(map_desc("127.72.0.8", 7260, 3600, "d8", "gone-7260", 9), PCP_RES_SUCCESS);
	cr_assert_eq(map_desc("127.72.0.8", 7260, 0, "d8", "bye-7260", 8), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 0);
	cr_assert_null(desc_of_resp(), "nothing is stored for a deleted mapping");
	cr_assert(h_ctl_until("-j mappings -a", "gone-7260", false), "its text went with it");
}

Test(rfc7220_3, error_responses_are_the_request_copy_and_change_nothing)
{
	cr_assert_eq(map_desc("127.72.0.9", 7270, 3600, "owner", "keep-7270", 9), PCP_RES_SUCCESS);
	/* another nonce: NOT_AUTHORIZED; RFC 6887 §7.3: "a complete copy of the request" */
	uint8_t long_text[300];
	memset(long_text, 'z', sizeof(long_text));
	cr_assert_eq(map_desc("127.72.0.9", 7270, 3600, "thief", long_text, sizeof(long_text)), PCP_RES_NOT_AUTHORIZED);
	cr_assert_eq(H_raw_len, H_sent_len);
	cr_assert_eq(memcmp(H_raw + 24, H_sent + 24, H_sent_len - 24), 0, "the request's DESCRIPTION as sent");
	usleep(50000);
	cr_assert(strstr(h_ctl("-j mappings -a"), "\"description\": \"keep-7270\""), "the stored text is unchanged");
	/* and a request with an error of its own before the mapping: nothing stored either */
	h_begin(PCP_OP_MAP, "127.72.0.9", 3600);
	h_map(17, 7271, 0, NULL, "err");
	/* (the DESCRIPTION last: Wireshark 4.0 misreads an option after an unaligned one) */
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0); /* with a zero suggested port: MALFORMED_OPTION */
	h_opt(PCP_OPT_DESCRIPTION, "never-7271", 10);
	cr_assert_eq(h_send("127.72.0.9", H_WAIT), PCP_RES_MALFORMED_OPTION);
	cr_assert_null(strstr(h_ctl("-j mappings -a"), "never-7271"));
}

Test(rfc7220_3, a_static_mapping_does_not_take_one)
{
	h_begin(PCP_OP_MAP, H_STATIC_INTERNAL, 3600);
	h_map(6, 22, 0, NULL, "static7220");
	h_opt(PCP_OPT_DESCRIPTION, "static-7220", 11);
	cr_assert_eq(h_send(H_STATIC_INTERNAL, H_WAIT), PCP_RES_SUCCESS);
	cr_assert_null(desc_of_resp(), "§3: not accepted, signalled by its absence");
	cr_assert_null(strstr(h_ctl("-j mappings -a"), "static-7220"));
}

Test(rfc7220_3, peer_sessions_store_and_echo_theirs)
{
	cr_assert_eq(peer_desc("127.72.0.10", 7280, "p1", "peer-7280", 9), PCP_RES_SUCCESS);
	assert_echo("peer-7280", 9);
	cr_assert_eq(peer_desc("127.72.0.10", 7280, "p1", "peer-7280b", 10), PCP_RES_SUCCESS);
	assert_echo("peer-7280b", 10); /* replaced */
	cr_assert_eq(peer_desc("127.72.0.10", 7280, "p1", NULL, -1), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.n_options, 0, "never unasked");
	cr_assert_eq(peer_desc("127.72.0.10", 7280, "p1", "\xed\xb0\x80", 3), PCP_RES_SUCCESS);
	cr_assert_null(desc_of_resp(), "a surrogate: ignored");
	cr_assert_eq(peer_desc("127.72.0.10", 7280, "p1", "", 0), PCP_RES_SUCCESS);
	assert_echo("", 0);
	uint8_t text[200];
	memset(text, 'p', sizeof(text));
	cr_assert_eq(peer_desc("127.72.0.10", 7281, "p2", text, sizeof(text)), PCP_RES_SUCCESS);
	assert_echo(text, 128);
	/* a duplicate, and an error: no DESCRIPTION processing */
	h_begin(PCP_OP_PEER, "127.72.0.10", 600);
	h_map(6, 7282, 0, NULL, "p3");
	h_peer_remote("198.51.100.72", 443);
	h_opt(PCP_OPT_DESCRIPTION, "ab12", 4);
	h_opt(PCP_OPT_DESCRIPTION, "cd34", 4);
	cr_assert_eq(h_send("127.72.0.10", H_WAIT), PCP_RES_MALFORMED_OPTION);
	cr_assert_eq(peer_desc("127.72.0.10", 7280, "p-other", "x", 1), PCP_RES_NOT_AUTHORIZED);
}

Test(rfc7220_3, control_characters_and_quotes_are_stored_as_sent_and_shown_escaped)
{
	static const char text[] = "a\"b\\c\nd\x01" "e\x7f";
	cr_assert_eq(map_desc("127.72.0.11", 7290, 3600, "d11", text, sizeof(text) - 1), PCP_RES_SUCCESS);
	assert_echo(text, sizeof(text) - 1);
	cr_assert(h_ctl_until("-j mappings -a", "\"description\": \"a\\\"b\\\\c\\nd\\u0001e\\u007f\"", true), "%s",
		  h_ctl("-j mappings -a"));
}

Test(rfc7220_3, description_over_ipv6_nat64)
{
	const char *src = "2001:db8:64:7200::1"; /* a /56 of H_SRC6_NET of its own */
	h_begin(PCP_OP_MAP, src, 3600);
	h_map(17, 7295, 0, NULL, "d64");
	h_opt(PCP_OPT_DESCRIPTION, "nat64-7295", 10);
	cr_assert_eq(h_send(src, H_WAIT), PCP_RES_SUCCESS);
	assert_echo("nat64-7295", 10);
	cr_assert(h_ctl_until("-j mappings -a", "\"description\": \"nat64-7295\"", true));
}

/* §3 "A PCP server SHOULD be able to store at least 128 bytes", §4 "administrators of PCP
 * servers SHOULD configure a maximum description length": pcp.description_max up to 1016. */
#define CONF_1016 \
	"eal = { file_prefix = \"%s\"; lcores = \"0-1\"; };\n" \
	"pcp = { listen = [ \"127.0.0.212:5351\" ]; inside = [ \"127.0.0.0/8\" ];\n" \
	"        announce = { multicast = false; }; description_max = 1016; };\n" \
	"nat = { pool = [ \"203.0.113.144/28\" ]; };\n" \
	"dataplane = { table_size = 4096; idle_sleep_us = 500; };\n"

Test(rfc7220_4, a_configured_maximum_of_1016_stores_the_longest_text, .timeout = 60)
{
	char conf[1024], pfx[32], log[256];
	snprintf(pfx, sizeof(pfx), "cgnd%d", getpid());
	h_work_file(pfx, ".log", log, sizeof(log));
	snprintf(conf, sizeof(conf), CONF_1016, pfx);
	int pid = h_start_cgnatd(conf, pfx, log);
	cr_assert_gt(pid, 0);
	H_server = "127.0.0.212";
	uint8_t text[1016];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)('A' + i % 26);
	int rc = map_desc("127.72.0.12", 7300, 3600, "d12", text, sizeof(text));
	int rc2 = -2;
	uint16_t len = 0;
	if (rc == PCP_RES_SUCCESS) {
		const struct pcp_option *d = desc_of_resp();
		len = d ? d->len : 0;
		rc2 = d && memcmp(d->data, text, sizeof(text)) == 0;
	}
	H_server = "127.0.0.1";
	cr_assert_eq(h_stop_cgnatd(pid), 0);
	cr_assert_eq(rc, PCP_RES_SUCCESS);
	cr_assert_eq(len, 1016, "all of it stored and echoed");
	cr_assert_eq(rc2, 1);
}

/* cgnatctl shows every mapping, however long their descriptions: DPDK's telemetry reply holds
 * 16 KiB and leaves out what does not fit, so a page stops early rather than lose entries. */
Test(rfc7220_3, every_described_mapping_is_listed)
{
	uint8_t text[1016];
	for (size_t i = 0; i < sizeof(text); i += 2) {
		text[i] = 0xc3;
		text[i + 1] = 0xa9; /* é: \u00e9 on the socket, \\u00e9 once DPDK escapes it */
	}
	for (int s = 1; s <= 12; s++)
		for (int j = 0; j < H_MAX_MAPPINGS; j++) {
			char src[32];
			snprintf(src, sizeof(src), "127.72.2.%d", s);
			cr_assert_eq(map_desc(src, (uint16_t)(7400 + j), 3600, "d15", text, sizeof(text)), PCP_RES_SUCCESS);
		}
	int n = 0;
	for (int tries = 0; tries < 50; tries++) {
		const char *all = h_ctl("-j mappings -a");
		n = 0;
		for (const char *p = all; (p = strstr(p, "\"internal\": \"127.72.2.")) != NULL; p++)
			n++;
		if (n == 12 * H_MAX_MAPPINGS)
			break;
		usleep(20000);
	}
	cr_assert_eq(n, 12 * H_MAX_MAPPINGS, "every mapping on some page");
	/* a full page of them is cut short, and says where the next begins */
	const char *page = h_ctl("-j raw /cgnat/mappings,0,48");
	const char *count = strstr(page, "\"count\": ");
	cr_assert_not_null(count, "%s", page);
	cr_assert_lt(strtoul(count + 9, NULL, 10), 48, "%s", count);
}
