/*
 * The conformance harness: a running cgnatd (started by main() in harness.c before the tests
 * run, in the network namespace tests/netns_run.sh made), and helpers to send it PCP and
 * NAT-PMP requests over UDP from any 127.0.0.0/8 source, or from ::1 and the IPv6 addresses
 * below, and read what comes back.
 *
 * Tests share one cgnatd: each test uses subscriber addresses of its own (127.S.0.x with S
 * its section) so their mappings and quotas never meet.
 */
#ifndef CONFORMANCE_HARNESS_H
#define CONFORMANCE_HARNESS_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

#include "pcp_wire.h"

/* The configuration every test runs against (harness.c writes it). */
#define H_SHORT_ERR 31
#define H_LONG_ERR 1801
#define H_MAX_MAPPINGS 4
#define H_MAX_FILTERS 2
#define H_STATIC_INTERNAL "127.0.0.100"
#define H_STATIC_EXTERNAL "203.0.113.66"
#define H_THIRD_PARTY "127.0.0.2"
/* IPv6 (NAT64) clients: sources of H_SRC6_NET ("2001:db8:64:SS00::x", SS a test's own /56 as
 * nat64.subscriber_prefix_len is 56), the authorised third party, the Pref64s (the NSP has an
 * IPv4 prefix list: PREFIX64 gives it first, RFC 7225 §4.2). */
#define H_SRC6_NET "2001:db8:64::/48"
#define H_THIRD_PARTY6 "2001:db8:64:ff00::2"
#define H_PREF64_WKP "64:ff9b::/96"
#define H_PREF64_NSP "2001:db8:122:300::/56"

extern struct pcp_request H_req;    /* the request being built */
extern struct pcp_response H_resp;  /* the last response parsed */
extern uint8_t H_raw[PCP_MAX_MSG + 64]; /* the last response as received */
extern size_t H_raw_len;
extern uint8_t H_sent[PCP_MAX_MSG + 64]; /* the last request as sent */
extern size_t H_sent_len;
extern const char *H_server; /* where requests go: the shared cgnatd's 127.0.0.1 by default */
extern const char *H_server6; /* where IPv6 clients' requests go: the shared cgnatd's ::1 by default */

/* IPv6: the shared cgnatd listens on [H_SERVER6]:5351 too, with ::1/128 and H_INSIDE6 in
 * pcp.inside; main() puts the H_CLIENT6_* and H_OUTSIDE6 addresses on the loopback (and
 * H_SERVER6_B, for a cgnatd of a test's own). */
#define H_SERVER6 "::1"
#define H_INSIDE6 "2001:db8:14::/64"
#define H_CLIENT6_A "2001:db8:14::a"
#define H_CLIENT6_B "2001:db8:14::b"
#define H_CLIENT6_C "2001:db8:14::c"
#define H_CLIENT6_D "2001:db8:14::d"
#define H_SERVER6_B "2001:db8:14::1"
#define H_OUTSIDE6 "2001:db8:99::1" /* not in pcp.inside */

/** Starts a request: opcode, lifetime, the client address field set to src. */
void h_begin(uint8_t opcode, const char *src, uint32_t lifetime);

/** MAP/PEER fields; nonce_tag names the nonce (the same tag, the same nonce). */
void h_map(uint8_t proto, uint16_t internal_port, uint16_t ext_port, const char *ext_addr, const char *nonce_tag);
void h_peer_remote(const char *remote, uint16_t remote_port);

/** Options. */
void h_opt(uint8_t code, const void *data, uint16_t len);
void h_third_party(const char *addr);
void h_filter(uint8_t prefix_len, const char *addr, uint16_t port);

/**
 * Sends H_req from src (bound to src:0; an IPv6 src goes to H_server6) and waits up to wait_ms for a response.
 * @return its result code, or -1 if none came.
 */
int h_send(const char *src, int wait_ms);

/** Sends raw octets from src (an IPv4 address to H_server, an IPv6 one to H_server6).
 * @return the response length, or -1 if none came. */
int h_send_raw(const char *src, const void *msg, size_t len, int wait_ms);

/** The external address of the last response as text ("203.0.113.5"). */
const char *h_ext_addr(void);

/** Runs cgnatctl with args against the harness's cgnatd; output in the returned buffer. */
const char *h_ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Polls h_ctl(args) until its output contains (or, present false, lacks) text. */
bool h_ctl_until(const char *args, const char *text, bool present);

/** The binaries and files of the build (from the environment meson sets). */
const char *h_env(const char *name);

/** Starts another cgnatd on a configuration text (for restart, overload). @return its pid. */
int h_start_cgnatd(const char *conf_text, const char *prefix, const char *log_path);
/** The file prefix + suffix of the run's work folder (removed at the end of the run; the
 * tests run in child processes, which find it through the environment). h_start_cgnatd
 * writes its config as prefix ".conf" there: write it again and send SIGHUP to reload. */
void h_work_file(const char *prefix, const char *suffix, char *path, size_t len);
int h_stop_cgnatd(int pid);

#define H_WAIT 500 /* ms to wait for an answer that must come */
#define H_SILENCE 300 /* ms of silence that proves a drop */

#endif
