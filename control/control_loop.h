/*
 * The control thread's event loop (it runs on the main lcore): PCP over kernel UDP sockets,
 * a 100 ms tick for lifetimes and unsolicited messages, a 5 ms poll (on_poll: the PCP the
 * data plane punted, and neighbour resolution and aging), and signals (SIGINT/SIGTERM stop it;
 * SIGHUP calls on_sighup, which reloads the configuration).
 *
 * Datagrams are read and answered in batches (recvmmsg/sendmmsg, CONTROL_BATCH at a time)
 * so one wake-up serves a burst of requests with two system calls.
 *
 * Signals: the caller blocks SIGINT, SIGTERM and SIGHUP in every thread before the loop opens
 * (before rte_eal_init(), so EAL's threads inherit the mask); the loop reads them from a
 * signalfd.
 */
#ifndef CONTROL_LOOP_H
#define CONTROL_LOOP_H

#include <signal.h>
#include <stdint.h>

#include "cgn_config.h"
#include "pcp_server.h"

#define CONTROL_BATCH 64
#define CONTROL_TICK_MS 100
#define CONTROL_POLL_MS 5     /* the timer's period: what a punted request may wait at most */

struct control_loop {
	int epfd, timerfd, sigfd;
	int socks[CGN_MAX_LISTEN];
	struct cgn_listen listen[CGN_MAX_LISTEN];
	unsigned n_socks;
	struct pcp_server *srv;
	uint64_t send_errors;
	void (*on_sighup)(void *ctx); /* reload; NULL: SIGHUP is reported and ignored */
	void *sighup_ctx;
	void (*on_poll)(void *ctx);   /* every CONTROL_POLL_MS; NULL: none */
	void *poll_ctx;
	uint64_t next_tick_ms;
};

/** The signals the loop handles; block them with pthread_sigmask() before any thread starts. */
void control_loop_signals(sigset_t *set);

/**
 * Opens the PCP sockets on cfg's listen addresses, the tick timer and the signalfd.
 * @return 0, or -errno with a message on stderr naming the address that failed.
 */
int control_loop_open(struct control_loop *loop, const struct cgn_config *cfg, struct pcp_server *srv);

/** Runs until SIGINT or SIGTERM. @return the signal number that stopped it, or -errno. */
int control_loop_run(struct control_loop *loop);

/**
 * Sends an unsolicited datagram from the first PCP socket of dst's family (the server's
 * address and port, §14.1.3). @return 0 or -errno.
 */
int control_loop_send(struct control_loop *loop, const struct cgn_addr *dst, uint16_t port, const uint8_t *msg,
		      size_t len);

void control_loop_close(struct control_loop *loop);

#endif /* CONTROL_LOOP_H */
