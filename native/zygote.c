/*
 * The zygote's system calls (src/master/zygote.ts, src/zygote/main.ts).
 *
 * A Node process costs ~60 ms of CPU and ~10 MiB of private memory to start;
 * a fork() of a Node process that has already started costs about 1 ms, and
 * the child shares the parent's pages until it writes them. The zygote is a
 * pool worker that, instead of serving a session itself, forks one copy of
 * itself per worker master asks for.
 *
 * What makes a fork of a Node process safe here:
 * - libuv: the child's event loop still shares the parent's epoll instance
 *   (and signal pipe); uv_loop_fork() gives the child its own before its
 *   loop runs again. It is called here, in the child, before fork() returns
 *   to JavaScript.
 * - threads: only the forking thread exists in the child. The zygote runs
 *   with V8's --single-threaded (no background compile or GC tasks are ever
 *   posted) and never uses libuv's thread pool, whose lazy start libuv
 *   re-arms in a forked child (pthread_atfork), so the child starts its own.
 * - descriptors: the child inherits every descriptor of the zygote; the
 *   zygote holds only its channel to master and the one socket being handed
 *   to the child at that moment, and the child closes the channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <node_api.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"

static napi_value ThrowErrno(napi_env env, const char *what, int err) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, buf);
  return NULL;
}

/*
 * V8 marks its heap pages and code range MADV_DONTFORK: a forked child would
 * find them unmapped and crash on its first JavaScript instruction. Undo it
 * for every mapping before each fork (V8 marks new pages as it allocates
 * them). The mappings are private, so the child gets copy-on-write pages,
 * never memory shared with the zygote. Mappings that refuse (VM_IO and the
 * like) keep their flag; errors are ignored for that reason.
 */
static int AllowForkOfAllMappings(void) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  static char buf[1 << 18];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len >= sizeof buf - 1) break;
  }
  close(fd);
  buf[len] = '\0';
  char *line = buf;
  while (line < buf + len) {
    char *end = strchr(line, '\n');
    if (end == NULL) break;
    *end = '\0';
    char *dash = NULL;
    unsigned long lo = strtoul(line, &dash, 16);
    if (dash != NULL && *dash == '-') {
      unsigned long hi = strtoul(dash + 1, NULL, 16);
      if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DOFORK);
    }
    line = end + 1;
  }
  return 0;
}

/*
 * zygoteFork(): fork this process. Returns the child's pid in the parent and
 * 0 in the child, whose event loop has then been given its own kernel state
 * (uv_loop_fork) and which dies with SIGKILL if the zygote dies before it
 * has dropped its privileges (the zygote is the only process that may kill
 * it, so an orphan must not outlive it).
 */
static napi_value ZygoteFork(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t *loop = NULL;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (AllowForkOfAllMappings() != 0) return ThrowErrno(env, "/proc/self/maps", errno);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return ThrowErrno(env, "fork", errno);
  if (pid == 0) {
    /* SECURITY: a child that cannot get a loop of its own would share the
     * zygote's epoll set and steal its events: it must not run on. */
    if (uv_loop_fork(loop) != 0) _exit(70);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(70);
    if (getppid() != parent) _exit(70);
  }
  napi_value out;
  CHECK(napi_create_int32(env, (int32_t)pid, &out));
  return out;
}

/*
 * setParentDeathSignal(): again after a credential change (setuid) cleared
 * it. Returns the parent's pid as the kernel sees it now: if the zygote died
 * in between, it is no longer the zygote's, and the caller must exit.
 */
static napi_value SetParentDeathSignal(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return ThrowErrno(env, "prctl(PR_SET_PDEATHSIG)", errno);
  napi_value out;
  CHECK(napi_create_int32(env, (int32_t)getppid(), &out));
  return out;
}

/* getPids(): [getpid(), getppid()] (Node caches process.pid at start-up). */
static napi_value GetPids(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr, v;
  CHECK(napi_create_array_with_length(env, 2, &arr));
  CHECK(napi_create_int32(env, (int32_t)getpid(), &v));
  CHECK(napi_set_element(env, arr, 0, v));
  CHECK(napi_create_int32(env, (int32_t)getppid(), &v));
  CHECK(napi_set_element(env, arr, 1, v));
  return arr;
}

/*
 * execNode(path, argv): execv() this process into a new program with the
 * same pid and descriptors (master restarts itself with a Node flag).
 * Returns only on failure, by throwing.
 */
static napi_value ExecNode(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_array = false;
  if (argc < 2 || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "execNode(path, argv[])");
    return NULL;
  }
  char path[4096];
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok || plen == 0 ||
      plen >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "execNode: bad path");
    return NULL;
  }
  uint32_t n = 0;
  CHECK(napi_get_array_length(env, argv[1], &n));
  if (n == 0 || n > 256) {
    napi_throw_range_error(env, NULL, "execNode: 1 to 256 arguments");
    return NULL;
  }
  char **args = calloc((size_t)n + 1, sizeof(char *));
  if (args == NULL) return ThrowErrno(env, "execNode", ENOMEM);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    size_t len = 0;
    if (napi_get_element(env, argv[1], i, &e) != napi_ok ||
        napi_get_value_string_utf8(env, e, NULL, 0, &len) != napi_ok || len > 65536) {
      napi_throw_type_error(env, NULL, "execNode: arguments must be strings");
      return NULL;
    }
    args[i] = malloc(len + 1);
    if (args[i] == NULL) return ThrowErrno(env, "execNode", ENOMEM);
    CHECK(napi_get_value_string_utf8(env, e, args[i], len + 1, &len));
  }
  /* Node marks the standard descriptors close-on-exec: keep them. */
  for (int fd = 0; fd <= 2; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && (fl & FD_CLOEXEC) != 0) (void)fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  execv(path, args);
  int err = errno;
  for (uint32_t i = 0; i < n; i++) free(args[i]);
  free(args);
  return ThrowErrno(env, "execv", err);
}

/*
 * reapChildren(): every child that has ended, as a flat array
 * [pid, status kind (0 exit, 1 signal), code or signal number, ...].
 */
static napi_value ReapChildren(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr;
  CHECK(napi_create_array(env, &arr));
  uint32_t n = 0;
  for (int i = 0; i < 4096; i++) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    int kind = WIFSIGNALED(status) ? 1 : 0;
    int value = kind == 1 ? WTERMSIG(status) : WEXITSTATUS(status);
    napi_value v;
    CHECK(napi_create_int32(env, pid, &v));
    CHECK(napi_set_element(env, arr, n++, v));
    CHECK(napi_create_int32(env, kind, &v));
    CHECK(napi_set_element(env, arr, n++, v));
    CHECK(napi_create_int32(env, value, &v));
    CHECK(napi_set_element(env, arr, n++, v));
  }
  return arr;
}

/*
 * exitNow(code): _exit(). A forked child has none of the zygote's helper
 * threads (V8's platform workers, the inspector's signal thread), and
 * Node's normal teardown joins them: it would crash instead of exiting.
 * Everything a worker writes (logs, replies) is written synchronously or
 * has been flushed before it exits.
 */
static napi_value ExitNow(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t code = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1) (void)napi_get_value_int32(env, argv[0], &code);
  _exit(code & 0xff);
}

/* socketPair(): a connected AF_UNIX stream pair, close-on-exec. */
static napi_value SocketPair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ThrowErrno(env, "socketpair", errno);
  napi_value arr, v;
  CHECK(napi_create_array_with_length(env, 2, &arr));
  CHECK(napi_create_int32(env, sv[0], &v));
  CHECK(napi_set_element(env, arr, 0, v));
  CHECK(napi_create_int32(env, sv[1], &v));
  CHECK(napi_set_element(env, arr, 1, v));
  return arr;
}

/* closeFd(fd): close a descriptor no handle owns. */
static napi_value CloseFd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 3) {
    napi_throw_type_error(env, NULL, "closeFd(fd >= 3)");
    return NULL;
  }
  (void)close(fd);
  return NULL;
}

napi_status tsftpd_register_zygote(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"zygoteFork", NULL, ZygoteFork, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setParentDeathSignal", NULL, SetParentDeathSignal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reapChildren", NULL, ReapChildren, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getPids", NULL, GetPids, NULL, NULL, NULL, napi_enumerable, NULL},
      {"execNode", NULL, ExecNode, NULL, NULL, NULL, napi_enumerable, NULL},
      {"exitNow", NULL, ExitNow, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketPair", NULL, SocketPair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, CloseFd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
