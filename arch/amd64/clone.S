/*
 * clone.S (amd64) — the raw clone trampoline and the end of a thread.
 *
 * Registers (SysV in, kernel out):
 *
 *   arch_clone(nr,  flags, stack, ptid, ctid, tls, fn,       arg)
 *              rdi  rsi    rdx    rcx   r8    r9   8(%rsp)  16(%rsp)
 *   syscall:   rax  rdi    rsi    rdx   r10   r8             (amd64 kernel order:
 *                                                  flags, stack, ptid, ctid, tls)
 *   carried into the child: r12 = fn, r13 = arg (callee-saved; the child
 *   gets the parent's registers, rax = 0; syscall clobbers rcx and r11)
 *
 * The child starts on `stack` (16-byte aligned) with nothing on it: it clears
 * rbp and marks its return address undefined, so unwinders stop at its first
 * frame, and calls fn(arg), which ends the thread itself.
 */
#include "asm.h"

	.text

FUNC(arch_clone)
	.cfi_startproc
	ENDBR
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	movq	24(%rsp), %r12		/* fn  (8(%rsp) at entry) */
	movq	32(%rsp), %r13		/* arg (16(%rsp) at entry) */
	movq	%rdi, %rax		/* nr */
	movq	%rsi, %rdi		/* flags */
	movq	%rdx, %rsi		/* stack */
	movq	%rcx, %rdx		/* ptid */
	movq	%r8, %r10		/* ctid */
	movq	%r9, %r8		/* tls */
	syscall
	testq	%rax, %rax
	jz	clone_child
	/* Parent: the tid, or -errno exactly as the kernel returned it. */
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	ret
	.cfi_endproc
ENDFUNC(arch_clone)

LOCALFUNC(clone_child)
	.cfi_startproc
	.cfi_undefined %rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	call	*%r12
	ud2			/* fn returned: it must end the thread itself */
	.cfi_endproc
ENDFUNC(clone_child)

/* void arch_exit_thread(long nr): the thread's last instructions. Registers
 * only: whatever the stack held is already free to be reused. */
FUNC(arch_exit_thread)
	ENDBR
	movq	%rdi, %rax
	xorl	%edi, %edi
	syscall
	ud2
ENDFUNC(arch_exit_thread)

#if !defined(__APPLE__)
	.section .note.GNU-stack, "", @progbits
#endif
