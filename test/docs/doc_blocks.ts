/**
 * The code blocks of README.md and docs/ (docs/jobs/ included), read the one way every docs test
 * reads them. Each fenced block carries a marker on the line right above its fence that says what is
 * done with it:
 *
 *   <!-- typecheck: name -->  a ts block, compiled under `strict` as a module that imports 'dlswap'
 *                             (test/docs/typecheck_blocks.test.ts)
 *   <!-- example: name -->    a js block, run with node as an ES module from the repository root
 *   <!-- output: name -->     a text block: what example `name` prints, exactly
 *   <!-- continues: name -->  more of the program `name` (an example or a typecheck block above it on
 *                             the same page): the blocks are joined in order and run, or compiled, as
 *                             one program, as the page says they are
 *   <!-- fragment -->         not run: a shell transcript, output, a layout, or a piece of a program
 *                             shown apart from it
 *
 * test/docs/code_blocks.test.ts fails for a block without one. Examples are run by
 * test/docs/examples.test.ts, but those of the pages in FFI_EXAMPLE_PAGES, which
 * test/call/examples_ffi.test.ts runs (they need the machine's libsqlite3 and libcurl).
 */
import fs from 'node:fs';
import path from 'node:path';
import { root } from '../helpers';

export type Marker = { kind: 'typecheck' | 'example' | 'output' | 'continues'; name: string } | { kind: 'fragment' };

export interface DocBlock {
  /** The page, relative to the repository root. */
  doc: string;
  /** The line of the opening fence, from 1. */
  line: number;
  /** The fence's info string: 'ts', 'js', 'sh', 'text', '' ... */
  lang: string;
  code: string;
  marker: Marker | null;
}

/** A program made of an `example` or `typecheck` block and the blocks that continue it. */
export interface DocProgram {
  doc: string;
  name: string;
  kind: 'example' | 'typecheck';
  blocks: DocBlock[];
  code: string;
  /** An example's `output` block (null when the page has none). */
  output: string | null;
}

export const FFI_EXAMPLE_PAGES: readonly string[] = ['docs/types.md', 'docs/callbacks.md'];

function markdownFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? markdownFiles(path.join(dir, e.name)) : e.name.endsWith('.md') ? [path.join(dir, e.name)] : []))
    .sort();
}

/** README.md and every page under docs/, relative to the repository root. */
export function docPages(): string[] {
  return ['README.md', ...markdownFiles(path.join(root, 'docs')).map((f) => path.relative(root, f))];
}

const MARKER = /^<!-- (?:(typecheck|example|output|continues): ([\w-]+)|(fragment)) -->$/;

function markerOf(line: string | undefined): Marker | null {
  const m = MARKER.exec((line ?? '').trim());
  if (!m) return null;
  return m[3] ? { kind: 'fragment' } : { kind: m[1] as 'typecheck' | 'example' | 'output' | 'continues', name: m[2] };
}

/** Every fenced block of a page (``` or ~~~, indented or not), in order. */
export function blocksOf(doc: string, text = fs.readFileSync(path.join(root, doc), 'utf8')): DocBlock[] {
  const lines = text.split('\n');
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    let end = i + 1;
    while (end < lines.length && !(lines[end].trim().startsWith(fence) && lines[end].trim().replace(/[`~]/g, '') === '')) end++;
    const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
    out.push({ doc, line: i + 1, lang: info.trim(), code: body.length ? `${body.join('\n')}\n` : '', marker: markerOf(lines[i - 1]) });
    i = end;
  }
  return out;
}

export function docBlocks(): DocBlock[] {
  return docPages().flatMap((doc) => blocksOf(doc));
}

/** The programs of a set of blocks: each example or typecheck block with its continuations, joined. */
export function programsOf(blocks: DocBlock[]): DocProgram[] {
  const programs: DocProgram[] = [];
  for (const b of blocks) {
    const m = b.marker;
    if (m?.kind === 'example' || m?.kind === 'typecheck') {
      programs.push({ doc: b.doc, name: m.name, kind: m.kind, blocks: [b], code: b.code, output: null });
      continue;
    }
    const p = m && m.kind !== 'fragment' ? programs.find((x) => x.doc === b.doc && x.name === m.name) : undefined;
    if (!p || !m || m.kind === 'fragment') continue;
    if (m.kind === 'continues') {
      p.blocks.push(b);
      p.code += b.code;
    } else if (m.kind === 'output' && p.kind === 'example') {
      p.output = b.code.replace(/\n$/, '');
    }
  }
  return programs;
}

export function docPrograms(): DocProgram[] {
  return programsOf(docBlocks());
}

/** The examples test/docs/examples.test.ts runs; the others are test/call/examples_ffi.test.ts's. */
export function examplesRunHere(): DocProgram[] {
  return docPrograms().filter((p) => p.kind === 'example' && !FFI_EXAMPLE_PAGES.includes(p.doc));
}

export function ffiExamples(): DocProgram[] {
  return docPrograms().filter((p) => p.kind === 'example' && FFI_EXAMPLE_PAGES.includes(p.doc));
}
