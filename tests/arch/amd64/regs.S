/*
 * regs.S (amd64, tests) — proves a g switch preserves the callee-saved state.
 *
 *   uint64_t regs_check(void (*sw)(void *), void *arg, uint64_t seed)
 *
 * Loads every SysV callee-saved register and the control bits of MXCSR and
 * the x87 control word with values derived from seed, calls sw(arg) (which
 * switches to another g that does the same with its own seed, and back),
 * then compares. Returns a mask of what changed (0: everything survived):
 *
 *   bit  register        value loaded
 *   0    rbx             seed ^ 0x1111111111111111
 *   1    rbp             seed ^ 0x2222222222222222
 *   2    r12             seed ^ 0x3333333333333333
 *   3    r13             seed ^ 0x4444444444444444
 *   4    r14             seed ^ 0x5555555555555555
 *   5    r15             seed ^ 0x6666666666666666
 *   6    MXCSR control   0x1f80 | (seed & 3) << 13 | (seed & 4) << 13  (RC, FZ)
 *   7    x87 control     0x037f | (seed & 3) << 10                     (RC)
 *   8    rsp             the frame pointer of this call
 *
 * Frame (after six pushes of the caller's registers, 16-aligned):
 *   0(%rsp) caller's MXCSR   4(%rsp) caller's x87 CW   8(%rsp) seed
 *  16(%rsp) scratch         24(%rsp) expected rsp
 */
#include "asm.h"

	.text
FUNC(regs_check)
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$40, %rsp
	stmxcsr	0(%rsp)
	fnstcw	4(%rsp)
	movq	%rdx, 8(%rsp)
	movq	%rsp, 24(%rsp)

	/* MXCSR: RC from seed bits 0-1, FZ from bit 2. */
	movl	%edx, %eax
	andl	$3, %eax
	shll	$13, %eax
	movl	%edx, %ecx
	andl	$4, %ecx
	shll	$13, %ecx
	orl	%ecx, %eax
	orl	$0x1f80, %eax
	movl	%eax, 16(%rsp)
	ldmxcsr	16(%rsp)
	/* x87: RC from seed bits 0-1. */
	movl	%edx, %eax
	andl	$3, %eax
	shll	$10, %eax
	orl	$0x037f, %eax
	movw	%ax, 16(%rsp)
	fldcw	16(%rsp)

	movabsq	$0x1111111111111111, %rbx
	xorq	%rdx, %rbx
	movabsq	$0x2222222222222222, %rbp
	xorq	%rdx, %rbp
	movabsq	$0x3333333333333333, %r12
	xorq	%rdx, %r12
	movabsq	$0x4444444444444444, %r13
	xorq	%rdx, %r13
	movabsq	$0x5555555555555555, %r14
	xorq	%rdx, %r14
	movabsq	$0x6666666666666666, %r15
	xorq	%rdx, %r15

	movq	%rdi, %rax
	movq	%rsi, %rdi
	call	*%rax

	xorl	%eax, %eax		/* the mask */
	movq	8(%rsp), %rdx		/* seed */
	movabsq	$0x1111111111111111, %rcx
	xorq	%rdx, %rcx
	cmpq	%rcx, %rbx
	je	1f
	orq	$1, %rax
1:	movabsq	$0x2222222222222222, %rcx
	xorq	%rdx, %rcx
	cmpq	%rcx, %rbp
	je	1f
	orq	$2, %rax
1:	movabsq	$0x3333333333333333, %rcx
	xorq	%rdx, %rcx
	cmpq	%rcx, %r12
	je	1f
	orq	$4, %rax
1:	movabsq	$0x4444444444444444, %rcx
	xorq	%rdx, %rcx
	cmpq	%rcx, %r13
	je	1f
	orq	$8, %rax
1:	movabsq	$0x5555555555555555, %rcx
	xorq	%rdx, %rcx
	cmpq	%rcx, %r14
	je	1f
	orq	$16, %rax
1:	movabsq	$0x6666666666666666, %rcx
	xorq	%rdx, %rcx
	cmpq	%rcx, %r15
	je	1f
	orq	$32, %rax
1:	/* MXCSR control bits (status flags 0-5 are not callee-saved). */
	stmxcsr	16(%rsp)
	movl	16(%rsp), %ecx
	andl	$0xffc0, %ecx
	movl	%edx, %esi
	andl	$3, %esi
	shll	$13, %esi
	movl	%edx, %edi
	andl	$4, %edi
	shll	$13, %edi
	orl	%edi, %esi
	orl	$0x1f80, %esi
	cmpl	%esi, %ecx
	je	1f
	orq	$64, %rax
1:	fnstcw	16(%rsp)
	movzwl	16(%rsp), %ecx
	andl	$0x1f7f, %ecx
	movl	%edx, %esi
	andl	$3, %esi
	shll	$10, %esi
	orl	$0x037f, %esi
	cmpl	%esi, %ecx
	je	1f
	orq	$128, %rax
1:	cmpq	24(%rsp), %rsp
	je	1f
	orq	$256, %rax
1:	ldmxcsr	0(%rsp)
	fldcw	4(%rsp)
	addq	$40, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
ENDFUNC(regs_check)

#if !defined(__APPLE__)
	.section .note.GNU-stack, "", @progbits
#endif
