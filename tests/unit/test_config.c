/*
 * Configuration loading: defaults, the shipped examples, and errors that name file, line and key.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgn_config.h"
#include "addr_text.h"

static struct cgn_config cfg;
static char err[512];

static bool
addr_is_zero(const struct cgn_addr *a)
{
	static const struct cgn_addr zero;
	return cgn_addr_eq(a, &zero);
}

#define MINIMAL "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ]; };\n" \
		"nat = { pool = [ \"203.0.113.0/30\" ]; };\n"

Test(config, defaults)
{
	cgn_config_defaults(&cfg);
	cr_assert_str_eq(cfg.eal.file_prefix, "cgnat");
	cr_assert_eq(cfg.pcp.min_lifetime, 120);
	cr_assert_eq(cfg.pcp.max_lifetime, 86400);
	cr_assert_eq(cfg.pcp.short_error_lifetime, 30);
	cr_assert_eq(cfg.pcp.long_error_lifetime, 1800);
	cr_assert_eq(cfg.nat.port_min, 1024);
	cr_assert_eq(cfg.nat.port_max, 65535);
}

Test(config, minimal_file_takes_defaults)
{
	cr_assert_eq(cgn_config_load_string(MINIMAL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.pcp.n_listen, 1);
	cr_assert_eq(cfg.pcp.listen[0].port, 5351);
	cr_assert_eq(cgn_config_pool_size(&cfg), 4);
	cr_assert_eq(cfg.pcp.min_lifetime, 120);
}

Test(config, loopback_example)
{
	cr_assert_eq(cgn_config_load_file(SOURCE_DIR "/docs/examples/loopback.conf", &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(cfg.pcp.listen[0].port, 5351);
	char buf[64];
	cr_assert_str_eq(cgn_addr_format(&cfg.pcp.listen[0].addr, buf, sizeof(buf)), "127.0.0.1");
	cr_assert_eq(cfg.pcp.n_third_party, 1);
	struct cgn_addr a;
	cgn_addr_parse("127.0.0.2", &a);
	cr_assert(cgn_prefix_list_contains(cfg.pcp.third_party, cfg.pcp.n_third_party, &a));
	cgn_addr_parse("127.0.0.3", &a);
	cr_assert_not(cgn_prefix_list_contains(cfg.pcp.third_party, cfg.pcp.n_third_party, &a));
	cr_assert_eq(cgn_config_pool_size(&cfg), 16);
	cr_assert_str_eq(cfg.eal.file_prefix, "cgnat");
	/* PCP over IPv6 too: [::1]:5351, ::1 a subscriber, NAT64 under the Well-Known Prefix. */
	cr_assert_eq(cfg.pcp.n_listen, 2);
	cr_assert_str_eq(cgn_addr_format(&cfg.pcp.listen[1].addr, buf, sizeof(buf)), "::1");
	cr_assert_eq(cfg.pcp.listen[1].port, 5351);
	cgn_addr_parse("::1", &a);
	cr_assert(cgn_prefix_list_contains(cfg.pcp.inside, cfg.pcp.n_inside, &a));
	cgn_addr_parse("::2", &a);
	cr_assert_not(cgn_prefix_list_contains(cfg.pcp.inside, cfg.pcp.n_inside, &a));
	cr_assert(cgn_nat64_enabled(&cfg));
	cr_assert_eq(cfg.nat64.n_prefixes, 1);
	cr_assert_str_eq(cgn_prefix_format(&cfg.nat64.prefixes[0], buf, sizeof(buf)), "64:ff9b::/96");
}

Test(config, syntax_error_names_file_and_line)
{
	cr_assert_eq(cgn_config_load_string("pcp = {\n listen = [ \"x\" \n};\n", &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "<string>:3: syntax") != NULL, "%s", err);
}

Test(config, semantic_error_names_line_and_key)
{
	const char *text = "pcp = {\n  listen = [ \"127.0.0.1\" ];\n  inside = [ \"10.0.0.1/8\" ];\n};\n";
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "<string>:3: pcp.inside: entry 1") != NULL, "%s", err);
	cr_assert(strstr(err, "host bits") != NULL, "%s", err);
}

Test(config, unknown_key_is_an_error)
{
	const char *text = MINIMAL "pcp2 = { };\n";
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "pcp2: unknown key") != NULL, "%s", err);
	text = "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ];\n lifetme = { min = 1; }; };\n"
	       "nat = { pool = [ \"203.0.113.0/30\" ]; };\n";
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, ":2: pcp.lifetme: unknown key") != NULL, "%s", err);
}

Test(config, range_and_consistency_errors)
{
	static const struct {
		const char *extra, *want;
	} cases[] = {
		{ "dataplane = { ring_size = 1000; };", "dataplane.ring_size: must be a power of two" },
		{ "dataplane = { table_size = 10; };", "dataplane.table_size: must be between" },
		{ "dataplane = { icmp_source = \"0.0.0.0\"; };", "dataplane.icmp_source: must be an IPv4 address" },
		{ "dataplane = { icmp_source = \"2001:db8::1\"; };", "dataplane.icmp_source: must be an IPv4 address" },
		{ "nat = { pool = [ \"203.0.113.0/24\" ]; ports = \"9-2\"; };", "nat.ports" },
		{ "nat = { pool = [ \"10.0.0.0/8\" ]; };", "larger than a /16" },
		{ "nat = { pool = [ \"2001:db8::/64\" ]; };", "must be IPv4" },
		{ "eal = { file_prefix = \"a/b\"; };", "eal.file_prefix" },
		{ "eal = { memory_mb = \"lots\"; };", "eal.memory_mb: must be an integer" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		/* later groups override: libconfig rejects duplicate names, so build each whole */
		if (strncmp(cases[i].extra, "nat", 3) == 0)
			snprintf(text, sizeof(text), "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ]; };\n%s\n",
				 cases[i].extra);
		else
			snprintf(text, sizeof(text), MINIMAL "%s\n", cases[i].extra);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", cases[i].extra);
		cr_assert(strstr(err, cases[i].want) != NULL, "'%s' gave '%s'", cases[i].extra, err);
	}
	cr_assert_eq(cgn_config_load_string("pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ];\n"
					    "lifetime = { min = 500; max = 100; }; };\nnat = { pool = [ \"203.0.113.0/30\" ]; };",
					    &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "min (500) is greater than max (100)") != NULL, "%s", err);
	/* RFC 6887 §13.3: "MUST support at least one filter". */
	cr_assert_eq(cgn_config_load_string("pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ];\n"
					    "max_filters = 0; };\nnat = { pool = [ \"203.0.113.0/30\" ]; };",
					    &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "pcp.max_filters: must be between 1") != NULL, "%s", err);
	/* RFC 7753: a port set is a run of one block. */
	cr_assert_eq(cgn_config_load_string("pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ];\n"
					    "port_set_max = 600; };\nnat = { pool = [ \"203.0.113.0/30\" ]; };",
					    &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, ":2: pcp.port_set_max: 600 is more than nat.block_size (512)") != NULL, "%s", err);
	cr_assert_eq(cgn_config_load_string("pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ];\n"
					    "port_set_max = 0; };\nnat = { pool = [ \"203.0.113.0/30\" ]; };",
					    &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "pcp.port_set_max: must be between 1") != NULL, "%s", err);
	cr_assert_eq(cgn_config_load_string("pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ];\n"
					    "port_set_max = 64; };\nnat = { pool = [ \"203.0.113.0/30\" ]; block_size = 128; };",
					    &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.pcp.port_set_max, 64);
}

/* RFC 7220 §3: "A PCP server SHOULD be able to store at least 128 bytes"; §2: at most 1016. */
Test(config, description_max)
{
	cr_assert_eq(cgn_config_load_string(MINIMAL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.pcp.description_max, 128, "the default is the RFC's 128 octets");
	static const unsigned good[] = { 128, 500, 1016 };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text),
			 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ];\n  description_max = %u; };\n"
			 "nat = { pool = [ \"203.0.113.0/30\" ]; };\n", good[i]);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), 0, "%u: %s", good[i], err);
		cr_assert_eq(cfg.pcp.description_max, good[i]);
	}
	static const char *const bad[] = { "127", "0", "1017", "65536", "-1", "\"long\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text),
			 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ];\n  description_max = %s; };\n"
			 "nat = { pool = [ \"203.0.113.0/30\" ]; };\n", bad[i]);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i]);
		/* the file, the key's own line (2) and the key */
		cr_assert(strstr(err, "<string>:2: pcp.description_max: must be") == err, "%s gave '%s'", bad[i], err);
	}
}

Test(config, missing_required_groups)
{
	cr_assert_eq(cgn_config_load_string("", &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "pcp.listen") != NULL, "%s", err);
}

Test(config, missing_file)
{
	cr_assert_eq(cgn_config_load_file("/nonexistent/cgnat.conf", &cfg, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/cgnat.conf: cannot read") != NULL, "%s", err);
}

Test(config, listen_forms)
{
	const char *text = "pcp = { listen = [ \"127.0.0.1:5000\", \"[::1]:5001\", \"::1\", \"10.0.0.1\" ];"
			   " inside = [ \"10.0.0.0/8\" ]; };\nnat = { pool = [ \"203.0.113.0/30\" ]; };";
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.pcp.n_listen, 4);
	cr_assert_eq(cfg.pcp.listen[0].port, 5000);
	cr_assert_eq(cfg.pcp.listen[1].port, 5001);
	cr_assert_eq(cfg.pcp.listen[2].port, 5351);
	cr_assert_not(cgn_addr_is_v4(&cfg.pcp.listen[2].addr));
	cr_assert_eq(cfg.pcp.listen[3].port, 5351);
}

Test(config, port_next_hop)
{
	static const char *ok = MINIMAL
		"ports = ( { name = \"a\"; role = \"inside\"; address = \"100.64.0.254\"; next_hop = \"100.64.0.1\"; },\n"
		"          { name = \"b\"; role = \"outside\"; peer_mac = \"02:00:00:00:00:02\"; mtu = 1492; } );\n";
	cr_assert_eq(cgn_config_load_string(ok, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.ports[0].mtu, 0, "the device's own");
	cr_assert_eq(cfg.ports[1].mtu, 1492);
	cr_assert_eq(cfg.ports[0].next_hop, htonl(0x64400001));
	cr_assert(!cfg.ports[0].have_peer_mac);
	cr_assert_eq(cfg.ports[1].next_hop, 0);
	cr_assert(!cfg.ports[1].pcp_management);

	static const struct {
		const char *port, *want;
	} bad[] = {
		{ "next_hop = \"100.64.0.1\";", "needs the port's own address" },
		{ "address = \"100.64.0.254\"; next_hop = \"nowhere\";", "next_hop must be an IPv4 address" },
		{ "address = \"100.64.0.254\"; next_hop = \"100.64.0.1\"; peer_mac = \"02:00:00:00:00:01\";",
		  "not both" },
		{ "address = \"100.64.0.254\"; pcp_management = true;", "pcp_management is for an outside port" },
		{ "mtu = 575;", "must be between 576 and 9216" },
		{ "mtu = 9217;", "must be between 576 and 9216" },
		{ "mtu = \"1500\";", "must be an integer" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text),
			 MINIMAL "ports = ( { name = \"a\"; role = \"inside\"; %s },\n"
				 "          { name = \"b\"; role = \"outside\"; } );\n",
			 bad[i].port);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i].port);
		cr_assert(strstr(err, bad[i].want) != NULL, "'%s' gave '%s'", bad[i].port, err);
	}
}

#define TWO_PORTS                                                                                        \
	"ports = ( { name = \"a\"; role = \"inside\"; address = \"100.64.0.254\"; next_hop = \"100.64.0.1\"; },\n" \
	"          { name = \"b\"; role = \"outside\"; address = \"198.51.100.1\"; } );\n"

Test(config, routes_neighbours_and_arp)
{
	static const char *ok = MINIMAL TWO_PORTS
		"routes = ( { prefix = \"100.64.9.0/24\"; port = \"a\"; },\n"
		"           { prefix = \"0.0.0.0/0\"; port = \"b\"; via = \"198.51.100.10\"; } );\n"
		"neighbours = ( { address = \"100.64.9.7\"; mac = \"02:00:00:00:09:07\"; port = \"a\"; } );\n"
		"arp = { reachable_ms = 5000; retry_ms = 200; probes = 5; max_neighbours = 100000; };\n";
	cr_assert_eq(cgn_config_load_string(ok, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.n_routes, 3, "two, and port a's next_hop as its default");
	cr_assert(cgn_route_is_v4(&cfg.routes[0]));
	cr_assert_eq(cgn_addr_v4(&cfg.routes[0].net.addr), htonl(0x64400900));
	cr_assert_eq(cfg.routes[0].net.len, 96 + 24);
	cr_assert(cgn_route_is_connected(&cfg.routes[0]), "directly connected");
	cr_assert(addr_is_zero(&cfg.routes[0].via), "all zero");
	cr_assert_eq(cfg.routes[1].port, 1);
	cr_assert(cgn_route_is_v4(&cfg.routes[1]));
	cr_assert_eq(cfg.routes[1].net.len, 96, "0.0.0.0/0");
	cr_assert_eq(cgn_addr_v4(&cfg.routes[1].via), htonl(0xc633640a));
	cr_assert(cgn_addr_is_v4(&cfg.routes[1].via));
	cr_assert_eq(cfg.routes[2].net.len, 96);
	cr_assert(cgn_route_is_v4(&cfg.routes[2]));
	cr_assert_eq(cfg.routes[2].port, 0);
	cr_assert_eq(cgn_addr_v4(&cfg.routes[2].via), htonl(0x64400001));
	cr_assert_eq(cfg.n_neighbours, 1);
	cr_assert(cgn_addr_is_v4(&cfg.neighbours[0].addr));
	cr_assert_eq(cgn_addr_v4(&cfg.neighbours[0].addr), htonl(0x64400907));
	cr_assert_eq(cfg.neighbours[0].mac[5], 7);
	cr_assert_eq(cfg.arp.reachable_ms, 5000);
	cr_assert_eq(cfg.arp.probes, 5);
	cr_assert_eq(cfg.arp.max_neighbours, 100000);

	cr_assert_eq(cgn_config_load_string(MINIMAL TWO_PORTS, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.arp.reachable_ms, 30000, "defaults");
	cr_assert_eq(cfg.arp.retry_ms, 1000);
	cr_assert_eq(cfg.arp.probes, 3);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "routes = ( { prefix = \"100.64.9.1/24\"; port = \"a\"; } );", "zero host bits" },
		{ "routes = ( { prefix = \"::ffff:10.0.0.0/104\"; port = \"a\"; } );", "IPv4-mapped" },
		{ "routes = ( { prefix = \"100.64.9.0/24\"; port = \"a\"; via = \"2001:db8::1\"; } );",
		  "via must be an IPv4 address" },
		{ "routes = ( { prefix = \"100.64.9.0/24\"; port = \"c\"; } );", "port must name one of ports" },
		{ "routes = ( { prefix = \"100.64.9.0/24\"; port = \"a\"; via = \"x\"; } );", "via must be" },
		{ "routes = ( { prefix = \"100.64.9.0/24\"; port = \"a\"; metric = 1; } );", "unknown key" },
		{ "routes = ( { prefix = \"0.0.0.0/0\"; port = \"a\"; via = \"100.64.0.2\"; } );", "same prefix twice" },
		{ "routes = ( { prefix = \"10.0.0.0/8\"; port = \"a\"; }, { prefix = \"10.0.0.0/8\"; port = \"a\"; } );",
		  "same prefix twice" },
		{ "routes = { prefix = \"10.0.0.0/8\"; };", "must be a list" },
		{ "neighbours = ( { address = \"100.64.9.7\"; mac = \"02:00\"; port = \"a\"; } );", "six hex octets" },
		{ "neighbours = ( { address = \"100.64.9.7\"; mac = \"02:00:00:00:00:01\"; } );", "port must name" },
		{ "neighbours = ( { address = \"100.64.9.7\"; mac = \"02:00:00:00:00:01\"; port = \"a\"; },"
		  " { address = \"100.64.9.7\"; mac = \"02:00:00:00:00:02\"; port = \"a\"; } );", "the same address" },
		{ "arp = { probes = 0; };", "between 1 and 100" },
		{ "arp = { reachable = 1; };", "unknown key" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[2048];
		snprintf(text, sizeof(text), MINIMAL TWO_PORTS "%s\n", bad[i].text);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i].text);
		cr_assert(strstr(err, bad[i].want) != NULL, "'%s' gave '%s'", bad[i].text, err);
	}
	/* A route's port needs an address: ARP requests come from it. */
	cr_assert_eq(cgn_config_load_string(MINIMAL
		"ports = ( { name = \"a\"; role = \"inside\"; }, { name = \"b\"; role = \"outside\"; } );\n"
		"routes = ( { prefix = \"10.0.0.0/8\"; port = \"a\"; } );\n", &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "needs an address") != NULL, "%s", err);
}

/* IPv6 on the ports: address6 is a global unicast address; everything else is refused with
 * file:line like any other key. */
Test(config, port_address6)
{
	static const char *ok = MINIMAL
		"ports = ( { name = \"a\"; role = \"inside\"; address6 = \"2001:db8:100::254\"; },\n"
		"          { name = \"b\"; role = \"outside\"; } );\n";
	cr_assert_eq(cgn_config_load_string(ok, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert(cfg.ports[0].have_address6);
	struct cgn_addr want = A("2001:db8:100::254");
	cr_assert(cgn_addr_eq(&cfg.ports[0].address6, &want));
	cr_assert_not(cfg.ports[1].have_address6);
	cr_assert(addr_is_zero(&cfg.ports[1].address6));
	cr_assert_eq(cfg.ports[0].address, 0, "no IPv4 address needed");

	static const struct {
		const char *addr6, *want;
	} bad[] = {
		{ "ff02::1", "multicast" },        { "fe80::1", "link-local" },     { "::", "unspecified" },
		{ "::1", "loopback" },             { "::ffff:10.0.0.1", "IPv4-mapped" },
		{ "10.0.0.1", "must be an IPv6 address" }, { "2001:db8::/64", "must be an IPv6 address" },
		{ "x", "must be an IPv6 address" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text),
			 MINIMAL "ports = ( { name = \"a\"; role = \"inside\"; },\n"
				 "          { name = \"b\"; role = \"outside\";\n"
				 "            address6 = \"%s\"; } );\n",
			 bad[i].addr6);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i].addr6);
		cr_assert(strstr(err, bad[i].want) != NULL, "'%s' gave '%s'", bad[i].addr6, err);
		cr_assert(strstr(err, "<string>:4: ") == err && strstr(err, "entry 2: address6") != NULL, "file:line: '%s'", err);
	}
	cr_assert_eq(cgn_config_load_string(MINIMAL "ports = ( { name = \"a\"; role = \"inside\"; address6 = 7; },\n"
						   "{ name = \"b\"; role = \"outside\"; } );\n",
					    &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "must be a string") != NULL, "%s", err);
}

#define PORTS6                                                                                               \
	"ports = ( { name = \"a\"; role = \"inside\"; address = \"100.64.0.254\"; address6 = \"2001:db8:100::254\"; },\n" \
	"          { name = \"b\"; role = \"outside\"; address = \"198.51.100.1\"; },\n"                         \
	"          { name = \"c\"; role = \"inside\"; } );\n"

/* IPv4 and IPv6 routes in one list: a via of the prefix's family, a connected IPv6 prefix,
 * ::/0 as an IPv6 default beside 0.0.0.0/0, and IPv6 routes and neighbours on a port with no
 * address at all (ND comes from its link-local address). */
Test(config, ipv6_routes_and_neighbours)
{
	static const char *ok = MINIMAL PORTS6
		"routes = ( { prefix = \"2001:db8::/32\"; port = \"a\"; via = \"2001:db8:100::1\"; },\n"
		"           { prefix = \"2001:db8:100::/64\"; port = \"a\"; },\n"
		"           { prefix = \"::/0\"; port = \"b\"; via = \"fe80::1\"; },\n"
		"           { prefix = \"0.0.0.0/0\"; port = \"b\"; via = \"198.51.100.10\"; },\n"
		"           { prefix = \"2001:db8:200::/48\"; port = \"c\"; },\n"
		"           { prefix = \"::/0\"; port = \"a\"; via = \"2001:db8:100::1\"; } );\n"
		"neighbours = ( { address = \"2001:db8:100::7\"; mac = \"02:00:00:00:01:07\"; port = \"a\"; },\n"
		"               { address = \"fe80::9\"; mac = \"02:00:00:00:01:09\"; port = \"c\"; },\n"
		"               { address = \"100.64.0.7\"; mac = \"02:00:00:00:00:07\"; port = \"a\"; } );\n"
		"dataplane = { icmp_source6 = \"2001:db8:ffff::1\"; };\n";
	cr_assert_eq(cgn_config_load_string(ok, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.n_routes, 6);
	char buf[CGN_PREFIX_STRLEN];
	cr_assert_str_eq(cgn_prefix_format(&cfg.routes[0].net, buf, sizeof(buf)), "2001:db8::/32");
	cr_assert_not(cgn_route_is_v4(&cfg.routes[0]));
	struct cgn_addr gw = A("2001:db8:100::1");
	cr_assert(cgn_addr_eq(&cfg.routes[0].via, &gw));
	cr_assert_eq(cfg.routes[1].net.len, 64);
	cr_assert(cgn_route_is_connected(&cfg.routes[1]));
	cr_assert_eq(cfg.routes[2].net.len, 0, "::/0");
	cr_assert(addr_is_zero(&cfg.routes[2].net.addr));
	cr_assert_not(cgn_route_is_v4(&cfg.routes[2]), "::/0 is IPv6's default");
	cr_assert(cgn_route_is_v4(&cfg.routes[3]), "0.0.0.0/0 is IPv4's");
	cr_assert_eq(cfg.routes[4].port, 2, "a port with no address takes IPv6 routes");
	cr_assert_eq(cfg.routes[5].port, 0, "::/0 in the inside table too");
	cr_assert_eq(cfg.n_neighbours, 3);
	struct cgn_addr nb = A("2001:db8:100::7");
	cr_assert(cgn_addr_eq(&cfg.neighbours[0].addr, &nb));
	cr_assert_eq(cfg.neighbours[1].port, 2);
	cr_assert(cgn_addr_is_v4(&cfg.neighbours[2].addr));
	cr_assert(cfg.dataplane.have_icmp_source6);
	struct cgn_addr src6 = A("2001:db8:ffff::1");
	cr_assert(cgn_addr_eq(&cfg.dataplane.icmp_source6, &src6));
	cr_assert_not(cfg.dataplane.have_icmp_source);

	/* The comparison a reload makes sees an IPv6 route change. */
	static struct cgn_config other;
	cr_assert_eq(cgn_config_load_string(ok, &other, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(cgn_config_live_differs(&cfg, &other));
	other.routes[1].net.len = 63;
	cr_assert(cgn_config_live_differs(&cfg, &other));

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "routes = ( { prefix = \"2001:db8::1/32\"; port = \"a\"; } );", "zero host bits" },
		{ "routes = ( { prefix = \"2001:db8::/129\"; port = \"a\"; } );", "zero host bits" },
		{ "routes = ( { prefix = \"2001:db8::/32\"; port = \"a\"; via = \"100.64.0.1\"; } );",
		  "via must be an IPv6 address for an IPv6 prefix" },
		{ "routes = ( { prefix = \"2001:db8::/32\"; port = \"a\"; via = \"ff02::2\"; } );", "unicast" },
		{ "routes = ( { prefix = \"2001:db8::/32\"; port = \"a\"; via = \"::\"; } );", "unicast" },
		{ "routes = ( { prefix = \"2001:db8::/32\"; port = \"a\"; via = \"::ffff:1.2.3.4\"; } );", "IPv4-mapped" },
		{ "routes = ( { prefix = \"ff00::/8\"; port = \"a\"; } );", "IPv6 unicast prefix" },
		{ "routes = ( { prefix = \"fe80::/64\"; port = \"a\"; } );", "IPv6 unicast prefix" },
		{ "routes = ( { prefix = \"::ffff:0:0/96\"; port = \"a\"; } );", "IPv4-mapped" },
		{ "routes = ( { prefix = \"::/0\"; port = \"a\"; }, { prefix = \"::/0\"; port = \"c\"; } );",
		  "same prefix twice for inside ports" },
		{ "routes = ( { prefix = \"2001:db8::/32\"; port = \"a\"; },\n { prefix = \"2001:db8::/32\"; port = \"a\"; "
		  "via = \"fe80::1\"; } );",
		  "<string>:7: (top): the same prefix twice" },
		/* IPv4 rules stand: an IPv4 route on a port without an IPv4 address. */
		{ "routes = ( { prefix = \"10.0.0.0/8\"; port = \"c\"; } );", "port c needs an address" },
		{ "neighbours = ( { address = \"10.0.0.1\"; mac = \"02:00:00:00:00:01\"; port = \"c\"; } );",
		  "port c needs an address" },
		{ "neighbours = ( { address = \"ff02::1\"; mac = \"02:00:00:00:00:01\"; port = \"a\"; } );", "unicast" },
		{ "neighbours = ( { address = \"::1\"; mac = \"02:00:00:00:00:01\"; port = \"a\"; } );", "unicast" },
		{ "neighbours = ( { address = \"2001:db8::\"; mac = \"02:00:00:00:00:01\"; port = \"a\"; },"
		  " { address = \"2001:db8::0\"; mac = \"02:00:00:00:00:02\"; port = \"a\"; } );",
		  "the same address and port" },
		{ "neighbours = ( { address = \"2001:db8::/64\"; mac = \"02:00:00:00:00:01\"; port = \"a\"; } );",
		  "must be an IPv6 address" },
		{ "dataplane = { icmp_source6 = \"fe80::1\"; };", "link-local" },
		{ "dataplane = { icmp_source6 = \"198.51.100.1\"; };", "must be an IPv6 address" },
		{ "dataplane = { icmp_source6 = \"ff05::2\"; };", "multicast" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[2048];
		snprintf(text, sizeof(text), MINIMAL PORTS6 "%s\n", bad[i].text);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i].text);
		cr_assert(strstr(err, bad[i].want) != NULL, "'%s' gave '%s'", bad[i].text, err);
	}
	/* The same IPv6 neighbour on two ports is two entries. */
	cr_assert_eq(cgn_config_load_string(MINIMAL PORTS6
		"neighbours = ( { address = \"fe80::1\"; mac = \"02:00:00:00:00:01\"; port = \"a\"; },"
		" { address = \"fe80::1\"; mac = \"02:00:00:00:00:02\"; port = \"c\"; } );\n", &cfg, err, sizeof(err)), 0, "%s", err);
}

/* nat64: off by default; the Well-Known Prefix and one Network-Specific Prefix of every
 * RFC 6052 length. */
Test(config, nat64_good)
{
	cr_assert_eq(cgn_config_load_string(MINIMAL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(cgn_nat64_enabled(&cfg), "off without prefixes");
	cr_assert_eq(cfg.nat64.n_prefixes, 0);
	cr_assert_eq(cfg.nat64.subscriber_prefix_len, 56);

	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\" ]; };", &cfg, err,
					    sizeof(err)), 0, "%s", err);
	cr_assert(cgn_nat64_enabled(&cfg));
	cr_assert_eq(cfg.nat64.n_prefixes, 1);
	cr_assert_eq(cfg.nat64.prefixes[0].len, 96);
	cr_assert(cgn_addr_eq(&cfg.nat64.prefixes[0].addr, &(struct cgn_addr){ .b = { 0, 0x64, 0xff, 0x9b } }));
	cr_assert(cfg.nat64.wkp[0], "the Well-Known Prefix is flagged for RFC 6052 §3.1");
	cr_assert_eq(cfg.nat64.subscriber_prefix_len, 56);

	static const char *all =
		MINIMAL "nat64 = {\n  prefixes = [ \"2001:db8::/32\", \"2001:db9:100::/40\", \"2001:dba:122::/48\",\n"
		"    \"2001:dbb:122:300::/56\", \"2001:dbc:122:344::/64\", \"2001:dbd:122:344::/96\",\n"
		"    \"64:ff9b::/96\", \"64:ff9b:1::/48\" ];\n  subscriber_prefix_len = 128;\n};\n";
	cr_assert_eq(cgn_config_load_string(all, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nat64.n_prefixes, 8);
	static const unsigned lens[] = { 32, 40, 48, 56, 64, 96, 96, 48 };
	for (unsigned i = 0; i < 8; i++) {
		cr_assert_eq(cfg.nat64.prefixes[i].len, lens[i], "entry %u", i + 1);
		cr_assert_eq(cfg.nat64.wkp[i], i == 6, "entry %u", i + 1);
	}
	cr_assert_eq(cfg.nat64.subscriber_prefix_len, 128);

	/* subscriber_prefix_len alone: NAT64 stays off; 32 is the shortest */
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { subscriber_prefix_len = 32; prefixes = [ ]; };", &cfg,
					    err, sizeof(err)), 0, "%s", err);
	cr_assert_not(cgn_nat64_enabled(&cfg));
	cr_assert_eq(cfg.nat64.subscriber_prefix_len, 32);
}

Test(config, nat64_bad)
{
	static const struct {
		const char *nat64, *want;
	} bad[] = {
		{ "prefixes = [ \"2001:db8::/60\" ];",
		  "<string>:4: nat64.prefixes: entry 1 (\"2001:db8::/60\") must be a /32, /40, /48, /56, /64 or /96 (RFC 6052 §2.2)" },
		{ "prefixes = [ \"2001:db8::/128\" ];", "entry 1 (\"2001:db8::/128\") must be a /32, /40" },
		{ "prefixes = [ \"2001:db8::\" ];", "entry 1 (\"2001:db8::\") must be a /32, /40" },
		{ "prefixes = [ \"64:ff9b::/96\", \"2001:d00::/24\" ];", "entry 2 (\"2001:d00::/24\") must be a /32" },
		{ "prefixes = [ \"64:ff9b::1/96\" ];",
		  "nat64.prefixes: entry 1 (\"64:ff9b::1/96\") is not an ADDR/LEN prefix with zero host bits" },
		{ "prefixes = [ \"2001:db8:122:344:100::/96\" ];",
		  "entry 1 (\"2001:db8:122:344:100::/96\") must have bits 64-71 zero (the \"u\" octet, RFC 6052 §2.2)" },
		{ "prefixes = [ \"64:ff9b::/64\" ];",
		  "entry 1 (\"64:ff9b::/64\") holds the Well-Known Prefix 64:ff9b::/96, which is used only as a /96" },
		{ "prefixes = [ \"192.0.2.0/24\" ];", "entry 1 (\"192.0.2.0/24\") must be an IPv6 prefix" },
		{ "prefixes = [ \"::ffff:0:0/96\" ];", "entry 1 (\"::ffff:0:0/96\") must be an IPv6 prefix" },
		{ "prefixes = [ \"::/96\" ];", "entry 1 (\"::/96\") must not be ::/n" },
		{ "prefixes = [ \"ff0e::/32\" ];", "entry 1 (\"ff0e::/32\") must not be multicast" },
		{ "prefixes = [ \"fe80::/64\" ];", "entry 1 (\"fe80::/64\") must not be link-local" },
		{ "prefixes = [ \"nonsense\" ];", "entry 1 (\"nonsense\") is not an ADDR/LEN prefix" },
		{ "prefixes = [ 64 ];", "entry 1 (\"?\") is not an ADDR/LEN prefix" },
		{ "prefixes = \"64:ff9b::/96\";", "nat64.prefixes: must be a list of IPv6 prefixes" },
		{ "prefixes = [ \"64:ff9b::/96\", \"64:ff9b::/96\" ];", "entry 2 (\"64:ff9b::/96\") overlaps entry 1" },
		{ "prefixes = [ \"2001:db8:122::/48\", \"2001:db8:122:344::/64\" ];",
		  "entry 2 (\"2001:db8:122:344::/64\") overlaps entry 1" },
		{ "prefixes = [ \"2001:db8:122:344::/64\", \"2001:db8::/32\" ];",
		  "entry 2 (\"2001:db8::/32\") overlaps entry 1" },
		{ "prefixes = [ \"2001:db8:1::/48\", \"2001:db8:2::/48\", \"2001:db8:3::/48\", \"2001:db8:4::/48\",\n"
		  "  \"2001:db8:5::/48\", \"2001:db8:6::/48\", \"2001:db8:7::/48\", \"2001:db8:8::/48\", \"2001:db8:9::/48\" ];",
		  "<string>:4: nat64.prefixes: at most 8 prefixes" },
		{ "subscriber_prefix_len = 31;", "<string>:4: nat64.subscriber_prefix_len: must be between 32 and 128" },
		{ "subscriber_prefix_len = 129;", "nat64.subscriber_prefix_len: must be between 32 and 128" },
		{ "subscriber_prefix_len = \"56\";", "nat64.subscriber_prefix_len: must be an integer" },
		{ "prefix = [ \"64:ff9b::/96\" ];", "<string>:4: nat64.prefix: unknown key" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), MINIMAL "nat64 = {\n%s\n};\n", bad[i].nat64);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i].nat64);
		cr_assert(strstr(err, bad[i].want) != NULL, "'%s' gave '%s'", bad[i].nat64, err);
	}
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = [ \"64:ff9b::/96\" ];", &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "nat64: must be a group: nat64 = { ... };") != NULL, "%s", err);

	/* RFC 6146 §3.5: IPv6 sources in Pref64 are dropped, so subscribers may not live there. */
	cr_assert_eq(cgn_config_load_string(
			     "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\", \"2001:db8:100::/40\" ]; };\n"
			     "nat = { pool = [ \"203.0.113.0/30\" ]; };\nnat64 = { prefixes = [ \"2001:db8::/32\" ]; };\n",
			     &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "<string>:3: nat64.prefixes: entry 1 (\"2001:db8::/32\") overlaps pcp.inside entry 2: "
			      "IPv6 packets from Pref64 are dropped (RFC 6146 §3.5)") != NULL, "%s", err);
	cr_assert_eq(cgn_config_load_string(
			     "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\", \"2001:db8:100::/40\" ]; };\n"
			     "nat = { pool = [ \"203.0.113.0/30\" ]; };\nnat64 = { prefixes = [ \"64:ff9b::/96\" ]; };\n",
			     &cfg, err, sizeof(err)), 0, "%s", err);
}

/* The translation knobs (RFC 7915 §4.1/§5.1, RFC 6146 §3.4, RFC 6052 §3.1): defaults, every
 * key set, and each one's bounds. */
Test(config, nat64_knobs_good)
{
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\" ]; };", &cfg, err,
					    sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nat64.lowest_ipv6_mtu, 1280, "RFC 7915 §4.1's default");
	cr_assert_eq(cfg.nat64.n_treat_as_global, 0, "RFC 6052 §3.1 unchanged by default");
	cr_assert_eq(cfg.nat64.reset_traffic_class, 0);
	cr_assert_eq(cfg.nat64.reset_tos, 0);
	cr_assert_eq(cfg.nat64.new_tos, 0);
	cr_assert_eq(cfg.nat64.udp_zero_checksum_drop, 0, "zero UDP checksums computed by default");

	static const char *all =
		MINIMAL "nat64 = {\n  prefixes = [ \"64:ff9b::/96\" ];\n  lowest_ipv6_mtu = 1500;\n"
		"  treat_as_global = [ \"198.51.100.0/24\", \"203.0.113.0/24\", \"192.0.2.1\" ];\n"
		"  reset_traffic_class = true;\n  reset_tos = true;\n  new_tos = 184;\n"
		"  udp_zero_checksum = \"drop\";\n};\n";
	cr_assert_eq(cgn_config_load_string(all, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nat64.lowest_ipv6_mtu, 1500);
	cr_assert_eq(cfg.nat64.n_treat_as_global, 3);
	cr_assert_eq(cfg.nat64.treat_as_global[0].len, 96 + 24, "IPv4 prefixes are kept in mapped form");
	struct cgn_addr doc3 = A("203.0.113.0");
	cr_assert(cgn_addr_eq(&cfg.nat64.treat_as_global[1].addr, &doc3));
	cr_assert_eq(cfg.nat64.treat_as_global[2].len, 128, "a bare address is a host prefix");
	cr_assert_eq(cfg.nat64.reset_traffic_class, 1);
	cr_assert_eq(cfg.nat64.reset_tos, 1);
	cr_assert_eq(cfg.nat64.new_tos, 184);
	cr_assert_eq(cfg.nat64.udp_zero_checksum_drop, 1);

	/* The bounds themselves, "compute" spelt out, an empty list, false spelt out. */
	static const char *edges =
		MINIMAL "nat64 = {\n  lowest_ipv6_mtu = 9216;\n  treat_as_global = [ ];\n  reset_traffic_class = false;\n"
		"  reset_tos = false;\n  new_tos = 255;\n  udp_zero_checksum = \"compute\";\n};\n";
	cr_assert_eq(cgn_config_load_string(edges, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nat64.lowest_ipv6_mtu, 9216);
	cr_assert_eq(cfg.nat64.n_treat_as_global, 0);
	cr_assert_eq(cfg.nat64.reset_traffic_class, 0);
	cr_assert_eq(cfg.nat64.reset_tos, 0);
	cr_assert_eq(cfg.nat64.new_tos, 255);
	cr_assert_eq(cfg.nat64.udp_zero_checksum_drop, 0);
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { lowest_ipv6_mtu = 1280; new_tos = 0; };", &cfg, err,
					    sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nat64.lowest_ipv6_mtu, 1280);
	cr_assert_eq(cfg.nat64.new_tos, 0);
}

Test(config, nat64_knobs_bad)
{
	static const struct {
		const char *nat64, *want;
	} bad[] = {
		{ "lowest_ipv6_mtu = 1279;", "<string>:4: nat64.lowest_ipv6_mtu: must be between 1280 and 9216" },
		{ "lowest_ipv6_mtu = 9217;", "<string>:4: nat64.lowest_ipv6_mtu: must be between 1280 and 9216" },
		{ "lowest_ipv6_mtu = \"1280\";", "<string>:4: nat64.lowest_ipv6_mtu: must be an integer" },
		{ "treat_as_global = \"198.51.100.0/24\";",
		  "<string>:4: nat64.treat_as_global: must be a list of prefixes, e.g. [ \"100.64.0.0/10\" ]" },
		{ "treat_as_global = [ \"2001:db8::/32\" ];",
		  "<string>:4: nat64.treat_as_global: entry 1 (\"2001:db8::/32\") must be IPv4" },
		{ "treat_as_global = [ \"198.51.100.0/24\", \"64:ff9b::c633:640a\" ];",
		  "<string>:4: nat64.treat_as_global: entry 2 (\"64:ff9b::c633:640a\") must be IPv4" },
		{ "treat_as_global = [ \"198.51.100.1/24\" ];",
		  "<string>:4: nat64.treat_as_global: entry 1 (\"198.51.100.1/24\") is not an address or ADDR/LEN prefix "
		  "with zero host bits" },
		{ "treat_as_global = [ 10 ];", "<string>:4: nat64.treat_as_global: entry 1 (\"?\") is not an address" },
		{ "treat_as_global = [ \"10.1.0.0/16\", \"10.2.0.0/16\", \"10.3.0.0/16\", \"10.4.0.0/16\",\n"
		  "  \"10.5.0.0/16\", \"10.6.0.0/16\", \"10.7.0.0/16\", \"10.8.0.0/16\", \"10.9.0.0/16\" ];",
		  "<string>:4: nat64.treat_as_global: at most 8 entries" },
		{ "reset_traffic_class = 1;", "<string>:4: nat64.reset_traffic_class: must be true or false" },
		{ "reset_traffic_class = \"true\";", "<string>:4: nat64.reset_traffic_class: must be true or false" },
		{ "reset_tos = 0;", "<string>:4: nat64.reset_tos: must be true or false" },
		{ "new_tos = 256;", "<string>:4: nat64.new_tos: must be between 0 and 255" },
		{ "new_tos = -1;", "<string>:4: nat64.new_tos: must be between 0 and 255" },
		{ "new_tos = \"0xb8\";", "<string>:4: nat64.new_tos: must be an integer" },
		{ "udp_zero_checksum = \"ignore\";", "<string>:4: nat64.udp_zero_checksum: must be \"compute\" or \"drop\"" },
		{ "udp_zero_checksum = \"Drop\";", "<string>:4: nat64.udp_zero_checksum: must be \"compute\" or \"drop\"" },
		{ "udp_zero_checksum = true;", "<string>:4: nat64.udp_zero_checksum: must be \"compute\" or \"drop\"" },
		{ "udp_zero_checksum = [ \"drop\" ];",
		  "<string>:4: nat64.udp_zero_checksum: must be \"compute\" or \"drop\"" },
		{ "udp_zero_checksums = \"drop\";", "<string>:4: nat64.udp_zero_checksums: unknown key" },
		{ "reset_tc = true;", "<string>:4: nat64.reset_tc: unknown key" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), MINIMAL "nat64 = {\n%s\n};\n", bad[i].nat64);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i].nat64);
		cr_assert(strstr(err, bad[i].want) == err, "'%s' gave '%s'", bad[i].nat64, err);
	}
	/* The line is the key's own, wherever it stands in the group. */
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = {\n  prefixes = [ \"64:ff9b::/96\" ];\n  reset_tos = true;\n"
						    "  new_tos = 300;\n};\n", &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "<string>:6: nat64.new_tos: must be between 0 and 255") == err, "%s", err);
}

/* RFC 6052 §3.1 with nat64.treat_as_global: what the data plane asks of the configuration. */
Test(config, nat64_v4_allowed)
{
	static const char *text =
		MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\", \"2001:db9:100::/40\" ];\n"
		"  treat_as_global = [ \"198.51.100.0/24\", \"203.0.113.0/24\" ]; };\n";
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), 0, "%s", err);
	struct cgn_addr doc = A("198.51.100.10"), doc3 = A("203.0.113.1"), doc1 = A("192.0.2.1"), rfc1918 = A("10.0.0.1"),
			cgnat = A("100.64.0.1"), global = A("8.8.8.8");
	cr_assert(cgn_nat64_v4_allowed(&cfg, 0, &global), "a global address under the WKP");
	cr_assert(cgn_nat64_v4_allowed(&cfg, 0, &doc), "198.51.100.0/24: declared global");
	cr_assert(cgn_nat64_v4_allowed(&cfg, 0, &doc3), "203.0.113.0/24: declared global");
	cr_assert_not(cgn_nat64_v4_allowed(&cfg, 0, &doc1), "192.0.2.0/24 was not declared");
	cr_assert_not(cgn_nat64_v4_allowed(&cfg, 0, &rfc1918), "RFC 1918 under the WKP");
	cr_assert_not(cgn_nat64_v4_allowed(&cfg, 0, &cgnat), "100.64.0.0/10 under the WKP");
	cr_assert(cgn_nat64_v4_allowed(&cfg, 1, &rfc1918), "anything under a Network-Specific Prefix");
	cr_assert(cgn_nat64_v4_allowed(&cfg, 1, &doc1));

	/* Without treat_as_global: the RFC's rule for the documentation ranges too. */
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\" ]; };", &cfg, err,
					    sizeof(err)), 0, "%s", err);
	cr_assert_not(cgn_nat64_v4_allowed(&cfg, 0, &doc));
	cr_assert_not(cgn_nat64_v4_allowed(&cfg, 0, &doc3));
	cr_assert(cgn_nat64_v4_allowed(&cfg, 0, &global));
}

/* The idle timeouts NAT44 and NAT64 share, against RFC 6146 §4's constants (UDP_MIN 2 min,
 * UDP_DEFAULT 5 min, TCP_TRANS 4 min, TCP_EST 2 h + TCP_TRANS as RFC 5382 REQ-5 asks,
 * ICMP_DEFAULT 60 s): defaults and lower bounds. */
Test(config, nat_timeouts_rfc6146_4)
{
	cr_assert_eq(cgn_config_load_string(MINIMAL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nat.udp_timeout_s, 300, "UDP_DEFAULT");
	cr_assert_eq(cfg.nat.tcp_transitory_s, 240, "TCP_TRANS");
	cr_assert_eq(cfg.nat.tcp_established_s, 7440, "TCP_EST + TCP_TRANS");
	cr_assert_eq(cfg.nat.icmp_timeout_s, 60, "ICMP_DEFAULT");
	static const char *ok = "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ]; };\n"
				"nat = { pool = [ \"203.0.113.0/30\" ];\n"
				"  timeouts = { udp = 120; tcp_established = 7440; icmp = 60; }; };\n";
	cr_assert_eq(cgn_config_load_string(ok, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nat.udp_timeout_s, 120, "UDP_MIN itself");
	static const struct {
		const char *timeouts, *want;
	} bad[] = {
		{ "udp = 119;", "<string>:3: nat.timeouts.udp: must be between 120 and 86400" },
		{ "tcp_established = 7439;", "<string>:3: nat.timeouts.tcp_established: must be between 7440 and 864000" },
		{ "icmp = 59;", "<string>:3: nat.timeouts.icmp: must be between 60 and 86400" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ]; };\n"
			 "nat = { pool = [ \"203.0.113.0/30\" ];\n  timeouts = { %s }; };\n", bad[i].timeouts);
		cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i].timeouts);
		cr_assert(strstr(err, bad[i].want) == err, "'%s' gave '%s'", bad[i].timeouts, err);
	}
}

/* The subscriber of an IPv6 address: its first subscriber_prefix_len bits. */
Test(config, nat64_subscriber)
{
	static const struct {
		unsigned len;
		const char *addr, *want;
	} cases[] = {
		{ 56, "2001:db8:1234:5678:9abc::1", "2001:db8:1234:5600::" },
		{ 60, "2001:db8:1234:5678:9abc::1", "2001:db8:1234:5670::" },
		{ 64, "2001:db8:1234:5678:9abc::1", "2001:db8:1234:5678::" },
		{ 32, "2001:db8:1234:5678:9abc::1", "2001:db8::" },
		{ 127, "2001:db8::3", "2001:db8::2" },
		{ 128, "2001:db8:1234:5678:9abc::1", "2001:db8:1234:5678:9abc::1" },
	};
	cr_assert_eq(cgn_config_load_string(MINIMAL, &cfg, err, sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.nat64.subscriber_prefix_len = cases[i].len;
		struct cgn_addr a = A(cases[i].addr), want = A(cases[i].want);
		struct cgn_prefix s = cgn_nat64_subscriber(&cfg, &a);
		char buf[CGN_ADDR_STRLEN];
		cr_assert_eq(s.len, cases[i].len);
		cr_assert(cgn_addr_eq(&s.addr, &want), "/%u of %s: %s", cases[i].len, cases[i].addr,
			  cgn_addr_format(&s.addr, buf, sizeof(buf)));
		cr_assert(cgn_prefix_contains(&s, &a));
	}
}

/* What reload compares: subscriber_prefix_len (refused), the prefixes (renumbered). */
Test(config, nat64_differs)
{
	static struct cgn_config other;
	static const char *text = MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\", \"2001:db8::/32\" ]; };";
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cgn_config_load_string(text, &other, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(cgn_config_nat64_differs(&cfg, &other));
	cr_assert_not(cgn_config_live_differs(&cfg, &other));
	other.nat64.subscriber_prefix_len = 64;
	cr_assert(cgn_config_nat64_differs(&cfg, &other));
	cr_assert(cgn_config_live_differs(&cfg, &other), "nat64 goes to the data plane");
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { prefixes = [ \"2001:db8::/32\", \"64:ff9b::/96\" ]; };",
					    &other, err, sizeof(err)), 0, "%s", err);
	cr_assert(cgn_config_nat64_differs(&cfg, &other), "another order");
	/* Each translation knob: a reload that changes one is refused, not accepted and ignored. */
	static const char *knobs[] = {
		"lowest_ipv6_mtu = 1500;", "treat_as_global = [ \"198.51.100.0/24\" ];", "reset_traffic_class = true;",
		"reset_tos = true;", "new_tos = 1;", "udp_zero_checksum = \"drop\";",
	};
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		char t[512];
		snprintf(t, sizeof(t), MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\", \"2001:db8::/32\" ]; %s };",
			 knobs[i]);
		cr_assert_eq(cgn_config_load_string(t, &other, err, sizeof(err)), 0, "%s", err);
		cr_assert(cgn_config_nat64_differs(&cfg, &other), "%s", knobs[i]);
		cr_assert(cgn_config_nat64_differs(&other, &cfg), "%s", knobs[i]);
	}
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\", \"2001:db8::/32\" ];"
						    " udp_zero_checksum = \"compute\"; new_tos = 0; };",
					    &other, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(cgn_config_nat64_differs(&cfg, &other), "the defaults spelt out change nothing");
	cr_assert_eq(cgn_config_load_string(MINIMAL, &other, err, sizeof(err)), 0, "%s", err);
	cr_assert(cgn_config_nat64_differs(&cfg, &other), "NAT64 off");
	cr_assert(cgn_config_nat64_differs(&other, &cfg), "NAT64 on");
}

/* RFC 7225 §4.2: IPv4 prefix lists of the Pref64s, for PREFIX64. */
Test(config, nat64_ipv4_prefixes)
{
	static const char *text = MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\", \"2001:db8:122:300::/56\" ];\n"
		"  ipv4_prefixes = ( { pref64 = \"2001:db8:122:300::/56\"; ipv4 = [ \"192.0.2.0/24\", \"198.51.100.0/25\" ]; } ); };";
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nat64.n_v4[0], 0);
	cr_assert_eq(cfg.nat64.n_v4[1], 2);
	struct cgn_prefix want;
	cgn_prefix_parse("198.51.100.0/25", &want);
	cr_assert(cfg.nat64.v4_lists[1][1].len == want.len && cgn_addr_eq(&cfg.nat64.v4_lists[1][1].addr, &want.addr));

	static const struct { const char *nat64, *says; } bad[] = {
		{ "prefixes = [ \"64:ff9b::/96\" ]; ipv4_prefixes = ( { pref64 = \"2001:db8::/32\"; ipv4 = [ \"192.0.2.0/24\" ]; } );",
		  "is not one of nat64.prefixes" },
		{ "ipv4_prefixes = ( { pref64 = \"64:ff9b::/96\"; ipv4 = [ \"192.0.2.0/24\" ]; } );", "is not one of nat64.prefixes" },
		{ "prefixes = [ \"64:ff9b::/96\" ]; ipv4_prefixes = ( { pref64 = \"64:ff9b::/96\"; ipv4 = [ \"2001:db8::/32\" ]; } );",
		  "must be IPv4" },
		{ "prefixes = [ \"64:ff9b::/96\" ]; ipv4_prefixes = ( { pref64 = \"64:ff9b::/96\"; ipv4 = [ ]; } );",
		  "at least one" },
		{ "prefixes = [ \"64:ff9b::/96\" ]; ipv4_prefixes = ( { pref64 = \"64:ff9b::/96\"; ipv4 = [ \"192.0.2.0/24\" ]; },"
		  " { pref64 = \"64:ff9b::/96\"; ipv4 = [ \"192.0.3.0/24\" ]; } );", "has a list already" },
		{ "prefixes = [ \"64:ff9b::/96\" ]; ipv4_prefixes = ( { ipv4 = [ \"192.0.2.0/24\" ]; } );", "is required" },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char t[1024];
		snprintf(t, sizeof(t), MINIMAL "nat64 = { %s };", bad[i].nat64);
		cr_assert_eq(cgn_config_load_string(t, &cfg, err, sizeof(err)), -EINVAL, "%s", bad[i].nat64);
		cr_assert(strstr(err, bad[i].says), "%s: %s", bad[i].nat64, err);
	}
}

/* A reload that changes nat64.prefixes renumbers the mappings' Pref64 indices. */
Test(config, nat64_remap)
{
	static struct cgn_config other;
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { prefixes = [ \"64:ff9b::/96\", \"2001:db9::/32\", "
					    "\"2001:db8:1:2::/64\" ]; };", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "nat64 = { prefixes = [ \"2001:db8:1:2::/64\", \"2001:db8:9::/48\", "
					    "\"64:ff9b::/96\" ]; };", &other, err, sizeof(err)), 0, "%s", err);
	uint8_t map[CGN_MAX_NAT64_PREFIXES];
	cgn_nat64_remap(&cfg.nat64, &other.nat64, map);
	cr_assert_eq(map[0], 2, "64:ff9b::/96 moved to index 2");
	cr_assert_eq(map[1], 0, "2001:db9::/32 is gone: the first prefix");
	cr_assert_eq(map[2], 0, "2001:db8:1:2::/64 moved to index 0");
	cgn_nat64_remap(&other.nat64, &cfg.nat64, map);
	cr_assert(map[0] == 2 && map[1] == 0 && map[2] == 0);
	cgn_nat64_remap(&cfg.nat64, &cfg.nat64, map);
	cr_assert(map[0] == 0 && map[1] == 1 && map[2] == 2);
}

/* state = { ... } (the state store): off by default, a relative path is the configuration
 * file's directory's, every key checked with file:line. */
Test(config, state_section)
{
	cr_assert_eq(cgn_config_load_string(MINIMAL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.state.path, "", "off unless configured");
	cr_assert_eq(cgn_config_state_size(&cfg), (uint64_t)65536 * 512, "from the table size");
	cr_assert_eq(cgn_config_load_string(MINIMAL "state = { path = \"/var/lib/cgnat\"; on_corrupt = \"refuse\"; "
						      "size_mb = 64; sync = \"commit\"; };\n", &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(cfg.state.path, "/var/lib/cgnat");
	cr_assert(cfg.state.refuse_corrupt);
	cr_assert(cfg.state.sync_commit);
	cr_assert_eq(cgn_config_state_size(&cfg), 64u << 20);
	cr_assert_eq(cgn_config_load_string(MINIMAL "state = { path = \"s\"; on_corrupt = \"ignore\"; };\n", &cfg, err,
					    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "<string>:3: state.on_corrupt: must be \"reset\" or \"refuse\""), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "state = { size_mb = 8; };\n", &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "<string>:3: state: path is required"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "state = { path = \"s\"; sync = \"never\"; };\n", &cfg, err,
					    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "state.sync: must be"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "state = { path = \"s\"; size_mb = 0; };\n", &cfg, err,
					    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "state.size_mb: must be between"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "state = { path = \"s\"; colour = 1; };\n", &cfg, err,
					    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "state.colour: unknown key"), "%s", err);
}

Test(config, a_relative_state_path_is_the_files_directorys)
{
	char dir[] = "/tmp/cgncfg-XXXXXX", path[128];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(MINIMAL "state = { path = \"state\"; };\n", f);
	fclose(f);
	int rc = cgn_config_load_file(path, &cfg, err, sizeof(err));
	unlink(path);
	rmdir(dir);
	cr_assert_eq(rc, 0, "%s", err);
	char want[160];
	snprintf(want, sizeof(want), "%s/state", dir);
	cr_assert_str_eq(cfg.state.path, want);
	/* the shipped example has one, next to it */
	cr_assert_eq(cgn_config_load_file(SOURCE_DIR "/docs/examples/loopback.conf", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.state.path, SOURCE_DIR "/docs/examples/state");
}

/* logging = { ... } (NAT events, issue 16): nothing is sent anywhere unless a destination is
 * configured (RFC 6888 REQ-12). */
Test(config, logging_defaults_send_nothing)
{
	cr_assert_eq(cgn_config_load_string(MINIMAL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.logging.ring_size, 65536);
	cr_assert_not(cfg.logging.sessions);
	cr_assert_eq(cfg.logging.threshold_pct, 0);
	cr_assert_not(cfg.logging.ipfix.on);
	cr_assert_eq(cfg.logging.syslog.transport, CGN_SYSLOG_NONE);
	cr_assert_eq(cfg.logging.ipfix.observation_domain, 1);
	cr_assert_eq(cfg.logging.ipfix.template_refresh_s, 600);
	cr_assert_eq(cfg.logging.ipfix.reconnect_s, 5);
	cr_assert_eq(cfg.logging.syslog.facility, 16);
	/* A logging group with neither destination: still nothing. */
	cr_assert_eq(cgn_config_load_string(MINIMAL "logging = { sessions = true; threshold = 80; };\n", &cfg, err,
					    sizeof(err)), 0, "%s", err);
	cr_assert(cfg.logging.sessions);
	cr_assert_eq(cfg.logging.threshold_pct, 80);
	cr_assert_not(cfg.logging.ipfix.on);
	cr_assert_eq(cfg.logging.syslog.transport, CGN_SYSLOG_NONE);
}

Test(config, logging_full)
{
	cr_assert_eq(cgn_config_load_string(MINIMAL "logging = { ring_size = 1024; sessions = true; threshold = 90;\n"
					    "  ipfix = { collector = \"198.51.100.9:4739\"; transport = \"tcp\";\n"
					    "            observation_domain = 7; template_refresh_s = 60; reconnect_s = 2; };\n"
					    "  syslog = { server = \"[2001:db8::9]:514\"; transport = \"tcp\"; facility = \"local3\";\n"
					    "             hostname = \"cgn1\"; }; };\n",
					    &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.logging.ring_size, 1024);
	cr_assert(cfg.logging.sessions);
	cr_assert_eq(cfg.logging.threshold_pct, 90);
	cr_assert(cfg.logging.ipfix.on);
	cr_assert(cfg.logging.ipfix.tcp);
	char buf[64];
	cr_assert_str_eq(cgn_addr_format(&cfg.logging.ipfix.collector.addr, buf, sizeof(buf)), "198.51.100.9");
	cr_assert_eq(cfg.logging.ipfix.collector.port, 4739);
	cr_assert_eq(cfg.logging.ipfix.observation_domain, 7);
	cr_assert_eq(cfg.logging.ipfix.template_refresh_s, 60);
	cr_assert_eq(cfg.logging.ipfix.reconnect_s, 2);
	cr_assert_eq(cfg.logging.syslog.transport, CGN_SYSLOG_TCP);
	cr_assert_str_eq(cgn_addr_format(&cfg.logging.syslog.server.addr, buf, sizeof(buf)), "2001:db8::9");
	cr_assert_eq(cfg.logging.syslog.server.port, 514);
	cr_assert_eq(cfg.logging.syslog.facility, 19);
	cr_assert_str_eq(cfg.logging.syslog.hostname, "cgn1");

	/* UDP is the default transport of both; "local" syslog needs no server. */
	cr_assert_eq(cgn_config_load_string(MINIMAL "logging = { ipfix = { collector = \"192.0.2.1:4739\"; };\n"
					    "  syslog = { transport = \"local\"; facility = \"daemon\"; }; };\n",
					    &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert(cfg.logging.ipfix.on);
	cr_assert_not(cfg.logging.ipfix.tcp);
	cr_assert_eq(cfg.logging.syslog.transport, CGN_SYSLOG_LOCAL);
	cr_assert_eq(cfg.logging.syslog.facility, 3);
	cr_assert_eq(cgn_config_load_string(MINIMAL "logging = { syslog = { server = \"192.0.2.1:514\"; }; };\n", &cfg,
					    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.logging.syslog.transport, CGN_SYSLOG_UDP);
	cr_assert_not(cfg.logging.ipfix.on);
}

/* Each error names the file, the line and the key. */
static void
logging_refused(const char *group, const char *want)
{
	char text[1024];
	snprintf(text, sizeof(text), MINIMAL "logging = %s;\n", group);
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), -EINVAL, "accepted: %s", group);
	cr_assert(strstr(err, want), "%s: got \"%s\", want \"%s\"", group, err, want);
}

Test(config, logging_errors)
{
	logging_refused("{ ring_size = 1000; }", "<string>:3: logging.ring_size: must be a power of two");
	logging_refused("{ ring_size = 32; }", "<string>:3: logging.ring_size: must be between 64 and 4194304");
	logging_refused("{ ring_size = 8388608; }", "logging.ring_size: must be between 64 and 4194304");
	logging_refused("{ threshold = 101; }", "logging.threshold: must be between 0 and 100");
	logging_refused("{ sessions = 1; }", "logging.sessions: must be true or false");
	logging_refused("{ colour = 1; }", "logging.colour: unknown key");
	logging_refused("{ ipfix = 1; }", "logging.ipfix: must be a group");
	logging_refused("{ ipfix = { transport = \"udp\"; }; }", "logging.ipfix: collector = \"ADDR:PORT\"; is required");
	logging_refused("{ ipfix = { collector = \"198.51.100.9\"; }; }", "logging.ipfix.collector: must be \"ADDR:PORT\"");
	logging_refused("{ ipfix = { collector = \"0.0.0.0:4739\"; }; }", "logging.ipfix.collector: must be");
	logging_refused("{ ipfix = { collector = \"2001:db8::1:4739\"; }; }", "logging.ipfix.collector: must be");
	logging_refused("{ ipfix = { collector = \"192.0.2.1:4739\"; transport = \"sctp\"; }; }",
			"logging.ipfix.transport: must be \"udp\" or \"tcp\"");
	logging_refused("{ ipfix = { collector = \"192.0.2.1:4739\"; template_refresh_s = 0; }; }",
			"logging.ipfix.template_refresh_s: must be between 1 and 86400");
	logging_refused("{ ipfix = { collector = \"192.0.2.1:4739\"; reconnect_s = 0; }; }",
			"logging.ipfix.reconnect_s: must be between");
	logging_refused("{ ipfix = { collector = \"192.0.2.1:4739\"; domain = 1; }; }", "logging.ipfix.domain: unknown key");
	logging_refused("{ syslog = { transport = \"udp\"; }; }", "logging.syslog: server = \"ADDR:PORT\"; is required");
	logging_refused("{ syslog = { server = \"192.0.2.1:514\"; transport = \"local\"; }; }",
			"logging.syslog.server: no server with transport = \"local\"");
	logging_refused("{ syslog = { server = \"192.0.2.1:514\"; transport = \"relp\"; }; }",
			"logging.syslog.transport: must be \"udp\", \"tcp\" or \"local\"");
	logging_refused("{ syslog = { transport = \"local\"; facility = \"local8\"; }; }",
			"logging.syslog.facility: must be a facility name");
	logging_refused("{ syslog = { transport = \"local\"; facility = 16; }; }",
			"logging.syslog.facility: must be a facility name");
	logging_refused("{ syslog = { transport = \"local\"; hostname = \"cgn 1\"; }; }",
			"logging.syslog.hostname: may hold only printable ASCII");
}

/* metrics = { listen = ...; } (the Prometheus page): off by default; IPv4 or [IPv6], the port
 * 9464 unless given; every error with file:line and key. */
Test(config, metrics_section)
{
	char buf[CGN_ADDR_STRLEN];
	cr_assert_eq(cgn_config_load_string(MINIMAL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(cfg.metrics.on, "off unless configured");

	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = \"127.0.0.1:9100\"; };\n", &cfg, err,
					    sizeof(err)), 0, "%s", err);
	cr_assert(cfg.metrics.on);
	cr_assert_str_eq(cgn_addr_format(&cfg.metrics.listen.addr, buf, sizeof(buf)), "127.0.0.1");
	cr_assert_eq(cfg.metrics.listen.port, 9100);

	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = \"[::1]:9464\"; };\n", &cfg, err,
					    sizeof(err)), 0, "%s", err);
	cr_assert(cfg.metrics.on);
	cr_assert_str_eq(cgn_addr_format(&cfg.metrics.listen.addr, buf, sizeof(buf)), "::1");
	cr_assert_eq(cfg.metrics.listen.port, 9464);

	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = \"192.0.2.1\"; };\n", &cfg, err,
					    sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.metrics.listen.port, 9464, "the default port");

	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { };\n", &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "<string>:3: metrics: listen is required"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = \"localhost:9464\"; };\n", &cfg, err,
					    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "<string>:3: metrics.listen: \"localhost:9464\" is not ADDR"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = \"127.0.0.1:70000\"; };\n", &cfg, err,
					    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "metrics.listen: \"127.0.0.1:70000\" is not"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = \"[::1]9464\"; };\n", &cfg, err,
					    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "metrics.listen:"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = \"224.0.0.1:9464\"; };\n", &cfg, err,
					    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "metrics.listen: \"224.0.0.1:9464\" is a multicast address"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = 9464; };\n", &cfg, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "metrics.listen: must be a string"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = { listen = \"127.0.0.1\"; path = \"/m\"; };\n", &cfg,
					    err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "metrics.path: unknown key"), "%s", err);
	cr_assert_eq(cgn_config_load_string(MINIMAL "metrics = \"127.0.0.1:9464\";\n", &cfg, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "metrics: must be a group"), "%s", err);
}
