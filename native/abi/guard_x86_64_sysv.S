/* The guarded call trampoline for the x86-64 System V ABI: dlswap_call_* (trampoline_x86_64_sysv.S)
 * plus a recovery record, so that a fault in the callee can end the call instead of the process.
 *
 * C++ calls it as if it were
 *
 *   R dlswap_guard_*K(uint64_t a0, ..., uint64_t a<K-1>, [double f0, ..., double f7,] const void *fn,
 *                     RecoveryFrame *frame);
 *
 * `fn` and `frame` come right after the K integer arguments the target takes (see below for
 * where). Before it jumps to `fn` (a tail call, as in the unguarded trampoline) it stores in
 * `frame` what a return to our caller needs: the callee-saved registers, the stack pointer at entry
 * and the return address. The fault handler (native/signals/containment.cc) rewrites the faulting
 * thread's context from them, and dlswap_guard_resume does the same without a signal: either way
 * the caller sees an ordinary return, with the callee-saved registers it had, and reads the outcome
 * the fault path wrote into `frame`. Nothing here touches the signal mask or thread-local storage:
 * the caller links `frame` into its thread's record (RecoveryFrame, native/signals/recovery.h).
 *
 * The offsets below are RecoveryFrame's (static_asserts in recovery.h hold them to it).
 */
#if defined(__CET__)
#include <cet.h>
#define DLSWAP_NOTRACK notrack
#else
#define _CET_ENDBR
#define DLSWAP_NOTRACK
#endif

/* One entry per count K of integer-register arguments the target takes (0..6): `fn` and `frame`
 * travel as the next two integer arguments, in the argument registers after the target's own (no
 * stack traffic, and no unused argument register to fill) as long as they fit, on the stack past
 * them. The four names of each entry differ only in their C++ declaration, as in the unguarded
 * trampoline (`_m`: also the eight vector argument registers, which the integer registers'
 * numbering does not count; `_v`: the result read from xmm0). */
.macro GUARD_NAMES k
	.globl	dlswap_guard_i\k
	.hidden	dlswap_guard_i\k
	.type	dlswap_guard_i\k, @function
	.globl	dlswap_guard_iv\k
	.hidden	dlswap_guard_iv\k
	.type	dlswap_guard_iv\k, @function
	.globl	dlswap_guard_m\k
	.hidden	dlswap_guard_m\k
	.type	dlswap_guard_m\k, @function
	.globl	dlswap_guard_mv\k
	.hidden	dlswap_guard_mv\k
	.type	dlswap_guard_mv\k, @function
	.p2align 4
dlswap_guard_i\k:
dlswap_guard_iv\k:
dlswap_guard_m\k:
dlswap_guard_mv\k:
.endm

.macro GUARD_SIZES k
	.size	dlswap_guard_i\k, .-dlswap_guard_i\k
	.size	dlswap_guard_iv\k, .-dlswap_guard_iv\k
	.size	dlswap_guard_m\k, .-dlswap_guard_m\k
	.size	dlswap_guard_mv\k, .-dlswap_guard_mv\k
.endm

/* The record, into the frame whose address is in register `frame`; %al as for a variadic callee. */
.macro GUARD_SAVE frame
	movq	%rbx, 0(\frame)
	movq	%rbp, 8(\frame)
	movq	%r12, 16(\frame)
	movq	%r13, 24(\frame)
	movq	%r14, 32(\frame)
	movq	%r15, 40(\frame)
	movq	%rsp, 48(\frame)
	movq	(%rsp), %rax
	movq	%rax, 56(\frame)
	movl	$8, %eax
.endm

/* K <= 4: fn and frame in registers. */
.macro GUARD_IN_REGS k, fn, frame
	GUARD_NAMES \k
	.cfi_startproc
	_CET_ENDBR
	GUARD_SAVE \frame
	jmp	*\fn
	.cfi_endproc
	GUARD_SIZES \k
.endm

	.text
	GUARD_IN_REGS 0, %rdi, %rsi
	GUARD_IN_REGS 1, %rsi, %rdx
	GUARD_IN_REGS 2, %rdx, %rcx
	GUARD_IN_REGS 3, %rcx, %r8
	GUARD_IN_REGS 4, %r8, %r9

	/* K = 5: fn in r9, frame on the stack at 8(%rsp). */
	GUARD_NAMES 5
	.cfi_startproc
	_CET_ENDBR
	movq	8(%rsp), %r11
	GUARD_SAVE %r11
	jmp	*%r9
	.cfi_endproc
	GUARD_SIZES 5

	/* K = 6: fn at 8(%rsp), frame at 16(%rsp). */
	GUARD_NAMES 6
	.cfi_startproc
	_CET_ENDBR
	movq	16(%rsp), %r11
	GUARD_SAVE %r11
	jmp	*8(%rsp)
	.cfi_endproc
	GUARD_SIZES 6

/* void dlswap_guard_resume(RecoveryFrame *frame): continues at `frame`'s call site as if the call
 * had returned 0. For an end of the call that is not a signal (pthread_exit in the library). */
	.p2align 4
	.globl	dlswap_guard_resume
	.hidden	dlswap_guard_resume
	.type	dlswap_guard_resume, @function
dlswap_guard_resume:
	.cfi_startproc
	_CET_ENDBR
	movq	%rdi, %r11
	movq	0(%r11), %rbx
	movq	8(%r11), %rbp
	movq	16(%r11), %r12
	movq	24(%r11), %r13
	movq	32(%r11), %r14
	movq	40(%r11), %r15
	movq	48(%r11), %rsp
	addq	$8, %rsp
	cld
	xorl	%eax, %eax
	xorl	%edx, %edx
	pxor	%xmm0, %xmm0
	DLSWAP_NOTRACK jmp	*56(%r11)
	.cfi_endproc
	.size	dlswap_guard_resume, .-dlswap_guard_resume

	.section .note.GNU-stack,"",@progbits
