/* LD_PRELOAD shim for tests/catalogue/interruptions.sh where no tmpfs can be mounted: once
 * FTLIB_ENOSPC_BYTES bytes have been written to files under FTLIB_ENOSPC_DIR, every further write
 * there fails with ENOSPC, as on a full disk. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long written = 0;

static int under_dir(int fd) {
  const char* dir = getenv("FTLIB_ENOSPC_DIR");
  if (dir == NULL) return 0;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  return strncmp(path, dir, strlen(dir)) == 0;
}

ssize_t write(int fd, const void* buf, size_t count) {
  static ssize_t (*real_write)(int, const void*, size_t) = NULL;
  if (real_write == NULL) real_write = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  if (under_dir(fd)) {
    const char* budget = getenv("FTLIB_ENOSPC_BYTES");
    if (budget != NULL && written + (long long)count > atoll(budget)) {
      errno = ENOSPC;
      return -1;
    }
    written += (long long)count;
  }
  return real_write(fd, buf, count);
}
