/*
 * ctx.S (amd64) — context switches, Boost.Context style.
 *
 * A suspended context is a stack pointer. At it, ctx_switch has pushed the
 * SysV callee-saved state; resuming pops it and returns:
 *
 *   offset  size  contents                 (CTX_* in arch.h)
 *   0x00    4     MXCSR                    control bits are callee-saved
 *   0x04    2     x87 control word         (+2 bytes padding)
 *   0x08    8     r12
 *   0x10    8     r13
 *   0x18    8     r14
 *   0x20    8     r15
 *   0x28    8     rbx
 *   0x30    8     rbp
 *   0x38    8     return address           where the context resumes
 *   0x40          (the suspended function's frame)
 *
 * Stack-pointer rule: rsp always points into a real stack, so a signal can
 * arrive at any instruction. Alignment: a context is 16-byte aligned (entry
 * rsp is 8 mod 16; 6 pushes and 8 bytes of FP state make 64).
 */
#include "arch.h"
#include "asm.h"

	.text

/* void ctx_switch(void **save, void *to)
 * rdi = where to store the current context, rsi = context to resume. */
FUNC(ctx_switch)
	.cfi_startproc
	ENDBR
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	leaq	-8(%rsp), %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	CTX_MXCSR(%rsp)
	fnstcw	CTX_FPUCW(%rsp)
	/* Publish the context only now that it is complete. On x86-64 a plain
	 * store is a release store (TSO): a thread that reads this pointer
	 * sees the frame above. */
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	jmp	ctx_restore
	.cfi_endproc
ENDFUNC(ctx_switch)

/* Pops the frame at rsp and returns into it. Shared tail of every resume. */
LOCALFUNC(ctx_restore)
	ldmxcsr	CTX_MXCSR(%rsp)
	fldcw	CTX_FPUCW(%rsp)
	leaq	8(%rsp), %rsp
	popq	%r12
	popq	%r13
	popq	%r14
	popq	%r15
	popq	%rbx
	popq	%rbp
	ret
ENDFUNC(ctx_restore)

/* void ctx_jump(void *to): resume to, saving nothing. */
FUNC(ctx_jump)
	ENDBR
	movq	%rdi, %rsp
	jmp	ctx_restore
ENDFUNC(ctx_jump)

/* void ctx_switch_call(void **save, void *to, void (*fn)(void *), void *arg)
 * Save, move to to's stack, call fn(arg) just below to's frame, then resume
 * to. fn's frames sit where to's function would push its next frame, which
 * is free while to is suspended (Boost's ontop_fcontext; mrt's mcall). */
FUNC(ctx_switch_call)
	.cfi_startproc
	ENDBR
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	leaq	-8(%rsp), %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	CTX_MXCSR(%rsp)
	fnstcw	CTX_FPUCW(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	/* rsp = to, 16-aligned: the call leaves fn's entry rsp at 8 mod 16. */
	movq	%rcx, %rdi
	call	*%rdx
	jmp	ctx_restore
	.cfi_endproc
ENDFUNC(ctx_switch_call)

/* void ctx_call_on(void *stack_top, void (*fn)(void *), void *arg)
 * Run fn(arg) on the stack below stack_top and come back (systemstack).
 * rbp keeps the way home, and the CFI says so, so a debugger unwinds from fn
 * through this frame back onto the caller's stack. */
FUNC(ctx_call_on)
	.cfi_startproc
	ENDBR
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	movq	%rdi, %rsp
	andq	$-16, %rsp
	movq	%rdx, %rdi
	call	*%rsi
	movq	%rbp, %rsp
	.cfi_def_cfa_register %rsp
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	ret
	.cfi_endproc
ENDFUNC(ctx_call_on)

/* void *ctx_make(void *stack_top, void (*entry)(void *), void *arg)
 * Builds, below stack_top, a frame that ctx_switch/ctx_jump can resume: it
 * "returns" into ctx_start with r12 = entry, r13 = arg, rbp = 0, the caller's
 * MXCSR and x87 control word. The 16 bytes above it stay zero: a fake return
 * address of 0 for frame-pointer walkers. Returns the context. */
FUNC(ctx_make)
	ENDBR
	movq	%rdi, %rax
	andq	$-16, %rax
	leaq	-(CTX_SIZE + 16)(%rax), %rax
	movq	$0, CTX_SIZE(%rax)
	movq	$0, CTX_SIZE+8(%rax)
	stmxcsr	CTX_MXCSR(%rax)
	fnstcw	CTX_FPUCW(%rax)
	movw	$0, CTX_FPUCW+2(%rax)
	movq	%rsi, CTX_R12(%rax)
	movq	%rdx, CTX_R13(%rax)
	movq	$0, CTX_R14(%rax)
	movq	$0, CTX_R15(%rax)
	movq	$0, CTX_RBX(%rax)
	movq	$0, CTX_RBP(%rax)
	leaq	ctx_start(%rip), %rcx
	movq	%rcx, CTX_PC(%rax)
	ret
ENDFUNC(ctx_make)

/* The first frame of a made context. Reached by ret (rsp = frame + 0x40,
 * 16-aligned); the undefined return address ends every unwinder's walk. */
LOCALFUNC(ctx_start)
	.cfi_startproc
	.cfi_undefined %rip
	movq	%r13, %rdi
	call	*%r12
	/* entry must not return: there is nowhere to go. */
	call	SYM(ctx_entry_returned)
	ud2
	.cfi_endproc
ENDFUNC(ctx_start)

#if !defined(__APPLE__)
	.section .note.GNU-stack, "", @progbits
#endif
