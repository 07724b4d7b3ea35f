/*
 * The lines master itself writes to the admin's logs: CONNECT and LOGIN in
 * vsftpd's format (vsftpd_log_file and/or syslog) and the JSON events.
 * Where each goes was decided when the files were opened (log/files.ts).
 */

import { writeLine, type OpenLogs } from '../log/files';
import { vsftpdLine, type VsftpdLogEntry } from '../log/formats';
import { sysLog } from '../log/syslog';

export type JsonFields = Readonly<Record<string, string | number | boolean | null>>;

export class MasterLogs {
  constructor(private readonly logs: OpenLogs | null) {}

  /** A vsftpd-format line about client. */
  vsftpd(client: string, e: Omit<VsftpdLogEntry, 'date' | 'client'>): void {
    const logs = this.logs;
    if (logs === null) return;
    const entry: VsftpdLogEntry = { ...e, date: new Date(), client };
    if (logs.plan.syslog) {
      sysLog(e.ok === false ? 'warning' : 'info', vsftpdLine(entry, true));
    }
    writeLine(logs.fds.vsftpd, vsftpdLine(entry));
  }

  /** A JSON event line (json_log_file). */
  json(fields: JsonFields): void {
    const fd = this.logs?.fds.json ?? null;
    if (fd !== null) writeLine(fd, JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...fields }));
  }
}
