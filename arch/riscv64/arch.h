/*
 * arch.h (riscv64) — what core needs to know about the CPU: inline
 * primitives, the thread-control-block words compiled code reads, and the
 * layout of a saved context. Shared with the assembly (guarded by
 * __ASSEMBLER__) so the two cannot drift apart.
 */
#ifndef MRT_ARCH_H
#define MRT_ARCH_H

/*
 * A saved context (ctx.S), lowest address first. A context is the stack
 * pointer at CTX_FS0; resuming loads the frame, pops it and returns to
 * CTX_PC (the saved ra). s0 and ra sit at the top, where the RISC-V frame
 * convention puts them (fp - 16, fp - 8 with fp = the frame's end), so a
 * frame-pointer walk through a suspended context reads them in place.
 */
#define CTX_FS0 0x00 /* fs0..fs11 */
#define CTX_S1 0x60  /* s1..s11 */
#define CTX_S0 0xc0  /* s0 (fp) */
#define CTX_PC 0xc8  /* ra: where the context resumes */
#define CTX_SIZE 0xd0 /* 0xb8 is padding: sp stays 16-byte aligned */

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <stddef.h>

/* TLS variant I as RISC-V has it: tp points just past a 16-byte TCB (the
 * dtv pointer and a reserved word, at tp - 16) and static TLS starts at tp,
 * so mrt_tls is at a non-negative offset. Initial-exec code reads nothing in
 * the TCB, and the stack-protector canary is a global on this CPU: mrt
 * zero-fills the TCB. */
#define ARCH_TCB_LO (-16)
#define ARCH_TCB_HI 0
#define ARCH_TP_ALIGN 64
/* Bytes below the stack pointer a leaf function may use: none (LP64D). */
#define ARCH_REDZONE 0

struct ctxframe {
	uint64_t fs[12]; /* fs0..fs11 (the full 64-bit registers) */
	uint64_t s[11];  /* s1..s11 */
	uint64_t pad;
	uint64_t s0, pc; /* s0 (fp), ra */
};
_Static_assert(offsetof(struct ctxframe, fs[0]) == CTX_FS0, "ctx layout");
_Static_assert(offsetof(struct ctxframe, s[0]) == CTX_S1, "ctx layout");
_Static_assert(offsetof(struct ctxframe, s0) == CTX_S0, "ctx layout");
_Static_assert(offsetof(struct ctxframe, pc) == CTX_PC, "ctx layout");
_Static_assert(sizeof(struct ctxframe) == CTX_SIZE, "ctx layout");
_Static_assert(CTX_SIZE % 16 == 0, "sp stays 16-byte aligned");

static inline void *arch_gettp(void)
{
	void *tp;
	__asm__ volatile("mv %0, tp" : "=r"(tp));
	return tp;
}

static inline uintptr_t arch_getsp(void)
{
	uintptr_t sp;
	__asm__ volatile("mv %0, sp" : "=r"(sp));
	return sp;
}

/* Fills the TCB words of a new thread pointer tp. Nothing to copy from m0's
 * tp0: tlsmake has zeroed the TCB, and that is what it should hold. */
static inline void arch_tcb_init(void *tp, const void *tp0)
{
	(void)tp;
	(void)tp0;
}

/* The time CSR (rdcycle may be denied to user mode; rdtime is not). */
static inline uint64_t arch_cputicks(void)
{
	uint64_t t;
	__asm__ volatile("rdtime %0" : "=r"(t));
	return t;
}

/* Zihintpause's `pause`, spelled as its encoding (a FENCE with pred = W,
 * succ = 0), which CPUs without the extension execute as an ordinary
 * fence: harmless, and assemblers without the extension accept it. */
static inline void arch_procyield(uint32_t n)
{
	while (n-- > 0)
		__asm__ volatile(".4byte 0x0100000f" ::: "memory");
}

#endif /* __ASSEMBLER__ */
#endif /* MRT_ARCH_H */
