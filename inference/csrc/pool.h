/* A minimal thread pool for the kernels (see pool.c). */
#pragma once
#include <stdint.h>

extern int n_threads;

/* Run fn(ctx, i) for i in [0, n); the caller takes part and returns when all are done. */
void pool_run(int64_t n, void (*fn)(void *ctx, int64_t i), void *ctx);
