/*
 * What a session worker logs, and where: vsftpd-format lines (fd 4 or
 * syslog), xferlog lines (fd 5), JSON events (fd 6), and transfer counts to
 * master for metrics. The descriptors were inherited at fork; only those
 * master named in TSFTPD_LOG_FDS are ever written to.
 */

import { LOG_FD, logPlan, writeLine } from '../log/files';
import { vsftpdLine, xferlogLine, type VsftpdAction } from '../log/formats';
import { sysLog } from '../log/syslog';
import type { Config } from '../config/options';
import { normalizeAddress } from './data';
import { reportTransfer } from './ipc';
import type { Session } from './session';

/* Read at start, before the jail: which inherited descriptors are logs. */
const INHERITED = new Set(
  (process.env['TSFTPD_LOG_FDS'] ?? '')
    .split(',')
    .filter((x) => /^\d+$/.test(x))
    .map(Number),
);

function fd(slot: number): number | null {
  return INHERITED.has(slot) ? slot : null;
}

function vsftpdLog(s: Session, action: VsftpdAction, ok: boolean | null, extra: { arg?: string; bytes?: number; rate?: number }): void {
  const plan = logPlan(s.cfg);
  if (plan.vsftpd === null && !plan.syslog) return;
  const line = {
    date: new Date(),
    pid: process.pid,
    user: s.login.user,
    ok,
    action,
    client: normalizeAddress(s.info.remoteAddress),
    ...extra,
  };
  if (plan.syslog) sysLog(ok === false ? 'warning' : 'info', vsftpdLine(line, true));
  else writeLine(fd(LOG_FD.vsftpd), vsftpdLine(line));
}

function jsonLog(fields: Readonly<Record<string, string | number | boolean | null>>): void {
  writeLine(fd(LOG_FD.json), JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...fields }));
}

export interface TransferRecord {
  readonly direction: 'in' | 'out';
  /** Absolute path inside the jail (for STOU: the name actually created). */
  readonly file: string;
  readonly bytes: number;
  readonly seconds: number;
  readonly complete: boolean;
  /** The transfer type really used (ASCII only when conversion happened). */
  readonly type: 'ascii' | 'binary';
}

export function logTransfer(s: Session, t: TransferRecord): void {
  const rate = t.seconds > 0 ? t.bytes / t.seconds : t.bytes;
  vsftpdLog(s, t.direction === 'out' ? 'DOWNLOAD' : 'UPLOAD', t.complete, { arg: t.file, bytes: t.bytes, rate });
  const plan = logPlan(s.cfg);
  if (plan.xferlog !== null) {
    writeLine(
      fd(LOG_FD.xferlog),
      xferlogLine({
        date: new Date(),
        seconds: t.seconds,
        client: normalizeAddress(s.info.remoteAddress),
        bytes: t.bytes,
        file: t.file,
        type: t.type,
        direction: t.direction,
        access: s.login.kind === 'anonymous' ? 'anonymous' : s.login.kind === 'guest' ? 'guest' : 'real',
        user: s.login.kind === 'anonymous' ? (s.login.anonPassword ?? '?') : s.login.loginName,
        complete: t.complete,
      }),
    );
  }
  jsonLog({
    event: 'transfer',
    session: s.info.id,
    client: normalizeAddress(s.info.remoteAddress),
    user: s.login.user,
    direction: t.direction,
    path: t.file,
    bytes: t.bytes,
    seconds: Math.round(t.seconds * 1000) / 1000,
    rate: Math.round(rate),
    tls: s.data.lastTls,
    complete: t.complete,
  });
  // For master's counters, which only a metrics endpoint shows: without
  // one, the message would cost both processes a wake-up per file.
  if (s.cfg.metrics_enable) reportTransfer(t.direction, t.bytes, t.complete);
}

/** MKDIR, DELETE, RENAME ("from to"), RMDIR, CHMOD ("path mode"). */
export function logFileOp(s: Session, action: 'MKDIR' | 'DELETE' | 'RENAME' | 'RMDIR' | 'CHMOD', ok: boolean, arg: string): void {
  vsftpdLog(s, action, ok, { arg });
  jsonLog({ event: action.toLowerCase(), session: s.info.id, user: s.login.user, path: arg, ok });
}

/* The name vsftpd shows in [brackets]: the USER given so far, then the session's. */
let logUser: string | null = null;
export function setLogUser(name: string | null): void {
  logUser = name;
}
export function currentLogUser(): string | null {
  return logUser;
}

/**
 * log_ftp_protocol: every command (PASS masked, as vsftpd) and reply, from
 * W1 and W2 alike; `user` is the name given so far (null before USER).
 */
export function logProtocol(cfg: Config, user: string | null, client: string, kind: 'FTP command' | 'FTP response', text: string): void {
  if (!cfg.log_ftp_protocol) return;
  const plan = logPlan(cfg);
  const arg = kind === 'FTP command' && /^PASS( |$)/i.test(text) ? 'PASS <password>' : text;
  const line = { date: new Date(), pid: process.pid, user, ok: null, action: kind, client: normalizeAddress(client), arg };
  if (plan.syslog) sysLog('info', vsftpdLine(line, true));
  else writeLine(fd(LOG_FD.vsftpd), vsftpdLine(line));
}

/** A JSON event (json_log_file) from code that has no Session. */
export function jsonEvent(fields: Readonly<Record<string, string | number | boolean | null>>): void {
  jsonLog(fields);
}
