/*
 * clone_linux.S (riscv64) — Linux's clone(2) as a thread's birth, and the
 * end of a thread: system-call ABI code for the clone model (Go's clone and
 * exitThread in sys_linux_riscv64.s). Not built in the pthread model.
 *
 * Registers (LP64D in, kernel out):
 *
 *   arch_clone(flags, stack, ptid, ctid, tls, fn, arg)
 *              a0     a1     a2    a3    a4   a5  a6
 *   ecall:     a0     a1     a2    a4    a3       a7 = __NR_clone
 *              (the riscv64 kernel's order: flags, stack, ptid, tls, ctid)
 *   carried into the child: fn and arg, stored at stack - 16 before the
 *   call (only the new stack is sure to reach the child: it starts with
 *   the parent's registers, a0 = 0, on the stack it was given)
 *
 * The child pops fn and arg, so it runs fn on `stack` (16-byte aligned)
 * with nothing above: it clears s0 and ra and marks its return address
 * undefined, so unwinders stop at its first frame, and calls fn(arg), which
 * ends the thread itself.
 */
#include <asm/unistd.h>
#include "asm.h"

	.text

FUNC(arch_clone)
	.cfi_startproc
	addi	a1, a1, -16
	sd	a5, 0(a1)		/* fn, arg on the child's stack */
	sd	a6, 8(a1)
	mv	t0, a3			/* ctid and tls trade places */
	mv	a3, a4
	mv	a4, t0
	li	a7, __NR_clone
	ecall
	beqz	a0, clone_child
	/* Parent: the tid, or -errno exactly as the kernel returned it. */
	ret
	.cfi_endproc
ENDFUNC(arch_clone)

LOCALFUNC(clone_child)
	.cfi_startproc
	.cfi_undefined ra
	li	s0, 0
	li	ra, 0
	ld	t1, 0(sp)		/* fn */
	ld	a0, 8(sp)		/* arg */
	addi	sp, sp, 16		/* sp = stack */
	jalr	t1
	unimp				/* fn returned: it must end the thread itself */
	.cfi_endproc
ENDFUNC(clone_child)

/* void arch_exit_thread(void): the thread's last instructions, exit(2) of
 * this thread only (never exit_group). Registers only: whatever the stack
 * held is already free to be reused. */
FUNC(arch_exit_thread)
	li	a7, __NR_exit
	li	a0, 0
	ecall
	unimp
ENDFUNC(arch_exit_thread)
