/* The kernels' thread pool: the caller and n_threads - 1 helpers claim chunk indices from one atomic
 * ticket; the caller waits only for chunks a helper has claimed, never for a helper to show up.
 *
 * OpenMP's fork/join barrier waits for every thread of the team; on a shared 2-core machine a
 * descheduled helper then stalls each of the ~300 parallel regions of a decode step by up to a
 * scheduler time slice. Here a helper that is late simply finds no work left. Helpers spin briefly
 * after a job, then sleep on a futex until the next one. Which thread computes a chunk never
 * changes its result: every output element belongs to exactly one chunk.
 */
#include "pool.h"

#include <immintrin.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "simd.h"

int n_threads = 1;

/* Which SIMD branch of simd.h this build took: "AVX-512 VNNI" or "AVX2". */
const char *simd_isa(void) { return SIMD_ISA; }

#define MAX_HELPERS 63
#define SPIN_ROUNDS 20000

static struct {
    _Atomic uint64_t ticket; /* generation << 32 | next chunk index */
    _Atomic uint32_t gen;
    _Atomic int64_t done;
    _Atomic int sleepers;
    void (*fn)(void *, int64_t);
    void *ctx;
    int64_t n;
    int workers; /* threads that may take part in the current job, the caller included */
} job;

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static int helpers_started = 0;

static void futex_wait(_Atomic uint32_t *addr, uint32_t expected) {
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr) {
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Claim and run chunks of generation g until none is left. */
static void work(uint32_t g, void (*fn)(void *, int64_t), void *ctx, int64_t n) {
    uint64_t t = atomic_load_explicit(&job.ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(t >> 32) != g || (int64_t)(t & 0xFFFFFFFFu) >= n) return;
        if (!atomic_compare_exchange_weak_explicit(&job.ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        fn(ctx, (int64_t)(t & 0xFFFFFFFFu));
        atomic_fetch_add_explicit(&job.done, 1, memory_order_release);
        t = atomic_load_explicit(&job.ticket, memory_order_acquire);
    }
}

static void *helper(void *arg) {
    int id = (int)(intptr_t)arg; /* 1 .. MAX_HELPERS */
    uint32_t seen = atomic_load(&job.gen);
    for (;;) {
        uint32_t g;
        int spins = 0;
        while ((g = atomic_load_explicit(&job.gen, memory_order_acquire)) == seen) {
            if (++spins < SPIN_ROUNDS) {
                _mm_pause();
                continue;
            }
            atomic_fetch_add(&job.sleepers, 1);
            if (atomic_load(&job.gen) == seen) futex_wait(&job.gen, seen);
            atomic_fetch_sub(&job.sleepers, 1);
            spins = 0;
        }
        seen = g;
        void (*fn)(void *, int64_t) = job.fn;
        void *ctx = job.ctx;
        int64_t n = job.n;
        if (id < job.workers) work(g, fn, ctx, n); /* a stale read fails the ticket check */
    }
    return NULL;
}

static void start_helpers(int count) {
    pthread_mutex_lock(&start_lock);
    for (; helpers_started < count && helpers_started < MAX_HELPERS; helpers_started++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_create(&t, &attr, helper, (void *)(intptr_t)(helpers_started + 1));
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&start_lock);
}

void set_num_threads(int n) {
    n_threads = n > 0 ? n : 1;
    start_helpers(n_threads - 1);
}

static atomic_flag busy = ATOMIC_FLAG_INIT;

/* One job at a time; a second caller meanwhile (another engine in the process) runs alone. */
void pool_run(int64_t n, void (*fn)(void *ctx, int64_t i), void *ctx) {
    if (n_threads <= 1 || n <= 1 || atomic_flag_test_and_set_explicit(&busy, memory_order_acquire)) {
        for (int64_t i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    uint32_t g = atomic_load(&job.gen) + 1;
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.workers = n_threads;
    atomic_store_explicit(&job.done, 0, memory_order_relaxed);
    atomic_store_explicit(&job.ticket, (uint64_t)g << 32, memory_order_release);
    atomic_store_explicit(&job.gen, g, memory_order_release);
    if (atomic_load(&job.sleepers) > 0) futex_wake_all(&job.gen);
    work(g, fn, ctx, n);
    while (atomic_load_explicit(&job.done, memory_order_acquire) < n) _mm_pause();
    atomic_flag_clear_explicit(&busy, memory_order_release);
}
