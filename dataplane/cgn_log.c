/* The "cgnat" log type (cgn_log.h), registered before main() at INFO. */
#include "cgn_log.h"

RTE_LOG_REGISTER(cgn_logtype, cgnat, INFO);
