// glibc's malloc tuning (not exposed by Swift's Glibc module).
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

// Frames and data sets of a few hundred KB are allocated and freed for every file a pipeline
// transcodes: serve them from the heap instead of a fresh mmap each time (and its page faults).
static inline void ferry_tune_malloc(void) {
#if defined(M_MMAP_THRESHOLD)
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}
