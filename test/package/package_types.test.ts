// Compiles test/package/package_types.test-d.ts (the public API's types: inference of hot.fn, unknown type
// names, 64-bit parameters, typed events, async disposal, AbortSignal options) with strict settings,
// and fails on any diagnostic.
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

describe('the public types', () => {
  it('test/package/package_types.test-d.ts compiles without errors', () => {
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
      types: ['node'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      esModuleInterop: true,
    };
    const files = [path.join(__dirname, 'package_types.test-d.ts'), path.join(__dirname, '..', '..', 'lib', 'types', 'node-gyp-build.d.ts')];
    const text = ts.formatDiagnostics(ts.getPreEmitDiagnostics(ts.createProgram(files, options)), {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => process.cwd(),
      getNewLine: () => '\n',
    });
    expect(text).toBe('');
  }, 120_000);
});
