/**
 * The dlswap command's dispatch: bin/dlswap.js only calls `main`. Each subcommand lives in its own
 * module and takes --help.
 * Exit codes: 0 done, 1 the command failed, 2 usage error (the usage goes to stderr).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../platform';

const USAGE = `usage: dlswap <command> [options]

commands:
  inspect <lib.so> [--json]   read a library's ELF and report its hot-reload hazards
  doctor [--json]             report what this machine allows (glibc, namespaces, temp area)
  demo [--quick] [--json]     zero-downtime swaps under load, in every isolation mode
  watch <lib.so> [--isolation MODE] [--call 'int f(void)'] [--interval MS] [--poll MS]
                              reload a library each time it is rebuilt
  build [--force]             build the addon from source (where no prebuild fits)
  help [command]              this text, or a command's

  dlswap <command> --help     a command's options
  dlswap --version            dlswap's version
`;

type Run = (argv: string[], out: NodeJS.WritableStream, isTTY: boolean) => number | Promise<number>;

// Required on demand: a command that needs the addon must not stop the others (doctor diagnoses an
// addon that does not load), and its load failure is reported as the command being unavailable.
const commands: Record<string, () => Run> = {
  inspect: () => (require('./inspect') as typeof import('./inspect')).runInspect,
  doctor: () => (require('./doctor') as typeof import('./doctor')).runDoctor,
  demo: () => (require('./demo') as typeof import('./demo')).runDemo,
  watch: () => (require('./watch') as typeof import('./watch')).runWatch,
  build: () => (require('./build') as typeof import('./build')).runBuild,
};

function version(): string {
  return (require(path.join(packageRoot, 'package.json')) as { version: string }).version;
}

function errorText(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown } | null | undefined;
  return `${err?.code ? `${err.code}: ` : ''}${err?.message ? err.message : e}`;
}

/** Runs the command line `argv` (without node and the script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // Options before the command: only --help and --version (util.parseArgs stops at the command).
  let cmd: string | undefined;
  let rest: string[] = [];
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
    const message = (e as Error).message;
    const option = /'(-[^' ]+)/.exec(message)?.[1] ?? message;
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
  const load = Object.hasOwn(commands, cmd) ? commands[cmd] : undefined;
  if (!load) {
    process.stderr.write(`dlswap: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  let run: Run;
  try {
    run = load();
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown } | null;
    process.stderr.write(`dlswap: the '${cmd}' command is not available: ${err?.code ? `${err.code}: ` : ''}${err?.message}\n`);
    return 1;
  }
  return await run(rest, process.stdout, Boolean(process.stdout.isTTY));
}

/** bin/dlswap.js's whole job: run, then set the exit code (an escaped error is exit code 1). */
export function runCli(argv: string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (e) => {
      process.stderr.write(`dlswap: ${errorText(e)}\n`);
      process.exitCode = 1;
    },
  );
}
