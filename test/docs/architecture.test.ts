// docs/ARCHITECTURE.md is the map a maintainer trusts: this holds it to the code, so that it cannot go
// stale without a failing test.
// - every file or folder it names (in backticks) exists;
// - every name it quotes is in the code, and in the file it gives right after it, where it gives one
//   ("`name` (`file`)");
// - its table of edges between the folders of lib/ is exactly the one the imports make;
// - its row for changing an isolation mode names every file that decides something per mode.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers';

const DOC = 'docs/ARCHITECTURE.md';
const doc = fs.readFileSync(path.join(root, DOC), 'utf8');

// Build output, dependencies and git's own files are not what the document describes.
const SKIPPED = new Set(['node_modules', '.git', 'build', 'build-asan', 'dist', 'prebuilds']);

function walk(dir: string, keep: (f: string) => boolean): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir === '.' ? e.name : path.posix.join(dir, e.name);
    if (e.isDirectory()) return SKIPPED.has(e.name) ? [] : walk(rel, keep);
    return keep(rel) ? [rel] : [];
  });
}

const SOURCE = /\.(ts|cc|h|c|S)$/;
const sources = [...walk('lib', (f) => SOURCE.test(f)), ...walk('native', (f) => SOURCE.test(f)), ...walk('include', (f) => SOURCE.test(f))];
const text = new Map(sources.map((f) => [f, fs.readFileSync(path.join(root, f), 'utf8')]));
const corpus = [...text.values()].join('\n');

/** Code spans of the document, with where each ends (to find what follows it). */
const spans = [...doc.matchAll(/`([^`\n]+)`/g)].map((m) => ({ code: m[1], end: m.index! + m[0].length }));

const repoFiles = walk('.', () => true);

// Not paths of the repository: absolute ones (/proc/self/maps), relative ones of an example
// (./libplugin_v2.so), and the package's own entry points (dlswap/testing: package.json "exports").
const looksLikePath = (s: string) =>
  !/\s/.test(s) && (s.includes('/') || /\.(ts|cc|h|c|S|md|mjs|cjs|json|so)$/.test(s)) && !/^\.?\//.test(s) && !/^dlswap\//.test(s);
const packageEntries = spans.map((s) => s.code).filter((c) => /^dlswap\/[\w-]+$/.test(c));
const IDENTIFIER = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*(\([\w, ]*\))?$/;

/** Where a path of the document is: itself from the root, or under lib/ or native/ (the layer
 *  diagram's folders), or a file name found once under lib/ or native/. Globs (`guard_*.S`) match. */
function resolvePath(p: string): string[] {
  const clean = p.replace(/\/$/, '');
  const pattern = new RegExp(
    `^(|lib/|native/)${clean
      .split('*')
      .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}(\\.[a-z]+)?(/.*)?$`,
  );
  const hits = repoFiles.filter((f) => pattern.test(f));
  if (hits.length) return hits;
  return sources.filter((f) => path.posix.basename(f) === clean);
}

describe(`${DOC} is true`, () => {
  it('every file and folder it names exists', () => {
    const paths = [...new Set(spans.map((s) => s.code).filter(looksLikePath))];
    expect(paths.length).toBeGreaterThan(40); // the check reads the document, not nothing
    const missing = paths.filter((p) => resolvePath(p).length === 0);
    expect(missing).toEqual([]);
    const exported = Object.keys((JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: object }).exports);
    expect(packageEntries.filter((e) => !exported.includes(`./${e.slice('dlswap/'.length)}`))).toEqual([]);
  });

  it('every name it quotes is in the code, and in the file it gives right after it', () => {
    const names = spans.filter((s) => IDENTIFIER.test(s.code) && !looksLikePath(s.code));
    expect(names.length).toBeGreaterThan(60);
    const missing: string[] = [];
    for (const { code, end } of names) {
      const parts = code.replace(/\(.*\)$/, '').split('.');
      // "`name` (`file`)": the name is in that file.
      const where = /^ \(`([^`]+)`/.exec(doc.slice(end, end + 200))?.[1];
      const files = where && looksLikePath(where) ? resolvePath(where).filter((f) => text.has(f)) : [];
      const haystack = files.length ? files.map((f) => text.get(f)!).join('\n') : corpus;
      for (const part of parts) {
        if (!new RegExp(`(^|[^\\w$])${part.replace(/\$/g, '\\$')}($|[^\\w$])`).test(haystack)) missing.push(`${code}${files.length ? ` in ${where}` : ''}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('its table of edges between the folders of lib/ is the one the imports make', () => {
    const table = /<!-- lib-edges -->\n([\s\S]*?)<!-- \/lib-edges -->/.exec(doc);
    expect(table, 'the document has its <!-- lib-edges --> table').not.toBeNull();
    const documented = table![1]
      .split('\n')
      .filter((l) => /^\| [^-]/.test(l) && !/^\| from /.test(l))
      .map((l) =>
        l
          .split('|')
          .slice(1, 4)
          .map((c) => c.trim())
          .join(' -> '),
      )
      .sort();
    expect(libEdges()).toEqual(documented);
  });

  it('native/namespace/ includes nothing of native/image/, as it says (the edge goes one way)', () => {
    expect(doc).toContain('and `namespace/` includes nothing of `image/`');
    const includes = (from: string, to: string) =>
      [...text].filter(([f, src]) => f.startsWith(`native/${from}/`) && new RegExp(`^#include "${to}/`, 'm').test(src)).map(([f]) => f);
    expect(includes('image', 'namespace').length).toBeGreaterThan(0); // the check reads the includes, not nothing
    expect(includes('namespace', 'image')).toEqual([]);
  });

  it('its row for changing an isolation mode names every file that decides something per mode', () => {
    const row = doc.split('\n').find((l) => l.startsWith('| an isolation mode |'));
    expect(row, 'the "Where to look" table has its isolation mode row').toBeDefined();
    const cited = new Set([...row!.matchAll(/`([^`]+)`/g)].map((m) => m[1]));
    const deciding = filesDecidingPerMode();
    expect(deciding.length).toBeGreaterThan(20);
    expect(deciding.filter((f) => !cited.has(f))).toEqual([]);
  });
});

/** The folder of lib/ a file is in ('(shared)' for the files at its top). */
function layerOf(file: string): string {
  const rel = path.posix.relative('lib', file);
  return rel.includes('/') ? `${rel.split('/')[0]}/` : '(shared)';
}

/** "from -> to -> values|types" for every pair of folders an import crosses (lib/index.ts left out). */
function libEdges(): string[] {
  const edges = new Map<string, boolean>(); // key -> some import of a value
  for (const [file, src] of text) {
    if (!file.startsWith('lib/') || !file.endsWith('.ts') || file === 'lib/index.ts') continue;
    const from = layerOf(file);
    const imports: { spec: string; typeOnly: boolean }[] = [];
    for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+'(\.[^']*)'/gm)) {
      const names = m[3].trim();
      const allTypes =
        /^\{[\s\S]*\}$/.test(names) &&
        names
          .slice(1, -1)
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean)
          .every((n) => n.startsWith('type '));
      imports.push({ spec: m[4], typeOnly: Boolean(m[2]) || allTypes });
    }
    for (const m of src.matchAll(/(typeof\s+)?(?:import|require)\(\s*'(\.[^']*)'\s*\)/g)) imports.push({ spec: m[2], typeOnly: Boolean(m[1]) });
    for (const { spec, typeOnly } of imports) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const to = layerOf(target);
      if (to === from) continue;
      const key = `${from} -> ${to}`;
      edges.set(key, (edges.get(key) ?? false) || !typeOnly);
    }
  }
  return [...edges].map(([k, value]) => `${k} -> ${value ? 'values' : 'types'}`).sort();
}

/** Code without its comments (good enough for finding quoted names in TypeScript and C++). */
function withoutComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\'"])\/\/[^\n]*/g, '$1');
}

/** Files of lib/ and native/ that name a mode in their code: a quoted mode name (TypeScript), the
 *  IsolationCode enum, or Isolation:: (C++). */
function filesDecidingPerMode(): string[] {
  const ts = /['"](local|deepbind|namespace|fresh-namespace)['"]|\bIsolationCode\b/;
  const cc = /\bIsolation::|\benum class Isolation\b/;
  return [...text]
    .filter(([f, src]) => {
      const code = withoutComments(src);
      return (f.startsWith('lib/') && f !== 'lib/index.ts' && ts.test(code)) || (f.startsWith('native/') && cc.test(code));
    })
    .map(([f]) => f)
    .sort();
}
