/*
 * The built-in directory lister: vsftpd's ls.c, with the argument handling
 * of postlogin.c handle_dir_common() and the recursion of ftpdataio.c
 * transfer_dir_internal(). Nothing is ever exec'd: listings are built from
 * readdir() and lstat() in the jailed session worker.
 *
 * Byte for byte as Debian's vsftpd 3.0.3 (the reference binary; the cases
 * are in test/e2e/listing.test.ts and test/ls.test.ts):
 *
 * - Argument: options only first ("-la dir", not "dir -la"), up to the first
 *   space; letters a l r t F R are looked for anywhere in them (R only with
 *   ls_recurse_enable), others are ignored. The rest is the path, untrimmed.
 *   "~" and "~/x" are the login directory. A path that opens as a directory
 *   is listed; otherwise its last component is a filter (glob.ts) on its
 *   parent ("." when it has no '/'), so "LIST file" lists the entries of
 *   "." that pass the filter "file".
 * - Debian's filter quirk: the filter is not matched against the entry's
 *   name but against the last component of realpath(name), resolved from
 *   the session's current directory - whatever directory is listed - and
 *   cwd + "/" + name when that fails. So "LIST hello.txt" also shows a
 *   symlink "link -> hello.txt", "LIST link" shows nothing, and a filter
 *   starting with '{' sees the whole path (see debianNameView()).
 * - Dot files only with -a (which adds "." and "..") or force_dot_files
 *   (which does not), or when the filter starts with '.'.
 * - Sorted by name (bytes, as memcmp), or with -t by modification second,
 *   newest first, ties in readdir order; -r reverses either. (Deviation:
 *   Node's readdir hides "." and "..", so with -a they come first among
 *   entries of the same second instead of where the file system has them.)
 * - Long lines: perms, links (4, right), owner (8, left), group (8, left),
 *   size (8, right), date, name, " -> target" for symlinks; fields widen
 *   as needed. Dates "Mon dd HH:MM", or "Mon dd  YYYY" when more than 182
 *   days old or in the future; GMT unless use_localtime. Owner and group
 *   are numeric ("ftp" with hide_ids; names with text_userdb_names).
 * - -F: '/' after directories (LIST), '/' and '@' for symlinks (NLST).
 * - NLST prints names prefixed with the listed directory when one was
 *   given ("sub/a.txt"); LIST never does.
 * - -R: "dir:" before each directory, a blank line between directories,
 *   subdirectories (not symlinks to them) in listing order, the same
 *   filter everywhere, unreadable subdirectories skipped silently.
 *
 * Large directories: only the names are held (one-byte strings, the raw
 * bytes of each name; read and sorted by name in one call on the thread
 * pool, lsstat.ts), filtered (with glob.ts's ListingBudget), then
 * lstat()ed a chunk at a time on the thread pool, two chunks ahead of the
 * one being formatted and sent. For the data connection with UTC dates and
 * numeric or hidden ids the addon formats the long lines along with the
 * lstat()s (native/listing.c, byte for byte as lsformat.ts, which formats
 * them otherwise). The event loop runs between chunks (ABOR and STAT can be
 * handled) and a chunk waits while the socket still holds too much of the
 * previous ones. -t needs every entry's time first: a first pass keeps one
 * number per name.
 *
 * Names are byte strings throughout (Buffer latin1 decoding: one character
 * per byte), so any file name - valid UTF-8 or not - is listed and sorted
 * exactly as vsftpd does, and turned back into the same bytes for the
 * file system calls and the data connection.
 */

import * as fs from 'node:fs';
import type { Config } from '../config/options';
import { filterMatch, ListingBudget, type NameView } from './glob';
import { LongLineFormatter } from './lsformat';
import { DirEntries, exactSize, F_GID, F_MODE, F_MTIME, F_NLINK, F_SIZE, F_UID, fsPath, LSTAT_FIELDS } from './lsstat';

export { fsPath, lstatQuiet } from './lsstat';

/** Entries handled per batch by MLSD (mlsx.ts): stat()ed, formatted and written together. */
export const BATCH_ENTRIES = 256;
/**
 * Entries per chunk of a LIST/NLST/STAT listing: lstat()ed in one native
 * call, formatted and written together (about 75 KiB of long lines).
 */
const LIST_CHUNK = 1024;
/** A filter that has taken this long yields to the event loop (crafted patterns). */
const BATCH_MILLISECONDS = 20;
/** Names read from the directory between two turns of the event loop. */
const READ_CHUNK = 2048;
/** Resolved names remembered by the filter's view during one listing. */
const VIEW_CACHE_MAX = 4096;

// ---------------------------------------------------------------------------
// bytes

/** A string as the byte string the file system sees (UTF-8 bytes, one per character). */
export function toByteString(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** A byte string as text (for the control channel, which writes UTF-8). */
export function byteStringToText(b: string): string {
  return Buffer.from(b, 'latin1').toString('utf8');
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function readlinkQuiet(pathBytes: string): string | null {
  try {
    return fs.readlinkSync(fsPath(pathBytes), { encoding: 'latin1' });
  } catch {
    return null;
  }
}

function isDirMode(mode: number): boolean {
  return (mode & fs.constants.S_IFMT) === fs.constants.S_IFDIR;
}

function isLinkMode(mode: number): boolean {
  return (mode & fs.constants.S_IFMT) === fs.constants.S_IFLNK;
}

// ---------------------------------------------------------------------------
// the argument

export interface LsOptions {
  readonly all: boolean;
  readonly long: boolean;
  readonly reverse: boolean;
  readonly byTime: boolean;
  readonly classify: boolean;
  readonly recurse: boolean;
}

/** vsftpd's reading of the option letters (postlogin.c, ls.c, ftpdataio.c). */
export function lsOptions(letters: string, cfg: Config, verbose: boolean): LsOptions {
  return {
    all: letters.includes('a'),
    long: verbose || letters.includes('l'),
    reverse: letters.includes('r'),
    byTime: letters.includes('t'),
    classify: letters.includes('F'),
    recurse: letters.includes('R') && cfg.ls_recurse_enable,
  };
}

/** "-la dir" → letters "la", path "dir"; anything not starting with '-' is all path. */
export function splitLsArgument(arg: string | null): { letters: string; path: string } {
  const a = arg ?? '';
  if (!a.startsWith('-')) return { letters: '', path: a };
  const sp = a.indexOf(' ');
  return sp === -1 ? { letters: a.slice(1), path: '' } : { letters: a.slice(1, sp), path: a.slice(sp + 1) };
}

/** What handle_dir_common() decided: the directory to read and the filter. */
export interface LsTarget {
  /** The directory, as a byte string ("." by default); listed names are relative to it. */
  readonly dir: string;
  /** Open handle, or null when the directory could not be opened. */
  readonly handle: fs.Dir | null;
  /** Filter on the last component (byte string), '' for none. */
  readonly filter: string;
}

/**
 * opendir() whose entries come as byte strings: 'latin1' turns each byte
 * of a name into one character (no Buffer per name, and any bytes survive).
 */
export function openDirBytes(pathBytes: string): fs.Dir {
  return fs.opendirSync(fsPath(pathBytes), { encoding: 'latin1', bufferSize: 1024 });
}

function openDirQuiet(pathBytes: string): fs.Dir | null {
  try {
    return openDirBytes(pathBytes);
  } catch {
    return null;
  }
}

/**
 * vsftpd's choice of directory and filter for a path argument (a byte
 * string, "~" already expanded): the path itself when it opens as a
 * directory, else its parent with the last component as the filter.
 */
export function openLsTarget(pathBytes: string): LsTarget {
  if (pathBytes === '') return { dir: '.', handle: openDirQuiet('.'), filter: '' };
  const direct = openDirQuiet(pathBytes);
  if (direct !== null) return { dir: pathBytes, handle: direct, filter: '' };
  const slash = pathBytes.lastIndexOf('/');
  if (slash === -1) return { dir: '.', handle: openDirQuiet('.'), filter: pathBytes };
  // "ls /.message": the only slash was the leading one.
  const dir = slash === 0 ? '/' : pathBytes.slice(0, slash);
  return { dir, handle: openDirQuiet(dir), filter: pathBytes.slice(slash + 1) };
}

export function closeDirQuiet(d: fs.Dir | null): void {
  if (d === null) return;
  try {
    d.closeSync();
  } catch {
    // already closed
  }
}

// ---------------------------------------------------------------------------
// the filter's view of a name (Debian)

/**
 * The view of a name Debian's vsftpd 3.0.3 matches filters against
 * (observed: see the file comment): realpath(name) from the current
 * directory, else cwd + "/" + name; the last component of that unless the
 * pattern starts with '{', in which case the whole path; and the whole
 * path again when its last component is empty (so "." at "/" is "/").
 * At most one realpath() per distinct name during a listing (cached);
 * glob.ts bounds how often a name's view is asked for.
 */
export function debianNameView(cwdBytes: string): NameView {
  // Brace alternatives ask for the view of the rest of a name again and
  // again (up to MATCH_ITERATIONS_MAX times per name, mostly the same few
  // suffixes): remember the paths for the length of one listing.
  const cache = new Map<string, string>();
  const resolve = (name: string): string => {
    const known = cache.get(name);
    if (known !== undefined) return known;
    let full = `${cwdBytes}/${name}`;
    const p = fsPath(name);
    try {
      // Most names do not exist relative to the current directory: an
      // lstat() that does not throw for ENOENT spares realpath()'s
      // exception (an Error with a stack trace per name is the main cost).
      if (name !== '' && fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined) {
        full = fs.realpathSync.native(p, { encoding: 'latin1' });
      }
    } catch {
      // ENOTDIR, ELOOP, EACCES...: realpath() fails too
    }
    if (cache.size >= VIEW_CACHE_MAX) cache.clear();
    cache.set(name, full);
    return full;
  };
  return (name, pattern) => {
    const full = resolve(name);
    if (pattern.startsWith('{')) return full;
    const tail = full.slice(full.lastIndexOf('/') + 1);
    return tail === '' ? full : tail;
  };
}

// ---------------------------------------------------------------------------
// the listing engine

/** Where listing lines go (byte strings, the sink adds CRLF). */
export interface LineSink {
  /** Resolves false when the lines could not be delivered (peer gone, ABOR, timeout). */
  send(lines: readonly string[]): Promise<boolean>;
  /**
   * Lines already as bytes, CRLF after each (made by the addon). A sink
   * without it gets every line through send().
   */
  sendBytes?(data: Buffer): Promise<boolean>;
}

/** Read every name of an open directory (readdir order, without "." and ".."), yielding now and then. */
export async function readNames(handle: fs.Dir, keep: (name: string) => boolean): Promise<string[]> {
  const names: string[] = [];
  for (;;) {
    let n = 0;
    let ent: fs.Dirent | null;
    try {
      ent = handle.readSync();
    } catch {
      break; // vsftpd: a readdir() error ends the directory
    }
    while (ent !== null) {
      // openDirBytes() asks for 'latin1': the name is already a byte string.
      const name = ent.name;
      if (keep(name)) names.push(name);
      if (++n >= READ_CHUNK) break;
      try {
        ent = handle.readSync();
      } catch {
        ent = null;
      }
    }
    if (ent === null) break;
    await yieldToEventLoop();
  }
  return names;
}

/** The listed directory with a trailing '/', or '' for "." (vsftpd's normalised base). */
function normaliseBase(dir: string): string {
  if (dir === '.') return '';
  return dir.endsWith('/') ? dir : `${dir}/`;
}

/** Insert `name` into `sorted` (default sort order) where sort() would put it. */
function insertSorted(sorted: string[], name: string): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as string) < name) lo = mid + 1;
    else hi = mid;
  }
  sorted.splice(lo, 0, name);
}

/** vsftpd's mtime sort key compares "%030ld" strings: negatives sort first, -1 before -2. */
function compareMtimeKeys(a: number, b: number): number {
  if (a >= 0 && b >= 0) return a - b;
  if (a < 0 && b < 0) return b - a;
  return a < 0 ? -1 : 1;
}

interface ListContext {
  readonly cfg: Config;
  readonly sink: LineSink;
  readonly letters: string;
  readonly verbose: boolean;
  readonly filter: string;
  /** hide_file (when implemented): true hides the name. */
  readonly hidden: (name: string) => boolean;
  readonly view: NameView;
}

/** How a listing ended: 'failed' when the sink did not take every line. */
export type ListOutcome = 'ok' | 'failed';

/**
 * List one directory (and, with -R, its subdirectories). vsftpd's
 * vsf_ls_populate_dir_list() + transfer_dir_internal(), streamed.
 */
async function listDirectory(ctx: ListContext, handle: fs.Dir, dir: string): Promise<ListOutcome> {
  const base = normaliseBase(dir);
  const entries = DirEntries.open(dir, base, LIST_CHUNK);
  let subdirs: string[] | null;
  try {
    subdirs = await listEntries(ctx, handle, dir, base, entries);
  } finally {
    // before the subdirectories: one descriptor per level of -R is enough
    entries.close();
  }
  if (subdirs === null) return 'failed';
  for (const sub of subdirs) {
    if (sub === '.' || sub === '..') continue;
    const subDir = `${dir}/${sub}`;
    const h = openDirQuiet(subDir);
    if (h === null) continue; // unreadable, gone: no matter (vsftpd)
    try {
      if (!(await ctx.sink.send(['']))) return 'failed';
      if ((await listDirectory(ctx, h, subDir)) === 'failed') return 'failed';
    } finally {
      closeDirQuiet(h);
    }
  }
  return 'ok';
}

/** The lines of one directory; resolves its subdirectories for -R, or null when the sink failed. */
async function listEntries(ctx: ListContext, handle: fs.Dir, dir: string, base: string, entries: DirEntries): Promise<string[] | null> {
  const o = lsOptions(ctx.letters, ctx.cfg, ctx.verbose);
  const reverse = o.byTime ? !o.reverse : o.reverse;
  const doStat = o.long || o.byTime || o.classify || o.recurse;
  // A filter starting with '.' implies -a.
  const all = o.all || ctx.filter.startsWith('.');
  const nowSec = Math.floor(Date.now() / 1000);

  const visible = (name: string): boolean => {
    if (name.startsWith('.')) {
      if (!all && !ctx.cfg.force_dot_files) return false;
      if (!all && (name === '.' || name === '..')) return false;
    }
    return !ctx.hidden(name);
  };

  // The addon sorts by name off the main thread (not for -t, which needs
  // readdir order for its ties).
  const fromAddon = await entries.readNames(visible, !o.byTime);
  const sortedByAddon = fromAddon !== null && !o.byTime;
  let names = fromAddon ?? (await readNames(handle, visible));
  // readdir() reports "." and ".." first on the file systems we know of
  // (Node's readdir hides them, so does readdirAt(): their place among
  // equal -t keys is lost).
  const dots = ['.', '..'].filter(visible);
  if (sortedByAddon) for (const dot of dots) insertSorted(names, dot);
  else names.unshift(...dots);
  if (ctx.filter !== '') {
    const budget = new ListingBudget(names.length);
    const passed: string[] = [];
    let slice = Date.now();
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (filterMatch(ctx.filter, name, ctx.view, budget)) passed.push(name);
      // A crafted pattern can take a fraction of a millisecond per name.
      if ((i & 15) === 15 && Date.now() - slice >= BATCH_MILLISECONDS) {
        await yieldToEventLoop();
        slice = Date.now();
      }
    }
    names = passed;
  }

  const stats = doStat ? entries : null;
  const subdirs: string[] = [];
  let order: string[];
  if (o.byTime && stats !== null) {
    // The key needs a stat of every entry; entries that fail it are not listed.
    const keyed: string[] = [];
    const keys: number[] = [];
    await stats.forEachChunk(names, (start, end, f) => {
      for (let i = start, at = 0; i < end; i++, at += LSTAT_FIELDS) {
        if ((f[at + F_MODE] as number) < 0) continue;
        keyed.push(names[i] as string);
        keys.push(f[at + F_MTIME] as number);
      }
      return true;
    });
    const idx = keyed.map((_, i) => i);
    // Stable (V8's sort is): equal seconds stay in readdir order, as with glibc's qsort.
    idx.sort((a, b) => {
      const c = compareMtimeKeys(keys[a] as number, keys[b] as number);
      return reverse ? -c : c;
    });
    order = idx.map((i) => keyed[i] as string);
    names.length = 0;
  } else {
    // Default sort compares UTF-16 code units: on byte strings, memcmp order
    // (the addon's strcmp order, when it read the names).
    if (!sortedByAddon) names.sort();
    if (reverse) names.reverse();
    order = names;
  }

  if (o.recurse && !(await ctx.sink.send([`${dir}:`]))) return null;

  const fmt = o.long ? new LongLineFormatter(ctx.cfg, nowSec) : null;
  /** The lines of order[start, end); `f`: their lstat numbers (null: not needed, plain NLST). */
  const chunkLines = (start: number, end: number, f: Float64Array | null): string[] => {
    const lines: string[] = [];
    for (let i = start, at = 0; i < end; i++, at += LSTAT_FIELDS) {
      const name = order[i] as string;
      const mode = f === null ? -1 : (f[at + F_MODE] as number);
      if (f !== null && mode < 0) continue; // gone since readdir()
      if (fmt !== null && f !== null) {
        let shown = name;
        if (isLinkMode(mode)) {
          const target = readlinkQuiet(base + name);
          if (target !== null && target !== '') shown += ` -> ${target}`;
        }
        if (o.classify && isDirMode(mode)) shown += '/';
        const size = exactSize(base + name, f[at + F_SIZE] as number);
        lines.push(fmt.line(shown, mode, f[at + F_NLINK] as number, f[at + F_UID] as number, f[at + F_GID] as number, size, f[at + F_MTIME] as number));
      } else {
        let line = base + name;
        if (o.classify && f !== null) {
          if (isDirMode(mode)) line += '/';
          else if (isLinkMode(mode)) line += '@';
        }
        lines.push(line);
      }
      if (o.recurse && f !== null && isDirMode(mode)) subdirs.push(name);
    }
    return lines;
  };
  // The addon formats long lines for the data connection when nothing needs
  // JavaScript: UTC dates (use_localtime needs the zone, which only
  // JavaScript has in the jail) and numeric or hidden ids.
  const sendBytes = ctx.sink.sendBytes?.bind(ctx.sink) ?? null;
  const native =
    o.long && sendBytes !== null && !ctx.cfg.use_localtime && !ctx.cfg.text_userdb_names
      ? { hideIds: ctx.cfg.hide_ids, classify: o.classify, nowSec }
      : null;

  const sendChunk = async (start: number, end: number, f: Float64Array | null, made: Buffer | null = null): Promise<boolean> => {
    if (made !== null && sendBytes !== null) {
      // The addon made the lines; -R still needs the subdirectories.
      if (o.recurse && f !== null) {
        for (let i = start, at = 0; i < end; i++, at += LSTAT_FIELDS) if (isDirMode(f[at + F_MODE] as number)) subdirs.push(order[i] as string);
      }
      return made.length === 0 || sendBytes(made);
    }
    const lines = chunkLines(start, end, f);
    return lines.length === 0 || ctx.sink.send(lines);
  };
  if (stats !== null) {
    if (!(await stats.forEachChunk(order, sendChunk, native))) return null;
  } else {
    for (let start = 0; start < order.length; start += LIST_CHUNK) {
      if (!(await sendChunk(start, Math.min(order.length, start + LIST_CHUNK), null))) return null;
      await yieldToEventLoop();
    }
  }
  order.length = 0;
  return subdirs;
}

export interface ListRequest {
  readonly cfg: Config;
  /** Option letters as given (STAT adds 'a'). */
  readonly letters: string;
  /** LIST and STAT: true; NLST: false (unless -l). */
  readonly verbose: boolean;
  readonly target: LsTarget;
  readonly sink: LineSink;
  /** The session's current directory as a byte string (for the filter's view). */
  readonly cwdBytes: string;
  /** hide_file: names never listed (access.ts). */
  readonly hidden?: (name: string) => boolean;
}

/** Stream the listing of an opened target into the sink. The caller closes the handle. */
export async function runListing(req: ListRequest): Promise<ListOutcome> {
  const handle = req.target.handle;
  if (handle === null) return 'ok';
  return listDirectory(
    {
      cfg: req.cfg,
      sink: req.sink,
      letters: req.letters,
      verbose: req.verbose,
      filter: req.target.filter,
      hidden: req.hidden ?? (() => false),
      view: debianNameView(req.cwdBytes),
    },
    handle,
    req.target.dir,
  );
}
