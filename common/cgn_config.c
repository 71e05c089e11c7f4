/*
 * Configuration loading with libconfig (see cgn_config.h). Every error names the file, the
 * line and the key; unknown keys are errors too, so that a typo is never silently a default.
 */
#include "cgn_config.h"
#include "cgn_rfc6052.h"

#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cgn_config_defaults(struct cgn_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->eal.file_prefix, sizeof(cfg->eal.file_prefix), "cgnat");
	snprintf(cfg->eal.lcores, sizeof(cfg->eal.lcores), "0-1");
	cfg->eal.memory_mb = 256;
	cfg->eal.no_huge = true;

	cfg->pcp.min_lifetime = 120;
	cfg->pcp.max_lifetime = 86400;
	cfg->pcp.short_error_lifetime = 30;
	cfg->pcp.long_error_lifetime = 1800;
	cfg->pcp.max_mappings_per_subscriber = 64;
	cfg->pcp.max_filters = CGN_MAP_FILTERS;
	cfg->pcp.description_max = 128;
	cfg->pcp.map = cfg->pcp.peer = cfg->pcp.natpmp = true;
	cfg->pcp.max_requests_per_second = 0;
	cfg->pcp.announce_multicast = true;

	cfg->nat.port_min = 1024;
	cfg->nat.port_max = 65535;
	cfg->nat.block_size = 512;
	cfg->nat.max_blocks = 4;
	cfg->nat.max_subscribers = 65536;
	cfg->nat.parity = false;
	cfg->nat.port_hold_s = 120;
	cfg->nat.filtering = CGN_FILTER_EIF;
	cfg->nat.udp_timeout_s = 300;
	cfg->nat.tcp_established_s = 7440;
	cfg->nat.tcp_transitory_s = 240;
	cfg->nat.icmp_timeout_s = 60;
	cfg->nat64.subscriber_prefix_len = 56;
	cfg->nat64.lowest_ipv6_mtu = 1280;
	cfg->dataplane.icmp_errors_per_second = 100;
	cfg->dataplane.expire_budget = 256;

	cfg->arp.reachable_ms = 30000;
	cfg->arp.retry_ms = 1000;
	cfg->arp.probes = 3;
	cfg->arp.max_neighbours = 4096;

	cfg->dataplane.table_size = 65536;
	cfg->dataplane.ring_size = 4096;
	cfg->dataplane.idle_sleep_us = 0;

	cfg->state.sync_interval_ms = 1000;

	cfg->logging.ring_size = 65536;
	cfg->logging.ipfix.observation_domain = 1;
	cfg->logging.ipfix.template_refresh_s = 600;
	cfg->logging.ipfix.reconnect_s = 5;
	cfg->logging.syslog.facility = 16; /* local0 */
}

/* Error context for one load. */
struct loader {
	const char *file;
	char *err;
	size_t err_len;
	bool is_file; /* file names a file (relative state.path is relative to its directory) */
};

static int fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	char path[128] = "";
	/* Rebuild "group.key" from the setting upwards. */
	for (const config_setting_t *p = s; p && config_setting_name(p); p = config_setting_parent(p)) {
		char tmp[128];
		snprintf(tmp, sizeof(tmp), "%s%s%s", config_setting_name(p), path[0] ? "." : "", path);
		snprintf(path, sizeof(path), "%s", tmp);
	}
	snprintf(ld->err, ld->err_len, "%s:%u: %s: %s", ld->file, s ? config_setting_source_line(s) : 0,
		 path[0] ? path : "(top)", what);
	return -EINVAL;
}

/* Rejects any child of group not in the NULL-terminated list of known names. */
static int
check_known(struct loader *ld, const config_setting_t *group, const char *const *known)
{
	int n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *c = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(c);
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			ok |= strcmp(*k, name) == 0;
		if (!ok)
			return fail(ld, c, "unknown key");
	}
	return 0;
}

static int
get_u32(struct loader *ld, const config_setting_t *group, const char *name, uint32_t min,
	uint32_t max, uint32_t *out)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (s == NULL)
		return 0;
	int type = config_setting_type(s);
	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return fail(ld, s, "must be an integer");
	long long v = config_setting_get_int64(s);
	if (v < (long long)min || v > (long long)max)
		return fail(ld, s, "must be between %u and %u", min, max);
	*out = (uint32_t)v;
	return 0;
}

static int
get_bool(struct loader *ld, const config_setting_t *group, const char *name, bool *out)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(ld, s, "must be true or false");
	*out = config_setting_get_bool(s);
	return 0;
}

static int
get_string(struct loader *ld, const config_setting_t *group, const char *name, char *out,
	   size_t size)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (s == NULL)
		return 0;
	const char *v = config_setting_get_string(s);
	if (v == NULL)
		return fail(ld, s, "must be a string");
	if (strlen(v) == 0 || strlen(v) >= size)
		return fail(ld, s, "must be 1 to %zu characters", size - 1);
	snprintf(out, size, "%s", v);
	return 0;
}

/* A list of prefix strings; v4only rejects IPv6 entries. */
static int
get_prefixes(struct loader *ld, const config_setting_t *group, const char *name,
	     struct cgn_prefix *out, unsigned max, unsigned *n, bool v4only)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (s == NULL)
		return 0;
	if (!config_setting_is_aggregate(s))
		return fail(ld, s, "must be a list of prefixes, e.g. [ \"100.64.0.0/10\" ]");
	int count = config_setting_length(s);
	if (count > (int)max)
		return fail(ld, s, "at most %u entries", max);
	for (int i = 0; i < count; i++) {
		const char *v = config_setting_get_string_elem(s, i);
		if (v == NULL || cgn_prefix_parse(v, &out[i]) < 0)
			return fail(ld, s, "entry %d (\"%s\") is not an address or ADDR/LEN prefix with zero host bits",
				    i + 1, v ? v : "?");
		if (v4only && (!cgn_addr_is_v4(&out[i].addr) || out[i].len < 96))
			return fail(ld, s, "entry %d (\"%s\") must be IPv4", i + 1, v);
	}
	*n = (unsigned)count;
	return 0;
}

/* "ADDR:PORT" or "[V6ADDR]:PORT"; a bare address takes the PCP port. */
static int
parse_listen(const char *text, struct cgn_listen *out)
{
	char host[CGN_ADDR_STRLEN];
	const char *port = NULL;
	size_t n;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end)
			return -EINVAL;
		n = (size_t)(end - text - 1);
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, n);
		host[n] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -EINVAL;
	} else {
		const char *colon = strrchr(text, ':');
		if (colon && strchr(text, ':') == colon) { /* one colon: IPv4:port */
			n = (size_t)(colon - text);
			port = colon + 1;
		} else {
			n = strlen(text);
		}
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, text, n);
		host[n] = '\0';
	}
	if (cgn_addr_parse(host, &out->addr) < 0)
		return -EINVAL;
	out->port = 0; /* the caller's default */
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (end == port || *end != '\0' || p < 1 || p > 65535)
			return -EINVAL;
		out->port = (uint16_t)p;
	}
	return 0;
}

/* A list of "ADDR[:PORT]" strings (default_port when the port is omitted). */
static int
get_endpoints(struct loader *ld, const config_setting_t *group, const char *name, uint16_t default_port,
	      struct cgn_listen *out, unsigned max, unsigned *n_out)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (s == NULL)
		return 0;
	if (!config_setting_is_aggregate(s))
		return fail(ld, s, "must be a list, e.g. [ \"127.0.0.1:%u\" ]", default_port);
	int n = config_setting_length(s);
	if (n > (int)max)
		return fail(ld, s, "at most %u addresses", max);
	for (int i = 0; i < n; i++) {
		const char *v = config_setting_get_string_elem(s, i);
		if (v == NULL || parse_listen(v, &out[i]) < 0)
			return fail(ld, s, "entry %d (\"%s\") is not ADDR, ADDR:PORT or [ADDR]:PORT", i + 1, v ? v : "?");
		if (out[i].port == 0)
			out[i].port = default_port;
	}
	*n_out = (unsigned)n;
	return 0;
}

static int
load_eal(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "file_prefix", "lcores", "memory_mb", "no_huge", NULL };
	int rc;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_string(ld, g, "file_prefix", cfg->eal.file_prefix, sizeof(cfg->eal.file_prefix))) ||
	    (rc = get_string(ld, g, "lcores", cfg->eal.lcores, sizeof(cfg->eal.lcores))) ||
	    (rc = get_u32(ld, g, "memory_mb", 64, 1u << 20, &cfg->eal.memory_mb)) ||
	    (rc = get_bool(ld, g, "no_huge", &cfg->eal.no_huge)))
		return rc;
	for (const char *p = cfg->eal.file_prefix; *p; p++)
		if (!(*p == '-' || *p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return fail(ld, config_setting_get_member(g, "file_prefix"),
				    "may hold only letters, digits, '-' and '_'");
	return 0;
}

static int
load_pcp(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "listen", "inside", "third_party", "lifetime", "error_lifetime",
					     "max_mappings_per_subscriber", "max_filters", "map", "peer", "natpmp",
					     "max_requests_per_second", "announce", "description_max", "port_set_max",
					     NULL };
	int rc;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_prefixes(ld, g, "inside", cfg->pcp.inside, CGN_MAX_PREFIXES, &cfg->pcp.n_inside, false)) ||
	    (rc = get_prefixes(ld, g, "third_party", cfg->pcp.third_party, CGN_MAX_PREFIXES,
			       &cfg->pcp.n_third_party, false)) ||
	    (rc = get_u32(ld, g, "max_mappings_per_subscriber", 1, 65535,
			  &cfg->pcp.max_mappings_per_subscriber)))
		return rc;

	if ((rc = get_endpoints(ld, g, "listen", 5351, cfg->pcp.listen, CGN_MAX_LISTEN, &cfg->pcp.n_listen)) ||
	    (rc = get_u32(ld, g, "max_filters", 1, CGN_MAP_FILTERS, &cfg->pcp.max_filters)) ||
	    /* RFC 7220 §3: "SHOULD be able to store at least 128 bytes"; §2: at most 1016. */
	    (rc = get_u32(ld, g, "description_max", 128, 1016, &cfg->pcp.description_max)) ||
	    (rc = get_u32(ld, g, "port_set_max", 1, 32768, &cfg->pcp.port_set_max)) ||
	    (rc = get_bool(ld, g, "map", &cfg->pcp.map)) || (rc = get_bool(ld, g, "peer", &cfg->pcp.peer)) ||
	    (rc = get_bool(ld, g, "natpmp", &cfg->pcp.natpmp)) ||
	    (rc = get_u32(ld, g, "max_requests_per_second", 0, 100000000, &cfg->pcp.max_requests_per_second)))
		return rc;
	const config_setting_t *an = config_setting_get_member(g, "announce");
	if (an) {
		static const char *const ak[] = { "clients", "multicast", NULL };
		if (config_setting_type(an) != CONFIG_TYPE_GROUP)
			return fail(ld, an, "must be a group: announce = { clients = [ ... ]; multicast = true; };");
		if ((rc = check_known(ld, an, ak)) ||
		    (rc = get_endpoints(ld, an, "clients", 5350, cfg->pcp.announce, CGN_MAX_ANNOUNCE, &cfg->pcp.n_announce)) ||
		    (rc = get_bool(ld, an, "multicast", &cfg->pcp.announce_multicast)))
			return rc;
	}

	const config_setting_t *lt = config_setting_get_member(g, "lifetime");
	if (lt) {
		static const char *const lk[] = { "min", "max", NULL };
		if ((rc = check_known(ld, lt, lk)) ||
		    (rc = get_u32(ld, lt, "min", 1, UINT32_MAX - 1, &cfg->pcp.min_lifetime)) ||
		    (rc = get_u32(ld, lt, "max", 1, UINT32_MAX - 1, &cfg->pcp.max_lifetime)))
			return rc;
		if (cfg->pcp.min_lifetime > cfg->pcp.max_lifetime)
			return fail(ld, lt, "min (%u) is greater than max (%u)", cfg->pcp.min_lifetime,
				    cfg->pcp.max_lifetime);
	}
	const config_setting_t *el = config_setting_get_member(g, "error_lifetime");
	if (el) {
		static const char *const ek[] = { "short", "long", NULL };
		if ((rc = check_known(ld, el, ek)) ||
		    (rc = get_u32(ld, el, "short", 1, 86400, &cfg->pcp.short_error_lifetime)) ||
		    (rc = get_u32(ld, el, "long", 1, 86400, &cfg->pcp.long_error_lifetime)))
			return rc;
	}
	return 0;
}

/* "ADDR:PORT" for IPv4 endpoints of static mappings. */
static int
parse_v4_endpoint(const char *text, struct cgn_addr *addr, uint16_t *port)
{
	struct cgn_listen l;
	if (parse_listen(text, &l) < 0 || !cgn_addr_is_v4(&l.addr) || l.port == 0)
		return -EINVAL;
	*addr = l.addr;
	*port = l.port;
	return 0;
}

/* static = ( { proto = "tcp"; internal = "ADDR:PORT"; external = "ADDR:PORT"; }, ... ); */
static int
load_statics(struct loader *ld, const config_setting_t *list, struct cgn_config *cfg)
{
	if (list == NULL)
		return 0;
	if (config_setting_type(list) != CONFIG_TYPE_LIST)
		return fail(ld, list, "must be a list of groups: static = ( { proto = \"tcp\"; internal = ...; external = ...; } );");
	int n = config_setting_length(list);
	if (n > CGN_MAX_STATIC)
		return fail(ld, list, "at most %d static mappings", CGN_MAX_STATIC);
	for (int i = 0; i < n; i++) {
		static const char *const known[] = { "proto", "internal", "external", NULL };
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		struct cgn_static *st = &cfg->nat.statics[i];
		const char *proto = NULL, *in = NULL, *ex = NULL;
		struct cgn_addr ea;
		int rc;
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(ld, e, "entry %d must be a group { proto; internal; external; }", i + 1);
		if ((rc = check_known(ld, e, known)))
			return rc;
		config_setting_lookup_string(e, "proto", &proto);
		config_setting_lookup_string(e, "internal", &in);
		config_setting_lookup_string(e, "external", &ex);
		if (proto == NULL || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
			return fail(ld, e, "entry %d: proto must be \"tcp\" or \"udp\"", i + 1);
		st->proto = strcmp(proto, "tcp") == 0 ? 6 : 17;
		if (in == NULL || parse_v4_endpoint(in, &st->internal, &st->internal_port) < 0)
			return fail(ld, e, "entry %d: internal must be \"IPV4:PORT\"", i + 1);
		if (ex == NULL || parse_v4_endpoint(ex, &ea, &st->external_port) < 0)
			return fail(ld, e, "entry %d: external must be \"IPV4:PORT\"", i + 1);
		st->external = cgn_addr_v4(&ea);
		if (!cgn_prefix_list_contains(cfg->nat.pool, cfg->nat.n_pool, &ea))
			return fail(ld, e, "entry %d: external address %s is not in nat.pool", i + 1, ex);
		if (!cgn_prefix_list_contains(cfg->pcp.inside, cfg->pcp.n_inside, &st->internal))
			return fail(ld, e, "entry %d: internal address %s is not in pcp.inside", i + 1, in);
		for (int j = 0; j < i; j++) {
			const struct cgn_static *o = &cfg->nat.statics[j];
			if (o->proto == st->proto && o->external == st->external && o->external_port == st->external_port)
				return fail(ld, e, "entry %d: external %s is also entry %d's", i + 1, ex, j + 1);
			if (o->proto == st->proto && cgn_addr_eq(&o->internal, &st->internal) &&
			    o->internal_port == st->internal_port)
				return fail(ld, e, "entry %d: internal %s is also entry %d's", i + 1, in, j + 1);
			/* RFC 6888 REQ-2: one external address per subscriber */
			if (cgn_addr_eq(&o->internal, &st->internal) && o->external != st->external)
				return fail(ld, e, "entry %d: %s already maps to another external address (entry %d)",
					    i + 1, in, j + 1);
		}
	}
	cfg->nat.n_static = (unsigned)n;
	return 0;
}

static int
load_nat(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "pool", "ports", "block_size", "max_blocks", "max_subscribers",
					     "parity", "port_hold_s", "static", "filtering", "timeouts", NULL };
	int rc;
	uint32_t block_size = cfg->nat.block_size, max_blocks = cfg->nat.max_blocks;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_prefixes(ld, g, "pool", cfg->nat.pool, CGN_MAX_POOL_PREFIXES, &cfg->nat.n_pool, true)) ||
	    (rc = get_u32(ld, g, "block_size", 64, 32768, &block_size)) ||
	    (rc = get_u32(ld, g, "max_blocks", 1, 64, &max_blocks)) ||
	    (rc = get_u32(ld, g, "max_subscribers", 1, 1u << 24, &cfg->nat.max_subscribers)) ||
	    (rc = get_bool(ld, g, "parity", &cfg->nat.parity)) ||
	    (rc = get_u32(ld, g, "port_hold_s", 0, 86400, &cfg->nat.port_hold_s)))
		return rc;
	if (block_size % 64)
		return fail(ld, config_setting_get_member(g, "block_size"), "must be a multiple of 64");
	const config_setting_t *fl = config_setting_get_member(g, "filtering");
	if (fl) {
		const char *v = config_setting_get_string(fl);
		if (v && strcmp(v, "endpoint-independent") == 0)
			cfg->nat.filtering = CGN_FILTER_EIF;
		else if (v && strcmp(v, "address-dependent") == 0)
			cfg->nat.filtering = CGN_FILTER_ADF;
		else if (v && strcmp(v, "address-and-port-dependent") == 0)
			cfg->nat.filtering = CGN_FILTER_APDF;
		else
			return fail(ld, fl, "must be \"endpoint-independent\", \"address-dependent\" or "
					    "\"address-and-port-dependent\"");
	}
	const config_setting_t *to = config_setting_get_member(g, "timeouts");
	if (to) {
		static const char *const tk[] = { "udp", "tcp_established", "tcp_transitory", "icmp", NULL };
		/* The floors are the RFCs' MUSTs: RFC 4787 REQ-5, RFC 5382 REQ-5, RFC 5508 REQ-1. */
		if ((rc = check_known(ld, to, tk)) || (rc = get_u32(ld, to, "udp", 120, 86400, &cfg->nat.udp_timeout_s)) ||
		    (rc = get_u32(ld, to, "tcp_established", 7440, 864000, &cfg->nat.tcp_established_s)) ||
		    (rc = get_u32(ld, to, "tcp_transitory", 60, 86400, &cfg->nat.tcp_transitory_s)) ||
		    (rc = get_u32(ld, to, "icmp", 60, 86400, &cfg->nat.icmp_timeout_s)))
			return rc;
	}
	cfg->nat.block_size = (uint16_t)block_size;
	cfg->nat.max_blocks = (uint16_t)max_blocks;
	for (unsigned i = 0; i < cfg->nat.n_pool; i++)
		if (cfg->nat.pool[i].len < 96 + 16)
			return fail(ld, config_setting_get_member(g, "pool"),
				    "entry %u is larger than a /16", i + 1);

	const config_setting_t *s = config_setting_get_member(g, "ports");
	if (s) {
		const char *v = config_setting_get_string(s);
		unsigned lo, hi;
		char tail;
		if (v == NULL || sscanf(v, "%u-%u%c", &lo, &hi, &tail) != 2 || lo < 1 || hi > 65535 || lo > hi)
			return fail(ld, s, "must be \"LOW-HIGH\" with 1 <= LOW <= HIGH <= 65535");
		cfg->nat.port_min = (uint16_t)lo;
		cfg->nat.port_max = (uint16_t)hi;
	}
	if (((uint32_t)cfg->nat.port_max - cfg->nat.port_min + 1) < cfg->nat.block_size)
		return fail(ld, g, "ports %u-%u hold no whole block of %u", cfg->nat.port_min, cfg->nat.port_max,
			    cfg->nat.block_size);
	return load_statics(ld, config_setting_get_member(g, "static"), cfg);
}

/* @return the index of prefix p in n64->prefixes (the same address and length), or -1. */
static int
nat64_prefix_index(const struct cgn_nat64_cfg *n64, const struct cgn_prefix *p)
{
	for (unsigned j = 0; j < n64->n_prefixes; j++)
		if (n64->prefixes[j].len == p->len && cgn_addr_eq(&n64->prefixes[j].addr, &p->addr))
			return (int)j;
	return -1;
}

/* nat64.ipv4_prefixes = ( { pref64 = "2001:db8:122:300::/56"; ipv4 = [ "192.0.2.0/24" ]; } );
 * the IPv4 destinations PCP's PREFIX64 lists with one of nat64.prefixes (RFC 7225 §4.2). */
static int
load_prefix64_v4(struct loader *ld, const config_setting_t *list, struct cgn_nat64_cfg *n64)
{
	if (list == NULL)
		return 0;
	if (!config_setting_is_list(list))
		return fail(ld, list, "must be a list of groups: ipv4_prefixes = ( { pref64 = \"64:ff9b::/96\"; "
				      "ipv4 = [ \"192.0.2.0/24\" ]; } );");
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		static const char *const known[] = { "pref64", "ipv4", NULL };
		const char *v = NULL;
		int rc = check_known(ld, e, known);
		if (rc)
			return rc;
		if (!config_setting_lookup_string(e, "pref64", &v))
			return fail(ld, e, "entry %d: pref64 = \"PREFIX\" (one of nat64.prefixes) is required", i + 1);
		struct cgn_prefix p;
		int k = cgn_prefix_parse(v, &p) == 0 ? nat64_prefix_index(n64, &p) : -1;
		if (k < 0)
			return fail(ld, e, "entry %d: pref64 \"%s\" is not one of nat64.prefixes", i + 1, v);
		if (n64->n_v4[k] != 0)
			return fail(ld, e, "entry %d: pref64 \"%s\" has a list already", i + 1, v);
		unsigned n = 0;
		if ((rc = get_prefixes(ld, e, "ipv4", n64->v4_lists[k], CGN_MAX_PREFIX64_V4, &n, true)))
			return rc;
		if (n == 0)
			return fail(ld, e, "entry %d: ipv4 = [ ... ] needs at least one IPv4 prefix", i + 1);
		n64->n_v4[k] = (uint8_t)n;
	}
	return 0;
}

/* nat64 = { prefixes = [ "64:ff9b::/96" ]; subscriber_prefix_len = 56; }; after pcp (the
 * Pref64s must not overlap pcp.inside). */
static int
load_nat64(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "prefixes", "subscriber_prefix_len", "lowest_ipv6_mtu",
					     "treat_as_global", "reset_traffic_class", "reset_tos", "new_tos",
					     "udp_zero_checksum", "ipv4_prefixes", NULL };
	struct cgn_nat64_cfg *n64 = &cfg->nat64;
	bool reset_tc = false, reset_tos = false;
	uint32_t new_tos = 0;
	int rc;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_u32(ld, g, "subscriber_prefix_len", 32, 128, &n64->subscriber_prefix_len)) ||
	    (rc = get_u32(ld, g, "lowest_ipv6_mtu", 1280, 9216, &n64->lowest_ipv6_mtu)) ||
	    (rc = get_prefixes(ld, g, "treat_as_global", n64->treat_as_global, CGN_MAX_NAT64_PREFIXES,
			       &n64->n_treat_as_global, true)) ||
	    (rc = get_bool(ld, g, "reset_traffic_class", &reset_tc)) || (rc = get_bool(ld, g, "reset_tos", &reset_tos)) ||
	    (rc = get_u32(ld, g, "new_tos", 0, 255, &new_tos)))
		return rc;
	n64->reset_traffic_class = reset_tc;
	n64->reset_tos = reset_tos;
	n64->new_tos = (uint8_t)new_tos;
	const config_setting_t *uz = config_setting_get_member(g, "udp_zero_checksum");
	if (uz) {
		const char *v = config_setting_get_string(uz);
		if (v && strcmp(v, "compute") == 0)
			n64->udp_zero_checksum_drop = 0;
		else if (v && strcmp(v, "drop") == 0)
			n64->udp_zero_checksum_drop = 1;
		else
			return fail(ld, uz, "must be \"compute\" or \"drop\"");
	}
	const config_setting_t *s = config_setting_get_member(g, "prefixes");
	if (s == NULL) /* (an ipv4_prefixes entry then names no prefix: refused) */
		return load_prefix64_v4(ld, config_setting_get_member(g, "ipv4_prefixes"), n64);
	if (!config_setting_is_aggregate(s))
		return fail(ld, s, "must be a list of IPv6 prefixes, e.g. [ \"64:ff9b::/96\" ]");
	int count = config_setting_length(s);
	if (count > CGN_MAX_NAT64_PREFIXES)
		return fail(ld, s, "at most %d prefixes", CGN_MAX_NAT64_PREFIXES);
	for (int i = 0; i < count; i++) {
		const char *v = config_setting_get_string_elem(s, i);
		struct cgn_prefix *p = &n64->prefixes[i];
		const char *why;
		if (v == NULL || cgn_prefix_parse(v, p) < 0)
			return fail(ld, s, "entry %d (\"%s\") is not an ADDR/LEN prefix with zero host bits", i + 1,
				    v ? v : "?");
		if (cgn_rfc6052_prefix_check(p, &why) < 0)
			return fail(ld, s, "entry %d (\"%s\") %s", i + 1, v, why);
		for (int j = 0; j < i; j++)
			if (cgn_prefix_overlaps(&n64->prefixes[j], p))
				return fail(ld, s, "entry %d (\"%s\") overlaps entry %d", i + 1, v, j + 1);
		/* RFC 6146 §3.5: "the NAT64 MUST silently discard all incoming IPv6 packets
		 * containing a source address that contains the Pref64::/n" */
		for (unsigned j = 0; j < cfg->pcp.n_inside; j++)
			if (cgn_prefix_overlaps(&cfg->pcp.inside[j], p))
				return fail(ld, s, "entry %d (\"%s\") overlaps pcp.inside entry %u: IPv6 packets from "
						   "Pref64 are dropped (RFC 6146 §3.5)", i + 1, v, j + 1);
		n64->wkp[i] = cgn_rfc6052_is_wkp(p);
	}
	n64->n_prefixes = (unsigned)count;
	return load_prefix64_v4(ld, config_setting_get_member(g, "ipv4_prefixes"), n64);
}

/* A host's IPv4 address (not 0.0.0.0), in network order. */
static int
parse_host_v4(const char *text, uint32_t *out)
{
	struct cgn_addr a;
	if (cgn_addr_parse(text, &a) < 0 || !cgn_addr_is_v4(&a) || cgn_addr_is_unspecified(&a))
		return -1;
	*out = cgn_addr_v4(&a);
	return 0;
}

/* Why text is not a global unicast IPv6 address (the CGN's own: a port's address6, the
 * ICMPv6 error source), or NULL if it is one. */
static const char *
not_global6(const char *text, struct cgn_addr *out)
{
	if (cgn_addr_parse(text, out) < 0 || strchr(text, ':') == NULL)
		return "must be an IPv6 address";
	if (cgn_addr_is_v4(out))
		return "must not be IPv4-mapped (::ffff:0:0/96): give IPv4 addresses as IPv4";
	if (cgn_addr_is_unspecified(out))
		return "must not be the unspecified address ::";
	if (cgn_addr_is_loopback(out))
		return "must not be the loopback address ::1";
	if (cgn_addr_is_multicast(out))
		return "must not be multicast (ff00::/8)";
	if (cgn_addr_is_link_local(out))
		return "must not be link-local (fe80::/10: each port has its own, from its MAC)";
	return NULL;
}

/* Why text is not an IPv6 unicast address a neighbour or gateway may have (link-local
 * allowed: RFC 4861 §8 routers are known by theirs), or NULL. */
static const char *
not_unicast6(const char *text, struct cgn_addr *out)
{
	if (cgn_addr_parse(text, out) < 0 || strchr(text, ':') == NULL)
		return "must be an IPv6 address";
	if (cgn_addr_is_v4(out))
		return "must not be IPv4-mapped (::ffff:0:0/96): give IPv4 addresses as IPv4";
	if (cgn_addr_is_unspecified(out) || cgn_addr_is_loopback(out) || cgn_addr_is_multicast(out))
		return "must be a unicast IPv6 address (not ::, ::1 or multicast)";
	return NULL;
}

static int
load_dataplane(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "table_size", "ring_size", "idle_sleep_us", "mbufs", "seed",
					     "icmp_errors_per_second", "expire_budget", "icmp_source", "icmp_source6",
					     "rx_delay_ms", "mbuf_size", NULL };
	int rc;
	uint32_t seed = 0;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_u32(ld, g, "table_size", 1024, 1u << 27, &cfg->dataplane.table_size)) ||
	    (rc = get_u32(ld, g, "ring_size", 64, 1u << 20, &cfg->dataplane.ring_size)) ||
	    (rc = get_u32(ld, g, "idle_sleep_us", 0, 100000, &cfg->dataplane.idle_sleep_us)) ||
	    (rc = get_u32(ld, g, "mbufs", 0, 1u << 26, &cfg->dataplane.mbufs)) ||
	    (rc = get_u32(ld, g, "mbuf_size", 0, 65535, &cfg->dataplane.mbuf_size)) ||
	    (rc = get_u32(ld, g, "seed", 0, UINT32_MAX, &seed)) ||
	    (rc = get_u32(ld, g, "icmp_errors_per_second", 0, 1000000, &cfg->dataplane.icmp_errors_per_second)) ||
	    (rc = get_u32(ld, g, "expire_budget", 16, 1u << 20, &cfg->dataplane.expire_budget)) ||
	    (rc = get_u32(ld, g, "rx_delay_ms", 0, 600000, &cfg->dataplane.rx_delay_ms)))
		return rc;
	cfg->dataplane.seed = seed;
	const config_setting_t *src = config_setting_get_member(g, "icmp_source");
	if (src) {
		const char *v = config_setting_get_string(src);
		uint32_t a;
		if (v == NULL || parse_host_v4(v, &a) < 0)
			return fail(ld, src, "must be an IPv4 address (not 0.0.0.0)");
		cfg->dataplane.icmp_source = cgn_addr_from_v4(a);
		cfg->dataplane.have_icmp_source = true;
	}
	const config_setting_t *src6 = config_setting_get_member(g, "icmp_source6");
	if (src6) {
		const char *v = config_setting_get_string(src6);
		const char *why = v ? not_global6(v, &cfg->dataplane.icmp_source6) : "must be an IPv6 address";
		if (why)
			return fail(ld, src6, "%s (a global unicast IPv6 address)", why);
		cfg->dataplane.have_icmp_source6 = true;
	}
	if (cfg->dataplane.ring_size & (cfg->dataplane.ring_size - 1))
		return fail(ld, config_setting_get_member(g, "ring_size"), "must be a power of two");
	return 0;
}

static int
parse_mac(const char *text, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* ports = ( { name = "net_pcap0"; role = "inside"; peer_mac = "02:00:00:00:00:01"; }, ... ); */
static int
load_ports(struct loader *ld, const config_setting_t *list, struct cgn_config *cfg)
{
	if (config_setting_type(list) != CONFIG_TYPE_LIST)
		return fail(ld, list, "must be a list of groups: ports = ( { name = \"net_pcap0\"; role = \"inside\"; } );");
	int n = config_setting_length(list);
	if (n > CGN_MAX_PORTS)
		return fail(ld, list, "at most %d ports", CGN_MAX_PORTS);
	bool in = false, out = false;
	for (int i = 0; i < n; i++) {
		static const char *const known[] = { "name", "role", "peer_mac", "address", "address6", "next_hop",
						     "pcp_management", "mtu", NULL };
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		struct cgn_port_cfg *pc = &cfg->ports[i];
		const char *name = NULL, *role = NULL, *mac = NULL, *addr = NULL, *addr6 = NULL, *nh = NULL;
		int rc;
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(ld, e, "entry %d must be a group { name; role; }", i + 1);
		if ((rc = check_known(ld, e, known)))
			return rc;
		config_setting_lookup_string(e, "name", &name);
		config_setting_lookup_string(e, "role", &role);
		config_setting_lookup_string(e, "peer_mac", &mac);
		config_setting_lookup_string(e, "address", &addr);
		config_setting_lookup_string(e, "next_hop", &nh);
		if (addr && parse_host_v4(addr, &pc->address) < 0)
			return fail(ld, e, "entry %d: address must be an IPv4 address", i + 1);
		if (config_setting_lookup_string(e, "address6", &addr6)) {
			const char *why = not_global6(addr6, &pc->address6);
			if (why)
				return fail(ld, e, "entry %d: address6 %s (a global unicast IPv6 address)", i + 1, why);
			pc->have_address6 = true;
		} else if (config_setting_get_member(e, "address6")) {
			return fail(ld, e, "entry %d: address6 must be a string", i + 1);
		}
		if (name == NULL || strlen(name) == 0 || strlen(name) >= sizeof(pc->name))
			return fail(ld, e, "entry %d: name must be the EAL device name, e.g. \"net_pcap0\"", i + 1);
		snprintf(pc->name, sizeof(pc->name), "%s", name);
		if (role && strcmp(role, "inside") == 0)
			pc->role = CGN_PORT_INSIDE, in = true;
		else if (role && strcmp(role, "outside") == 0)
			pc->role = CGN_PORT_OUTSIDE, out = true;
		else
			return fail(ld, e, "entry %d: role must be \"inside\" or \"outside\"", i + 1);
		if (mac) {
			if (parse_mac(mac, pc->peer_mac) < 0)
				return fail(ld, e, "entry %d: peer_mac must be six hex octets, 02:00:00:00:00:01", i + 1);
			pc->have_peer_mac = true;
		}
		if (nh) {
			if (parse_host_v4(nh, &pc->next_hop) < 0)
				return fail(ld, e, "entry %d: next_hop must be an IPv4 address", i + 1);
			if (mac)
				return fail(ld, e, "entry %d: next_hop or peer_mac, not both (peer_mac is a static neighbour)", i + 1);
			if (pc->address == 0)
				return fail(ld, e, "entry %d: next_hop needs the port's own address (ARP requests come from it)", i + 1);
		}
		uint32_t mtu = 0;
		if ((rc = get_u32(ld, e, "mtu", CGN_MIN_MTU, CGN_MAX_MTU, &mtu)))
			return rc;
		pc->mtu = (uint16_t)mtu;
		int mgmt = 0;
		if (config_setting_lookup_bool(e, "pcp_management", &mgmt) == CONFIG_TRUE && mgmt) {
			if (pc->role != CGN_PORT_OUTSIDE || pc->address == 0)
				return fail(ld, e, "entry %d: pcp_management is for an outside port with an address "
						   "(inside ports always serve PCP)", i + 1);
			pc->pcp_management = true;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(cfg->ports[j].name, pc->name) == 0)
				return fail(ld, e, "entry %d: port %s is also entry %d", i + 1, name, j + 1);
	}
	if (n > 0 && !(in && out))
		return fail(ld, list, "needs at least one inside and one outside port");
	cfg->n_ports = (unsigned)n;
	return 0;
}

/* The ports[] index of a port named in a route or neighbour entry; an IPv4 one (v4) needs the
 * port's IPv4 address, which ARP requests come from. IPv6 needs none: Neighbor Solicitations
 * come from the port's link-local address (RFC 4861 §7.2.2), which every port has. */
static int
port_named(struct loader *ld, const config_setting_t *e, const struct cgn_config *cfg, const char *what, int i,
	   bool v4, uint8_t *out)
{
	const char *name = NULL;
	config_setting_lookup_string(e, "port", &name);
	for (unsigned j = 0; name && j < cfg->n_ports; j++)
		if (strcmp(cfg->ports[j].name, name) == 0) {
			if (v4 && cfg->ports[j].address == 0)
				return fail(ld, e, "%s %d: port %s needs an address (ARP requests come from it)", what,
					    i + 1, name);
			*out = (uint8_t)j;
			return 0;
		}
	return fail(ld, e, "%s %d: port must name one of ports (\"%s\")", what, i + 1, name ? name : "");
}

static int
add_route(struct loader *ld, const config_setting_t *e, struct cgn_config *cfg, const struct cgn_route_cfg *r)
{
	if (cfg->n_routes == CGN_MAX_ROUTES)
		return fail(ld, e, "at most %d routes, the ports' next_hop included", CGN_MAX_ROUTES);
	for (unsigned j = 0; j < cfg->n_routes; j++) {
		const struct cgn_route_cfg *o = &cfg->routes[j];
		if (memcmp(&o->net, &r->net, sizeof(r->net)) == 0 && cfg->ports[o->port].role == cfg->ports[r->port].role)
			return fail(ld, e, "the same prefix twice for %s ports (a port's next_hop is its 0.0.0.0/0)",
				    cfg->ports[r->port].role == CGN_PORT_INSIDE ? "inside" : "outside");
	}
	cfg->routes[cfg->n_routes++] = *r;
	return 0;
}

/* routes = ( { prefix = "100.64.0.0/10"; port = "net_pcap0"; via = "100.64.0.1"; },
 *            { prefix = "2001:db8::/32"; port = "net_pcap0"; via = "2001:db8:100::1"; }, ... );
 * then every port's next_hop as its role's default route. */
static int
load_routes(struct loader *ld, const config_setting_t *list, struct cgn_config *cfg)
{
	int n = list ? config_setting_length(list) : 0;
	if (list && config_setting_type(list) != CONFIG_TYPE_LIST)
		return fail(ld, list, "must be a list of groups: routes = ( { prefix = \"0.0.0.0/0\"; port = \"net_pcap1\"; "
				      "via = \"198.51.100.10\"; } );");
	if (n > 0 && cfg->n_ports == 0)
		return fail(ld, list, "routes need ports");
	for (int i = 0; i < n; i++) {
		static const char *const known[] = { "prefix", "port", "via", NULL };
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const char *prefix = NULL, *via = NULL;
		struct cgn_route_cfg r = { 0 };
		int rc;
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(ld, e, "route %d must be a group { prefix; port; via; }", i + 1);
		if ((rc = check_known(ld, e, known)))
			return rc;
		config_setting_lookup_string(e, "prefix", &prefix);
		config_setting_lookup_string(e, "via", &via);
		if (prefix == NULL || cgn_prefix_parse(prefix, &r.net) < 0)
			return fail(ld, e, "route %d: prefix must be an IPv4 or IPv6 ADDR/LEN with zero host bits", i + 1);
		bool v4 = strchr(prefix, ':') == NULL;
		if (!v4 && (cgn_route_is_v4(&r) || cgn_addr_is_multicast(&r.net.addr) ||
			    cgn_addr_is_link_local(&r.net.addr)))
			return fail(ld, e, "route %d: prefix must be an IPv6 unicast prefix (not IPv4-mapped, "
					   "multicast or link-local; IPv4 prefixes are written as IPv4)", i + 1);
		if ((rc = port_named(ld, e, cfg, "route", i, v4, &r.port)))
			return rc;
		if (via && v4) {
			uint32_t gw;
			if (parse_host_v4(via, &gw) < 0)
				return fail(ld, e, "route %d: via must be an IPv4 address for an IPv4 prefix (omit it "
						   "for a directly connected prefix)", i + 1);
			r.via = cgn_addr_from_v4(gw);
		} else if (via) {
			const char *why = not_unicast6(via, &r.via);
			if (why)
				return fail(ld, e, "route %d: via %s for an IPv6 prefix (omit it for a directly "
						   "connected prefix)", i + 1, why);
		}
		if ((rc = add_route(ld, e, cfg, &r)))
			return rc;
	}
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].next_hop == 0)
			continue;
		struct cgn_route_cfg r = { .net = { cgn_addr_from_v4(0), 96 }, .port = (uint8_t)i,
					   .via = cgn_addr_from_v4(cfg->ports[i].next_hop) };
		int rc = add_route(ld, list, cfg, &r);
		if (rc)
			return rc;
	}
	return 0;
}

/* neighbours = ( { address = "100.64.9.7"; mac = "02:00:00:00:09:07"; port = "net_pcap0"; }, ... ); */
static int
load_neighbours(struct loader *ld, const config_setting_t *list, struct cgn_config *cfg)
{
	if (config_setting_type(list) != CONFIG_TYPE_LIST)
		return fail(ld, list, "must be a list of groups: neighbours = ( { address = \"100.64.0.1\"; "
				      "mac = \"02:00:00:00:00:01\"; port = \"net_pcap0\"; } );");
	int n = config_setting_length(list);
	if (n > CGN_MAX_STATIC_NEIGHBOURS)
		return fail(ld, list, "at most %d static neighbours", CGN_MAX_STATIC_NEIGHBOURS);
	for (int i = 0; i < n; i++) {
		static const char *const known[] = { "address", "mac", "port", NULL };
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		struct cgn_neighbour_cfg *nb = &cfg->neighbours[i];
		const char *addr = NULL, *mac = NULL;
		int rc;
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(ld, e, "neighbour %d must be a group { address; mac; port; }", i + 1);
		if ((rc = check_known(ld, e, known)))
			return rc;
		config_setting_lookup_string(e, "address", &addr);
		config_setting_lookup_string(e, "mac", &mac);
		uint32_t v4_addr;
		bool v4 = addr != NULL && strchr(addr, ':') == NULL;
		if (addr == NULL || (v4 && parse_host_v4(addr, &v4_addr) < 0))
			return fail(ld, e, "neighbour %d: address must be an IPv4 or IPv6 address", i + 1);
		if (v4) {
			nb->addr = cgn_addr_from_v4(v4_addr);
		} else {
			const char *why = not_unicast6(addr, &nb->addr);
			if (why)
				return fail(ld, e, "neighbour %d: address %s", i + 1, why);
		}
		if (mac == NULL || parse_mac(mac, nb->mac) < 0)
			return fail(ld, e, "neighbour %d: mac must be six hex octets, 02:00:00:00:00:01", i + 1);
		if ((rc = port_named(ld, e, cfg, "neighbour", i, v4, &nb->port)))
			return rc;
		for (int j = 0; j < i; j++)
			if (cgn_addr_eq(&cfg->neighbours[j].addr, &nb->addr) && cfg->neighbours[j].port == nb->port)
				return fail(ld, e, "neighbour %d: the same address and port as neighbour %d", i + 1, j + 1);
	}
	cfg->n_neighbours = (unsigned)n;
	return 0;
}

static int
load_arp(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "reachable_ms", "retry_ms", "probes", "max_neighbours", NULL };
	int rc;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_u32(ld, g, "reachable_ms", 100, 3600000, &cfg->arp.reachable_ms)) ||
	    (rc = get_u32(ld, g, "retry_ms", 10, 60000, &cfg->arp.retry_ms)) ||
	    (rc = get_u32(ld, g, "probes", 1, 100, &cfg->arp.probes)) ||
	    (rc = get_u32(ld, g, "max_neighbours", 16, 1u << 20, &cfg->arp.max_neighbours)))
		return rc;
	return 0;
}

/* state = { path = "DIR"; on_corrupt = "reset"|"refuse"; size_mb = N; sync = "periodic"|"commit";
 * sync_interval_ms = N; }; */
static int
load_state(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "path", "on_corrupt", "size_mb", "sync", "sync_interval_ms", NULL };
	char path[CGN_STATE_PATH_MAX] = "", word[16] = "";
	int rc;
	if ((rc = check_known(ld, g, known)) || (rc = get_string(ld, g, "path", path, sizeof(path))) ||
	    (rc = get_u32(ld, g, "size_mb", 1, 1u << 20, &cfg->state.size_mb)) ||
	    (rc = get_u32(ld, g, "sync_interval_ms", 10, 3600000, &cfg->state.sync_interval_ms)))
		return rc;
	const config_setting_t *s = config_setting_get_member(g, "on_corrupt");
	if (s) {
		if ((rc = get_string(ld, g, "on_corrupt", word, sizeof(word))) ||
		    (strcmp(word, "reset") != 0 && strcmp(word, "refuse") != 0))
			return rc ? rc : fail(ld, s, "must be \"reset\" or \"refuse\"");
		cfg->state.refuse_corrupt = strcmp(word, "refuse") == 0;
	}
	s = config_setting_get_member(g, "sync");
	if (s) {
		if ((rc = get_string(ld, g, "sync", word, sizeof(word))) ||
		    (strcmp(word, "periodic") != 0 && strcmp(word, "commit") != 0))
			return rc ? rc : fail(ld, s, "must be \"periodic\" or \"commit\"");
		cfg->state.sync_commit = strcmp(word, "commit") == 0;
	}
	s = config_setting_get_member(g, "path");
	if (s == NULL)
		return fail(ld, g, "path is required: state = { path = \"DIR\"; }; (no state group: no store)");
	/* Relative to the configuration file's directory, so that a configuration copied
	 * elsewhere (a test's temporary directory) has its own store. */
	const char *slash = ld->is_file ? strrchr(ld->file, '/') : NULL;
	int n;
	if (path[0] == '/' || !ld->is_file)
		n = snprintf(cfg->state.path, sizeof(cfg->state.path), "%s", path);
	else if (slash == NULL)
		n = snprintf(cfg->state.path, sizeof(cfg->state.path), "./%s", path);
	else
		n = snprintf(cfg->state.path, sizeof(cfg->state.path), "%.*s/%s", (int)(slash - ld->file), ld->file,
			     path);
	if (n < 0 || (size_t)n >= sizeof(cfg->state.path))
		return fail(ld, s, "the path (made absolute) is longer than %d characters", CGN_STATE_PATH_MAX - 1);
	return 0;
}

/* RFC 5424 §6.2.1 facility codes by name. */
static const struct {
	const char *name;
	uint8_t code;
} syslog_facilities[] = {
	{ "kern", 0 },    { "user", 1 },    { "mail", 2 },    { "daemon", 3 },  { "auth", 4 },
	{ "syslog", 5 },  { "lpr", 6 },     { "news", 7 },    { "uucp", 8 },    { "cron", 9 },
	{ "authpriv", 10 }, { "ftp", 11 },  { "local0", 16 }, { "local1", 17 }, { "local2", 18 },
	{ "local3", 19 }, { "local4", 20 }, { "local5", 21 }, { "local6", 22 }, { "local7", 23 },
};

/* A group member that must be a group, or absent. @return it, NULL if absent; *rc set on error. */
static const config_setting_t *
sub_group(struct loader *ld, const config_setting_t *g, const char *name, const char *example, int *rc)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	*rc = 0;
	if (s && config_setting_type(s) != CONFIG_TYPE_GROUP) {
		*rc = fail(ld, s, "must be a group: %s", example);
		return NULL;
	}
	return s;
}

/* One of words[] (NULL-terminated) as a string; *index its position. */
static int
get_word(struct loader *ld, const config_setting_t *g, const char *name, const char *const *words,
	 const char *choices, int *index)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL)
		return 0;
	const char *v = config_setting_get_string(s);
	for (int i = 0; v && words[i]; i++)
		if (strcmp(words[i], v) == 0) {
			*index = i;
			return 0;
		}
	return fail(ld, s, "must be %s", choices);
}

/* "ADDR:PORT" or "[V6ADDR]:PORT" of a log destination, the port required. */
static int
get_destination(struct loader *ld, const config_setting_t *g, const char *name, struct cgn_listen *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL)
		return 0;
	const char *v = config_setting_get_string(s);
	if (v == NULL || parse_listen(v, out) < 0 || out->port == 0 || cgn_addr_is_unspecified(&out->addr))
		return fail(ld, s, "must be \"ADDR:PORT\" or \"[IPV6ADDR]:PORT\" (an address, not 0.0.0.0 or ::, "
				   "and a port 1-65535)");
	return 0;
}

/* logging.ipfix = { collector = "ADDR:PORT"; transport = "udp"|"tcp"; observation_domain;
 * template_refresh_s; reconnect_s; }: on once a collector is named. */
static int
load_ipfix(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "collector", "transport", "observation_domain", "template_refresh_s",
					     "reconnect_s", NULL };
	static const char *const transports[] = { "udp", "tcp", NULL };
	int rc, tr = 0;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_destination(ld, g, "collector", &cfg->logging.ipfix.collector)) ||
	    (rc = get_word(ld, g, "transport", transports, "\"udp\" or \"tcp\"", &tr)) ||
	    /* RFC 7011 §3.1: the Observation Domain ID is 32 bits. */
	    (rc = get_u32(ld, g, "observation_domain", 0, UINT32_MAX, &cfg->logging.ipfix.observation_domain)) ||
	    /* RFC 7011 §8.4: templates re-sent over UDP; not more often than once a second. */
	    (rc = get_u32(ld, g, "template_refresh_s", 1, 86400, &cfg->logging.ipfix.template_refresh_s)) ||
	    (rc = get_u32(ld, g, "reconnect_s", 1, 3600, &cfg->logging.ipfix.reconnect_s)))
		return rc;
	cfg->logging.ipfix.tcp = tr == 1;
	if (config_setting_get_member(g, "collector") == NULL)
		return fail(ld, g, "collector = \"ADDR:PORT\"; is required (no ipfix group: no IPFIX export)");
	cfg->logging.ipfix.on = true;
	return 0;
}

/* logging.syslog = { server = "ADDR:PORT"; transport = "udp"|"tcp"|"local"; facility; hostname; }. */
static int
load_syslog(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "server", "transport", "facility", "hostname", NULL };
	static const char *const transports[] = { "udp", "tcp", "local", NULL };
	int rc, tr = 0;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_destination(ld, g, "server", &cfg->logging.syslog.server)) ||
	    (rc = get_word(ld, g, "transport", transports, "\"udp\", \"tcp\" or \"local\"", &tr)) ||
	    (rc = get_string(ld, g, "hostname", cfg->logging.syslog.hostname, sizeof(cfg->logging.syslog.hostname))))
		return rc;
	/* RFC 5424 §6.2.4: HOSTNAME is PRINTUSASCII, no space. */
	for (const char *p = cfg->logging.syslog.hostname; *p; p++)
		if (*p < 33 || *p > 126)
			return fail(ld, config_setting_get_member(g, "hostname"),
				    "may hold only printable ASCII without spaces (RFC 5424 §6.2.4)");
	const config_setting_t *f = config_setting_get_member(g, "facility");
	if (f) {
		const char *v = config_setting_get_string(f);
		size_t i = 0, n = sizeof(syslog_facilities) / sizeof(syslog_facilities[0]);
		while (v && i < n && strcmp(syslog_facilities[i].name, v) != 0)
			i++;
		if (v == NULL || i == n)
			return fail(ld, f, "must be a facility name: \"local0\" .. \"local7\", \"user\", \"daemon\", "
					   "\"auth\", \"authpriv\", \"syslog\", ...");
		cfg->logging.syslog.facility = syslog_facilities[i].code;
	}
	const config_setting_t *server = config_setting_get_member(g, "server");
	if (tr == 2) {
		if (server)
			return fail(ld, server, "no server with transport = \"local\" (the local syslog socket)");
		cfg->logging.syslog.transport = CGN_SYSLOG_LOCAL;
		return 0;
	}
	if (server == NULL)
		return fail(ld, g, "server = \"ADDR:PORT\"; is required for transport \"%s\" (or transport = \"local\")",
			    transports[tr]);
	cfg->logging.syslog.transport = tr == 1 ? CGN_SYSLOG_TCP : CGN_SYSLOG_UDP;
	return 0;
}

/* logging = { ring_size; sessions; threshold; ipfix = { ... }; syslog = { ... }; }. Without
 * ipfix or syslog nothing is logged (RFC 6888 REQ-12). */
static int
load_logging(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "ring_size", "sessions", "threshold", "ipfix", "syslog", NULL };
	uint32_t threshold = cfg->logging.threshold_pct;
	int rc;
	if ((rc = check_known(ld, g, known)) ||
	    (rc = get_u32(ld, g, "ring_size", 64, 1u << 22, &cfg->logging.ring_size)) ||
	    (rc = get_bool(ld, g, "sessions", &cfg->logging.sessions)) ||
	    (rc = get_u32(ld, g, "threshold", 0, 100, &threshold)))
		return rc;
	cfg->logging.threshold_pct = (uint8_t)threshold;
	if (cfg->logging.ring_size & (cfg->logging.ring_size - 1))
		return fail(ld, config_setting_get_member(g, "ring_size"), "must be a power of two");
	const config_setting_t *s;
	if ((s = sub_group(ld, g, "ipfix", "ipfix = { collector = \"198.51.100.9:4739\"; };", &rc)) &&
	    (rc = load_ipfix(ld, s, cfg)))
		return rc;
	if (rc)
		return rc;
	if ((s = sub_group(ld, g, "syslog", "syslog = { server = \"198.51.100.9:514\"; };", &rc)) &&
	    (rc = load_syslog(ld, s, cfg)))
		return rc;
	return rc;
}

/* metrics = { listen = "127.0.0.1:9464"; }; (or "[::1]:9464"; the port defaults to 9464):
 * the Prometheus page (control/metrics.c). No group, no listener. */
#define CGN_METRICS_PORT 9464
static int
load_metrics(struct loader *ld, const config_setting_t *g, struct cgn_config *cfg)
{
	static const char *const known[] = { "listen", NULL };
	char text[CGN_ADDR_STRLEN + 16] = "";
	int rc;
	if ((rc = check_known(ld, g, known)) || (rc = get_string(ld, g, "listen", text, sizeof(text))))
		return rc;
	const config_setting_t *s = config_setting_get_member(g, "listen");
	if (s == NULL)
		return fail(ld, g, "listen is required: metrics = { listen = \"127.0.0.1:%u\"; }; (no metrics group: "
				   "no listener)", CGN_METRICS_PORT);
	if (parse_listen(text, &cfg->metrics.listen) < 0)
		return fail(ld, s, "\"%s\" is not ADDR, ADDR:PORT or [ADDR]:PORT (e.g. \"127.0.0.1:%u\", \"[::1]:%u\")",
			    text, CGN_METRICS_PORT, CGN_METRICS_PORT);
	if (cgn_addr_is_multicast(&cfg->metrics.listen.addr))
		return fail(ld, s, "\"%s\" is a multicast address: the page is served on a unicast one", text);
	if (cfg->metrics.listen.port == 0)
		cfg->metrics.listen.port = CGN_METRICS_PORT;
	cfg->metrics.on = true;
	return 0;
}

static int
load(config_t *c, struct loader *ld, struct cgn_config *cfg)
{
	static const char *const known[] = { "eal", "pcp", "nat", "nat64", "dataplane", "ports", "routes", "neighbours",
					     "arp", "state", "logging", "metrics", NULL };
	const config_setting_t *root = config_root_setting(c);
	int rc;

	cgn_config_defaults(cfg);
	if ((rc = check_known(ld, root, known)))
		return rc;

	static const struct {
		const char *name;
		int (*fn)(struct loader *, const config_setting_t *, struct cgn_config *);
	} groups[] = { { "eal", load_eal }, { "pcp", load_pcp }, { "nat", load_nat }, { "nat64", load_nat64 },
		       { "dataplane", load_dataplane }, { "arp", load_arp }, { "state", load_state },
		       { "logging", load_logging },
		       { "metrics", load_metrics } };
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const config_setting_t *g = config_setting_get_member(root, groups[i].name);
		if (g == NULL)
			continue;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(ld, g, "must be a group: %s = { ... };", groups[i].name);
		if ((rc = groups[i].fn(ld, g, cfg)))
			return rc;
	}

	/* RFC 7753: a set is a run of one port block (common/cgn_portblock.h). */
	if (cfg->pcp.port_set_max > cfg->nat.block_size)
		return fail(ld, config_setting_get_member(config_setting_get_member(root, "pcp"), "port_set_max"),
			    "%u is more than nat.block_size (%u): a port set never leaves its block",
			    cfg->pcp.port_set_max, cfg->nat.block_size);

	const config_setting_t *ports = config_setting_get_member(root, "ports");
	if (ports && (rc = load_ports(ld, ports, cfg)))
		return rc;
	if ((rc = load_routes(ld, config_setting_get_member(root, "routes"), cfg)))
		return rc;
	const config_setting_t *neighbours = config_setting_get_member(root, "neighbours");
	if (neighbours && (rc = load_neighbours(ld, neighbours, cfg)))
		return rc;
	if (cfg->pcp.n_listen == 0)
		return fail(ld, NULL, "pcp.listen: at least one address is required");
	if (cfg->pcp.n_inside == 0)
		return fail(ld, NULL, "pcp.inside: at least one inside prefix is required");
	if (cfg->nat.n_pool == 0)
		return fail(ld, NULL, "nat.pool: at least one external prefix is required");
	return 0;
}

static int
finish(config_t *c, int read_ok, struct loader *ld, struct cgn_config *cfg)
{
	int rc;
	if (!read_ok) {
		if (config_error_type(c) == CONFIG_ERR_FILE_IO) {
			snprintf(ld->err, ld->err_len, "%s: cannot read the file", ld->file);
			rc = -ENOENT;
		} else {
			snprintf(ld->err, ld->err_len, "%s:%d: syntax: %s", ld->file, config_error_line(c),
				 config_error_text(c));
			rc = -EINVAL;
		}
	} else {
		rc = load(c, ld, cfg);
	}
	config_destroy(c);
	return rc;
}

int
cgn_config_load_file(const char *path, struct cgn_config *cfg, char *err, size_t err_len)
{
	config_t c;
	struct loader ld = { path, err, err_len, true };
	config_init(&c);
	return finish(&c, config_read_file(&c, path), &ld, cfg);
}

int
cgn_config_load_string(const char *text, struct cgn_config *cfg, char *err, size_t err_len)
{
	config_t c;
	struct loader ld = { "<string>", err, err_len, false };
	config_init(&c);
	return finish(&c, config_read_string(&c, text), &ld, cfg);
}

uint64_t
cgn_config_state_size(const struct cgn_config *cfg)
{
	if (cfg->state.size_mb)
		return (uint64_t)cfg->state.size_mb << 20;
	uint64_t size = (uint64_t)cfg->dataplane.table_size * 512;
	return size < (16u << 20) ? 16u << 20 : size;
}

uint32_t
cgn_config_pool_size(const struct cgn_config *cfg)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < cfg->nat.n_pool; i++)
		n += 1u << (128 - cfg->nat.pool[i].len);
	return n;
}

bool
cgn_prefix_list_contains(const struct cgn_prefix *list, unsigned n, const struct cgn_addr *addr)
{
	for (unsigned i = 0; i < n; i++)
		if (cgn_prefix_contains(&list[i], addr))
			return true;
	return false;
}

struct cgn_prefix
cgn_nat64_subscriber(const struct cgn_config *cfg, const struct cgn_addr *a)
{
	unsigned len = cfg->nat64.subscriber_prefix_len;
	struct cgn_prefix p = { .addr = *a, .len = (uint8_t)len };
	for (unsigned i = len / 8; i < 16; i++) /* len 128: nothing to clear */
		p.addr.b[i] &= i == len / 8 ? (uint8_t)(0xff00 >> (len % 8)) : 0;
	return p;
}

struct cgn_addr
cgn_subscriber_addr(const struct cgn_config *cfg, const struct cgn_addr *a)
{
	return cgn_addr_is_v4(a) ? *a : cgn_nat64_subscriber(cfg, a).addr;
}

bool
cgn_nat64_v4_allowed(const struct cgn_config *cfg, unsigned idx, const struct cgn_addr *v4)
{
	const struct cgn_nat64_cfg *n64 = &cfg->nat64;
	/* The operator's short list first: where it is set (labs), it is what matches. */
	if (!n64->wkp[idx] || cgn_prefix_list_contains(n64->treat_as_global, n64->n_treat_as_global, v4))
		return true;
	return cgn_rfc6052_v4_is_global(v4);
}

bool
cgn_config_nat64_differs(const struct cgn_config *a, const struct cgn_config *b)
{
	/* Every key (the translation knobs too: reload copies only the live keys, so a changed
	 * one would otherwise be accepted and not applied). Loaded configurations start zeroed
	 * (cgn_config_defaults) and the struct has no padding: memcmp is exact. */
	return memcmp(&a->nat64, &b->nat64, sizeof(a->nat64)) != 0;
}

bool
cgn_config_nat64_prefixes_differ(const struct cgn_config *a, const struct cgn_config *b)
{
	return a->nat64.n_prefixes != b->nat64.n_prefixes ||
	       memcmp(a->nat64.prefixes, b->nat64.prefixes, sizeof(a->nat64.prefixes[0]) * a->nat64.n_prefixes) != 0;
}

void
cgn_nat64_remap(const struct cgn_nat64_cfg *from, const struct cgn_nat64_cfg *to, uint8_t map[CGN_MAX_NAT64_PREFIXES])
{
	for (unsigned i = 0; i < CGN_MAX_NAT64_PREFIXES; i++) {
		int j = i < from->n_prefixes ? nat64_prefix_index(to, &from->prefixes[i]) : -1;
		map[i] = j < 0 ? 0 : (uint8_t)j;
	}
}

bool
cgn_config_live_differs(const struct cgn_config *a, const struct cgn_config *b)
{
	return cgn_config_nat64_differs(a, b) || a->n_routes != b->n_routes ||
	       memcmp(a->routes, b->routes, sizeof(a->routes[0]) * a->n_routes) != 0 ||
	       a->n_neighbours != b->n_neighbours ||
	       memcmp(a->neighbours, b->neighbours, sizeof(a->neighbours[0]) * a->n_neighbours) != 0 ||
	       a->nat.udp_timeout_s != b->nat.udp_timeout_s ||
	       a->nat.tcp_established_s != b->nat.tcp_established_s ||
	       a->nat.tcp_transitory_s != b->nat.tcp_transitory_s || a->nat.icmp_timeout_s != b->nat.icmp_timeout_s ||
	       a->nat.port_hold_s != b->nat.port_hold_s;
}

void
cgn_config_take_live(struct cgn_config *to, const struct cgn_config *from)
{
	to->n_routes = from->n_routes;
	memcpy(to->routes, from->routes, sizeof(to->routes));
	to->n_neighbours = from->n_neighbours;
	memcpy(to->neighbours, from->neighbours, sizeof(to->neighbours));
	to->nat.udp_timeout_s = from->nat.udp_timeout_s;
	to->nat.tcp_established_s = from->nat.tcp_established_s;
	to->nat.tcp_transitory_s = from->nat.tcp_transitory_s;
	to->nat.icmp_timeout_s = from->nat.icmp_timeout_s;
	to->nat.port_hold_s = from->nat.port_hold_s;
	to->nat64 = from->nat64;
}
