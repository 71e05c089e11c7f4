/*
 * EAL for the tests and benches that drive the PCP server in their own process (no ports, no
 * workers): one lcore, no hugepages, no PCI, no shared configuration, no telemetry socket,
 * errors only. Main thread, before anything of DPDK; once per process (EAL starts once).
 */
#ifndef TEST_EAL_ONCE_H
#define TEST_EAL_ONCE_H

/**
 * Starts EAL on lcore 0 with memory_mb of memory and --file-prefix=STEM<pid>, the first time
 * it is called in this process; EAL's runtime folder (/var/run/dpdk/STEM<pid>, empty with
 * these options) is removed when the process ends.
 * @return 0, or rte_eal_init()'s negative result (also on later calls after a failure).
 */
int test_eal_once(const char *stem, unsigned memory_mb);

#endif /* TEST_EAL_ONCE_H */
