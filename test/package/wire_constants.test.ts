// The numbers lib/ and the addon pass each other: each side keeps its own copy (the TypeScript one
// is inlined or needed before the addon loads), so this file is what keeps them equal. The addon's
// side is its WIRE export (native/wire.cc).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolationCode, ISOLATION_MODES } from '../../lib/load/isolation';
import { addon } from '../../lib/native';
import { INT_RANGES, type IntKind } from '../../lib/signature/int_ranges';
import { KIND_CODES, MAX_PARAMS } from '../../lib/signature/signature';
import { MAX_CREATED_NAMESPACES, MAX_DEPENDENCIES, MAX_NAMESPACES } from '../../lib/wire';
import { root } from '../helpers';

const WIRE = addon.WIRE;

/** Every file of native/ that can hold a code, and the ERR_DLSWAP_* string literals in it. */
function nativeCodes(): Map<string, string> {
  const codes = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cc|h|c)$/.test(e.name)) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/"(ERR_DLSWAP_[A-Z_]+)"/g)) {
          if (!codes.has(m[1])) codes.set(m[1], path.relative(root, p));
        }
      }
    }
  };
  walk(path.join(root, 'native'));
  return codes;
}

/** The members of the DlswapErrorCode union, read from lib/errors.ts (a type: nothing at run time has it). */
function declaredCodes(): Set<string> {
  const source = fs.readFileSync(path.join(root, 'lib', 'errors.ts'), 'utf8');
  const union = /export type DlswapErrorCode\s*=([^;]*);/.exec(source);
  expect(union, 'lib/errors.ts declares the DlswapErrorCode union').not.toBeNull();
  return new Set([...union![1].matchAll(/'(ERR_DLSWAP_[A-Z_]+)'/g)].map((m) => m[1]));
}

describe('wire constants: lib/ and the addon agree', () => {
  it('the addon exports them frozen', () => {
    expect(Object.isFrozen(WIRE)).toBe(true);
    expect(Object.isFrozen(WIRE.kinds)).toBe(true);
    expect(Object.isFrozen(WIRE.isolation)).toBe(true);
  });

  it('kind codes: lib/signature/signature.ts KIND_CODES and native/call/kinds.h', () => {
    expect(WIRE.kinds).toEqual(KIND_CODES);
    expect(WIRE.kindCount).toBe(Object.keys(KIND_CODES).length);
  });

  it('integer ranges: lib/signature/int_ranges.ts and native/call/int_ranges.h (a 64-bit number only as a safe integer)', () => {
    expect(Object.keys(WIRE.intRanges).sort()).toEqual(Object.keys(INT_RANGES).sort());
    for (const kind of Object.keys(INT_RANGES) as IntKind[]) {
      const { lo, hi } = INT_RANGES[kind];
      const safe = kind === 'i64' || kind === 'u64';
      expect(WIRE.intRanges[kind], kind).toEqual({
        lo: safe ? Math.max(Number(lo), -Number.MAX_SAFE_INTEGER) : Number(lo),
        hi: safe ? Number.MAX_SAFE_INTEGER : Number(hi),
      });
    }
  });

  it('isolation codes: lib/native.ts IsolationCode (through isolationCode()) and native/image/library_handle.h', () => {
    expect(Object.keys(WIRE.isolation).sort()).toEqual([...ISOLATION_MODES].sort());
    for (const mode of ISOLATION_MODES) expect(isolationCode(mode), mode).toBe(WIRE.isolation[mode]);
  });

  it('parameters per prototype: lib/signature/signature.ts MAX_PARAMS and kMaxFixedParams', () => {
    expect(MAX_PARAMS).toBe(WIRE.maxParams);
  });

  it("namespaces per process: lib/wire.ts MAX_NAMESPACES and kMaxNamespaces (glibc's DL_NNS)", () => {
    expect(MAX_NAMESPACES).toBe(WIRE.maxNamespaces);
    expect(MAX_CREATED_NAMESPACES).toBe(WIRE.maxNamespaces - 1);
  });

  it('dependencies one load plans: lib/wire.ts MAX_DEPENDENCIES and kMaxPlanNodes - 1', () => {
    expect(MAX_DEPENDENCIES).toBe(WIRE.maxDependencies);
  });

  it('every ERR_DLSWAP_* code in native/ is one of lib/errors.ts DlswapErrorCode', () => {
    const declared = declaredCodes();
    const emitted = nativeCodes();
    // The scan found the codes, not nothing: the commonest ones are there.
    for (const code of ['ERR_DLSWAP_ARG', 'ERR_DLSWAP_CLOSED', 'ERR_DLSWAP_BAD_ELF']) expect(emitted.has(code), code).toBe(true);
    const unknown = [...emitted].filter(([code]) => !declared.has(code)).map(([code, file]) => `${code} (${file})`);
    expect(unknown).toEqual([]);
  });
});
