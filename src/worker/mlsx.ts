/*
 * Machine listings, RFC 3659 §7: MLST (one object, on the control channel)
 * and MLSD (a directory's entries, on the data connection). vsftpd 3.0.3
 * has neither; the choices here follow the RFC and common servers:
 *
 * - Facts, in FEAT order, only those selected with OPTS MLST
 *   (session.mlstFacts): "fact=value;" each, then one space and the name.
 * - type: file, dir, and for MLSD "cdir" for the listed directory (named
 *   ".") and "pdir" for its parent (".."), as in the RFC's own example and
 *   ProFTPD; §7.5.1 keeps cdir/pdir out of MLST, which says dir. Other
 *   objects are OS.unix=fifo, socket, chr, blk; a symlink is described by
 *   its target (stat), and a dangling one as OS.unix=symlink.
 * - size: octets, for everything but directories (§7.5.7).
 * - modify: YYYYMMDDHHMMSS, always UTC (§2.3), whole seconds.
 * - perm (§7.5.5): what this session may do, from the mode bits against the
 *   process's own uid, gid and groups, and the command gates of this
 *   configuration (write_enable and friends, download_enable,
 *   dirlist_enable, anon_world_readable_only):
 *     files: r RETR, w STOR (replacing it), a APPE, d DELE, f RNFR
 *     dirs:  e CWD, l LIST/NLST/MLSD, c STOR/STOU in it, m MKD in it,
 *            p DELE/RMD in it, d RMD, f RNFR
 *   d and f need write and search permission on the parent directory, and
 *   with its sticky bit, to own the entry or the directory.
 * - unix.mode: octal with the special bits, e.g. 0644, 4755, 1777.
 * - unix.owner, unix.group: numeric ids; "ftp" with hide_ids (as LIST).
 * - MLSD lists dot files (there is no -a: a machine listing is complete)
 *   and never globs; the argument is a plain path.
 *
 * Replies (vsftpd's wording where it has one):
 *   MLSD   150 Here comes the directory listing. / 226 Directory send OK.
 *          501 Not a directory.           the path is not a directory (§7)
 *          550 Could not list directory.  missing, unreadable, or not
 *                                         world-readable for anonymous
 *          426 Failure writing network stream.  data connection lost/ABOR
 *   MLST   250-Listing PATH / " facts; PATH" / 250 End
 *          550 Could not get file status.  stat() failed
 */

import * as fs from 'node:fs';
import { groupName, userName } from './idnames';
import type { Config } from '../config/options';
import { BATCH_ENTRIES, fsPath, openDirBytes, readNames, yieldToEventLoop, type LineSink } from './ls';

/** Who is asking, and what this configuration lets them do. */
export interface MlsxIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly groups: ReadonlySet<number>;
  readonly anonymous: boolean;
  readonly cfg: Config;
  /** The session's command gates (session.ts GATES) for the perm fact. */
  readonly gates: {
    readonly download: boolean;
    readonly upload: boolean;
    readonly mkdir: boolean;
    readonly otherWrite: boolean;
    readonly dirlist: boolean;
  };
}

/** The process's own credentials (the session user's, inside the jail). */
export function processCredentials(): { uid: number; gid: number; groups: Set<number> } {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  const gid = typeof process.getgid === 'function' ? process.getgid() : -1;
  const groups = new Set<number>(typeof process.getgroups === 'function' ? process.getgroups() : []);
  groups.add(gid);
  return { uid, gid, groups };
}

interface ObjStat {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number | bigint;
  readonly mtimeMs: number;
}

/** The sticky bit (not in @types/node's fs.constants). */
const S_ISVTX = 0o1000;
const R = 4;
const W = 2;
const X = 1;

function fileType(mode: number): number {
  return mode & fs.constants.S_IFMT;
}

function isDir(st: ObjStat): boolean {
  return fileType(st.mode) === fs.constants.S_IFDIR;
}

/** May `who` access `st` for r/w/x by the mode bits? (root: as the kernel.) */
function may(who: MlsxIdentity, st: ObjStat, bit: number): boolean {
  if (who.uid === 0) return bit !== X || isDir(st) || (st.mode & 0o111) !== 0;
  if (st.uid === who.uid) return ((st.mode >> 6) & bit) !== 0;
  if (who.groups.has(st.gid)) return ((st.mode >> 3) & bit) !== 0;
  return (st.mode & bit) !== 0;
}

/** May `who` remove or rename `st` out of `parent`? (w+x on it, and its sticky bit.) */
function mayUnlink(who: MlsxIdentity, st: ObjStat, parent: ObjStat | null): boolean {
  if (parent === null || !may(who, parent, W) || !may(who, parent, X)) return false;
  if ((parent.mode & S_ISVTX) !== 0 && who.uid !== 0) {
    return st.uid === who.uid || parent.uid === who.uid;
  }
  return true;
}

function worldReadableOk(who: MlsxIdentity, st: ObjStat): boolean {
  return !who.anonymous || !who.cfg.anon_world_readable_only || (st.mode & 0o004) !== 0;
}

/** RFC 3659 §7.5.5 perm letters. */
export function permFact(who: MlsxIdentity, st: ObjStat, parent: ObjStat | null): string {
  const g = who.gates;
  const unlink = g.otherWrite && mayUnlink(who, st, parent);
  let p = '';
  if (isDir(st)) {
    const wx = may(who, st, W) && may(who, st, X);
    if (g.upload && wx) p += 'c';
    if (unlink) p += 'd';
    if (may(who, st, X)) p += 'e';
    if (unlink) p += 'f';
    if (g.dirlist && may(who, st, R) && worldReadableOk(who, st)) p += 'l';
    if (g.mkdir && wx) p += 'm';
    if (g.otherWrite && wx) p += 'p';
    return p;
  }
  const regular = fileType(st.mode) === fs.constants.S_IFREG;
  const writable = may(who, st, W);
  if (g.otherWrite && writable && regular) p += 'a';
  if (unlink) p += 'd';
  if (unlink) p += 'f';
  if (g.download && regular && may(who, st, R) && worldReadableOk(who, st)) p += 'r';
  // Anonymous uploads never replace a file unless anon_other_write_enable (vsftpd).
  if (g.upload && writable && regular && (!who.anonymous || who.cfg.anon_other_write_enable)) p += 'w';
  return p;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** RFC 3659 time-val: YYYYMMDDHHMMSS in UTC. */
export function modifyFact(mtimeMs: number): string {
  const d = new Date(Math.floor(mtimeMs / 1000) * 1000);
  return (
    pad(d.getUTCFullYear(), 4) + pad(d.getUTCMonth() + 1, 2) + pad(d.getUTCDate(), 2) +
    pad(d.getUTCHours(), 2) + pad(d.getUTCMinutes(), 2) + pad(d.getUTCSeconds(), 2)
  );
}

function typeFact(st: ObjStat, role: 'entry' | 'cdir' | 'pdir', dangling: boolean): string {
  if (dangling) return 'OS.unix=symlink';
  const S = fs.constants;
  switch (fileType(st.mode)) {
    case S.S_IFDIR:
      return role === 'entry' ? 'dir' : role;
    case S.S_IFREG:
      return 'file';
    case S.S_IFIFO:
      return 'OS.unix=fifo';
    case S.S_IFSOCK:
      return 'OS.unix=socket';
    case S.S_IFCHR:
      return 'OS.unix=chr';
    case S.S_IFBLK:
      return 'OS.unix=blk';
    default:
      return 'OS.unix=unknown';
  }
}

/** stat() (following symlinks), lstat() for a dangling one; null when neither works. */
export function statObject(pathBytes: string): { st: ObjStat; dangling: boolean } | null {
  const p = fsPath(pathBytes);
  const take = (st: fs.Stats): ObjStat => {
    let size: number | bigint = st.size;
    if (size > Number.MAX_SAFE_INTEGER) {
      try {
        size = fs.statSync(p, { bigint: true }).size;
      } catch {
        // keep the approximation
      }
    }
    return { mode: st.mode, uid: st.uid, gid: st.gid, size, mtimeMs: st.mtimeMs };
  };
  try {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st !== undefined) return { st: take(st), dangling: false };
  } catch {
    // EACCES, ELOOP...: try the link itself
  }
  try {
    const lst = fs.lstatSync(p, { throwIfNoEntry: false });
    if (lst !== undefined && lst.isSymbolicLink()) return { st: take(lst), dangling: true };
  } catch {
    // nothing to describe
  }
  return null;
}

function statQuiet(pathBytes: string): ObjStat | null {
  try {
    const st = fs.statSync(fsPath(pathBytes), { throwIfNoEntry: false });
    return st === undefined ? null : { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

/**
 * "fact=value;..." for one object, facts in `order` (FEAT order) when
 * selected. No trailing space: the caller adds " name".
 */
export function factString(
  who: MlsxIdentity,
  selected: readonly string[],
  order: readonly string[],
  obj: { st: ObjStat; dangling: boolean },
  parent: ObjStat | null,
  role: 'entry' | 'cdir' | 'pdir',
): string {
  const { st, dangling } = obj;
  let out = '';
  for (const fact of order) {
    if (!selected.includes(fact)) continue;
    switch (fact) {
      case 'modify':
        out += `modify=${modifyFact(st.mtimeMs)};`;
        break;
      case 'perm':
        out += `perm=${permFact(who, st, parent)};`;
        break;
      case 'size':
        if (!isDir(st)) out += `size=${String(st.size)};`;
        break;
      case 'type':
        out += `type=${typeFact(st, role, dangling)};`;
        break;
      case 'unix.group':
        out += `unix.group=${who.cfg.hide_ids ? 'ftp' : who.cfg.text_userdb_names ? groupName(st.gid) : String(st.gid)};`;
        break;
      case 'unix.mode':
        out += `unix.mode=${(st.mode & 0o7777).toString(8).padStart(4, '0')};`;
        break;
      case 'unix.owner':
        out += `unix.owner=${who.cfg.hide_ids ? 'ftp' : who.cfg.text_userdb_names ? userName(st.uid) : String(st.uid)};`;
        break;
      default:
        break;
    }
  }
  return out;
}

/**
 * The directory holding a path (byte strings): "." for a bare name, and
 * PATH/.. when the last component is "." or ".." (or the path is "/").
 */
export function parentOf(pathBytes: string): string {
  const trimmed = pathBytes.replace(/\/+$/, '');
  const last = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  if (trimmed === '' || last === '.' || last === '..') return `${trimmed}/..`;
  const slash = trimmed.lastIndexOf('/');
  if (slash === -1) return '.';
  return slash === 0 ? '/' : trimmed.slice(0, slash);
}

/** MLST: the entry line (without the leading space) for one path, or null when stat() fails. */
export function mlstLine(
  who: MlsxIdentity,
  selected: readonly string[],
  order: readonly string[],
  pathBytes: string,
  shownName: string,
): string | null {
  const obj = statObject(pathBytes);
  if (obj === null) return null;
  const parent = statQuiet(parentOf(pathBytes));
  return `${factString(who, selected, order, obj, parent, 'entry')} ${shownName}`;
}

export type MlsdCheck = { readonly ok: true; readonly handle: fs.Dir } | { readonly ok: false; readonly code: number; readonly text: string };

/** Before any data connection: is `dirBytes` a directory this session may list? */
export function openMlsdDirectory(who: MlsxIdentity, dirBytes: string): MlsdCheck {
  const st = statQuiet(dirBytes);
  if (st === null) return { ok: false, code: 550, text: 'Could not list directory.' };
  if (!isDir(st)) return { ok: false, code: 501, text: 'Not a directory.' };
  // SECURITY: as LIST, anonymous users list only world-readable directories.
  if (!worldReadableOk(who, st)) return { ok: false, code: 550, text: 'Could not list directory.' };
  try {
    return { ok: true, handle: openDirBytes(dirBytes) };
  } catch {
    return { ok: false, code: 550, text: 'Could not list directory.' };
  }
}

/**
 * Stream the MLSD lines of an open directory: "." (cdir), ".." (pdir), then
 * every entry sorted by name, in batches (ls.ts explains the batching).
 * Resolves false when the sink failed.
 */
export async function runMlsd(
  who: MlsxIdentity,
  selected: readonly string[],
  order: readonly string[],
  handle: fs.Dir,
  dirBytes: string,
  sink: LineSink,
  hidden: (name: string) => boolean = () => false,
): Promise<boolean> {
  const base = dirBytes === '.' ? '' : dirBytes.endsWith('/') ? dirBytes : `${dirBytes}/`;
  const names = await readNames(handle, (n) => !hidden(n));
  // Byte strings: the default sort is memcmp order.
  names.sort();
  const self = statQuiet(base === '' ? '.' : base);
  const parent = statQuiet(`${base}..`);
  const grandparent = statQuiet(`${base}../..`);
  const head: string[] = [];
  if (self !== null) head.push(`${factString(who, selected, order, { st: self, dangling: false }, parent, 'cdir')} .`);
  if (parent !== null) head.push(`${factString(who, selected, order, { st: parent, dangling: false }, grandparent, 'pdir')} ..`);
  if (head.length > 0 && !(await sink.send(head))) return false;
  for (let i = 0; i < names.length; ) {
    const lines: string[] = [];
    const end = Math.min(names.length, i + BATCH_ENTRIES);
    for (; i < end; i++) {
      const name = names[i] as string;
      const obj = statObject(base + name);
      if (obj === null) continue; // gone since readdir()
      lines.push(`${factString(who, selected, order, obj, self, 'entry')} ${name}`);
    }
    if (lines.length > 0 && !(await sink.send(lines))) return false;
    await yieldToEventLoop();
  }
  return true;
}
