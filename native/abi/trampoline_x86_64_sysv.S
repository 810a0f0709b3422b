/* The call trampoline for the x86-64 System V ABI.
 *
 * C++ calls it as if it were
 *
 *   R dlswap_call_*(const void *fn, uint64_t a0, ..., uint64_t a5, [double f0, ..., double f7]);
 *
 * so the compiler has already put f0-f7 in xmm0-xmm7 (a float's bits in the low 32 bits, as the
 * ABI wants) and a0-a4 in rsi rdx rcx r8 r9, a5 on the stack. The trampoline shifts the integer
 * arguments down one register (a0 -> rdi ... a5 -> r9) and jumps to `fn` (a tail call): `fn`
 * returns straight to our caller, with its result in rax and xmm0.
 *
 * The four names are one piece of code. They differ only in the C++ declaration: with or without
 * the eight doubles (`_i`: the callee takes no floating-point argument, so the vector registers
 * need no defined values), and the return type, i.e. which return register the caller reads (`_i`,
 * `_m`: rax; `_iv`, `_mv`: xmm0 as a 16-byte vector). The caller truncates that to the declared C
 * return type, since the callee leaves the upper bits undefined.
 *
 * No frame and no stack use: entered with rsp = 8 mod 16 by our caller's call, the target sees the
 * stack a direct call would have given it (the copy of a5 above the return address is never read:
 * a callee with at most six integer arguments takes none from the stack), and the unwinder sees the
 * target called from our caller. %al is set to 8, an upper bound on the vector registers used, as
 * a variadic callee would require (the register path never calls one, but it costs nothing).
 *
 * Every call goes through here so that no C++ code calls through a function pointer of a type the
 * callee does not have.
 */
#if defined(__CET__)
#include <cet.h>
#else
#define _CET_ENDBR
#endif

	.text
	.p2align 4
	.globl	dlswap_call_i
	.hidden	dlswap_call_i
	.type	dlswap_call_i, @function
	.globl	dlswap_call_iv
	.hidden	dlswap_call_iv
	.type	dlswap_call_iv, @function
	.globl	dlswap_call_m
	.hidden	dlswap_call_m
	.type	dlswap_call_m, @function
	.globl	dlswap_call_mv
	.hidden	dlswap_call_mv
	.type	dlswap_call_mv, @function
dlswap_call_i:
dlswap_call_iv:
dlswap_call_m:
dlswap_call_mv:
	.cfi_startproc
	_CET_ENDBR
	movq	%rdi, %r11
	movq	%rsi, %rdi
	movq	%rdx, %rsi
	movq	%rcx, %rdx
	movq	%r8, %rcx
	movq	%r9, %r8
	movq	8(%rsp), %r9
	movl	$8, %eax
	jmp	*%r11
	.cfi_endproc
	.size	dlswap_call_i, .-dlswap_call_i
	.size	dlswap_call_iv, .-dlswap_call_iv
	.size	dlswap_call_m, .-dlswap_call_m
	.size	dlswap_call_mv, .-dlswap_call_mv

	.section .note.GNU-stack,"",@progbits
