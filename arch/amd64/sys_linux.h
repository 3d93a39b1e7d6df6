/*
 * sys_linux.h (amd64) — the Linux system-call instruction on this CPU: one
 * primitive, arch_syscall6, that platform/linux builds every system call
 * on (linux.h's sys0..sys6 pass the unused arguments as 0). Linux ABI code,
 * so it lives in a file that says so, beside clone_linux.S (Go keeps the
 * same in sys_linux_amd64.s).
 */
#ifndef MRT_AMD64_SYS_LINUX_H
#define MRT_AMD64_SYS_LINUX_H

/* The kernel gives amd64 signal handlers no way back on its own: a handler
 * needs a signal-return trampoline from user space (sigreturn_linux.S). */
#define ARCH_SIGRETURN 1

/*
 * System calls: number in rax, arguments in rdi rsi rdx r10 r8 r9, result in
 * rax; the instruction clobbers rcx and r11. Results in [-4095, -1] are
 * -errno (the kernel's convention, kept as is).
 */
static inline long arch_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
	                 : "rcx", "r11", "memory");
	return ret;
}

/*
 * Linux's facts of this CPU beyond the instruction. The vDSO's
 * clock_gettime, by name and symbol version (the kernel's vdso.lds for
 * x86-64; platform/linux/vdso_linux.c looks it up), and the signature that
 * precedes each rseq abort handler, which a thread names when it registers
 * its struct rseq (platform/linux): the operand of a UD1 instruction,
 * glibc's and the kernel's selftests' choice.
 */
#define ARCH_VDSO_CLOCK_GETTIME "__vdso_clock_gettime"
#define ARCH_VDSO_VERSION "LINUX_2.6"
#define ARCH_RSEQ_SIG 0x53053053u

#endif
