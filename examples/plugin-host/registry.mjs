// A registry of C plugins: every folder of `pluginsDir` is one plugin, built into
// `buildDir/lib<name>.so` and loaded as a HotLibrary of its own that rebuilds it when one of its
// sources changes (dlswap's watch build step) and reloads it while requests keep coming.
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { HotLibrary } from 'dlswap';

/** What every plugin exports (see plugins/hello/hello.c). */
export const PLUGIN_FUNCTIONS = { handle: 'int handle(const char *req, char *out, size_t cap)' };

/** dlswap.h, shipped with the package. */
const include = path.join(path.dirname(createRequire(import.meta.url).resolve('dlswap/package.json')), 'include');

/**
 * Events (each with `name`, the plugin's): 'building' { changed }, 'built' { durationMs, output },
 * 'serving' { generation, report }, 'build-failed' { exitCode, output, message },
 * 'reload-failed' { error }, 'skipped' { reason, message }, 'log' { generation, message },
 * 'broken' { output } (a plugin whose first build failed: not served until it builds).
 */
export class PluginRegistry extends EventEmitter {
  /** @type {Map<string, HotLibrary>} */
  #plugins = new Map();
  #options;

  /**
   * @param {{ pluginsDir: string, buildDir: string, cc?: string, isolation?: string }} options
   */
  constructor(options) {
    super();
    this.#options = { ...options, pluginsDir: path.resolve(options.pluginsDir), buildDir: path.resolve(options.buildDir) };
  }

  /** The compiler command for one plugin: every .c file of its folder, into one library. */
  command(name) {
    const { pluginsDir, buildDir, cc = process.env.CC ?? 'cc' } = this.#options;
    const sources = fs
      .readdirSync(path.join(pluginsDir, name))
      .filter((f) => f.endsWith('.c'))
      .sort();
    return [cc, '-shared', '-fPIC', '-O2', '-Wall', `-I${include}`, '-o', path.join(buildDir, `lib${name}.so`), ...sources.map((f) => path.join(name, f))];
  }

  /** Builds and loads every plugin folder. A plugin whose first build fails is reported and left out. */
  async start() {
    const { pluginsDir, buildDir } = this.#options;
    fs.mkdirSync(buildDir, { recursive: true });
    const names = fs
      .readdirSync(pluginsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    for (const name of names) {
      const command = this.command(name);
      try {
        await promisify(execFile)(command[0], command.slice(1), { cwd: pluginsDir });
      } catch (e) {
        this.emit('broken', { name, output: `${e.stdout ?? ''}${e.stderr ?? e.message}` });
        continue;
      }
      this.#plugins.set(name, await this.#open(name, command));
    }
    return this;
  }

  async #open(name, command) {
    const { pluginsDir, buildDir, isolation = 'namespace' } = this.#options;
    const hot = await HotLibrary.open(path.join(buildDir, `lib${name}.so`), {
      isolation,
      functions: PLUGIN_FUNCTIONS,
      // Rebuild on every change to the plugin's sources; reload as soon as the build succeeds.
      watch: { build: command, sources: [`${name}/*.{c,h}`], cwd: pluginsDir },
    });
    hot.on('watch-build-start', (b) => this.emit('building', { name, changed: b.changed.map((f) => path.relative(pluginsDir, f)) }));
    hot.on('watch-build', (b) => this.emit('built', { name, durationMs: b.durationMs, output: b.output }));
    hot.on('watch-reload', (report) => this.emit('serving', { name, generation: report.to, report }));
    hot.on('watch-skip', (s) => {
      if (s.reason === 'build-failed' || s.reason === 'build-timeout')
        this.emit('build-failed', { name, exitCode: s.exitCode, output: s.output, message: s.message });
      else if (s.reason === 'reload-failed') this.emit('reload-failed', { name, error: s.error });
      else this.emit('skipped', { name, reason: s.reason, message: s.message });
    });
    hot.on('log', (e) => this.emit('log', { name, generation: e.generation, message: e.message }));
    return hot;
  }

  /** The plugin called `name`, or undefined. */
  get(name) {
    return this.#plugins.get(name);
  }

  /** Every plugin served, with the generation serving. */
  list() {
    return [...this.#plugins].map(([name, hot]) => ({ name, generation: hot.current }));
  }

  /** Stops every build and closes every generation (each once its requests have finished). */
  async close() {
    await Promise.all([...this.#plugins.values()].map((hot) => hot.close()));
    this.#plugins.clear();
  }
}
