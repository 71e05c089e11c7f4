/*
 * Subscribers and port blocks (see cgn_portblock.h for the model and the concurrency rules).
 *
 * Memory layout in the caller's (zeroed) buffer:
 *   addrs[n_addrs] | owner[n_addrs * blocks_per_addr] | addr_blocks[n_addrs] |
 *   slots[2 * max_subscribers rounded up] | records[max_subscribers]
 * A record is followed by block[max_blocks] and the bitmaps [max_blocks][NPROTO][words].
 */
#include "cgn_portblock.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

static size_t
header_size(const struct cgn_pb_params *p)
{
	return ALIGN64(sizeof(struct cgn_pb_sub) + (size_t)p->max_blocks * sizeof(uint32_t));
}

static uint32_t
table_slots(uint32_t max_subscribers)
{
	uint32_t n = 64;
	while (n < 2 * max_subscribers)
		n <<= 1;
	return n;
}

static bool
params_ok(const struct cgn_pb_params *p)
{
	if (p->n_addrs == 0 || p->block_size == 0 || p->block_size % 64 != 0 || p->max_blocks == 0 ||
	    p->max_blocks > CGN_PB_MAX_BLOCKS || p->max_subscribers == 0 || p->max_subscribers > (1u << 26) ||
	    p->port_min > p->port_max)
		return false;
	return ((uint32_t)p->port_max - p->port_min + 1) / p->block_size > 0;
}

static size_t
sub_stride(const struct cgn_pb_params *p)
{
	return header_size(p) + (size_t)p->max_blocks * CGN_PB_NPROTO * (p->block_size / 64) * 8;
}

size_t
cgn_pb_mem_size(const struct cgn_pb_params *p)
{
	if (!params_ok(p))
		return 0;
	uint32_t bpa = ((uint32_t)p->port_max - p->port_min + 1) / p->block_size;
	size_t n = ALIGN64((size_t)p->n_addrs * 4) + ALIGN64((size_t)p->n_addrs * bpa * 4) +
		   ALIGN64((size_t)p->n_addrs * 4) +
		   ALIGN64((size_t)table_slots(p->max_subscribers) * sizeof(struct cgn_pb_slot));
	return n + (size_t)p->max_subscribers * sub_stride(p);
}

int
cgn_pb_init(struct cgn_pb *pb, const struct cgn_pb_params *p, void *mem, size_t size)
{
	size_t need = cgn_pb_mem_size(p);
	if (need == 0)
		return -EINVAL;
	if (size < need)
		return -ENOSPC;
	memset(pb, 0, sizeof(*pb));
	pb->p = *p;
	pb->blocks_per_addr = ((uint32_t)p->port_max - p->port_min + 1) / p->block_size;
	pb->words_per_block = p->block_size / 64;
	pb->sub_stride = sub_stride(p);
	pb->slot_mask = table_slots(p->max_subscribers) - 1;

	uint8_t *m = mem;
	pb->addrs = (uint32_t *)m;
	memcpy(pb->addrs, p->addrs, (size_t)p->n_addrs * 4);
	pb->p.addrs = pb->addrs;
	m += ALIGN64((size_t)p->n_addrs * 4);
	pb->owner = (uint32_t *)m;
	m += ALIGN64((size_t)p->n_addrs * pb->blocks_per_addr * 4);
	pb->addr_blocks = (uint32_t *)m;
	m += ALIGN64((size_t)p->n_addrs * 4);
	pb->slots = (struct cgn_pb_slot *)m;
	m += ALIGN64((size_t)(pb->slot_mask + 1) * sizeof(struct cgn_pb_slot));
	pb->subs = m;
	return 0;
}

int
cgn_pb_proto(uint8_t ip_proto)
{
	switch (ip_proto) {
	case IPPROTO_TCP:
		return 0;
	case IPPROTO_UDP:
		return 1;
	case IPPROTO_ICMP:
		return 2;
	default:
		return -1;
	}
}

bool
cgn_pb_port_reserved(uint8_t ip_proto, uint16_t port)
{
	/* RFC 6887 §11.3: "A PCP server MUST NOT create client mappings for external UDP ports
	 * 5350 or 5351." */
	return port == 0 || (ip_proto == IPPROTO_UDP && (port == 5350 || port == 5351));
}

struct cgn_pb_sub *
cgn_pb_sub(const struct cgn_pb *pb, uint32_t i)
{
	return (struct cgn_pb_sub *)(pb->subs + (size_t)i * pb->sub_stride);
}

static uint64_t *
bitmap(const struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t slot, int pi)
{
	uint8_t *base = (uint8_t *)s + header_size(&pb->p);
	return (uint64_t *)(base + (((size_t)slot * CGN_PB_NPROTO + (size_t)pi) * pb->words_per_block) * 8);
}

int64_t
cgn_pb_addr_index(const struct cgn_pb *pb, uint32_t addr)
{
	for (uint32_t i = 0; i < pb->p.n_addrs; i++)
		if (pb->addrs[i] == addr)
			return i;
	return -1;
}

uint16_t
cgn_pb_block_first_port(const struct cgn_pb *pb, uint32_t block_id)
{
	return (uint16_t)(pb->p.port_min + (block_id % pb->blocks_per_addr) * pb->p.block_size);
}

static uint64_t
xorshift64(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint32_t
addr_hash(const struct cgn_addr *a)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ a->b[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* The pool address with the fewest blocks in use; ties go to the subscriber's hash. */
static uint32_t
least_loaded(const struct cgn_pb *pb, uint32_t h)
{
	uint32_t best = h % pb->p.n_addrs, best_n = UINT32_MAX;
	for (uint32_t k = 0; k < pb->p.n_addrs; k++) {
		uint32_t i = (h + k) % pb->p.n_addrs;
		uint32_t n = __atomic_load_n(&pb->addr_blocks[i], __ATOMIC_RELAXED);
		if (n < best_n) {
			best = i;
			best_n = n;
		}
	}
	return best;
}

int32_t
cgn_pb_subscriber(struct cgn_pb *pb, const struct cgn_addr *addr, bool create)
{
	uint32_t h = addr_hash(addr);
	for (uint32_t probe = 0; probe <= pb->slot_mask; probe++) {
		struct cgn_pb_slot *sl = &pb->slots[(h + probe) & pb->slot_mask];
		uint32_t st = __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
		if (st == CGN_PB_SUB_EMPTY) {
			if (!create)
				return -ENOENT;
			uint32_t expect = CGN_PB_SUB_EMPTY;
			if (__atomic_compare_exchange_n(&sl->state, &expect, CGN_PB_SUB_CLAIMING, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
				uint32_t idx = __atomic_fetch_add(&pb->n_subs, 1, __ATOMIC_SEQ_CST);
				if (idx >= pb->p.max_subscribers) {
					__atomic_fetch_sub(&pb->n_subs, 1, __ATOMIC_SEQ_CST);
					__atomic_store_n(&sl->state, CGN_PB_SUB_EMPTY, __ATOMIC_RELEASE);
					return -ENOSPC;
				}
				struct cgn_pb_sub *s = cgn_pb_sub(pb, idx);
				s->addr = *addr;
				s->ext_index = least_loaded(pb, h);
				__atomic_store_n(&s->state, CGN_PB_SUB_READY, __ATOMIC_RELAXED);
				sl->addr = *addr;
				sl->idx = idx;
				__atomic_store_n(&sl->state, CGN_PB_SUB_READY, __ATOMIC_RELEASE);
				return (int32_t)idx;
			}
			st = expect; /* someone else claimed it: look at what they write */
		}
		/* A claim in progress writes a few words and publishes: wait for it. */
		while (st == CGN_PB_SUB_CLAIMING)
			st = __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
		if (st == CGN_PB_SUB_EMPTY) { /* the claim gave up (table full): look again */
			probe--;
			continue;
		}
		if (cgn_addr_eq(&sl->addr, addr))
			return (int32_t)sl->idx;
	}
	return -ENOSPC;
}

int
cgn_pb_pin(struct cgn_pb *pb, uint32_t sub, uint32_t addr)
{
	struct cgn_pb_sub *s = cgn_pb_sub(pb, sub);
	int64_t ai = cgn_pb_addr_index(pb, addr);
	if (ai < 0)
		return -EADDRNOTAVAIL;
	if (s->ext_index == (uint32_t)ai)
		return 0;
	if (__atomic_load_n(&s->n_blocks, __ATOMIC_SEQ_CST) != 0)
		return -EBUSY;
	s->ext_index = (uint32_t)ai;
	return 0;
}

/* Allocator entry and exit: the reclaimer waits for busy == 0 after it marked DRAINING. */
static bool
enter(struct cgn_pb_sub *s)
{
	__atomic_fetch_add(&s->busy, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) == CGN_PB_SUB_READY)
		return true;
	__atomic_fetch_sub(&s->busy, 1, __ATOMIC_SEQ_CST);
	return false;
}

static void
leave(struct cgn_pb_sub *s)
{
	__atomic_fetch_sub(&s->busy, 1, __ATOMIC_RELEASE);
}

/*
 * Takes a free port of one block slot: a random start, then word by word with ctz over the
 * free bits, honouring parity (0 even, 1 odd, -1 any) and the reserved ports.
 */
static bool
take_in_slot(struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t slot, uint32_t gid, int pi,
	     uint8_t ip_proto, int parity, uint64_t *rng, uint16_t *port)
{
	uint64_t *bits = bitmap(pb, s, slot, pi);
	uint32_t words = pb->words_per_block;
	uint16_t first = cgn_pb_block_first_port(pb, gid);
	uint32_t start = (uint32_t)(xorshift64(rng) % pb->p.block_size);
	uint32_t sw = start / 64;

	for (uint32_t k = 0; k <= words; k++) {
		uint32_t w = (sw + k) % words;
		uint64_t mask = ~0ull;
		if (k == 0)
			mask = ~0ull << (start % 64); /* from the start bit ... */
		else if (k == words)
			mask = (start % 64) ? ~(~0ull << (start % 64)) : 0; /* ... round to it */
		if (parity >= 0) {
			unsigned base_odd = (unsigned)((first + w * 64) & 1);
			uint64_t even_bits = base_odd ? 0xaaaaaaaaaaaaaaaaull : 0x5555555555555555ull;
			mask &= parity == 0 ? even_bits : ~even_bits;
		}
		uint64_t cur = __atomic_load_n(&bits[w], __ATOMIC_RELAXED);
		uint64_t free_bits = ~cur & mask;
		while (free_bits) {
			unsigned b = (unsigned)__builtin_ctzll(free_bits);
			uint64_t bit = 1ull << b;
			uint16_t p = (uint16_t)(first + w * 64 + b);
			free_bits &= ~bit;
			if (cgn_pb_port_reserved(ip_proto, p))
				continue;
			uint64_t old = __atomic_fetch_or(&bits[w], bit, __ATOMIC_ACQ_REL);
			if (old & bit) {
				free_bits &= ~old;
				continue;
			}
			__atomic_fetch_add(&s->ports_used, 1, __ATOMIC_RELAXED);
			*port = p;
			return true;
		}
	}
	return false;
}

void
cgn_pb_set_event_hook(struct cgn_pb *pb, cgn_pb_event_fn fn, void *ctx)
{
	pb->event = fn;
	pb->event_ctx = ctx;
}

/* Reports a block (PORT_BLOCK_ALLOC / _FREE) or a binding (BINDING_CREATE / _DELETE) of
 * subscriber s to the hook. gid: the block, or the address's first block for a binding. */
static void
report(const struct cgn_pb *pb, const struct cgn_pb_sub *s, enum cgn_nat_event what, uint32_t gid)
{
	struct cgn_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.nat_event = (uint8_t)what;
	ev.internal = s->addr;
	ev.ext_addr = pb->addrs[gid / pb->blocks_per_addr];
	if (what == CGN_NATEV_PORT_BLOCK_ALLOC || what == CGN_NATEV_PORT_BLOCK_FREE) {
		ev.port_first = cgn_pb_block_first_port(pb, gid);
		ev.port_last = (uint16_t)(ev.port_first + pb->p.block_size - 1);
	}
	pb->event(pb->event_ctx, &ev);
}

/* Claims block gid for subscriber index si and publishes it in a slot. @return slot or -errno. */
static int
add_block(struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t si, uint32_t gid)
{
	uint32_t expect = 0;
	if (!__atomic_compare_exchange_n(&pb->owner[gid], &expect, si + 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return -EBUSY;
	uint32_t n = __atomic_load_n(&s->n_blocks, __ATOMIC_SEQ_CST);
	do {
		if (n >= pb->p.max_blocks) {
			__atomic_store_n(&pb->owner[gid], 0, __ATOMIC_SEQ_CST);
			return -EDQUOT;
		}
	} while (!__atomic_compare_exchange_n(&s->n_blocks, &n, n + 1, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	__atomic_fetch_add(&pb->addr_blocks[gid / pb->blocks_per_addr], 1, __ATOMIC_RELAXED);
	__atomic_store_n(&s->block[n], gid + 1, __ATOMIC_RELEASE);
	if (pb->event) { /* the claim is made: no retry can follow */
		if (n == 0) /* RFC 8158 §4.6.9: its external address is bound with its first block */
			report(pb, s, CGN_NATEV_BINDING_CREATE, gid);
		report(pb, s, CGN_NATEV_PORT_BLOCK_ALLOC, gid);
	}
	return (int)n;
}

/* Claims any free block of the subscriber's address, from a random start. */
static int
add_any_block(struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t si, uint64_t *rng, uint32_t *gid_out)
{
	uint32_t bpa = pb->blocks_per_addr, base = s->ext_index * bpa;
	uint32_t start = (uint32_t)(xorshift64(rng) % bpa);
	if (__atomic_load_n(&s->n_blocks, __ATOMIC_SEQ_CST) >= pb->p.max_blocks)
		return -EDQUOT;
	for (uint32_t k = 0; k < bpa; k++) {
		uint32_t gid = base + (start + k) % bpa;
		if (__atomic_load_n(&pb->owner[gid], __ATOMIC_RELAXED) != 0)
			continue;
		int slot = add_block(pb, s, si, gid);
		if (slot == -EBUSY)
			continue;
		if (slot >= 0)
			*gid_out = gid;
		return slot;
	}
	return -ENOSPC;
}

static int
slot_of(const struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t gid)
{
	uint32_t n = __atomic_load_n(&s->n_blocks, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n && i < pb->p.max_blocks; i++)
		if (__atomic_load_n(&s->block[i], __ATOMIC_ACQUIRE) == gid + 1)
			return (int)i;
	return -1;
}

/* The slot of the block of the subscriber's address that holds port, claiming the block if
 * it is free and the quota allows; *gid_out its global id. @return the slot, -EADDRNOTAVAIL
 * (outside the blocks), -EBUSY (another subscriber's), -EDQUOT. */
static int
own_block(struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t si, uint16_t port, uint32_t *gid_out)
{
	if (port < pb->p.port_min)
		return -EADDRNOTAVAIL;
	uint32_t bi = (uint32_t)(port - pb->p.port_min) / pb->p.block_size;
	if (bi >= pb->blocks_per_addr)
		return -EADDRNOTAVAIL;
	uint32_t gid = s->ext_index * pb->blocks_per_addr + bi;
	*gid_out = gid;
	int slot = slot_of(pb, s, gid);
	if (slot < 0) {
		uint32_t owner = __atomic_load_n(&pb->owner[gid], __ATOMIC_SEQ_CST);
		if (owner != 0 && owner != si + 1)
			return -EBUSY; /* another subscriber's block */
		slot = add_block(pb, s, si, gid);
		if (slot == -EBUSY) /* lost a race: it may now be ours */
			slot = slot_of(pb, s, gid);
		if (slot < 0)
			return slot == -1 ? -EBUSY : slot;
	}
	return slot;
}

/* Takes exactly port on the subscriber's address; the caller is inside enter()/leave(). */
static int
take_exact(struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t si, int pi, uint8_t ip_proto, uint16_t port)
{
	if (cgn_pb_port_reserved(ip_proto, port))
		return -EADDRNOTAVAIL;
	uint32_t gid;
	int slot = own_block(pb, s, si, port, &gid);
	if (slot < 0)
		return slot;
	uint32_t off = (uint32_t)(port - cgn_pb_block_first_port(pb, gid));
	uint64_t *w = &bitmap(pb, s, (uint32_t)slot, pi)[off / 64];
	uint64_t bit = 1ull << (off % 64);
	if (__atomic_fetch_or(w, bit, __ATOMIC_ACQ_REL) & bit)
		return -EBUSY;
	__atomic_fetch_add(&s->ports_used, 1, __ATOMIC_RELAXED);
	return 0;
}

int
cgn_pb_take(struct cgn_pb *pb, uint32_t sub, uint32_t addr, uint8_t ip_proto, uint16_t port)
{
	int pi = cgn_pb_proto(ip_proto);
	if (pi < 0)
		return -EPROTONOSUPPORT;
	struct cgn_pb_sub *s = cgn_pb_sub(pb, sub);
	if (pb->addrs[s->ext_index] != addr)
		return -EADDRNOTAVAIL;
	if (!enter(s))
		return -EAGAIN;
	int rc = take_exact(pb, s, sub, pi, ip_proto, port);
	leave(s);
	return rc;
}

int
cgn_pb_alloc(struct cgn_pb *pb, uint32_t sub, uint8_t ip_proto, uint16_t want_port,
	     uint16_t internal_port, uint64_t *rng, uint32_t *addr, uint16_t *port)
{
	int pi = cgn_pb_proto(ip_proto);
	if (pi < 0)
		return -EPROTONOSUPPORT;
	struct cgn_pb_sub *s = cgn_pb_sub(pb, sub);
	int parity = pb->p.parity && internal_port ? internal_port & 1 : -1;
	if (!enter(s))
		return -EAGAIN;
	*addr = pb->addrs[s->ext_index];

	int rc = 0;
	if (want_port && (parity < 0 || (want_port & 1) == parity) &&
	    take_exact(pb, s, sub, pi, ip_proto, want_port) == 0) {
		*port = want_port;
		goto out;
	}
	uint32_t n = __atomic_load_n(&s->n_blocks, __ATOMIC_ACQUIRE);
	uint32_t start = n ? (uint32_t)(xorshift64(rng) % n) : 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t slot = (start + k) % n;
		uint32_t gid1 = __atomic_load_n(&s->block[slot], __ATOMIC_ACQUIRE);
		if (gid1 && take_in_slot(pb, s, slot, gid1 - 1, pi, ip_proto, parity, rng, port))
			goto out;
	}
	/* Every block is full: claim another, within the quota. */
	for (;;) {
		uint32_t gid;
		int slot = add_any_block(pb, s, sub, rng, &gid);
		if (slot < 0) {
			rc = slot;
			break;
		}
		if (take_in_slot(pb, s, (uint32_t)slot, gid, pi, ip_proto, parity, rng, port))
			break;
	}
out:
	leave(s);
	return rc;
}

/* ---- runs of consecutive ports (RFC 7753 port sets) ------------------------------------------ */

/* A run found in one block slot. */
struct run {
	uint32_t slot, gid;
	uint32_t off; /* first port's offset in the block */
	uint32_t len;
};

/*
 * The free run of one block slot: the lowest run of want ports, else the longest; its first
 * port of the given parity (0 even, 1 odd, -1 any). Reserved ports end a run. Reads the
 * bitmap word by word (a full word is skipped whole): at most block_size steps.
 */
static void
best_run_in_slot(const struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t slot, uint32_t gid, int pi,
		 uint8_t ip_proto, int parity, uint32_t want, struct run *best)
{
	const uint64_t *bits = bitmap(pb, s, slot, pi);
	uint16_t first = cgn_pb_block_first_port(pb, gid);
	uint32_t run = 0, start = 0;
	uint64_t w = 0;
	for (uint32_t off = 0; off < pb->p.block_size; off++) {
		if ((off & 63) == 0) {
			w = __atomic_load_n(&bits[off / 64], __ATOMIC_RELAXED);
			if (w == ~0ull) { /* a full word ends any run */
				run = 0;
				off += 63;
				continue;
			}
		}
		uint16_t port = (uint16_t)(first + off);
		if (((w >> (off & 63)) & 1) || cgn_pb_port_reserved(ip_proto, port)) {
			run = 0;
			continue;
		}
		if (run == 0) {
			if (parity >= 0 && (port & 1) != parity)
				continue; /* a run may not start here */
			start = off;
		}
		if (++run > best->len) {
			*best = (struct run){ slot, gid, start, run };
			if (run >= want)
				return;
		}
	}
}

/* Clears bits [off, off + n) of a bitmap, word by word. */
static void
clear_bits(uint64_t *bits, uint32_t off, uint32_t n)
{
	for (uint32_t o = off; o < off + n;) {
		uint32_t b = o % 64, k = 64 - b < off + n - o ? 64 - b : off + n - o;
		uint64_t mask = (k == 64 ? ~0ull : ((1ull << k) - 1)) << b;
		__atomic_fetch_and(&bits[o / 64], ~mask, __ATOMIC_ACQ_REL);
		o += k;
	}
}

/*
 * Takes the ports of a run, a word at a time with fetch_or. If another allocator got one of
 * them first, gives back exactly the bits this call set and fails: the caller looks again.
 */
static bool
take_run(struct cgn_pb *pb, struct cgn_pb_sub *s, int pi, const struct run *r)
{
	uint64_t *bits = bitmap(pb, s, r->slot, pi);
	for (uint32_t o = r->off; o < r->off + r->len;) {
		uint32_t b = o % 64, k = 64 - b < r->off + r->len - o ? 64 - b : r->off + r->len - o;
		uint64_t mask = (k == 64 ? ~0ull : ((1ull << k) - 1)) << b;
		uint64_t old = __atomic_fetch_or(&bits[o / 64], mask, __ATOMIC_ACQ_REL);
		if (old & mask) {
			/* This word: only the bits that were free before are ours to clear. */
			__atomic_fetch_and(&bits[o / 64], ~(mask & ~old), __ATOMIC_ACQ_REL);
			clear_bits(bits, r->off, o - r->off); /* the whole words before it */
			return false;
		}
		o += k;
	}
	__atomic_fetch_add(&s->ports_used, r->len, __ATOMIC_RELAXED);
	return true;
}

/* The run of want ports from port, in its block (claimed if needed): the suggestion. */
static int
take_suggested_run(struct cgn_pb *pb, struct cgn_pb_sub *s, uint32_t si, int pi, uint8_t ip_proto, uint16_t port,
		   uint32_t want)
{
	for (uint32_t k = 0; k < want; k++)
		if ((uint32_t)port + k > UINT16_MAX || cgn_pb_port_reserved(ip_proto, (uint16_t)(port + k)))
			return -EADDRNOTAVAIL;
	struct run r = { .len = want };
	int slot = own_block(pb, s, si, port, &r.gid);
	if (slot < 0)
		return slot;
	r.slot = (uint32_t)slot;
	r.off = (uint32_t)(port - cgn_pb_block_first_port(pb, r.gid));
	if (r.off + want > pb->p.block_size)
		return -ERANGE; /* a run never leaves its block */
	return take_run(pb, s, pi, &r) ? 0 : -EBUSY;
}

/* Looks for a run in every block the subscriber holds, from a random one: a run of want
 * ports, else the longest. */
static void
best_run_held(struct cgn_pb *pb, struct cgn_pb_sub *s, int pi, uint8_t ip_proto, int parity, uint32_t want,
	      uint64_t *rng, struct run *best)
{
	uint32_t n = __atomic_load_n(&s->n_blocks, __ATOMIC_ACQUIRE);
	uint32_t start = n ? (uint32_t)(xorshift64(rng) % n) : 0;
	for (uint32_t k = 0; k < n && best->len < want; k++) {
		uint32_t slot = (start + k) % n;
		uint32_t gid1 = __atomic_load_n(&s->block[slot], __ATOMIC_ACQUIRE);
		if (gid1)
			best_run_in_slot(pb, s, slot, gid1 - 1, pi, ip_proto, parity, want, best);
	}
}

/* How often cgn_pb_alloc_run() looks again after losing a run to a concurrent allocator. */
#define RUN_ATTEMPTS 16

int
cgn_pb_alloc_run(struct cgn_pb *pb, uint32_t sub, uint8_t ip_proto, uint16_t want_first, uint16_t want,
		 int parity, uint64_t *rng, uint32_t *addr, uint16_t *first, uint16_t *got)
{
	int pi = cgn_pb_proto(ip_proto);
	if (pi < 0)
		return -EPROTONOSUPPORT;
	if (want == 0)
		return -EINVAL;
	if (want > pb->p.block_size)
		want = pb->p.block_size;
	if (parity > 1)
		parity = 1;
	struct cgn_pb_sub *s = cgn_pb_sub(pb, sub);
	if (!enter(s))
		return -EAGAIN;
	*addr = pb->addrs[s->ext_index];

	int rc = 0;
	if (want_first && (parity < 0 || (want_first & 1) == parity) &&
	    take_suggested_run(pb, s, sub, pi, ip_proto, want_first, want) == 0) {
		*first = want_first;
		*got = want;
		goto out;
	}
	for (int attempt = 0; attempt < RUN_ATTEMPTS; attempt++) {
		struct run best = { 0 };
		best_run_held(pb, s, pi, ip_proto, parity, want, rng, &best);
		if (best.len == 0 && parity >= 0) /* no free port of that parity: any will do */
			best_run_held(pb, s, pi, ip_proto, -1, want, rng, &best);
		if (best.len < want) {
			/* No run of want ports in the blocks held: a new block, within the quota. */
			uint32_t gid;
			int slot = add_any_block(pb, s, sub, rng, &gid);
			if (slot >= 0) {
				struct run fresh = { 0 };
				best_run_in_slot(pb, s, (uint32_t)slot, gid, pi, ip_proto, parity, want, &fresh);
				if (fresh.len == 0 && parity >= 0)
					best_run_in_slot(pb, s, (uint32_t)slot, gid, pi, ip_proto, -1, want, &fresh);
				if (fresh.len > best.len)
					best = fresh;
			} else if (best.len == 0) {
				rc = slot; /* -EDQUOT or -ENOSPC: not a single port */
				goto out;
			}
		}
		if (best.len == 0) {
			rc = -ENOSPC; /* a fresh block with no usable port (all reserved) */
			goto out;
		}
		if (take_run(pb, s, pi, &best)) {
			*first = (uint16_t)(cgn_pb_block_first_port(pb, best.gid) + best.off);
			*got = (uint16_t)best.len;
			goto out;
		}
	}
	rc = -EAGAIN; /* lost every race: the caller may ask again */
out:
	leave(s);
	return rc;
}

void
cgn_pb_release_run(struct cgn_pb *pb, uint32_t sub, uint8_t ip_proto, uint16_t first, uint16_t n)
{
	for (uint32_t k = 0; k < n && (uint32_t)first + k <= UINT16_MAX; k++)
		cgn_pb_release(pb, sub, ip_proto, (uint16_t)(first + k));
}

void
cgn_pb_release(struct cgn_pb *pb, uint32_t sub, uint8_t ip_proto, uint16_t port)
{
	int pi = cgn_pb_proto(ip_proto);
	if (pi < 0 || port < pb->p.port_min)
		return;
	struct cgn_pb_sub *s = cgn_pb_sub(pb, sub);
	uint32_t bi = (uint32_t)(port - pb->p.port_min) / pb->p.block_size;
	if (bi >= pb->blocks_per_addr)
		return;
	uint32_t gid = s->ext_index * pb->blocks_per_addr + bi;
	int slot = slot_of(pb, s, gid);
	if (slot < 0)
		return;
	uint32_t off = (uint32_t)(port - cgn_pb_block_first_port(pb, gid));
	uint64_t *w = &bitmap(pb, s, (uint32_t)slot, pi)[off / 64];
	uint64_t bit = 1ull << (off % 64);
	if (__atomic_fetch_and(w, ~bit, __ATOMIC_ACQ_REL) & bit)
		__atomic_fetch_sub(&s->ports_used, 1, __ATOMIC_RELEASE);
}

uint32_t
cgn_pb_reclaim(struct cgn_pb *pb, uint32_t sub)
{
	struct cgn_pb_sub *s = cgn_pb_sub(pb, sub);
	if (__atomic_load_n(&s->ports_used, __ATOMIC_SEQ_CST) != 0 ||
	    __atomic_load_n(&s->n_blocks, __ATOMIC_SEQ_CST) == 0)
		return 0;
	uint32_t expect = CGN_PB_SUB_READY;
	if (!__atomic_compare_exchange_n(&s->state, &expect, CGN_PB_SUB_DRAINING, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return 0;
	/* No allocator starts now; wait for those already in (a few hundred cycles at most). */
	while (__atomic_load_n(&s->busy, __ATOMIC_SEQ_CST) != 0)
		;
	uint32_t n = 0;
	if (__atomic_load_n(&s->ports_used, __ATOMIC_SEQ_CST) == 0) {
		n = __atomic_load_n(&s->n_blocks, __ATOMIC_SEQ_CST);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t gid = __atomic_load_n(&s->block[i], __ATOMIC_SEQ_CST) - 1;
			for (int pi = 0; pi < CGN_PB_NPROTO; pi++)
				memset(bitmap(pb, s, i, pi), 0, pb->words_per_block * 8);
			__atomic_store_n(&s->block[i], 0, __ATOMIC_SEQ_CST);
			__atomic_fetch_sub(&pb->addr_blocks[gid / pb->blocks_per_addr], 1, __ATOMIC_SEQ_CST);
			__atomic_store_n(&pb->owner[gid], 0, __ATOMIC_RELEASE);
			if (pb->event)
				report(pb, s, CGN_NATEV_PORT_BLOCK_FREE, gid);
		}
		__atomic_store_n(&s->n_blocks, 0, __ATOMIC_SEQ_CST);
		if (pb->event && n > 0)
			report(pb, s, CGN_NATEV_BINDING_DELETE, s->ext_index * pb->blocks_per_addr);
	}
	__atomic_store_n(&s->state, CGN_PB_SUB_READY, __ATOMIC_RELEASE);
	return n;
}

uint32_t
cgn_pb_report_free_slice(const struct cgn_pb *pb, uint32_t *cursor, uint32_t n_subs)
{
	uint32_t reported = 0;
	uint32_t last = __atomic_load_n(&pb->n_subs, __ATOMIC_SEQ_CST);
	if (last > pb->p.max_subscribers)
		last = pb->p.max_subscribers;
	uint32_t end = *cursor + n_subs < last ? *cursor + n_subs : last;
	for (uint32_t i = *cursor; pb->event && i < end; i++) {
		const struct cgn_pb_sub *s = cgn_pb_sub(pb, i);
		uint32_t n = __atomic_load_n(&s->n_blocks, __ATOMIC_SEQ_CST);
		uint32_t held = 0;
		for (uint32_t k = 0; k < n && k < pb->p.max_blocks; k++) {
			uint32_t gid1 = __atomic_load_n(&s->block[k], __ATOMIC_SEQ_CST);
			if (gid1 == 0)
				continue;
			report(pb, s, CGN_NATEV_PORT_BLOCK_FREE, gid1 - 1);
			held++;
		}
		if (held)
			report(pb, s, CGN_NATEV_BINDING_DELETE, s->ext_index * pb->blocks_per_addr);
		reported += held;
	}
	*cursor = end > *cursor ? end : last;
	return reported;
}

uint32_t
cgn_pb_report_all_free(const struct cgn_pb *pb)
{
	uint32_t cursor = 0;
	return cgn_pb_report_free_slice(pb, &cursor, UINT32_MAX - 1);
}

uint64_t
cgn_pb_blocks_used(const struct cgn_pb *pb)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < pb->p.n_addrs; i++)
		n += __atomic_load_n(&pb->addr_blocks[i], __ATOMIC_RELAXED);
	return n;
}
