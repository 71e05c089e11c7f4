/*
 * NAT64's ICMP errors, both ways (RFC 7915 §4.2-§4.3 and §5.2-§5.3; RFC 6146 §3.5): the
 * error and the packet it quotes are translated together. Until the translator of
 * common/cgn_xlat_error.h is wired here, they are dropped and counted.
 * Worker context (slow path).
 */
#include "cgn_dataplane.h"

enum cgn_verdict
cgn_xlat64_error(struct cgn_worker *w, struct cgn_pkt *p)
{
	return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR);
}

enum cgn_verdict
cgn_xlat46_error(struct cgn_worker *w, struct cgn_pkt *p)
{
	return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR);
}
