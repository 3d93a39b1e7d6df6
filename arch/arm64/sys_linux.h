/*
 * sys_linux.h (arm64) — the Linux system-call instruction on this CPU: one
 * primitive, arch_syscall6, that platform/linux builds every system call
 * on (linux.h's sys0..sys6 pass the unused arguments as 0). Linux ABI code,
 * so it lives in a file that says so, beside clone_linux.S (Go keeps the
 * same in sys_linux_arm64.s).
 */
#ifndef MRT_ARM64_SYS_LINUX_H
#define MRT_ARM64_SYS_LINUX_H

/*
 * System calls: number in x8, arguments in x0..x5, result in x0; `svc #0`
 * clobbers nothing else. Results in [-4095, -1] are -errno (the kernel's
 * convention, kept as is).
 */
static inline long arch_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;
	__asm__ volatile("svc #0"
	                 : "+r"(x0)
	                 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
	                 : "memory");
	return x0;
}

/*
 * Linux's facts of this CPU beyond the instruction. The vDSO's
 * clock_gettime, by name and symbol version (the kernel's vdso.lds for
 * arm64; platform/linux/vdso_linux.c looks it up), and the signature that
 * precedes each rseq abort handler, which a thread names when it registers
 * its struct rseq (platform/linux): BRK #0x45E0 as little-endian data,
 * glibc's and the kernel's selftests' choice.
 */
#define ARCH_VDSO_CLOCK_GETTIME "__kernel_clock_gettime"
#define ARCH_VDSO_VERSION "LINUX_2.6.39"
#define ARCH_RSEQ_SIG 0xd428bc00u

#endif
