/*
 * asm.h (amd64) — symbol spelling for ELF and Mach-O, and CET landing pads.
 * The only place the amd64 assembly tells object formats apart.
 */
#ifndef MRT_AMD64_ASM_H
#define MRT_AMD64_ASM_H

#if defined(__APPLE__) /* Mach-O: leading underscore, no .type/.size */
#define SYM(x) _##x
#define FUNC(x) .globl SYM(x); .private_extern SYM(x); .p2align 4; SYM(x):
#define LOCALFUNC(x) .p2align 4; x:
#define ENDFUNC(x)
#else /* ELF */
#define SYM(x) x
#define FUNC(x) .globl x; .hidden x; .type x, @function; .p2align 4; x:
#define LOCALFUNC(x) .type x, @function; .p2align 4; x:
#define ENDFUNC(x) .size x, . - x
#endif

/* With -fcf-protection=branch (IBT), every place reached by an indirect call
 * or jump must start with endbr64. */
#if defined(__CET__) && (__CET__ & 1)
#define ENDBR endbr64
#else
#define ENDBR
#endif

#endif
