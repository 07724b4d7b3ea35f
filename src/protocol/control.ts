/*
 * The FTP control channel: framing of command lines and formatting of
 * replies, as vsftpd's ftpcmdio.c and netstr.c do it.
 *
 * Runs only in jailed, unprivileged workers: this is where untrusted bytes
 * are parsed.
 *
 * Commands are handled one at a time, in order; lines that arrive while a
 * command is in progress wait in the buffer (pipelining). One exception
 * (RFC 959 §4.1.3, vsftpd's async ABOR): while a transfer is in progress -
 * the command in progress has sent a 1xx preliminary reply and no final
 * reply yet - an ABOR, or a STAT without argument, that is the next line in
 * the buffer is handed to the handler at once. Everything else keeps
 * waiting, so replies stay in order. A handler that must answer after the
 * command in progress (ABOR's 226) uses afterCommand().
 *
 * Whatever has been read but not consumed can be taken out with detach(),
 * so the socket can move to another process without losing a byte.
 *
 * AUTH TLS swaps the socket under the channel: releaseSocket() gives the raw
 * connection back (unconsumed bytes - the start of the client's handshake -
 * returned into it), adoptSocket() continues on the TLS socket.
 */

import type * as net from 'node:net';

/** vsftpd's VSFTP_MAX_COMMAND_LINE, including the terminating \n. */
export const MAX_COMMAND_LINE = 4096;
/** Read no further ahead than this while a command is in progress. */
const MAX_BUFFERED = 4 * MAX_COMMAND_LINE;

const IAC = 0xff;
const TELNET_WILL = 0xfb;
const TELNET_DONT = 0xfe;
/** Telnet commands are 240..255; IAC before anything else is a stray IAC. */
const TELNET_SE = 0xf0;
/** Telnet Data Mark: ends a Synch (urgent IAC, then DM in band). */
const TELNET_DM = 0xf2;

export interface FtpCommand {
  /** Upper-cased verb: the text before the first space. */
  readonly verb: string;
  /** Everything after the first space, untrimmed; null when there was none. */
  readonly arg: string | null;
}

export type CommandHandler = (cmd: FtpCommand) => void | Promise<void>;

export interface ControlEvents {
  /** The channel is finished (client gone, QUIT, fatal reply): exit soon. */
  readonly onClosed: () => void;
  /** log_ftp_protocol: every command line received and reply line sent. */
  readonly onProtocol?: (kind: 'FTP command' | 'FTP response', text: string) => void;
}

/**
 * Remove Telnet IAC sequences (RFC 854) from one line. IAC IAC is a literal
 * 0xFF; IAC WILL/WONT/DO/DONT take an option byte; IAC and another Telnet
 * command (240..254) take one. An IAC before a byte that is no Telnet
 * command is dropped alone, keeping that byte.
 */
export function stripTelnet(line: Buffer): Buffer {
  if (!line.includes(IAC)) return line;
  const out = Buffer.allocUnsafe(line.length);
  let o = 0;
  for (let i = 0; i < line.length; i++) {
    const b = line[i] as number;
    if (b !== IAC) {
      out[o++] = b;
      continue;
    }
    const next = line[i + 1];
    if (next === undefined) break;
    if (next === IAC) {
      out[o++] = IAC;
      i += 1;
    } else if (next >= TELNET_WILL && next <= TELNET_DONT) {
      i += 2;
    } else if (next >= TELNET_SE) {
      i += 1;
    }
  }
  return out.subarray(0, o);
}

/**
 * A client aborting a transfer sends Telnet IP and Synch: IAC IP IAC with
 * MSG_OOB, then DM "ABOR" (RFC 959 §4.1.3). vsftpd sets SO_OOBINLINE and sees
 * all of it; Node cannot set that option, so the kernel keeps the urgent
 * byte (the second IAC) out of the stream and the line arrives as
 * IAC IP DM "ABOR". stripTelnet removes IAC IP; this drops the orphaned DM.
 */
function stripOrphanedDataMark(line: Buffer): Buffer {
  let i = 0;
  while (i < line.length && line[i] === TELNET_DM) i++;
  return i === 0 ? line : line.subarray(i);
}

/**
 * Turn one raw line (without its \n) into a command, or null for an empty
 * line, which vsftpd ignores ("NAT device bugs").
 */
export function parseCommandLine(raw: Buffer): FtpCommand | null {
  let bytes = stripOrphanedDataMark(stripTelnet(raw));
  // Trailing \r (any number, as vsftpd) is not part of the command.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x0d) end--;
  bytes = bytes.subarray(0, end);
  if (bytes.length === 0) return null;
  // RFC 959: an embedded NUL stands for a newline in a pathname.
  const text = bytes.toString('utf8').replace(/\0/g, '\n');
  const sp = text.indexOf(' ');
  const verb = (sp === -1 ? text : text.slice(0, sp)).toUpperCase();
  const arg = sp === -1 ? null : text.slice(sp + 1);
  // vsftpd ignores an empty verb with an empty argument (a lone space) too.
  if (verb === '' && arg === '') return null;
  return { verb, arg };
}

/** May this command be handled while a transfer is in progress? */
export function isTransferInterrupt(cmd: FtpCommand): boolean {
  return cmd.verb === 'ABOR' || (cmd.verb === 'STAT' && (cmd.arg === null || cmd.arg === ''));
}

/** Reply text may not break the framing: \r goes, \n becomes NUL (vsftpd). */
function sanitizeReplyText(text: string): string {
  return text.replace(/\r/g, '').replace(/\n/g, '\0');
}

export class ControlChannel {
  private buf: Buffer;
  private busy = false;
  /** The command in progress sent a 1xx reply and no final reply yet. */
  private transferring = false;
  /** > 0 while an interrupting command (ABOR, STAT) runs during a transfer. */
  private interrupting = 0;
  /** Run when the command in progress has finished (afterCommand). */
  private deferred: Array<() => void> = [];
  private closed = false;
  private detached = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleSeconds = 0;
  private handler: CommandHandler | null = null;
  /** replaceFinalReply(): the final reply the command in progress gives instead of its own. */
  private replacement: { readonly code: number; readonly text: string; readonly fatal: boolean } | null = null;
  private readonly onSocketData = (chunk: Buffer): void => this.onData(chunk);
  private readonly onSocketGone = (): void => this.close();

  constructor(
    private socket: net.Socket,
    initial: Buffer,
    private readonly events: ControlEvents,
  ) {
    this.buf = initial;
    this.listen(socket);
  }

  private listen(socket: net.Socket): void {
    socket.on('data', this.onSocketData);
    socket.on('end', this.onSocketGone);
    socket.on('error', this.onSocketGone);
    socket.on('close', this.onSocketGone);
  }

  private unlisten(socket: net.Socket): void {
    socket.removeListener('data', this.onSocketData);
    socket.removeListener('end', this.onSocketGone);
    socket.removeListener('error', this.onSocketGone);
    socket.removeListener('close', this.onSocketGone);
  }

  get remoteSocket(): net.Socket {
    return this.socket;
  }

  /**
   * Stop reading and hand the connection over (AUTH TLS): every byte read
   * but not consumed goes back into the socket, so the TLS layer reads the
   * client's handshake from the start. The channel waits for adoptSocket().
   */
  releaseSocket(): net.Socket {
    const socket = this.socket;
    this.unlisten(socket);
    socket.pause();
    socket.on('error', () => undefined);
    if (this.buf.length > 0) {
      socket.unshift(this.buf);
      this.buf = Buffer.alloc(0);
    }
    return socket;
  }

  /** Continue the dialogue on `socket` (the TLS socket, or the raw one back). */
  adoptSocket(socket: net.Socket): void {
    this.socket = socket;
    this.listen(socket);
    socket.resume();
  }

  /** Begin dispatching lines (the bytes already buffered come first). */
  start(handler: CommandHandler, idleSeconds: number): void {
    this.handler = handler;
    this.idleSeconds = idleSeconds;
    this.armIdle();
    this.socket.resume();
    this.pump();
  }

  setIdleTimeout(seconds: number): void {
    this.idleSeconds = seconds;
    this.armIdle();
  }

  reply(code: number, text: string): void {
    const r = this.replacement;
    if (r !== null && code >= 200 && this.interrupting === 0) {
      this.replacement = null;
      if (r.fatal) {
        this.fatal(r.code, r.text);
        return;
      }
      code = r.code;
      text = r.text;
    }
    this.noteReply(code);
    this.write(`${code} ${sanitizeReplyText(text)}\r\n`);
  }

  /** NNN-first / NNN-middle ... / NNN last */
  replyMulti(code: number, lines: readonly string[]): void {
    if (lines.length === 0) return;
    this.noteReply(code);
    let out = '';
    lines.forEach((line, i) => {
      const sep = i === lines.length - 1 ? ' ' : '-';
      out += `${code}${sep}${sanitizeReplyText(line)}\r\n`;
    });
    this.write(out);
  }

  /** Lines written verbatim (FEAT's " EPSV" lines); caller frames them. */
  replyRaw(lines: readonly string[]): void {
    const m = /^([1-5][0-9]{2}) /.exec(lines[lines.length - 1] ?? '');
    if (m !== null) this.noteReply(Number(m[1]));
    this.write(lines.map((l) => `${sanitizeReplyText(l)}\r\n`).join(''));
  }

  /**
   * The command in progress answers with this instead of its own final
   * reply (a data connection refused after its 150: vsftpd's 522); fatal:
   * the session ends after it. With no command in progress, it is sent now.
   */
  replaceFinalReply(code: number, text: string, fatal: boolean): void {
    if (!this.busy) {
      if (fatal) this.fatal(code, text);
      else this.reply(code, text);
      return;
    }
    this.replacement = { code, text, fatal };
  }

  /** Send a final reply and end the session (421 Timeout., 500 OOPS, …). */
  fatal(code: number, text: string): void {
    if (this.closed) return;
    this.reply(code, text);
    this.close();
  }

  /** Orderly end: FIN after pending replies are flushed, then onClosed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearIdle();
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.socket.destroy();
      this.events.onClosed();
    };
    // A peer that never reads cannot keep the session alive.
    const timer = setTimeout(finish, 2000);
    if (this.socket.destroyed) {
      finish();
      return;
    }
    this.socket.once('close', finish);
    this.socket.end(finish);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stop the dialogue without touching the socket (its new owner closes it). */
  abandon(): void {
    this.closed = true;
    this.clearIdle();
  }

  /**
   * Run fn once the command in progress has finished (at once when none is):
   * an interrupting ABOR uses it to answer after the transfer's own reply.
   */
  afterCommand(fn: () => void): void {
    if (this.busy) this.deferred.push(fn);
    else fn();
  }

  /** Track the command in progress: a 1xx reply opens a transfer, 2xx-5xx ends it. */
  private noteReply(code: number): void {
    if (!this.busy || this.interrupting > 0) return;
    const wasTransferring = this.transferring;
    this.transferring = code >= 100 && code < 200;
    // An ABOR may already be waiting in the buffer.
    if (this.transferring && !wasTransferring) queueMicrotask(() => this.pump());
  }

  /**
   * Stop reading and give back every byte read but not consumed, then drop
   * this process's reference to the socket without shutting it down: the
   * connection lives on in the process it is handed to.
   */
  detach(keepSocket = false): Buffer {
    this.detached = true;
    this.clearIdle();
    this.socket.pause();
    this.unlisten(this.socket);
    this.socket.removeAllListeners('data');
    const parts: Buffer[] = [this.buf];
    for (let chunk = this.socket.read() as Buffer | null; chunk !== null; chunk = this.socket.read() as Buffer | null) {
      parts.push(chunk);
    }
    this.buf = Buffer.alloc(0);
    this.socket.on('error', () => undefined);
    if (!keepSocket) {
      this.socket.removeAllListeners('end');
      this.socket.removeAllListeners('close');
      this.socket.removeAllListeners('error');
      this.socket.on('error', () => undefined);
      // destroy() closes this process's descriptor only; no shutdown(2), so
      // the client sees nothing.
      this.socket.destroy();
    }
    this.closed = true;
    return Buffer.concat(parts);
  }

  private write(data: string): void {
    if (this.closed || this.socket.destroyed) return;
    const log = this.events.onProtocol;
    if (log !== undefined) for (const line of data.split('\r\n')) if (line !== '') log('FTP response', line);
    this.socket.write(data);
  }

  private logCommand(cmd: FtpCommand): void {
    this.events.onProtocol?.('FTP command', cmd.arg === null ? cmd.verb : `${cmd.verb} ${cmd.arg}`);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.busy && this.buf.length > MAX_BUFFERED) {
      // Back-pressure: leave the rest in the kernel until we catch up.
      this.socket.pause();
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.handler !== null && (!this.busy || this.transferring)) {
      const nl = this.buf.indexOf(0x0a);
      if (nl === -1) {
        if (this.busy) return;
        // SECURITY: bounded line length (vsftpd: 4096 then close).
        if (this.buf.length >= MAX_COMMAND_LINE) this.fatal(500, 'Input line too long.');
        if (this.socket.isPaused() && !this.detached) this.socket.resume();
        return;
      }
      if (nl + 1 > MAX_COMMAND_LINE) {
        if (this.busy) return;
        this.fatal(500, 'Input line too long.');
        return;
      }
      const cmd = parseCommandLine(this.buf.subarray(0, nl));
      if (this.busy && cmd !== null && !isTransferInterrupt(cmd)) return;
      this.buf = this.buf.subarray(nl + 1);
      if (cmd === null) continue;
      this.logCommand(cmd);
      if (this.busy) {
        this.interrupt(cmd);
        continue;
      }
      this.armIdle();
      this.dispatch(cmd);
    }
  }

  /** Hand ABOR/STAT to the handler while the transfer goes on. */
  private interrupt(cmd: FtpCommand): void {
    const handler = this.handler;
    if (handler === null) return;
    this.interrupting++;
    let result: void | Promise<void>;
    try {
      result = handler(cmd);
    } catch (e: unknown) {
      this.internalError(e);
      return;
    } finally {
      this.interrupting--;
    }
    if (result instanceof Promise) result.catch((e: unknown) => this.internalError(e));
  }

  private dispatch(cmd: FtpCommand): void {
    const handler = this.handler;
    if (handler === null) return;
    this.busy = true;
    this.clearIdle();
    let result: void | Promise<void>;
    try {
      result = handler(cmd);
    } catch (e: unknown) {
      this.internalError(e);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        () => this.done(),
        (e: unknown) => this.internalError(e),
      );
    } else {
      this.done();
    }
  }

  private done(): void {
    this.replacement = null;
    this.busy = false;
    this.transferring = false;
    const deferred = this.deferred;
    this.deferred = [];
    for (const fn of deferred) fn();
    if (this.closed) return;
    this.armIdle();
    this.pump();
  }

  private internalError(e: unknown): void {
    this.busy = false;
    this.transferring = false;
    this.deferred = [];
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`tsftpd worker: internal error: ${msg}\n`);
    this.fatal(500, 'OOPS: internal error');
  }

  private armIdle(): void {
    this.clearIdle();
    if (this.idleSeconds <= 0 || this.busy || this.closed) return;
    this.idleTimer = setTimeout(() => this.fatal(421, 'Timeout.'), this.idleSeconds * 1000);
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }
}
