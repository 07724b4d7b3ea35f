/*
 * Pure parsers and formatters for command arguments (no I/O), so they can be
 * unit-tested: REST and RANG positions, MDTM/MFMT times, SITE octal modes,
 * OPTS MLST fact lists, the HELP table, and log-safe text.
 */

/** Largest offset a REST or RANG may name: off_t's maximum. */
export const MAX_OFFSET = (1n << 63n) - 1n;

/**
 * REST's argument. vsftpd turns anything that is not all digits (negative
 * numbers included) into 0; it also turns more than 15 digits into 0, which
 * silently restarts a resume of a > 1 PB file from the start. We accept
 * every offset up to 2^63-1, exactly (BigInt), and refuse larger ones.
 */
export function parseRestArg(arg: string | null): bigint | 'too-large' {
  const a = arg ?? '';
  if (!/^[0-9]+$/.test(a)) return 0n;
  const v = BigInt(a);
  return v > MAX_OFFSET ? 'too-large' : v;
}

export interface ByteRange {
  readonly start: bigint;
  /** Inclusive (draft-bryan-ftp-range: "RANG 0 1" selects two octets). */
  readonly end: bigint;
}

/**
 * RANG start end (draft-bryan-ftp-range-09). "RANG 1 0" resets; start > end
 * is invalid; so is anything but two decimal numbers up to 2^63-1.
 */
export function parseRangArg(arg: string | null): ByteRange | 'reset' | 'invalid' {
  const m = /^([0-9]+) ([0-9]+)$/.exec(arg ?? '');
  if (m === null) return 'invalid';
  const start = BigInt(m[1] as string);
  const end = BigInt(m[2] as string);
  if (start === 1n && end === 0n) return 'reset';
  if (start > end || end > MAX_OFFSET) return 'invalid';
  return { start, end };
}

/** atoi(): optional blanks and sign, then digits; 0 when there are none. */
function atoi(s: string): number {
  const m = /^\s*([+-]?[0-9]+)/.exec(s);
  return m === null ? 0 : Number.parseInt(m[1] as string, 10);
}

/**
 * vsftpd's MDTM setter syntax (postlogin.c handle_mdtm), applied only when
 * the whole argument does not name an existing file: it starts with a digit
 * and its first space is at index 8 or 14, or after index 15 with a '.' at
 * index 14 (fractional seconds, ignored). Returns the time text and the path.
 */
export function splitMdtmSetArg(arg: string): { time: string; path: string } | null {
  const sp = arg.indexOf(' ');
  if (sp === -1 || !/^[0-9]/.test(arg)) return null;
  if (!(sp === 8 || sp === 14 || (sp > 15 && arg[14] === '.'))) return null;
  return { time: arg.slice(0, sp), path: arg.slice(sp + 1) };
}

/**
 * vsftpd's vsf_sysutil_parse_time: YYYYMMDD[HHMMSS], each field read with
 * atoi (lenient; out-of-range values roll over as mktime does). The time is
 * GMT unless use_localtime. Returns milliseconds since the epoch.
 */
export function parseVsftpdTime(text: string, localtime: boolean): number {
  const f = { y: 1900, mo: 1, d: 0, h: 0, mi: 0, s: 0 };
  if (text.length >= 8) {
    f.y = atoi(text.slice(0, 4));
    f.mo = atoi(text.slice(4, 6));
    f.d = atoi(text.slice(6, 8));
  }
  if (text.length >= 14) {
    f.h = atoi(text.slice(8, 10));
    f.mi = atoi(text.slice(10, 12));
    f.s = atoi(text.slice(12, 14));
  }
  if (localtime) return new Date(f.y, f.mo - 1, f.d, f.h, f.mi, f.s).getTime();
  const d = new Date(0);
  d.setUTCFullYear(f.y, f.mo - 1, f.d);
  d.setUTCHours(f.h, f.mi, f.s, 0);
  return d.getTime();
}

/**
 * RFC 3659 time-val, strictly: YYYYMMDDHHMMSS[.sss], always UTC, every field
 * in range. Returns milliseconds since the epoch, or null.
 */
export function parseTimeVal(text: string): number | null {
  const m = /^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})(?:\.([0-9]{1,9}))?$/.exec(text);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const frac = m[7] === undefined ? 0 : Number(`0.${m[7]}`);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return null;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, Math.floor(frac * 1000));
  // Day 31 of a 30-day month rolls over: refuse it.
  if (date.getUTCDate() !== d) return null;
  return date.getTime();
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** YYYYMMDDHHMMSS of a time, in UTC or local time (MDTM, MFMT replies). */
export function formatTimeVal(ms: number, localtime: boolean): string {
  const d = new Date(ms);
  return localtime
    ? `${pad(d.getFullYear(), 4)}${pad(d.getMonth() + 1)}${pad(d.getDate())}${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`
    : `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

/**
 * vsftpd's vsf_sysutil_octal_to_uint: octal digits up to the first other
 * character; "" or "abc" is 0.
 */
export function parseOctal(text: string): number {
  let v = 0;
  for (const ch of text) {
    if (ch < '0' || ch > '7') break;
    v = v * 8 + (ch.charCodeAt(0) - 48);
    // A umask or mode never needs more; keep the number small.
    if (v > 0o7777777) break;
  }
  return v;
}

/** vsftpd's vsf_sysutil_uint_to_octal: "0" for 0, else "0" + octal digits. */
export function formatOctal(n: number): string {
  return n === 0 ? '0' : `0${n.toString(8)}`;
}

/**
 * OPTS MLST's fact list (RFC 3659 §7.9): names separated by ';', matched
 * case-insensitively against the supported facts, unknown ones ignored,
 * duplicates dropped; the result keeps the client's order.
 */
export function parseMlstOpts(text: string, supported: readonly string[]): string[] {
  const out: string[] = [];
  for (const part of text.split(';')) {
    const want = part.trim().toLowerCase();
    const fact = supported.find((f) => f === want);
    if (fact !== undefined && !out.includes(fact)) out.push(fact);
  }
  return out;
}

/**
 * HELP's body in vsftpd's layout: a leading space, verbs padded to four
 * columns, fourteen to a line.
 */
export function helpLines(verbs: readonly string[]): string[] {
  const sorted = [...verbs].sort();
  const lines: string[] = [];
  for (let i = 0; i < sorted.length; i += 14) {
    lines.push(` ${sorted.slice(i, i + 14).map((v) => v.padEnd(4)).join(' ')}`.trimEnd());
  }
  return lines;
}

/** Client text for a log line: printable ASCII only, bounded length. */
export function logSafe(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}
