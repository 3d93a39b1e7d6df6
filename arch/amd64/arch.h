/*
 * arch.h (amd64) — what core needs to know about the CPU: inline primitives,
 * the thread-control-block words compiled code reads, and the layout of a
 * saved context. Shared with the assembly (guarded by __ASSEMBLER__) so the
 * two cannot drift apart.
 */
#ifndef MRT_ARCH_H
#define MRT_ARCH_H

/*
 * A saved context (ctx.S), lowest address first. A context is the stack
 * pointer at CTX_MXCSR; resuming pops it and returns to CTX_PC.
 */
#define CTX_MXCSR 0x00 /* 4: MXCSR (control and status) */
#define CTX_FPUCW 0x04 /* 2: x87 control word (+2 padding) */
#define CTX_R12 0x08
#define CTX_R13 0x10
#define CTX_R14 0x18
#define CTX_R15 0x20
#define CTX_RBX 0x28
#define CTX_RBP 0x30
#define CTX_PC 0x38
#define CTX_SIZE 0x40

/* Thread pointer (FS base) and the TCB words at it that compiled code
 * reads directly: %fs:0 is the TCB's own address (the x86-64 TLS ABI; used to
 * take the address of a TLS variable), %fs:0x28 the stack-protector canary
 * (gcc and clang read it there), %fs:0x30 the pointer guard. */
#define TCB_SELF 0x00
#define TCB_SELF2 0x10
#define TCB_CANARY 0x28
#define TCB_PTRGUARD 0x30

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <stddef.h>

/* TLS variant II: static TLS lies below the thread pointer, the TCB at and
 * above it. [ARCH_TCB_LO, ARCH_TCB_HI) covers the TCB words above, with room
 * to spare; mrt zero-fills what it does not set. */
#define ARCH_TCB_LO 0
#define ARCH_TCB_HI 0x80
#define ARCH_TP_ALIGN 64
/* Bytes below the stack pointer a leaf function may use (SysV red zone). */
#define ARCH_REDZONE 128

struct ctxframe {
	uint32_t mxcsr;
	uint16_t fpucw, pad;
	uint64_t r12, r13, r14, r15, rbx, rbp, pc;
};
_Static_assert(offsetof(struct ctxframe, mxcsr) == CTX_MXCSR, "ctx layout");
_Static_assert(offsetof(struct ctxframe, fpucw) == CTX_FPUCW, "ctx layout");
_Static_assert(offsetof(struct ctxframe, r12) == CTX_R12, "ctx layout");
_Static_assert(offsetof(struct ctxframe, r15) == CTX_R15, "ctx layout");
_Static_assert(offsetof(struct ctxframe, rbx) == CTX_RBX, "ctx layout");
_Static_assert(offsetof(struct ctxframe, rbp) == CTX_RBP, "ctx layout");
_Static_assert(offsetof(struct ctxframe, pc) == CTX_PC, "ctx layout");
_Static_assert(sizeof(struct ctxframe) == CTX_SIZE, "ctx layout");

static inline void *arch_gettp(void)
{
	void *tp;
	__asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}

static inline uintptr_t arch_getsp(void)
{
	uintptr_t sp;
	__asm__ volatile("movq %%rsp, %0" : "=r"(sp));
	return sp;
}

/* Fills the TCB words of a new thread pointer tp, copying the canary and
 * pointer guard of m0's tp0 so that code built with -fstack-protector runs
 * unchanged on an M. */
static inline void arch_tcb_init(void *tp, const void *tp0)
{
	uint8_t *t = tp;
	const uint8_t *t0 = tp0;
	*(void **)(t + TCB_SELF) = tp;
	*(void **)(t + TCB_SELF2) = tp;
	*(uint64_t *)(t + TCB_CANARY) = *(const uint64_t *)(t0 + TCB_CANARY);
	*(uint64_t *)(t + TCB_PTRGUARD) = *(const uint64_t *)(t0 + TCB_PTRGUARD);
}

static inline uint64_t arch_cputicks(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void arch_procyield(uint32_t n)
{
	while (n-- > 0)
		__asm__ volatile("pause" ::: "memory");
}

#endif /* __ASSEMBLER__ */
#endif /* MRT_ARCH_H */
