/*
 * tsftpd_native: the project's own small N-API addon (plain node_api.h).
 *
 *   pamAuthenticate(service, user, password, rhost, cb)  async, thread pool
 *   setNoNewPrivs() / getNoNewPrivs()                   prctl
 *   dropCapabilityBoundingSet()                         prctl PR_CAPBSET_DROP
 *   crypt(password, setting) / cryptAsync(..., cb)      libxcrypt crypt_r
 *   cryptGenSalt(prefix, rounds)                        crypt_gensalt_rn
 *
 * Bad arguments throw TypeError synchronously. Every copy of a password made
 * here is wiped with explicit_bzero before it is freed.
 */
#include <node_api.h>
#include <security/pam_appl.h>
#include <crypt.h>
#include <sys/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_NAME 128    /* user name and password, bytes */
#define MAX_SERVICE 64
#define MAX_RHOST 255
#define MAX_PATH 4095   /* a path argument, bytes (PATH_MAX - 1) */

#include "check.h"

static void wipe_free(char *s) {
  if (s != NULL) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}

/* Copy a JS string argument. Returns a malloc'd NUL-terminated string, or
 * NULL with a pending TypeError (wrong type, longer than max bytes, or an
 * embedded NUL). */
static char *get_string(napi_env env, napi_value v, const char *name, size_t max) {
  napi_valuetype t;
  size_t len = 0, got = 0;
  char msg[128];
  snprintf(msg, sizeof msg, "%s must be a string of at most %zu bytes without NUL", name, max);
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len > max) {
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  char *buf = malloc(len + 1);
  if (buf == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, buf, len + 1, &got) != napi_ok || got != len ||
      strlen(buf) != len) {
    explicit_bzero(buf, len + 1);
    free(buf);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  return buf;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return 1;
}

static int get_function(napi_env env, napi_value v, napi_ref *ref) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "callback must be a function");
    return 0;
  }
  if (napi_create_reference(env, v, 1, ref) != napi_ok) {
    napi_throw_error(env, NULL, "napi_create_reference failed");
    return 0;
  }
  return 1;
}

static void throw_errno(napi_env env, const char *what, int e) {
  char msg[256];
  const char *name = strerrorname_np(e);
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_throw_error(env, name, msg);
}

/* ------------------------------------------------------------------ PAM */

typedef struct {
  napi_async_work work;
  napi_ref cb;
  char *service, *user, *password, *rhost;
  /* results, written on the pool thread */
  int ok, code;
  const char *stage;
  char message[256];
  char result_user[MAX_NAME + 1];
} pam_job;

static int pam_conv_fn(int n, const struct pam_message **msg, struct pam_response **resp,
                       void *appdata) {
  const char *password = appdata;
  if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  struct pam_response *r = calloc((size_t)n, sizeof *r);
  if (r == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < n; i++) {
    switch (msg[i]->msg_style) {
      case PAM_PROMPT_ECHO_OFF:
        if ((r[i].resp = strdup(password)) == NULL) goto fail;
        break;
      case PAM_ERROR_MSG:
      case PAM_TEXT_INFO:
        break; /* empty response */
      default:  /* PAM_PROMPT_ECHO_ON and anything unknown: refuse */
        goto fail;
    }
  }
  *resp = r;
  return PAM_SUCCESS;
fail:
  for (int i = 0; i < n; i++) wipe_free(r[i].resp);
  free(r);
  *resp = NULL;
  return PAM_CONV_ERR;
}

static void pam_execute(napi_env env, void *data) {
  (void)env;
  pam_job *j = data;
  struct pam_conv conv = {pam_conv_fn, j->password};
  pam_handle_t *h = NULL;
  const void *item = NULL;
  j->ok = 0;
  j->stage = "start";
  int rc = pam_start(j->service, j->user, &conv, &h);
  if (rc != PAM_SUCCESS) goto out;
  if ((rc = pam_set_item(h, PAM_RHOST, j->rhost)) != PAM_SUCCESS ||
      (rc = pam_set_item(h, PAM_TTY, "ftp")) != PAM_SUCCESS ||
      (rc = pam_set_item(h, PAM_RUSER, j->user)) != PAM_SUCCESS)
    goto out;
  j->stage = "authenticate";
  if ((rc = pam_authenticate(h, PAM_DISALLOW_NULL_AUTHTOK)) != PAM_SUCCESS) goto out;
  /* Expired/locked accounts fail here; PAM_NEW_AUTHTOK_REQD is a refusal too. */
  j->stage = "acct_mgmt";
  if ((rc = pam_acct_mgmt(h, PAM_DISALLOW_NULL_AUTHTOK)) != PAM_SUCCESS) goto out;
  j->stage = "setcred";
  if ((rc = pam_setcred(h, PAM_ESTABLISH_CRED)) != PAM_SUCCESS) goto out;
  /* Modules may have rewritten the user name. */
  if ((rc = pam_get_item(h, PAM_USER, &item)) != PAM_SUCCESS) goto out;
  if (item == NULL || ((const char *)item)[0] == '\0' || strlen(item) > MAX_NAME) {
    rc = PAM_USER_UNKNOWN;
    goto out;
  }
  strcpy(j->result_user, item);
  j->ok = 1;
  j->stage = "ok";
out:
  j->code = rc;
  snprintf(j->message, sizeof j->message, "%s", pam_strerror(h, rc));
  if (h != NULL) pam_end(h, rc);
  wipe_free(j->password);
  j->password = NULL;
}

static void pam_job_free(pam_job *j) {
  wipe_free(j->password);
  free(j->service);
  free(j->user);
  free(j->rhost);
  free(j);
}

static void set_prop(napi_env env, napi_value obj, const char *key, napi_value v) {
  napi_set_named_property(env, obj, key, v);
}

static void pam_complete(napi_env env, napi_status status, void *data) {
  pam_job *j = data;
  napi_value cb, res, v, undef;
  if (status != napi_ok) {
    j->ok = 0;
    j->stage = "start";
    j->code = PAM_SYSTEM_ERR;
    snprintf(j->message, sizeof j->message, "async work cancelled");
  }
  napi_create_object(env, &res);
  napi_get_boolean(env, j->ok != 0, &v);
  set_prop(env, res, "ok", v);
  napi_create_string_utf8(env, j->ok ? j->result_user : j->user, NAPI_AUTO_LENGTH, &v);
  set_prop(env, res, "user", v);
  napi_create_string_utf8(env, j->stage, NAPI_AUTO_LENGTH, &v);
  set_prop(env, res, "stage", v);
  napi_create_int32(env, j->code, &v);
  set_prop(env, res, "code", v);
  napi_create_string_utf8(env, j->message, NAPI_AUTO_LENGTH, &v);
  set_prop(env, res, "message", v);
  napi_get_reference_value(env, j->cb, &cb);
  napi_get_undefined(env, &undef);
  napi_delete_reference(env, j->cb);
  napi_delete_async_work(env, j->work);
  pam_job_free(j);
  napi_call_function(env, undef, cb, 1, &res, NULL);
}

static napi_value PamAuthenticate(napi_env env, napi_callback_info info) {
  napi_value argv[5], name;
  if (!get_args(env, info, 5, argv)) return NULL;
  pam_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if ((j->service = get_string(env, argv[0], "service", MAX_SERVICE)) == NULL ||
      (j->user = get_string(env, argv[1], "user", MAX_NAME)) == NULL ||
      (j->password = get_string(env, argv[2], "password", MAX_NAME)) == NULL ||
      (j->rhost = get_string(env, argv[3], "rhost", MAX_RHOST)) == NULL)
    goto bad;
  if (j->service[0] == '\0' || strspn(j->service, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                  "abcdefghijklmnopqrstuvwxyz"
                                                  "0123456789._-") != strlen(j->service)) {
    napi_throw_type_error(env, NULL, "service must match [A-Za-z0-9._-]+");
    goto bad;
  }
  if (j->user[0] == '\0') {
    napi_throw_type_error(env, NULL, "user must not be empty");
    goto bad;
  }
  if (!get_function(env, argv[4], &j->cb)) goto bad;
  if (napi_create_string_utf8(env, "tsftpd:pamAuthenticate", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, pam_execute, pam_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    if (j->work != NULL) napi_delete_async_work(env, j->work);
    napi_delete_reference(env, j->cb);
    napi_throw_error(env, NULL, "could not queue PAM work");
    goto bad;
  }
  return NULL;
bad:
  pam_job_free(j);
  return NULL;
}

/* ---------------------------------------------------------------- prctl */

static napi_value SetNoNewPrivs(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno(env, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
  return NULL;
}

static napi_value GetNoNewPrivs(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (r < 0) {
    throw_errno(env, "prctl(PR_GET_NO_NEW_PRIVS)", errno);
    return NULL;
  }
  CHECK(napi_get_boolean(env, r == 1, &v));
  return v;
}

/*
 * setuidRootSucceeds(): whether setuid(0) works now. The jail's last check
 * (sys/jail.ts): after the drop to a non-root uid it must not. A boolean,
 * not an exception: a failed JS setuid(0) builds an Error with a stack
 * trace, which cost every session ~0.1 ms for the expected outcome.
 */
static napi_value SetuidRootSucceeds(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  CHECK(napi_get_boolean(env, setuid(0) == 0, &v));
  return v;
}

/*
 * chrootHere(path): chdir(path), then chroot("."), as vsftpd enters its
 * jail. The root is the directory the chdir reached: the
 * path is resolved once, so nothing renamed or swapped between two lookups
 * can move the jail (posix's chroot(path) resolved it twice). A failure
 * throws an Error naming the call that failed ("chdir", "chroot").
 */
static napi_value ChrootHere(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = get_string(env, argv[0], "path", MAX_PATH);
  if (path == NULL) return NULL;
  const char *failed = NULL;
  if (path[0] != '/') napi_throw_type_error(env, NULL, "chrootHere(absolute path)");
  else if (chdir(path) != 0) failed = "chdir";
  /* The working directory is the new root itself: no chdir("/") needed. */
  else if (chroot(".") != 0) failed = "chroot";
  int err = errno;
  free(path);
  if (failed != NULL) throw_errno(env, failed, err);
  return NULL;
}

/*
 * accessErrno(path, mode): access(2), returning 0 or the errno (the jail's
 * writable-root check expects EACCES; an exception would be the norm).
 */
static napi_value AccessErrno(napi_env env, napi_callback_info info) {
  napi_value argv[2], v;
  int32_t mode = 0;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (napi_get_value_int32(env, argv[1], &mode) != napi_ok) {
    napi_throw_type_error(env, NULL, "accessErrno(path, mode)");
    return NULL;
  }
  char *path = get_string(env, argv[0], "path", MAX_PATH);
  if (path == NULL) return NULL;
  if (path[0] == '\0') {
    free(path);
    napi_throw_type_error(env, NULL, "accessErrno(path, mode): empty path");
    return NULL;
  }
  int r = access(path, mode) == 0 ? 0 : errno;
  free(path);
  CHECK(napi_create_int32(env, r, &v));
  return v;
}

static int read_cap_last_cap(void) {
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  int last = -1;
  if (f == NULL) return -1;
  if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63) last = -1;
  fclose(f);
  return last;
}

/*
 * Read when the addon loads (Init): in the zygote, once, rather than by
 * every worker it forks (an fopen of /proc per session). -1: unknown.
 */
static int g_cap_last_cap = -1;

static napi_value DropCapabilityBoundingSet(napi_env env, napi_callback_info info) {
  (void)info;
  int last = g_cap_last_cap;
  char what[64];
  for (int cap = 0; cap <= 63; cap++) {
    if (last >= 0 && cap > last) break;
    if (last < 0 && prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) < 0) {
      if (errno == EINVAL && cap > 0) break; /* past the last capability */
      snprintf(what, sizeof what, "prctl(PR_CAPBSET_READ, %d)", cap);
      throw_errno(env, what, errno);
      return NULL;
    }
    if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) != 0) {
      snprintf(what, sizeof what, "prctl(PR_CAPBSET_DROP, %d)", cap);
      throw_errno(env, what, errno);
      return NULL;
    }
  }
  return NULL;
}

/* ---------------------------------------------------------------- crypt */

/* Returns a malloc'd hash, or NULL on failure (NULL result or '*' token). */
static char *do_crypt(const char *password, const char *setting) {
  struct crypt_data *cd = calloc(1, sizeof *cd);
  char *out = NULL;
  if (cd == NULL) return NULL;
  const char *h = crypt_r(password, setting, cd);
  if (h != NULL && h[0] != '*' && h[0] != '\0') out = strdup(h);
  explicit_bzero(cd, sizeof *cd);
  free(cd);
  return out;
}

static napi_value string_or_null(napi_env env, const char *s) {
  napi_value v;
  if (s == NULL) CHECK(napi_get_null(env, &v));
  else CHECK(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v));
  return v;
}

static napi_value Crypt(napi_env env, napi_callback_info info) {
  napi_value argv[2], ret;
  char *password = NULL, *setting = NULL, *h = NULL;
  if (!get_args(env, info, 2, argv)) return NULL;
  if ((password = get_string(env, argv[0], "password", CRYPT_MAX_PASSPHRASE_SIZE - 1)) == NULL ||
      (setting = get_string(env, argv[1], "setting", CRYPT_OUTPUT_SIZE - 1)) == NULL) {
    wipe_free(password);
    return NULL;
  }
  h = do_crypt(password, setting);
  wipe_free(password);
  free(setting);
  ret = string_or_null(env, h);
  free(h);
  return ret;
}

typedef struct {
  napi_async_work work;
  napi_ref cb;
  char *password, *setting, *result;
} crypt_job;

static void crypt_execute(napi_env env, void *data) {
  (void)env;
  crypt_job *j = data;
  j->result = do_crypt(j->password, j->setting);
  wipe_free(j->password);
  j->password = NULL;
}

static void crypt_complete(napi_env env, napi_status status, void *data) {
  crypt_job *j = data;
  napi_value cb, undef, v;
  if (status != napi_ok) {
    free(j->result);
    j->result = NULL;
  }
  if (j->result == NULL) napi_get_null(env, &v);
  else napi_create_string_utf8(env, j->result, NAPI_AUTO_LENGTH, &v);
  napi_get_reference_value(env, j->cb, &cb);
  napi_get_undefined(env, &undef);
  napi_delete_reference(env, j->cb);
  napi_delete_async_work(env, j->work);
  wipe_free(j->password);
  free(j->setting);
  free(j->result);
  free(j);
  napi_call_function(env, undef, cb, 1, &v, NULL);
}

static napi_value CryptAsync(napi_env env, napi_callback_info info) {
  napi_value argv[3], name;
  if (!get_args(env, info, 3, argv)) return NULL;
  crypt_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if ((j->password = get_string(env, argv[0], "password", CRYPT_MAX_PASSPHRASE_SIZE - 1)) == NULL ||
      (j->setting = get_string(env, argv[1], "setting", CRYPT_OUTPUT_SIZE - 1)) == NULL ||
      !get_function(env, argv[2], &j->cb))
    goto bad;
  if (napi_create_string_utf8(env, "tsftpd:cryptAsync", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, crypt_execute, crypt_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    if (j->work != NULL) napi_delete_async_work(env, j->work);
    napi_delete_reference(env, j->cb);
    napi_throw_error(env, NULL, "could not queue crypt work");
    goto bad;
  }
  return NULL;
bad:
  wipe_free(j->password);
  free(j->setting);
  free(j);
  return NULL;
}

static napi_value CryptGenSalt(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  napi_valuetype t;
  double rounds = 0;
  char out[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!get_args(env, info, 2, argv)) return NULL;
  char *prefix = get_string(env, argv[0], "prefix", 32);
  if (prefix == NULL) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, argv[1], &rounds) != napi_ok || !(rounds >= 0) ||
      rounds > 4294967295.0 || rounds != (double)(unsigned long)rounds) {
    free(prefix);
    napi_throw_type_error(env, NULL, "rounds must be an integer in [0, 2^32-1]");
    return NULL;
  }
  /* NULL random bytes: libxcrypt draws them from the OS (getentropy). */
  const char *s = crypt_gensalt_rn(prefix, (unsigned long)rounds, NULL, 0, out, sizeof out);
  free(prefix);
  return string_or_null(env, (s == NULL || s[0] == '*') ? NULL : s);
}

/* ----------------------------------------------------------------- init */

/*
 * lock_upload_files: whole-file fcntl record locks, as vsftpd takes them
 * (a write lock while uploading, a read lock while downloading). F_SETLKW
 * waits for a conflicting lock to go, so it runs on libuv's pool; the
 * callback gets 0 or an errno. fd must be an open descriptor (>= 0).
 */
typedef struct {
  napi_async_work work;
  napi_ref cb;
  int fd;
  short type;
  int err;
} lock_job;

static void lock_execute(napi_env env, void *data) {
  (void)env;
  lock_job *j = data;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = j->type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  int r;
  do {
    r = fcntl(j->fd, F_SETLKW, &fl);
  } while (r != 0 && errno == EINTR);
  j->err = r == 0 ? 0 : errno;
}

static void lock_complete(napi_env env, napi_status status, void *data) {
  lock_job *j = data;
  napi_value cb, undef, v;
  napi_create_int32(env, status == napi_ok ? j->err : EIO, &v);
  napi_get_reference_value(env, j->cb, &cb);
  napi_get_undefined(env, &undef);
  napi_delete_reference(env, j->cb);
  napi_delete_async_work(env, j->work);
  free(j);
  napi_call_function(env, undef, cb, 1, &v, NULL);
}

/*
 * The (fd, kind) arguments both lock calls take; false (TypeError thrown)
 * when they are not an fd >= 0 and 0 (read lock) or 1 (write lock).
 */
static bool get_lock_args(napi_env env, napi_value *argv, int32_t *fd, short *type, const char *usage) {
  int32_t kind;
  if (napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0 ||
      napi_get_value_int32(env, argv[1], &kind) != napi_ok || (kind != 0 && kind != 1)) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  *type = kind == 1 ? F_WRLCK : F_RDLCK;
  return true;
}

/* lockFile(fd, kind, callback): kind 0 = read lock, 1 = write lock. */
static napi_value LockFile(napi_env env, napi_callback_info info) {
  napi_value argv[3], name;
  int32_t fd;
  short type;
  if (!get_args(env, info, 3, argv)) return NULL;
  if (!get_lock_args(env, argv, &fd, &type, "lockFile(fd >= 0, kind 0|1, callback)")) return NULL;
  lock_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->fd = fd;
  j->type = type;
  if (!get_function(env, argv[2], &j->cb)) {
    free(j);
    return NULL;
  }
  if (napi_create_string_utf8(env, "tsftpd:lockFile", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, lock_execute, lock_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    if (j->work != NULL) napi_delete_async_work(env, j->work);
    napi_delete_reference(env, j->cb);
    free(j);
    napi_throw_error(env, NULL, "could not queue lock work");
  }
  return NULL;
}

/*
 * tryLockFile(fd, kind): the same lock without waiting (F_SETLK): 0, or
 * the errno (EAGAIN or EACCES: someone else holds a conflicting lock).
 * The uncontended case, nearly every transfer, then costs no trip
 * through libuv's pool.
 */
static napi_value TryLockFile(napi_env env, napi_callback_info info) {
  napi_value argv[2], v;
  int32_t fd;
  short type;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (!get_lock_args(env, argv, &fd, &type, "tryLockFile(fd >= 0, kind 0|1)")) return NULL;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  int r = fcntl(fd, F_SETLK, &fl);
  CHECK(napi_create_int32(env, r == 0 ? 0 : errno, &v));
  return v;
}

/* unlockFile(fd): release this process's lock on fd (closing it does too). */
static napi_value UnlockFile(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "unlockFile(fd >= 0)");
    return NULL;
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  (void)fcntl(fd, F_SETLK, &fl);
  return NULL;
}

/* Defined in transfer.c, listing.c and zygote.c. */
napi_status tsftpd_register_transfer(napi_env env, napi_value exports);
napi_status tsftpd_register_listing(napi_env env, napi_value exports);
napi_status tsftpd_register_zygote(napi_env env, napi_value exports);

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pamAuthenticate", NULL, PamAuthenticate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNoNewPrivs", NULL, SetNoNewPrivs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getNoNewPrivs", NULL, GetNoNewPrivs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropCapabilityBoundingSet", NULL, DropCapabilityBoundingSet, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"crypt", NULL, Crypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cryptAsync", NULL, CryptAsync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cryptGenSalt", NULL, CryptGenSalt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setuidRootSucceeds", NULL, SetuidRootSucceeds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"accessErrno", NULL, AccessErrno, NULL, NULL, NULL, napi_enumerable, NULL},
      {"chrootHere", NULL, ChrootHere, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lockFile", NULL, LockFile, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tryLockFile", NULL, TryLockFile, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unlockFile", NULL, UnlockFile, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  g_cap_last_cap = read_cap_last_cap();
  CHECK(tsftpd_register_transfer(env, exports));
  CHECK(tsftpd_register_listing(env, exports));
  CHECK(tsftpd_register_zygote(env, exports));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
