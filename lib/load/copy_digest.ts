/**
 * The sha256 of a loaded library (`info.sha256`) when its load did not take it: a HotLibrary
 * generation that nothing reads the digest of is copied without one (hashing is most of the copy
 * step of a small plugin). The loader copies such a file by the kernel and, whenever it rewrites the
 * copy (private dependencies renamed, origin imports redirected), takes the digest first; so a copy
 * without a digest holds exactly the bytes that were copied, and its file stays in the private
 * directory as long as it is mapped (native/loader/private_area.h). Taken from there, once, on
 * first read.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DlswapError } from '../errors';

/** A getter of the digest of `mappedPath` (the image's copy): taken on the first call, then kept. */
export function lazyCopyDigest(mappedPath: string, label: string): () => string {
  let digest: string | undefined;
  return () => {
    if (digest !== undefined) return digest;
    let bytes: Buffer;
    try {
      bytes = readFileSync(mappedPath);
    } catch (e) {
      throw new DlswapError(
        'ERR_DLSWAP_CLOSED',
        `the sha256 of ${label} was not taken when it was loaded, and its copy is gone now that it is closed (${(e as Error).message}). Read info.sha256 while the library is open, or pin the load with { sha256 }.`,
      );
    }
    digest = createHash('sha256').update(bytes).digest('hex');
    return digest;
  };
}
