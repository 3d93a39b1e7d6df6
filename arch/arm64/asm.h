/*
 * asm.h (arm64) — symbol spelling for ELF and Mach-O, BTI landing pads and
 * the GNU property note. The only place the arm64 assembly tells object
 * formats apart.
 *
 * Mach-O's arm64 assembler reads ';' as a comment, so nothing here may put
 * two directives on one line: the function brackets are assembler macros
 * (one directive per line), reached through C macros of the same names as
 * amd64's (FUNC, LOCALFUNC, ENDFUNC) so the files read alike.
 */
#ifndef MRT_ARM64_ASM_H
#define MRT_ARM64_ASM_H

#if defined(__APPLE__) /* Mach-O: leading underscore, no .type/.size */
#define SYM(x) _##x

.macro mrt_func name
	.globl _\name
	.private_extern _\name
	.p2align 4
_\name:
.endm
.macro mrt_localfunc name
	.p2align 4
\name:
.endm
.macro mrt_endfunc name
.endm

#else /* ELF */
#define SYM(x) x

.macro mrt_func name
	.globl \name
	.hidden \name
	.type \name, %function
	.p2align 4
\name:
.endm
.macro mrt_localfunc name
	.type \name, %function
	.p2align 4
\name:
.endm
.macro mrt_endfunc name
	.size \name, . - \name
.endm
#endif

#define FUNC(x) mrt_func x
#define LOCALFUNC(x) mrt_localfunc x
#define ENDFUNC(x) mrt_endfunc x

/*
 * Branch Target Identification. Built with -mbranch-protection=bti or
 * =standard, pages of a BTI-marked binary are guarded: an indirect branch
 * (br/blr) must land on a `bti` (or a PAC instruction that serves as one),
 * or the CPU raises SIGILL. Every global function here may be reached
 * through blr (a function pointer, a PLT or a linker veneer), so each opens
 * with BTI_C. Contexts resume with `ret`, which BTI does not check: that is
 * why ctx_start needs no landing pad. `bti` is a hint: a no-op on CPUs
 * without BTI.
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define BTI_C bti c
#define MRT_GNU_PROPERTY_AARCH64 1 /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
#else
#define BTI_C
#define MRT_GNU_PROPERTY_AARCH64 0
#endif

#if !defined(__APPLE__)
/* Every object that includes this header: a non-executable stack, and — in
 * BTI builds — the property note that says its code has the landing pads.
 * The linker keeps BTI on for a binary only if every object says so. */
	.pushsection .note.GNU-stack, "", %progbits
	.popsection
#if MRT_GNU_PROPERTY_AARCH64
	.pushsection .note.gnu.property, "a"
	.p2align 3
	.word	4		/* n_namesz: "GNU" */
	.word	16		/* n_descsz */
	.word	5		/* n_type: NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.word	0xc0000000	/* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
	.word	4		/* pr_datasz */
	.word	MRT_GNU_PROPERTY_AARCH64
	.word	0		/* padding to 8 */
	.popsection
#endif
#endif

#endif
