// Tests of src/stack.c, each with a fresh instance of the library (its own globals). One of them
// finds the planted bug: that call faults, the test fails with the fault report, and the others run
// and pass as usual.
import { describe, expect, it } from 'vitest';
import { testLibrary } from 'dlswap/testing';

const stack = testLibrary();

function open(context: Parameters<typeof stack.fresh>[0]) {
  const lib = stack.fresh(context);
  return {
    push: lib.func('int stack_push(int value)'),
    pop: lib.func('int stack_pop(void)'),
    size: lib.func('int stack_size(void)'),
    peek: lib.func('int stack_peek(void)'),
  };
}

describe('stack', () => {
  it('pops what was pushed, last in first out', (context) => {
    const s = open(context);
    s.push(1);
    s.push(2);
    expect(s.pop()).toBe(2);
    expect(s.pop()).toBe(1);
  });

  it('starts empty in every test (a fresh instance: fresh globals)', (context) => {
    const s = open(context);
    expect(s.size()).toBe(0);
    s.push(7);
    expect(s.size()).toBe(1);
  });

  it('refuses a push when full', (context) => {
    const s = open(context);
    for (let i = 0; i < 8; i++) expect(s.push(i)).toBe(0);
    expect(s.push(8)).toBe(-1);
    expect(s.peek()).toBe(7);
  });

  it('returns -1 when popping an empty stack', (context) => {
    const s = open(context);
    expect(s.pop()).toBe(-1); // the planted bug faults here: this test fails with the fault report
  });

  it('peeks without removing', (context) => {
    const s = open(context);
    s.push(3);
    expect(s.peek()).toBe(3);
    expect(s.size()).toBe(1);
  });
});
