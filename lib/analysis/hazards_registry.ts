/**
 * Hazards of process-wide registries that outlive a generation: a library that registers names
 * (flags, types, descriptors, quarks) in a dependency every generation shares registers them again
 * with each new generation, in a registry that still holds the old generation's entries.
 */
import type { ElfInfo } from '../elf/elf';
import { list, type Hazard } from './hazard';
import type { Closure } from './symbol_scope';

interface Registry {
  /** The registry's library. */
  soname: RegExp;
  /** Imports from it that register something. */
  registers: RegExp;
  what: string;
  /** What a second registration of the same names does. */
  second: string;
  /**
   * The registry keeps pointers into the registrant's image (strings, data), not names: harmless
   * while that image is never unmapped (a DF_1_NODELETE registrant, as libgobject is).
   */
  pointsIntoImage?: boolean;
}

// What was measured (gflags, GObject) or is documented by the registry itself.
const REGISTRIES: Registry[] = [
  {
    soname: /^libgflags(_nothreads)?\.so/,
    registers: /^_ZN(6google|6gflags)14FlagRegisterer/,
    what: "gflags' flag registry",
    second: 'gflags prints "... linked both statically and dynamically" and calls exit(1) from the new generation\'s constructor, inside the load',
  },
  {
    soname: /^libgobject-2\.0\.so/,
    registers: /^g_(type_register_(static|static_simple|dynamic|fundamental)|(boxed|pointer|param|enum|flags)_(type_)?register_static|type_add_interface_(static|dynamic))$/,
    what: "GObject's type system",
    second: 'GObject refuses it ("cannot register existing type") and the generation goes on with an invalid type: a hang or a crash',
  },
  {
    soname: /^libglib-2\.0\.so/,
    registers: /^g_(quark_from_static_string|intern_static_string)$/,
    what: "GLib's quark table",
    second: "the table keeps pointers to strings in the generation's image: once that is unmapped, the next lookup of an equal string reads unmapped memory (SIGSEGV)",
    pointsIntoImage: true,
  },
  {
    soname: /^libfftw3[flq]?\.so/,
    registers: /^fftw[fq]?l?_(solver_register|mksolver_ct_hook|mksolver_hc2hc_hook|threads_register_planner_hooks)$/,
    what: "FFTW's planner (the threads library registers its solvers and hooks there)",
    second: "the planner keeps the old generation's solvers and hooks, which point into its unmapped image (measured: SIGSEGV at the next plan), and the old generation's cleanup resets the new one's thread count",
  },
  {
    soname: /^libprotobuf(-lite)?\.so/,
    registers: /AddDescriptors|InternalAddGeneratedFile|InternalRegisterGeneratedFile/,
    what: "protobuf's generated descriptor pool",
    second: 'protobuf reports "File already exists in database" and aborts',
  },
  {
    soname: /^libLLVM/,
    registers: /^_ZN4llvm2cl6Option11addArgumentEv$/,
    what: "LLVM's command-line option registry",
    second: 'LLVM reports "Option ... registered more than once!" and exits',
  },
  {
    soname: /^libQt[56]Core\.so/,
    registers: /qRegisterResourceData|qRegisterStaticPluginFunction|^_ZN9QMetaType\w*[Rr]egister/,
    what: "Qt's resource, plugin and meta-type registries",
    second: "the names are taken by entries that point into the old generation's image, unmapped once it is closed",
  },
  {
    soname: /^libicuuc\.so/,
    registers: /^udata_set(Common|App)Data(_\d+)?$/,
    what: "ICU's data registry",
    second: "ICU keeps reading the data of the old generation's image, unmapped once it is closed",
    pointsIntoImage: true,
  },
  {
    soname: /^libgstreamer-1\.0\.so/,
    registers: /^gst_(element|device_provider|dynamic_type|type_find|tracer)_register$|^gst_plugin_register_static/,
    what: "GStreamer's plugin registry",
    second: "the names are taken by the old generation's factories, whose code is unmapped once it is closed",
  },
  {
    soname: /^libgio-2\.0\.so/,
    registers: /^g_io_extension_point_(register|implement)$/,
    what: "GIO's extension points",
    second: "the extension point keeps the old generation's implementation, unmapped once it is closed",
  },
];

/**
 * The images loaded anew with every generation (the library and its private dependencies) that
 * register in a registry every generation shares (a system or shared dependency). fresh-namespace
 * loads the registry anew with each generation too, so it is the mode that works.
 */
export function registryHazards(info: ElfInfo, closure: Closure): Hazard[] {
  const registrants = [{ name: null as string | null, info }, ...closure.deps.filter((d) => d.kind === 'private').map((d) => ({ name: d.needed, info: d.info }))];
  const found: { registry: Registry; dep: string; symbols: string[]; by: string[] }[] = [];
  for (const dep of closure.deps) {
    if (dep.kind === 'private') continue;
    const soname = dep.info.soname ?? dep.needed;
    const registry = REGISTRIES.find((r) => r.soname.test(soname));
    if (!registry) continue;
    const symbols = new Set<string>();
    const by: string[] = [];
    for (const r of registrants) {
      if (registry.pointsIntoImage && r.info.nodelete) continue;
      const hit = r.info.imports.filter((s) => registry.registers.test(s) && dep.exports.has(s));
      if (!hit.length) continue;
      hit.forEach((s) => symbols.add(s));
      by.push(r.name ?? 'the library');
    }
    if (symbols.size) found.push({ registry, dep: dep.needed, symbols: [...symbols], by });
  }
  if (!found.length) return [];
  const each = found.map(
    (f) => `${f.registry.what} in ${f.dep} (${f.by.join(', ')}: ${list(f.symbols, 3)}), where a second registration of the same names means ${f.registry.second}`,
  );
  return [
    {
      id: 'shared-registry',
      severity: 'error',
      message: `registers in a process-wide registry of a dependency that every generation shares in local, deepbind and namespace: ${each.join('; ')}. A second generation (a reload, or an open after a close while the dependency stays loaded) registers again. Use fresh-namespace, which gives each generation its own copy of the registry (each reload then takes a namespace of the process's budget, docs/isolation.md), or open it once and do not reload it.`,
      symbols: found.flatMap((f) => f.symbols),
      affects: ['local', 'deepbind', 'namespace'],
      from: found.map((f) => f.dep),
    },
  ];
}
