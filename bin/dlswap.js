#!/usr/bin/env node
'use strict';
// The dlswap command: each subcommand lives in dist/cli/<name>.js.
const path = require('node:path');

const USAGE = `usage: dlswap <command> [options]

commands:
  inspect <lib.so> [--json]   read a library's ELF and report its hot-reload hazards
  doctor [--json]             report what this machine allows (glibc, namespaces, temp area)
  demo [--quick] [--json]     zero-downtime swaps under load, in every isolation mode
  watch <lib.so> [--isolation MODE] [--call 'int f(void)'] [--interval MS] [--poll MS]
                              reload a library each time it is rebuilt
  help                        this text
`;

const commands = {
  inspect: () => require(path.join(__dirname, '..', 'dist', 'cli', 'inspect.js')).runInspect,
  doctor: () => require(path.join(__dirname, '..', 'dist', 'cli', 'doctor.js')).runDoctor,
  demo: () => require(path.join(__dirname, '..', 'dist', 'cli', 'demo.js')).runDemo,
  watch: () => require(path.join(__dirname, '..', 'dist', 'cli', 'watch.js')).runWatch,
};

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  const load = commands[cmd];
  if (!load) {
    process.stderr.write(`dlswap: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  let run;
  try {
    run = load();
  } catch (e) {
    process.stderr.write(`dlswap: the '${cmd}' command is not available in this build (${e.message})\n`);
    return 1;
  }
  return await run(rest, process.stdout, Boolean(process.stdout.isTTY));
}

main().then(
  (code) => {
    process.exitCode = code ?? 0;
  },
  (e) => {
    process.stderr.write(`dlswap: ${e && e.code ? `${e.code}: ` : ''}${e && e.message ? e.message : e}\n`);
    process.exitCode = 1;
  },
);
