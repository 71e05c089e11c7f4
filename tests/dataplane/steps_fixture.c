/*
 * The step tests' shared setup and helpers (see steps_fixture.h). Called from the test's own
 * thread; the burst driver is reached through tests/lib/dp_env.c only.
 */
#include "steps_fixture.h"

#include <criterion/criterion.h>
#include <string.h>

#include "addr_text.h"
#include "cgn_cksum.h"

struct dp_env *E;
uint8_t frame[2048];

void
setup(void)
{
	E = dp_env_get();
	cr_assert_not_null(E, "the test data plane did not start");
}

uint8_t *
run(uint16_t in_port, uint16_t len, uint16_t *out_port, uint16_t *out_len)
{
	return dp_env_run(in_port, frame, len, out_port, out_len);
}

uint64_t
drops(enum cgn_drop_reason r)
{
	return E->w->pkt.drops[r];
}

uint32_t
addr(const char *a)
{
	return dp_ipv4(a);
}

uint16_t
port_at(const uint8_t *f, int off)
{
	return (uint16_t)(f[34 + off] << 8 | f[34 + off + 1]);
}

void
ip_header_changed(uint8_t *f, unsigned ihl)
{
	memset(f + 14 + 10, 0, 2);
	uint16_t c = cgn_cksum(f + 14, ihl);
	memcpy(f + 14 + 10, &c, 2);
}

void
nat64_on(void)
{
	struct cgn_config *c = &E->cfg;
	c->pcp.inside[c->pcp.n_inside++] = P("2001:db8::/32");
	c->nat64.prefixes[0] = P("64:ff9b::/96");
	c->nat64.wkp[0] = true;
	c->nat64.prefixes[1] = P("2001:db9:100::/40");
	c->nat64.n_prefixes = 2;
	c->nat64.treat_as_global[0] = P("198.51.100.0/24");
	c->nat64.treat_as_global[1] = P("203.0.113.0/24"); /* the pool: hairpinning embeds it */
	c->nat64.n_treat_as_global = 2;
	cgn_dataplane_set_nat64(E->dp, c);
}
