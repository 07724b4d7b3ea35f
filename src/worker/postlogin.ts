/*
 * W2: the logged-in session, run as the session user inside its jail
 * (vsftpd's postlogin.c). The command table is assembled from the tables in
 * commands/, one file per group; every entry says what the command needs
 * (its gate) and what it does. The dispatcher applies the rules.
 */

import type { Config } from '../config/options';
import type { LoginDecision, SessionInfo } from '../ipc/messages';
import type { ControlChannel, FtpCommand } from '../protocol/control';
import { DATACONN_COMMANDS } from './commands/dataconn';
import { replyWithMessage } from './dirmessage';
import { isDenied, pathArgument } from './access';
import { FILE_COMMANDS } from './commands/files';
import { HASH_COMMANDS } from './commands/hash';
import { HELP_COMMANDS } from './commands/help';
import { LISTING_COMMANDS } from './commands/listing';
import { NAVIGATION_COMMANDS } from './commands/navigation';
import { SESSION_COMMANDS } from './commands/session';
import { SITE_COMMANDS } from './commands/site';
import { TLS_COMMANDS } from './commands/tls';
import { createSession, expandPath, setTitle, type CommandSpec, type CommandTable, type Session, type SessionTls } from './session';

/* SECURITY: HTTP verbs on an FTP port mean a cross-protocol attack. */
const HTTP_VERBS = new Set(['GET', 'POST', 'HEAD', 'OPTIONS', 'CONNECT']);

function buildTable(parts: readonly CommandTable[]): ReadonlyMap<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  for (const part of parts) {
    for (const [verb, spec] of Object.entries(part)) {
      // A verb defined twice is a programming error; refuse to start.
      if (table.has(verb)) throw new Error(`command ${verb} defined twice`);
      table.set(verb, spec);
    }
  }
  return table;
}

export const COMMANDS = buildTable([
  SESSION_COMMANDS,
  NAVIGATION_COMMANDS,
  DATACONN_COMMANDS,
  FILE_COMMANDS,
  LISTING_COMMANDS,
  HASH_COMMANDS,
  SITE_COMMANDS,
  HELP_COMMANDS,
  TLS_COMMANDS,
]);

function commaList(v: string | null): ReadonlySet<string> | null {
  if (v === null) return null;
  return new Set(v.split(',').map((x) => x.trim().toUpperCase()).filter((x) => x !== ''));
}

/**
 * cmds_allowed / cmds_denied (vsftpd): a command not in cmds_allowed (when
 * set), or in cmds_denied, is refused like a gated one. Denied wins.
 */
function allowedByConfig(s: Session, verb: string): boolean {
  const allowed = commaList(s.cfg.cmds_allowed);
  if (allowed !== null && !allowed.has(verb)) return false;
  return !(commaList(s.cfg.cmds_denied)?.has(verb) ?? false);
}

export function dispatchPostlogin(s: Session, cmd: FtpCommand): void | Promise<void> {
  if (HTTP_VERBS.has(cmd.verb)) {
    s.ch.fatal(500, 'HTTP protocol commands not allowed.');
    return undefined;
  }
  const spec = COMMANDS.get(cmd.verb);
  if (spec === undefined) {
    s.ch.reply(500, 'Unknown command.');
    return undefined;
  }
  if ((spec.gate !== undefined && !spec.gate(s)) || !allowedByConfig(s, cmd.verb)) {
    s.ch.reply(550, 'Permission denied.');
    return undefined;
  }
  // SECURITY: deny_file is checked on the canonical path (access.ts).
  const target = pathArgument(cmd.verb, cmd.arg);
  if (target !== null && isDenied(s.cfg, expandPath(s, target))) {
    s.ch.reply(550, 'Permission denied.');
    return undefined;
  }
  return spec.handler(s, cmd.arg);
}

export function runPostlogin(
  ch: ControlChannel,
  cfg: Config,
  info: SessionInfo,
  login: LoginDecision,
  sessionTls: SessionTls | null = null,
  prot: 'C' | 'P' = 'C',
): Session {
  const s = createSession(ch, cfg, info, login, sessionTls, prot);
  setTitle(s, 'IDLE');
  replyWithMessage(s, 230, 'Login successful.');
  ch.start((cmd) => dispatchPostlogin(s, cmd), cfg.idle_session_timeout);
  return s;
}
