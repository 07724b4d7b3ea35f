/*
 * lstat() of a listing's entries (ls.ts), a chunk at a time, on libuv's
 * thread pool through the addon's lstatAt() (native/listing.c): one call
 * per chunk instead of one fs.Stats object per entry, and the next chunk
 * is being read while the current one is formatted and sent.
 *
 * Path semantics are the ones ls.ts always had: the listed directory is
 * opened with the same path bytes it was opendir()ed with (relative to the
 * session's current directory, inside its jail), and each entry is looked
 * up in it by its name as readdir() gave it, without following a final
 * symbolic link - lstat(dir + "/" + name). When the directory cannot be
 * opened a second time (removed since, out of descriptors), each entry is
 * lstat()ed by path from JavaScript, as before.
 */

import * as fs from 'node:fs';
import { LSTAT_FIELDS, lstatAt } from '../sys/native';
import type { LineStat } from './lsformat';

export { LSTAT_FIELDS };

/** Offsets of an entry's numbers in a chunk's Float64Array. */
export const F_MODE = 0;
export const F_NLINK = 1;
export const F_UID = 2;
export const F_GID = 3;
export const F_SIZE = 4;
export const F_MTIME = 5;

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A byte string as a path argument for fs: the same string when it is
 * ASCII (fs encodes it as UTF-8, the same bytes; cheaper than a Buffer),
 * else a Buffer of its bytes.
 */
export function fsPath(b: string): string | Buffer {
  return NON_ASCII.test(b) ? Buffer.from(b, 'latin1') : b;
}

/** The whole seconds of a modification time (st_mtime; floor for times before 1970). */
export function mtimeSeconds(st: fs.Stats): number {
  return Math.floor(st.mtimeMs / 1000);
}

/** lstat without throwing; sizes beyond 2^53 are read again as bigint. */
export function lstatQuiet(pathBytes: string): LineStat | null {
  const p = fsPath(pathBytes);
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (st === undefined) return null;
  return { mode: st.mode, nlink: st.nlink, uid: st.uid, gid: st.gid, size: exactSize(pathBytes, st.size), mtimeSec: mtimeSeconds(st) };
}

/** A size as lstat gave it, read again as bigint when beyond 2^53 (a double is not exact there). */
export function exactSize(pathBytes: string, size: number): number | bigint {
  if (size <= Number.MAX_SAFE_INTEGER) return size;
  try {
    return fs.lstatSync(fsPath(pathBytes), { bigint: true }).size;
  } catch {
    return size; // keep the approximation
  }
}

/** Called for each chunk in order with its entries' numbers (mode -1: lstat failed); false stops. */
export type ChunkHandler = (start: number, end: number, fields: Float64Array) => Promise<boolean> | boolean;

/** The entries of one listed directory, lstat()ed a chunk at a time. */
export class EntryStats {
  /** Two chunks' numbers: one being filled while the other is read. */
  private readonly buffers: readonly [Float64Array, Float64Array];

  private constructor(
    private readonly base: string,
    private fd: number,
    private readonly chunk: number,
  ) {
    this.buffers = [new Float64Array(chunk * LSTAT_FIELDS), new Float64Array(chunk * LSTAT_FIELDS)];
  }

  /**
   * `dirBytes`: the directory as it was opened for readdir(); `base`: the
   * prefix that makes an entry's name its path ('' for ".", else ending in
   * '/'); `chunk`: entries per lstatAt() call.
   */
  static open(dirBytes: string, base: string, chunk: number): EntryStats {
    let fd = -1;
    try {
      fd = fs.openSync(fsPath(dirBytes), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch {
      // lstat by path instead (fillByPath)
    }
    return new EntryStats(base, fd, chunk);
  }

  /**
   * Call `each` for every chunk of names, in order, with their numbers;
   * the next chunk's lstat()s run on the thread pool meanwhile. Resolves
   * false when `each` did; nothing is left running either way.
   */
  async forEachChunk(names: readonly string[], each: ChunkHandler): Promise<boolean> {
    const n = names.length;
    let [cur, other] = this.buffers;
    let next: Promise<void> | null = n > 0 ? this.fill(names, 0, Math.min(n, this.chunk), cur) : null;
    try {
      for (let start = 0; start < n; start += this.chunk) {
        const end = Math.min(n, start + this.chunk);
        await next;
        next = end < n ? this.fill(names, end, Math.min(n, end + this.chunk), other) : null;
        if (!(await each(start, end, cur))) return false;
        [cur, other] = [other, cur];
      }
      return true;
    } finally {
      // A chunk still being filled writes into our buffer with our fd: wait
      // for it before either is let go (close()).
      if (next !== null) await next.catch(() => undefined);
    }
  }

  /** Close the directory descriptor (after forEachChunk() has settled). */
  close(): void {
    if (this.fd < 0) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = -1;
  }

  private async fill(names: readonly string[], start: number, end: number, out: Float64Array): Promise<void> {
    if (this.fd >= 0) {
      let joined = '';
      for (let i = start; i < end; i++) joined += `${names[i] as string}\0`;
      try {
        await lstatAt(this.fd, Buffer.from(joined, 'latin1'), end - start, out);
        return;
      } catch {
        // the addon refused (cannot happen with names from readdir()): by path
      }
    }
    this.fillByPath(names, start, end, out);
  }

  private fillByPath(names: readonly string[], start: number, end: number, out: Float64Array): void {
    for (let i = start; i < end; i++) {
      const st = lstatQuiet(this.base + (names[i] as string));
      const o = (i - start) * LSTAT_FIELDS;
      if (st === null) {
        out.fill(0, o, o + LSTAT_FIELDS);
        out[o + F_MODE] = -1;
        continue;
      }
      out[o + F_MODE] = st.mode;
      out[o + F_NLINK] = st.nlink;
      out[o + F_UID] = st.uid;
      out[o + F_GID] = st.gid;
      out[o + F_SIZE] = Number(st.size);
      out[o + F_MTIME] = st.mtimeSec;
    }
  }
}
