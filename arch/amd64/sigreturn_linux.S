/*
 * sigreturn_linux.S (amd64) — Linux's signal-return trampoline
 * (sa_restorer): system-call ABI code, built in both thread models.
 *
 * The amd64 kernel has no signal trampoline of its own: a handler installed
 * without one cannot return. When mrt's handler (platform/linux's SIGSEGV
 * handler, MRT_F_STACKOVERFLOW) returns, its `ret` pops this address, with
 * rsp at the kernel's signal frame, which the system call below consumes:
 *
 *   rax   __NR_rt_sigreturn, as an immediate
 *   rsp   untouched: the signal frame; no other register is read
 *
 * The bytes are exactly `mov $nr, %rax; syscall`, the pattern gdb and
 * libgcc's unwinder recognise as a signal frame, so backtraces continue
 * through a handler into the interrupted code. The nop before the label
 * keeps "return address - 1" inside this code for unwinders that look there.
 */
#include <asm/unistd.h>
#include "asm.h"

	.text
	nop
FUNC(arch_sigreturn)
	movq	$__NR_rt_sigreturn, %rax
	syscall
	ud2
ENDFUNC(arch_sigreturn)
