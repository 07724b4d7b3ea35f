/*
 * Directory-listing helpers for the worker's LIST/NLST/STAT fast path.
 * Registered from Init() in tsftpd_native.c.
 */
#include <node_api.h>

napi_status tsftpd_register_listing(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return napi_ok;
}
