'use strict';
/**
 * Where a system library lives on this machine, found at run time: the Debian multiarch library
 * directories of this architecture first, then the dynamic loader's cache (`ldconfig -p`).
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const MULTIARCH = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
// How `ldconfig -p` tags libraries of this architecture.
const LDCONFIG_TAG = { x64: 'x86-64', arm64: 'AArch64' };

function libraryDirs() {
  const triplet = MULTIARCH[process.arch];
  return triplet ? [`/usr/lib/${triplet}`, `/lib/${triplet}`] : [];
}

let cache;
function ldconfigCache() {
  if (cache === undefined) {
    cache = new Map();
    try {
      const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const tag = LDCONFIG_TAG[process.arch];
      for (const line of out.split('\n')) {
        const m = /^\s*(\S+) \(([^)]*)\) => (\S+)$/.exec(line);
        if (m && (!tag || m[2].includes(tag)) && !cache.has(m[1])) cache.set(m[1], m[3]);
      }
    } catch {
      // no ldconfig: the multiarch directories are all we have
    }
  }
  return cache;
}

/** The path of a library by file name (soname), or null when it is not installed. */
function resolveLibrary(soname) {
  for (const dir of libraryDirs()) {
    const p = path.join(dir, soname);
    if (fs.existsSync(p)) return p;
  }
  const p = ldconfigCache().get(soname);
  return p && fs.existsSync(p) ? p : null;
}

// Debian's name of this architecture: a multiarch system may have a package installed for another
// one too (zlib1g:arm64 beside zlib1g:amd64), and only this one's counts.
const DEB_ARCH = { x64: 'amd64', arm64: 'arm64' };

// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
const STATUS_FORMAT = '-f=${Status}';

/** Debian packages of `names` that dpkg does not list as installed for this architecture. */
function missingPackages(names) {
  return names.filter((name) => {
    const qualified = DEB_ARCH[process.arch] && !name.includes(':') ? `${name}:${DEB_ARCH[process.arch]}` : name;
    try {
      return (
        execFileSync('dpkg-query', ['-W', STATUS_FORMAT, qualified], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !==
        'install ok installed'
      );
    } catch {
      return true;
    }
  });
}

module.exports = { resolveLibrary, libraryDirs, missingPackages };
