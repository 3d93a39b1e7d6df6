/*
 * clone.S (arm64) — the raw clone trampoline and the end of a thread.
 *
 * Registers (AAPCS64 in, kernel out):
 *
 *   arch_clone(nr, flags, stack, ptid, ctid, tls, fn, arg)
 *              x0  x1     x2     x3    x4    x5   x6  x7
 *   svc #0:    x8  x0     x1     x2    x4    x3        (arm64 kernel order:
 *                                          flags, stack, ptid, tls, ctid)
 *   carried into the child: fn and arg, stored at stack - 16 before the
 *   call (only the new stack is sure to reach the child: it starts with
 *   the parent's registers, x0 = 0, on the stack it was given)
 *
 * The child pops fn and arg, so it runs fn on `stack` (16-byte aligned)
 * with nothing above: it clears x29 and x30 and marks its return address
 * undefined, so unwinders stop at its first frame, and calls fn(arg), which
 * ends the thread itself.
 */
#include "asm.h"

	.text

FUNC(arch_clone)
	.cfi_startproc
	BTI_C
	stp	x6, x7, [x2, #-16]!	/* fn, arg on the child's stack */
	mov	x8, x0			/* nr */
	mov	x0, x1			/* flags */
	mov	x1, x2			/* stack - 16 */
	mov	x2, x3			/* ptid */
	mov	x3, x5			/* tls; x4 is ctid already */
	svc	#0
	cbz	x0, clone_child
	/* Parent: the tid, or -errno exactly as the kernel returned it. */
	ret
	.cfi_endproc
ENDFUNC(arch_clone)

LOCALFUNC(clone_child)
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	mov	x30, #0
	ldp	x9, x0, [sp], #16	/* fn, arg; sp = stack */
	blr	x9
	udf	#0			/* fn returned: it must end the thread itself */
	.cfi_endproc
ENDFUNC(clone_child)

/* void arch_exit_thread(long nr): the thread's last instructions. Registers
 * only: whatever the stack held is already free to be reused. */
FUNC(arch_exit_thread)
	BTI_C
	mov	x8, x0
	mov	x0, #0
	svc	#0
	udf	#0
ENDFUNC(arch_exit_thread)
