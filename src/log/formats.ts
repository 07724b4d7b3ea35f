/*
 * vsftpd's two log formats, byte for byte (reference/vsftpd-facts.md §7),
 * as pure functions so tests can check them line by line.
 *
 *   vsftpd:  <date> [pid N] [user] OK LOGIN: Client "ip"[, anon password "pw"][, "arg"][, N bytes][, R Kbyte/sec]
 *   xferlog: <date> secs host bytes file type _ dir access user ftp 0 * status
 *
 * Two vsftpd flaws are fixed (docs/DEVIATIONS.md): STOU logs the name
 * actually created, and the xferlog transfer type is the one really used.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** strftime("%a %b %e %H:%M:%S %Y") in local time (vsftpd uses local time). */
export function logDate(d: Date): string {
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${d.getFullYear()}`;
}

/** vsftpd replaces unprintable bytes in log text with '?'. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}

export type VsftpdAction =
  | 'CONNECT'
  | 'LOGIN'
  | 'DOWNLOAD'
  | 'UPLOAD'
  | 'MKDIR'
  | 'DELETE'
  | 'RENAME'
  | 'RMDIR'
  | 'CHMOD'
  | 'FTP command'
  | 'FTP response'
  | 'DEBUG';

export interface VsftpdLogEntry {
  readonly date: Date;
  readonly pid: number;
  /** Omitted before a USER was given. */
  readonly user: string | null;
  /** Omitted for CONNECT, FTP command, FTP response, DEBUG. */
  readonly ok: boolean | null;
  readonly action: VsftpdAction;
  readonly client: string;
  readonly anonPassword?: string;
  readonly arg?: string;
  readonly bytes?: number;
  /** Transfer rate in bytes per second (DOWNLOAD/UPLOAD). */
  readonly rate?: number;
}

export function vsftpdLine(e: VsftpdLogEntry, forSyslog = false): string {
  let line = forSyslog ? '' : `${logDate(e.date)} [pid ${e.pid}] `;
  if (e.user !== null) line += `[${printable(e.user)}] `;
  if (e.ok !== null) line += e.ok ? 'OK ' : 'FAIL ';
  line += `${e.action}: Client "${e.client}"`;
  if (e.anonPassword !== undefined) line += `, anon password "${printable(e.anonPassword)}"`;
  if (e.arg !== undefined) line += `, "${printable(e.arg)}"`;
  if (e.bytes !== undefined && e.bytes > 0) line += `, ${e.bytes} bytes`;
  if (e.rate !== undefined) line += `, ${(e.rate / 1024).toFixed(2)}Kbyte/sec`;
  return line;
}

export interface XferEntry {
  /** When the transfer ended. */
  readonly date: Date;
  readonly seconds: number;
  readonly client: string;
  readonly bytes: number;
  /** Absolute path inside the jail. */
  readonly file: string;
  readonly type: 'ascii' | 'binary';
  readonly direction: 'in' | 'out';
  readonly access: 'anonymous' | 'guest' | 'real';
  /** Anonymous: the password given; otherwise the login name. */
  readonly user: string;
  readonly complete: boolean;
}

export function xferlogLine(e: XferEntry): string {
  return [
    logDate(e.date),
    String(Math.max(1, Math.round(e.seconds))),
    e.client,
    String(e.bytes),
    printable(e.file).replace(/ /g, '_'),
    e.type === 'ascii' ? 'a' : 'b',
    '_',
    e.direction === 'out' ? 'o' : 'i',
    e.access === 'anonymous' ? 'a' : e.access === 'guest' ? 'g' : 'r',
    printable(e.user).replace(/ /g, '_'),
    'ftp',
    '0',
    '*',
    e.complete ? 'c' : 'i',
  ].join(' ');
}
