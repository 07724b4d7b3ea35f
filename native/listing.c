/*
 * Directory-listing helpers for the worker's LIST/NLST/STAT fast path.
 * Registered from Init() in tsftpd_native.c.
 *
 *   readdirAt(dirFd, sorted, callback)           async, thread pool
 *   lstatAt(dirFd, names, count, out, format, now, callback)
 *                                                async, thread pool
 *
 * readdirAt() reads every name of the open directory dirFd (readdir order,
 * without "." and "..") in a libuv pool thread, through a descriptor of its
 * own for "." relative to dirFd (so dirFd's offset is left alone), and
 * calls back (null, names): a Buffer of the names' raw bytes, each followed
 * by a NUL; with `sorted`, in strcmp() order (unsigned bytes: the order of
 * JavaScript's default sort on latin1 byte strings), so the main thread
 * does not sort. A readdir() error ends the list, as vsftpd. callback(message,
 * null) when the directory cannot be opened or the names pass
 * READDIR_MAX_BYTES.
 *
 * lstat() of `count` entries of one open directory in a libuv pool thread:
 * fstatat(dirFd, name, AT_SYMLINK_NOFOLLOW) per name, the same as the
 * worker's lstat(dir + "/" + name) but one path component to resolve and
 * no JS object per entry. `names` is a Buffer of the names' raw bytes, each
 * followed by a NUL (names never contain NUL). `out` is a Float64Array of at
 * least count * LSTAT_FIELDS numbers; entry i gets
 *
 *   [mode, nlink, uid, gid, size, mtime seconds]   (st_mtim.tv_sec)
 *
 * or mode -1 when its lstat failed (gone since readdir(), EACCES...). Sizes
 * beyond 2^53 are approximate: the caller reads those again as bigint.
 * With FORMAT_LONG in `format`, the same pass also builds the long lines of
 * the entries that exist (vsftpd's build_dir_line() for use_localtime=NO and
 * numeric ids, or "ftp" with FORMAT_HIDE_IDS; '/' after directories with
 * FORMAT_CLASSIFY; `now` decides which dates show the year), CRLF after
 * each (" -> target" after a symbolic link, from readlinkat() on the same
 * checked name), and calls back (null, lines); the lines are null when a
 * time is outside years 1-9999 or memory ran out: the caller formats that
 * chunk. Otherwise callback(null, null) once `out` is filled. The caller
 * must keep dirFd open and leave `names` and `out` alone until then (both
 * are referenced here so the garbage collector keeps them).
 */
#include <node_api.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>

#define LSTAT_FIELDS 6
/* Entries per call: the caller works in chunks far smaller than this. */
#define LSTAT_MAX_COUNT 65536
/* Bytes of names per call: NAME_MAX (255) + NUL per entry at most. */
#define LSTAT_MAX_NAMES_BYTES ((size_t)LSTAT_MAX_COUNT * 256)

/* ------------------------------------------------------------ readdirAt */

/* Bytes of names (with their NULs) one directory may have: 8 million
 * names of 31 bytes. Beyond that the listing fails instead of growing. */
#define READDIR_MAX_BYTES ((size_t)256 * 1024 * 1024)

typedef struct {
  napi_async_work work;
  napi_ref cb;
  int dirfd;
  int sorted;
  char *names;
  size_t len, cap;
  const char *error; /* static message, or NULL */
} readdir_job;

static int readdir_append(readdir_job *j, const char *name, size_t n) {
  if (j->len + n + 1 > j->cap) {
    size_t cap = j->cap == 0 ? 64 * 1024 : j->cap * 2;
    while (cap < j->len + n + 1) cap *= 2;
    if (cap > READDIR_MAX_BYTES) cap = READDIR_MAX_BYTES;
    if (j->len + n + 1 > cap) return 0;
    char *p = realloc(j->names, cap);
    if (p == NULL) return 0;
    j->names = p;
    j->cap = cap;
  }
  memcpy(j->names + j->len, name, n + 1);
  j->len += n + 1;
  return 1;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Put j->names in strcmp() order. On allocation failure: an error (the
 * caller then reads the names its own way). */
static void readdir_sort(readdir_job *j) {
  size_t n = 0;
  for (size_t at = 0; at < j->len; at += strlen(j->names + at) + 1) n++;
  if (n < 2) return;
  const char **index = malloc(n * sizeof *index);
  char *out = malloc(j->len);
  if (index == NULL || out == NULL) {
    free(index);
    free(out);
    j->error = "readdirAt: out of memory";
    return;
  }
  size_t i = 0;
  for (size_t at = 0; at < j->len; at += strlen(j->names + at) + 1) index[i++] = j->names + at;
  qsort(index, n, sizeof *index, compare_names);
  size_t len = 0;
  for (i = 0; i < n; i++) {
    size_t l = strlen(index[i]) + 1;
    memcpy(out + len, index[i], l);
    len += l;
  }
  free(index);
  free(j->names);
  j->names = out;
  j->cap = j->len;
}

static void readdir_execute(napi_env env, void *data) {
  (void)env;
  readdir_job *j = data;
  /* SECURITY: "." relative to the descriptor the caller opened: the same
   * directory, never a path of its own. O_NOFOLLOW is moot for "." but
   * states that nothing is followed here. */
  int fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    j->error = "readdirAt: cannot open the directory";
    return;
  }
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    j->error = "readdirAt: cannot read the directory";
    return;
  }
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (e == NULL) break; /* the end, or an error: either ends the list */
    const char *n = e->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
    if (!readdir_append(j, n, strlen(n))) {
      j->error = "readdirAt: too many names";
      break;
    }
  }
  closedir(d);
  if (j->error == NULL && j->sorted) readdir_sort(j);
}

static void readdir_complete(napi_env env, napi_status status, void *data) {
  readdir_job *j = data;
  napi_value cb, undef, argv[2];
  napi_get_reference_value(env, j->cb, &cb);
  napi_get_undefined(env, &undef);
  if (status != napi_ok) j->error = "readdirAt: async work cancelled";
  if (j->error != NULL) {
    napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &argv[0]);
    napi_get_null(env, &argv[1]);
  } else {
    void *copy = NULL;
    napi_get_null(env, &argv[0]);
    if (napi_create_buffer_copy(env, j->len, j->len > 0 ? j->names : "", &copy, &argv[1]) != napi_ok) {
      napi_create_string_utf8(env, "readdirAt: out of memory", NAPI_AUTO_LENGTH, &argv[0]);
      napi_get_null(env, &argv[1]);
    }
  }
  napi_delete_reference(env, j->cb);
  napi_delete_async_work(env, j->work);
  free(j->names);
  free(j);
  if (cb != NULL) napi_call_function(env, undef, cb, 2, argv, NULL);
}

static napi_value ReaddirAt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], name;
  int32_t fd;
  bool sorted;
  napi_valuetype cb_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_bool(env, argv[1], &sorted) != napi_ok ||
      napi_typeof(env, argv[2], &cb_type) != napi_ok || cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "readdirAt(dirFd >= 0, sorted: boolean, callback)");
    return NULL;
  }
  readdir_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->dirfd = fd;
  j->sorted = sorted ? 1 : 0;
  if (napi_create_reference(env, argv[2], 1, &j->cb) != napi_ok ||
      napi_create_string_utf8(env, "tsftpd:readdirAt", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, readdir_execute, readdir_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    if (j->work != NULL) napi_delete_async_work(env, j->work);
    if (j->cb != NULL) napi_delete_reference(env, j->cb);
    free(j);
    napi_throw_error(env, NULL, "could not queue readdirAt work");
  }
  return NULL;
}

/* -------------------------------------------------------------- lstatAt */

/* lstatAt()'s `format` flags. */
#define FORMAT_LONG 1     /* also build the long lines (vsftpd's build_dir_line) */
#define FORMAT_HIDE_IDS 2 /* owner and group "ftp" (hide_ids) */
#define FORMAT_CLASSIFY 4 /* '/' after directories (-F) */
/* vsftpd: older than this (or in the future) shows the year. */
#define SIX_MONTHS_SECONDS (60L * 60 * 24 * 182)
/* Modification times formatted here: years 1 to 9999 (the JavaScript
 * formatter takes any chunk with a time outside, so that both agree). */
#define MTIME_MIN (-62135596800LL)
#define MTIME_MAX (253402300799LL)

typedef struct {
  napi_async_work work;
  napi_ref cb, names_ref, out_ref;
  int dirfd;
  int format;
  int64_t now;
  const char *names;
  size_t names_len;
  double *out;
  size_t count;
  /* the lines (FORMAT_LONG), malloc'd; NULL when not asked for or when the
   * chunk has to be formatted by the caller */
  char *text;
  size_t text_len, text_cap;
  int text_failed;
  /* the last date column made (format_date) */
  char date[40];
  size_t date_len;
  int64_t date_minute;
  int date_old;
} lstat_job;

/* Room for `n` more bytes of text, or 0 (the chunk is then formatted by the caller). */
static int text_reserve(lstat_job *j, size_t n) {
  if (j->text_failed) return 0;
  if (j->text_len + n <= j->text_cap) return 1;
  size_t cap = j->text_cap == 0 ? 96 * 1024 : j->text_cap * 2;
  while (cap < j->text_len + n) cap *= 2;
  char *p = realloc(j->text, cap);
  if (p == NULL) {
    j->text_failed = 1;
    return 0;
  }
  j->text = p;
  j->text_cap = cap;
  return 1;
}

/* statbuf_get_perms(): type letter ('?' when unknown) and rwx with s/S/t/T. */
static void format_perms(mode_t m, char *b) {
  switch (m & S_IFMT) {
    case S_IFREG: b[0] = '-'; break;
    case S_IFDIR: b[0] = 'd'; break;
    case S_IFLNK: b[0] = 'l'; break;
    case S_IFIFO: b[0] = 'p'; break;
    case S_IFSOCK: b[0] = 's'; break;
    case S_IFCHR: b[0] = 'c'; break;
    case S_IFBLK: b[0] = 'b'; break;
    default: b[0] = '?'; break;
  }
  b[1] = m & 0400 ? 'r' : '-';
  b[2] = m & 0200 ? 'w' : '-';
  b[3] = m & 04000 ? (m & 0100 ? 's' : 'S') : (m & 0100 ? 'x' : '-');
  b[4] = m & 040 ? 'r' : '-';
  b[5] = m & 020 ? 'w' : '-';
  b[6] = m & 02000 ? (m & 010 ? 's' : 'S') : (m & 010 ? 'x' : '-');
  b[7] = m & 04 ? 'r' : '-';
  b[8] = m & 02 ? 'w' : '-';
  b[9] = m & 01000 ? (m & 01 ? 't' : 'T') : (m & 01 ? 'x' : '-');
  b[10] = '\0';
}

static const char MONTHS[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Decimal digits of v, right-aligned in at least `width` columns (spaces
 * before) or left-aligned (spaces after): printf's "%*ju" / "%-*ju". */
static char *put_uint(char *w, uintmax_t v, int width, int left) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (!left)
    for (int i = n; i < width; i++) *w++ = ' ';
  for (int i = n - 1; i >= 0; i--) *w++ = digits[i];
  if (left)
    for (int i = n; i < width; i++) *w++ = ' ';
  return w;
}

/* The date column and the space after it ("%b %d %H:%M " or "%b %d  %Y "),
 * remembered per minute and old/recent (entries of a directory share them
 * in runs). 0 when outside years 1-9999. */
static int format_date(lstat_job *j, int64_t t, const char **out, size_t *len) {
  int old = t > j->now || j->now - t > SIX_MONTHS_SECONDS;
  int64_t minute = t >= 0 ? t / 60 : -((-t + 59) / 60);
  if (j->date_len > 0 && minute == j->date_minute && old == j->date_old) {
    *out = j->date;
    *len = j->date_len;
    return 1;
  }
  if (t < MTIME_MIN || t > MTIME_MAX) return 0;
  struct tm tm;
  time_t tt = (time_t)t;
  if (gmtime_r(&tt, &tm) == NULL || tm.tm_mon < 0 || tm.tm_mon > 11) return 0;
  int n = old ? snprintf(j->date, sizeof j->date, "%s %02d  %d ", MONTHS[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900)
              : snprintf(j->date, sizeof j->date, "%s %02d %02d:%02d ", MONTHS[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                         tm.tm_min);
  if (n < 0 || (size_t)n >= sizeof j->date) return 0;
  j->date_minute = minute;
  j->date_old = old;
  j->date_len = (size_t)n;
  *out = j->date;
  *len = j->date_len;
  return 1;
}

/* One long line (the same bytes as lsformat.ts with use_localtime=NO and
 * numeric or hidden ids), CRLF-terminated. 0 when it cannot be made here. */
static int format_line(lstat_job *j, const char *name, size_t len, const struct stat *st) {
  const char *date;
  size_t date_len;
  if (!format_date(j, (int64_t)st->st_mtim.tv_sec, &date, &date_len)) return 0;
  /* " -> target" for a symbolic link (none when readlink fails or is empty),
   * '/' after a directory with -F. */
  char target[4096];
  ssize_t tlen = 0;
  if (S_ISLNK(st->st_mode)) {
    tlen = readlinkat(j->dirfd, name, target, sizeof target);
    if (tlen < 0 || (size_t)tlen >= sizeof target) tlen = 0;
  }
  int slash = (j->format & FORMAT_CLASSIFY) && S_ISDIR(st->st_mode);
  /* perms, 4 numbers of at most 20 digits or 8-column fields, spaces */
  size_t most = 11 + 4 * 21 + 4 + date_len + len + (tlen > 0 ? 4 + (size_t)tlen : 0) + 3;
  if (!text_reserve(j, most)) return 0;
  char *w = j->text + j->text_len;
  format_perms(st->st_mode, w);
  w += 10;
  *w++ = ' ';
  w = put_uint(w, (uintmax_t)st->st_nlink, 4, 0);
  *w++ = ' ';
  if (j->format & FORMAT_HIDE_IDS) {
    memcpy(w, "ftp      ftp      ", 18);
    w += 18;
  } else {
    w = put_uint(w, (uintmax_t)st->st_uid, 8, 1);
    *w++ = ' ';
    w = put_uint(w, (uintmax_t)st->st_gid, 8, 1);
    *w++ = ' ';
  }
  /* st_size is never negative for the files lstat() reports. */
  w = put_uint(w, st->st_size < 0 ? 0 : (uintmax_t)st->st_size, 8, 0);
  *w++ = ' ';
  memcpy(w, date, date_len);
  w += date_len;
  memcpy(w, name, len);
  w += len;
  if (tlen > 0) {
    memcpy(w, " -> ", 4);
    memcpy(w + 4, target, (size_t)tlen);
    w += 4 + tlen;
  }
  if (slash) *w++ = '/';
  *w++ = '\r';
  *w++ = '\n';
  j->text_len = (size_t)(w - j->text);
  return 1;
}

static void lstat_execute(napi_env env, void *data) {
  (void)env;
  lstat_job *j = data;
  const char *p = j->names;
  const char *end = j->names + j->names_len;
  for (size_t i = 0; i < j->count; i++) {
    double *o = j->out + i * LSTAT_FIELDS;
    /* LstatAt() checked that there are `count` NUL-terminated names. */
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    size_t len = (size_t)(nul - p);
    struct stat st;
    /* SECURITY: a name is one component of the open directory (readdir()
     * never returns "" or a '/'); anything else would be a path, so it is
     * reported as failed instead of being looked up. */
    if (len == 0 || memchr(p, '/', len) != NULL ||
        fstatat(j->dirfd, p, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      o[0] = -1;
      o[1] = o[2] = o[3] = o[4] = o[5] = 0;
    } else {
      o[0] = (double)st.st_mode;
      o[1] = (double)st.st_nlink;
      o[2] = (double)st.st_uid;
      o[3] = (double)st.st_gid;
      o[4] = (double)st.st_size;
      o[5] = (double)st.st_mtim.tv_sec;
      if ((j->format & FORMAT_LONG) && !j->text_failed && !format_line(j, p, len, &st)) j->text_failed = 1;
    }
    p = nul + 1;
  }
}

static void lstat_complete(napi_env env, napi_status status, void *data) {
  lstat_job *j = data;
  napi_value cb, undef, argv[2];
  napi_get_reference_value(env, j->cb, &cb);
  napi_get_undefined(env, &undef);
  napi_get_null(env, &argv[1]);
  if (status == napi_ok) {
    napi_get_null(env, &argv[0]);
    if ((j->format & FORMAT_LONG) && !j->text_failed) {
      void *copy = NULL;
      if (napi_create_buffer_copy(env, j->text_len, j->text_len > 0 ? j->text : "", &copy, &argv[1]) != napi_ok)
        napi_get_null(env, &argv[1]);
    }
  } else {
    napi_create_string_utf8(env, "lstatAt: async work cancelled", NAPI_AUTO_LENGTH, &argv[0]);
  }
  napi_delete_reference(env, j->cb);
  napi_delete_reference(env, j->names_ref);
  napi_delete_reference(env, j->out_ref);
  napi_delete_async_work(env, j->work);
  free(j->text);
  free(j);
  if (cb != NULL) napi_call_function(env, undef, cb, 2, argv, NULL);
}

static napi_value usage(napi_env env) {
  napi_throw_type_error(env, NULL,
                        "lstatAt(dirFd >= 0, names: Buffer of count NUL-terminated names, count "
                        "1..65536, out: Float64Array of count * 6, format flags 0..7, now: integer "
                        "seconds, callback)");
  return NULL;
}

static napi_value LstatAt(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], name;
  int32_t fd, format;
  int64_t now;
  uint32_t count;
  bool is_buffer = false, is_typedarray = false;
  void *names = NULL, *out = NULL;
  size_t names_len = 0, out_len = 0, offset = 0;
  napi_typedarray_type type;
  napi_value arraybuffer;
  napi_valuetype cb_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7) return usage(env);
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return usage(env);
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &names, &names_len) != napi_ok ||
      names_len > LSTAT_MAX_NAMES_BYTES)
    return usage(env);
  if (napi_get_value_uint32(env, argv[2], &count) != napi_ok || count == 0 || count > LSTAT_MAX_COUNT)
    return usage(env);
  if (napi_is_typedarray(env, argv[3], &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, argv[3], &type, &out_len, &out, &arraybuffer, &offset) != napi_ok ||
      type != napi_float64_array || out_len < (size_t)count * LSTAT_FIELDS)
    return usage(env);
  if (napi_get_value_int32(env, argv[4], &format) != napi_ok || format < 0 || format > 7) return usage(env);
  if (napi_get_value_int64(env, argv[5], &now) != napi_ok) return usage(env);
  if (napi_typeof(env, argv[6], &cb_type) != napi_ok || cb_type != napi_function) return usage(env);
  /* Exactly `count` names, each NUL-terminated, and nothing after them:
   * lstat_execute() then never reads past the buffer. */
  const char *p = names;
  const char *end = p + names_len;
  for (uint32_t i = 0; i < count; i++) {
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    if (nul == NULL) return usage(env);
    p = nul + 1;
  }
  if (p != end) return usage(env);

  lstat_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->dirfd = fd;
  j->format = format;
  j->now = now;
  j->names = names;
  j->names_len = names_len;
  j->out = out;
  j->count = count;
  if (napi_create_reference(env, argv[6], 1, &j->cb) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &j->names_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &j->out_ref) != napi_ok ||
      napi_create_string_utf8(env, "tsftpd:lstatAt", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, lstat_execute, lstat_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    if (j->work != NULL) napi_delete_async_work(env, j->work);
    if (j->cb != NULL) napi_delete_reference(env, j->cb);
    if (j->names_ref != NULL) napi_delete_reference(env, j->names_ref);
    if (j->out_ref != NULL) napi_delete_reference(env, j->out_ref);
    free(j);
    napi_throw_error(env, NULL, "could not queue lstatAt work");
  }
  return NULL;
}

napi_status tsftpd_register_listing(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"readdirAt", NULL, ReaddirAt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lstatAt", NULL, LstatAt, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
