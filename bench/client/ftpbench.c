/*
 * ftpbench: the benchmark's FTP client (plain FTP, passive mode, binary).
 * Built by bench/run.ts with `cc -O2 -pthread` at run time; never committed as a binary.
 *
 * Every mode prints one JSON object on stdout and exits 0, or prints an error on
 * stderr and exits 1. Every socket has 120 s send/receive timeouts, so a stuck
 * server makes the client fail instead of hanging the run.
 *
 *   ftpbench retr  HOST PORT USER PASS PATH               one RETR, bytes + seconds
 *   ftpbench stor  HOST PORT USER PASS PATH BYTES         one STOR of BYTES from memory
 *   ftpbench login HOST PORT USER PASS COUNT              COUNT sequential connect/USER/PASS/QUIT
 *   ftpbench rate  HOST PORT USER PASS CONC SECONDS       CONC threads logging in for SECONDS
 *   ftpbench idle  HOST PORT USER PASS COUNT CONC         open COUNT logged-in sessions, print
 *                                                         {"ready":..}, wait for stdin EOF, QUIT
 *   ftpbench small HOST PORT USER PASS DIR COUNT SIZE     COUNT STORs of SIZE bytes in one session
 *   ftpbench list  HOST PORT USER PASS DIR REPEAT         REPEAT LISTs of DIR, ms each
 *   ftpbench par   HOST PORT USER PASS PATH CONC          CONC sessions RETR PATH at once
 *   ftpbench rawretr BYTES                                client data path alone: receive BYTES
 *                                                         from a raw socket source writing from
 *                                                         memory (faster here than sendfile)
 *   ftpbench rawstor BYTES                                client data path alone: send BYTES to
 *                                                         a raw socket sink that discards in the
 *                                                         kernel (recv MSG_TRUNC: no copy)
 *
 * With FTPBENCH_SYNC=1 in the environment, retr/stor/small/list/par print {"sync":1} once
 * logged in and set up, and wait for a byte on stdin before the timed part: the bench reads
 * the server's CPU time there, so that its CPU figures cover the transfer alone. After the
 * timed part, before QUIT, they print {"sync":2} and wait for another byte: the bench reads
 * the CPU time again while the session processes still live.
 *
 * The raw peers are made as cheap as possible so that the raw numbers are the client's
 * own ceiling on this machine, to compare with what it measured against the servers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IO_BUF (1024 * 1024)
#define TIMEOUT_S 120

static const char *g_host;
static int g_port;
static const char *g_user;
static const char *g_pass;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "ftpbench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_timeouts(int fd) {
  struct timeval tv = {TIMEOUT_S, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connect to host:port; -1 with errno on failure. */
static int tcp_connect(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  set_timeouts(fd);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* ---- control connection ------------------------------------------------------------ */

typedef struct {
  int fd;
  char buf[8192];
  size_t len; /* bytes buffered */
  size_t off; /* bytes consumed */
  char last[1024]; /* text of the last reply line */
} ctrl_t;

/* One line without CRLF into out; 0 ok, -1 EOF/error. */
static int ctrl_line(ctrl_t *c, char *out, size_t cap) {
  size_t n = 0;
  for (;;) {
    if (c->off == c->len) {
      ssize_t r = read(c->fd, c->buf, sizeof c->buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return -1;
      c->len = (size_t)r;
      c->off = 0;
    }
    char ch = c->buf[c->off++];
    if (ch == '\n') {
      if (n > 0 && out[n - 1] == '\r') n--;
      out[n] = '\0';
      return 0;
    }
    if (n + 1 < cap) out[n++] = ch;
  }
}

/* Read one (possibly multi-line) reply; its code, or -1 on EOF/error. */
static int ctrl_reply(ctrl_t *c) {
  char line[1024];
  if (ctrl_line(c, line, sizeof line) < 0) return -1;
  if (strlen(line) < 3) return -1;
  int code = atoi(line);
  if (line[3] == '-') {
    char end[5];
    memcpy(end, line, 3);
    end[3] = ' ';
    end[4] = '\0';
    for (;;) {
      if (ctrl_line(c, line, sizeof line) < 0) return -1;
      if (strncmp(line, end, 4) == 0) break;
    }
  }
  snprintf(c->last, sizeof c->last, "%s", line);
  return code;
}

static int ctrl_cmd(ctrl_t *c, const char *fmt, ...) {
  char cmd[1200];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(cmd, sizeof cmd - 2, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof cmd - 2) return -1;
  cmd[n++] = '\r';
  cmd[n++] = '\n';
  if (write_all(c->fd, cmd, (size_t)n) < 0) return -1;
  return ctrl_reply(c);
}

/* Connect, greet, USER, PASS. 0 ok; -1 with a message in err. */
static int ftp_login(ctrl_t *c, char *err, size_t errcap) {
  memset(c, 0, sizeof *c);
  c->fd = tcp_connect(g_host, g_port);
  if (c->fd < 0) {
    snprintf(err, errcap, "connect: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int code = ctrl_reply(c);
  if (code != 220) {
    snprintf(err, errcap, "greeting %d: %s", code, c->last);
    close(c->fd);
    return -1;
  }
  code = ctrl_cmd(c, "USER %s", g_user);
  if (code != 331) {
    snprintf(err, errcap, "USER %d: %s", code, c->last);
    close(c->fd);
    return -1;
  }
  code = ctrl_cmd(c, "PASS %s", g_pass);
  if (code != 230) {
    snprintf(err, errcap, "PASS %d: %s", code, c->last);
    close(c->fd);
    return -1;
  }
  return 0;
}

/* QUIT, expect 221, wait for the server to close. */
static int ftp_quit(ctrl_t *c) {
  int code = ctrl_cmd(c, "QUIT");
  char tmp[256];
  while (read(c->fd, tmp, sizeof tmp) > 0) {
  }
  close(c->fd);
  return code == 221 ? 0 : -1;
}

static void login_or_die(ctrl_t *c) {
  char err[1200];
  if (ftp_login(c, err, sizeof err) < 0) die("login: %s", err);
}

static void expect(ctrl_t *c, int want, const char *what, int got) {
  if (got != want) die("%s: expected %d, got %d: %s", what, want, got, c->last);
}

/* PASV and connect the data socket. */
static int ftp_pasv(ctrl_t *c) {
  int code = ctrl_cmd(c, "PASV");
  expect(c, 227, "PASV", code);
  const char *p = strchr(c->last, '(');
  unsigned h1, h2, h3, h4, p1, p2;
  if (!p || sscanf(p + 1, "%u,%u,%u,%u,%u,%u", &h1, &h2, &h3, &h4, &p1, &p2) != 6)
    die("cannot parse PASV reply: %s", c->last);
  int fd = tcp_connect(g_host, (int)(p1 * 256 + p2));
  if (fd < 0) die("data connect to port %u: %s", p1 * 256 + p2, strerror(errno));
  return fd;
}

/* Read the data socket to EOF into a scratch buffer; bytes read. */
static long long drain(int fd, char *buf) {
  long long total = 0;
  for (;;) {
    ssize_t r = read(fd, buf, IO_BUF);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("data read: %s", strerror(errno));
    }
    if (r == 0) break;
    total += r;
  }
  return total;
}

/* Write `bytes` from buf (IO_BUF long, repeated) to fd. */
static void pump(int fd, const char *buf, long long bytes) {
  while (bytes > 0) {
    size_t n = bytes < IO_BUF ? (size_t)bytes : IO_BUF;
    if (write_all(fd, buf, n) < 0) die("data write: %s", strerror(errno));
    bytes -= (long long)n;
  }
}

static char *alloc_buf(void) {
  char *b = malloc(IO_BUF);
  if (!b) die("out of memory");
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < IO_BUF; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = (char)x;
  }
  return b;
}

/* Wait for the bench at a sync point (see FTPBENCH_SYNC above): print {"sync":N}, read a byte. */
static void sync_wait(int n) {
  const char *e = getenv("FTPBENCH_SYNC");
  if (!e || strcmp(e, "1") != 0) return;
  printf("{\"sync\":%d}\n", n);
  fflush(stdout);
  char ch;
  ssize_t r;
  do {
    r = read(0, &ch, 1);
  } while (r < 0 && errno == EINTR);
  if (r != 1) die("sync: stdin closed");
}

/* Between set-up and the timed part. */
static void sync_point(void) { sync_wait(1); }

/*
 * After the timed part, before QUIT: the bench reads the server's CPU while the
 * session processes still live. Once the client quits, a vsftpd session's child
 * can be reaped by init, and its CPU time would be lost to the server's tree.
 */
static void sync_end(void) { sync_wait(2); }

/* RETR path on a logged-in session; bytes, seconds from RETR sent to 226. */
static long long do_retr(ctrl_t *c, const char *path, char *buf, double *secs) {
  expect(c, 200, "TYPE I", ctrl_cmd(c, "TYPE I"));
  int d = ftp_pasv(c);
  sync_point();
  double t0 = now();
  int code = ctrl_cmd(c, "RETR %s", path);
  if (code != 150 && code != 125) die("RETR: %d: %s", code, c->last);
  long long got = drain(d, buf);
  close(d);
  expect(c, 226, "RETR end", ctrl_reply(c));
  *secs = now() - t0;
  return got;
}

/* ---- modes -------------------------------------------------------------------------- */

static int mode_retr(char **a) {
  ctrl_t c;
  login_or_die(&c);
  char *buf = alloc_buf();
  double secs;
  long long got = do_retr(&c, a[0], buf, &secs);
  sync_end();
  ftp_quit(&c);
  printf("{\"bytes\":%lld,\"seconds\":%.6f}\n", got, secs);
  return 0;
}

static int mode_stor(char **a) {
  long long bytes = atoll(a[1]);
  ctrl_t c;
  login_or_die(&c);
  char *buf = alloc_buf();
  expect(&c, 200, "TYPE I", ctrl_cmd(&c, "TYPE I"));
  int d = ftp_pasv(&c);
  sync_point();
  double t0 = now();
  int code = ctrl_cmd(&c, "STOR %s", a[0]);
  if (code != 150 && code != 125) die("STOR: %d: %s", code, c.last);
  pump(d, buf, bytes);
  close(d);
  expect(&c, 226, "STOR end", ctrl_reply(&c));
  double secs = now() - t0;
  sync_end();
  ftp_quit(&c);
  printf("{\"bytes\":%lld,\"seconds\":%.6f}\n", bytes, secs);
  return 0;
}

/* A failed login is counted and reported, not timed; the run goes on. */
static void print_json_string(const char *str) {
  putchar('"');
  for (const char *p = str; *p; p++)
    if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) putchar(*p);
  putchar('"');
}

static int mode_login(char **a) {
  int count = atoi(a[0]);
  int fail = 0, n = 0;
  char err[1200] = "";
  printf("{\"ms\":[");
  for (int i = 0; i < count; i++) {
    double t0 = now();
    ctrl_t c;
    int ok = ftp_login(&c, err, sizeof err) == 0;
    if (ok && ftp_quit(&c) < 0) {
      ok = 0;
      snprintf(err, sizeof err, "QUIT: %.1000s", c.last);
    }
    if (!ok) {
      fail++;
      continue;
    }
    printf("%s%.3f", n++ ? "," : "", (now() - t0) * 1000.0);
  }
  printf("],\"fail\":%d,\"error\":", fail);
  print_json_string(fail ? err : "");
  printf("}\n");
  return 0;
}

/* rate: CONC threads, each logging in and out until the deadline. */
static double g_deadline;
typedef struct {
  long ok, fail;
  double end;
  char err[256];
} rate_t;

static void *rate_thread(void *arg) {
  rate_t *r = arg;
  char err[1200];
  while (now() < g_deadline) {
    ctrl_t c;
    int ok = ftp_login(&c, err, sizeof err) == 0;
    if (ok && ftp_quit(&c) < 0) {
      ok = 0;
      snprintf(err, sizeof err, "QUIT: %.1000s", c.last);
    }
    if (ok) {
      r->ok++;
    } else {
      r->fail++;
      snprintf(r->err, sizeof r->err, "%.255s", err);
    }
  }
  r->end = now();
  return NULL;
}

static int mode_rate(char **a) {
  int conc = atoi(a[0]);
  double secs = atof(a[1]);
  pthread_t th[256];
  rate_t rs[256];
  if (conc < 1 || conc > 256) die("bad concurrency");
  memset(rs, 0, sizeof rs);
  double t0 = now();
  g_deadline = t0 + secs;
  for (int i = 0; i < conc; i++)
    if (pthread_create(&th[i], NULL, rate_thread, &rs[i]) != 0) die("pthread_create");
  long ok = 0, fail = 0;
  double end = t0;
  const char *lasterr = "";
  for (int i = 0; i < conc; i++) {
    pthread_join(th[i], NULL);
    ok += rs[i].ok;
    fail += rs[i].fail;
    if (rs[i].end > end) end = rs[i].end;
    if (rs[i].fail) lasterr = rs[i].err;
  }
  printf("{\"ok\":%ld,\"fail\":%ld,\"seconds\":%.6f,\"error\":", ok, fail, end - t0);
  print_json_string(lasterr);
  printf("}\n");
  return 0;
}

/* idle: open COUNT sessions with CONC threads, hold them until stdin closes. */
static ctrl_t *g_idle;
static int g_idle_count;
static int g_idle_next;
static int g_idle_fail;
static pthread_mutex_t g_idle_mu = PTHREAD_MUTEX_INITIALIZER;

static void *idle_thread(void *arg) {
  (void)arg;
  char err[1200];
  for (;;) {
    pthread_mutex_lock(&g_idle_mu);
    int i = g_idle_next < g_idle_count ? g_idle_next++ : -1;
    pthread_mutex_unlock(&g_idle_mu);
    if (i < 0) return NULL;
    if (ftp_login(&g_idle[i], err, sizeof err) < 0) {
      g_idle[i].fd = -1;
      pthread_mutex_lock(&g_idle_mu);
      g_idle_fail++;
      pthread_mutex_unlock(&g_idle_mu);
      fprintf(stderr, "ftpbench: idle login %d: %s\n", i, err);
    }
  }
}

static int mode_idle(char **a) {
  g_idle_count = atoi(a[0]);
  int conc = atoi(a[1]);
  if (conc < 1 || conc > 64 || g_idle_count < 1) die("bad idle arguments");
  g_idle = calloc((size_t)g_idle_count, sizeof *g_idle);
  if (!g_idle) die("out of memory");
  pthread_t th[64];
  double t0 = now();
  for (int i = 0; i < conc; i++)
    if (pthread_create(&th[i], NULL, idle_thread, NULL) != 0) die("pthread_create");
  for (int i = 0; i < conc; i++) pthread_join(th[i], NULL);
  printf("{\"ready\":%d,\"fail\":%d,\"seconds\":%.6f}\n", g_idle_count - g_idle_fail, g_idle_fail,
         now() - t0);
  fflush(stdout);
  char tmp[64];
  while (read(0, tmp, sizeof tmp) > 0) {
  }
  for (int i = 0; i < g_idle_count; i++)
    if (g_idle[i].fd >= 0) ftp_quit(&g_idle[i]);
  return 0;
}

static int mode_small(char **a) {
  const char *dir = a[0];
  int count = atoi(a[1]);
  long long size = atoll(a[2]);
  ctrl_t c;
  login_or_die(&c);
  char *buf = alloc_buf();
  expect(&c, 250, "CWD", ctrl_cmd(&c, "CWD %s", dir));
  expect(&c, 200, "TYPE I", ctrl_cmd(&c, "TYPE I"));
  sync_point();
  double t0 = now();
  for (int i = 0; i < count; i++) {
    int d = ftp_pasv(&c);
    int code = ctrl_cmd(&c, "STOR f%05d", i);
    if (code != 150 && code != 125) die("STOR %d: %d: %s", i, code, c.last);
    pump(d, buf, size);
    close(d);
    expect(&c, 226, "STOR end", ctrl_reply(&c));
  }
  double secs = now() - t0;
  sync_end();
  ftp_quit(&c);
  printf("{\"files\":%d,\"seconds\":%.6f}\n", count, secs);
  return 0;
}

static int mode_list(char **a) {
  const char *dir = a[0];
  int repeat = atoi(a[1]);
  ctrl_t c;
  login_or_die(&c);
  char *buf = alloc_buf();
  if (repeat < 1 || repeat > 1000) die("bad repeat");
  double ms[1000];
  sync_point();
  long long bytes = 0;
  for (int i = 0; i < repeat; i++) {
    double t0 = now();
    int d = ftp_pasv(&c);
    int code = ctrl_cmd(&c, "LIST %s", dir);
    if (code != 150 && code != 125) die("LIST: %d: %s", code, c.last);
    bytes = drain(d, buf);
    close(d);
    expect(&c, 226, "LIST end", ctrl_reply(&c));
    ms[i] = (now() - t0) * 1000.0;
  }
  sync_end();
  ftp_quit(&c);
  printf("{\"ms\":[");
  for (int i = 0; i < repeat; i++) printf("%s%.3f", i ? "," : "", ms[i]);
  printf("],\"bytes\":%lld}\n", bytes);
  return 0;
}

/* par: CONC sessions log in and open their data connections, then RETR at once. */
typedef struct {
  const char *path;
  ctrl_t c;
  int data;
  long long got;
  double end;
} par_t;
static pthread_barrier_t g_barrier, g_go, g_done, g_quit;

static void *par_thread(void *arg) {
  par_t *p = arg;
  char *buf = alloc_buf();
  login_or_die(&p->c);
  expect(&p->c, 200, "TYPE I", ctrl_cmd(&p->c, "TYPE I"));
  p->data = ftp_pasv(&p->c);
  pthread_barrier_wait(&g_barrier);
  pthread_barrier_wait(&g_go);
  int code = ctrl_cmd(&p->c, "RETR %s", p->path);
  if (code != 150 && code != 125) die("RETR: %d: %s", code, p->c.last);
  p->got = drain(p->data, buf);
  close(p->data);
  expect(&p->c, 226, "RETR end", ctrl_reply(&p->c));
  p->end = now();
  pthread_barrier_wait(&g_done); /* every transfer ended: the bench reads CPU (sync_end) */
  pthread_barrier_wait(&g_quit);
  ftp_quit(&p->c);
  free(buf);
  return NULL;
}

static int mode_par(char **a) {
  int conc = atoi(a[1]);
  if (conc < 1 || conc > 256) die("bad concurrency");
  pthread_t th[256];
  par_t *ps = calloc((size_t)conc, sizeof *ps);
  if (!ps) die("out of memory");
  pthread_barrier_init(&g_barrier, NULL, (unsigned)conc + 1);
  pthread_barrier_init(&g_go, NULL, (unsigned)conc + 1);
  pthread_barrier_init(&g_done, NULL, (unsigned)conc + 1);
  pthread_barrier_init(&g_quit, NULL, (unsigned)conc + 1);
  for (int i = 0; i < conc; i++) {
    ps[i].path = a[0];
    if (pthread_create(&th[i], NULL, par_thread, &ps[i]) != 0) die("pthread_create");
  }
  pthread_barrier_wait(&g_barrier); /* every session logged in, data connection open */
  sync_point();
  pthread_barrier_wait(&g_go);
  double t0 = now();
  long long total = 0;
  double end = t0;
  pthread_barrier_wait(&g_done);
  sync_end();
  pthread_barrier_wait(&g_quit);
  for (int i = 0; i < conc; i++) {
    pthread_join(th[i], NULL);
    total += ps[i].got;
    if (ps[i].end > end) end = ps[i].end;
  }
  printf("{\"bytes\":%lld,\"seconds\":%.6f,\"sessions\":%d}\n", total, end - t0, conc);
  return 0;
}

/* raw: the client's data path alone, against an in-memory source or sink in a child. */
static int raw_listener(int *port) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0 ||
      getsockname(ls, (struct sockaddr *)&sa, &sl) < 0)
    die("raw listener: %s", strerror(errno));
  *port = ntohs(sa.sin_port);
  return ls;
}

/* Sink: discard in the kernel (TCP recv with MSG_TRUNC copies nothing). */
static void sink_trunc(int fd) {
  for (;;) {
    ssize_t r = recv(fd, NULL, IO_BUF, MSG_TRUNC);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
  }
}

static int mode_raw(long long bytes, int stor) {
  int port;
  int ls = raw_listener(&port);
  char *buf = alloc_buf();
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    /* the raw peer: source (for rawretr) writes from memory, sink (rawstor) discards */
    int s = accept(ls, NULL, NULL);
    if (s < 0) _exit(1);
    if (stor) sink_trunc(s);
    else pump(s, buf, bytes);
    close(s);
    _exit(0);
  }
  close(ls);
  int d = tcp_connect("127.0.0.1", port);
  if (d < 0) die("raw connect: %s", strerror(errno));
  double t0 = now();
  long long got = bytes;
  if (stor) {
    pump(d, buf, bytes);
    shutdown(d, SHUT_WR);
    char tmp[16];
    while (read(d, tmp, sizeof tmp) > 0) {
    }
  } else {
    got = drain(d, buf);
  }
  double secs = now() - t0;
  close(d);
  int st;
  waitpid(pid, &st, 0);
  printf("{\"bytes\":%lld,\"seconds\":%.6f}\n", got, secs);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  if (argc >= 3 && strcmp(argv[1], "rawretr") == 0) return mode_raw(atoll(argv[2]), 0);
  if (argc >= 3 && strcmp(argv[1], "rawstor") == 0) return mode_raw(atoll(argv[2]), 1);
  if (argc < 6) die("usage: see the comment at the top of ftpbench.c");
  const char *mode = argv[1];
  g_host = argv[2];
  g_port = atoi(argv[3]);
  g_user = argv[4];
  g_pass = argv[5];
  char **a = argv + 6;
  int n = argc - 6;
  struct {
    const char *name;
    int args;
    int (*fn)(char **);
  } modes[] = {
      {"retr", 1, mode_retr},   {"stor", 2, mode_stor},   {"login", 1, mode_login},
      {"rate", 2, mode_rate},   {"idle", 2, mode_idle},   {"small", 3, mode_small},
      {"list", 2, mode_list},   {"par", 2, mode_par},
  };
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    if (strcmp(mode, modes[i].name) == 0) {
      if (n != modes[i].args) die("%s takes %d arguments after HOST PORT USER PASS", mode, modes[i].args);
      int rc = modes[i].fn(a);
      fflush(stdout);
      return rc;
    }
  }
  die("unknown mode %s", mode);
  return 1;
}
