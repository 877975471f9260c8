/*
 * rust_async_executor_uv.h -- the extern_executor crate's header of its
 * built-in libuv driver, on exco: programs written for the crate's
 * example_uv include this name.  rust_async_executor_uv_init() is
 * declared, and documented, in <rust_async_executor.h>, which this
 * includes; it lives in libexco-uv (pkg-config exco-uv).
 */
#ifndef RUST_ASYNC_EXECUTOR_UV_H
#define RUST_ASYNC_EXECUTOR_UV_H

#include <rust_async_executor.h>

#endif /* RUST_ASYNC_EXECUTOR_UV_H */
