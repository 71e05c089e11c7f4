/*
 * test_eal_once() (eal_once.h): EAL brought up once per process, its runtime folder removed
 * at exit. Main thread.
 */
#include "eal_once.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>

static char runtime_dir[4096];

static void
remove_runtime_dir(void)
{
	if (runtime_dir[0])
		rmdir(runtime_dir);
}

int
test_eal_once(const char *stem, unsigned memory_mb)
{
	static bool tried;
	static int result;
	if (tried)
		return result;
	tried = true;
	char prefix[64], mem[16];
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s%d", stem, getpid());
	snprintf(mem, sizeof(mem), "%u", memory_mb);
	char *args[] = { "test", "-l", "0", "--no-huge", "-m", mem, "--no-pci", "--no-shconf", "--no-telemetry",
			 "--log-level=*:error", prefix };
	atexit(remove_runtime_dir);
	result = rte_eal_init((int)(sizeof(args) / sizeof(args[0])), args);
	if (result >= 0) {
		snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
		result = 0;
	}
	return result;
}
