/*
 * ctx-asm.S -- a second copy of exco's assembly context switch for the
 * CPU being built for, assembled with its symbols renamed (bench/local.mk
 * passes -Dexco__ctx_switch=bench_asm_switch and so on), so W6 can
 * measure it whatever backend libexco was configured with.
 */
#include "ctx-copies.h"

#if defined(BENCH_HAVE_ASM_COPY) && !defined(BENCH_CTX_SANITIZED)
#if defined(__x86_64__)
#include "../src/context-x86_64.S"
#elif defined(__aarch64__)
#include "../src/context-aarch64.S"
#endif
#elif defined(__ELF__)
  .section .note.GNU-stack, "", %progbits
#endif
