/*
 * Data-connection transfers done in the kernel (sendfile) or in a libuv
 * thread-pool thread, for the worker's RETR/STOR fast path
 * (src/sys/native.ts, src/worker/transfer.ts). Registered from Init() in
 * tsftpd_native.c.
 *
 *   sendfileLoop(sockFd, fileFd, offset, count, stallMs, state, cb)
 *       sendfile(2) from fileFd at offset, count bytes (-1: to end of file)
 *   recvLoop(sockFd, fileFd, position, stallMs, state, cb)
 *       read(2) the socket until EOF, write(2) to fileFd at position
 *       (-1: the descriptor's own position, e.g. O_APPEND)
 *
 * Both run as async work on the thread pool, so the worker's event loop
 * stays free for the control connection (ABOR, STAT, NOOP). The descriptors
 * must stay open until cb runs: the caller keeps its socket and file alive.
 *
 * state is a BigInt64Array of at least 2 elements shared with JS:
 *   state[0]  bytes moved so far (written here after every chunk)
 *   state[1]  abort flag (JS sets it non-zero; checked after every poll and
 *             every chunk, so the loop ends within POLL_MS)
 *
 * cb(status, errno, bytes): status is "ok", "aborted", "timeout" (no byte
 * for stallMs; 0: never), "local" (file side failed), "network" (socket
 * side failed) or "unsupported" (sendfile refused this file before a byte
 * was sent: the caller falls back to read/write). errno is the errno name
 * ("EPIPE", "ENOSPC", ...) or null.
 *
 * Nothing blocks without bound: sockets are non-blocking (libuv) or, in a
 * send loop, blocking with SO_SNDTIMEO = POLL_MS; poll(2) waits at most
 * POLL_MS; file I/O on regular files completes.
 */
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 200
#define SEND_CHUNK (8 * 1024 * 1024) /* most bytes per sendfile(2) call */
#define RECV_BUF (256 * 1024)        /* STOR read/write buffer (APPE, no splice) */
#define PIPE_SIZE (1024 * 1024)      /* STOR splice pipe (fs.pipe-max-size default) */

enum wait_result { READY, ABORTED, TIMED_OUT, POLL_FAILED };

typedef struct {
  napi_async_work work;
  napi_ref cb;
  napi_ref state_ref;  /* keeps the shared buffer alive while the thread writes it */
  int64_t *state;
  int receive;         /* 0: sendfileLoop, 1: recvLoop */
  int sock;
  int file;
  int64_t pos;         /* file offset; -1: the descriptor's own (recvLoop only) */
  int64_t count;       /* bytes to send; -1: to end of file */
  int64_t stall_ms;
  int64_t last_progress;
  int64_t bytes;
  const char *status;
  int err;
} xfer_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int aborted(const xfer_t *j) {
  return __atomic_load_n(&j->state[1], __ATOMIC_ACQUIRE) != 0;
}

static void progress(xfer_t *j, size_t n) {
  j->bytes += (int64_t)n;
  j->last_progress = now_ms();
  __atomic_store_n(&j->state[0], j->bytes, __ATOMIC_RELEASE);
}

/* Wait until the socket is ready, the abort flag is set or the stall timeout
 * passes; never longer than POLL_MS between checks. */
static enum wait_result wait_sock(xfer_t *j, short events) {
  for (;;) {
    if (aborted(j)) return ABORTED;
    struct pollfd p = {.fd = j->sock, .events = events, .revents = 0};
    int r = poll(&p, 1, POLL_MS);
    if (aborted(j)) return ABORTED;
    if (r > 0) return READY; /* also POLLERR/POLLHUP: the next call reports it */
    if (r < 0 && errno != EINTR) {
      j->err = errno;
      return POLL_FAILED;
    }
    if (j->stall_ms > 0 && now_ms() - j->last_progress >= j->stall_ms) return TIMED_OUT;
  }
}

/* Set the outcome from a wait that did not end READY. */
static void wait_outcome(xfer_t *j, enum wait_result w) {
  j->status = w == ABORTED ? "aborted" : w == TIMED_OUT ? "timeout" : "network";
}

static int is_network_errno(int e) {
  switch (e) {
    case EPIPE: case ECONNRESET: case ENOTCONN: case ETIMEDOUT: case ECONNABORTED:
    case EHOSTUNREACH: case ENETUNREACH: case ENETDOWN: case ENETRESET: case EHOSTDOWN:
    case ESHUTDOWN:
      return 1;
    default:
      return 0;
  }
}

/*
 * For the length of a send loop the socket blocks, with SO_SNDTIMEO at
 * POLL_MS: one sendfile(2) then moves up to SEND_CHUNK, the kernel waiting
 * for buffer space itself, and returns at least every POLL_MS for the abort
 * and stall checks. On a non-blocking socket each full buffer meant an
 * EAGAIN, a poll(2) and another call: with 16 parallel downloads on 2 cores
 * that cost 2.5 times vsftpd's CPU per GiB (issue #8), vsftpd also sending
 * on a blocking socket. libuv's mode and timeout are put back afterwards.
 */
typedef struct {
  int flags;
  struct timeval timeout;
  int changed;
} sock_mode_t;

static int make_blocking(int fd, sock_mode_t *saved) {
  socklen_t len = sizeof saved->timeout;
  saved->changed = 0;
  saved->flags = fcntl(fd, F_GETFL);
  if (saved->flags < 0 || getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &saved->timeout, &len) != 0) return -1;
  struct timeval tv = {.tv_sec = POLL_MS / 1000, .tv_usec = (POLL_MS % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) return -1;
  saved->changed = 1;
  if (fcntl(fd, F_SETFL, saved->flags & ~O_NONBLOCK) != 0) return -1;
  return 0;
}

/* Back to what libuv set; 0, or -1 (the socket must not be used again). */
static int restore_mode(int fd, const sock_mode_t *saved) {
  if (!saved->changed) return 0;
  int r = fcntl(fd, F_SETFL, saved->flags);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &saved->timeout, sizeof saved->timeout) != 0) r = -1;
  return r;
}

static void send_loop(xfer_t *j) {
  off_t off = (off_t)j->pos;
  for (;;) {
    if (aborted(j)) {
      j->status = "aborted";
      return;
    }
    size_t want = SEND_CHUNK;
    if (j->count >= 0) {
      int64_t left = j->count - j->bytes;
      if (left <= 0) break;
      if (left < (int64_t)want) want = (size_t)left;
    }
    ssize_t n = sendfile(j->sock, j->file, &off, want);
    if (n > 0) {
      progress(j, (size_t)n);
      continue;
    }
    if (n == 0) break; /* end of file (it may have shrunk: as read(2) would) */
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      /* SO_SNDTIMEO passed without a byte (or the socket is still
       * non-blocking): the same checks as after a poll. */
      enum wait_result w = wait_sock(j, POLLOUT);
      if (w != READY) {
        wait_outcome(j, w);
        return;
      }
      continue;
    }
    j->err = errno;
    if ((errno == EINVAL || errno == ENOSYS) && j->bytes == 0) j->status = "unsupported";
    else j->status = is_network_errno(errno) ? "network" : "local";
    return;
  }
  j->status = "ok";
}

static void send_execute(napi_env env, void *data) {
  (void)env;
  xfer_t *j = data;
  j->last_progress = now_ms();
  sock_mode_t saved;
  /* If the socket cannot be made blocking, the loop still works: sendfile
   * returns EAGAIN and wait_sock() polls, as it always did. */
  (void)make_blocking(j->sock, &saved);
  send_loop(j);
  if (restore_mode(j->sock, &saved) != 0) {
    j->err = errno;
    j->status = "network";
  }
}

/* Write all of buf to the file; returns 0 or an errno. */
static int write_all(xfer_t *j, const char *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = j->pos >= 0 ? pwrite(j->file, buf + done, len - done, (off_t)j->pos)
                            : write(j->file, buf + done, len - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO; /* no progress on a regular file: do not spin */
    done += (size_t)w;
    if (j->pos >= 0) j->pos += w;
  }
  return 0;
}

/*
 * STOR with splice(2): socket -> pipe -> file moves the received pages
 * without copying them through user space (about half the CPU of
 * read/write). Returns 1 when done (status set), 0 when splice cannot write
 * this file (O_APPEND, a filesystem without splice): the caller goes on
 * with read/write, nothing lost (bytes already in the pipe are written).
 */
static int recv_splice(xfer_t *j, char *buf) {
  int p[2];
  if (j->pos < 0 || pipe2(p, O_CLOEXEC) != 0) return 0;
  /* A bigger pipe means fewer calls; the default (64 KiB) works too. */
  (void)fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
  int done = 1;
  for (;;) {
    if (aborted(j)) {
      j->status = "aborted";
      break;
    }
    ssize_t n = splice(j->sock, NULL, p[1], NULL, PIPE_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) {
      j->status = "ok"; /* the client closed: the upload is complete */
      break;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        enum wait_result w = wait_sock(j, POLLIN);
        if (w == READY) continue;
        wait_outcome(j, w);
        break;
      }
      j->err = errno;
      j->status = "network";
      break;
    }
    size_t left = (size_t)n;
    while (left > 0) {
      loff_t off = (loff_t)j->pos;
      ssize_t m = splice(p[0], NULL, j->file, &off, left, SPLICE_F_MOVE);
      if (m > 0) {
        j->pos = (int64_t)off;
        left -= (size_t)m;
        continue;
      }
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 && errno == EINVAL && j->bytes == 0 && left == (size_t)n) {
        /* splice cannot write this file: hand what the pipe holds to write(2). */
        while (left > 0) {
          ssize_t r = read(p[0], buf, left < RECV_BUF ? left : RECV_BUF);
          if (r <= 0) break;
          int e = write_all(j, buf, (size_t)r);
          if (e != 0) {
            j->err = e;
            j->status = "local";
            goto out;
          }
          left -= (size_t)r;
        }
        progress(j, (size_t)n);
        done = 0;
        goto out;
      }
      j->err = m < 0 ? errno : EIO;
      j->status = "local";
      goto out;
    }
    progress(j, (size_t)n);
  }
out:
  close(p[0]);
  close(p[1]);
  return done;
}

static void recv_execute(napi_env env, void *data) {
  (void)env;
  xfer_t *j = data;
  j->last_progress = now_ms();
  char *buf = malloc(RECV_BUF);
  if (buf == NULL) {
    j->status = "local";
    j->err = ENOMEM;
    return;
  }
  if (recv_splice(j, buf)) {
    free(buf);
    return;
  }
  for (;;) {
    if (aborted(j)) {
      j->status = "aborted";
      break;
    }
    ssize_t n = read(j->sock, buf, RECV_BUF);
    if (n > 0) {
      int e = write_all(j, buf, (size_t)n);
      if (e != 0) {
        j->status = "local";
        j->err = e;
        break;
      }
      progress(j, (size_t)n);
      continue;
    }
    if (n == 0) {
      j->status = "ok"; /* the client closed: the upload is complete */
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      enum wait_result w = wait_sock(j, POLLIN);
      if (w != READY) {
        wait_outcome(j, w);
        break;
      }
      continue;
    }
    j->err = errno;
    j->status = "network";
    break;
  }
  free(buf);
}

static void xfer_complete(napi_env env, napi_status status, void *data) {
  xfer_t *j = data;
  napi_value global, cb, argv[3];
  if (status != napi_ok && j->status == NULL) j->status = "aborted";
  if (j->status == NULL) j->status = "local";
  const char *name = j->err != 0 ? strerrorname_np(j->err) : NULL;
  if (j->err != 0 && name == NULL) name = "EIO";
  if (napi_get_global(env, &global) == napi_ok &&
      napi_get_reference_value(env, j->cb, &cb) == napi_ok &&
      napi_create_string_utf8(env, j->status, NAPI_AUTO_LENGTH, &argv[0]) == napi_ok &&
      (name == NULL ? napi_get_null(env, &argv[1])
                    : napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &argv[1])) == napi_ok &&
      napi_create_double(env, (double)j->bytes, &argv[2]) == napi_ok) {
    napi_call_function(env, global, cb, 3, argv, NULL);
  }
  napi_delete_reference(env, j->cb);
  napi_delete_reference(env, j->state_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static int get_int64(napi_env env, napi_value v, int64_t min, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok)
    return 0;
  /* Integers only, exact in a double (2^53). */
  if (d != d || d < (double)min || d > 9007199254740991.0 || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

/* SECURITY: the loops only ever touch a connected socket and a regular file,
 * so a wrong descriptor from JS cannot turn into a read of something else. */
static int fd_is(int fd, mode_t type) {
  struct stat st;
  return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

/* Shared: parse arguments and queue the work. nargs is 7 (send) or 6 (recv). */
static napi_value start(napi_env env, napi_callback_info info, int receive) {
  napi_value argv[7];
  size_t argc = 7;
  const size_t want = receive ? 6 : 7;
  const char *usage = receive
      ? "recvLoop(sockFd, fileFd, position >= -1, stallMs >= 0, state: BigInt64Array(2), cb)"
      : "sendfileLoop(sockFd, fileFd, offset >= 0, count >= -1, stallMs >= 0, state: BigInt64Array(2), cb)";
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  int64_t sock, file, pos, count = -1, stall;
  size_t i = 0;
  int ok = get_int64(env, argv[i++], 0, &sock) && sock <= INT32_MAX && get_int64(env, argv[i++], 0, &file) &&
           file <= INT32_MAX && get_int64(env, argv[i++], receive ? -1 : 0, &pos);
  if (ok && !receive) ok = get_int64(env, argv[i++], -1, &count);
  ok = ok && get_int64(env, argv[i++], 0, &stall);
  napi_value state_v = argv[i++], cb_v = argv[i++];
  napi_typedarray_type ta_type;
  size_t ta_len = 0;
  void *ta_data = NULL;
  bool is_ta = false;
  napi_valuetype cb_t;
  ok = ok && napi_is_typedarray(env, state_v, &is_ta) == napi_ok && is_ta &&
       napi_get_typedarray_info(env, state_v, &ta_type, &ta_len, &ta_data, NULL, NULL) == napi_ok &&
       ta_type == napi_bigint64_array && ta_len >= 2 && ta_data != NULL &&
       napi_typeof(env, cb_v, &cb_t) == napi_ok && cb_t == napi_function;
  if (!ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  if (!fd_is((int)sock, S_IFSOCK) || !fd_is((int)file, S_IFREG)) {
    napi_throw_type_error(env, NULL, "sockFd must be a socket and fileFd a regular file");
    return NULL;
  }
  xfer_t *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->receive = receive;
  j->sock = (int)sock;
  j->file = (int)file;
  j->pos = pos;
  j->count = count;
  j->stall_ms = stall;
  j->state = ta_data;
  __atomic_store_n(&j->state[0], 0, __ATOMIC_RELEASE);
  napi_value name;
  if (napi_create_reference(env, cb_v, 1, &j->cb) != napi_ok) goto fail;
  if (napi_create_reference(env, state_v, 1, &j->state_ref) != napi_ok) goto fail;
  if (napi_create_string_utf8(env, receive ? "tsftpd:recvLoop" : "tsftpd:sendfileLoop", NAPI_AUTO_LENGTH,
                              &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, receive ? recv_execute : send_execute, xfer_complete, j,
                             &j->work) != napi_ok)
    goto fail;
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    napi_delete_async_work(env, j->work);
    goto fail;
  }
  return NULL;
fail:
  if (j->cb != NULL) napi_delete_reference(env, j->cb);
  if (j->state_ref != NULL) napi_delete_reference(env, j->state_ref);
  free(j);
  napi_throw_error(env, NULL, "could not queue transfer work");
  return NULL;
}

static napi_value SendfileLoop(napi_env env, napi_callback_info info) {
  return start(env, info, 0);
}

static napi_value RecvLoop(napi_env env, napi_callback_info info) {
  return start(env, info, 1);
}

napi_status tsftpd_register_transfer(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sendfileLoop", NULL, SendfileLoop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvLoop", NULL, RecvLoop, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
