/**
 * Terminal output helpers for the CLI: colour and aligned tables, without dependencies.
 *
 * Colour rules (the same precedence as node's own `tty.WriteStream.hasColors`): FORCE_COLOR set to
 * anything but '0'/'false' forces colour, FORCE_COLOR=0/false forbids it; otherwise NO_COLOR (any
 * non-empty value, see no-color.org) forbids it; otherwise colour iff the stream is a TTY and
 * TERM is not 'dumb'.
 */

export function colorEnabled(isTTY: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
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

function sgr(open: number, close: number, on: boolean): (s: string) => string {
  return on ? (s) => `\x1b[${open}m${s}\x1b[${close}m` : (s) => s;
}

export function colors(enabled: boolean): Colors {
  return {
    enabled,
    bold: sgr(1, 22, enabled),
    dim: sgr(2, 22, enabled),
    red: sgr(31, 39, enabled),
    yellow: sgr(33, 39, enabled),
    green: sgr(32, 39, enabled),
    cyan: sgr(36, 39, enabled),
  };
}

// eslint-disable-next-line no-control-regex
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
    .map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : pad(cell, widths[c]))).join('  ').trimEnd())
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

/** Parses `argv` into flags and positionals; unknown `--flags` are reported rather than ignored. */
export function parseArgs(
  argv: string[],
  known: string[],
): { flags: Set<string>; positionals: string[]; unknown: string[] } {
  const flags = new Set<string>();
  const positionals: string[] = [];
  const unknown: string[] = [];
  let rest = false;
  for (const a of argv) {
    if (rest || !a.startsWith('-') || a === '-') positionals.push(a);
    else if (a === '--') rest = true;
    else if (known.includes(a)) flags.add(a);
    else unknown.push(a);
  }
  return { flags, positionals, unknown };
}
