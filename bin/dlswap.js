#!/usr/bin/env node
'use strict';
// The dlswap command: dispatch lives in lib/cli/main.ts.
require('../dist/cli/main.js').runCli(process.argv.slice(2));
