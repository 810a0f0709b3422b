/**
 * Process-wide registries that libraries keep in a shared dependency (issue 22, H5): the one list
 * of them. A library that registers names (flags, types, solvers, descriptors) in such a registry
 * registers them again with each new generation, in a registry that still holds the old
 * generation's: gflags calls exit(1) inside the load, GObject refuses the type and the library
 * hangs, FFTW's planner keeps solvers whose code was unmapped.
 *
 * What dlswap does with them (docs/isolation.md, "Process-wide registries"): in the modes where
 * generations share system libraries (local, deepbind, namespace), a system dependency that holds
 * one of these registries, when the library or a private dependency registers in it, is copied per
 * generation like a private dependency, and so is every system dependency that needs it; a
 * registry that keeps pointers into the registrant's image (`pointsIntoImage`) is not copied, and
 * the registrant is kept mapped instead. The loader finds them in the plan
 * (native/loader/registry_plan.h); inspect reports them (lib/analysis/hazards_registry.ts).
 *
 * Patterns: `*` stands for any run of characters, everything else is literal.
 */

export interface ProcessRegistry {
  /** The registry's library: DT_NEEDED names or SONAMEs. */
  sonames: readonly string[];
  /** Imports from it that register something. */
  registers: readonly string[];
  /** What it is, in words. */
  what: string;
  /** What a second registration of the same names does when the registry is shared. */
  second: string;
  /**
   * The registry keeps pointers into the registrant's image (strings, data), not copies: harmless
   * while that image is never unmapped, so the registrant is kept mapped rather than the registry
   * copied (a copy of libglib per generation would take GLib's main loop and worker thread with it).
   */
  pointsIntoImage?: boolean;
}

// What was measured (gflags, GObject, FFTW) or is documented by the registry itself.
export const PROCESS_REGISTRIES: readonly ProcessRegistry[] = Object.freeze([
  {
    sonames: ['libgflags.so*', 'libgflags_nothreads.so*'],
    registers: ['_ZN6google14FlagRegisterer*', '_ZN6gflags14FlagRegisterer*'],
    what: "gflags' flag registry",
    second: 'gflags prints "... linked both statically and dynamically" and calls exit(1) from the new generation\'s constructor, inside the load',
  },
  {
    sonames: ['libgobject-2.0.so*'],
    registers: [
      'g_type_register_static',
      'g_type_register_static_simple',
      'g_type_register_dynamic',
      'g_type_register_fundamental',
      'g_boxed_type_register_static',
      'g_pointer_type_register_static',
      'g_param_type_register_static',
      'g_enum_register_static',
      'g_flags_register_static',
      'g_type_add_interface_static',
      'g_type_add_interface_dynamic',
    ],
    what: "GObject's type system",
    second: 'GObject refuses it ("cannot register existing type") and the generation goes on with an invalid type: a hang or a crash',
  },
  {
    sonames: ['libglib-2.0.so*'],
    registers: ['g_quark_from_static_string', 'g_intern_static_string'],
    what: "GLib's quark table",
    second:
      "the table keeps pointers to strings in the generation's image: once that is unmapped, the next lookup of an equal string reads unmapped memory (SIGSEGV)",
    pointsIntoImage: true,
  },
  {
    sonames: ['libfftw3.so*', 'libfftw3f.so*', 'libfftw3l.so*', 'libfftw3q.so*'],
    registers: ['fftw*_solver_register', 'fftw*_mksolver_ct_hook', 'fftw*_mksolver_hc2hc_hook', 'fftw*_threads_register_planner_hooks'],
    what: "FFTW's planner (the threads and OpenMP libraries register their solvers and hooks there)",
    second:
      "the planner keeps the old generation's solvers and hooks, which point into its unmapped image (measured: SIGSEGV at the next plan), and the old generation's cleanup resets the new one's thread count",
  },
  {
    sonames: ['libprotobuf.so*', 'libprotobuf-lite.so*'],
    registers: ['*AddDescriptors*', '*InternalAddGeneratedFile*', '*InternalRegisterGeneratedFile*'],
    what: "protobuf's generated descriptor pool",
    second: 'protobuf reports "File already exists in database" and aborts',
  },
  {
    sonames: ['libLLVM*'],
    registers: ['_ZN4llvm2cl6Option11addArgumentEv'],
    what: "LLVM's command-line option registry",
    second: 'LLVM reports "Option ... registered more than once!" and exits',
  },
  {
    sonames: ['libQt5Core.so*', 'libQt6Core.so*'],
    registers: ['*qRegisterResourceData*', '*qRegisterStaticPluginFunction*', '_ZN9QMetaType*egister*'],
    what: "Qt's resource, plugin and meta-type registries",
    second: "the names are taken by entries that point into the old generation's image, unmapped once it is closed",
  },
  {
    sonames: ['libicuuc.so*'],
    registers: ['udata_setCommonData*', 'udata_setAppData*'],
    what: "ICU's data registry",
    second: "ICU keeps reading the data of the old generation's image, unmapped once it is closed",
    pointsIntoImage: true,
  },
  {
    sonames: ['libgstreamer-1.0.so*'],
    registers: [
      'gst_element_register',
      'gst_device_provider_register',
      'gst_dynamic_type_register',
      'gst_type_find_register',
      'gst_tracer_register',
      'gst_plugin_register_static*',
    ],
    what: "GStreamer's plugin registry",
    second: "the names are taken by the old generation's factories, whose code is unmapped once it is closed",
  },
  {
    sonames: ['libgio-2.0.so*'],
    registers: ['g_io_extension_point_register', 'g_io_extension_point_implement'],
    what: "GIO's extension points",
    second: "the extension point keeps the old generation's implementation, unmapped once it is closed",
  },
] satisfies ProcessRegistry[]);

/** `*` for any run of characters (the loader's GlobMatch, native/loader/registry_plan.cc). */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The registry `name` (a DT_NEEDED name or SONAME) holds, if any. */
export function registryOf(name: string): ProcessRegistry | undefined {
  return PROCESS_REGISTRIES.find((r) => r.sonames.some((p) => globMatch(p, name)));
}

/** The imports of `imports` that register in `registry`. */
export function registrations(registry: ProcessRegistry, imports: readonly string[]): string[] {
  return imports.filter((s) => registry.registers.some((p) => globMatch(p, s)));
}

/** The loader's form of the list (native/loader/dependency_plan.h RegistryRule). */
export interface RegistryRuleWire {
  what: string;
  sonames: string[];
  registers: string[];
  pointsIntoImage: boolean;
}

let wire: readonly RegistryRuleWire[] | undefined;

/**
 * What a load hands the loader: every registry, in the loader's form. Made once and frozen through:
 * the loader parses a frozen array it was given before only once (native/loader/jobs_js.cc).
 */
export function registryRules(): readonly RegistryRuleWire[] {
  wire ??= Object.freeze(
    PROCESS_REGISTRIES.map((r) =>
      Object.freeze({
        what: r.what,
        sonames: Object.freeze([...r.sonames]) as string[],
        registers: Object.freeze([...r.registers]) as string[],
        pointsIntoImage: r.pointsIntoImage === true,
      }),
    ),
  );
  return wire;
}
