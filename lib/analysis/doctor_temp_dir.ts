/**
 * doctor's look at the temp area: whether dlswap can create its private per-user directory there,
 * keep it private, and map libraries copied into it (lib/load/temp_area.ts makes it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TempDirCheck {
  base: string;
  source: 'DLSWAP_TMPDIR' | 'os.tmpdir()';
  /** <base>/dlswap-<uid>, the per-user root dlswap creates (0700). */
  userRoot: string;
  writable: boolean;
  /** Nobody else could replace or read what dlswap puts there. */
  private: boolean;
  /** Mounted noexec: libraries copied there cannot be mapped executable. */
  noexec: boolean;
  problem: string | null;
}

function mountOptions(dir: string): string[] | null {
  try {
    const real = fs.realpathSync(dir);
    let best: { point: string; opts: string[] } | null = null;
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f.length < 6) continue;
      const point = f[4].replace(/\\040/g, ' ');
      const inside = real === point || real.startsWith(point === '/' ? '/' : `${point}/`);
      if (inside && (!best || point.length >= best.point.length)) best = { point, opts: f[5].split(',') };
    }
    return best?.opts ?? null;
  } catch {
    return null;
  }
}

export function checkTempDir(): TempDirCheck {
  const fromEnv = Boolean(process.env.DLSWAP_TMPDIR);
  const base = process.env.DLSWAP_TMPDIR || os.tmpdir();
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const userRoot = path.join(base, `dlswap-${uid}`);
  const r: TempDirCheck = {
    base,
    source: fromEnv ? 'DLSWAP_TMPDIR' : 'os.tmpdir()',
    userRoot,
    writable: false,
    private: false,
    noexec: false,
    problem: null,
  };
  let st: fs.Stats;
  try {
    st = fs.statSync(base);
  } catch (e) {
    r.problem = `${base} does not exist (${(e as NodeJS.ErrnoException).code}). Create it or set DLSWAP_TMPDIR to a writable directory.`;
    return r;
  }
  if (!st.isDirectory()) {
    r.problem = `${base} is not a directory. Set DLSWAP_TMPDIR to a writable directory.`;
    return r;
  }
  try {
    fs.rmdirSync(fs.mkdtempSync(path.join(base, '.dlswap-doctor-')));
    r.writable = true;
  } catch (e) {
    r.problem = `${base} is not writable (${(e as NodeJS.ErrnoException).code}). Set DLSWAP_TMPDIR to a writable directory.`;
  }
  r.noexec = (mountOptions(base) ?? []).includes('noexec');
  // Private: the per-user root is ours and closed (or will be created so), and nobody can remove or
  // rename it out from under us (a world-writable parent must be sticky).
  const worldWritable = (st.mode & 0o002) !== 0;
  const sticky = (st.mode & 0o1000) !== 0;
  let rootOk = true;
  try {
    const rs = fs.lstatSync(userRoot);
    if (rs.isSymbolicLink()) {
      rootOk = false;
      r.problem ??= `${userRoot} is a symbolic link; dlswap refuses it. Remove it, or set DLSWAP_TMPDIR.`;
    } else if (!rs.isDirectory()) {
      rootOk = false;
      r.problem ??= `${userRoot} exists and is not a directory. Remove it, or set DLSWAP_TMPDIR.`;
    } else if (rs.uid !== uid) {
      rootOk = false;
      r.problem ??= `${userRoot} belongs to uid ${rs.uid}, not ${uid}; someone else could swap the libraries dlswap loads. Remove it, or set DLSWAP_TMPDIR.`;
    }
  } catch {
    // Does not exist yet: dlswap creates it 0700.
  }
  if (worldWritable && !sticky) {
    r.problem ??= `${base} is world-writable without the sticky bit: another user could replace dlswap's directory. Set DLSWAP_TMPDIR to a directory only you can write.`;
  }
  r.private = rootOk && !(worldWritable && !sticky);
  if (r.noexec) {
    r.problem ??= `${base} is mounted noexec: libraries copied there cannot be mapped. Set DLSWAP_TMPDIR to a directory on an exec mount.`;
  }
  return r;
}
