/*
 * arch.h (arm64) — what core needs to know about the CPU: inline primitives,
 * the thread-control-block words compiled code reads, and the layout of a
 * saved context. Shared with the assembly (guarded by __ASSEMBLER__) so the
 * two cannot drift apart.
 */
#ifndef MRT_ARCH_H
#define MRT_ARCH_H

/*
 * A saved context (ctx.S), lowest address first. A context is the stack
 * pointer at CTX_D8; resuming loads the frame, pops it and returns to
 * CTX_PC (the saved x30). x29/x30 sit at the top as an AAPCS64 frame record,
 * so a frame-pointer walk through a suspended context reads them in place.
 */
#define CTX_D8 0x00 /* d8..d15: the low 64 bits of v8..v15 */
#define CTX_D10 0x10
#define CTX_D12 0x20
#define CTX_D14 0x30
#define CTX_X19 0x40 /* x19..x28 */
#define CTX_X21 0x50
#define CTX_X23 0x60
#define CTX_X25 0x70
#define CTX_X27 0x80
#define CTX_FP 0x90 /* x29 */
#define CTX_PC 0x98 /* x30: where the context resumes */
#define CTX_SIZE 0xa0

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <stddef.h>

/* TLS variant I: the thread pointer (tpidr_el0) points at a 16-byte TCB —
 * the dtv pointer and a word reserved for the implementation — and static
 * TLS follows above it, so mrt_tls is at a positive offset. Code built for
 * initial-exec TLS reads nothing in the TCB, and the stack-protector canary
 * is a global on this CPU, not a TCB word: mrt zero-fills the TCB (a
 * general-dynamic TLS access on an M then faults rather than reading m0's
 * TLS). */
#define ARCH_TCB_LO 0
#define ARCH_TCB_HI 16
#define ARCH_TP_ALIGN 64
/* Bytes below the stack pointer a leaf function may use. AAPCS64 has no red
 * zone; Apple's arm64 ABI allows 128 bytes, and the same value serves both. */
#define ARCH_REDZONE 128

struct ctxframe {
	uint64_t d[8];   /* d8..d15 */
	uint64_t x[10];  /* x19..x28 */
	uint64_t fp, pc; /* x29, x30 */
};
_Static_assert(offsetof(struct ctxframe, d[0]) == CTX_D8, "ctx layout");
_Static_assert(offsetof(struct ctxframe, d[2]) == CTX_D10, "ctx layout");
_Static_assert(offsetof(struct ctxframe, d[4]) == CTX_D12, "ctx layout");
_Static_assert(offsetof(struct ctxframe, d[6]) == CTX_D14, "ctx layout");
_Static_assert(offsetof(struct ctxframe, x[0]) == CTX_X19, "ctx layout");
_Static_assert(offsetof(struct ctxframe, x[2]) == CTX_X21, "ctx layout");
_Static_assert(offsetof(struct ctxframe, x[4]) == CTX_X23, "ctx layout");
_Static_assert(offsetof(struct ctxframe, x[6]) == CTX_X25, "ctx layout");
_Static_assert(offsetof(struct ctxframe, x[8]) == CTX_X27, "ctx layout");
_Static_assert(offsetof(struct ctxframe, fp) == CTX_FP, "ctx layout");
_Static_assert(offsetof(struct ctxframe, pc) == CTX_PC, "ctx layout");
_Static_assert(sizeof(struct ctxframe) == CTX_SIZE, "ctx layout");
_Static_assert(CTX_SIZE % 16 == 0, "sp stays 16-byte aligned");

static inline void *arch_gettp(void)
{
	void *tp;
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
	return tp;
}

static inline uintptr_t arch_getsp(void)
{
	uintptr_t sp;
	__asm__ volatile("mov %0, sp" : "=r"(sp));
	return sp;
}

/* Fills the TCB words of a new thread pointer tp. Nothing to copy from m0's
 * tp0: tlsmake has zeroed the TCB, and that is what it should hold. */
static inline void arch_tcb_init(void *tp, const void *tp0)
{
	(void)tp;
	(void)tp0;
}

/* The virtual counter: readable at EL0 on Linux, constant rate. */
static inline uint64_t arch_cputicks(void)
{
	uint64_t t;
	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(t));
	return t;
}

static inline void arch_procyield(uint32_t n)
{
	while (n-- > 0)
		__asm__ volatile("yield" ::: "memory");
}

#endif /* __ASSEMBLER__ */
#endif /* MRT_ARCH_H */
