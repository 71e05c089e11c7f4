/*
 * Process helpers for the tests that drive the real binaries: run a command and capture what
 * it prints, start one in the background, stop it. Test processes only.
 */
#ifndef TEST_PROC_H
#define TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/**
 * Runs a shell command (printf-style), capturing stdout and stderr into out (NUL-terminated,
 * truncated to size). @return its exit status, or -1 if it did not exit normally.
 */
int proc_run(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Starts a shell command in the background with stdout and stderr to log_path. @return its pid. */
pid_t proc_spawn(const char *log_path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Waits up to timeout_ms for text to appear in a file. @return true if it did. */
bool proc_wait_file_contains(const char *path, const char *text, int timeout_ms);

/**
 * Sends sig, waits up to timeout_ms, then SIGKILLs. @return the exit status, or -1 if it had
 * to be killed or died of a signal.
 */
int proc_stop(pid_t pid, int sig, int timeout_ms);

/** Reads a whole file into a malloc'ed string (NULL if unreadable). */
char *proc_read_file(const char *path);

/** @return the value of an environment variable, failing the test if it is not set. */
const char *proc_env(const char *name);

#endif
