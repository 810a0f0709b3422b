// Struct, union and enum layouts against the C compiler: every case of fixtures-c/layout/cases.h is
// compiled into liblayout.so, which exports the declaration's own text with sizeof, _Alignof and
// offsetof/sizeof of each member path. dlswap declares the same text and must agree on every number,
// and find exactly the member paths the fixture lists (so no member goes unchecked).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberPaths, type RecordCType } from '../../lib/signature/ctype_model';
import { TypeRegistry } from '../../lib/signature/ctypes';
import { isDlswapError } from '../../lib/errors';
import { open, type Library } from '../../lib/load/library';
import { fixture } from '../helpers';

interface Case {
  id: string;
  type: string;
  decl: string;
  size: number;
  align: number;
}
interface Member {
  type: string;
  path: string;
  offset: number;
  size: number;
}

let lib: Library;
let cases: Case[];
let members: Member[];
let refused: string[];
const t = new TypeRegistry();

beforeAll(() => {
  lib = open(fixture('liblayout.so'));
  const count = lib.func('int layout_case_count(void)');
  const cid = lib.func('const char *layout_case_id(int i)');
  const ctype = lib.func('const char *layout_case_type(int i)');
  const cdecl = lib.func('const char *layout_case_decl(int i)');
  const csize = lib.func('size_t layout_case_size(int i)');
  const calign = lib.func('size_t layout_case_align(int i)');
  cases = Array.from({ length: count() }, (_, i) => ({
    id: cid(i)!,
    type: ctype(i)!,
    decl: cdecl(i)!,
    size: Number(csize(i)),
    align: Number(calign(i)),
  }));
  const mcount = lib.func('int layout_member_count(void)');
  const mtype = lib.func('const char *layout_member_type(int i)');
  const mpath = lib.func('const char *layout_member_path(int i)');
  const moff = lib.func('size_t layout_member_offset(int i)');
  const msize = lib.func('size_t layout_member_size(int i)');
  members = Array.from({ length: mcount() }, (_, i) => ({
    type: mtype(i)!,
    path: mpath(i)!.replace(/\s+/g, ''),
    offset: Number(moff(i)),
    size: Number(msize(i)),
  }));
  const rcount = lib.func('int layout_refused_count(void)');
  const rdecl = lib.func('const char *layout_refused_decl(int i)');
  refused = Array.from({ length: rcount() }, (_, i) => rdecl(i)!);
  // Declared in order, as the C file does: later cases use earlier types.
  for (const c of cases) t.declare(c.decl);
});

afterAll(async () => {
  await lib?.close();
});

describe('layouts agree with the C compiler', () => {
  it('covers nested structs, arrays of structs, packed, aligned, unions, anonymous members, enums and function pointers', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    const ids = cases.map((c) => c.id);
    for (const id of ['frame', 'poly', 'packed', 'packed_after', 'aligned', 'val', 'tagged', 'anon', 'color', 'wide', 'ops', 'deep']) {
      expect(ids).toContain(id);
    }
  });

  it('sizeof and _Alignof of every case', () => {
    const wrong = cases
      .map((c) => ({ id: c.id, c: [c.size, c.align], dlswap: [t.sizeof(c.type), t.alignof(c.type)] }))
      .filter((r) => r.c[0] !== r.dlswap[0] || r.c[1] !== r.dlswap[1]);
    expect(wrong).toEqual([]);
  });

  it('offsetof and sizeof of every member', () => {
    const wrong = members
      .map((m) => {
        const type = t.type(m.type) as RecordCType;
        const found = memberPaths(type).find((p) => p.path === m.path);
        return { m, dlswap: found ? [found.offset, found.type.size] : null };
      })
      .filter((r) => r.dlswap === null || r.dlswap[0] !== r.m.offset || r.dlswap[1] !== r.m.size);
    expect(wrong).toEqual([]);
  });

  it('the fixture lists exactly the member paths dlswap finds in each struct and union', () => {
    for (const c of cases) {
      const type = t.type(c.type);
      if (type.tag !== 'struct' && type.tag !== 'union') continue;
      const listed = members
        .filter((m) => m.type === c.type)
        .map((m) => m.path)
        .sort();
      expect(
        memberPaths(type)
          .map((p) => p.path)
          .sort(),
        c.id,
      ).toEqual(listed);
    }
  });

  it('enumerator values', () => {
    expect(t.constants).toMatchObject({ RED: 0, GREEN: 5, BLUE: 6, NEG: -1, POS: 1, W_SMALL: 1, W_BIG: 0x100000000 });
  });
});

describe('valid C that dlswap refuses, with a reason', () => {
  it.each([
    ['bits', /bit-fields are not supported \(member 'a'\)/],
    ['flex', /flexible array members\) are not supported/],
    ['ldbl', /'long double' is not supported/],
  ])('%s', (id, reason) => {
    const decl = refused.find((d) => d.includes(`struct ${id} `));
    expect(decl).toBeDefined();
    let error: unknown;
    try {
      new TypeRegistry().declare(decl!);
    } catch (e) {
      error = e;
    }
    expect(isDlswapError(error, 'ERR_DLSWAP_SIGNATURE')).toBe(true);
    expect((error as Error).message).toMatch(reason);
  });
});
