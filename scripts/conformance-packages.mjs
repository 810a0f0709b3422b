#!/usr/bin/env node
// Prints, one per line, the Debian packages the real-library conformance suite loads libraries or
// data from (test/conformance/libraries.cjs: each entry's `package` and `packages`). .ci/run installs
// the ones that are missing.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const libraries = require('../test/conformance/libraries.cjs');
const packages = new Set(libraries.flatMap((l) => [l.package, ...(l.packages ?? [])]));
process.stdout.write(`${[...packages].sort().join('\n')}\n`);
