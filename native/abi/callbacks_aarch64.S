/* Callback trampolines for AAPCS64 (aarch64 Linux): see callbacks_x86_64_sysv.S, the same design.
 *
 * Each stub is 16 bytes (DLSWAP_CB_STUB_BYTES, abi/callback_stubs.h): `bti c` (a landing pad for
 * the indirect call C makes; a NOP without BTI), its index into w9 (a temporary no argument uses), a branch to the common part. The common part
 * saves the frame pointer and link register with x0-x7 and d0-d7 in a 160-byte frame (16-byte
 * aligned, as sp must be), calls
 *
 *   void dlswap_cb_dispatch(uint32_t index, uint64_t frame[18]);
 *
 * with frame = sp + 16 (x0-x7, then d0-d7, then the result slots), and returns with frame[16] in x0
 * and frame[17] in d0 (a float result's bits in its low half, i.e. s0).
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define DLSWAP_BTI_C hint #34
#define DLSWAP_GNU_PROPERTY_BTI 1
#else
#define DLSWAP_BTI_C
#define DLSWAP_GNU_PROPERTY_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define DLSWAP_GNU_PROPERTY_PAC 2
#else
#define DLSWAP_GNU_PROPERTY_PAC 0
#endif

#include "abi/callback_stubs.h"

	.text
	.p2align 4
	.type	dlswap_cb_common, %function
dlswap_cb_common:
	.cfi_startproc
	stp	x29, x30, [sp, #-160]!
	.cfi_def_cfa_offset 160
	.cfi_offset 29, -160
	.cfi_offset 30, -152
	mov	x29, sp
	stp	x0, x1, [sp, #16]
	stp	x2, x3, [sp, #32]
	stp	x4, x5, [sp, #48]
	stp	x6, x7, [sp, #64]
	stp	d0, d1, [sp, #80]
	stp	d2, d3, [sp, #96]
	stp	d4, d5, [sp, #112]
	stp	d6, d7, [sp, #128]
	stp	xzr, xzr, [sp, #144]
	mov	w0, w9
	add	x1, sp, #16
	bl	dlswap_cb_dispatch
	ldr	x0, [sp, #144]
	ldr	d0, [sp, #152]
	ldp	x29, x30, [sp], #160
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
	.size	dlswap_cb_common, .-dlswap_cb_common

	.p2align 4
	.globl	dlswap_cb_stubs
	.hidden	dlswap_cb_stubs
	.type	dlswap_cb_stubs, %function
dlswap_cb_stubs:
	.set	dlswap_cb_i, 0
	.rept	DLSWAP_CB_STUBS
	.balign	DLSWAP_CB_STUB_BYTES
	DLSWAP_BTI_C
	mov	w9, #dlswap_cb_i
	b	dlswap_cb_common
	.set	dlswap_cb_i, dlswap_cb_i + 1
	.endr
	/* The stubs end exactly where C++ computes (abi/callback_stubs.h): the assembler refuses to move
	 * .org backwards, so a stub longer than DLSWAP_CB_STUB_BYTES fails the build. */
	.org	dlswap_cb_stubs + DLSWAP_CB_STUBS * DLSWAP_CB_STUB_BYTES
	.size	dlswap_cb_stubs, .-dlswap_cb_stubs

	.section .note.GNU-stack,"",%progbits

#if DLSWAP_GNU_PROPERTY_BTI || DLSWAP_GNU_PROPERTY_PAC
	.section .note.gnu.property,"a"
	.p2align 3
	.word	4
	.word	16
	.word	5
	.asciz	"GNU"
	.word	0xc0000000
	.word	4
	.word	(DLSWAP_GNU_PROPERTY_BTI | DLSWAP_GNU_PROPERTY_PAC)
	.word	0
#endif
