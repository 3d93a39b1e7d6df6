/*
 * regs.S (riscv64, tests) — proves a g switch preserves the callee-saved
 * state.
 *
 *   uint64_t regs_check(void (*sw)(void *), void *arg, uint64_t seed)
 *
 * Loads every LP64D callee-saved register with values derived from seed,
 * calls sw(arg) (which switches to another g that does the same with its
 * own seed, and back), then compares. Returns a mask of what changed (0:
 * everything survived):
 *
 *   bit      register      value loaded
 *   0 .. 11  s0 .. s11     seed ^ (0x0101010101010101 * (n + 1))  (n: 0..11)
 *   12 .. 23 fs0 .. fs11   seed ^ (0x0101010101010101 * (n + 0x81)) (raw bits)
 *   24       sp            the frame of this call
 *
 * ra is the return address of the call to sw itself: the call coming back
 * here at all is its check. gp and tp are the thread's and not switched.
 *
 * Frame (sp 16-aligned throughout):
 *   0(sp) s0 .. 88(sp) s11   96(sp) ra   104(sp) fs0 .. 192(sp) fs11
 *   200(sp) seed   208(sp) expected sp   216 padding
 */
#include "asm.h"

#define FRAME 224
#define K 0x0101010101010101

	.text
FUNC(regs_check)
	addi	sp, sp, -FRAME
	sd	s0, 0(sp)
	sd	s1, 8(sp)
	sd	s2, 16(sp)
	sd	s3, 24(sp)
	sd	s4, 32(sp)
	sd	s5, 40(sp)
	sd	s6, 48(sp)
	sd	s7, 56(sp)
	sd	s8, 64(sp)
	sd	s9, 72(sp)
	sd	s10, 80(sp)
	sd	s11, 88(sp)
	sd	ra, 96(sp)
	fsd	fs0, 104(sp)
	fsd	fs1, 112(sp)
	fsd	fs2, 120(sp)
	fsd	fs3, 128(sp)
	fsd	fs4, 136(sp)
	fsd	fs5, 144(sp)
	fsd	fs6, 152(sp)
	fsd	fs7, 160(sp)
	fsd	fs8, 168(sp)
	fsd	fs9, 176(sp)
	fsd	fs10, 184(sp)
	fsd	fs11, 192(sp)
	sd	a2, 200(sp)		/* seed */
	sd	sp, 208(sp)		/* expected sp */

	/* t0 = seed ^ K*n for the next n: the values of the table above. */
	.macro	val n
	li	t0, K * (\n)
	xor	t0, t0, a2
	.endm
	val	1
	mv	s0, t0
	val	2
	mv	s1, t0
	val	3
	mv	s2, t0
	val	4
	mv	s3, t0
	val	5
	mv	s4, t0
	val	6
	mv	s5, t0
	val	7
	mv	s6, t0
	val	8
	mv	s7, t0
	val	9
	mv	s8, t0
	val	10
	mv	s9, t0
	val	11
	mv	s10, t0
	val	12
	mv	s11, t0
	val	0x81
	fmv.d.x	fs0, t0
	val	0x82
	fmv.d.x	fs1, t0
	val	0x83
	fmv.d.x	fs2, t0
	val	0x84
	fmv.d.x	fs3, t0
	val	0x85
	fmv.d.x	fs4, t0
	val	0x86
	fmv.d.x	fs5, t0
	val	0x87
	fmv.d.x	fs6, t0
	val	0x88
	fmv.d.x	fs7, t0
	val	0x89
	fmv.d.x	fs8, t0
	val	0x8a
	fmv.d.x	fs9, t0
	val	0x8b
	fmv.d.x	fs10, t0
	val	0x8c
	fmv.d.x	fs11, t0

	mv	t1, a0
	mv	a0, a1
	jalr	t1

	li	a0, 0			/* the mask */
	ld	a2, 200(sp)		/* seed */
	.macro	chk reg, n, bit
	val	\n
	beq	\reg, t0, 1f
	li	t1, 1 << \bit
	or	a0, a0, t1
1:
	.endm
	.macro	chkf reg, n, bit
	val	\n
	fmv.x.d	t2, \reg
	beq	t2, t0, 1f
	li	t1, 1 << \bit
	or	a0, a0, t1
1:
	.endm
	chk	s0, 1, 0
	chk	s1, 2, 1
	chk	s2, 3, 2
	chk	s3, 4, 3
	chk	s4, 5, 4
	chk	s5, 6, 5
	chk	s6, 7, 6
	chk	s7, 8, 7
	chk	s8, 9, 8
	chk	s9, 10, 9
	chk	s10, 11, 10
	chk	s11, 12, 11
	chkf	fs0, 0x81, 12
	chkf	fs1, 0x82, 13
	chkf	fs2, 0x83, 14
	chkf	fs3, 0x84, 15
	chkf	fs4, 0x85, 16
	chkf	fs5, 0x86, 17
	chkf	fs6, 0x87, 18
	chkf	fs7, 0x88, 19
	chkf	fs8, 0x89, 20
	chkf	fs9, 0x8a, 21
	chkf	fs10, 0x8b, 22
	chkf	fs11, 0x8c, 23
	ld	t0, 208(sp)
	beq	t0, sp, 1f
	li	t1, 1 << 24
	or	a0, a0, t1
1:
	ld	s0, 0(sp)
	ld	s1, 8(sp)
	ld	s2, 16(sp)
	ld	s3, 24(sp)
	ld	s4, 32(sp)
	ld	s5, 40(sp)
	ld	s6, 48(sp)
	ld	s7, 56(sp)
	ld	s8, 64(sp)
	ld	s9, 72(sp)
	ld	s10, 80(sp)
	ld	s11, 88(sp)
	ld	ra, 96(sp)
	fld	fs0, 104(sp)
	fld	fs1, 112(sp)
	fld	fs2, 120(sp)
	fld	fs3, 128(sp)
	fld	fs4, 136(sp)
	fld	fs5, 144(sp)
	fld	fs6, 152(sp)
	fld	fs7, 160(sp)
	fld	fs8, 168(sp)
	fld	fs9, 176(sp)
	fld	fs10, 184(sp)
	fld	fs11, 192(sp)
	addi	sp, sp, FRAME
	ret
ENDFUNC(regs_check)
