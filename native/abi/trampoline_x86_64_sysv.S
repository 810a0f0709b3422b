/* The call trampoline for the x86-64 System V ABI.
 *
 * C++ calls it as if it were
 *
 *   R dlswap_call_*(uint64_t a0, ..., uint64_t a5, [double f0, ..., double f7,] const void *fn);
 *
 * so the compiler has already put a0-a5 in rdi rsi rdx rcx r8 r9 and f0-f7 in xmm0-xmm7 (a
 * float's bits in the low 32 bits, as the ABI wants): exactly the registers `fn` takes its
 * arguments in. `fn`, the seventh integer argument, is on the stack just above the return address.
 * The trampoline jumps to it (a tail call): `fn` returns straight to our caller, with its result in
 * rax and xmm0.
 *
 * The four names are one piece of code. They differ only in the C++ declaration: with or without
 * the eight doubles (`_i`: the callee takes no floating-point argument, so the vector registers
 * need no defined values), and the return type, i.e. which return register the caller reads (`_i`,
 * `_m`: rax; `_iv`, `_mv`: xmm0 as a 16-byte vector). The caller truncates that to the declared C
 * return type, since the callee leaves the upper bits undefined.
 *
 * No frame and no stack use: entered with rsp = 8 mod 16 by our caller's call, the target sees the
 * stack a direct call would have given it (the copy of `fn` above the return address is never read
 * by a callee with at most six integer arguments, which takes none from the stack), and the
 * unwinder sees the target called from our caller. %al is set to 8, an upper bound on the vector
 * registers used, as a variadic callee would require (the register path never calls one, but it
 * costs nothing).
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
	movl	$8, %eax
	jmp	*8(%rsp)
	.cfi_endproc
	.size	dlswap_call_i, .-dlswap_call_i
	.size	dlswap_call_iv, .-dlswap_call_iv
	.size	dlswap_call_m, .-dlswap_call_m
	.size	dlswap_call_mv, .-dlswap_call_mv

	.section .note.GNU-stack,"",@progbits
