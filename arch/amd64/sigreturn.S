/*
 * sigreturn.S (amd64) — the signal-return trampoline (sa_restorer).
 *
 * The amd64 kernel has no signal trampoline of its own: a handler installed
 * without one cannot return. When mrt's handler (platform's SIGSEGV handler,
 * MRT_F_STACKOVERFLOW) returns, its `ret` pops this address, with rsp at the
 * kernel's signal frame, which the system call below consumes:
 *
 *   rax   the OS's signal-return call number (OS_NR_SIGRETURN, from the
 *         platform's os.h: arch names no OS), as an immediate
 *   rsp   untouched: the signal frame; no other register is read
 *
 * The bytes are exactly `mov $nr, %rax; syscall`, the pattern gdb and
 * libgcc's unwinder recognise as a signal frame, so backtraces continue
 * through a handler into the interrupted code. The nop before the label
 * keeps "return address - 1" inside this code for unwinders that look there.
 */
#include "asm.h"
#include "os.h"

	.text
	nop
FUNC(arch_sigreturn)
	movq	$OS_NR_SIGRETURN, %rax
	syscall
	ud2
ENDFUNC(arch_sigreturn)

#if !defined(__APPLE__)
	.section .note.GNU-stack, "", @progbits
#endif
