/*
 * Files: transfers (RETR, STOR, APPE, STOU, with REST/RANG and ABOR), file
 * facts (SIZE, MDTM, MFMT, AVBL) and changes (DELE, RNFR/RNTO, MKD, RMD),
 * with vsftpd 3.0.3's reply texts (postlogin.c).
 *
 * Paths are used as the client gave them (after ~ expansion): the process
 * runs as the session user inside its jail, so the kernel resolves them and
 * checks permissions.
 */

import * as fs from 'node:fs';
import type * as net from 'node:net';
import {
  formatTimeVal,
  logSafe,
  parseRangArg,
  parseRestArg,
  parseTimeVal,
  parseVsftpdTime,
  splitMdtmSetArg,
  type ByteRange,
} from '../cmdparse';
import {
  absolutePath,
  beginTransfer,
  endTransfer,
  expandPath,
  GATES,
  isAnon,
  quotePath,
  setTitle,
  type CommandTable,
  type Session,
} from '../session';
import { requestChownUpload, sendToMaster } from '../ipc';
import { lockFile } from '../../sys/native';
import { RateLimiter, sessionMaxRate } from '../ratelimit';
import { abortTransfer, receiveFile, sendFile, type TransferResult } from '../transfer';
import { logFileOp, logTransfer } from '../sessionlog';

const C = fs.constants;

function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** ENOSPC/EDQUOT: RFC 959's 452 (vsftpd answers 451/553 without telling why). */
function isDiskFull(errno: string | undefined): boolean {
  return errno === 'ENOSPC' || errno === 'EDQUOT';
}
const DISK_FULL_TEXT = 'Insufficient storage space in system.';

/** REST and RANG apply to the next transfer command only. */
function takeRestart(s: Session): { offset: bigint; range: ByteRange | null } {
  const r = { offset: s.restartPos, range: s.range };
  s.restartPos = 0n;
  s.range = null;
  return r;
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // nothing to do
  }
}

// ---------------------------------------------------------------------------
// transfers

/** Run one transfer with its data socket registered for ABOR. */
async function runTransfer(
  s: Session,
  socket: net.Socket,
  title: string,
  preliminary: string,
  body: (sock: net.Socket, limiter: RateLimiter) => Promise<TransferResult>,
): Promise<TransferResult> {
  s.abortRequested = false;
  beginTransfer(s, socket);
  setTitle(s, title);
  const limiter = new RateLimiter(sessionMaxRate(s.cfg, isAnon(s)), s.cfg.user_max_rate);
  // user_max_rate: master shares the user's budget among running transfers.
  const shared = s.cfg.user_max_rate > 0;
  if (shared) sendToMaster({ t: 'transfer_state', active: true });
  try {
    s.ch.reply(150, preliminary);
    return await body(socket, limiter);
  } finally {
    limiter.stop();
    if (shared) sendToMaster({ t: 'transfer_state', active: false });
    endTransfer(s);
    setTitle(s, 'IDLE');
  }
}

interface Outcome {
  readonly ok: boolean;
  readonly code: number;
  readonly text: string;
  /** The session ends after this reply (data timeout). */
  readonly fatal: boolean;
}

/**
 * The final reply of a transfer, as vsftpd: 226; 426 for the network side
 * (also after ABOR, whose own 226 follows); 451 (452 for a full disk) for
 * the file side; 421 and the end of the session on a data timeout.
 */
function transferOutcome(s: Session, r: TransferResult, direction: 'send' | 'receive'): Outcome {
  const aborted = s.abortRequested;
  s.abortRequested = false;
  const fail = (code: number, text: string, fatal = false): Outcome => ({ ok: false, code, text, fatal });
  if (r.ok && !aborted) return { ok: true, code: 226, text: 'Transfer complete.', fatal: false };
  if (!r.ok && r.side === 'timeout') return fail(421, 'Data timeout. Reconnect. Sorry.', true);
  if (!r.ok && r.side === 'local' && !aborted) {
    if (direction === 'send') return fail(451, 'Failure reading local file.');
    if (isDiskFull(r.errno)) return fail(452, DISK_FULL_TEXT);
    return fail(451, 'Failure writing to local file.');
  }
  return direction === 'send' ? fail(426, 'Failure writing network stream.') : fail(426, 'Failure reading network stream.');
}

function sendOutcome(s: Session, o: Outcome): void {
  if (o.fatal) s.ch.fatal(o.code, o.text);
  else s.ch.reply(o.code, o.text);
}

async function retr(s: Session, arg: string | null): Promise<void> {
  const { offset, range } = takeRestart(s);
  if (!s.data.isConfigured) {
    s.ch.reply(425, 'Use PORT or PASV first.');
    return;
  }
  // vsftpd refuses a resumed ASCII download even when it would not convert.
  if (s.type === 'ascii' && (offset !== 0n || range !== null)) {
    s.ch.reply(550, 'No support for resume of ASCII transfer.');
    return;
  }
  const name = expandPath(s, arg ?? '');
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not hang the session.
    fd = fs.openSync(name, C.O_RDONLY | C.O_NONBLOCK);
  } catch {
    s.ch.reply(550, 'Failed to open file.');
    return;
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    // SECURITY: anonymous users read only world-readable files by default.
    const worldReadableOk = !isAnon(s) || !s.cfg.anon_world_readable_only || (st.mode & 0o004n) !== 0n;
    if (!st.isFile() || !worldReadableOk) {
      s.ch.reply(550, 'Failed to open file.');
      return;
    }
    // lock_upload_files: a download waits for an upload of the same file.
    if (s.cfg.lock_upload_files && (await lockFile(fd, 'read')) !== 0) {
      s.ch.reply(550, 'Failed to open file.');
      return;
    }
    const conn = await s.data.open();
    if (!conn.ok) {
      s.ch.reply(conn.code, conn.text);
      return;
    }
    const ascii = s.type === 'ascii' && s.cfg.ascii_download_enable;
    const text = `Opening ${ascii ? 'ASCII' : 'BINARY'} mode data connection for ${name} (${st.size} bytes).`;
    const started = process.hrtime.bigint();
    const result = await runTransfer(s, conn.socket, `RETR ${logSafe(name)}`, text, (sock, limiter) =>
      sendFile(fd, sock, {
        offset: range === null ? offset : range.start,
        end: range === null ? null : range.end,
        ascii,
        stallSeconds: s.cfg.data_connection_timeout,
        limiter,
        chunkSize: s.cfg.trans_chunk_size,
        sendfile: s.cfg.use_sendfile,
      }),
    );
    const outcome = transferOutcome(s, result, 'send');
    logTransfer(s, {
      direction: 'out',
      file: absolutePath(name),
      bytes: result.bytes,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      complete: outcome.ok,
      type: ascii ? 'ascii' : 'binary',
    });
    sendOutcome(s, outcome);
  } finally {
    closeQuietly(fd);
  }
}

type UploadKind = 'STOR' | 'APPE' | 'STOU';

/** Most names STOU tries before giving up (vsftpd: unbounded). */
const STOU_MAX_TRIES = 100_000;

interface OpenedUpload {
  readonly fd: number;
  readonly name: string;
  /** This command created the file (so a failed upload may delete it). */
  readonly created: boolean;
}

/**
 * Open the upload target as vsftpd does: STOU and anonymous uploads (unless
 * anon_other_write_enable) create exclusively and never overwrite; others
 * may open an existing file. Files are created with file_open_mode; the
 * jail already set the umask. Returns the errno code on failure.
 */
function openUpload(s: Session, kind: UploadKind, path: string): OpenedUpload | { errno: string | undefined } {
  const base = C.O_WRONLY | C.O_NONBLOCK | (kind === 'APPE' ? C.O_APPEND : 0);
  const mode = s.cfg.file_open_mode;
  if (kind === 'STOU') {
    // vsftpd (wu-ftpd's scheme): the name itself if free, then name.1, name.2...; no name: STOU.1...
    // The 150 reply names the file as vsftpd does: the argument after ~ expansion.
    const stem = path === '' ? 'STOU' : path;
    let lastErr: string | undefined;
    for (let i = path === '' ? 1 : 0; i < STOU_MAX_TRIES; i++) {
      const suffix = i === 0 ? '' : `.${i}`;
      try {
        const fd = fs.openSync(`${stem}${suffix}`, base | C.O_CREAT | C.O_EXCL, mode);
        return { fd, name: `${stem}${suffix}`, created: true };
      } catch (e: unknown) {
        lastErr = errnoOf(e);
        if (lastErr !== 'EEXIST') break;
      }
    }
    return { errno: lastErr };
  }
  try {
    return { fd: fs.openSync(path, base | C.O_CREAT | C.O_EXCL, mode), name: path, created: true };
  } catch (e: unknown) {
    const errno = errnoOf(e);
    // SECURITY: anonymous uploads never overwrite (vsftpd), unless allowed.
    const mayOverwrite = !isAnon(s) || s.cfg.anon_other_write_enable;
    if (errno !== 'EEXIST' || !mayOverwrite) return { errno };
  }
  try {
    return { fd: fs.openSync(path, base | C.O_CREAT, mode), name: path, created: false };
  } catch (e: unknown) {
    return { errno: errnoOf(e) };
  }
}

function removeFailedUpload(s: Session, path: string, deletable: boolean, always = false): void {
  if (!deletable || (!always && !s.cfg.delete_failed_uploads)) return;
  try {
    fs.unlinkSync(path);
  } catch {
    // already gone, or not ours to remove
  }
}

async function upload(s: Session, arg: string | null, kind: UploadKind): Promise<void> {
  const { offset, range } = takeRestart(s);
  if (!s.data.isConfigured) {
    s.ch.reply(425, 'Use PORT or PASV first.');
    return;
  }
  if (range !== null) {
    // RANG is implemented for RETR and HASH only (FEAT does not list RANG STREAM).
    s.ch.reply(504, 'Command not implemented for that parameter.');
    return;
  }
  // fs.writeSync positions are JS numbers: exact up to 2^53-1 (8 PiB).
  if (kind !== 'APPE' && offset > BigInt(Number.MAX_SAFE_INTEGER)) {
    s.ch.reply(554, 'Requested action not taken: invalid REST parameter.');
    return;
  }
  const name = arg ?? '';
  const opened = openUpload(s, kind, expandPath(s, name));
  if (!('fd' in opened)) {
    if (isDiskFull(opened.errno)) s.ch.reply(452, DISK_FULL_TEXT);
    else s.ch.reply(553, 'Could not create file.');
    return;
  }
  const { fd, created } = opened;
  const path = opened.name;
  // STOR from 0 replaces the content: once truncated, a failed upload leaves
  // nothing worth keeping. Deviation: vsftpd also deletes a pre-existing file
  // after a failed APPE or REST+STOR, or after a failed data connection; we
  // delete only what this upload created or truncated.
  let replaced = false;
  // Clean up before the reply, so a client never sees the failure first.
  const fail = (code: number, text: string, fatal = false, alwaysRemove = false): void => {
    removeFailedUpload(s, path, created || replaced, alwaysRemove);
    if (fatal) s.ch.fatal(code, text);
    else s.ch.reply(code, text);
  };
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    if (!st.isFile()) {
      s.ch.reply(553, 'Could not create file.');
      return;
    }
    // lock_upload_files: one writer at a time, and no reader while it writes;
    // taken before the truncate below, as vsftpd.
    if (s.cfg.lock_upload_files && (await lockFile(fd, 'write')) !== 0) {
      fail(553, 'Could not create file.');
      return;
    }
    // chown_uploads: priv gives the file away before a byte is written (vsftpd's order).
    if (isAnon(s) && s.cfg.chown_uploads && !(await requestChownUpload(absolutePath(path), st.dev, st.ino))) {
      fail(553, 'Could not create file.', false, true);
      return;
    }
    const conn = await s.data.open();
    if (!conn.ok) {
      fail(conn.code, conn.text);
      return;
    }
    if (kind === 'STOR' && offset === 0n && !created) {
      fs.ftruncateSync(fd, 0);
      replaced = true;
    }
    const preliminary = kind === 'STOU' ? `FILE: ${opened.name}` : 'Ok to send data.';
    const ascii = s.type === 'ascii' && s.cfg.ascii_upload_enable;
    const started = process.hrtime.bigint();
    const result = await runTransfer(s, conn.socket, `${kind} ${logSafe(name)}`, preliminary, (sock, limiter) =>
      receiveFile(fd, sock, {
        position: kind === 'APPE' ? null : Number(offset),
        ascii,
        stallSeconds: s.cfg.data_connection_timeout,
        limiter,
      }),
    );
    const outcome = transferOutcome(s, result, 'receive');
    // STOU logs the name actually created (vsftpd logs the requested one).
    logTransfer(s, {
      direction: 'in',
      file: absolutePath(path),
      bytes: result.bytes,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      complete: outcome.ok,
      type: ascii ? 'ascii' : 'binary',
    });
    if (outcome.ok) s.ch.reply(outcome.code, outcome.text);
    else fail(outcome.code, outcome.text, outcome.fatal);
  } finally {
    closeQuietly(fd);
  }
}

/**
 * ABOR (RFC 959). With async_abor_enable, an ABOR during a transfer (the
 * control channel hands it over while the transfer runs; see
 * protocol/control.ts) ends the data connection: the transfer answers 426,
 * then ABOR answers 226. Otherwise, as in vsftpd, it is answered in order
 * after the transfer: "225 No transfer to ABOR.".
 */
function abor(s: Session): void {
  const sock = s.activeData;
  if (sock === null || !s.cfg.async_abor_enable) {
    s.ch.afterCommand(() => s.ch.reply(225, 'No transfer to ABOR.'));
    return;
  }
  s.abortRequested = true;
  // Not sock.destroy(): a native loop may be using the descriptor (transfer.ts).
  abortTransfer(sock);
  s.ch.afterCommand(() => s.ch.reply(226, 'ABOR successful.'));
}

function rest(s: Session, arg: string | null): void {
  const v = parseRestArg(arg);
  if (v === 'too-large') {
    s.restartPos = 0n;
    s.ch.reply(501, 'Restart position out of range.');
    return;
  }
  s.restartPos = v;
  s.range = null;
  s.ch.reply(350, `Restart position accepted (${v}).`);
}

function rang(s: Session, arg: string | null): void {
  const r = parseRangArg(arg);
  s.range = null;
  if (r === 'invalid') {
    s.ch.reply(501, 'Invalid byte range; range reset.');
  } else if (r === 'reset') {
    s.ch.reply(350, 'Byte range reset.');
  } else {
    s.range = r;
    s.restartPos = 0n;
    s.ch.reply(350, `Restarting at ${r.start}. End byte range at ${r.end}.`);
  }
}

// ---------------------------------------------------------------------------
// facts

function size(s: Session, arg: string | null): void {
  try {
    // Deliberately the binary size in ASCII mode too (vsftpd: an ASCII size
    // would mean reading the whole file).
    const st = fs.statSync(expandPath(s, arg ?? ''), { bigint: true });
    if (st.isFile()) {
      s.ch.reply(213, String(st.size));
      return;
    }
  } catch {
    // fall through
  }
  s.ch.reply(550, 'Could not get file size.');
}

function exists(path: string): boolean {
  try {
    fs.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** MDTM file, and vsftpd's setter MDTM YYYYMMDDHHMMSS file (mdtm_write). */
function mdtm(s: Session, arg: string | null): void {
  const whole = arg ?? '';
  // vsftpd: the setter form only when the whole argument names nothing.
  const set = s.cfg.mdtm_write && !exists(expandPath(s, whole)) ? splitMdtmSetArg(whole) : null;
  const path = expandPath(s, set === null ? whole : set.path);
  // vsftpd: a setter without write permission falls through to the getter,
  // which then fails on the whole argument.
  if (set !== null && GATES.otherWrite(s)) {
    try {
      if (!fs.statSync(path).isFile()) throw new Error('not a regular file');
      const t = new Date(parseVsftpdTime(set.time, s.cfg.use_localtime));
      fs.utimesSync(path, t, t);
      s.ch.reply(213, 'File modification time set.');
    } catch {
      s.ch.reply(550, 'Could not set file modification time.');
    }
    return;
  }
  try {
    const st = fs.statSync(set === null ? path : expandPath(s, whole));
    if (st.isFile()) {
      s.ch.reply(213, formatTimeVal(st.mtimeMs, s.cfg.use_localtime));
      return;
    }
  } catch {
    // fall through
  }
  s.ch.reply(550, 'Could not get file modification time.');
}

/** MFMT YYYYMMDDHHMMSS[.sss] path (draft-somers-ftp-mfxx): always UTC. */
function mfmt(s: Session, arg: string | null): void {
  const a = arg ?? '';
  const sp = a.indexOf(' ');
  const ms = sp === -1 ? null : parseTimeVal(a.slice(0, sp));
  if (sp === -1 || ms === null || sp + 1 >= a.length) {
    s.ch.reply(501, 'Syntax error in parameters or arguments.');
    return;
  }
  const name = a.slice(sp + 1);
  const path = expandPath(s, name);
  try {
    const st = fs.statSync(path);
    fs.utimesSync(path, st.atime, new Date(ms));
  } catch {
    s.ch.reply(550, 'Could not set file modification time.');
    return;
  }
  s.ch.reply(213, `Modify=${formatTimeVal(ms, false)}; ${name}`);
}

/**
 * AVBL [dir] (draft-peterson-streamlined-ftp-command-extensions): bytes
 * available to an unprivileged user on the directory's filesystem
 * (statfs f_bavail × f_bsize; quotas are not consulted).
 */
function avbl(s: Session, arg: string | null): void {
  const path = expandPath(s, arg === null || arg === '' ? '.' : arg);
  try {
    if (!fs.statSync(path).isDirectory()) {
      s.ch.reply(550, 'Not a directory.');
      return;
    }
    const st = fs.statfsSync(path, { bigint: true });
    s.ch.reply(213, String(st.bavail * st.bsize));
  } catch {
    s.ch.reply(550, 'Could not get available space.');
  }
}

// ---------------------------------------------------------------------------
// changes

function mkd(s: Session, arg: string | null): void {
  const name = expandPath(s, arg ?? '');
  try {
    // The umask decides the final mode, as in vsftpd.
    fs.mkdirSync(name, 0o777);
  } catch {
    logFileOp(s, 'MKDIR', false, absolutePath(name));
    s.ch.reply(550, 'Create directory operation failed.');
    return;
  }
  logFileOp(s, 'MKDIR', true, absolutePath(name));
  s.ch.reply(257, `${quotePath(absolutePath(name))} created`);
}

function rmd(s: Session, arg: string | null): void {
  const name = expandPath(s, arg ?? '');
  try {
    fs.rmdirSync(name);
  } catch {
    logFileOp(s, 'RMDIR', false, absolutePath(name));
    s.ch.reply(550, 'Remove directory operation failed.');
    return;
  }
  logFileOp(s, 'RMDIR', true, absolutePath(name));
  s.ch.reply(250, 'Remove directory operation successful.');
}

function dele(s: Session, arg: string | null): void {
  const name = expandPath(s, arg ?? '');
  try {
    fs.unlinkSync(name);
  } catch {
    logFileOp(s, 'DELETE', false, absolutePath(name));
    s.ch.reply(550, 'Delete operation failed.');
    return;
  }
  logFileOp(s, 'DELETE', true, absolutePath(name));
  s.ch.reply(250, 'Delete operation successful.');
}

function rnfr(s: Session, arg: string | null): void {
  s.renameFrom = null;
  const from = expandPath(s, arg ?? '');
  try {
    fs.statSync(from);
  } catch {
    s.ch.reply(550, 'RNFR command failed.');
    return;
  }
  s.renameFrom = from;
  s.ch.reply(350, 'Ready for RNTO.');
}

function rnto(s: Session, arg: string | null): void {
  const from = s.renameFrom;
  if (from === null) {
    s.ch.reply(503, 'RNFR required first.');
    return;
  }
  // Start the two-step process again whatever happens.
  s.renameFrom = null;
  const to = expandPath(s, arg ?? '');
  const what = `${absolutePath(from)} ${absolutePath(to)}`;
  try {
    // Might replace the target: no worse than DELE, which the same gate allows.
    fs.renameSync(from, to);
  } catch {
    logFileOp(s, 'RENAME', false, what);
    s.ch.reply(550, 'Rename failed.');
    return;
  }
  logFileOp(s, 'RENAME', true, what);
  s.ch.reply(250, 'Rename successful.');
}

export const FILE_COMMANDS: CommandTable = {
  RETR: { handler: retr, gate: GATES.download },
  STOR: { handler: (s, arg) => upload(s, arg, 'STOR'), gate: GATES.upload },
  STOU: { handler: (s, arg) => upload(s, arg, 'STOU'), gate: GATES.upload },
  APPE: { handler: (s, arg) => upload(s, arg, 'APPE'), gate: GATES.otherWrite },
  ABOR: { handler: abor },
  REST: { handler: rest },
  RANG: { handler: rang },
  SIZE: { handler: size },
  MDTM: { handler: mdtm },
  MFMT: { handler: mfmt, gate: GATES.setTime },
  AVBL: { handler: avbl },
  MKD: { handler: mkd, gate: GATES.mkdir },
  XMKD: { handler: mkd, gate: GATES.mkdir },
  RMD: { handler: rmd, gate: GATES.otherWrite },
  XRMD: { handler: rmd, gate: GATES.otherWrite },
  DELE: { handler: dele, gate: GATES.otherWrite },
  RNFR: { handler: rnfr, gate: GATES.otherWrite },
  RNTO: { handler: rnto, gate: GATES.otherWrite },
};
