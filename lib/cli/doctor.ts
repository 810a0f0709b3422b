/**
 * `dlswap doctor [--json] [--no-probe]`: what this machine allows. Exit codes: 0 nothing is broken
 * (warnings may be listed), 1 a check failed (the addon does not load, the temp area is unusable, no
 * namespace can be created, not glibc), 2 usage error.
 */
import { doctor, type CheckStatus, type DoctorReport } from '../analysis/doctor';
import { colors, colorEnabled, commandArgs, table, wrap, type Colors } from './format';

const USAGE = `usage: dlswap doctor [--json] [--no-probe]

Reports glibc and its tunables, node's copy relocations, the temp area, the addon build, and how many
link-map namespaces a process can create (measured in a child process).

  --json       print the report as JSON (schema 1)
  --no-probe   skip the namespace probe (the child process)
`;

function statusLabel(s: CheckStatus, c: Colors): string {
  switch (s) {
    case 'ok':
      return c.green('ok');
    case 'info':
      return c.cyan('info');
    case 'warn':
      return c.yellow('warn');
    default:
      return c.red(c.bold('error'));
  }
}

export function formatDoctor(r: DoctorReport, c: Colors, width = 100): string {
  const none = c.dim('-');
  const t = r.tunables;
  const ns = r.namespaces;
  const rows: string[][] = [
    ['node', `${r.node.version} (${r.node.arch}, N-API ${r.node.napiVersion ?? '?'}) ${r.node.execPath}`],
    ['glibc', r.glibc.version ?? c.red('not glibc')],
    ['tunables', t.raw ? `GLIBC_TUNABLES=${t.raw}` : `GLIBC_TUNABLES not set (glibc.rtld.nns=${t.nns}, glibc.rtld.optional_static_tls=${t.optionalStaticTls})`],
    [
      'static TLS',
      `surplus about ${r.staticTls.surplusEstimate} bytes` +
        (r.staticTls.libcTlsBlock ? `; a namespace's libc takes ${r.staticTls.libcTlsBlock}: about ${r.staticTls.estimatedNamespaces} namespaces` : ''),
    ],
    [
      'namespaces',
      !ns.probed
        ? (ns.error ?? c.dim('not probed'))
        : ns.opened === null
          ? c.red(ns.error ?? 'probe failed')
          : `${ns.opened} created in a child process (${ns.library}${ns.ms !== null ? `, ${ns.ms} ms` : ''})${ns.error ? `, then: ${ns.error}` : ''}`,
    ],
    [
      'copy relocs',
      r.copyRelocations ? `${r.copyRelocations.count} in node; unsafe under deepbind: ${r.copyRelocations.deepbindUnsafe.join(', ') || 'none'}` : none,
    ],
    [
      'temp dir',
      `${r.tempDir.base} (${r.tempDir.source}): ${r.tempDir.writable ? 'writable' : c.red('not writable')}, ${r.tempDir.private ? 'private' : c.yellow('not private')}${
        r.tempDir.noexec ? `, ${c.red('noexec')}` : ''
      }`,
    ],
    [
      'namespace runtime',
      r.runtime.error
        ? c.red(r.runtime.error)
        : `${r.runtime.forwards.length} libc functions shared with node's libc${
            r.runtime.keysFromNodeTable === null
              ? ''
              : `; keys from node's table: ${r.runtime.keysFromNodeTable ? 'yes' : c.red('no')}, ctype on pool threads: ${r.runtime.ctypeOnPoolThreads ? 'yes' : c.red('no')}`
          }`,
    ],
    [
      'addon',
      r.addon.loaded
        ? `${r.addon.path} (N-API ${r.addon.napiVersion ?? '?'}, ${r.addon.asan ? 'ASan build' : 'no ASan'}${r.addon.buildId ? `, build-id ${r.addon.buildId.slice(0, 16)}` : ''})`
        : c.red(`does not load: ${r.addon.error}`),
    ],
  ];
  const valueWidth = Math.max(40, width - 16);
  const lines: string[][] = [];
  for (const [k, v] of rows) {
    const wrapped = v.length > valueWidth && !c.enabled ? wrap(v, valueWidth) : [v];
    lines.push([c.dim(k), wrapped[0] ?? '']);
    for (const more of wrapped.slice(1)) lines.push(['', more]);
  }
  const out = [c.bold('dlswap doctor'), table(lines, { indent: 2 }), ''];
  out.push(c.bold('Checks'));
  const checkRows: string[][] = [];
  const textWidth = Math.max(40, width - 30);
  for (const ch of r.checks) {
    const msg = wrap(ch.message, textWidth);
    checkRows.push([statusLabel(ch.status, c), ch.id, msg[0] ?? '']);
    for (const l of msg.slice(1)) checkRows.push(['', '', l]);
  }
  out.push(table(checkRows, { header: ['STATUS', 'CHECK', 'DETAILS'].map((h) => c.dim(h)), indent: 2 }));
  return `${out.join('\n')}\n`;
}

export async function runDoctor(argv: string[], out: NodeJS.WritableStream, isTTY: boolean, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const args = commandArgs('doctor', USAGE, argv, { json: { type: 'boolean' }, 'no-probe': { type: 'boolean' } }, 0, out, err);
  if (typeof args === 'number') return args;
  const report = await doctor({ probe: !args.values['no-probe'] });
  if (args.values.json) {
    out.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const columns = (out as NodeJS.WritableStream & { columns?: number }).columns;
    const width = isTTY && columns ? Math.max(60, Math.min(columns, 160)) : 100;
    out.write(formatDoctor(report, colors(colorEnabled(isTTY, process.env, out)), width));
  }
  return report.checks.some((ch) => ch.status === 'error') ? 1 : 0;
}
