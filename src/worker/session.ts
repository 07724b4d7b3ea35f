/*
 * The state of one logged-in session, and the shape of a command-table
 * entry. Shared by every file in commands/.
 */

import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Config } from '../config/options';
import type { LoginDecision, SessionInfo } from '../ipc/messages';
import type { ControlChannel } from '../protocol/control';
import { DataChannel, normalizeAddress } from './data';
import { homeOf } from './idnames';

/** A session whose control connection is TLS (W1 relays it). */
export interface SessionTls {
  /** This session's context (its ticket keys) for data connections. */
  readonly ctx: tls.SecureContext;
  /** SHA-256 fingerprint of the control connection's client certificate, or null. */
  readonly controlCert: string | null;
  /** Lets a data connection resume the control connection's session by ID (TLS 1.2). */
  readonly holder: tls.Server | null;
}

export interface Session {
  readonly cfg: Config;
  readonly info: SessionInfo;
  readonly login: LoginDecision;
  readonly ch: ControlChannel;
  readonly data: DataChannel;
  /** null: the control connection is clear text (PBSZ/PROT get 503). */
  readonly tls: SessionTls | null;
  /** PROT: C clear, P private data connections (AUTH SSL / TLS-P imply P). */
  prot: 'C' | 'P';
  type: 'ascii' | 'binary';
  epsvAll: boolean;
  /** The data connection of the transfer in progress, so ABOR can end it. */
  activeData: net.Socket | null;
  /** MLST/MLSD facts selected with OPTS MLST (RFC 3659 §7.9). */
  mlstFacts: readonly string[];
  /** REST offset for the next RETR/STOR/STOU (exact up to 2^63-1). */
  restartPos: bigint;
  /** RANG octet range (end inclusive) for the next RETR, and for HASH. */
  range: { readonly start: bigint; readonly end: bigint } | null;
  /** RNFR's path, waiting for RNTO. */
  renameFrom: string | null;
  /** HASH algorithm selected with OPTS HASH (worker/digest.ts HASH_NAMES). */
  hashAlgorithm: string;
  /** ABOR arrived while the transfer in activeData was running. */
  abortRequested: boolean;
}

/** Every fact MLST/MLSD can give, in FEAT order. */
export const MLST_FACTS = ['modify', 'perm', 'size', 'type', 'unix.group', 'unix.mode', 'unix.owner'] as const;

/** Register the data connection a transfer is using (for ABOR). */
export function beginTransfer(s: Session, socket: net.Socket): void {
  s.activeData = socket;
}

export function endTransfer(s: Session): void {
  s.activeData = null;
}

export function createSession(
  ch: ControlChannel,
  cfg: Config,
  info: SessionInfo,
  login: LoginDecision,
  sessionTls: SessionTls | null = null,
  prot: 'C' | 'P' = 'C',
): Session {
  // The DataChannel reads PROT through the session object made here.
  const holder: { s: Session | null } = { s: null };
  const s: Session = {
    cfg,
    info,
    login,
    ch,
    tls: sessionTls,
    prot,
    data: new DataChannel(cfg, info, {
      ctx: sessionTls?.ctx ?? null,
      controlCert: sessionTls?.controlCert ?? null,
      holder: sessionTls?.holder ?? null,
      anonymous: login.kind === 'anonymous',
      prot: () => holder.s?.prot ?? 'C',
      // After the 522 reply is written (the caller writes it as soon as open() returns).
      endSession: () => setImmediate(() => ch.close()),
      replaceFinalReply: (code, text, fatal) => ch.replaceFinalReply(code, text, fatal),
    }),
    type: 'ascii',
    epsvAll: false,
    activeData: null,
    mlstFacts: MLST_FACTS,
    restartPos: 0n,
    range: null,
    renameFrom: null,
    hashAlgorithm: 'SHA-256',
    abortRequested: false,
  };
  holder.s = s;
  return s;
}

export type Handler = (s: Session, arg: string | null) => void | Promise<void>;

/** One row of the command table: what a command needs, and what it does. */
export interface CommandSpec {
  readonly handler: Handler;
  /**
   * When the command is available at all (vsftpd's gates). A command that
   * exists but is not available gets "550 Permission denied.".
   */
  readonly gate?: (s: Session) => boolean;
}

export type CommandTable = Readonly<Record<string, CommandSpec>>;

/**
 * Anonymous rights: anonymous sessions, and guest/virtual users without
 * virtual_use_local_privs (vsftpd treats those as anonymous).
 */
export const isAnon = (s: Session): boolean => s.login.anonRights;

/* vsftpd's gates, by name, so the tables read like postlogin.c. */
export const GATES = {
  /* STOR, STOU */
  upload: (s: Session): boolean => s.cfg.write_enable && (!isAnon(s) || s.cfg.anon_upload_enable),
  /* MKD, XMKD */
  mkdir: (s: Session): boolean => s.cfg.write_enable && (!isAnon(s) || s.cfg.anon_mkdir_write_enable),
  /* DELE, RMD, XRMD, RNFR, RNTO, APPE (and MDTM's setter) */
  otherWrite: (s: Session): boolean => s.cfg.write_enable && (!isAnon(s) || s.cfg.anon_other_write_enable),
  /* MFMT: MDTM's setter as a command of its own */
  setTime: (s: Session): boolean =>
    s.cfg.mdtm_write && s.cfg.write_enable && (!isAnon(s) || s.cfg.anon_other_write_enable),
  /* SITE */
  site: (s: Session): boolean => !isAnon(s),
  download: (s: Session): boolean => s.cfg.download_enable,
  dirlist: (s: Session): boolean => s.cfg.dirlist_enable,
  pasv: (s: Session): boolean => s.cfg.pasv_enable && !s.epsvAll,
  epsv: (s: Session): boolean => s.cfg.pasv_enable,
  port: (s: Session): boolean => s.cfg.port_enable && !s.epsvAll,
} as const;

/**
 * "~" and "~/x" name the login directory, as in vsftpd; "~user" and
 * "~user/x" name that user's home with tilde_user_enable (from the host's
 * /etc/passwd, read before the jail; inside a jail it exists only if the
 * same path exists there).
 */
export function expandPath(s: Session, p: string): string {
  if (p === '~') return s.login.jail.cwd;
  if (p.startsWith('~/')) return s.login.jail.cwd + p.slice(1);
  if (s.cfg.tilde_user_enable && p.startsWith('~')) {
    const slash = p.indexOf('/');
    const home = homeOf(slash === -1 ? p.slice(1) : p.slice(1, slash));
    if (home !== null) return slash === -1 ? home : home + p.slice(slash);
  }
  return p;
}

/** vsftpd's prepend_path_to_filename: a relative name gets the cwd in front. */
export function absolutePath(p: string): string {
  if (p.startsWith('/')) return p;
  const cwd = process.cwd();
  return cwd.endsWith('/') ? `${cwd}${p}` : `${cwd}/${p}`;
}

/** 257 replies quote the path and double embedded quotes (RFC 959). */
export function quotePath(p: string): string {
  return `"${p.replace(/"/g, '""')}"`;
}

export function setTitle(s: Session, what: string): void {
  process.title = `tsftpd: ${normalizeAddress(s.info.remoteAddress)}/${s.login.user}: ${what}`;
}
