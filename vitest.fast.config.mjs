// `npm run test:fast`: the inner loop (CONTRIBUTING.md). In-process tests only, no child processes and
// no conformance matrix: the prototype and declaration parser, the options, the wire and export
// checks, open/call/close in every isolation mode, and a reload in every mode. Left to `npm test`
// (the whole suite) as well: the type-level tests, which run tsc over TypeScript written for the test
// (test/**/*.test-d.ts, "... compiles without errors", and types_inference.test.ts): 15 to 30
// seconds each on two cores.
import base from './vitest.config.mjs';

export const FAST = [
  'test/signature/signature.test.ts',
  'test/signature/signature_types.test.ts',
  'test/signature/types_layout.test.ts',
  'test/load/options.test.ts',
  'test/load/options_all.test.ts',
  'test/call/calls.test.ts',
  'test/call/calls_errors.test.ts',
  'test/hot/reload_modes.test.ts',
  'test/hot/hot_phases.test.ts',
  'test/hot/generation_states.test.ts',
  'test/package/wire_constants.test.ts',
  'test/package/addon_exports.test.ts',
  'test/package/compiled_dist.test.ts',
  'test/docs/architecture.test.ts',
];

// The suite's own settings (pool, timeouts, the compile of dist/), with these files only. Not
// mergeConfig: it would add FAST to the suite's include instead of replacing it.
export default { ...base, test: { ...base.test, include: FAST, testNamePattern: /^(?!.*compiles without errors)/ } };
