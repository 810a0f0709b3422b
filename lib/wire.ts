/**
 * Numbers that lib/ and the addon pass each other and that had no single owner on this side. The
 * addon exports its own values as `WIRE` (native/wire.cc); test/package/wire_constants.test.ts checks them
 * against this file and against the other TypeScript copies: KIND_CODES and MAX_PARAMS
 * (signature_kinds.ts), the IsolationCode const enum (native.ts, through isolationCode()), and the
 * DlswapErrorCode list (errors.ts) against every ERR_DLSWAP_* code in native/.
 *
 * No imports: doctor() uses it before it knows whether the addon loads.
 */

/** glibc's DL_NNS: link-map namespaces per process, the base one included. */
export const MAX_NAMESPACES = 16;

/** Namespaces a process can create: all but the base one (the anchor and each fresh-namespace). */
export const MAX_CREATED_NAMESPACES = MAX_NAMESPACES - 1;

/** The most libraries one load plans besides the library itself: its dependencies, theirs, and so on. */
export const MAX_DEPENDENCIES = 1023;
