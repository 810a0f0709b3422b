#!/usr/bin/env node
// biome-ignore lint/suspicious/noRedundantUseStrict: a CommonJS file (package.json has no "type"), not a module
'use strict';
// The dlswap command: dispatch lives in lib/cli/main.ts.
require('../dist/cli/main.js').runCli(process.argv.slice(2));
