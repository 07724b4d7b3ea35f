/*
 * The admin-facing log files, opened by master as root (mode 0600, append)
 * and inherited by every worker at fork as fixed descriptors, so jailed
 * processes write to files they could never open (vsftpd does the same).
 *
 *   fd 4: vsftpd format  (vsftpd_log_file)  xferlog_enable, unless only
 *                                           xferlog_std_format; or dual_log_enable
 *   fd 5: xferlog format (xferlog_file)     xferlog_enable + xferlog_std_format,
 *                                           or dual_log_enable
 *   fd 6: JSON events    (json_log_file)
 *
 * Each line is one write(2) to an O_APPEND descriptor: whole lines, never
 * interleaved, without vsftpd's fcntl lock (Node has no fcntl; O_APPEND
 * writes of a line are atomic on local filesystems, so no_log_lock is moot).
 * syslog_enable sends vsftpd-format lines to syslog instead of fd 4.
 */

import * as fs from 'node:fs';
import type { Config } from '../config/options';

export const LOG_FD = { vsftpd: 4, xferlog: 5, json: 6 } as const;

export interface LogPlan {
  readonly vsftpd: string | null;
  readonly xferlog: string | null;
  readonly json: string | null;
  readonly syslog: boolean;
}

/** Which files a config asks for (vsftpd's rules, logging.c). */
export function logPlan(cfg: Config): LogPlan {
  const stdOnly = cfg.xferlog_enable && cfg.xferlog_std_format && !cfg.dual_log_enable;
  const wantVsftpd = (cfg.xferlog_enable && !stdOnly) || cfg.dual_log_enable || cfg.log_ftp_protocol;
  const wantXfer = (cfg.xferlog_enable && cfg.xferlog_std_format) || cfg.dual_log_enable;
  return {
    vsftpd: wantVsftpd && !cfg.syslog_enable ? cfg.vsftpd_log_file : null,
    xferlog: wantXfer ? cfg.xferlog_file : null,
    json: cfg.json_log_file,
    syslog: wantVsftpd && cfg.syslog_enable,
  };
}

export interface OpenLogs {
  /** fd per slot, or null; passed to workers at fork in slot order 4, 5, 6. */
  readonly fds: { readonly vsftpd: number | null; readonly xferlog: number | null; readonly json: number | null };
  readonly plan: LogPlan;
}

export type OpenLogsResult = { ok: true; logs: OpenLogs } | { ok: false; option: string; message: string };

export function openLogs(cfg: Config): OpenLogsResult {
  const plan = logPlan(cfg);
  const open = (path: string | null, option: string): number | null | { option: string; message: string } => {
    if (path === null) return null;
    try {
      return fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
    } catch (e: unknown) {
      return { option, message: `${path}: ${e instanceof Error ? e.message : String(e)}` };
    }
  };
  const v = open(plan.vsftpd, 'vsftpd_log_file');
  if (v !== null && typeof v === 'object') return { ok: false, ...v };
  const x = open(plan.xferlog, 'xferlog_file');
  if (x !== null && typeof x === 'object') return { ok: false, ...x };
  const j = open(plan.json, 'json_log_file');
  if (j !== null && typeof j === 'object') return { ok: false, ...j };
  return { ok: true, logs: { fds: { vsftpd: v, xferlog: x, json: j }, plan } };
}

/** One whole line, one write; a log failure never ends a session. */
export function writeLine(fd: number | null, line: string): void {
  if (fd === null) return;
  try {
    fs.writeSync(fd, `${line}\n`);
  } catch {
    // nothing to do
  }
}
