/*
 * readdir() and lstat() of a listing's entries (ls.ts) on libuv's thread
 * pool through the addon (native/listing.c): readdirAt() gives every name
 * in one Buffer (no Dirent object per entry), lstatAt() a chunk of entries'
 * numbers per call (no fs.Stats object per entry) and, for most long
 * listings, their lines; the next chunks are being read while the current
 * one is sent.
 *
 * Path semantics are the ones ls.ts always had: the listed directory is
 * opened with the same path bytes it was opendir()ed with (relative to the
 * session's current directory, inside its jail), and each entry is looked
 * up in it by its name as readdir() gave it, without following a final
 * symbolic link - lstat(dir + "/" + name). When the directory cannot be
 * opened a second time (removed since, out of descriptors), the names come
 * from the fs.Dir handle ls.ts opened and each entry is lstat()ed by path
 * from JavaScript, as before.
 */

import * as fs from 'node:fs';
import { LSTAT_FIELDS, lstatAt, readdirAt, type LstatFormat } from '../sys/native';
import type { LineStat } from './lsformat';

export { LSTAT_FIELDS, type LstatFormat };

/**
 * Chunks lstat()ed ahead of the one being sent: two pool threads at work
 * (libuv has four), while the main thread sends.
 */
const AHEAD = 2;

/** What a consumed chunk leaves in forEachChunk()'s list. */
const SETTLED: Promise<null> = Promise.resolve(null);

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

/**
 * Called for each chunk in order with its entries' numbers (mode -1: lstat
 * failed) and, when asked for and the addon could make them, their long
 * lines (CRLF-terminated bytes); false stops.
 */
export type ChunkHandler = (start: number, end: number, fields: Float64Array, lines: Buffer | null) => Promise<boolean> | boolean;

/** The entries of one listed directory: read at once, lstat()ed a chunk at a time. */
export class DirEntries {
  /** Chunks' numbers: AHEAD being filled while one is read. */
  private readonly buffers: readonly Float64Array[];

  private constructor(
    private readonly base: string,
    private fd: number,
    private readonly chunk: number,
  ) {
    this.buffers = Array.from({ length: AHEAD + 1 }, () => new Float64Array(chunk * LSTAT_FIELDS));
  }

  /**
   * `dirBytes`: the directory as it was opened for readdir(); `base`: the
   * prefix that makes an entry's name its path ('' for ".", else ending in
   * '/'); `chunk`: entries per lstatAt() call.
   */
  static open(dirBytes: string, base: string, chunk: number): DirEntries {
    let fd = -1;
    try {
      fd = fs.openSync(fsPath(dirBytes), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch {
      // lstat by path instead (fillByPath)
    }
    return new DirEntries(base, fd, chunk);
  }

  /**
   * The names `keep` accepts (byte strings, without "." and ".."), in
   * readdir order or, with `sorted`, in byte order (as names.sort() would
   * leave them); null when they must be read another way (no descriptor,
   * or the addon could not read the directory).
   */
  async readNames(keep: (name: string) => boolean, sorted: boolean): Promise<string[] | null> {
    if (this.fd < 0) return null;
    let raw: Buffer;
    try {
      raw = await readdirAt(this.fd, sorted);
    } catch {
      return null;
    }
    if (raw.length === 0) return [];
    // One string for all names (latin1: one character per byte), cut at the
    // NULs that end them; the last NUL leaves an empty string behind.
    const all = raw.toString('latin1').split('\0');
    all.pop();
    return all.filter(keep);
  }

  /**
   * Call `each` for every chunk of names, in order, with their numbers
   * (and their long lines made by the addon, with `format`); the next
   * chunks' lstat()s run on the thread pool meanwhile (AHEAD of them, on as
   * many pool threads). Resolves false when `each` did; nothing is left
   * running either way.
   */
  async forEachChunk(names: readonly string[], each: ChunkHandler, format: LstatFormat | null = null): Promise<boolean> {
    const n = names.length;
    const chunks = Math.ceil(n / this.chunk);
    /** Chunk k's lines (or null), filled into buffers[k % buffers.length]. */
    const pending: Array<Promise<Buffer | null>> = [];
    const start = (k: number): void => {
      const from = k * this.chunk;
      pending.push(this.fill(names, from, Math.min(n, from + this.chunk), this.buffers[k % this.buffers.length] as Float64Array, format));
    };
    let k = 0;
    try {
      for (; k < Math.min(chunks, AHEAD); k++) start(k);
      for (let c = 0; c < chunks; c++) {
        const lines = await (pending[c] as Promise<Buffer | null>);
        // Let chunk c's lines go once sent (a 100,000-entry listing would
        // otherwise hold all of them till the end).
        pending[c] = SETTLED;
        // Chunk c's buffer is read by `each` below; c + AHEAD uses another one.
        if (k < chunks) start(k++);
        const from = c * this.chunk;
        if (!(await each(from, Math.min(n, from + this.chunk), this.buffers[c % this.buffers.length] as Float64Array, lines))) return false;
      }
      return true;
    } finally {
      // Chunks still being filled write into our buffers with our fd: wait
      // for them before either is let go (close()).
      await Promise.allSettled(pending);
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

  private async fill(names: readonly string[], start: number, end: number, out: Float64Array, format: LstatFormat | null): Promise<Buffer | null> {
    if (this.fd >= 0) {
      // join() is one builtin call, not a string per name.
      const joined = `${names.slice(start, end).join('\0')}\0`;
      try {
        return await lstatAt(this.fd, Buffer.from(joined, 'latin1'), end - start, out, format);
      } catch {
        // the addon refused (cannot happen with names from readdir()): by path
      }
    }
    this.fillByPath(names, start, end, out);
    return null;
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
