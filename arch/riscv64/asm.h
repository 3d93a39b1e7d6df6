/*
 * asm.h (riscv64) — symbol spelling. riscv64 is ELF only here; the macros
 * keep the same shape as amd64's and arm64's so the files read alike.
 */
#ifndef MRT_RISCV64_ASM_H
#define MRT_RISCV64_ASM_H

#define SYM(x) x
#define FUNC(x) .globl x; .hidden x; .type x, @function; .p2align 2; x:
#define LOCALFUNC(x) .type x, @function; .p2align 2; x:
#define ENDFUNC(x) .size x, . - x

/* Every object that includes this header: a non-executable stack. (No
 * landing-pad property: Debian 12's toolchain has no Zicfilp.) */
	.pushsection .note.GNU-stack, "", @progbits
	.popsection

#endif
