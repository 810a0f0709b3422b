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

describe('Generation is changed only through its own methods', () => {
  // Everything a phase, the swap or the retirement records about a generation: read from outside,
  // written by the generation's own methods (adoptLibrary, recordClose, retireWith...).
  const FIELDS = [
    'state',
    'lib',
    'plugin',
    'functions',
    'host',
    'quarantined',
    'closeResult',
    'rejectedReason',
    'leases',
    'handles',
    'onlyHandlesLeft',
    'retired',
  ];

  it('no field can be assigned from outside', () => {
    const gen = new Generation(1, 'x');
    for (const field of FIELDS) {
      expect(field in gen, field).toBe(true);
      expect(() => {
        (gen as unknown as Record<string, unknown>)[field] = 1;
      }, field).toThrow(TypeError);
    }
    // Its own fields: id, path and loadedAt, fixed at construction (readonly).
    expect(Object.keys(gen).sort()).toEqual(['id', 'loadedAt', 'path']);
  });

  it('what it is made of is given once', () => {
    const gen = new Generation(1, 'x');
    gen.recordPlugin({ initialized: false, version: null } as never);
    expect(() => gen.recordPlugin({ initialized: true, version: null } as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_INTERNAL' }));
    expect(gen.initialized).toBe(false);
  });

  it('its retirement is one: a second start joins the first, a revival ends it', async () => {
    const gen = new Generation(1, 'x');
    let starts = 0;
    const start = () => {
      starts++;
      return Promise.resolve();
    };
    const first = gen.retireWith(start);
    expect(gen.retireWith(start)).toBe(first);
    expect(starts).toBe(1);
    for (const s of ['verifying', 'active', 'draining'] as const) gen.transition(s);
    gen.revive();
    gen.retireWith(start);
    expect(starts).toBe(2);
  });
});

describe('the swap is one module', () => {
  it('only lib/hot/swap.ts repoints functions (rebind)', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const lib = path.join(__dirname, '..', '..', 'lib');
    const callers = (fs.readdirSync(lib, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && f !== path.join('call', 'func.ts'))
      .filter((f) => /(^|[^\w.])rebind\(/.test(fs.readFileSync(path.join(lib, f), 'utf8').replace(/^\s*(\*|\/\/).*$/gm, '')));
    expect(callers).toEqual([path.join('hot', 'swap.ts')]);
  });
});
