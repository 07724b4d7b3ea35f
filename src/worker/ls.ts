/*
 * The built-in directory lister (vsftpd's ls.c). Nothing is ever exec'd:
 * the listing is built from lstat() in the jailed worker.
 *
 * Line format, byte for byte as vsftpd:
 *   perms ' ' links(4, right) ' ' owner(8, left) ' ' group(8, left)
 *   ' ' size(8, right) ' ' date ' ' name[' -> ' target]
 * Dates are "Mon dd HH:MM" when less than six months old and not in the
 * future, else "Mon dd  YYYY"; GMT unless use_localtime.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/options';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const SIX_MONTHS_SECONDS = 60 * 60 * 24 * 182;

export interface LsOptions {
  readonly all: boolean;
  readonly long: boolean;
  readonly reverse: boolean;
  readonly byTime: boolean;
  readonly classify: boolean;
  readonly recurse: boolean;
}

export interface LsRequest {
  readonly options: LsOptions;
  /** Directory or file to list, as the client gave it ('.' when none). */
  readonly target: string;
}

/** Split "-la dir" into flags and a path; flags only at the start. */
export function parseLsArgument(arg: string | null, cfg: Config, long: boolean): LsRequest {
  let flags = '';
  let rest = arg ?? '';
  if (rest.startsWith('-')) {
    const sp = rest.indexOf(' ');
    flags = sp === -1 ? rest.slice(1) : rest.slice(1, sp);
    rest = sp === -1 ? '' : rest.slice(sp + 1).replace(/^ +/, '');
  }
  return {
    options: {
      all: flags.includes('a') || cfg.force_dot_files,
      long: long || flags.includes('l'),
      reverse: flags.includes('r'),
      byTime: flags.includes('t'),
      classify: flags.includes('F'),
      recurse: flags.includes('R') && cfg.ls_recurse_enable,
    },
    target: rest === '' ? '.' : rest,
  };
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function formatDate(mtimeSec: number, nowSec: number, localtime: boolean): string {
  const d = new Date(mtimeSec * 1000);
  const month = MONTHS[localtime ? d.getMonth() : d.getUTCMonth()] ?? 'Jan';
  const day = pad2(localtime ? d.getDate() : d.getUTCDate());
  const recent = mtimeSec <= nowSec && nowSec - mtimeSec < SIX_MONTHS_SECONDS;
  if (recent) {
    const hh = pad2(localtime ? d.getHours() : d.getUTCHours());
    const mm = pad2(localtime ? d.getMinutes() : d.getUTCMinutes());
    return `${month} ${day} ${hh}:${mm}`;
  }
  const year = localtime ? d.getFullYear() : d.getUTCFullYear();
  return `${month} ${day}  ${year}`;
}

export function formatPerms(mode: number): string {
  const S = fs.constants;
  const fmt = mode & S.S_IFMT;
  const type =
    fmt === S.S_IFDIR ? 'd'
    : fmt === S.S_IFLNK ? 'l'
    : fmt === S.S_IFCHR ? 'c'
    : fmt === S.S_IFBLK ? 'b'
    : fmt === S.S_IFIFO ? 'p'
    : fmt === S.S_IFSOCK ? 's'
    : '-';
  const bit = (m: number, c: string): string => (mode & m ? c : '-');
  const exec = (x: number, special: number, set: string, unset: string): string =>
    mode & special ? (mode & x ? set : unset) : mode & x ? 'x' : '-';
  return (
    type +
    bit(0o400, 'r') + bit(0o200, 'w') + exec(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') + bit(0o020, 'w') + exec(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') + bit(0o002, 'w') + exec(0o001, 0o1000, 't', 'T')
  );
}

/** vsftpd's -F marks directories only (no '@', '*', '|' as GNU ls). */
function classifySuffix(st: fs.Stats): string {
  return st.isDirectory() ? '/' : '';
}

export function formatLongLine(name: string, st: fs.Stats, target: string | null, cfg: Config, nowSec: number, classify: boolean): string {
  const owner = cfg.hide_ids ? 'ftp' : String(st.uid);
  const group = cfg.hide_ids ? 'ftp' : String(st.gid);
  let line =
    formatPerms(st.mode) +
    ' ' + String(st.nlink).padStart(4) +
    ' ' + owner.padEnd(8) +
    ' ' + group.padEnd(8) +
    ' ' + String(st.size).padStart(8) +
    ' ' + formatDate(Math.floor(st.mtimeMs / 1000), nowSec, cfg.use_localtime) +
    ' ' + name;
  if (classify) line += classifySuffix(st);
  if (target !== null) line += ` -> ${target}`;
  return line;
}

interface Entry {
  readonly name: string;
  readonly st: fs.Stats;
}

function compareEntries(a: Entry, b: Entry, o: LsOptions): number {
  let c: number;
  if (o.byTime) {
    c = b.st.mtimeMs - a.st.mtimeMs;
    if (c === 0) c = Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
  } else {
    c = Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
  }
  return o.reverse ? -c : c;
}

/**
 * Produce the listing lines (without line ends). `long` is LIST, otherwise
 * NLST names (prefixed with the directory when one was given, as vsftpd).
 */
export async function listLines(req: LsRequest, cfg: Config): Promise<string[] | null> {
  const nowSec = Math.floor(Date.now() / 1000);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(req.target);
  } catch {
    return null;
  }
  const o = req.options;
  if (!st.isDirectory()) {
    const lst = await fs.promises.lstat(req.target);
    const target = lst.isSymbolicLink() ? await fs.promises.readlink(req.target).catch(() => null) : null;
    return [o.long ? formatLongLine(req.target, lst, target, cfg, nowSec, o.classify) : req.target];
  }
  const entries: Entry[] = [];
  const dir = await fs.promises.opendir(req.target);
  const names: string[] = o.all ? ['.', '..'] : [];
  for await (const d of dir) {
    if (!o.all && d.name.startsWith('.')) continue;
    names.push(d.name);
  }
  for (const name of names) {
    try {
      entries.push({ name, st: await fs.promises.lstat(path.join(req.target, name)) });
    } catch {
      // Vanished between readdir and lstat: not listed.
    }
  }
  entries.sort((a, b) => compareEntries(a, b, o));
  const prefix = req.target === '.' ? '' : req.target.endsWith('/') ? req.target : `${req.target}/`;
  const lines: string[] = [];
  for (const e of entries) {
    if (o.long) {
      const target = e.st.isSymbolicLink()
        ? await fs.promises.readlink(path.join(req.target, e.name)).catch(() => null)
        : null;
      lines.push(formatLongLine(e.name, e.st, target, cfg, nowSec, o.classify));
    } else {
      lines.push(prefix + e.name);
    }
  }
  return lines;
}
