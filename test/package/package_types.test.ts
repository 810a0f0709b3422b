// Compiles test/package/package_types.test-d.ts (the public API's types: inference of hot.fn, unknown type
// names, 64-bit parameters, typed events, async disposal, AbortSignal options) and
// test/package/documented_fields.test-d.ts (every documented field of DlswapError and of the events,
// lib.bind and the function-table types) with strict settings, and fails on any diagnostic.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_GYP_BUILD_TYPES, typeErrors } from '../type_check';

describe('the public types', () => {
  it('test/package/package_types.test-d.ts compiles without errors', () => {
    const text = typeErrors([path.join(__dirname, 'package_types.test-d.ts'), NODE_GYP_BUILD_TYPES]);
    expect(text).toBe('');
  }, 120_000);

  it('test/package/documented_fields.test-d.ts compiles without errors', () => {
    const text = typeErrors([path.join(__dirname, 'documented_fields.test-d.ts'), NODE_GYP_BUILD_TYPES]);
    expect(text).toBe('');
  }, 120_000);
});
