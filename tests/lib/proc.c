/*
 * Process helpers for tests (see proc.h).
 */
#define _GNU_SOURCE
#include "proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
proc_run(char *out, size_t size, const char *fmt, ...)
{
	char *cmd, *full;
	va_list ap;
	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&cmd, fmt, ap), 0);
	va_end(ap);
	cr_assert_geq(asprintf(&full, "(%s) 2>&1", cmd), 0);
	FILE *p = popen(full, "r");
	cr_assert_not_null(p, "popen %s", cmd);
	size_t n = 0;
	if (size > 0) {
		size_t k;
		while (n < size - 1 && (k = fread(out + n, 1, size - 1 - n, p)) > 0)
			n += k;
		out[n] = '\0';
	}
	char sink[4096];
	while (fread(sink, 1, sizeof(sink), p) > 0)
		;
	int st = pclose(p);
	free(cmd);
	free(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

pid_t
proc_spawn(const char *log_path, const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&cmd, fmt, ap), 0);
	va_end(ap);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* exec: the shell is replaced by the command, so pid is the command's own */
		char *full;
		if (asprintf(&full, "exec %s", cmd) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", full, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	return pid;
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
proc_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0, k;
	char *buf = malloc(cap);
	while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += k;
		if (cap - n < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

bool
proc_wait_file_contains(const char *path, const char *text, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	do {
		char *s = proc_read_file(path);
		bool found = s && strstr(s, text);
		free(s);
		if (found)
			return true;
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

int
proc_stop(pid_t pid, int sig, int timeout_ms)
{
	int st;
	kill(pid, sig);
	long end = now_ms() + timeout_ms;
	while (now_ms() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

const char *
proc_env(const char *name)
{
	const char *v = getenv(name);
	cr_assert_not_null(v, "environment variable %s is not set (run through meson test)", name);
	return v;
}
