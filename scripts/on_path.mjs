// Whether a command is on PATH (an executable file of that name in one of its directories): what the
// install script asks of a toolchain, and what the fixture build asks of ninja. Shipped with
// install.mjs (package.json "files").
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
