/*
 * W2: the logged-in session, run as the session user inside its jail
 * (vsftpd's postlogin.c). One table says, for every command, what it needs;
 * the dispatcher applies those rules, the handlers do the work.
 */

import * as fs from 'node:fs';
import type { Config } from '../config/options';
import type { LoginDecision, SessionInfo } from '../ipc/messages';
import type { ControlChannel, FtpCommand } from '../protocol/control';
import { featureLines } from '../protocol/features';
import { DataChannel, normalizeAddress } from './data';
import { listLines, parseLsArgument } from './ls';
import { receiveFile, sendFile, sendLines } from './transfer';

export interface Session {
  readonly cfg: Config;
  readonly info: SessionInfo;
  readonly login: LoginDecision;
  readonly ch: ControlChannel;
  readonly data: DataChannel;
  type: 'ascii' | 'binary';
  epsvAll: boolean;
}

type Handler = (s: Session, arg: string | null) => void | Promise<void>;

interface CommandSpec {
  readonly handler: Handler;
  /**
   * When the command is available at all (vsftpd's gates). A command that
   * exists but is not available gets "550 Permission denied.".
   */
  readonly gate?: (s: Session) => boolean;
  /** Reply 501 when the argument is missing. */
  readonly needsArg?: boolean;
}

const isAnon = (s: Session): boolean => s.login.kind === 'anonymous';

/* vsftpd's gates, by name, so the table reads like postlogin.c. */
const GATES = {
  /* STOR, STOU */
  upload: (s: Session) => s.cfg.write_enable && (!isAnon(s) || s.cfg.anon_upload_enable),
  download: (s: Session) => s.cfg.download_enable,
  dirlist: (s: Session) => s.cfg.dirlist_enable,
  pasv: (s: Session) => s.cfg.pasv_enable && !s.epsvAll,
  epsv: (s: Session) => s.cfg.pasv_enable,
  port: (s: Session) => s.cfg.port_enable && !s.epsvAll,
  eprt: (s: Session) => s.cfg.port_enable && !s.epsvAll,
} as const;

/* SECURITY: HTTP verbs on an FTP port mean a cross-protocol attack. */
const HTTP_VERBS = new Set(['GET', 'POST', 'HEAD', 'OPTIONS', 'CONNECT']);

/** "~" and "~/x" name the login directory, as in vsftpd. */
function expandPath(s: Session, p: string): string {
  if (p === '~') return s.login.jail.cwd;
  if (p.startsWith('~/')) return s.login.jail.cwd + p.slice(1);
  return p;
}

function quotePath(p: string): string {
  return `"${p.replace(/"/g, '""')}"`;
}

function mdtmString(ms: number, localtime: boolean): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return localtime
    ? `${p(d.getFullYear(), 4)}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`
    : `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function setTitle(s: Session, what: string): void {
  process.title = `tsftpd: ${normalizeAddress(s.info.remoteAddress)}/${s.login.user}: ${what}`;
}

/* ---------------- handlers ---------------- */

function changeDir(s: Session, target: string): void {
  try {
    process.chdir(expandPath(s, target));
    s.ch.reply(250, 'Directory successfully changed.');
  } catch {
    s.ch.reply(550, 'Failed to change directory.');
  }
}

async function passive(s: Session, extended: boolean): Promise<void> {
  const port = await s.data.listenPassive();
  if (port === null) {
    s.ch.reply(425, 'Could not listen on a passive port.');
    return;
  }
  if (extended) {
    s.ch.reply(229, `Entering Extended Passive Mode (|||${port}|)`);
    return;
  }
  const ip = s.cfg.pasv_address ?? normalizeAddress(s.info.localAddress);
  const parts = ip.split('.');
  if (parts.length !== 4) {
    s.data.reset();
    s.ch.reply(425, 'PASV is IPv4 only; use EPSV.');
    return;
  }
  s.ch.reply(227, `Entering Passive Mode (${parts.join(',')},${port >> 8},${port & 0xff}).`);
}

function parsePortArg(arg: string): { host: string; port: number } | null {
  const nums = arg.split(',');
  if (nums.length !== 6) return null;
  const v = nums.map((n) => (/^\d{1,3}$/.test(n.trim()) ? Number(n.trim()) : -1));
  if (v.some((n) => n < 0 || n > 255)) return null;
  const [a, b, c, d, p1, p2] = v as [number, number, number, number, number, number];
  return { host: `${a}.${b}.${c}.${d}`, port: p1 * 256 + p2 };
}

/** EPRT |proto|addr|port| with any delimiter character (RFC 2428). */
function parseEprtArg(arg: string, controlIsV6: boolean): { host: string; port: number } | 'bad' | 'proto' {
  const delim = arg[0];
  if (delim === undefined || arg.length < 7) return 'bad';
  const parts = arg.split(delim);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return 'bad';
  const [, proto, host, portText] = parts as [string, string, string, string, string];
  if (!/^\d{1,5}$/.test(portText)) return 'bad';
  const port = Number(portText);
  if (proto === '1') return require('node:net').isIPv4(host) ? { host, port } : 'bad';
  if (proto === '2') {
    if (!controlIsV6) return 'proto';
    return require('node:net').isIPv6(host) ? { host, port } : 'bad';
  }
  return 'proto';
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

async function list(s: Session, arg: string | null, long: boolean): Promise<void> {
  const req = parseLsArgument(arg, s.cfg, long);
  const lines = await listLines({ ...req, target: expandPath(s, req.target) }, s.cfg);
  const conn = await s.data.open();
  if (!conn.ok) {
    s.ch.reply(conn.code, conn.text);
    return;
  }
  s.ch.reply(150, 'Here comes the directory listing.');
  const ok = await sendLines(lines ?? [], conn.socket);
  if (!ok) s.ch.reply(426, 'Failure writing network stream.');
  else if (lines === null) s.ch.reply(226, 'Transfer done (but failed to open directory).');
  else s.ch.reply(226, 'Directory send OK.');
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

function type(s: Session, arg: string | null): void {
  const a = (arg ?? '').toUpperCase();
  if (a === 'I' || a === 'L8' || a === 'L 8') {
    s.type = 'binary';
    s.ch.reply(200, 'Switching to Binary mode.');
  } else if (a === 'A' || a === 'A N') {
    s.type = 'ascii';
    s.ch.reply(200, 'Switching to ASCII mode.');
  } else {
    s.ch.reply(500, 'Unrecognised TYPE command.');
  }
}

const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map<string, CommandSpec>(
  Object.entries({
    USER: {
      handler: (s, arg) => {
        if (isAnon(s)) s.ch.reply(530, "Can't change from guest user.");
        else if (arg === s.login.loginName) s.ch.reply(331, 'Any password will do.');
        else s.ch.reply(530, "Can't change to another user.");
      },
    },
    PASS: { handler: (s) => s.ch.reply(230, 'Already logged in.') },
    QUIT: { handler: (s) => s.ch.fatal(221, 'Goodbye.') },
    NOOP: { handler: (s) => s.ch.reply(200, 'NOOP ok.') },
    SYST: { handler: (s) => s.ch.reply(215, 'UNIX Type: L8') },
    FEAT: { handler: (s) => s.ch.replyRaw(featureLines(s.cfg)) },
    OPTS: {
      handler: (s, arg) => {
        const a = (arg ?? '').toUpperCase();
        if (a === 'UTF8 ON' || a === 'UTF8') s.ch.reply(200, 'Always in UTF8 mode.');
        else s.ch.reply(501, 'Option not understood.');
      },
    },
    PWD: { handler: (s) => s.ch.reply(257, `${quotePath(process.cwd())} is the current directory`) },
    XPWD: { handler: (s) => s.ch.reply(257, `${quotePath(process.cwd())} is the current directory`) },
    CWD: { handler: (s, arg) => changeDir(s, arg ?? ''), needsArg: false },
    XCWD: { handler: (s, arg) => changeDir(s, arg ?? '') },
    CDUP: { handler: (s) => changeDir(s, '..') },
    XCUP: { handler: (s) => changeDir(s, '..') },
    TYPE: { handler: type },
    MODE: {
      handler: (s, arg) => {
        if ((arg ?? '').toUpperCase() === 'S') s.ch.reply(200, 'Mode set to S.');
        else s.ch.reply(504, 'Bad MODE command.');
      },
    },
    STRU: {
      handler: (s, arg) => {
        if ((arg ?? '').toUpperCase() === 'F') s.ch.reply(200, 'Structure set to F.');
        else s.ch.reply(504, 'Bad STRU command.');
      },
    },
    PASV: { handler: (s) => passive(s, false), gate: GATES.pasv },
    'P@SW': { handler: (s) => passive(s, false), gate: GATES.pasv },
    EPSV: {
      gate: GATES.epsv,
      handler: (s, arg) => {
        const a = (arg ?? '').toUpperCase();
        if (a === 'ALL') {
          s.epsvAll = true;
          s.ch.reply(200, 'EPSV ALL ok.');
          return undefined;
        }
        const v6 = !net4(s.info.localAddress);
        if (a === '' || (a === '1' && !v6) || (a === '2' && v6)) return passive(s, true);
        s.ch.reply(522, 'Bad network protocol.');
        return undefined;
      },
    },
    PORT: {
      gate: GATES.port,
      handler: (s, arg) => {
        const t = parsePortArg(arg ?? '');
        if (t === null || !s.data.setActive(t.host, t.port)) {
          s.data.reset();
          s.ch.reply(500, 'Illegal PORT command.');
          return;
        }
        s.ch.reply(200, 'PORT command successful. Consider using PASV.');
      },
    },
    EPRT: {
      gate: GATES.eprt,
      handler: (s, arg) => {
        const t = parseEprtArg(arg ?? '', !net4(s.info.localAddress));
        if (t === 'bad') {
          s.ch.reply(500, 'Bad EPRT command.');
        } else if (t === 'proto') {
          s.ch.reply(522, 'Bad EPRT protocol.');
        } else if (!s.data.setActive(t.host, t.port)) {
          s.ch.reply(500, 'Illegal EPRT command.');
        } else {
          s.ch.reply(200, 'EPRT command successful. Consider using EPSV.');
        }
      },
    },
    RETR: { handler: retr, gate: GATES.download },
    STOR: { handler: stor, gate: GATES.upload },
    LIST: { handler: (s, arg) => list(s, arg, true), gate: GATES.dirlist },
    NLST: { handler: (s, arg) => list(s, arg, false), gate: GATES.dirlist },
    SIZE: { handler: size },
    MDTM: { handler: mdtm },
    ALLO: { handler: (s) => s.ch.reply(202, 'ALLO command ignored.') },
    REIN: { handler: (s) => s.ch.reply(502, 'REIN not implemented.') },
    ACCT: { handler: (s) => s.ch.reply(502, 'ACCT not implemented.') },
    SMNT: { handler: (s) => s.ch.reply(502, 'SMNT not implemented.') },
  } satisfies Record<string, CommandSpec>),
);

function net4(addr: string): boolean {
  return normalizeAddress(addr).includes('.');
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
  if (spec.gate !== undefined && !spec.gate(s)) {
    s.ch.reply(550, 'Permission denied.');
    return undefined;
  }
  return spec.handler(s, cmd.arg);
}

export function runPostlogin(ch: ControlChannel, cfg: Config, info: SessionInfo, login: LoginDecision): void {
  const s: Session = {
    cfg,
    info,
    login,
    ch,
    data: new DataChannel(cfg, info),
    type: 'ascii',
    epsvAll: false,
  };
  setTitle(s, 'IDLE');
  ch.reply(230, 'Login successful.');
  ch.start((cmd) => dispatchPostlogin(s, cmd), cfg.idle_session_timeout);
}
