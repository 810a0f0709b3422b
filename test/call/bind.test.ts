// lib.bind(functions): a table of prototypes bound to one library at once (docs/calls.md#a-table-of-functions).
import { afterEach, describe, expect, it } from 'vitest';
import { open, type Library } from '../../lib/load/library';
import { fixture } from '../helpers';

let lib: Library | null = null;
afterEach(async () => {
  await lib?.close();
  lib = null;
});

describe('lib.bind(functions)', () => {
  it('binds every entry, each as lib.func would, in a frozen table', async () => {
    lib = open(fixture('libbasic_v1.so'));
    const basic = lib.bind({ add: 'int add(int a, int b)', name: 'const char *basic_name(void)', slow: 'int basic_slow(int ms)' });
    expect(Object.keys(basic)).toEqual(['add', 'name', 'slow']);
    expect(basic.add(2, 3)).toBe(5);
    expect(basic.name()).toBe('basic-v1');
    expect(await basic.slow.async(1)).toBe(1);
    expect(basic.add.signature.name).toBe('add');
    expect(Object.isFrozen(basic)).toBe(true);
  });

  it('a symbol the library lacks is refused, naming the entry', () => {
    lib = open(fixture('libbasic_v1.so'));
    const l = lib;
    expect(() => l.bind({ add: 'int add(int a, int b)', gone: 'int no_such_function(void)' } as Record<string, string>)).toThrow(
      expect.objectContaining({
        code: 'ERR_DLSWAP_SYMBOL_NOT_FOUND',
        message: expect.stringMatching(/^bind\(functions\): functions\.gone: symbol 'no_such_function' not found/),
      }),
    );
  });

  it('every prototype is parsed before any symbol is looked up; bad tables are ERR_DLSWAP_ARG', () => {
    lib = open(fixture('libbasic_v1.so'));
    const l = lib;
    const bind = (v: unknown) => () => l.bind(v as Record<string, string>);
    // The missing symbol comes first, the syntax error second: the syntax error is what is reported.
    expect(bind({ gone: 'int no_such_function(void)', bad: 'int add(int a,' })).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_SIGNATURE', message: expect.stringContaining('functions.bad') }),
    );
    expect(bind(null)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(bind(['int add(int a, int b)'])).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(bind({ add: 42 })).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringContaining('functions.add') }));
  });

  it('a closed library binds nothing', async () => {
    const l = open(fixture('libbasic_v1.so'));
    await l.close();
    expect(() => l.bind({ add: 'int add(int a, int b)' })).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_CLOSED' }));
  });
});
