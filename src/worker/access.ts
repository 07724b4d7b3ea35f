/*
 * deny_file and hide_file (vsftpd's access.c and ls.c).
 *
 * SECURITY: vsftpd matches deny_file against the raw argument the client
 * typed, so with deny_file=/etc/passwd a client does `CWD etc` then
 * `RETR passwd` and gets the file (the bypass class behind CVE-2015-1419).
 * tsftpd matches the canonical path inside the jail instead: the argument
 * is resolved against the working directory and through realpath() of the
 * longest part that exists, so "..", "." and symlinks cannot disguise it.
 * A path is denied when the pattern (vsftpd's glob: * ? {a,b}) matches the
 * canonical path or any one of its components (so deny_file=.private also
 * covers .private/key), or when the pattern text occurs in the canonical
 * path (vsftpd's substring rule). The matcher is bounded
 * (glob.ts, CVE-2011-0762).
 *
 * hide_file hides directory entries whose name matches; they stay
 * reachable by name, as in vsftpd.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/options';
import { globMatch } from './glob';

/** Bound on path components walked back to find an existing prefix. */
const MAX_COMPONENTS = 256;

/** The absolute path inside the jail that `arg` names, symlinks resolved where they exist. */
export function canonicalPath(arg: string): string {
  const abs = path.posix.resolve(process.cwd(), arg);
  let head = abs;
  const tail: string[] = [];
  for (let i = 0; i < MAX_COMPONENTS; i++) {
    try {
      const real = fs.realpathSync(head);
      return tail.length === 0 ? real : path.posix.join(real, ...tail.reverse());
    } catch {
      if (head === '/') return abs;
      tail.push(path.posix.basename(head));
      head = path.posix.dirname(head);
    }
  }
  return abs;
}

/*
 * The whole canonical path, or any one of its components (so a denied
 * directory denies everything under it, whatever the spelling), or the
 * pattern text inside the path (vsftpd's substring rule).
 */
export function matchesAccessPattern(pattern: string, canonical: string): boolean {
  if (globMatch(pattern, canonical)) return true;
  for (const part of canonical.split('/')) if (part !== '' && globMatch(pattern, part)) return true;
  return canonical.includes(pattern);
}

/** deny_file: may this path be touched at all? */
export function isDenied(cfg: Config, arg: string): boolean {
  const pattern = cfg.deny_file;
  if (pattern === null || pattern === '') return false;
  return matchesAccessPattern(pattern, canonicalPath(arg));
}

/** hide_file: the predicate listings use to leave entries out. */
export function hiddenPredicate(cfg: Config): ((name: string) => boolean) | undefined {
  const pattern = cfg.hide_file;
  if (pattern === null || pattern === '') return undefined;
  return (name) => globMatch(pattern, name) || name.includes(pattern);
}

const TIMESTAMP_ARG = /^\d{14}(\.\d+)? /;

/**
 * The path argument of a command, for deny_file; null when the command
 * takes none (or only options). Listing commands take their path after
 * the option letters.
 */
export function pathArgument(verb: string, arg: string | null): string | null {
  if (arg === null || arg === '') return null;
  switch (verb) {
    case 'CWD': case 'XCWD': case 'RETR': case 'STOR': case 'APPE': case 'STOU':
    case 'DELE': case 'RNFR': case 'RNTO': case 'MKD': case 'XMKD': case 'RMD':
    case 'XRMD': case 'SIZE': case 'HASH': case 'MLST': case 'MLSD':
      return arg;
    case 'MDTM':
      // The vsftpd setter form: MDTM YYYYMMDDHHMMSS file.
      return TIMESTAMP_ARG.test(arg) ? arg.slice(arg.indexOf(' ') + 1) : arg;
    case 'MFMT': {
      const sp = arg.indexOf(' ');
      return sp === -1 ? null : arg.slice(sp + 1);
    }
    case 'LIST': case 'NLST': case 'STAT': {
      if (!arg.startsWith('-')) return arg;
      const sp = arg.indexOf(' ');
      const rest = sp === -1 ? '' : arg.slice(sp + 1).trimStart();
      return rest === '' ? null : rest;
    }
    case 'SITE': {
      // SITE CHMOD mode file
      const m = /^chmod\s+\S+\s+(.+)$/i.exec(arg);
      return m === null ? null : (m[1] as string);
    }
    default:
      return null;
  }
}
