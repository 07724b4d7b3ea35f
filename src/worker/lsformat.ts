/*
 * The long listing line of the built-in ls (ls.ts): vsftpd's
 * build_dir_line(), statbuf_get_perms() and statbuf_get_date(), byte for
 * byte as Debian's vsftpd 3.0.3.
 *
 * A listing formats every entry with one LongLineFormatter, which keeps
 * the strings entries share (permissions per mode, owner and group per id,
 * the date per minute, padded link counts), so a big directory costs about
 * one string concatenation per entry - also in a fresh worker whose code
 * the JIT has not optimised yet.
 */

import * as fs from 'node:fs';
import type { Config } from '../config/options';
import { groupName, userName } from './idnames';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
/** vsftpd: older than this (or in the future) shows the year. */
const SIX_MONTHS_SECONDS = 60 * 60 * 24 * 182;
/** Distinct strings a formatter's caches hold before they start over. */
const CACHE_MAX = 4096;
/** Cache keys are exact below this many seconds (about 35,000 years either way). */
const CACHEABLE_SECONDS = 2 ** 40;
/** Link counts below this have their padded string cached. */
const NLINK_CACHED = 256;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** vsftpd's statbuf_get_date(): "%b %d %H:%M", or "%b %d  %Y" when old or in the future. */
export function formatDate(mtimeSec: number, nowSec: number, localtime: boolean): string {
  const d = new Date(mtimeSec * 1000);
  const month = MONTHS[localtime ? d.getMonth() : d.getUTCMonth()] ?? '???';
  const day = pad2(localtime ? d.getDate() : d.getUTCDate());
  if (isOld(mtimeSec, nowSec)) {
    return `${month} ${day}  ${localtime ? d.getFullYear() : d.getUTCFullYear()}`;
  }
  const hh = pad2(localtime ? d.getHours() : d.getUTCHours());
  const mm = pad2(localtime ? d.getMinutes() : d.getUTCMinutes());
  return `${month} ${day} ${hh}:${mm}`;
}

function isOld(mtimeSec: number, nowSec: number): boolean {
  return mtimeSec > nowSec || nowSec - mtimeSec > SIX_MONTHS_SECONDS;
}

/** vsftpd's statbuf_get_perms(): type letter ('?' when unknown) and rwx with s/S/t/T. */
export function formatPerms(mode: number): string {
  const S = fs.constants;
  const fmt = mode & S.S_IFMT;
  const type =
    fmt === S.S_IFREG ? '-'
    : fmt === S.S_IFDIR ? 'd'
    : fmt === S.S_IFLNK ? 'l'
    : fmt === S.S_IFIFO ? 'p'
    : fmt === S.S_IFSOCK ? 's'
    : fmt === S.S_IFCHR ? 'c'
    : fmt === S.S_IFBLK ? 'b'
    : '?';
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

/** The metadata a long line needs (a subset of fs.Stats, so tests can build one). */
export interface LineStat {
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  /** Exact size (bigint when beyond 2^53). */
  readonly size: number | bigint;
  readonly mtimeSec: number;
}

/** A bounded cache: forgets everything when full (a listing's values repeat in runs). */
function remember<K>(map: Map<K, string>, key: K, value: string): string {
  if (map.size >= CACHE_MAX) map.clear();
  map.set(key, value);
  return value;
}

/**
 * build_dir_line() for the entries of one listing (one configuration, one
 * "now"). Every cached string is exactly what the plain functions above
 * give for the same input.
 */
export class LongLineFormatter {
  private readonly perms = new Map<number, string>();
  private readonly dates = new Map<number, string>();
  private readonly nlinks: string[] = [];
  private readonly owners = new Map<number, string>();
  private readonly groups = new Map<number, string>();
  /** Owner and group as shown when hide_ids, padded. */
  private readonly hidden: string | null;

  constructor(
    private readonly cfg: Config,
    private readonly nowSec: number,
  ) {
    this.hidden = cfg.hide_ids ? 'ftp'.padEnd(8) : null;
  }

  /** The last entry's "perms links owner group " and its inputs (entries repeat them in runs). */
  private lastMode = NaN;
  private lastNlink = NaN;
  private lastUid = NaN;
  private lastGid = NaN;
  private lastPrefix = '';
  /** The last entry's "size " and its input. */
  private lastSize: number | bigint = NaN;
  private lastSizeText = '';

  /**
   * The line without its end. `name` is what follows the date: the name,
   * " -> target", '/' (-F). Four pieces, three of them usually as the
   * entry before had them.
   */
  line(name: string, mode: number, nlink: number, uid: number, gid: number, size: number | bigint, mtimeSec: number): string {
    if (mode !== this.lastMode || nlink !== this.lastNlink || uid !== this.lastUid || gid !== this.lastGid) {
      this.lastMode = mode;
      this.lastNlink = nlink;
      this.lastUid = uid;
      this.lastGid = gid;
      this.lastPrefix =
        `${this.permsOf(mode)} ${this.nlinkOf(nlink)} ${this.hidden ?? this.ownerOf(uid)} ${this.hidden ?? this.groupOf(gid)} `;
    }
    if (size !== this.lastSize) {
      this.lastSize = size;
      this.lastSizeText = `${String(size).padStart(8)} `;
    }
    return this.lastPrefix + this.lastSizeText + this.dateOf(mtimeSec) + name;
  }

  private permsOf(mode: number): string {
    return this.perms.get(mode) ?? remember(this.perms, mode, formatPerms(mode));
  }

  private nlinkOf(nlink: number): string {
    if (!(nlink >= 0 && nlink < NLINK_CACHED && Number.isInteger(nlink))) return String(nlink).padStart(4);
    return this.nlinks[nlink] ?? (this.nlinks[nlink] = String(nlink).padStart(4));
  }

  private ownerOf(uid: number): string {
    return this.owners.get(uid) ?? remember(this.owners, uid, (this.cfg.text_userdb_names ? userName(uid) : String(uid)).padEnd(8));
  }

  private groupOf(gid: number): string {
    return this.groups.get(gid) ?? remember(this.groups, gid, (this.cfg.text_userdb_names ? groupName(gid) : String(gid)).padEnd(8));
  }

  /**
   * formatDate() and a space, cached per minute (UTC: a minute is one "HH:MM") or per
   * second (use_localtime: a zone's offset need not be whole minutes), and
   * per old/recent, which depends on the exact second.
   */
  private dateOf(mtimeSec: number): string {
    const localtime = this.cfg.use_localtime;
    if (!(Math.abs(mtimeSec) < CACHEABLE_SECONDS && Number.isInteger(mtimeSec))) {
      return `${formatDate(mtimeSec, this.nowSec, localtime)} `;
    }
    const unit = localtime ? mtimeSec : Math.floor(mtimeSec / 60);
    const key = unit * 2 + (isOld(mtimeSec, this.nowSec) ? 1 : 0);
    return this.dates.get(key) ?? remember(this.dates, key, `${formatDate(mtimeSec, this.nowSec, localtime)} `);
  }
}

/**
 * vsftpd's build_dir_line() without the line end, for one entry (listings
 * use one LongLineFormatter for all their entries).
 */
export function formatLongLine(name: string, st: LineStat, cfg: Config, nowSec: number): string {
  return new LongLineFormatter(cfg, nowSec).line(name, st.mode, st.nlink, st.uid, st.gid, st.size, st.mtimeSec);
}
