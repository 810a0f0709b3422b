/**
 * What a successful load's answer leaves on the native side until it is read: the ELF summary
 * (`elf`) and the dependency plan (`dependencies`). The answer carries what the swap and the report
 * read at once (the image, its name, build-id, version, ...) and a holder of the rest
 * (native/loader/jobs_js.cc); the two fields are made from the holder on their first read, once, and
 * read the same as if the answer had carried them. A reload of a small plugin reads neither before it
 * serves.
 */
import { addon, type LoadResult } from '../native';

/** Gives a successful answer its `elf` and `dependencies`, made on first read (once: again, it does nothing). Returns `r`. */
export function withLoadDetails(r: LoadResult): LoadResult {
  const holder = r.details;
  if (!r.ok || holder === undefined || Object.hasOwn(r, 'elf')) return r;
  let read: Pick<LoadResult, 'elf' | 'dependencies'> | undefined;
  const details = () => (read ??= addon.loadDetails(holder));
  Object.defineProperties(r, {
    elf: { get: () => details().elf, enumerable: true, configurable: true },
    dependencies: { get: () => details().dependencies, enumerable: true, configurable: true },
  });
  return r;
}
