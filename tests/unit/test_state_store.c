/*
 * The state store on LMDB (control/state_store.c), in a temporary directory: open, put,
 * delete, reopen; savepoints; a full map; corrupt, truncated and foreign files; the lock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pcp_server_int.h"
#include "state_store.h"

static char dir[64];
static char err[1024];
static struct cgn_state_meta meta;
static enum cgn_state_found found;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cgnstate-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(state_store, .init = setup, .fini = teardown);

static struct cgn_state_params
params(uint64_t fingerprint)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/s", dir);
	return (struct cgn_state_params){ .dir = path, .map_size = 4u << 20, .pool_fingerprint = fingerprint,
					  .sync_interval_ms = 50 };
}

static struct cgn_state *
open_ok(uint64_t fingerprint, uint64_t now_rt)
{
	struct cgn_state_params p = params(fingerprint);
	struct cgn_state *st;
	int rc = cgn_state_open(&p, now_rt, &st, &found, &meta, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	return st;
}

/* A valid record (opening checks that every one decodes) marked v (its internal port) and
 * about n octets long (its DESCRIPTION fills it up). */
static int
encode(enum cgn_state_kind kind, uint8_t v, size_t n, uint8_t *buf)
{
	static char text[CGN_STATE_DESC_MAX];
	memset(text, 'd', sizeof(text));
	size_t desc = n > 140 ? n - 140 : 0;
	if (kind == CGN_STATE_PEER) {
		struct peer_key pk = { .in = { .port = (uint16_t)(v + 1), .proto = 6 } }; /* port 0 is never stored */
		struct pcp_peer_rec p = { .expire_ms = 1000, .description = text, .description_len = (uint16_t)desc,
					  .has_description = desc > 0 };
		return cgn_state_peer_encode(&pk, &p, 0, buf, CGN_STATE_REC_MAX);
	}
	struct pcp_mapping_rec r = { .in = { .port = (uint16_t)(v + 1), .proto = 17 }, .flags = CGN_MAP_EXPLICIT, .expire_ms = 1000,
				     .description = text, .description_len = (uint16_t)desc,
				     .has_description = desc > 0 };
	struct cgn_state_map_extra x = { 0 };
	return cgn_state_map_encode(&r, &x, 0, buf, CGN_STATE_REC_MAX);
}

static void
put(struct cgn_state *st, enum cgn_state_kind kind, uint64_t id, uint8_t v, size_t n)
{
	uint8_t buf[CGN_STATE_REC_MAX];
	int len = encode(kind, v, n, buf);
	cr_assert_gt(len, 0);
	cr_assert_eq(cgn_state_put(st, kind, id, buf, (size_t)len), 0);
}

struct seen {
	uint64_t ids[64];
	uint8_t first[64];
	unsigned n;
};

static void
collect(uint64_t id, const uint8_t *val, size_t len, void *arg)
{
	struct seen *s = arg;
	if (s->n < 64) {
		/* v of encode(): the internal port (v + 1) after kind, format, address */
		s->ids[s->n] = id;
		s->first[s->n++] = len > 19 ? (uint8_t)(val[19] - 1) : 0;
	}
}

Test(state_store, a_new_store_then_records_that_survive_a_reopen)
{
	struct cgn_state *st = open_ok(7, 1700000000000);
	cr_assert_eq(found, CGN_STATE_NEW);
	cr_assert_eq(meta.epoch_start_rt, 1700000000000);
	uint64_t a = cgn_state_new_id(st), b = cgn_state_new_id(st), c = cgn_state_new_id(st);
	cr_assert(a && b > a && c > b);
	put(st, CGN_STATE_MAPPING, a, 1, 100);
	put(st, CGN_STATE_MAPPING, b, 2, 100);
	put(st, CGN_STATE_PEER, c, 3, 50);
	cr_assert_eq(cgn_state_del(st, CGN_STATE_MAPPING, a), 0);
	cr_assert_eq(cgn_state_del(st, CGN_STATE_MAPPING, 999), 0, "absent: fine");
	cr_assert_eq(cgn_state_flush(st), 0);
	cgn_state_close(st);

	st = open_ok(7, 1700000100000);
	cr_assert_eq(found, CGN_STATE_SURVIVED);
	cr_assert_eq(meta.epoch_start_rt, 1700000000000, "the epoch's start is kept");
	struct seen s = { 0 };
	cr_assert_eq(cgn_state_foreach(st, CGN_STATE_MAPPING, collect, &s), 1);
	cr_assert_eq(s.ids[0], b);
	cr_assert_eq(s.first[0], 2);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(cgn_state_foreach(st, CGN_STATE_PEER, collect, &s), 1);
	cr_assert_eq(s.ids[0], c);
	cr_assert_gt(cgn_state_new_id(st), c, "ids never come back");
	cgn_state_close(st);

	st = open_ok(8, 1700000200000);
	cr_assert_eq(found, CGN_STATE_OTHER_POOL);
	cgn_state_close(st);
}

Test(state_store, changes_not_flushed_are_lost_by_a_crash_but_flushed_ones_are_not)
{
	/* A crash = the process ends without closing: here a child that exits at once. */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct cgn_state_params p = params(1);
		struct cgn_state *st;
		if (cgn_state_open(&p, 1700000000000, &st, &found, &meta, err, sizeof(err)) != 0)
			_exit(3);
		uint8_t v[CGN_STATE_REC_MAX];
		int n = encode(CGN_STATE_MAPPING, 9, 100, v);
		cgn_state_put(st, CGN_STATE_MAPPING, 1, v, (size_t)n);
		if (cgn_state_flush(st) != 0)
			_exit(4);
		cgn_state_put(st, CGN_STATE_MAPPING, 2, v, (size_t)n); /* never committed */
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct cgn_state *st = open_ok(1, 1700000000000);
	cr_assert_eq(found, CGN_STATE_SURVIVED);
	struct seen s = { 0 };
	cr_assert_eq(cgn_state_foreach(st, CGN_STATE_MAPPING, collect, &s), 1);
	cr_assert_eq(s.ids[0], 1);
	cgn_state_close(st);
}

Test(state_store, a_rollback_takes_back_only_what_followed_its_mark)
{
	struct cgn_state *st = open_ok(1, 1700000000000);
	put(st, CGN_STATE_MAPPING, 1, 1, 64);
	size_t mark = cgn_state_mark(st);
	put(st, CGN_STATE_MAPPING, 2, 2, 64);
	put(st, CGN_STATE_MAPPING, 1, 7, 64); /* a change of the first */
	cgn_state_rollback(st, mark);
	put(st, CGN_STATE_MAPPING, 3, 3, 64);
	cr_assert_eq(cgn_state_flush(st), 0);
	struct seen s = { 0 };
	cr_assert_eq(cgn_state_foreach(st, CGN_STATE_MAPPING, collect, &s), 2);
	cr_assert(s.ids[0] == 1 && s.first[0] == 1, "the first as it was before the mark");
	cr_assert(s.ids[1] == 3 && s.first[1] == 3);
	cr_assert_geq(cgn_state_stats(st)->replays, 1);
	cgn_state_close(st);
}

Test(state_store, a_full_map_fails_the_change_and_keeps_the_batch)
{
	struct cgn_state_params p = params(1);
	p.map_size = 2 << 20; /* 512 pages */
	struct cgn_state *st;
	cr_assert_eq(cgn_state_open(&p, 1700000000000, &st, &found, &meta, err, sizeof(err)), 0, "%s", err);
	uint8_t v[CGN_STATE_REC_MAX];
	uint64_t id = 1;
	int rc = 0;
	for (; id < 100000 && rc == 0; id++) {
		int len = encode(CGN_STATE_MAPPING, (uint8_t)id, 1000, v);
		rc = cgn_state_put(st, CGN_STATE_MAPPING, id, v, (size_t)len);
		if (rc == 0 && id % 16 == 0)
			cr_assert_eq(cgn_state_flush(st), 0, "batches before the map fills commit");
	}
	cr_assert_eq(rc, -ENOSPC, "the map fills: %d", rc);
	uint64_t failed = id - 1;
	cr_assert_geq(cgn_state_stats(st)->map_full, 1);
	cr_assert_eq(cgn_state_flush(st), 0, "what came before the failure in the batch commits");
	long n = cgn_state_count(st, CGN_STATE_MAPPING);
	cr_assert_eq((uint64_t)n, failed - 1, "every change before the failed one is stored, not it: %ld", n);
	/* a full store still takes deletes (one batch each, as a client's), and they make room */
	for (uint64_t k = 1; k < 20; k++) {
		cr_assert_eq(cgn_state_del(st, CGN_STATE_MAPPING, k), 0, "delete %llu", (unsigned long long)k);
		cr_assert_eq(cgn_state_flush(st), 0);
	}
	int len = encode(CGN_STATE_MAPPING, 1, 1000, v);
	cr_assert_eq(cgn_state_put(st, CGN_STATE_MAPPING, id + 1, v, (size_t)len), 0, "room again");
	cr_assert_eq(cgn_state_del(st, CGN_STATE_MAPPING, id + 1), 0);
	cr_assert_eq(cgn_state_flush(st), 0);
	cgn_state_close(st);
	/* and the file is whole */
	st = open_ok(1, 1700000000000);
	cr_assert_eq(found, CGN_STATE_SURVIVED);
	cr_assert_eq(cgn_state_count(st, CGN_STATE_MAPPING), n - 19);
	cgn_state_close(st);
}

#define damage_then_open(cmd_fmt, refuse, reason) do { \
		char cmd_[512]; \
		snprintf(cmd_, sizeof(cmd_), cmd_fmt, dir); \
		damage_then_open_(cmd_, refuse, reason); \
	} while (0)

static void
damage_then_open_(const char *damage, bool refuse, const char *reason)
{
	struct cgn_state *st = open_ok(1, 1700000000000);
	for (uint64_t id = 1; id <= 200; id++) {
		put(st, CGN_STATE_MAPPING, id, (uint8_t)id, 300);
		if (id % 50 == 0)
			cr_assert_eq(cgn_state_flush(st), 0);
	}
	cgn_state_close(st);
	char cmd[512];
	cr_assert_eq(system(damage), 0, "%s", damage);

	struct cgn_state_params p = params(1);
	p.refuse_corrupt = refuse;
	int rc = cgn_state_open(&p, 1700000123000, &st, &found, &meta, err, sizeof(err));
	cr_assert(strstr(err, "/s/data.mdb: ") && strstr(err, reason), "%s", err);
	snprintf(cmd, sizeof(cmd), "test -f %s/s/data.mdb.bad-1700000123", dir);
	if (refuse) {
		cr_assert_eq(rc, -EUCLEAN, "%s", err);
		cr_assert(strstr(err, "refusing to start"), "%s", err);
		cr_assert_neq(system(cmd), 0, "refused: not moved");
		return;
	}
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(err, "starting empty, epoch reset"), "%s", err);
	cr_assert_eq(system(cmd), 0, "moved aside, not deleted");
	cr_assert_eq(found, CGN_STATE_NEW);
	cr_assert_eq(meta.epoch_start_rt, 1700000123000);
	cr_assert_eq(cgn_state_count(st, CGN_STATE_MAPPING), 0);
	put(st, CGN_STATE_MAPPING, 1, 1, 10);
	cr_assert_eq(cgn_state_flush(st), 0, "a working store");
	cgn_state_close(st);
}

Test(state_store, garbage_is_moved_aside_and_the_store_starts_empty)
{
	damage_then_open("head -c 65536 /dev/urandom > %s/s/data.mdb", false, "LMDB");
}

Test(state_store, a_truncated_file_is_moved_aside)
{
	damage_then_open("truncate -s 16384 %s/s/data.mdb", false, "truncated");
}

Test(state_store, a_damaged_page_is_found)
{
	/* The first 4 KB after the two meta pages (the tree's pages) overwritten. */
	damage_then_open("dd if=/dev/urandom of=%s/s/data.mdb bs=4096 seek=2 count=60 conv=notrunc 2>/dev/null", false,
			 "");
}

Test(state_store, refuse_leaves_the_file_and_fails)
{
	damage_then_open("head -c 65536 /dev/urandom > %s/s/data.mdb", true, "LMDB");
}

Test(state_store, records_of_another_format_are_not_read)
{
	struct cgn_state *st = open_ok(1, 1700000000000);
	uint8_t v[30] = { CGN_STATE_MAPPING, CGN_STATE_FORMAT + 1 };
	cr_assert_eq(cgn_state_put(st, CGN_STATE_MAPPING, 5, v, sizeof(v)), 0);
	cr_assert_eq(cgn_state_flush(st), 0);
	cgn_state_close(st);
	struct cgn_state_params p = params(1);
	cr_assert_eq(cgn_state_open(&p, 1700000001000, &st, &found, &meta, err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(err, "record format 2, not 1") && strstr(err, "starting empty"), "%s", err);
	cr_assert_eq(found, CGN_STATE_NEW);
	cgn_state_close(st);
}

Test(state_store, a_second_process_cannot_open_it)
{
	struct cgn_state *st = open_ok(1, 1700000000000);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct cgn_state_params p = params(1);
		struct cgn_state *other;
		int rc = cgn_state_open(&p, 1700000000000, &other, &found, &meta, err, sizeof(err));
		_exit(rc == -EBUSY && strstr(err, "another process") ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cgn_state_close(st);
}

Test(state_store, the_data_file_is_preallocated)
{
	struct cgn_state *st = open_ok(1, 1700000000000);
	char path[128];
	snprintf(path, sizeof(path), "%s/s/data.mdb", dir);
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_geq((uint64_t)sb.st_blocks * 512, 4u << 20, "%lld blocks", (long long)sb.st_blocks);
	cgn_state_close(st);
}
