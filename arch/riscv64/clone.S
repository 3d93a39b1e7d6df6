/*
 * clone.S (riscv64) — the raw clone trampoline and the end of a thread.
 *
 * Registers (LP64D in, kernel out):
 *
 *   arch_clone(nr, flags, stack, ptid, ctid, tls, fn, arg)
 *              a0  a1     a2     a3    a4    a5   a6  a7
 *   ecall:     a7  a0     a1     a2    a4    a3        (riscv64 kernel order:
 *                                          flags, stack, ptid, tls, ctid)
 *   carried into the child: fn and arg, stored at stack - 16 before the
 *   call (only the new stack is sure to reach the child: it starts with
 *   the parent's registers, a0 = 0, on the stack it was given)
 *
 * The child pops fn and arg, so it runs fn on `stack` (16-byte aligned)
 * with nothing above: it clears s0 and ra and marks its return address
 * undefined, so unwinders stop at its first frame, and calls fn(arg), which
 * ends the thread itself.
 */
#include "asm.h"

	.text

FUNC(arch_clone)
	.cfi_startproc
	addi	a2, a2, -16
	sd	a6, 0(a2)		/* fn, arg on the child's stack */
	sd	a7, 8(a2)
	mv	t0, a0			/* nr */
	mv	a0, a1			/* flags */
	mv	a1, a2			/* stack - 16 */
	mv	a2, a3			/* ptid */
	mv	a3, a5			/* tls; a4 is ctid already */
	mv	a7, t0
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

/* void arch_exit_thread(long nr): the thread's last instructions. Registers
 * only: whatever the stack held is already free to be reused. */
FUNC(arch_exit_thread)
	mv	a7, a0
	li	a0, 0
	ecall
	unimp
ENDFUNC(arch_exit_thread)
