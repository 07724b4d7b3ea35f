/*
 * CHECK(call): an N-API call that fails throws a JavaScript error and
 * returns NULL from the calling napi_callback. Shared by the addon's files.
 */
#ifndef TSFTPD_CHECK_H
#define TSFTPD_CHECK_H

#include <node_api.h>

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "tsftpd_native: N-API call failed");     \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

#endif
