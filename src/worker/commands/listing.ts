/*
 * Directory listings: LIST, NLST and STAT (vsftpd's handle_dir_common(),
 * handle_stat()), MLSD and MLST (RFC 3659; worker/mlsx.ts). The lister
 * itself is worker/ls.ts, the patterns worker/glob.ts.
 *
 * A listing on the data connection registers its socket for ABOR
 * (beginTransfer) and streams: ABOR or a client that goes away ends it
 * with "426 Failure writing network stream.", a data connection that takes
 * nothing for data_connection_timeout seconds with "421 Data timeout.".
 */

import * as fs from 'node:fs';
import type * as net from 'node:net';
import { VERSION } from '../../version';
import { normalizeAddress } from '../data';
import {
  byteStringToText,
  closeDirQuiet,
  fsPath,
  openLsTarget,
  runListing,
  splitLsArgument,
  toByteString,
  type LineSink,
} from '../ls';
import { hiddenPredicate } from '../access';
import { mlstLine, openMlsdDirectory, processCredentials, runMlsd, type MlsxIdentity } from '../mlsx';
import {
  beginTransfer,
  endTransfer,
  expandPath,
  GATES,
  isAnon,
  MLST_FACTS,
  setTitle,
  type CommandTable,
  type Session,
} from '../session';
import { finishSocket } from '../transfer';

// ---------------------------------------------------------------------------
// sinks

/**
 * Bytes a listing may leave queued on its data socket before it waits for
 * 'drain'. Above the socket's 16 KiB high-water mark, so that a chunk of
 * lines (ls.ts, ~75 KiB) is not followed by a wait for the kernel each
 * time; still a bound on the memory a slow client can make us hold.
 */
const DATA_QUEUE_LIMIT = 512 * 1024;

/** Listing lines onto a data connection: CRLF, raw bytes, back-pressure, stall timeout. */
class DataSink implements LineSink {
  timedOut = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly stallSeconds: number,
  ) {}

  send(lines: readonly string[]): Promise<boolean> {
    return this.sendBytes(Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'));
  }

  sendBytes(data: Buffer): Promise<boolean> {
    const sock = this.sock;
    if (sock.destroyed || !sock.writable) return Promise.resolve(false);
    sock.write(data);
    // write() returned false past 16 KiB, so 'drain' will come once the
    // queue is empty; until the limit, go on producing meanwhile.
    if (sock.writableLength <= DATA_QUEUE_LIMIT) return Promise.resolve(!sock.destroyed);
    // The peer is slower than we are: wait until the socket takes more.
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        if (timer !== null) clearTimeout(timer);
        sock.removeListener('drain', onDrain);
        sock.removeListener('close', onClose);
        resolve(ok);
      };
      const onDrain = (): void => settle(true);
      const onClose = (): void => settle(false);
      const timer =
        this.stallSeconds > 0
          ? setTimeout(() => {
              this.timedOut = true;
              sock.destroy();
              settle(false);
            }, this.stallSeconds * 1000)
          : null;
      sock.once('drain', onDrain);
      sock.once('close', onClose);
    });
  }
}

/** STAT's listing inside the 213 reply on the control channel. */
function controlSink(s: Session): LineSink {
  return {
    send: async (lines) => {
      if (s.ch.isClosed) return false;
      s.ch.replyRaw(lines.map(byteStringToText));
      const sock = s.ch.remoteSocket;
      if (sock.writableNeedDrain && !sock.destroyed) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            sock.removeListener('drain', done);
            sock.removeListener('close', done);
            resolve();
          };
          sock.once('drain', done);
          sock.once('close', done);
        });
      }
      return !s.ch.isClosed;
    },
  };
}

// ---------------------------------------------------------------------------
// LIST, NLST, STAT path

/** The session's current directory as a byte string (the filter resolves names from it). */
function cwdBytes(): string {
  return toByteString(process.cwd());
}

/** SECURITY: anonymous users list only world-readable directories (anon_world_readable_only). */
function worldReadableDirOk(s: Session, dirBytes: string): boolean {
  if (!isAnon(s) || !s.cfg.anon_world_readable_only) return true;
  try {
    // stat, not lstat: vsftpd fstat()s the opened directory.
    return (fs.statSync(fsPath(dirBytes)).mode & 0o004) !== 0;
  } catch {
    return false;
  }
}

/**
 * The end of a transfer on the data connection, as vsftpd: 421 and the end
 * of the session on a data timeout, 426 when the lines did not all get
 * through (client gone, ABOR - whose own 226 follows), else `okText`.
 */
function replyDataEnd(s: Session, delivered: boolean, sink: DataSink, okText: string): void {
  const aborted = s.abortRequested;
  s.abortRequested = false;
  if (sink.timedOut) s.ch.fatal(421, 'Data timeout. Reconnect. Sorry.');
  else if (!delivered || aborted) s.ch.reply(426, 'Failure writing network stream.');
  else s.ch.reply(226, okText);
}

/** Run `body` with the data socket registered for ABOR; then close it properly. */
async function withDataTransfer(
  s: Session,
  title: string,
  body: (sink: DataSink) => Promise<boolean>,
): Promise<{ delivered: boolean; sink: DataSink } | null> {
  const conn = await s.data.open();
  if (!conn.ok) {
    s.ch.reply(conn.code, conn.text);
    return null;
  }
  const sock = conn.socket;
  const sink = new DataSink(sock, s.cfg.data_connection_timeout);
  s.abortRequested = false;
  beginTransfer(s, sock);
  setTitle(s, title);
  let delivered = false;
  try {
    s.ch.reply(150, 'Here comes the directory listing.');
    delivered = await body(sink);
    delivered = (await finishSocket(sock)) && delivered;
  } finally {
    sock.destroy();
    endTransfer(s);
    setTitle(s, 'IDLE');
  }
  return { delivered, sink };
}

/** LIST (verbose) and NLST: vsftpd's handle_dir_common() for the data connection. */
async function dataListing(s: Session, arg: string | null, verbose: boolean): Promise<void> {
  if (!s.data.isConfigured) {
    s.ch.reply(425, 'Use PORT or PASV first.');
    return;
  }
  const { letters, path } = splitLsArgument(arg);
  const target = openLsTarget(toByteString(expandPath(s, path)));
  try {
    const readable = target.handle !== null && worldReadableDirOk(s, target.dir);
    const cwd = cwdBytes();
    const result = await withDataTransfer(s, `${verbose ? 'LIST' : 'NLST'} ${path}`, async (sink) => {
      if (!readable) return true;
      return (await runListing({ cfg: s.cfg, letters, verbose, target, sink, cwdBytes: cwd, hidden: hiddenPredicate(s.cfg) })) === 'ok';
    });
    if (result === null) return;
    replyDataEnd(s, result.delivered, result.sink, readable ? 'Directory send OK.' : 'Transfer done (but failed to open directory).');
  } finally {
    closeDirQuiet(target.handle);
  }
}

/** STAT path: the listing on the control channel, -a forced (vsftpd's handle_stat_file()). */
async function statPath(s: Session, arg: string): Promise<void> {
  // The dispatcher's gate is per verb; STAT without argument has none.
  if (!GATES.dirlist(s)) {
    s.ch.reply(550, 'Permission denied.');
    return;
  }
  const { letters, path } = splitLsArgument(arg);
  const target = openLsTarget(toByteString(expandPath(s, path)));
  try {
    s.ch.replyRaw(['213-Status follows:']);
    if (target.handle !== null && worldReadableDirOk(s, target.dir)) {
      await runListing({
        cfg: s.cfg,
        letters: `${letters}a`,
        verbose: true,
        target,
        sink: controlSink(s),
        cwdBytes: cwdBytes(),
        hidden: hiddenPredicate(s.cfg),
      });
    }
    s.ch.reply(213, 'End of status');
  } finally {
    closeDirQuiet(target.handle);
  }
}

/**
 * STAT without argument: vsftpd's handle_stat(), also while a transfer runs
 * (protocol/control.ts hands it over). Differences: no "At session
 * startup, client count was N" line (the worker does not know; vsftpd too
 * leaves it out when it does not), and this daemon's name and version in
 * place of "vsFTPd 3.0.3 - secure, fast, stable".
 */
function serverStatus(s: Session): void {
  const rate = isAnon(s) ? s.cfg.anon_max_rate : s.cfg.local_max_rate;
  const timeout = s.cfg.idle_session_timeout;
  s.ch.replyRaw([
    '211-FTP server status:',
    `     Connected to ${normalizeAddress(s.info.remoteAddress)}`,
    `     Logged in as ${s.login.user}`,
    `     TYPE: ${s.type === 'ascii' ? 'ASCII' : 'BINARY'}`,
    rate === 0 ? '     No session bandwidth limit' : `     Session bandwidth limit in byte/s is ${rate}`,
    timeout === 0 ? '     No session timeout' : `     Session timeout in seconds is ${timeout}`,
    '     Control connection is plain text',
    '     Data connections will be plain text',
    `     tsftpd ${VERSION}`,
  ]);
  s.ch.reply(211, 'End of status');
}

// ---------------------------------------------------------------------------
// MLSD, MLST

function identity(s: Session): MlsxIdentity {
  const cred = processCredentials();
  return {
    ...cred,
    anonymous: isAnon(s),
    cfg: s.cfg,
    gates: {
      download: GATES.download(s),
      upload: GATES.upload(s),
      mkdir: GATES.mkdir(s),
      otherWrite: GATES.otherWrite(s),
      dirlist: GATES.dirlist(s),
    },
  };
}

async function mlsd(s: Session, arg: string | null): Promise<void> {
  if (!s.data.isConfigured) {
    s.ch.reply(425, 'Use PORT or PASV first.');
    return;
  }
  const path = arg === null || arg === '' ? '.' : expandPath(s, arg);
  const who = identity(s);
  const dirBytes = toByteString(path);
  const opened = openMlsdDirectory(who, dirBytes);
  if (!opened.ok) {
    s.ch.reply(opened.code, opened.text);
    return;
  }
  try {
    const result = await withDataTransfer(s, `MLSD ${path}`, (sink) =>
      runMlsd(who, s.mlstFacts, MLST_FACTS, opened.handle, dirBytes, sink, hiddenPredicate(s.cfg)),
    );
    if (result !== null) replyDataEnd(s, result.delivered, result.sink, 'Directory send OK.');
  } finally {
    closeDirQuiet(opened.handle);
  }
}

function mlst(s: Session, arg: string | null): void {
  const shown = arg === null || arg === '' ? process.cwd() : arg;
  const path = arg === null || arg === '' ? '.' : expandPath(s, arg);
  const line = mlstLine(identity(s), s.mlstFacts, MLST_FACTS, toByteString(path), toByteString(shown));
  if (line === null) {
    s.ch.reply(550, 'Could not get file status.');
    return;
  }
  s.ch.replyRaw([`250-Listing ${shown}`, ` ${byteStringToText(line)}`]);
  s.ch.reply(250, 'End');
}

export const LISTING_COMMANDS: CommandTable = {
  LIST: { handler: (s, arg) => dataListing(s, arg, true), gate: GATES.dirlist },
  NLST: { handler: (s, arg) => dataListing(s, arg, false), gate: GATES.dirlist },
  // STAT path needs dirlist_enable, STAT alone does not: gated inside.
  STAT: { handler: (s, arg) => (arg === null || arg === '' ? serverStatus(s) : statPath(s, arg)) },
  MLSD: { handler: mlsd, gate: GATES.dirlist },
  MLST: { handler: mlst, gate: GATES.dirlist },
};
