/**
 * `dlswap inspect <lib.so> [--json]`: reads a library without loading it and reports its hazards
 * and the isolation mode to use. Exit codes: 0 report printed (whatever the hazards), 1 the file
 * could not be read (the error's code and message go to stderr), 2 usage error.
 */
import { inspect, type Hazard, type InspectReport } from '../analysis/inspect';
import { ISOLATION_MODES } from '../load/isolation';
import { colors, colorEnabled, commandArgs, formatBytes, table, wrap, type Colors } from './format';

const USAGE = `usage: dlswap inspect <lib.so> [--json]

Reads a shared library's ELF file (without loading it) and reports its dependencies, symbols,
hot-reload hazards and the isolation mode to open it with.

  --json   print the report as JSON (schema 1, documented in docs/inspect.md)
`;

const TYPE_NAMES: Record<InspectReport['type'], string> = {
  dyn: 'shared library',
  exec: 'executable',
  rel: 'relocatable object',
  core: 'core dump',
  other: 'unknown type',
};

const MAX_SYMBOLS_SHOWN = 8;

const MODES: readonly string[] = ISOLATION_MODES;

function affectsLabel(h: Hazard): string {
  if (h.affects.length === 0) return '-';
  if (MODES.every((m) => h.affects.includes(m as Hazard['affects'][number]))) {
    return ['all modes', ...h.affects.filter((a) => !MODES.includes(a))].join(',');
  }
  return h.affects.join(',');
}

function severityLabel(h: Hazard, c: Colors): string {
  switch (h.severity) {
    case 'error':
      return c.red(c.bold('error'));
    case 'warn':
      return c.yellow('warn');
    default:
      return c.cyan('info');
  }
}

export function formatReport(r: InspectReport, c: Colors, width = 100): string {
  const out: string[] = [];
  const none = c.dim('-');
  const host = r.matchesHost ? c.green('matches this process') : c.red('does NOT match this process');
  out.push(c.bold(r.path));
  out.push(
    table(
      [
        ['file', `${r.realPath} (${formatBytes(r.size)})`],
        ['ELF', `${r.class}-bit ${r.endian}-endian ${r.machine} ${TYPE_NAMES[r.type]}, ${host}`],
        ['soname', r.soname ?? none],
        ['needed', r.needed.length ? r.needed.join(', ') : none],
        ['rpath', r.rpath ?? none],
        ['runpath', r.runpath ?? none],
        ['build-id', r.buildId ?? none],
        ['symbols', `${r.exports} exported, ${r.imports} imported`],
        ...(r.truncated ? [['note', c.yellow('some tables point outside the file and were skipped; counts may be low')]] : []),
      ].map(([k, v]) => [c.dim(k), v]),
      { indent: 2 },
    ),
  );
  out.push('');

  if (r.hazards.length === 0) {
    out.push(`${c.bold('Hazards')}  ${c.green('none')}`);
  } else {
    out.push(c.bold('Hazards'));
    const rows: string[][] = [];
    const idWidth = Math.max(...r.hazards.map((h) => h.id.length));
    const affectsWidth = Math.max(7, ...r.hazards.map((h) => affectsLabel(h).length));
    const textWidth = Math.max(30, width - 2 - 8 - idWidth - affectsWidth - 6);
    for (const h of r.hazards) {
      const lines = wrap(h.message, textWidth);
      // The message already names a few symbols; list them separately only when it could not name all.
      if (h.symbols?.some((sym) => !h.message.includes(sym))) {
        const shown = h.symbols.slice(0, MAX_SYMBOLS_SHOWN).join(' ');
        const more = h.symbols.length > MAX_SYMBOLS_SHOWN ? ` (+${h.symbols.length - MAX_SYMBOLS_SHOWN} more; --json lists all)` : '';
        lines.push(...wrap(`symbols: ${shown}${more}`, textWidth).map((l) => c.dim(l)));
      }
      if (h.from?.some((d) => !h.message.includes(d))) lines.push(...wrap(`from: ${h.from.join(' ')}`, textWidth).map((l) => c.dim(l)));
      rows.push([severityLabel(h, c), h.id, affectsLabel(h), lines[0] ?? '']);
      for (const l of lines.slice(1)) rows.push(['', '', '', l]);
    }
    out.push(table(rows, { header: ['SEVERITY', 'HAZARD', 'AFFECTS', 'DETAILS'].map((h) => c.dim(h)), indent: 2 }));
  }
  out.push('');

  const mode = r.recommendation.isolation;
  out.push(`${c.bold('Recommended isolation:')} ${mode ? c.green(c.bold(mode)) : c.red(c.bold('none (cannot be loaded)'))}`);
  for (const l of wrap(r.recommendation.reason, width - 2)) out.push(`  ${l}`);
  return `${out.join('\n')}\n`;
}

export function runInspect(argv: string[], out: NodeJS.WritableStream, isTTY: boolean, err: NodeJS.WritableStream = process.stderr): number {
  const args = commandArgs('inspect', USAGE, argv, { json: { type: 'boolean' } }, 1, out, err);
  if (typeof args === 'number') return args;
  const positionals = args.positionals;
  let report: InspectReport;
  try {
    report = inspect(positionals[0]);
  } catch (e) {
    const error = e as Error & { code?: string };
    err.write(`dlswap inspect: ${error.code ? `${error.code}: ` : ''}${error.message}\n`);
    return 1;
  }
  if (args.values.json) {
    out.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const columns = (out as NodeJS.WritableStream & { columns?: number }).columns;
  const width = isTTY && columns ? Math.max(60, Math.min(columns, 160)) : 100;
  out.write(formatReport(report, colors(colorEnabled(isTTY, process.env, out)), width));
  return 0;
}
