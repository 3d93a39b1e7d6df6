/*
 * sys_linux.h (riscv64) — the Linux system-call instruction on this CPU: one
 * primitive, arch_syscall6, that platform/linux builds every system call
 * on (linux.h's sys0..sys6 pass the unused arguments as 0). Linux ABI code,
 * so it lives in a file that says so, beside clone_linux.S (Go keeps the
 * same in sys_linux_riscv64.s).
 */
#ifndef MRT_RISCV64_SYS_LINUX_H
#define MRT_RISCV64_SYS_LINUX_H

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

/*
 * Linux's facts of this CPU beyond the instruction. The vDSO's
 * clock_gettime, by name and symbol version (the kernel's vdso.lds for
 * riscv; platform/linux/vdso_linux.c looks it up), and the signature that
 * precedes each rseq abort handler, which a thread names when it registers
 * its struct rseq (platform/linux): csrr mhartid, x0, which traps in user
 * mode, librseq's and the kernel's selftests' choice (glibc 2.36 registers
 * no rseq on riscv64).
 */
#define ARCH_VDSO_CLOCK_GETTIME "__vdso_clock_gettime"
#define ARCH_VDSO_VERSION "LINUX_4.15"
#define ARCH_RSEQ_SIG 0xf1401073u

#endif
