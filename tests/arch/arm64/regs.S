/*
 * regs.S (arm64, tests) — proves a g switch preserves the callee-saved state.
 *
 *   uint64_t regs_check(void (*sw)(void *), void *arg, uint64_t seed)
 *
 * Loads every AAPCS64 callee-saved register with values derived from seed,
 * calls sw(arg) (which switches to another g that does the same with its
 * own seed, and back), then compares. Returns a mask of what changed (0:
 * everything survived):
 *
 *   bit  register   value loaded             bit  register   value loaded
 *   0    x19        seed ^ 0x1111111111111111 11  d8         seed ^ 0xcccccccccccccccc
 *   1    x20        seed ^ 0x2222222222222222 12  d9         seed ^ 0xdddddddddddddddd
 *   2    x21        seed ^ 0x3333333333333333 13  d10        seed ^ 0xeeeeeeeeeeeeeeee
 *   3    x22        seed ^ 0x4444444444444444 14  d11        seed ^ 0x0f0f0f0f0f0f0f0f
 *   4    x23        seed ^ 0x5555555555555555 15  d12        seed ^ 0xf0f0f0f0f0f0f0f0
 *   5    x24        seed ^ 0x6666666666666666 16  d13        seed ^ 0x00ff00ff00ff00ff
 *   6    x25        seed ^ 0x7777777777777777 17  d14        seed ^ 0xff00ff00ff00ff00
 *   7    x26        seed ^ 0x8888888888888888 18  d15        seed ^ 0x0000ffff0000ffff
 *   8    x27        seed ^ 0x9999999999999999 19  sp         the frame of this call
 *   9    x28        seed ^ 0xaaaaaaaaaaaaaaaa
 *   10   x29 (fp)   seed ^ 0xbbbbbbbbbbbbbbbb
 *
 * x30 (lr) is the return address of the call to sw itself: the call coming
 * back here at all is its check. The d registers are the low 64 bits of
 * v8..v15, the part AAPCS64 makes callee-saved. x18 is never touched.
 *
 * Frame (sp 16-aligned throughout):
 *   0(sp) x19 .. 72(sp) x28   80(sp) x29, x30   96(sp) d8 .. 152(sp) d15
 *   160(sp) seed   168(sp) expected sp
 */
#include "asm.h"

#define FRAME 176

	.text
FUNC(regs_check)
	BTI_C
	sub	sp, sp, #FRAME
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mov	x9, sp
	stp	x2, x9, [sp, #160]	/* seed, expected sp */

	eor	x19, x2, #0x1111111111111111
	eor	x20, x2, #0x2222222222222222
	eor	x21, x2, #0x3333333333333333
	eor	x22, x2, #0x4444444444444444
	eor	x23, x2, #0x5555555555555555
	eor	x24, x2, #0x6666666666666666
	eor	x25, x2, #0x7777777777777777
	eor	x26, x2, #0x8888888888888888
	eor	x27, x2, #0x9999999999999999
	eor	x28, x2, #0xaaaaaaaaaaaaaaaa
	eor	x29, x2, #0xbbbbbbbbbbbbbbbb
	eor	x9, x2, #0xcccccccccccccccc
	fmov	d8, x9
	eor	x9, x2, #0xdddddddddddddddd
	fmov	d9, x9
	eor	x9, x2, #0xeeeeeeeeeeeeeeee
	fmov	d10, x9
	eor	x9, x2, #0x0f0f0f0f0f0f0f0f
	fmov	d11, x9
	eor	x9, x2, #0xf0f0f0f0f0f0f0f0
	fmov	d12, x9
	eor	x9, x2, #0x00ff00ff00ff00ff
	fmov	d13, x9
	eor	x9, x2, #0xff00ff00ff00ff00
	fmov	d14, x9
	eor	x9, x2, #0x0000ffff0000ffff
	fmov	d15, x9

	mov	x9, x0
	mov	x0, x1
	blr	x9

	mov	x0, #0			/* the mask */
	ldr	x2, [sp, #160]		/* seed */
	.macro	chk reg, k, bit
	eor	x9, x2, #\k
	cmp	\reg, x9
	b.eq	1f
	orr	x0, x0, #(1 << \bit)
1:
	.endm
	.macro	chkd reg, k, bit
	eor	x9, x2, #\k
	fmov	x10, \reg
	cmp	x10, x9
	b.eq	1f
	orr	x0, x0, #(1 << \bit)
1:
	.endm
	chk	x19, 0x1111111111111111, 0
	chk	x20, 0x2222222222222222, 1
	chk	x21, 0x3333333333333333, 2
	chk	x22, 0x4444444444444444, 3
	chk	x23, 0x5555555555555555, 4
	chk	x24, 0x6666666666666666, 5
	chk	x25, 0x7777777777777777, 6
	chk	x26, 0x8888888888888888, 7
	chk	x27, 0x9999999999999999, 8
	chk	x28, 0xaaaaaaaaaaaaaaaa, 9
	chk	x29, 0xbbbbbbbbbbbbbbbb, 10
	chkd	d8, 0xcccccccccccccccc, 11
	chkd	d9, 0xdddddddddddddddd, 12
	chkd	d10, 0xeeeeeeeeeeeeeeee, 13
	chkd	d11, 0x0f0f0f0f0f0f0f0f, 14
	chkd	d12, 0xf0f0f0f0f0f0f0f0, 15
	chkd	d13, 0x00ff00ff00ff00ff, 16
	chkd	d14, 0xff00ff00ff00ff00, 17
	chkd	d15, 0x0000ffff0000ffff, 18
	ldr	x9, [sp, #168]
	mov	x10, sp
	cmp	x9, x10
	b.eq	1f
	orr	x0, x0, #(1 << 19)
1:
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #FRAME
	ret
ENDFUNC(regs_check)
