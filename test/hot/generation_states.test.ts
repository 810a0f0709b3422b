// The generation state machine (lib/hot/generation.ts): the legal moves of docs/hot-reload.md pass,
// every other move is a bug in the reload machinery and throws ERR_DLSWAP_INTERNAL.
import { describe, expect, it } from 'vitest';
import { Generation, type GenerationState } from '../../lib/hot/generation';

const ALL: GenerationState[] = ['loading', 'verifying', 'active', 'draining', 'finalizing', 'closed', 'rejected'];
const LEGAL: Record<GenerationState, GenerationState[]> = {
  loading: ['verifying', 'rejected'],
  verifying: ['active', 'rejected'],
  active: ['draining'],
  draining: ['finalizing', 'closed', 'active'], // active: a rollback after a fault of its successor
  finalizing: ['closed'],
  closed: [],
  rejected: [],
};

/** A generation walked to `state` along legal moves. */
function at(state: GenerationState): Generation {
  const path: Record<GenerationState, GenerationState[]> = {
    loading: [],
    verifying: ['verifying'],
    active: ['verifying', 'active'],
    draining: ['verifying', 'active', 'draining'],
    finalizing: ['verifying', 'active', 'draining', 'finalizing'],
    closed: ['verifying', 'active', 'draining', 'finalizing', 'closed'],
    rejected: ['rejected'],
  };
  const gen = new Generation(1, '/nowhere/libx.so');
  for (const s of path[state]) gen.transition(s);
  expect(gen.state).toBe(state);
  return gen;
}

describe('Generation.transition', () => {
  it('starts in loading', () => {
    expect(new Generation(1, 'x').state).toBe('loading');
  });

  for (const from of ALL) {
    for (const to of ALL) {
      const legal = LEGAL[from].includes(to);
      it(`${from} -> ${to} is ${legal ? 'legal' : 'refused'}`, () => {
        const gen = at(from);
        if (legal) {
          gen.transition(to);
          expect(gen.state).toBe(to);
        } else {
          expect(() => gen.transition(to)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_INTERNAL' }));
          expect(gen.state).toBe(from);
        }
      });
    }
  }

  it('reject() records why, and only before the generation served', () => {
    const gen = at('verifying');
    gen.reject('init failed');
    expect(gen.info()).toMatchObject({ state: 'rejected', rejectedReason: 'init failed' });
    expect(() => at('active').reject('late')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_INTERNAL' }));
  });
});
