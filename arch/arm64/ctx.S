/*
 * ctx.S (arm64) — context switches, Boost.Context style.
 *
 * A suspended context is a stack pointer. At it, the switch has stored the
 * AAPCS64 callee-saved state; resuming loads it, pops it and returns:
 *
 *   offset  size  contents                 (CTX_* in arch.h)
 *   0x00    64    d8 .. d15                low 64 bits of v8..v15
 *   0x40    80    x19 .. x28
 *   0x90    8     x29 (fp)                 with 0x98: an AAPCS64 frame record
 *   0x98    8     x30 (lr)                 where the context resumes
 *   0xa0          (the suspended function's frame)
 *
 * x18 is the platform register (reserved on Darwin) and is never touched.
 * FPCR is thread-global mode state and not saved (as Boost.Context and Go).
 *
 * Stack-pointer rule: sp always points into a real stack, so a signal can
 * arrive at any instruction; the frame is reserved (sub) before it is
 * filled and released (add) only after it is read. Alignment: sp is 16-byte
 * aligned at every call, so a context is too (CTX_SIZE is a multiple of 16).
 *
 * Resuming returns (ret) to the saved x30, where amd64 jumps: arm64 has no
 * indirect jump that BTI lets land on a return address (br would need a
 * landing pad there, and C code has none after its calls), while ret is not
 * checked. Branches: every global entry opens with BTI_C (asm.h); ctx_start,
 * reached only by that ret, is not a landing pad.
 */
#include "arch.h"
#include "asm.h"

	.text

/* int ctx_switch(void **save, void *to)
 * x0 = where to store the current context, x1 = context to resume. Returns
 * 0 when the saved context is resumed. */
FUNC(ctx_switch)
	.cfi_startproc
	BTI_C
	sub	sp, sp, #CTX_SIZE
	.cfi_def_cfa_offset CTX_SIZE
	stp	d8, d9, [sp, #CTX_D8]
	stp	d10, d11, [sp, #CTX_D10]
	stp	d12, d13, [sp, #CTX_D12]
	stp	d14, d15, [sp, #CTX_D14]
	stp	x19, x20, [sp, #CTX_X19]
	stp	x21, x22, [sp, #CTX_X21]
	stp	x23, x24, [sp, #CTX_X23]
	stp	x25, x26, [sp, #CTX_X25]
	stp	x27, x28, [sp, #CTX_X27]
	stp	x29, x30, [sp, #CTX_FP]
	.cfi_offset x29, -(CTX_SIZE - CTX_FP)
	.cfi_offset x30, -(CTX_SIZE - CTX_PC)
	/* Publish the context only now that it is complete: a release store,
	 * so a thread that reads this pointer (with acquire) sees the frame
	 * above. arm64 reorders plain stores. */
	mov	x9, sp
	stlr	x9, [x0]
	mov	sp, x1
	b	ctx_restore
	.cfi_endproc
ENDFUNC(ctx_switch)

/* Loads the frame at sp, pops it and returns into it with x0 = 0 (what
 * ctx_switch returns). Shared tail of every resume (reached by direct
 * branches only). */
LOCALFUNC(ctx_restore)
	ldp	d8, d9, [sp, #CTX_D8]
	ldp	d10, d11, [sp, #CTX_D10]
	ldp	d12, d13, [sp, #CTX_D12]
	ldp	d14, d15, [sp, #CTX_D14]
	ldp	x19, x20, [sp, #CTX_X19]
	ldp	x21, x22, [sp, #CTX_X21]
	ldp	x23, x24, [sp, #CTX_X23]
	ldp	x25, x26, [sp, #CTX_X25]
	ldp	x27, x28, [sp, #CTX_X27]
	ldp	x29, x30, [sp, #CTX_FP]
	add	sp, sp, #CTX_SIZE
	mov	x0, #0
	ret
ENDFUNC(ctx_restore)

/* void ctx_jump(void *to): resume to, saving nothing. */
FUNC(ctx_jump)
	BTI_C
	mov	sp, x0
	b	ctx_restore
ENDFUNC(ctx_jump)

/* void ctx_switch_call(void **save, void *to, void (*fn)(void *), void *arg)
 * Save, move to to's stack, call fn(arg) just below to's frame, then resume
 * to. fn's frames sit where to's function would push its next frame, which
 * is free while to is suspended (Boost's ontop_fcontext; mrt's mcall).
 * x29 points at to's frame record while fn runs, and the CFI describes
 * to's frame (it has the layout of ours): a backtrace from fn continues
 * into the function fn returns to. */
FUNC(ctx_switch_call)
	.cfi_startproc
	BTI_C
	sub	sp, sp, #CTX_SIZE
	.cfi_def_cfa_offset CTX_SIZE
	stp	d8, d9, [sp, #CTX_D8]
	stp	d10, d11, [sp, #CTX_D10]
	stp	d12, d13, [sp, #CTX_D12]
	stp	d14, d15, [sp, #CTX_D14]
	stp	x19, x20, [sp, #CTX_X19]
	stp	x21, x22, [sp, #CTX_X21]
	stp	x23, x24, [sp, #CTX_X23]
	stp	x25, x26, [sp, #CTX_X25]
	stp	x27, x28, [sp, #CTX_X27]
	stp	x29, x30, [sp, #CTX_FP]
	.cfi_offset x29, -(CTX_SIZE - CTX_FP)
	.cfi_offset x30, -(CTX_SIZE - CTX_PC)
	mov	x9, sp
	stlr	x9, [x0]
	mov	sp, x1
	add	x29, sp, #CTX_FP
	mov	x0, x3
	blr	x2
	b	ctx_restore
	.cfi_endproc
ENDFUNC(ctx_switch_call)

/* void ctx_call_on(void *stack_top, void (*fn)(void *), void *arg)
 * Run fn(arg) on the stack below stack_top and come back (systemstack).
 * x29 keeps the way home in a frame record on the caller's stack, and the
 * CFI says so, so a debugger unwinds from fn through this frame back onto
 * the caller's stack. */
FUNC(ctx_call_on)
	.cfi_startproc
	BTI_C
	stp	x29, x30, [sp, #-16]!
	.cfi_def_cfa_offset 16
	.cfi_offset x29, -16
	.cfi_offset x30, -8
	mov	x29, sp
	.cfi_def_cfa_register x29
	and	x9, x0, #-16
	mov	sp, x9
	mov	x0, x2
	blr	x1
	mov	sp, x29
	.cfi_def_cfa_register sp
	ldp	x29, x30, [sp], #16
	.cfi_def_cfa_offset 0
	.cfi_restore x29
	.cfi_restore x30
	ret
	.cfi_endproc
ENDFUNC(ctx_call_on)

/* void *ctx_make(void *stack_top, void (*entry)(void *), void *arg)
 * Builds, below stack_top, a frame that ctx_switch/ctx_jump can resume: it
 * "returns" into ctx_start with x19 = entry, x20 = arg, x29 = 0 and every
 * other saved register zero. The 16 bytes above it stay zero: an empty
 * frame record for frame-pointer walkers. Returns the context. */
FUNC(ctx_make)
	BTI_C
	and	x9, x0, #-16
	sub	x0, x9, #(CTX_SIZE + 16)
	stp	xzr, xzr, [x0, #CTX_SIZE]
	stp	xzr, xzr, [x0, #CTX_D8]
	stp	xzr, xzr, [x0, #CTX_D10]
	stp	xzr, xzr, [x0, #CTX_D12]
	stp	xzr, xzr, [x0, #CTX_D14]
	stp	x1, x2, [x0, #CTX_X19]
	stp	xzr, xzr, [x0, #CTX_X21]
	stp	xzr, xzr, [x0, #CTX_X23]
	stp	xzr, xzr, [x0, #CTX_X25]
	stp	xzr, xzr, [x0, #CTX_X27]
	adr	x10, ctx_start
	stp	xzr, x10, [x0, #CTX_FP]
	ret
ENDFUNC(ctx_make)

/* The first frame of a made context. Reached by ret (sp = frame + 0xa0,
 * 16-aligned, x29 = 0); the undefined return address ends every unwinder's
 * walk, the zero x29 every frame-pointer walk. */
LOCALFUNC(ctx_start)
	.cfi_startproc
	.cfi_undefined x30
	mov	x0, x20
	blr	x19
	/* entry must not return: there is nowhere to go. */
	bl	SYM(ctx_entry_returned)
	udf	#0
	.cfi_endproc
ENDFUNC(ctx_start)
