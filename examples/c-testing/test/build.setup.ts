// Runs once per test run, before any test file (vitest's globalSetup), and before every rerun in
// watch mode: builds the library. A compile error fails the run with the compiler's output.
import { nativeBuild } from 'dlswap/testing';

export default nativeBuild({ command: ['make', '--no-print-directory'], library: 'build/libstack.so' });
