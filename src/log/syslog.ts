/*
 * syslog_enable: vsftpd-format lines (without date and pid, which syslog
 * adds) to syslog, facility FTP. openlog() with ndelay connects to /dev/log
 * at once, so a process that jails itself afterwards keeps the socket.
 */

import * as posix from 'posix';

let opened = false;

export function openSysLog(): void {
  if (opened) return;
  posix.openlog('tsftpd', { pid: true, ndelay: true }, 'ftp');
  opened = true;
}

export function sysLog(level: 'info' | 'warning', line: string): void {
  if (!opened) openSysLog();
  posix.syslog(level, line);
}
