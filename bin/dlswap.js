#!/usr/bin/env node
'use strict';
// The dlswap command: each subcommand lives in dist/cli/<name>.js and takes --help.
// Exit codes: 0 done, 1 the command failed, 2 usage error (the usage goes to stderr).
const path = require('node:path');

const USAGE = `usage: dlswap <command> [options]

commands:
  inspect <lib.so> [--json]   read a library's ELF and report its hot-reload hazards
  doctor [--json]             report what this machine allows (glibc, namespaces, temp area)
  demo [--quick] [--json]     zero-downtime swaps under load, in every isolation mode
  watch <lib.so> [--isolation MODE] [--call 'int f(void)'] [--interval MS] [--poll MS]
                              reload a library each time it is rebuilt
  help [command]              this text, or a command's

  dlswap <command> --help     a command's options
  dlswap --version            dlswap's version
`;

const commands = {
  inspect: () => require(path.join(__dirname, '..', 'dist', 'cli', 'inspect.js')).runInspect,
  doctor: () => require(path.join(__dirname, '..', 'dist', 'cli', 'doctor.js')).runDoctor,
  demo: () => require(path.join(__dirname, '..', 'dist', 'cli', 'demo.js')).runDemo,
  watch: () => require(path.join(__dirname, '..', 'dist', 'cli', 'watch.js')).runWatch,
};

function version() {
  return require(path.join(__dirname, '..', 'package.json')).version;
}

async function main() {
  const argv = process.argv.slice(2);
  // Options before the command: only --help and --version (util.parseArgs stops at the command).
  let cmd;
  let rest = [];
  const { parseArgs } = require('node:util');
  const first = argv.findIndex((a) => !a.startsWith('-'));
  const head = first < 0 ? argv : argv.slice(0, first);
  try {
    const { values } = parseArgs({ args: head, options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } }, strict: true });
    if (values.version) {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
  } catch (e) {
    const option = /'(-[^' ]+)/.exec(e.message)?.[1] ?? e.message;
    process.stderr.write(`dlswap: unknown option '${option}'\n\n${USAGE}`);
    return 2;
  }
  if (first >= 0) {
    cmd = argv[first];
    rest = argv.slice(first + 1);
  }
  if (!cmd) {
    process.stderr.write(`dlswap: missing the command\n\n${USAGE}`);
    return 2;
  }
  if (cmd === 'help') {
    if (rest.length === 0) {
      process.stdout.write(USAGE);
      return 0;
    }
    [cmd, rest] = [rest[0], ['--help']];
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
    process.stderr.write(`dlswap: the '${cmd}' command is not available: ${e && e.code ? `${e.code}: ` : ''}${e.message}\n`);
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
