/*
 * The state store on LMDB (see state_store.h): open and check, the batch and its replay log,
 * the sync thread. No DPDK here (the unit tests use it as it is); messages go back to the
 * caller in err, which logs them.
 */
#define _GNU_SOURCE
#include "state_store.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_DBI 3
static const char *const dbi_names[N_DBI] = { "meta", "map", "peer" };
enum { DBI_META, DBI_MAP, DBI_PEER };

enum { OP_PUT, OP_DEL, OP_APPEND };

/* One change of the open batch, as replayed: op, kind, id, then len octets. */
struct log_ent {
	uint8_t del; /* OP_* */
	uint8_t dbi;
	uint16_t len;
	uint64_t id;
};

struct cgn_state {
	MDB_env *env;
	MDB_dbi dbi[N_DBI];
	MDB_txn *txn;           /* the open batch, or NULL */
	uint8_t *log;           /* the batch's changes (struct log_ent + value each) */
	size_t log_len, log_cap;
	uint64_t next_id;
	uint64_t last_id[N_DBI]; /* the largest key of the map and peer trees (MDB_APPEND above it) */
	int dir_fd;             /* flock'ed: one cgnatd a store */
	uint64_t meta_saved_rt; /* when the meta's saved_rt was last written */
	/* Room of the open batch, in pages (txn_open): a change may take page_cost of them at
	 * most; one that could take more than what is left fails before LMDB sees it, so that
	 * the commit (which writes the free list and the roots) always finds its pages. */
	int64_t room;
	unsigned page_cost;
	bool appended[N_DBI];   /* this batch has appended to the tree: its last path is its own */
	struct cgn_state_meta meta;
	bool sync_commit;
	uint32_t sync_interval_ms;
	pthread_t sync_thread;
	bool sync_running;
	int sync_pipe[2];       /* closing [1] stops the sync thread */
	struct cgn_state_stats stats;
	char dir[4096];
};

static uint64_t
realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* LMDB's errors as errno values for our callers. */
static int
lmdb_errno(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case MDB_PAGE_FULL:
		return -ENOSPC;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return -EUCLEAN;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

/* ---- the check of an existing file (in a child process) ------------------------------------- */

enum { CHECK_OK = 0, CHECK_CORRUPT = 2, CHECK_FORMAT = 3, CHECK_EMPTY = 4 };

/* Runs in the child: opens the file read-only without the lock file, checks that the last
 * page is inside the file, walks every record. Writes the reason to fd. @return CHECK_*. */
static int
check_child(const char *dir, int fd)
{
	char path[4200], why[256] = "";
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	int rc, res = CHECK_CORRUPT;
	struct stat sb;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &sb) != 0) {
		snprintf(why, sizeof(why), "cannot stat: %s", strerror(errno));
		goto out;
	}
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, N_DBI)) ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0600))) {
		snprintf(why, sizeof(why), "not an LMDB file LMDB can open (%s)", mdb_strerror(rc));
		goto out;
	}
	MDB_envinfo info;
	MDB_stat est;
	mdb_env_info(env, &info);
	mdb_env_stat(env, &est);
	if ((uint64_t)(info.me_last_pgno + 1) * est.ms_psize > (uint64_t)sb.st_size) {
		snprintf(why, sizeof(why), "truncated: %lld octets, its pages reach %llu", (long long)sb.st_size,
			 (unsigned long long)(info.me_last_pgno + 1) * est.ms_psize);
		goto out;
	}
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) {
		snprintf(why, sizeof(why), "cannot read (%s)", mdb_strerror(rc));
		goto out;
	}
	/* The free list and the main database (the names) are walked too: the writer reads
	 * the one and rewrites the other. */
	MDB_dbi main_dbi;
	MDB_stat ms;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) || (rc = mdb_stat(txn, main_dbi, &ms))) {
		snprintf(why, sizeof(why), "cannot read its main database (%s)", mdb_strerror(rc));
		goto out;
	}
	if (ms.ms_entries == 0) {
		/* An environment never written by cgnatd (mdb_env_open alone makes one). */
		res = CHECK_EMPTY;
		goto out;
	}
	MDB_dbi walk[2] = { 0, main_dbi };
	for (int i = 0; i < 2; i++) {
		MDB_cursor *c;
		MDB_val k, v;
		if ((rc = mdb_cursor_open(txn, walk[i], &c))) {
			snprintf(why, sizeof(why), "cannot read its %s (%s)", i ? "main database" : "free list",
				 mdb_strerror(rc));
			goto out;
		}
		for (int op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, (MDB_cursor_op)op)) == 0; op = MDB_NEXT)
			if (i == 0 && (v.mv_size < sizeof(size_t) || v.mv_size % sizeof(size_t))) {
				rc = MDB_CORRUPTED;
				break;
			}
		mdb_cursor_close(c);
		if (rc != MDB_NOTFOUND) {
			snprintf(why, sizeof(why), "cannot read its %s (%s)", i ? "main database" : "free list",
				 mdb_strerror(rc));
			goto out;
		}
	}
	MDB_dbi dbi[N_DBI];
	for (int i = 0; i < N_DBI; i++) {
		rc = mdb_dbi_open(txn, dbi_names[i], 0, &dbi[i]);
		if (rc) {
			snprintf(why, sizeof(why), "database \"%s\" missing (%s)", dbi_names[i], mdb_strerror(rc));
			goto out;
		}
	}
	static const enum cgn_state_kind kinds[N_DBI] = { CGN_STATE_META, CGN_STATE_MAPPING, CGN_STATE_PEER };
	bool meta_seen = false;
	for (int i = 0; i < N_DBI; i++) {
		MDB_cursor *c;
		MDB_val k, v;
		if ((rc = mdb_cursor_open(txn, dbi[i], &c))) {
			snprintf(why, sizeof(why), "cannot read \"%s\" (%s)", dbi_names[i], mdb_strerror(rc));
			goto out;
		}
		unsigned long n = 0;
		while ((rc = mdb_cursor_get(c, &k, &v, n++ ? MDB_NEXT : MDB_FIRST)) == 0) {
			int cr = cgn_state_record_check(kinds[i], k.mv_data, k.mv_size, v.mv_data, v.mv_size);
			if (cr == -EPROTO) {
				snprintf(why, sizeof(why), "record format %u, not %u",
					 v.mv_size >= 2 ? ((const uint8_t *)v.mv_data)[1] : 0, CGN_STATE_FORMAT);
				res = CHECK_FORMAT;
				goto out;
			}
			if (cr != 0) {
				snprintf(why, sizeof(why), "record %lu of \"%s\" does not decode", n, dbi_names[i]);
				goto out;
			}
			meta_seen |= i == DBI_META;
		}
		mdb_cursor_close(c);
		if (rc != MDB_NOTFOUND) {
			snprintf(why, sizeof(why), "cannot read \"%s\" (%s)", dbi_names[i], mdb_strerror(rc));
			goto out;
		}
	}
	if (!meta_seen) {
		snprintf(why, sizeof(why), "no meta record");
		goto out;
	}
	res = CHECK_OK;
out:
	if (write(fd, why, strlen(why)) < 0) {
		/* the parent reads "" and says so */
	}
	if (txn)
		mdb_txn_abort(txn);
	if (env)
		mdb_env_close(env);
	return res;
}

/* @return CHECK_* for the file in dir, with the reason in why; a crash of the child is
 * CHECK_CORRUPT (LMDB read a page outside the file, or garbage as pointers). */
static int
check_file(const char *dir, uint32_t timeout_ms, char *why, size_t why_len)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(why, why_len, "pipe: %s", strerror(errno));
		return -errno;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, why_len, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -EAGAIN;
	}
	if (pid == 0) {
		close(fds[0]);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		_exit(check_child(dir, fds[1]));
	}
	close(fds[1]);
	size_t got = 0;
	int status = 0, res = -1;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		int pr = poll(&pfd, 1, 100);
		if (pr > 0 && got + 1 < why_len) {
			ssize_t n = read(fds[0], why + got, why_len - 1 - got);
			if (n > 0)
				got += (size_t)n;
		}
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000 + (uint64_t)((t.tv_nsec - t0.tv_nsec) / 1000000) > timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			got = (size_t)snprintf(why, why_len, "its check took more than %u ms (a loop in its pages?)",
					       timeout_ms);
			res = CHECK_CORRUPT;
			break;
		}
	}
	for (ssize_t n; got + 1 < why_len && (n = read(fds[0], why + got, why_len - 1 - got)) > 0;)
		got += (size_t)n;
	why[got < why_len ? got : why_len - 1] = '\0';
	close(fds[0]);
	if (res >= 0)
		return res;
	if (WIFSIGNALED(status)) {
		snprintf(why, why_len, "reading it crashed the checker (%s): pages outside the file or garbage",
			 strsignal(WTERMSIG(status)));
		return CHECK_CORRUPT;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : CHECK_CORRUPT;
}

/* ---- open / close ---------------------------------------------------------------------------- */

static void *
sync_main(void *arg)
{
	struct cgn_state *st = arg;
	for (;;) {
		struct pollfd pfd = { st->sync_pipe[0], POLLIN, 0 };
		int pr = poll(&pfd, 1, (int)st->sync_interval_ms);
		if (pr != 0) /* closed (or an error): stop */
			return NULL;
		/* Between two commits or during one alike: fdatasync of what write(2) gave the
		 * kernel; LMDB's meta pages last, so a crash sees the previous or this one. */
		if (mdb_env_sync(st->env, 1) != 0)
			__atomic_fetch_add(&st->stats.commit_failed, 1, __ATOMIC_RELAXED);
	}
}

/* Pages a commit may need beyond its changes' own: the free list's records, the main
 * database's root, the meta; generous. */
#define COMMIT_RESERVE_PAGES 64

static int
txn_open(struct cgn_state *st)
{
	if (st->txn)
		return 0;
	int rc = mdb_txn_begin(st->env, NULL, 0, &st->txn);
	if (rc) {
		st->txn = NULL;
		return lmdb_errno(rc);
	}
	/* Pages in use: every tree's (the free list's own, the names', ours) and the two meta
	 * pages; the rest of the map is free (the free list's pages are reused: no reader ever
	 * holds an old snapshot for long here). O(1): the trees' headers. */
	MDB_envinfo info;
	MDB_stat es, s;
	mdb_env_info(st->env, &info);
	mdb_env_stat(st->env, &es);
	unsigned depth = 1;
	uint64_t used = 2;
	MDB_dbi all[N_DBI + 2] = { 0, 1, st->dbi[0], st->dbi[1], st->dbi[2] };
	for (int i = 0; i < N_DBI + 2; i++)
		if (mdb_stat(st->txn, all[i], &s) == 0) {
			used += s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages;
			if (i >= 2 && s.ms_depth > depth)
				depth = s.ms_depth;
		}
	/* A put copies its path (depth pages) and may split each level and the root. */
	st->page_cost = 2 * (depth + 1) + 1;
	st->room = (int64_t)(info.me_mapsize / es.ms_psize) - (int64_t)used - COMMIT_RESERVE_PAGES;
	memset(st->appended, 0, sizeof(st->appended));
	return 0;
}

static int
read_meta(struct cgn_state *st, struct cgn_state_meta *m, bool *have)
{
	MDB_txn *txn;
	MDB_val k = { 4, (void *)"meta" }, v;
	*have = false;
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_errno(rc);
	rc = mdb_get(txn, st->dbi[DBI_META], &k, &v);
	if (rc == 0) {
		*have = cgn_state_meta_decode(v.mv_data, v.mv_size, m) == 0;
	}
	/* The next id: above every stored one. */
	for (int i = DBI_MAP; i <= DBI_PEER; i++) {
		MDB_cursor *c;
		if (mdb_cursor_open(txn, st->dbi[i], &c) == 0) {
			if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == CGN_STATE_KEY_LEN) {
				uint64_t id = cgn_state_key_id(k.mv_data);
				st->last_id[i] = id;
				if (id >= st->next_id)
					st->next_id = id + 1;
			}
			mdb_cursor_close(c);
		}
	}
	mdb_txn_abort(txn);
	return 0;
}

static int
open_env(struct cgn_state *st, const struct cgn_state_params *p, char *err, size_t err_len)
{
	int rc;
	unsigned flags = p->sync_commit ? 0 : MDB_NOSYNC;
	if ((rc = mdb_env_create(&st->env)) || (rc = mdb_env_set_maxdbs(st->env, N_DBI)) ||
	    (rc = mdb_env_set_mapsize(st->env, p->map_size)) || (rc = mdb_env_open(st->env, p->dir, flags | MDB_NOTLS, 0600))) {
		snprintf(err, err_len, "state store %s: cannot open: %s", p->dir, mdb_strerror(rc));
		return lmdb_errno(rc) ? lmdb_errno(rc) : -EIO;
	}
	MDB_txn *txn;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn))) {
		snprintf(err, err_len, "state store %s: %s", p->dir, mdb_strerror(rc));
		return lmdb_errno(rc);
	}
	for (int i = 0; i < N_DBI; i++)
		if ((rc = mdb_dbi_open(txn, dbi_names[i], MDB_CREATE, &st->dbi[i]))) {
			mdb_txn_abort(txn);
			snprintf(err, err_len, "state store %s: database %s: %s", p->dir, dbi_names[i], mdb_strerror(rc));
			return lmdb_errno(rc);
		}
	if ((rc = mdb_txn_commit(txn))) {
		snprintf(err, err_len, "state store %s: %s", p->dir, mdb_strerror(rc));
		return lmdb_errno(rc);
	}
	/* Every page the map may use, reserved on disk now: a commit never meets ENOSPC (on a
	 * file system that allocates on write; copy-on-write ones cannot promise it). */
	int fd;
	if (mdb_env_get_fd(st->env, &fd) == 0) {
		struct stat sb;
		if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size < p->map_size) {
			rc = posix_fallocate(fd, 0, (off_t)p->map_size);
			if (rc == ENOSPC) {
				snprintf(err, err_len, "state store %s: the disk cannot hold state.size_mb (%llu MiB)",
					 p->dir, (unsigned long long)(p->map_size >> 20));
				return -ENOSPC;
			}
		}
	}
	return 0;
}

int
cgn_state_open(const struct cgn_state_params *p, uint64_t now_rt, struct cgn_state **out,
	       enum cgn_state_found *found, struct cgn_state_meta *meta, char *err, size_t err_len)
{
	char path[4200], why[512] = "";
	int rc;
	err[0] = '\0';
	*out = NULL;
	if (strlen(p->dir) >= sizeof(((struct cgn_state *)0)->dir)) {
		snprintf(err, err_len, "state store %s: path too long", p->dir);
		return -ENAMETOOLONG;
	}
	if (mkdir(p->dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, err_len, "state store %s: cannot make the directory: %s", p->dir, strerror(errno));
		return rc;
	}
	struct cgn_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->sync_pipe[0] = st->sync_pipe[1] = -1;
	st->next_id = 1;
	st->sync_commit = p->sync_commit;
	st->sync_interval_ms = p->sync_interval_ms ? p->sync_interval_ms : 1000;
	snprintf(st->dir, sizeof(st->dir), "%s", p->dir);
	st->dir_fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dir_fd < 0 || flock(st->dir_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, err_len, "state store %s: %s", p->dir,
			 rc == -EBUSY ? "another process (a cgnatd?) uses it" : strerror(-rc));
		goto fail;
	}

	*found = CGN_STATE_NEW;
	snprintf(path, sizeof(path), "%s/data.mdb", p->dir);
	struct stat sb;
	bool exists = stat(path, &sb) == 0;
	int checked = exists ? check_file(p->dir, p->check_timeout_ms ? p->check_timeout_ms : 60000, why, sizeof(why))
			     : CHECK_EMPTY;
	if (checked < 0) {
		rc = checked;
		snprintf(err, err_len, "state store %s: cannot check it: %s", path, why);
		goto fail;
	}
	if (checked == CHECK_CORRUPT || checked == CHECK_FORMAT) {
		if (p->refuse_corrupt) {
			snprintf(err, err_len, "state store %s: %s; refusing to start (state.on_corrupt = \"refuse\": "
					       "move the file away to start empty)", path, why);
			rc = -EUCLEAN;
			goto fail;
		}
		char aside[4300], lock[4200];
		snprintf(aside, sizeof(aside), "%s.bad-%llu", path, (unsigned long long)(now_rt / 1000));
		snprintf(lock, sizeof(lock), "%s/lock.mdb", p->dir);
		if (rename(path, aside) != 0) {
			rc = -errno;
			snprintf(err, err_len, "state store %s: %s; cannot move it aside: %s", path, why, strerror(errno));
			goto fail;
		}
		unlink(lock);
		/* A notice, not an error: the caller logs it. */
		snprintf(err, err_len, "state store %s: %s: moved to %s; starting empty, epoch reset", path, why, aside);
	} else if (checked == CHECK_EMPTY && exists) {
		snprintf(err, err_len, "state store %s: holds no cgnatd state; starting empty, epoch reset", path);
	}

	char oerr[512];
	if ((rc = open_env(st, p, oerr, sizeof(oerr))) != 0) {
		snprintf(err, err_len, "%s", oerr);
		goto fail;
	}
	bool have = false;
	if ((rc = read_meta(st, &st->meta, &have)) != 0) {
		snprintf(err, err_len, "state store %s: cannot read: %s", path, strerror(-rc));
		goto fail;
	}
	if (have && st->meta.pool_fingerprint == p->pool_fingerprint)
		*found = CGN_STATE_SURVIVED;
	else if (have)
		*found = CGN_STATE_OTHER_POOL;
	if (!have) {
		/* Records without a meta cannot be (the check refused them); a new store. */
		st->meta = (struct cgn_state_meta){ CGN_STATE_FORMAT, now_rt, now_rt, p->pool_fingerprint };
		if ((rc = cgn_state_set_meta(st, &st->meta)) != 0 || (rc = cgn_state_flush(st)) != 0) {
			snprintf(err, err_len, "state store %s: cannot write: %s", path, strerror(-rc));
			goto fail;
		}
	}
	*meta = st->meta;

	if (!p->sync_commit) {
		if (pipe2(st->sync_pipe, O_CLOEXEC) != 0 || pthread_create(&st->sync_thread, NULL, sync_main, st) != 0) {
			rc = -EAGAIN;
			snprintf(err, err_len, "state store %s: cannot start its sync thread", path);
			goto fail;
		}
		pthread_setname_np(st->sync_thread, "cgn-state-sync");
		st->sync_running = true;
	}
	*out = st;
	return 0;
fail:
	if (st->env)
		mdb_env_close(st->env);
	if (st->dir_fd >= 0)
		close(st->dir_fd);
	for (int i = 0; i < 2; i++)
		if (st->sync_pipe[i] >= 0)
			close(st->sync_pipe[i]);
	free(st);
	return rc;
}

void
cgn_state_close(struct cgn_state *st)
{
	if (st == NULL)
		return;
	cgn_state_flush(st);
	if (st->sync_running) {
		close(st->sync_pipe[1]);
		st->sync_pipe[1] = -1;
		pthread_join(st->sync_thread, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (st->sync_pipe[i] >= 0)
			close(st->sync_pipe[i]);
	mdb_env_sync(st->env, 1);
	mdb_env_close(st->env);
	close(st->dir_fd);
	free(st->log);
	free(st);
}

/* ---- the batch ------------------------------------------------------------------------------- */

static int
log_append(struct cgn_state *st, int del, int dbi, uint64_t id, const void *val, size_t len)
{
	size_t need = sizeof(struct log_ent) + len;
	if (st->log_len + need > st->log_cap) {
		size_t cap = st->log_cap ? st->log_cap * 2 : 65536;
		while (cap < st->log_len + need)
			cap *= 2;
		uint8_t *n = realloc(st->log, cap);
		if (n == NULL)
			return -ENOMEM;
		st->log = n;
		st->log_cap = cap;
	}
	struct log_ent e = { del, (uint8_t)dbi, (uint16_t)len, id };
	memcpy(st->log + st->log_len, &e, sizeof(e));
	if (len)
		memcpy(st->log + st->log_len + sizeof(e), val, len);
	st->log_len += need;
	return 0;
}

static int
apply(struct cgn_state *st, int del, int dbi, uint64_t id, const void *val, size_t len)
{
	uint8_t key[CGN_STATE_KEY_LEN];
	MDB_val k = { CGN_STATE_KEY_LEN, key }, v = { len, (void *)val };
	if (dbi == DBI_META) {
		k.mv_size = 4;
		k.mv_data = (void *)"meta";
	} else {
		cgn_state_key(id, key);
	}
	if (del == OP_DEL) {
		int rc = mdb_del(st->txn, st->dbi[dbi], &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	/* A new record's id is above every stored one: it goes at the end, no search. */
	return mdb_put(st->txn, st->dbi[dbi], &k, &v, del == OP_APPEND ? MDB_APPEND : 0);
}

/* The transaction failed (LMDB made it unusable): a new one with the log's changes up to
 * keep octets, the rest of the log dropped. @return 0 or an LMDB error. */
static int
replay(struct cgn_state *st, size_t keep)
{
	st->stats.replays++;
	if (st->txn)
		mdb_txn_abort(st->txn);
	st->txn = NULL;
	st->log_len = keep;
	int rc = mdb_txn_begin(st->env, NULL, 0, &st->txn);
	if (rc) {
		st->txn = NULL;
		return rc;
	}
	for (size_t off = 0; off < keep;) {
		struct log_ent e;
		memcpy(&e, st->log + off, sizeof(e));
		rc = apply(st, e.del, e.dbi, e.id, st->log + off + sizeof(e), e.len);
		if (rc)
			return rc;
		off += sizeof(e) + e.len;
	}
	return 0;
}

/* One change: applied, then logged; on failure the batch is as before it. */
static int
change(struct cgn_state *st, int del, int dbi, uint64_t id, const void *val, size_t len)
{
	if (len > UINT16_MAX)
		return -EINVAL;
	int rc = txn_open(st);
	if (rc)
		return rc;
	/* A delete splits nothing, and what it copies it mostly gives back: it may draw on the
	 * commit's reserve (a full store must still let clients delete); LMDB's own limit still
	 * holds (a delete it cannot take fails as any change). */
	/* An append after the batch's first to that tree: its path is already the batch's; it
	 * may fill the last leaf (a new one) and, rarely, a branch. */
	int64_t cost = del == OP_DEL ? 0 : del == OP_APPEND && st->appended[dbi] ? 2 : (int64_t)st->page_cost;
	if (st->room < cost || st->room < 0) { /* the batch's commit needs what is left */
		st->stats.map_full++;
		return -ENOSPC;
	}
	st->room -= cost;
	rc = apply(st, del, dbi, id, val, len);
	if (rc == 0)
		rc = lmdb_errno(log_append(st, del, dbi, id, val, len) ? ENOMEM : 0);
	else
		rc = lmdb_errno(rc);
	if (rc == 0) {
		if (del == OP_APPEND)
			st->appended[dbi] = true;
		if (del == OP_DEL)
			st->stats.dels++;
		else
			st->stats.puts++;
		return 0;
	}
	if (rc == -ENOSPC)
		st->stats.map_full++;
	int rr = replay(st, st->log_len);
	if (rr) { /* cannot happen: the same changes fitted a moment ago */
		if (st->txn)
			mdb_txn_abort(st->txn);
		st->txn = NULL;
		st->stats.commit_failed++;
		st->log_len = 0;
	}
	return rc;
}

int
cgn_state_set_meta(struct cgn_state *st, const struct cgn_state_meta *m)
{
	uint8_t buf[64];
	int n = cgn_state_meta_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	int rc = change(st, OP_PUT, DBI_META, 0, buf, (size_t)n);
	if (rc == 0) {
		st->meta = *m;
		st->meta_saved_rt = m->saved_rt;
	}
	return rc;
}

uint64_t
cgn_state_new_id(struct cgn_state *st)
{
	return st->next_id++;
}

int
cgn_state_put(struct cgn_state *st, enum cgn_state_kind kind, uint64_t id, const void *val, size_t len)
{
	if ((kind != CGN_STATE_MAPPING && kind != CGN_STATE_PEER) || id == 0)
		return -EINVAL;
	/* ids only grow: the largest one written is the tree's last key */
	int dbi = kind == CGN_STATE_MAPPING ? DBI_MAP : DBI_PEER;
	bool last = id > st->last_id[dbi];
	int rc = change(st, last ? OP_APPEND : OP_PUT, dbi, id, val, len);
	if (rc == 0 && last)
		st->last_id[dbi] = id;
	return rc;
}

int
cgn_state_del(struct cgn_state *st, enum cgn_state_kind kind, uint64_t id)
{
	if ((kind != CGN_STATE_MAPPING && kind != CGN_STATE_PEER) || id == 0)
		return -EINVAL;
	return change(st, OP_DEL, kind == CGN_STATE_MAPPING ? DBI_MAP : DBI_PEER, id, NULL, 0);
}

size_t
cgn_state_mark(const struct cgn_state *st)
{
	return st->log_len;
}

void
cgn_state_rollback(struct cgn_state *st, size_t mark)
{
	if (st->log_len <= mark)
		return;
	if (replay(st, mark) != 0) {
		if (st->txn)
			mdb_txn_abort(st->txn);
		st->txn = NULL;
		st->log_len = 0;
		st->stats.commit_failed++;
	}
}

int
cgn_state_flush(struct cgn_state *st)
{
	if (st->txn == NULL)
		return 0;
	/* The meta's saved_rt, at most once a second: the epoch a restart finds is never less
	 * than the one clients saw up to then, even if the clock is set back meanwhile. */
	uint64_t now = realtime_ms();
	if (now >= st->meta_saved_rt + 1000) {
		struct cgn_state_meta m = st->meta;
		m.saved_rt = now;
		cgn_state_set_meta(st, &m); /* a full map: next time */
	}
	int rc = mdb_txn_commit(st->txn);
	st->txn = NULL;
	if (rc != 0 && replay(st, st->log_len) == 0) { /* once more, the same changes */
		rc = mdb_txn_commit(st->txn);
		st->txn = NULL;
	}
	st->log_len = 0;
	if (rc != 0) {
		st->stats.commit_failed++;
		return lmdb_errno(rc);
	}
	st->stats.commits++;
	return 0;
}

long
cgn_state_foreach(struct cgn_state *st, enum cgn_state_kind kind,
		  void (*fn)(uint64_t id, const uint8_t *val, size_t len, void *arg), void *arg)
{
	int dbi = kind == CGN_STATE_MAPPING ? DBI_MAP : kind == CGN_STATE_PEER ? DBI_PEER : -1;
	if (dbi < 0)
		return -EINVAL;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_errno(rc);
	if ((rc = mdb_cursor_open(txn, st->dbi[dbi], &c))) {
		mdb_txn_abort(txn);
		return lmdb_errno(rc);
	}
	long n = 0;
	while ((rc = mdb_cursor_get(c, &k, &v, n ? MDB_NEXT : MDB_FIRST)) == 0) {
		n++;
		if (k.mv_size == CGN_STATE_KEY_LEN)
			fn(cgn_state_key_id(k.mv_data), v.mv_data, v.mv_size, arg);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? n : lmdb_errno(rc);
}

const struct cgn_state_stats *
cgn_state_stats(const struct cgn_state *st)
{
	return &st->stats;
}

long
cgn_state_count(struct cgn_state *st, enum cgn_state_kind kind)
{
	int dbi = kind == CGN_STATE_MAPPING ? DBI_MAP : kind == CGN_STATE_PEER ? DBI_PEER : DBI_META;
	MDB_txn *txn;
	MDB_stat s;
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_errno(rc);
	rc = mdb_stat(txn, st->dbi[dbi], &s);
	mdb_txn_abort(txn);
	return rc ? lmdb_errno(rc) : (long)s.ms_entries;
}
