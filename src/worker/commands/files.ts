/*
 * File transfers and file facts: RETR, STOR, SIZE, MDTM.
 */

import * as fs from 'node:fs';
import { expandPath, GATES, isAnon, setTitle, type CommandTable, type Session } from '../session';
import { receiveFile, sendFile } from '../transfer';

function mdtmString(ms: number, localtime: boolean): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return localtime
    ? `${p(d.getFullYear(), 4)}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`
    : `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

async function retr(s: Session, arg: string | null): Promise<void> {
  const file = expandPath(s, arg ?? '');
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not hang the session.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    s.ch.reply(550, 'Failed to open file.');
    return;
  }
  try {
    const st = fs.fstatSync(fd);
    // SECURITY: anonymous users read only world-readable files by default.
    const worldReadableOk = !isAnon(s) || !s.cfg.anon_world_readable_only || (st.mode & 0o004) !== 0;
    if (!st.isFile() || !worldReadableOk) {
      s.ch.reply(550, 'Failed to open file.');
      return;
    }
    const conn = await s.data.open();
    if (!conn.ok) {
      s.ch.reply(conn.code, conn.text);
      return;
    }
    setTitle(s, `RETR ${file}`);
    s.ch.reply(150, `Opening BINARY mode data connection for ${arg ?? ''} (${st.size} bytes).`);
    const result = await sendFile(fd, 0, conn.socket);
    if (result.ok) s.ch.reply(226, 'Transfer complete.');
    else if (result.side === 'local') s.ch.reply(451, 'Failure reading local file.');
    else s.ch.reply(426, 'Failure writing network stream.');
  } finally {
    fs.closeSync(fd);
    setTitle(s, 'IDLE');
  }
}

async function stor(s: Session, arg: string | null): Promise<void> {
  const file = expandPath(s, arg ?? '');
  const C = fs.constants;
  // SECURITY: anonymous uploads never overwrite (O_EXCL), as vsftpd.
  const flags = C.O_WRONLY | C.O_CREAT | C.O_NONBLOCK | (isAnon(s) ? C.O_EXCL : 0);
  let fd: number;
  try {
    fd = fs.openSync(file, flags, s.cfg.file_open_mode);
  } catch {
    s.ch.reply(553, 'Could not create file.');
    return;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      s.ch.reply(553, 'Could not create file.');
      return;
    }
    const conn = await s.data.open();
    if (!conn.ok) {
      s.ch.reply(conn.code, conn.text);
      return;
    }
    // STOR replaces the file's content (truncate after the open succeeded).
    fs.ftruncateSync(fd, 0);
    setTitle(s, `STOR ${file}`);
    s.ch.reply(150, 'Ok to send data.');
    const result = await receiveFile(fd, 0, conn.socket);
    if (result.ok) s.ch.reply(226, 'Transfer complete.');
    else if (result.side === 'local') s.ch.reply(451, 'Failure writing to local file.');
    else s.ch.reply(426, 'Failure reading network stream.');
  } finally {
    fs.closeSync(fd);
    setTitle(s, 'IDLE');
  }
}

function size(s: Session, arg: string | null): void {
  try {
    const st = fs.statSync(expandPath(s, arg ?? ''));
    if (st.isFile()) {
      s.ch.reply(213, String(st.size));
      return;
    }
  } catch {
    // fall through
  }
  s.ch.reply(550, 'Could not get file size.');
}

function mdtm(s: Session, arg: string | null): void {
  try {
    const st = fs.statSync(expandPath(s, arg ?? ''));
    if (st.isFile()) {
      s.ch.reply(213, mdtmString(st.mtimeMs, s.cfg.use_localtime));
      return;
    }
  } catch {
    // fall through
  }
  s.ch.reply(550, 'Could not get file modification time.');
}

export const FILE_COMMANDS: CommandTable = {
  RETR: { handler: retr, gate: GATES.download },
  STOR: { handler: stor, gate: GATES.upload },
  SIZE: { handler: size },
  MDTM: { handler: mdtm },
};
