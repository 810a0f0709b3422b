// The compile-time types of declarations (lib/signature/ctypes_types.ts) against the runtime: the test-d file
// compiles, and for every layout case of fixtures-c/layout/cases.h the members TypeScript infers
// from the declaration text are the members the runtime parser finds.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeRegistry } from '../../lib/signature/ctypes';
import { open, type Library } from '../../lib/load/library';
import { fixture } from '../helpers';
import { NODE_GYP_BUILD_TYPES, typeErrors } from '../type_check';

describe('type-level inference of C declarations', () => {
  it('test/signature/ctypes_types.test-d.ts compiles without errors', () => {
    expect(typeErrors([path.join(__dirname, 'ctypes_types.test-d.ts'), NODE_GYP_BUILD_TYPES])).toBe('');
  });

  describe('agrees with the runtime parser on the layout cases', () => {
    let lib: Library;
    const cases: { id: string; type: string; decl: string }[] = [];
    beforeAll(() => {
      lib = open(fixture('liblayout.so'));
      const count = lib.func('int layout_case_count(void)')();
      const id = lib.func('const char *layout_case_id(int i)');
      const type = lib.func('const char *layout_case_type(int i)');
      const decl = lib.func('const char *layout_case_decl(int i)');
      for (let i = 0; i < count; i++) cases.push({ id: id(i)!, type: type(i)!, decl: decl(i)! });
    });
    afterAll(async () => {
      await lib?.close();
    });

    it('member names of every struct and union', () => {
      const runtime = new TypeRegistry();
      const lines = [
        "import type { Declared, TypeDefs } from '../../lib/signature/ctypes_types';",
        'type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;',
        'type Assert<T extends true> = T;',
        'type D0 = {};',
      ];
      const checked: string[] = [];
      cases.forEach((c, i) => {
        runtime.declare(c.decl);
        lines.push(`type D${i + 1} = Declared<${JSON.stringify(c.decl)}, D${i}>;`);
        const t = runtime.type(c.type);
        if (t.tag !== 'struct' && t.tag !== 'union') return;
        const names = flatNames(t);
        lines.push(`export type C${i} = Assert<Equal<keyof D${i + 1}[${JSON.stringify(c.type)}]['out'], ${names.map((n) => JSON.stringify(n)).join(' | ')}>>;`);
        checked.push(c.id);
      });
      expect(checked.length).toBeGreaterThan(15);
      const source = lines.join('\n');
      const virtual = { file: path.join(__dirname, '__declared_agreement__.ts'), source };
      const text = typeErrors([NODE_GYP_BUILD_TYPES], virtual);
      expect(text.replace(/__declared_agreement__\.ts\((\d+),\d+\)/g, (_, line) => `${_} [${source.split('\n')[Number(line) - 1]}]`)).toBe('');
    });
  });
});

function flatNames(t: { fields: { name: string | null; type: unknown }[] | null }): string[] {
  const out: string[] = [];
  for (const f of t.fields ?? []) {
    if (f.name === null) out.push(...flatNames(f.type as never));
    else out.push(f.name);
  }
  return out;
}
