// Children and workers in the tests run dist/, vitest runs lib/: the two must be the same code
// (test/setup/compiled_dist.ts compiles before any test file runs; CONTRIBUTING.md).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { staleSources } from '../setup/compiled_dist';
import { root } from '../helpers';

describe('the dist/ build children run', () => {
  it('is no older than any file of lib/', () => {
    expect(staleSources().map((f) => path.relative(root, f))).toEqual([]);
  });

  it('is compiled by the suite itself, before any test file (vitest globalSetup)', () => {
    const config = fs.readFileSync(path.join(root, 'vitest.config.mjs'), 'utf8');
    expect(config).toMatch(/globalSetup:\s*\[[^\]]*'test\/setup\/compiled_dist\.ts'/);
  });
});
