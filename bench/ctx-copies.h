/*
 * ctx-copies.h -- which context-switch backends exco-bench compiles a
 * second copy of, for W6.
 *
 * libexco is built with one backend.  To compare both in one binary, the
 * bench compiles each backend's source file again with its symbols
 * renamed by per-target -D flags (see bench/local.mk): the ucontext one
 * everywhere, the assembly one where it exists (the same CPUs and object
 * format that configure accepts for --with-context=asm).  This header is
 * also read by ctx-asm.S, so it holds preprocessor lines only.
 */
#ifndef EXCO_BENCH_CTX_COPIES_H
#define EXCO_BENCH_CTX_COPIES_H

#if (defined(__x86_64__) || defined(__aarch64__)) && defined(__ELF__) &&       \
    !defined(__APPLE__)
#define BENCH_HAVE_ASM_COPY 1
#endif

/* Switching stacks behind a sanitizer's back gives false reports, so the
 * raw copies are left out of sanitizer builds (the library's own switch,
 * which tells the sanitizers, is still measured). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_CTX_SANITIZED 1
#endif

#endif
