/* The call trampoline for AAPCS64 (aarch64 Linux).
 *
 * C++ calls it as if it were
 *
 *   R dlswap_call_*(uint64_t a0, ..., uint64_t a7, [double f0, ..., double f7,] const void *fn);
 *
 * so the compiler has already put a0-a7 in x0-x7 and f0-f7 in d0-d7 (a float's bits in the low 32
 * bits, i.e. s0-s7): exactly the registers `fn` takes its arguments in. `fn`, the ninth integer
 * argument, is on the stack at [sp]. The trampoline branches to it (a tail call; x30 is untouched):
 * `fn` returns straight to our caller, with its result in x0 and v0.
 *
 * The four names are one piece of code. They differ only in the C++ declaration: with or without
 * the eight doubles (`_i`: the callee takes no floating-point argument), and the return type, i.e.
 * which return register the caller reads (`_i`, `_m`: x0; `_iv`, `_mv`: v0 as a 16-byte vector).
 * The caller truncates that to the declared C return type. No struct is passed or returned by
 * value, so x8 (indirect result) is never needed, and a callee with at most eight integer
 * arguments never reads the stack.
 *
 * The target is reached with `br x16`: with Branch Target Identification, an indirect branch
 * through x16/x17 may land on the `bti c` that starts a function, as linker veneers do.
 *
 * Every call goes through here so that no C++ code calls through a function pointer of a type the
 * callee does not have.
 */

/* When the rest of the binary is built with BTI, this object must be marked compatible too (or the
 * linker drops the marking for the whole addon), and its entry must be a landing pad. `hint #34`
 * is `bti c`, a NOP on cores without BTI. Nothing here saves the return address, so there is
 * nothing to sign for pointer authentication. */
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

	.text
	.p2align 3
	.globl	dlswap_call_i
	.hidden	dlswap_call_i
	.type	dlswap_call_i, %function
	.globl	dlswap_call_iv
	.hidden	dlswap_call_iv
	.type	dlswap_call_iv, %function
	.globl	dlswap_call_m
	.hidden	dlswap_call_m
	.type	dlswap_call_m, %function
	.globl	dlswap_call_mv
	.hidden	dlswap_call_mv
	.type	dlswap_call_mv, %function
dlswap_call_i:
dlswap_call_iv:
dlswap_call_m:
dlswap_call_mv:
	.cfi_startproc
	DLSWAP_BTI_C
	ldr	x16, [sp]
	br	x16
	.cfi_endproc
	.size	dlswap_call_i, .-dlswap_call_i
	.size	dlswap_call_iv, .-dlswap_call_iv
	.size	dlswap_call_m, .-dlswap_call_m
	.size	dlswap_call_mv, .-dlswap_call_mv

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
