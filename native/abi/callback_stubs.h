/* How many callback stubs native/abi/callbacks_*.S lay down, and how far apart: the one owner of
 * both numbers. The .S files include it (their .rept count, and a check that the stubs came out
 * DLSWAP_CB_STUB_BYTES apart), and so does native/callback/ (its table of the slots the stubs serve,
 * and the address of stub i). Plain #defines: the assembler's preprocessor reads this file too. */
#ifndef DLSWAP_ABI_CALLBACK_STUBS_H
#define DLSWAP_ABI_CALLBACK_STUBS_H

#define DLSWAP_CB_STUBS 4096
#define DLSWAP_CB_STUB_BYTES 16

#endif
