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

/*
 * System calls: number in a7, arguments in a0..a5, result in a0; `ecall`
 * clobbers nothing else. Results in [-4095, -1] are -errno (the kernel's
 * convention, kept as is).
 */
static inline long arch_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long a7 __asm__("a7") = n;
	register long a0 __asm__("a0") = a1;
	register long r1 __asm__("a1") = a2;
	register long r2 __asm__("a2") = a3;
	register long r3 __asm__("a3") = a4;
	register long r4 __asm__("a4") = a5;
	register long r5 __asm__("a5") = a6;
	__asm__ volatile("ecall"
	                 : "+r"(a0)
	                 : "r"(a7), "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5)
	                 : "memory");
	return a0;
}
static inline long arch_syscall0(long n) { return arch_syscall6(n, 0, 0, 0, 0, 0, 0); }
static inline long arch_syscall1(long n, long a1) { return arch_syscall6(n, a1, 0, 0, 0, 0, 0); }
static inline long arch_syscall2(long n, long a1, long a2)
{
	return arch_syscall6(n, a1, a2, 0, 0, 0, 0);
}
static inline long arch_syscall3(long n, long a1, long a2, long a3)
{
	return arch_syscall6(n, a1, a2, a3, 0, 0, 0);
}
static inline long arch_syscall4(long n, long a1, long a2, long a3, long a4)
{
	return arch_syscall6(n, a1, a2, a3, a4, 0, 0);
}
static inline long arch_syscall5(long n, long a1, long a2, long a3, long a4, long a5)
{
	return arch_syscall6(n, a1, a2, a3, a4, a5, 0);
}

#endif /* __ASSEMBLER__ */
#endif /* MRT_ARCH_H */
