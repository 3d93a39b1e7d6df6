/*
 * bti_start.S (arm64, tests) — the entry point of the BTI proof program,
 * and one function that has no landing pad on purpose.
 *
 *   _start      from the kernel: sp = argc/argv/envp (16-aligned), no libc;
 *               calls bti_main(sp) and exits the process with its result.
 *   nopad       returns 42, but opens with no `bti`: an indirect call to it
 *               from a guarded page must die with SIGILL (bti.c's control).
 *
 * Includes asm.h, so this object carries the same BTI property note as the
 * library's assembly: the linker marks the program BTI only if all do.
 */
#include "asm.h"

	.text
	.globl	_start
	.type	_start, %function
	.p2align 4
_start:
	BTI_C
	mov	x29, #0
	mov	x30, #0
	mov	x0, sp
	bl	bti_main
	mov	x8, #94			/* exit_group */
	svc	#0
	udf	#0
	.size	_start, . - _start

	.globl	nopad
	.type	nopad, %function
	.p2align 4
nopad:
	mov	x0, #42
	ret
	.size	nopad, . - nopad
