// lib/native.ts's Addon interface is the one typed view of the addon. The compiler holds
// ADDON_EXPORTS to the interface's keys; this holds the addon itself to ADDON_EXPORTS, so an export
// added in native/ without its type (or a type left for an export that went) fails here.
import { describe, expect, it } from 'vitest';
import { addon, ADDON_EXPORTS } from '../../lib/native';

describe('the addon boundary', () => {
  it('the addon exports exactly the keys lib/native.ts declares', () => {
    expect(Object.keys(addon).sort()).toEqual([...ADDON_EXPORTS].sort());
  });

  it('functions are functions, classes are constructors, values are values', () => {
    const values = new Set(['WIRE', 'PLUGIN_ABI_VERSION']);
    for (const key of ADDON_EXPORTS) {
      expect(typeof addon[key], key).toBe(values.has(key) ? (key === 'WIRE' ? 'object' : 'number') : 'function');
    }
  });
});
