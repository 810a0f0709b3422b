/* Callback trampolines for the x86-64 System V ABI: a fixed pool of entry points C can call, one
 * per callback slot (native/callback/), for callbacks whose arguments all arrive in registers
 * (at most 6 integer/pointer and 8 floating-point ones) and whose result is a scalar.
 *
 * Each stub is 16 bytes (DLSWAP_CB_STUB_BYTES, abi/callback_stubs.h): it puts its own index in
 * %r10d (a scratch register no argument uses) and jumps to the common part, which stores the six
 * integer and eight vector argument registers in a frame on the stack, calls
 *
 *   void dlswap_cb_dispatch(uint32_t index, uint64_t frame[16]);
 *
 * and returns to the C caller with frame[14] in %rax and frame[15] in %xmm0 (the dispatcher writes
 * the result into the one the result's type comes back in). The stubs are code in the addon's own
 * text: nothing is generated at run time, and a stub outlives every callback that uses it.
 *
 * Stack: a stub is entered with %rsp = 8 mod 16 (after the caller's call) and does not touch it;
 * the common part subtracts 136 (16 slots of 8 bytes, plus 8), so that %rsp = 0 mod 16 at the call
 * to the dispatcher, as the ABI requires.
 */
#if defined(__CET__)
#include <cet.h>
#else
#define _CET_ENDBR
#endif

#include "abi/callback_stubs.h"

	.text
	.p2align 4
	.type	dlswap_cb_common, @function
dlswap_cb_common:
	.cfi_startproc
	subq	$136, %rsp
	.cfi_adjust_cfa_offset 136
	movq	%rdi, 0(%rsp)
	movq	%rsi, 8(%rsp)
	movq	%rdx, 16(%rsp)
	movq	%rcx, 24(%rsp)
	movq	%r8, 32(%rsp)
	movq	%r9, 40(%rsp)
	movsd	%xmm0, 48(%rsp)
	movsd	%xmm1, 56(%rsp)
	movsd	%xmm2, 64(%rsp)
	movsd	%xmm3, 72(%rsp)
	movsd	%xmm4, 80(%rsp)
	movsd	%xmm5, 88(%rsp)
	movsd	%xmm6, 96(%rsp)
	movsd	%xmm7, 104(%rsp)
	movq	$0, 112(%rsp)
	movq	$0, 120(%rsp)
	movl	%r10d, %edi
	movq	%rsp, %rsi
	call	dlswap_cb_dispatch
	movq	112(%rsp), %rax
	movsd	120(%rsp), %xmm0
	addq	$136, %rsp
	.cfi_adjust_cfa_offset -136
	ret
	.cfi_endproc
	.size	dlswap_cb_common, .-dlswap_cb_common

	.p2align 4
	.globl	dlswap_cb_stubs
	.hidden	dlswap_cb_stubs
	.type	dlswap_cb_stubs, @function
dlswap_cb_stubs:
	.set	dlswap_cb_i, 0
	.rept	DLSWAP_CB_STUBS
	.balign	DLSWAP_CB_STUB_BYTES
	_CET_ENDBR
	movl	$dlswap_cb_i, %r10d
	jmp	dlswap_cb_common
	.set	dlswap_cb_i, dlswap_cb_i + 1
	.endr
	/* The stubs end exactly where C++ computes (abi/callback_stubs.h): the assembler refuses to move
	 * .org backwards, so a stub longer than DLSWAP_CB_STUB_BYTES fails the build. */
	.org	dlswap_cb_stubs + DLSWAP_CB_STUBS * DLSWAP_CB_STUB_BYTES
	.size	dlswap_cb_stubs, .-dlswap_cb_stubs

	.section .note.GNU-stack,"",@progbits
