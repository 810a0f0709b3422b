/* The guarded call trampoline for the x86-64 System V ABI: dlswap_call_* (trampoline_x86_64_sysv.S)
 * plus a recovery record, so that a fault in the callee can end the call instead of the process.
 *
 * C++ calls it as if it were
 *
 *   R dlswap_guard_*(uint64_t a0, ..., uint64_t a5, [double f0, ..., double f7,] const void *fn,
 *                    RecoveryFrame *frame);
 *
 * `fn` and `frame`, the seventh and eighth integer arguments, are on the stack at 8(%rsp) and
 * 16(%rsp). Before it jumps to `fn` (a tail call, as in the unguarded trampoline) it stores in
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

	.text
	.p2align 4
	.globl	dlswap_guard_i
	.hidden	dlswap_guard_i
	.type	dlswap_guard_i, @function
	.globl	dlswap_guard_iv
	.hidden	dlswap_guard_iv
	.type	dlswap_guard_iv, @function
	.globl	dlswap_guard_m
	.hidden	dlswap_guard_m
	.type	dlswap_guard_m, @function
	.globl	dlswap_guard_mv
	.hidden	dlswap_guard_mv
	.type	dlswap_guard_mv, @function
dlswap_guard_i:
dlswap_guard_iv:
dlswap_guard_m:
dlswap_guard_mv:
	.cfi_startproc
	_CET_ENDBR
	movq	16(%rsp), %r11
	movq	%rbx, 0(%r11)
	movq	%rbp, 8(%r11)
	movq	%r12, 16(%r11)
	movq	%r13, 24(%r11)
	movq	%r14, 32(%r11)
	movq	%r15, 40(%r11)
	movq	%rsp, 48(%r11)
	movq	(%rsp), %rax
	movq	%rax, 56(%r11)
	movl	$8, %eax
	jmp	*8(%rsp)
	.cfi_endproc
	.size	dlswap_guard_i, .-dlswap_guard_i
	.size	dlswap_guard_iv, .-dlswap_guard_iv
	.size	dlswap_guard_m, .-dlswap_guard_m
	.size	dlswap_guard_mv, .-dlswap_guard_mv

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
