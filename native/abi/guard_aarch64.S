/* The guarded call trampoline for AAPCS64: dlswap_call_* (trampoline_aarch64.S) plus a recovery
 * record, so that a fault in the callee can end the call instead of the process.
 *
 * C++ calls it as if it were
 *
 *   R dlswap_guard_*K(uint64_t a0, ..., uint64_t a<K-1>, [double f0, ..., double f7,] const void *fn,
 *                     RecoveryFrame *frame);
 *
 * `fn` and `frame` come right after the K integer arguments the target takes (see below for
 * where). Before it branches to `fn` (a tail call: x30 still holds our caller's return address) it stores
 * in `frame` what a return to our caller needs: x19-x28, x29, x30, the stack pointer and d8-d15
 * (the callee-saved registers of AAPCS64). The fault handler (native/signals/containment.cc)
 * rewrites the faulting thread's context from them, and dlswap_guard_resume does the same without
 * a signal: the caller sees an ordinary return and reads the outcome the fault path wrote into
 * `frame`. No signal mask, no thread-local storage here: the caller links `frame` into its
 * thread's record (native/signals/recovery.h, whose static_asserts hold the offsets below).
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

/* One entry per count K of integer-register arguments the target takes (0..8): `fn` and `frame`
 * travel as the next two integer arguments, in x<K> and x<K+1> as long as they fit, on the stack
 * past them. The four names of each entry differ only in their C++ declaration, as in the
 * unguarded trampoline. The branch goes through x16 whatever register `fn` came in: with BTI, a
 * `br x16` may land on a function's `bti c`, a branch through another register may not. */
.macro GUARD_NAMES k
	.globl	dlswap_guard_i\k
	.hidden	dlswap_guard_i\k
	.type	dlswap_guard_i\k, %function
	.globl	dlswap_guard_iv\k
	.hidden	dlswap_guard_iv\k
	.type	dlswap_guard_iv\k, %function
	.globl	dlswap_guard_m\k
	.hidden	dlswap_guard_m\k
	.type	dlswap_guard_m\k, %function
	.globl	dlswap_guard_mv\k
	.hidden	dlswap_guard_mv\k
	.type	dlswap_guard_mv\k, %function
	.p2align 3
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

/* The record, into the frame whose address is in x17. */
.macro GUARD_SAVE
	stp	x19, x20, [x17, #0]
	stp	x21, x22, [x17, #16]
	stp	x23, x24, [x17, #32]
	stp	x25, x26, [x17, #48]
	stp	x27, x28, [x17, #64]
	stp	x29, x30, [x17, #80]
	mov	x16, sp
	str	x16, [x17, #96]
	stp	d8, d9, [x17, #104]
	stp	d10, d11, [x17, #120]
	stp	d12, d13, [x17, #136]
	stp	d14, d15, [x17, #152]
.endm

/* K <= 6: fn in x<K>, frame in x<K+1>. */
.macro GUARD_IN_REGS k, fn, frame
	GUARD_NAMES \k
	.cfi_startproc
	DLSWAP_BTI_C
	mov	x17, \frame
	GUARD_SAVE
	mov	x16, \fn
	br	x16
	.cfi_endproc
	GUARD_SIZES \k
.endm

	.text
	GUARD_IN_REGS 0, x0, x1
	GUARD_IN_REGS 1, x1, x2
	GUARD_IN_REGS 2, x2, x3
	GUARD_IN_REGS 3, x3, x4
	GUARD_IN_REGS 4, x4, x5
	GUARD_IN_REGS 5, x5, x6
	GUARD_IN_REGS 6, x6, x7

	/* K = 7: fn in x7, frame on the stack at [sp]. */
	GUARD_NAMES 7
	.cfi_startproc
	DLSWAP_BTI_C
	ldr	x17, [sp]
	GUARD_SAVE
	mov	x16, x7
	br	x16
	.cfi_endproc
	GUARD_SIZES 7

	/* K = 8: fn at [sp], frame at [sp, #8]. */
	GUARD_NAMES 8
	.cfi_startproc
	DLSWAP_BTI_C
	ldr	x17, [sp, #8]
	GUARD_SAVE
	ldr	x16, [sp]
	br	x16
	.cfi_endproc
	GUARD_SIZES 8

/* void dlswap_guard_resume(RecoveryFrame *frame): continues at `frame`'s call site as if the call
 * had returned 0. For an end of the call that is not a signal (pthread_exit in the library). */
	.p2align 3
	.globl	dlswap_guard_resume
	.hidden	dlswap_guard_resume
	.type	dlswap_guard_resume, %function
dlswap_guard_resume:
	.cfi_startproc
	DLSWAP_BTI_C
	ldp	x19, x20, [x0, #0]
	ldp	x21, x22, [x0, #16]
	ldp	x23, x24, [x0, #32]
	ldp	x25, x26, [x0, #48]
	ldp	x27, x28, [x0, #64]
	ldp	x29, x30, [x0, #80]
	ldr	x16, [x0, #96]
	mov	sp, x16
	ldp	d8, d9, [x0, #104]
	ldp	d10, d11, [x0, #120]
	ldp	d12, d13, [x0, #136]
	ldp	d14, d15, [x0, #152]
	mov	x0, xzr
	movi	v0.2d, #0
	ret
	.cfi_endproc
	.size	dlswap_guard_resume, .-dlswap_guard_resume

	.section .note.GNU-stack,"",%progbits

#if DLSWAP_GNU_PROPERTY_BTI || DLSWAP_GNU_PROPERTY_PAC
	/* GNU_PROPERTY_AARCH64_FEATURE_1_AND: this object supports what the compiler was asked for. */
	.section .note.gnu.property,"a"
	.p2align 3
	.word	4
	.word	16
	.word	5                      /* NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.word	0xc0000000             /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
	.word	4
	.word	(DLSWAP_GNU_PROPERTY_BTI | DLSWAP_GNU_PROPERTY_PAC)
	.word	0
#endif
