/*
 * context-aarch64.S -- minimal context switch for AArch64 (AAPCS64, ELF).
 * Implements src/context.h.
 *
 * A suspended context is its stack pointer; everything else it needs is
 * on its own stack, in this 176-byte frame (sp stays 16-byte aligned):
 *
 *   sp + 0    x19, x20        sp + 96   d8,  d9
 *   sp + 16   x21, x22        sp + 112  d10, d11
 *   sp + 32   x23, x24        sp + 128  d12, d13
 *   sp + 48   x25, x26        sp + 144  d14, d15
 *   sp + 64   x27, x28        sp + 160  fpcr, padding
 *   sp + 80   x29 (fp), x30 (lr)
 *
 * Only the callee-saved registers (x19-x29, the low halves d8-d15 of
 * v8-v15), the link register and fpcr are kept: exco__ctx_switch() is an
 * ordinary call, so the caller has spilled everything else.  fpsr holds
 * sticky status flags only and is not part of the callee-saved state.
 */

#define FRAME 176

/* Branch Target Identification: direct calls through a PLT or a linker
 * veneer arrive by an indirect branch, so each function starts with a
 * "bti c" landing pad when the compiler asks for BTI.  Both are hint
 * instructions (nops on cores without the feature). */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define BTI_C hint #34
#else
#define BTI_C
#endif

  .text

/*
 * void exco__ctx_switch(exco__ctx *from, exco__ctx *to);
 *   x0 = from, x1 = to.
 */
  .globl exco__ctx_switch
  .hidden exco__ctx_switch
  .type exco__ctx_switch, %function
  .p2align 4
exco__ctx_switch:
  .cfi_startproc
  BTI_C
  sub sp, sp, #FRAME
  .cfi_adjust_cfa_offset FRAME
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mrs x9, fpcr
  str x9, [sp, #160]

  /* Switch stacks: from here on we are in @to's frame. */
  mov x9, sp
  str x9, [x0]
  ldr x9, [x1]
  mov sp, x9

  ldr x9, [sp, #160]
  msr fpcr, x9
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  add sp, sp, #FRAME
  .cfi_adjust_cfa_offset -FRAME
  ret
  .cfi_endproc
  .size exco__ctx_switch, .-exco__ctx_switch

/*
 * int exco__ctx_make(exco__ctx *ctx, void *stack_lo, size_t size,
 *                    exco__ctx_entry entry, void *arg);
 *   x0 = ctx, x1 = stack_lo, x2 = size, x3 = entry, x4 = arg.
 *
 * Builds the frame above at the top of the new stack so that the first
 * switch to it returns (through x30) into exco__ctx_start with
 * x19 = entry and x20 = arg, fp = 0 (the end of the frame-pointer chain)
 * and the creator's fpcr.  The frame sits 16 bytes below the 16-byte
 * aligned stack top; those 16 bytes are zeroed as an empty frame record.
 */
  .globl exco__ctx_make
  .hidden exco__ctx_make
  .type exco__ctx_make, %function
  .p2align 4
exco__ctx_make:
  .cfi_startproc
  BTI_C
  add x9, x1, x2
  and x9, x9, #~15
  stp xzr, xzr, [x9, #-16]
  sub x9, x9, #(16 + FRAME)
  stp x3, x4, [x9, #0]       /* x19 = entry, x20 = arg */
  stp xzr, xzr, [x9, #16]
  stp xzr, xzr, [x9, #32]
  stp xzr, xzr, [x9, #48]
  stp xzr, xzr, [x9, #64]
  adrp x10, exco__ctx_start
  add x10, x10, :lo12:exco__ctx_start
  stp xzr, x10, [x9, #80]    /* x29 = 0, x30 = exco__ctx_start */
  stp xzr, xzr, [x9, #96]
  stp xzr, xzr, [x9, #112]
  stp xzr, xzr, [x9, #128]
  stp xzr, xzr, [x9, #144]
  mrs x10, fpcr
  stp x10, xzr, [x9, #160]
  str x9, [x0]
  mov w0, #0
  ret
  .cfi_endproc
  .size exco__ctx_make, .-exco__ctx_make

/*
 * First code run on a new stack, entered by exco__ctx_switch's ret with
 * sp 16-byte aligned.  Calls entry(arg); entry must leave by switching
 * away, so returning from it is a bug and aborts.  The CFI marks this as
 * the outermost frame so backtraces stop here.  It is reached only by
 * ret, which BTI does not check, so it needs no landing pad.
 */
  .type exco__ctx_start, %function
  .p2align 4
exco__ctx_start:
  .cfi_startproc
  .cfi_undefined x30
  mov x0, x20
  blr x19
  bl abort
  brk #1000
  .cfi_endproc
  .size exco__ctx_start, .-exco__ctx_start

  .section .rodata
  .globl exco__ctx_backend
  .hidden exco__ctx_backend
  .type exco__ctx_backend, %object
exco__ctx_backend:
  .asciz "asm"
  .size exco__ctx_backend, .-exco__ctx_backend

/* Tell the linker this object supports BTI and return-address signing
 * when the compiler was asked for them, so it doesn't switch off the
 * protection for the whole library.  Pointer authentication needs
 * nothing here: this code signs no return address, and each context's
 * x30 and sp are saved and restored together. */
#if (defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT) || \
    (defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT)
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define EXCO_GNU_PROP_BTI 1
#else
#define EXCO_GNU_PROP_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define EXCO_GNU_PROP_PAC 2
#else
#define EXCO_GNU_PROP_PAC 0
#endif
  .section .note.gnu.property, "a"
  .p2align 3
  .long 4            /* name size */
  .long 16           /* descriptor size */
  .long 5            /* NT_GNU_PROPERTY_TYPE_0 */
  .asciz "GNU"
  .long 0xc0000000   /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
  .long 4
  .long (EXCO_GNU_PROP_BTI | EXCO_GNU_PROP_PAC)
  .p2align 3
#endif

  .section .note.GNU-stack, "", %progbits
