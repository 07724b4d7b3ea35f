/*
 * Directory-listing helpers for the worker's LIST/NLST/STAT fast path.
 * Registered from Init() in tsftpd_native.c.
 *
 *   lstatAt(dirFd, names, count, out, callback)   async, thread pool
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
 * callback(null) once `out` is filled. The caller must keep dirFd open and
 * leave `names` and `out` alone until then (both are referenced here so the
 * garbage collector keeps them).
 */
#include <node_api.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LSTAT_FIELDS 6
/* Entries per call: the caller works in chunks far smaller than this. */
#define LSTAT_MAX_COUNT 65536
/* Bytes of names per call: NAME_MAX (255) + NUL per entry at most. */
#define LSTAT_MAX_NAMES_BYTES ((size_t)LSTAT_MAX_COUNT * 256)

typedef struct {
  napi_async_work work;
  napi_ref cb, names_ref, out_ref;
  int dirfd;
  const char *names;
  size_t names_len;
  double *out;
  size_t count;
} lstat_job;

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
    }
    p = nul + 1;
  }
}

static void lstat_complete(napi_env env, napi_status status, void *data) {
  lstat_job *j = data;
  napi_value cb, undef, arg;
  napi_get_reference_value(env, j->cb, &cb);
  napi_get_undefined(env, &undef);
  if (status == napi_ok) {
    napi_get_null(env, &arg);
  } else {
    napi_create_string_utf8(env, "lstatAt: async work cancelled", NAPI_AUTO_LENGTH, &arg);
  }
  napi_delete_reference(env, j->cb);
  napi_delete_reference(env, j->names_ref);
  napi_delete_reference(env, j->out_ref);
  napi_delete_async_work(env, j->work);
  free(j);
  if (cb != NULL) napi_call_function(env, undef, cb, 1, &arg, NULL);
}

static napi_value usage(napi_env env) {
  napi_throw_type_error(env, NULL,
                        "lstatAt(dirFd >= 0, names: Buffer of count NUL-terminated names, count "
                        "1..65536, out: Float64Array of count * 6, callback)");
  return NULL;
}

static napi_value LstatAt(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], name;
  int32_t fd;
  uint32_t count;
  bool is_buffer = false, is_typedarray = false;
  void *names = NULL, *out = NULL;
  size_t names_len = 0, out_len = 0, offset = 0;
  napi_typedarray_type type;
  napi_value arraybuffer;
  napi_valuetype cb_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) return usage(env);
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
  if (napi_typeof(env, argv[4], &cb_type) != napi_ok || cb_type != napi_function) return usage(env);
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
  j->names = names;
  j->names_len = names_len;
  j->out = out;
  j->count = count;
  if (napi_create_reference(env, argv[4], 1, &j->cb) != napi_ok ||
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
      {"lstatAt", NULL, LstatAt, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
