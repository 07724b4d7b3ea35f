/*
 * tcp_wrappers=YES: /etc/hosts.allow and /etc/hosts.deny (hosts_access(5)
 * and the option syntax of hosts_options(5)), read by master at accept
 * time, so a refused address costs no worker.
 *
 *   daemon_list : client_list [ : option : option ... ]
 *
 * Daemons: ALL, tsftpd, and vsftpd (so an existing vsftpd rule applies).
 * Clients: ALL, IPv4 addresses and prefixes ("192.168."), net/mask and
 * net/len, [IPv6] and [IPv6]/len, '*' and '?' wildcards in addresses,
 * EXCEPT. Options: allow, deny, and `setenv VSFTPD_LOAD_CONF file` (a
 * per-address config file applied on top of the main one).
 *
 * SECURITY: tsftpd does no DNS at accept time, so name patterns (host
 * names, .domain, LOCAL, KNOWN, UNKNOWN, PARANOID, @netgroup) never match —
 * in hosts.deny a rule "ALL EXCEPT .example.com" therefore denies everyone
 * (fail closed). `spawn` and `twist` are never run: tsftpd executes nothing.
 *
 * Access: the first matching rule in hosts.allow grants (unless it has the
 * `deny` option); else the first matching rule in hosts.deny refuses; else
 * the connection is allowed.
 */

import * as fs from 'node:fs';
import * as net from 'node:net';

export interface WrapDecision {
  readonly allowed: boolean;
  /** setenv VSFTPD_LOAD_CONF from the matching rule, if any. */
  readonly loadConf: string | null;
}

interface Rule {
  readonly daemons: readonly string[];
  readonly clients: readonly string[];
  readonly options: readonly string[];
}

const DAEMON_NAMES = new Set(['tsftpd', 'vsftpd']);
/** Larger than any sane hosts file; past it the file counts as unreadable. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** Split on unescaped ':' (options may contain "\:"). */
function splitColons(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\\' && line[i + 1] === ':') {
      cur += ':';
      i++;
    } else if (c === ':') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

/* libwrap compares keywords and daemon names case-insensitively (strcasecmp). */
const KEYWORDS = new Set(['ALL', 'EXCEPT', 'LOCAL', 'KNOWN', 'UNKNOWN', 'PARANOID']);

function listItems(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .filter((x) => x !== '')
    .map((x) => (KEYWORDS.has(x.toUpperCase()) ? x.toUpperCase() : x));
}

export function parseHostsFile(text: string): Rule[] {
  const rules: Rule[] = [];
  const joined = text.replace(/\\\r?\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // [daemons, clients, ...options]; an IPv6 "[::1]" holds colons.
    const protectedLine = line.replace(/\[[^\]]*\]/g, (m) => m.replace(/:/g, '\\:'));
    const fields = splitColons(protectedLine);
    if (fields.length < 2) continue;
    const [daemons, clients, ...options] = fields as [string, string, ...string[]];
    rules.push({ daemons: listItems(daemons), clients: listItems(clients), options: options.map((o) => o.trim()) });
  }
  return rules;
}

function wildcard(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(text);
}

function ipv4ToInt(ip: string): number | null {
  if (!net.isIPv4(ip)) return null;
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function ipv6ToBigInt(ip: string): bigint | null {
  const addr = ip.replace(/%.*$/, '');
  if (!net.isIPv6(addr) || addr.includes('.')) return null;
  const halves = addr.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' || halves[0] === undefined ? [] : halves[0].split(':');
  const tail = halves.length === 2 && halves[1] !== '' && halves[1] !== undefined ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8) return null;
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}

/** One client pattern against an address (IPv4 already unmapped). */
export function clientMatches(pattern: string, ip: string): boolean {
  if (pattern === 'ALL') return true;
  const v4 = net.isIPv4(ip);
  if (pattern.startsWith('[')) {
    if (v4) return false;
    const m = /^\[([^\]]+)\](?:\/(\d{1,3}))?$/.exec(pattern);
    if (m === null) return false;
    const net6 = ipv6ToBigInt(m[1] as string);
    const addr = ipv6ToBigInt(ip);
    if (net6 === null || addr === null) return false;
    const len = m[2] === undefined ? 128 : Number(m[2]);
    if (len > 128) return false;
    const shift = BigInt(128 - len);
    return net6 >> shift === addr >> shift;
  }
  if (!v4) return false;
  if (pattern.includes('/')) {
    const [netText, maskText] = pattern.split('/') as [string, string];
    const n = ipv4ToInt(netText);
    const a = ipv4ToInt(ip);
    if (n === null || a === null) return false;
    let mask: number | null;
    if (/^\d{1,2}$/.test(maskText)) {
      const len = Number(maskText);
      mask = len > 32 ? null : len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    } else {
      mask = ipv4ToInt(maskText);
    }
    if (mask === null) return false;
    return ((n & mask) >>> 0) === ((a & mask) >>> 0);
  }
  if (pattern.endsWith('.') && /^[\d.]+$/.test(pattern)) return ip.startsWith(pattern);
  if (/[*?]/.test(pattern)) return wildcard(pattern, ip);
  // A bare address; anything else is a name pattern, which never matches.
  return pattern === ip;
}

/** A list with EXCEPT: "a b EXCEPT c" matches a or b, unless c. */
function listMatches(items: readonly string[], pred: (item: string) => boolean): boolean {
  const i = items.indexOf('EXCEPT');
  if (i === -1) return items.some(pred);
  return items.slice(0, i).some(pred) && !listMatches(items.slice(i + 1), pred);
}

function daemonMatches(item: string): boolean {
  const name = (item.split('@')[0] ?? '').toLowerCase();
  return name === 'all' || DAEMON_NAMES.has(name);
}

function loadConfOption(options: readonly string[]): string | null {
  for (const o of options) {
    const m = /^setenv\s+VSFTPD_LOAD_CONF\s+(\S+)$/.exec(o);
    if (m !== null) return m[1] as string;
  }
  return null;
}

function firstMatch(rules: readonly Rule[], ip: string): Rule | null {
  for (const r of rules) {
    if (listMatches(r.daemons, daemonMatches) && listMatches(r.clients, (c) => clientMatches(c, ip))) return r;
  }
  return null;
}

export function decide(allow: readonly Rule[], deny: readonly Rule[], ip: string): WrapDecision {
  const a = firstMatch(allow, ip);
  if (a !== null) {
    const allowed = !a.options.includes('deny');
    return { allowed, loadConf: allowed ? loadConfOption(a.options) : null };
  }
  const d = firstMatch(deny, ip);
  if (d !== null) return { allowed: d.options.includes('allow'), loadConf: null };
  return { allowed: true, loadConf: null };
}

/** A hosts file that exists but cannot be read (or is absurdly large). */
const UNREADABLE = Symbol('unreadable');
type Rules = Rule[] | typeof UNREADABLE;

/*
 * hosts files, re-read when they change (size, mtime or inode).
 * SECURITY: a file that exists but cannot be read refuses everyone, as
 * libwrap does for hosts.deny; a missing file has no rules.
 */
export class HostsAccess {
  private cache = new Map<string, { key: string; rules: Rules }>();

  constructor(
    private readonly allowFile = '/etc/hosts.allow',
    private readonly denyFile = '/etc/hosts.deny',
  ) {}

  private rules(file: string): Rules {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (e: unknown) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? [] : UNREADABLE;
    }
    const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
    const c = this.cache.get(file);
    if (c !== undefined && c.key === key) return c.rules;
    let rules: Rules;
    if (st.isDirectory()) {
      rules = []; // as libwrap: opens, reads nothing
    } else if (st.size > MAX_FILE_BYTES) {
      rules = UNREADABLE;
    } else {
      try {
        rules = parseHostsFile(fs.readFileSync(file, 'utf8'));
      } catch {
        rules = UNREADABLE;
      }
    }
    this.cache.set(file, { key, rules });
    return rules;
  }

  check(ip: string): WrapDecision {
    const allow = this.rules(this.allowFile);
    const deny = this.rules(this.denyFile);
    if (allow === UNREADABLE || deny === UNREADABLE) return { allowed: false, loadConf: null };
    return decide(allow, deny, ip);
  }
}
