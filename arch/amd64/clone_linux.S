/*
 * clone_linux.S (amd64) — Linux's clone(2) as a thread's birth, and the end
 * of a thread: system-call ABI code for the clone model (Go's clone and
 * exitThread in sys_linux_amd64.s). Not built in the pthread model.
 *
 * Registers (SysV in, kernel out):
 *
 *   arch_clone(flags, stack, ptid, ctid, tls, fn, arg)
 *              rdi    rsi    rdx   rcx   r8   r9  8(%rsp)
 *   syscall:   rdi    rsi    rdx   r10   r8       rax = __NR_clone
 *              (the amd64 kernel's order: flags, stack, ptid, ctid, tls)
 *   carried into the child: r12 = fn, r13 = arg (callee-saved; the child
 *   gets the parent's registers, rax = 0; syscall clobbers rcx and r11)
 *
 * The child starts on `stack` (16-byte aligned) with nothing on it: it clears
 * rbp and marks its return address undefined, so unwinders stop at its first
 * frame, and calls fn(arg), which ends the thread itself.
 */
#include <asm/unistd.h>
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
	movq	%r9, %r12		/* fn */
	movq	24(%rsp), %r13		/* arg (8(%rsp) at entry) */
	movq	%rcx, %r10		/* ctid; rdi, rsi, rdx and r8 are in place */
	movl	$__NR_clone, %eax
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

/* void arch_exit_thread(void): the thread's last instructions, exit(2) of
 * this thread only (never exit_group). Registers only: whatever the stack
 * held is already free to be reused. */
FUNC(arch_exit_thread)
	ENDBR
	movl	$__NR_exit, %eax
	xorl	%edi, %edi
	syscall
	ud2
ENDFUNC(arch_exit_thread)
