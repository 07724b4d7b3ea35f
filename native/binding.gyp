{
  "targets": [
    {
      "target_name": "tsftpd_native",
      "sources": ["tsftpd_native.c", "transfer.c", "listing.c", "zygote.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags!": ["-O3", "-O0", "-Wno-unused-parameter"],
      "cflags": [
        "-Wall", "-Wextra", "-Werror", "-O2",
        "-fstack-protector-strong",
        "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=2"
      ],
      "ldflags": ["-Wl,-z,relro", "-Wl,-z,now"],
      "libraries": ["-lpam", "-lcrypt"]
    }
  ]
}
