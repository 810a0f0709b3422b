/**
 * The CLI's shared parts: argument parsing (util.parseArgs, one wording for every usage error),
 * colour (util.styleText, decided by the stream's hasColors()) and aligned tables.
 *
 * Colour rules: on a TTY, node's own `tty.WriteStream.hasColors()` decides (FORCE_COLOR, then
 * NO_COLOR and NODE_DISABLE_COLORS, then TERM). Elsewhere (a pipe, a file, a test's stream) the same
 * precedence applies by hand: FORCE_COLOR set to anything but '0'/'false' forces colour,
 * FORCE_COLOR=0/false forbids it; otherwise NO_COLOR (any non-empty value, no-color.org) forbids it;
 * otherwise colour iff the stream is a TTY and TERM is not 'dumb'.
 */
import util from 'node:util';

type ColorStream = { hasColors?: (env?: object) => boolean };

export function colorEnabled(isTTY: boolean | undefined, env: NodeJS.ProcessEnv = process.env, stream?: unknown): boolean {
  const tty = stream as ColorStream | undefined;
  if (isTTY && typeof tty?.hasColors === 'function') return tty.hasColors(env);
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force.toLowerCase() === 'false') return false;
    return true;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return Boolean(isTTY) && env.TERM !== 'dumb';
}

export interface Colors {
  enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  cyan(s: string): string;
}

type Style = 'bold' | 'dim' | 'red' | 'yellow' | 'green' | 'cyan';
const SGR: Record<Style, [number, number]> = { bold: [1, 22], dim: [2, 22], red: [31, 39], yellow: [33, 39], green: [32, 39], cyan: [36, 39] };
// util.styleText is node >= 20.12; before that, the same escapes by hand. Whether to colour at all
// is decided once, by colorEnabled(), so styleText is not asked to check a stream.
const styleText = (util as { styleText?: (format: Style, text: string, options?: { validateStream?: boolean }) => string }).styleText;

function style(name: Style, on: boolean): (s: string) => string {
  if (!on) return (s) => s;
  if (styleText) return (s) => styleText(name, s, { validateStream: false });
  const [open, close] = SGR[name];
  return (s) => `\x1b[${open}m${s}\x1b[${close}m`;
}

export function colors(enabled: boolean): Colors {
  return {
    enabled,
    bold: style('bold', enabled),
    dim: style('dim', enabled),
    red: style('red', enabled),
    yellow: style('yellow', enabled),
    green: style('green', enabled),
    cyan: style('cyan', enabled),
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the colour escapes this module writes
const ANSI = /\x1b\[[0-9;]*m/g;

/** Display width of `s`, ignoring colour escapes. */
export function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - visibleLength(s)));
}

/**
 * Aligns rows into columns separated by two spaces. The last column is not padded (it is usually
 * the long free text). Cells may contain colour escapes.
 */
export function table(rows: string[][], options: { header?: string[]; indent?: number } = {}): string {
  const all = options.header ? [options.header, ...rows] : rows;
  const ncol = Math.max(0, ...all.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < ncol; c++) widths[c] = Math.max(0, ...all.map((r) => visibleLength(r[c] ?? '')));
  const indent = ' '.repeat(options.indent ?? 0);
  return all
    .map(
      (r) =>
        indent +
        r
          .map((cell, c) => (c === r.length - 1 ? cell : pad(cell, widths[c])))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

/** Splits `text` into lines of at most `width` characters at spaces (words longer than that stay whole). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** 1536 -> '1.5 KiB'. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
export type ParsedArgs<O extends OptionSpec> = {
  values: { [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean };
  positionals: string[];
};

/** A usage error: the command prints `dlswap <cmd>: <message>`, its usage, and exits with 2. */
export class UsageError extends Error {}

/**
 * util.parseArgs with every command's options plus --help/-h, strict, its errors worded one way
 * (`unknown option '--bogus'`, `option '--isolation' needs a value`). Throws UsageError.
 */
export function parseCommand<O extends OptionSpec>(argv: string[], options: O): ParsedArgs<O & { help: { type: 'boolean'; short: 'h' } }> {
  try {
    const r = util.parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return r as unknown as ParsedArgs<O & { help: { type: 'boolean'; short: 'h' } }>;
  } catch (e) {
    const err = e as Error & { code?: string };
    const option = /'(-[^' ]+)/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option '${option ?? err.message}'`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(/argument missing/.test(err.message) ? `option '${option}' needs a value` : `option '${option}' takes no value`);
    }
    throw new UsageError(err.message);
  }
}

/** Writes a usage error the one way every command does, and returns the exit code 2. */
export function usageError(err: NodeJS.WritableStream, command: string, message: string, usage: string): number {
  err.write(`dlswap ${command}: ${message}\n\n${usage}`);
  return 2;
}

/**
 * What every command does with its argv: parseCommand; --help prints the usage (exit 0); a usage
 * error, or positionals other than `positionals` library paths (0 or 1), is written to `err` (exit 2).
 * Returns the parsed arguments, or the exit code the command returns at once.
 */
export function commandArgs<O extends OptionSpec>(
  command: string,
  usage: string,
  argv: string[],
  options: O,
  positionals: 0 | 1,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): ParsedArgs<O & { help: { type: 'boolean'; short: 'h' } }> | number {
  let args: ParsedArgs<O & { help: { type: 'boolean'; short: 'h' } }>;
  try {
    args = parseCommand(argv, options);
  } catch (e) {
    if (e instanceof UsageError) return usageError(err, command, e.message, usage);
    throw e;
  }
  if (args.values.help) {
    out.write(usage);
    return 0;
  }
  const given = args.positionals;
  if (positionals === 0 && given.length) return usageError(err, command, `unexpected argument '${given[0]}'`, usage);
  if (positionals === 1 && given.length !== 1) {
    return usageError(err, command, given.length === 0 ? 'missing the library path' : 'expected exactly one library path', usage);
  }
  return args;
}
