/*
 * ctx.S (riscv64) — context switches, Boost.Context style.
 *
 * A suspended context is a stack pointer. At it, the switch has stored the
 * LP64D callee-saved state; resuming loads it and jumps to the saved pc:
 *
 *   offset  size  contents                 (CTX_* in arch.h)
 *   0x00    96    fs0 .. fs11
 *   0x60    88    s1 .. s11
 *   0xb8    8     (padding)
 *   0xc0    8     s0 (fp)                  fp - 16 of the frame's end
 *   0xc8    8     ra (pc)                  the return address of the call
 *                                          that suspended the context
 *   0xd0          (the suspended function's frame)
 *
 * gp and tp belong to the thread (process-wide gp; tp is the M's TLS
 * pointer) and are never switched. fcsr is thread-global mode state and not
 * saved (as Boost.Context and Go).
 *
 * Resuming jumps to the pc through t2 (jr t2) rather than returning to it
 * (ret), as amd64 does and for its reason: after a stack switch a return
 * never matches the return-address stack, while a jump through a register
 * that is not a link register (ra, t0) neither pops nor pushes it. (t2 is
 * also the register Zicfilp exempts from landing-pad checks.) ra itself is
 * caller-saved and is not restored.
 *
 * Stack-pointer rule: sp always points into a real stack, so a signal can
 * arrive at any instruction; the frame is reserved before it is filled and
 * released only after it is read. Alignment: sp is 16-byte aligned at every
 * call, so a context is too (CTX_SIZE is a multiple of 16).
 */
#include "arch.h"
#include "asm.h"

	.text

/* int ctx_switch(void **save, void *to)
 * a0 = where to store the current context, a1 = context to resume. Returns
 * 0 when the saved context is resumed. */
FUNC(ctx_switch)
	.cfi_startproc
	addi	sp, sp, -CTX_SIZE
	.cfi_def_cfa_offset CTX_SIZE
	fsd	fs0, CTX_FS0+0x00(sp)
	fsd	fs1, CTX_FS0+0x08(sp)
	fsd	fs2, CTX_FS0+0x10(sp)
	fsd	fs3, CTX_FS0+0x18(sp)
	fsd	fs4, CTX_FS0+0x20(sp)
	fsd	fs5, CTX_FS0+0x28(sp)
	fsd	fs6, CTX_FS0+0x30(sp)
	fsd	fs7, CTX_FS0+0x38(sp)
	fsd	fs8, CTX_FS0+0x40(sp)
	fsd	fs9, CTX_FS0+0x48(sp)
	fsd	fs10, CTX_FS0+0x50(sp)
	fsd	fs11, CTX_FS0+0x58(sp)
	sd	s1, CTX_S1+0x00(sp)
	sd	s2, CTX_S1+0x08(sp)
	sd	s3, CTX_S1+0x10(sp)
	sd	s4, CTX_S1+0x18(sp)
	sd	s5, CTX_S1+0x20(sp)
	sd	s6, CTX_S1+0x28(sp)
	sd	s7, CTX_S1+0x30(sp)
	sd	s8, CTX_S1+0x38(sp)
	sd	s9, CTX_S1+0x40(sp)
	sd	s10, CTX_S1+0x48(sp)
	sd	s11, CTX_S1+0x50(sp)
	sd	s0, CTX_S0(sp)
	sd	ra, CTX_PC(sp)
	.cfi_offset s0, -(CTX_SIZE - CTX_S0)
	.cfi_offset ra, -(CTX_SIZE - CTX_PC)
	/* Publish the context only now that it is complete: a release store
	 * (fence rw,w then the store), so a thread that reads this pointer
	 * (with acquire) sees the frame above. RVWMO reorders plain stores. */
	fence	rw, w
	sd	sp, 0(a0)
	mv	sp, a1
	j	ctx_restore
	.cfi_endproc
ENDFUNC(ctx_switch)

/* Loads the frame at sp, pops it and jumps to its pc with a0 = 0 (what
 * ctx_switch returns). Shared tail of every resume. */
LOCALFUNC(ctx_restore)
	fld	fs0, CTX_FS0+0x00(sp)
	fld	fs1, CTX_FS0+0x08(sp)
	fld	fs2, CTX_FS0+0x10(sp)
	fld	fs3, CTX_FS0+0x18(sp)
	fld	fs4, CTX_FS0+0x20(sp)
	fld	fs5, CTX_FS0+0x28(sp)
	fld	fs6, CTX_FS0+0x30(sp)
	fld	fs7, CTX_FS0+0x38(sp)
	fld	fs8, CTX_FS0+0x40(sp)
	fld	fs9, CTX_FS0+0x48(sp)
	fld	fs10, CTX_FS0+0x50(sp)
	fld	fs11, CTX_FS0+0x58(sp)
	ld	s1, CTX_S1+0x00(sp)
	ld	s2, CTX_S1+0x08(sp)
	ld	s3, CTX_S1+0x10(sp)
	ld	s4, CTX_S1+0x18(sp)
	ld	s5, CTX_S1+0x20(sp)
	ld	s6, CTX_S1+0x28(sp)
	ld	s7, CTX_S1+0x30(sp)
	ld	s8, CTX_S1+0x38(sp)
	ld	s9, CTX_S1+0x40(sp)
	ld	s10, CTX_S1+0x48(sp)
	ld	s11, CTX_S1+0x50(sp)
	ld	s0, CTX_S0(sp)
	ld	t2, CTX_PC(sp)
	addi	sp, sp, CTX_SIZE
	li	a0, 0
	jr	t2
ENDFUNC(ctx_restore)

/* void ctx_jump(void *to): resume to, saving nothing. */
FUNC(ctx_jump)
	mv	sp, a0
	j	ctx_restore
ENDFUNC(ctx_jump)

/* void ctx_switch_call(void **save, void *to, void (*fn)(void *), void *arg)
 * Save, move to to's stack, call fn(arg) just below to's frame, then resume
 * to. fn's frames sit where to's function would push its next frame, which
 * is free while to is suspended (Boost's ontop_fcontext; mrt's mcall).
 * s0 points at the end of to's frame while fn runs, and the CFI describes
 * to's frame (it has the layout of ours): a backtrace from fn continues
 * into the function fn returns to. */
FUNC(ctx_switch_call)
	.cfi_startproc
	addi	sp, sp, -CTX_SIZE
	.cfi_def_cfa_offset CTX_SIZE
	fsd	fs0, CTX_FS0+0x00(sp)
	fsd	fs1, CTX_FS0+0x08(sp)
	fsd	fs2, CTX_FS0+0x10(sp)
	fsd	fs3, CTX_FS0+0x18(sp)
	fsd	fs4, CTX_FS0+0x20(sp)
	fsd	fs5, CTX_FS0+0x28(sp)
	fsd	fs6, CTX_FS0+0x30(sp)
	fsd	fs7, CTX_FS0+0x38(sp)
	fsd	fs8, CTX_FS0+0x40(sp)
	fsd	fs9, CTX_FS0+0x48(sp)
	fsd	fs10, CTX_FS0+0x50(sp)
	fsd	fs11, CTX_FS0+0x58(sp)
	sd	s1, CTX_S1+0x00(sp)
	sd	s2, CTX_S1+0x08(sp)
	sd	s3, CTX_S1+0x10(sp)
	sd	s4, CTX_S1+0x18(sp)
	sd	s5, CTX_S1+0x20(sp)
	sd	s6, CTX_S1+0x28(sp)
	sd	s7, CTX_S1+0x30(sp)
	sd	s8, CTX_S1+0x38(sp)
	sd	s9, CTX_S1+0x40(sp)
	sd	s10, CTX_S1+0x48(sp)
	sd	s11, CTX_S1+0x50(sp)
	sd	s0, CTX_S0(sp)
	sd	ra, CTX_PC(sp)
	.cfi_offset s0, -(CTX_SIZE - CTX_S0)
	.cfi_offset ra, -(CTX_SIZE - CTX_PC)
	fence	rw, w
	sd	sp, 0(a0)
	mv	sp, a1
	addi	s0, sp, CTX_SIZE
	mv	a0, a3
	jalr	a2
	j	ctx_restore
	.cfi_endproc
ENDFUNC(ctx_switch_call)

/* void ctx_call_on(void *stack_top, void (*fn)(void *), void *arg)
 * Run fn(arg) on the stack below stack_top and come back (systemstack).
 * s0 keeps the way home, the end of a two-word frame {s0, ra} on the
 * caller's stack, and the CFI says so, so a debugger unwinds from fn
 * through this frame back onto the caller's stack. */
FUNC(ctx_call_on)
	.cfi_startproc
	addi	sp, sp, -16
	.cfi_def_cfa_offset 16
	sd	s0, 0(sp)
	sd	ra, 8(sp)
	.cfi_offset s0, -16
	.cfi_offset ra, -8
	addi	s0, sp, 16
	.cfi_def_cfa s0, 0
	andi	sp, a0, -16
	mv	a0, a2
	jalr	a1
	addi	sp, s0, -16
	.cfi_def_cfa sp, 16
	ld	s0, 0(sp)
	ld	ra, 8(sp)
	.cfi_restore s0
	.cfi_restore ra
	addi	sp, sp, 16
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
ENDFUNC(ctx_call_on)

/* void *ctx_make(void *stack_top, void (*entry)(void *), void *arg)
 * Builds, below stack_top, a frame that ctx_switch/ctx_jump can resume: it
 * resumes at ctx_start with s1 = entry, s2 = arg, s0 = 0 and every other
 * saved register zero. The 16 bytes above it stay zero: an empty frame
 * record for frame-pointer walkers. Returns the context. */
FUNC(ctx_make)
	andi	t0, a0, -16
	addi	a0, t0, -(CTX_SIZE + 16)
	sd	zero, CTX_SIZE+0(a0)
	sd	zero, CTX_SIZE+8(a0)
	addi	t1, a0, CTX_FS0
	addi	t2, a0, CTX_SIZE
1:	sd	zero, 0(t1)		/* the whole frame */
	addi	t1, t1, 8
	bltu	t1, t2, 1b
	sd	a1, CTX_S1+0x00(a0)	/* s1 = entry */
	sd	a2, CTX_S1+0x08(a0)	/* s2 = arg */
	lla	t0, ctx_start
	sd	t0, CTX_PC(a0)
	ret
ENDFUNC(ctx_make)

/* The first frame of a made context. Reached by the resume jump with sp =
 * frame + 0xd0, 16-aligned, s0 = 0; the undefined return address ends every
 * unwinder's walk, the zero s0 every frame-pointer walk. */
LOCALFUNC(ctx_start)
	.cfi_startproc
	.cfi_undefined ra
	mv	a0, s2
	jalr	s1
	/* entry must not return: there is nowhere to go. */
	call	SYM(ctx_entry_returned)
	unimp
	.cfi_endproc
ENDFUNC(ctx_start)
