/*
 * asm.h (amd64) — symbol spelling for ELF and Mach-O, CET landing pads and
 * the GNU property note. The only place the amd64 assembly tells object
 * formats apart.
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
 * or jump must start with endbr64: every global function here. (clone_child
 * is reached by jz; a resume lands on a return address through a notrack
 * jump, which IBT does not check.) */
#if defined(__CET__) && (__CET__ & 1)
#define ENDBR endbr64
#else
#define ENDBR
#endif

/* Every ELF object that includes this header: a non-executable stack. */
#if !defined(__APPLE__)
	.pushsection .note.GNU-stack, "", @progbits
	.popsection
#endif

/*
 * The GNU property note of every object that includes this header, in IBT
 * builds: the linker keeps IBT on for a binary only if every object says
 * so. Only IBT is claimed. A shadow stack (SHSTK) needs a context switch
 * that switches shadow stacks too; ctx_switch moves to another stack and
 * leaves the shadow stack behind, so the first return on the new stack
 * would fault: these objects leave SHSTK off for any binary they are
 * linked into.
 */
#if !defined(__APPLE__) && defined(__CET__) && (__CET__ & 1)
	.pushsection .note.gnu.property, "a"
	.p2align 3
	.long	4		/* n_namesz: "GNU" */
	.long	16		/* n_descsz */
	.long	5		/* n_type: NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.long	0xc0000002	/* GNU_PROPERTY_X86_FEATURE_1_AND */
	.long	4		/* pr_datasz */
	.long	1		/* GNU_PROPERTY_X86_FEATURE_1_IBT */
	.p2align 3
	.popsection
#endif

#endif
