/*
 * cgnatd: the CGN process. Start-up and shutdown only; the work is in the modules it wires:
 *
 *   main lcore   = control thread: control_loop (PCP sockets, timers, signals) → pcp_server
 *                  → cgn_dataplane_push() → one rte_ring per worker
 *   worker lcores = cgn_worker_main(): rings → shared table (dataplane/cgn_table.c)
 *   telemetry    = DPDK's telemetry threads → /cgnat/ commands (telemetry.c)
 *   logger       = a control thread: the lcores' event rings → IPFIX/syslog sinks (logger.c),
 *                  only when logging has a destination
 *   metrics      = libmicrohttpd's thread → GET /metrics (metrics.c), when configured
 *
 * Usage: cgnatd [EAL options] -- -c FILE. Without EAL options it runs on the config's eal
 * group (by default two lcores, no hugepages, no PCI), so it needs no NIC and no set-up.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "cgn_config.h"
#include "cgn_dataplane.h"
#include "cgn_events.h"
#include "control_loop.h"
#include "logger.h"
#include "metrics.h"
#include "pcp_server.h"
#include "telemetry.h"

#define MAX_EAL_ARGS 64

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: cgnatd [EAL options] -- -c FILE\n"
		"       cgnatd -c FILE\n"
		"\n"
		"  -c, --config FILE   configuration file (see docs/configuration.md)\n"
		"  -t, --check         load and check the configuration, then exit\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          this text\n"
		"\n"
		"Without EAL options cgnatd uses the config's eal group: lcores, no_huge, memory_mb,\n"
		"file_prefix (which also names the telemetry socket that cgnatctl reads).\n");
}

struct options {
	const char *config;
	bool check_only;
};

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },      { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->check_only = true;
			break;
		case 'V':
			printf("cgnatd %s\n", CGN_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cgnatd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (o->config == NULL) {
		fprintf(stderr, "cgnatd: a configuration file is required: -c FILE\n");
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static bool
has_arg(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], name, n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '='))
			return true;
	return false;
}

/* The EAL argument vector: the user's, or one built from the config's eal group. */
static int
build_eal_args(int argc, char **argv, const struct cgn_config *cfg, char **out, char *mem_buf,
	       size_t mem_len)
{
	int n = 0;
	out[n++] = argv[0];
	if (argc > 1) {
		for (int i = 1; i < argc && n < MAX_EAL_ARGS - 3; i++)
			out[n++] = argv[i];
		if (!has_arg(argc, argv, "--file-prefix")) {
			out[n++] = (char *)"--file-prefix";
			out[n++] = (char *)cfg->eal.file_prefix;
		}
		return n;
	}
	out[n++] = (char *)"-l";
	out[n++] = (char *)cfg->eal.lcores;
	out[n++] = (char *)"--file-prefix";
	out[n++] = (char *)cfg->eal.file_prefix;
	out[n++] = (char *)"--no-pci";
	out[n++] = (char *)"--no-shconf"; /* one process: no shared config files to leave behind */
	if (cfg->eal.no_huge) {
		snprintf(mem_buf, mem_len, "%u", cfg->eal.memory_mb);
		out[n++] = (char *)"--no-huge";
		out[n++] = (char *)"-m";
		out[n++] = mem_buf;
	}
	out[n++] = (char *)"--log-level=lib.eal:warning";
	return n;
}

/* EAL leaves its runtime directory behind, and telemetry unlinks its socket there from an
 * atexit handler. Registered before rte_eal_init(), this runs after that one: the directory is
 * removed when nothing else is left in it. */
static char runtime_dir[PATH_MAX];

static void
remove_runtime_dir(void)
{
	if (runtime_dir[0])
		rmdir(runtime_dir);
}

/* What the PCP server's callbacks reach. */
struct app {
	struct cgn_dataplane *dp;
	struct control_loop *loop;
	struct pcp_server *srv;
	const char *config_path;
	struct cgn_config *cfg; /* the running configuration, which the data plane reads */
	uint64_t paused_ms; /* when the workers were paused for a pool change */
	struct cgn_logger *logger; /* NULL: logging off */
};

/* SIGHUP: read the file again and apply what can change while running. */
static void
reload(void *ctx)
{
	struct app *app = ctx;
	static struct cgn_config next;
	char err[512];
	if (cgn_config_load_file(app->config_path, &next, err, sizeof(err)) < 0) {
		fprintf(stderr, "cgnatd: SIGHUP: %s; the running configuration stays\n", err);
		return;
	}
	cgn_telemetry_suspend("reloading"); /* a pool change replaces the allocator it reads */
	cgn_logger_pool_hold(app->logger);   /* ... and the logger's threshold check too */
	int rc = pcp_server_reload(app->srv, &next, cgn_clock_ms(), err, sizeof(err));
	cgn_logger_pool_release(app->logger);
	cgn_telemetry_resume();
	if (rc < 0) {
		fprintf(stderr, "cgnatd: SIGHUP: %s\n", err);
		return;
	}
	printf("cgnatd: SIGHUP: %s reloaded\n", app->config_path);
	fflush(stdout);
}

static int
push_to_dataplane(void *ctx, struct cgn_ring_msg *msg)
{
	return cgn_dataplane_push(((struct app *)ctx)->dp, msg);
}

/* What the control thread reads of a shared-table entry, copied as an RCU reader, briefly. */
struct dp_view {
	bool found;
	uint16_t flags;
	uint32_t ext_addr;
	uint16_t ext_port;
	uint8_t tcp_state;
	uint8_t pref64;
	uint64_t last_out_ms, closed_ms;
	uint32_t closed_peer;
	uint16_t closed_port;
};

static struct dp_view
view_of(void *ctx, const struct cgn_key *in)
{
	struct cgn_dataplane *dp = ((struct app *)ctx)->dp;
	struct dp_view v = { 0 };
	unsigned reader = CGN_READER_CONTROL(dp);
	cgn_table_reader_online(dp->table, reader);
	const struct cgn_mapping *m = cgn_table_lookup(dp->table, in);
	if (m) {
		/* First, with acquire: the closed end read after it is the one stored before it
		 * (dataplane/pipeline.c record_close). Initialisers have no order of their own. */
		uint64_t closed_ms = __atomic_load_n(&m->closed_ms, __ATOMIC_ACQUIRE);
		v = (struct dp_view){ .found = true, .flags = m->flags, .ext_addr = m->ext_addr, .ext_port = m->ext_port,
				      .tcp_state = __atomic_load_n(&m->tcp_state, __ATOMIC_RELAXED),
				      .pref64 = m->pref64,
				      .last_out_ms = __atomic_load_n(&m->last_out_ms, __ATOMIC_RELAXED),
				      .closed_ms = closed_ms,
				      .closed_peer = __atomic_load_n(&m->closed_peer, __ATOMIC_RELAXED),
				      .closed_port = __atomic_load_n(&m->closed_port, __ATOMIC_RELAXED) };
	}
	cgn_table_reader_offline(dp->table, reader);
	return v;
}

static uint64_t
last_outbound(void *ctx, const struct cgn_key *in, bool *closed)
{
	struct dp_view v = view_of(ctx, in);
	*closed = v.tcp_state == CGN_TCP_CLOSING && v.closed_ms != 0;
	return v.last_out_ms;
}

static uint64_t
session_closed_at(void *ctx, const struct cgn_key *in, struct cgn_addr *peer, uint16_t *peer_port)
{
	struct dp_view v = view_of(ctx, in);
	/* An inbound mapping's TCP state stays untouched (§15): the workers record the close on
	 * it for the PEER sessions joined to it only (dataplane/pipeline.c track_tcp). */
	if (v.closed_ms == 0 || (!(v.flags & CGN_MAP_INBOUND) && v.tcp_state != CGN_TCP_CLOSING))
		return 0;
	*peer = cgn_addr_from_v4(v.closed_peer);
	*peer_port = v.closed_port;
	return v.closed_ms;
}

static int
repool_begin(void *ctx)
{
	((struct app *)ctx)->paused_ms = cgn_clock_ms();
	return cgn_dataplane_pause(((struct app *)ctx)->dp);
}

static void
repool_move(void *ctx, const struct cgn_pb *old_pb, const struct cgn_config *cfg)
{
	struct cgn_repool_stats st;
	cgn_dataplane_repool(((struct app *)ctx)->dp, old_pb, cfg, &st);
	fprintf(stderr, "cgnatd: new pool in the data plane: %u implicit sessions kept, %u removed; %u held ports "
			"kept, %u dropped\n", st.kept, st.removed, st.holds_kept, st.holds_dropped);
}

static void
repool_end(void *ctx)
{
	struct app *app = ctx;
	cgn_dataplane_resume(app->dp);
	fprintf(stderr, "cgnatd: pool change: workers paused %" PRIu64 " ms\n", cgn_clock_ms() - app->paused_ms);
}

/* A reload's data-plane settings: the workers pause while the routes are rebuilt and the
 * settings they read (app->cfg) change, so no packet sees half of it. */
static int
reconfigure(void *ctx, const struct cgn_config *next, bool check_only, char *err, size_t err_len)
{
	struct app *app = ctx;
	if (check_only)
		return cgn_dataplane_reroute(app->dp, next, true, err, err_len);
	uint64_t t0 = cgn_clock_ms();
	int rc = cgn_dataplane_pause(app->dp);
	if (rc != 0) {
		snprintf(err, err_len, "the workers did not pause for the new routes and timeouts; nothing was changed");
		return rc;
	}
	rc = cgn_dataplane_reroute(app->dp, next, false, err, err_len);
	/* (dp->cfg is app->cfg: the workers read the new timeouts and hold time from it.) */
	bool new_prefixes = rc == 0 && cgn_config_nat64_prefixes_differ(app->cfg, next);
	uint8_t map[CGN_MAX_NAT64_PREFIXES];
	cgn_nat64_remap(&app->cfg->nat64, &next->nat64, map);
	if (rc == 0)
		cgn_config_take_live(app->cfg, next);
	if (new_prefixes) { /* the Pref64s the workers match, and each NAT64 mapping's index */
		cgn_dataplane_set_nat64(app->dp, app->cfg);
		uint32_t n = cgn_dataplane_renat64(app->dp, map);
		fprintf(stderr, "cgnatd: new nat64.prefixes in the data plane: %u mappings renumbered\n", n);
	}
	cgn_dataplane_resume(app->dp);
	if (rc == 0)
		fprintf(stderr, "cgnatd: new routes, neighbours, timeouts and hold time in the data plane: "
				"workers paused %" PRIu64 " ms\n", cgn_clock_ms() - t0);
	return rc;
}

static bool
find_implicit(void *ctx, const struct cgn_key *in, uint32_t *ext_addr, uint16_t *ext_port, uint8_t *pref64)
{
	struct dp_view v = view_of(ctx, in);
	if (!v.found || !(v.flags & CGN_MAP_IMPLICIT))
		return false;
	*ext_addr = v.ext_addr;
	*ext_port = v.ext_port;
	*pref64 = v.pref64;
	return true;
}

/* Unsolicited messages (§14), either family: multicast (224.0.0.1, ff02::1) out of every
 * inside DPDK port of that family and by the kernel socket; unicast to a client inside
 * (pcp.inside) out of the inside port when one can reach it, else by the kernel socket. */
static bool
inside_client(const struct app *app, const struct cgn_addr *a)
{
	const struct cgn_config *cfg = pcp_server_config(app->srv);
	return cgn_prefix_list_contains(cfg->pcp.inside, cfg->pcp.n_inside, a);
}

static int
send_unsolicited(void *ctx, const struct cgn_addr *dst, uint16_t port, const uint8_t *msg, size_t len)
{
	struct app *app = ctx;
	unsigned on_ports = 0;
	bool v4 = cgn_addr_is_v4(dst);
	if (app->dp && cgn_addr_is_multicast(dst))
		on_ports = v4 ? cgn_punt_multicast(app->dp, cgn_addr_v4(dst), port, msg, len)
			      : cgn_punt_multicast6(app->dp, dst, port, msg, len);
	else if (app->dp && inside_client(app, dst) &&
		 (v4 ? cgn_punt_unicast(app->dp, cgn_addr_v4(dst), port, msg, len)
		     : cgn_punt_unicast6(app->dp, dst, port, msg, len)) == 0)
		return 0;
	int rc = control_loop_send(app->loop, dst, port, msg, len);
	return on_ports ? 0 : rc;
}

/* The logger's threshold check: the port blocks of the PCP server's allocator (the pool
 * change that replaces it holds the logger off: reload()). Logger thread. */
static bool
pool_use(void *ctx, uint64_t *used, uint64_t *total)
{
	const struct cgn_pb *pb = pcp_server_pb(((struct app *)ctx)->srv);
	*used = cgn_pb_blocks_used(pb);
	*total = cgn_pb_blocks_total(pb);
	return true;
}

/* Waits, up to CGN_END_WAIT_MS in all, until the main lcore's event ring has room for half
 * its size: at shutdown nothing forbids waiting for the logger, and the ends of a whole table
 * of sessions or of a pool's blocks can exceed a ring. *waited: ms spent so far. Main lcore. */
#define CGN_END_WAIT_MS 10000
static void
end_room(uint64_t *waited)
{
	struct rte_ring *r = cgn_events_active->lcore[rte_lcore_id()].ring;
	cgn_events_flush();
	while (rte_ring_free_count(r) < rte_ring_get_capacity(r) / 2 && *waited < CGN_END_WAIT_MS) {
		usleep(1000);
		(*waited)++;
	}
}

/*
 * NAT logging at shutdown: the implicit sessions (logging.sessions), the explicit mappings
 * (unless the state store keeps them) and the port blocks this process held end with it, so
 * their ends are reported (NAT44/NAT64_SESSION_DELETE, BIB_DELETE, then PORT_BLOCK_FREE and
 * BINDING_DELETE): else the log keeps a block "allocated" to a subscriber
 * forever, while the next run gives it to another (RFC 6888 REQ-14: the log must answer "who
 * had this address and port"). A restart's restore claims, and reports, its blocks anew.
 * Main lcore, the workers stopped (nothing changes the table or the allocator), the logger
 * still running; before cgn_logger_stop().
 */
static void
report_ends(struct cgn_dataplane *dp, struct pcp_server *srv)
{
	if (!cgn_events_on() || srv == NULL)
		return;
	uint64_t waited = 0, now = cgn_clock_ms();
	const uint32_t half = rte_ring_get_capacity(cgn_events_active->lcore[rte_lcore_id()].ring) / 2;
	if (dp != NULL && cgn_events_sessions()) {
		uint32_t cursor = 0, n = 0;
		const struct cgn_mapping *m;
		while ((m = cgn_table_next(dp->table, &cursor)) != NULL) {
			if (!cgn_mapping_workers_own(m->flags))
				continue; /* explicit: a BIB entry, kept by the state store or not */
			struct cgn_event ev;
			cgn_event_session(&ev, m, false, now);
			cgn_event_emit(&ev);
			if (++n % half == 0) /* end_room() leaves half the ring free */
				end_room(&waited);
		}
	}
	end_room(&waited);
	/* Explicit mappings end with the process unless the state store keeps them for the next
	 * run (which restores them on their endpoints: no new creation is reported then). */
	if (pcp_server_config(srv)->state.path[0] == '\0') {
		uint32_t at = 0;
		while (pcp_server_log_ends(srv, &at, half, now))
			end_room(&waited);
		end_room(&waited);
	}
	/* The blocks, a slice of subscribers at a time (each at most max_blocks + 1 events: its
	 * blocks and its binding) that fits half the ring, the logger catching up between. */
	const struct cgn_pb *pb = pcp_server_pb(srv);
	uint32_t per_slice = half / (pb->p.max_blocks + 1u);
	uint32_t cursor = 0, before;
	do {
		before = cursor;
		cgn_pb_report_free_slice(pb, &cursor, per_slice ? per_slice : 1);
		end_room(&waited);
	} while (cursor != before);
	cgn_events_flush();
}

/* RFC 6887 §8.2 ignores PCP from the outside; a management port (pcp_management) lets the
 * third-party ACL's hosts in, and only them: an outside sender claiming a subscriber's
 * address must not be answered as that subscriber. */
static size_t
answer_punted(void *ctx, const uint8_t *msg, size_t len, const struct cgn_addr *src, uint16_t src_port,
	      bool outside, uint8_t *resp)
{
	struct app *app = ctx;
	const struct cgn_config *cfg = pcp_server_config(app->srv);
	if (outside && !cgn_prefix_list_contains(cfg->pcp.third_party, cfg->pcp.n_third_party, src)) {
		app->dp->punt_stats.outside_refused++;
		return 0;
	}
	return pcp_server_handle(app->srv, cgn_clock_ms(), msg, len, src, src_port, resp);
}

/* A burst of punted requests is handled: the state store commits what they changed before
 * any of their answers leaves (a group commit, as the control loop's for its sockets). */
static void
commit_punted(void *ctx)
{
	pcp_server_flush(((struct app *)ctx)->srv);
}

/* PCP that came in by a DPDK inside port: a burst or two per poll, the rest next time; and
 * the ARP requests next-hop resolution needs. */
static void
serve_punted(void *ctx)
{
	struct app *app = ctx;
	for (int i = 0; i < 4 && cgn_punt_serve_burst(app->dp, answer_punted, commit_punted, app) > 0; i++)
		;
	cgn_neighbours_tick(app->dp, cgn_clock_ms());
}

int
main(int argc, char **argv)
{
	static struct cgn_config cfg;
	struct options opts = { 0 };
	char err[512], mem_buf[16];
	char *eal_argv[MAX_EAL_ARGS];

	/* Split "EAL options -- our options"; with no "--", everything is ours. */
	int split = 0;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			split = i;
			break;
		}
	int eal_argc = split ? split : 1;
	char **our_argv = split ? argv + split : argv;
	int our_argc = split ? argc - split : argc;
	if (parse_options(our_argc, our_argv, &opts) < 0)
		return 2;

	if (cgn_config_load_file(opts.config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "cgnatd: %s\n", err);
		return 2;
	}
	if (opts.check_only) {
		printf("cgnatd: %s: configuration is valid\n", opts.config);
		return 0;
	}

	/* Every thread EAL starts inherits this mask; the control loop reads the signals. */
	sigset_t sigs;
	control_loop_signals(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	int n = build_eal_args(eal_argc, argv, &cfg, eal_argv, mem_buf, sizeof(mem_buf));
	atexit(remove_runtime_dir);
	if (rte_eal_init(n, eal_argv) < 0) {
		fprintf(stderr, "cgnatd: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		const char *dir = rte_eal_get_runtime_dir(); /* made before it failed; empty */
		if (dir && dir[0])
			rmdir(dir);
		return 1;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());

	int rc = 1;
	uint64_t start_ms = cgn_clock_ms();
	struct control_loop loop = { .epfd = -1, .timerfd = -1, .sigfd = -1 };
	struct pcp_server *srv = NULL;
	struct cgn_dataplane *dp = NULL;
	struct cgn_logger_params log_params = { .n_sinks = 0 };
	static struct app app;
	app.loop = &loop;
	app.cfg = &cfg;
	struct pcp_server_ops ops = { .push = push_to_dataplane, .last_out = last_outbound,
				      .session_closed_at = session_closed_at,
				      .find_implicit = find_implicit, .repool_begin = repool_begin,
				      .repool_move = repool_move, .repool_end = repool_end, .reconfigure = reconfigure,
				      .send = send_unsolicited,
				      .ctx = &app };
	srv = pcp_server_create(&cfg, &ops, start_ms);
	if (srv == NULL) {
		/* A state store that cannot be used (corrupt with state.on_corrupt = "refuse", or
		 * held by another process) has said why in the log already. */
		fprintf(stderr, "cgnatd: cannot create the PCP server: %s\n",
			errno == EUCLEAN ? "the state store is corrupt (see above)" : strerror(errno));
		goto out;
	}
	app.srv = srv;
	/* NAT logging (RFC 6888 REQ-12: only to a configured destination): the sinks, and a
	 * ring per lcore that reports; the port blocks report through the calling lcore's. */
	if (cgn_events_wanted(&cfg)) {
		if (cgn_logger_open_sinks(&cfg, &log_params, err, sizeof(err)) < 0) {
			fprintf(stderr, "cgnatd: %s\n", err);
			goto out;
		}
		if (cgn_events_init(&cfg) < 0) {
			fprintf(stderr, "cgnatd: cannot make the event rings (logging.ring_size %u)\n",
				cfg.logging.ring_size);
			goto out;
		}
		cgn_pb_set_event_hook(pcp_server_pb(srv), cgn_events_pb_hook, NULL);
	} else if (cfg.logging.sessions || cfg.logging.threshold_pct) {
		/* Settings of a logging group without a destination: said once, not an error (an
		 * operator may take the destinations out for a while). */
		printf("cgnatd: logging has no ipfix or syslog destination: no NAT event is logged\n");
	}
	/* The workers draw implicit sessions from the PCP server's subscribers and port blocks. */
	dp = cgn_dataplane_create(&cfg, pcp_server_pb(srv));
	if (dp == NULL)
		goto out;
	app.dp = dp;
	if (cfg.n_ports)
		pcp_server_freeze_pool(srv);
	if (control_loop_open(&loop, &cfg, srv) < 0)
		goto out;
	app.config_path = opts.config;
	loop.on_sighup = reload;
	loop.sighup_ctx = &app;
	loop.on_poll = serve_punted;
	loop.poll_ctx = &app;
	if (cgn_telemetry_init(&cfg, srv, dp, start_ms) < 0) {
		fprintf(stderr, "cgnatd: cannot register telemetry commands\n");
		goto out;
	}
	if (cgn_events_on()) {
		log_params.threshold_pct = cfg.logging.threshold_pct;
		log_params.pool = pool_use;
		log_params.pool_ctx = &app;
		app.logger = cgn_logger_start(&log_params);
		if (app.logger == NULL) {
			fprintf(stderr, "cgnatd: cannot start the logger thread: %s\n", strerror(errno));
			goto out;
		}
	}
	/* The Prometheus page reads what telemetry reads, under its rule (suspended by a
	 * reload, detached at shutdown); a listener that cannot be had stops the start. */
	if (cgn_metrics_start(&cfg, srv, dp, err, sizeof(err)) < 0) {
		fprintf(stderr, "cgnatd: %s\n", err);
		goto out;
	}
	if (cfg.metrics.on) {
		char a[CGN_ADDR_STRLEN];
		printf(cgn_addr_is_v4(&cfg.metrics.listen.addr) ? "cgnatd: metrics on http://%s:%u/metrics\n"
								 : "cgnatd: metrics on http://[%s]:%u/metrics\n",
		       cgn_addr_format(&cfg.metrics.listen.addr, a, sizeof(a)), cfg.metrics.listen.port);
	}
	if (cgn_dataplane_launch(dp) < 0) {
		fprintf(stderr, "cgnatd: cannot launch the workers\n");
		goto out;
	}
	/* Static mappings and the restart ANNOUNCEs (§14.1.3), once workers drain the rings. */
	if (pcp_server_start(srv, cgn_clock_ms()) < 0)
		goto out;

	char a[CGN_ADDR_STRLEN];
	printf("cgnatd: ready: pcp %s:%u, %u worker(s), %u port(s), %u pool address(es), telemetry "
	       "%s/dpdk_telemetry.v2\n",
	       cgn_addr_format(&cfg.pcp.listen[0].addr, a, sizeof(a)), cfg.pcp.listen[0].port, dp->n_workers,
	       dp->n_ports, cgn_config_pool_size(&cfg), rte_eal_get_runtime_dir());
	fflush(stdout);

	int sig = control_loop_run(&loop);
	if (sig > 0) {
		printf("cgnatd: %s: shutting down\n", strsignal(sig));
		rc = 0;
	} else {
		fprintf(stderr, "cgnatd: control loop failed: %s\n", strerror(-sig));
	}

out:
	cgn_metrics_stop(); /* no request is served past this: the objects may go */
	cgn_telemetry_detach();
	if (dp)
		cgn_dataplane_stop(dp);
	/* The workers stopped: what ends with the process is reported, then what they and the
	 * control thread reported last is drained and sent. */
	if (app.logger)
		report_ends(dp, srv);
	cgn_logger_stop(app.logger);
	app.logger = NULL;
	cgn_logger_close_sinks(&log_params);
	control_loop_close(&loop);
	if (srv)
		cgn_pb_set_event_hook(pcp_server_pb(srv), NULL, NULL);
	cgn_events_fini();
	pcp_server_free(srv);
	cgn_dataplane_free(dp);
	rte_eal_cleanup();
	fflush(stdout);
	return rc;
}
