/**
 * The `sources` of a watch build step (docs/watch.md#a-build-step): paths and glob patterns, relative
 * to the build's directory, turned into the directories to watch and a test for each changed path.
 *
 * A pattern is split at its first segment with a wildcard: the part before it is a directory that
 * must exist (it is what gets watched), the rest is matched against paths below it. `*` and `?`
 * stay inside one path segment, `**` spans any number of them, `{a,b}` is either. A pattern without
 * wildcards is a file (watched through its directory, so that a rename over it is seen) or a
 * directory (everything below it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DlswapError } from '../errors';

export interface SourcePattern {
  /** As given. */
  pattern: string;
  /** The directory watched for it, absolute. */
  base: string;
  /** Whether subdirectories of `base` are watched too. */
  recursive: boolean;
  /** Whether an absolute path is one of these sources. */
  matches(file: string): boolean;
}

const WILD = /[*?{]/;

/** `sources`, resolved against `cwd` and checked: every base directory must exist now. */
export function sourcePatterns(sources: readonly string[], cwd: string): SourcePattern[] {
  return sources.map((p) => sourcePattern(p, cwd));
}

function sourcePattern(pattern: string, cwd: string): SourcePattern {
  const abs = path.resolve(cwd, pattern);
  const segments = abs.split('/');
  const wildAt = segments.findIndex((s) => WILD.test(s));
  if (wildAt < 0) {
    // A plain path: a directory means everything under it; anything else is one file.
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(abs);
    } catch {
      // not there yet: a file a build step may be given before it is written
    }
    if (st?.isDirectory()) {
      const rest = globRegex('**');
      return { pattern, base: abs, recursive: true, matches: (f) => isBelow(f, abs) && rest.test(path.relative(abs, f)) };
    }
    requireDirectory(path.dirname(abs), pattern);
    return { pattern, base: path.dirname(abs), recursive: false, matches: (f) => f === abs };
  }
  const base = segments.slice(0, wildAt).join('/') || '/';
  requireDirectory(base, pattern);
  const rest = segments.slice(wildAt).join('/');
  const re = globRegex(rest);
  // Only a pattern whose wildcard part spans directories needs the subdirectories watched.
  const recursive = rest.includes('**') || rest.includes('/');
  return { pattern, base, recursive, matches: (f) => isBelow(f, base) && re.test(path.relative(base, f)) };
}

function isBelow(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function requireDirectory(dir: string, pattern: string): void {
  let ok = false;
  try {
    ok = fs.statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!ok) {
    throw new DlswapError(
      'ERR_DLSWAP_NOT_FOUND',
      `watch.sources: '${pattern}' is in ${dir}, which is not a directory that exists. Give paths (or patterns) of the source files the build reads, relative to watch.cwd.`,
    );
  }
}

/** A glob (the part of a pattern below its base) as a regular expression over a relative path. */
export function globRegex(glob: string): RegExp {
  let re = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` is zero or more directories; a trailing `**` is anything below.
      const slash = glob[i + 2] === '/';
      re += slash ? '(?:[^/]+/)*' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      braces++;
      re += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      re += ')';
    } else if (c === ',' && braces > 0) re += '|';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  if (braces > 0) throw new DlswapError('ERR_DLSWAP_ARG', `watch.sources: '${glob}' has a '{' without its '}'`);
  return new RegExp(`^${re}$`);
}
