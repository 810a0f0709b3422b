/**
 * The watched file as the watcher sees it while a build writes it: its state (what must hold still)
 * and its bytes, read without ever blocking on what is not a regular file.
 */
import fs from 'node:fs';
import { DlswapError } from '../errors';

export interface FileState {
  /** inode, type, size and mtime in ns: what must hold still while a build settles. */
  sig: string;
  size: number;
  mtimeMs: number;
  /** A regular file (not a FIFO, device, socket or directory: those are refused as 'unreadable'). */
  regular: boolean;
}

export function stateOf(st: fs.BigIntStats): FileState {
  const regular = st.isFile();
  return { sig: `${st.ino}:${regular ? 'f' : 'x'}:${st.size}:${st.mtimeNs}`, size: Number(st.size), mtimeMs: Number(st.mtimeMs), regular };
}

function fileKind(st: fs.BigIntStats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/**
 * Reads a regular file whole, through one fd. Opened with O_NONBLOCK, so that a FIFO (or a device)
 * at the path cannot block: a FIFO opened for reading without it waits for a writer, forever, in a
 * thread-pool thread that even process.exit() then waits for. Anything but a regular file is
 * refused; the read is bounded by the size fstat gave (a file that grows meanwhile is caught by the
 * stat that follows the read).
 */
export async function readRegularFile(file: string): Promise<Buffer> {
  const { O_RDONLY, O_NONBLOCK, O_NOCTTY } = fs.constants;
  const fh = await fs.promises.open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) {
      throw new DlswapError(
        'ERR_DLSWAP_NOT_A_FILE',
        `${file} is ${fileKind(st)}, not a regular file: the watcher loads only a library file written at this path. The current generation keeps serving; the next real build is picked up.`,
      );
    }
    const size = Number(st.size);
    const bytes = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(bytes, off, size - off, off);
      if (bytesRead === 0) break; // shrank: the stat after the read sees it and the file is looked at again
      off += bytesRead;
    }
    return bytes.subarray(0, off);
  } finally {
    await fh.close();
  }
}

export function accessDenied(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}

export function missing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
