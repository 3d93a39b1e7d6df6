/*
 * clone_linux.S (arm64) — Linux's clone(2) as a thread's birth, and the end
 * of a thread: system-call ABI code for the clone model (Go's clone and
 * exitThread in sys_linux_arm64.s). Not built in the pthread model.
 *
 * Registers (AAPCS64 in, kernel out):
 *
 *   arch_clone(flags, stack, ptid, ctid, tls, fn, arg)
 *              x0     x1     x2    x3    x4   x5  x6
 *   svc #0:    x0     x1     x2    x4    x3       x8 = __NR_clone
 *              (the arm64 kernel's order: flags, stack, ptid, tls, ctid)
 *   carried into the child: fn and arg, stored at stack - 16 before the
 *   call (only the new stack is sure to reach the child: it starts with
 *   the parent's registers, x0 = 0, on the stack it was given)
 *
 * The child pops fn and arg, so it runs fn on `stack` (16-byte aligned)
 * with nothing above: it clears x29 and x30 and marks its return address
 * undefined, so unwinders stop at its first frame, and calls fn(arg), which
 * ends the thread itself.
 */
#include <asm/unistd.h>
#include "asm.h"

	.text

FUNC(arch_clone)
	.cfi_startproc
	BTI_C
	stp	x5, x6, [x1, #-16]!	/* fn, arg on the child's stack */
	mov	x9, x3			/* ctid and tls trade places */
	mov	x3, x4
	mov	x4, x9
	mov	x8, #__NR_clone
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

/* void arch_exit_thread(void): the thread's last instructions, exit(2) of
 * this thread only (never exit_group). Registers only: whatever the stack
 * held is already free to be reused. */
FUNC(arch_exit_thread)
	BTI_C
	mov	x8, #__NR_exit
	mov	x0, #0
	svc	#0
	udf	#0
ENDFUNC(arch_exit_thread)
