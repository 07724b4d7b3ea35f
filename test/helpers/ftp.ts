// A tiny raw FTP control-connection client for transcript tests. Every wait is bounded.
import * as net from 'node:net';

export interface FtpReply {
  code: number;
  /** Every line of the reply, without CRLF (multi-line replies keep all lines). */
  lines: string[];
  /** The last line's text after "NNN " (for single-line replies: the message). */
  message: string;
  /** lines joined by "\n". */
  text: string;
}

const DEFAULT_TIMEOUT = 5_000;

export class FtpControl {
  private buf = '';
  private readonly lineQueue: string[] = [];
  private waiter: (() => void) | null = null;
  private closedFlag = false;
  private closeWaiters: Array<() => void> = [];
  /** Every line received and sent ("> " prefix for sent), for debugging messages. */
  readonly transcript: string[] = [];

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        this.lineQueue.push(line);
        this.transcript.push(line);
      }
      this.wake();
    });
    const onClose = (): void => {
      this.closedFlag = true;
      this.wake();
      for (const w of this.closeWaiters) w();
      this.closeWaiters = [];
    };
    sock.on('close', onClose);
    sock.on('end', () => this.wake());
    sock.on('error', () => {
      // surfaced through 'close'
    });
  }

  /**
   * Connect; resolves once the TCP connection is up (the greeting is read
   * with reply()). `localAddress` makes it a "second client" (127.0.0.2).
   */
  static async connect(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT, localAddress?: string): Promise<FtpControl> {
    const sock = await dataConnect(host, port, { timeoutMs, localAddress });
    sock.setNoDelay(true);
    return new FtpControl(sock);
  }

  /** Our (client-side) local port: identifies the connection in /proc/net/tcp. */
  get localPort(): number {
    return this.sock.localPort ?? -1;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async nextLine(deadline: number): Promise<string> {
    for (;;) {
      const line = this.lineQueue.shift();
      if (line !== undefined) return line;
      if (this.closedFlag) throw new Error(`connection closed while waiting for a reply; transcript:\n${this.transcript.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a reply; transcript:\n${this.transcript.join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Read one complete (possibly multi-line) reply. */
  async reply(timeoutMs = DEFAULT_TIMEOUT): Promise<FtpReply> {
    const deadline = Date.now() + timeoutMs;
    const first = await this.nextLine(deadline);
    const m = /^(\d{3})([ -]?)(.*)$/.exec(first);
    if (!m) throw new Error(`malformed reply line ${JSON.stringify(first)}`);
    const code = Number(m[1]);
    const lines = [first];
    if (m[2] === '-') {
      const end = `${m[1]} `;
      for (;;) {
        const l = await this.nextLine(deadline);
        lines.push(l);
        if (l.startsWith(end) || l === m[1]) break;
      }
    }
    const last = lines[lines.length - 1] ?? '';
    return { code, lines, message: last.slice(4), text: lines.join('\n') };
  }

  /** Send one command line (CRLF appended). */
  send(line: string): void {
    this.transcript.push(`> ${line}`);
    this.sock.write(`${line}\r\n`, 'latin1');
  }

  /** Send raw bytes exactly as given (for pipelining tests). */
  sendRaw(data: string): void {
    this.transcript.push(`> [raw] ${JSON.stringify(data)}`);
    this.sock.write(data, 'latin1');
  }

  /** send(line) then reply(). */
  async command(line: string, timeoutMs = DEFAULT_TIMEOUT): Promise<FtpReply> {
    this.send(line);
    return this.reply(timeoutMs);
  }

  /** Resolve true once the server closed the connection, false after timeoutMs. */
  waitClose(timeoutMs = DEFAULT_TIMEOUT): Promise<boolean> {
    if (this.closedFlag) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Lines received but not yet consumed by reply(). */
  pending(): string[] {
    return [...this.lineQueue];
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Connect and read the greeting; returns the client, the greeting and the connect→greeting time. */
export async function connectWithGreeting(
  host: string,
  port: number,
  timeoutMs = DEFAULT_TIMEOUT,
): Promise<{ ftp: FtpControl; greeting: FtpReply; ms: number }> {
  const t0 = process.hrtime.bigint();
  const ftp = await FtpControl.connect(host, port, timeoutMs);
  try {
    const greeting = await ftp.reply(timeoutMs);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return { ftp, greeting, ms };
  } catch (e: unknown) {
    ftp.close();
    throw e;
  }
}

/** USER + PASS; returns both replies (does not assert). */
export async function login(
  ftp: FtpControl,
  user: string,
  password: string,
  timeoutMs = 10_000,
): Promise<{ user: FtpReply; pass: FtpReply | null }> {
  const u = await ftp.command(`USER ${user}`, timeoutMs);
  if (u.code !== 331) return { user: u, pass: null };
  const p = await ftp.command(`PASS ${password}`, timeoutMs);
  return { user: u, pass: p };
}

/** Parse a 227 reply into host and port. */
export function parsePasv(reply: FtpReply): { host: string; port: number } {
  const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(reply.message);
  if (!m) throw new Error(`bad 227 reply ${JSON.stringify(reply.text)}`);
  const n = m.slice(1).map(Number);
  return { host: n.slice(0, 4).join('.'), port: (n[4] ?? 0) * 256 + (n[5] ?? 0) };
}

/** Parse a 229 reply `(|||port|)` into a port. */
export function parseEpsv(reply: FtpReply): number {
  const m = /\(\|\|\|(\d+)\|\)/.exec(reply.message);
  if (!m) throw new Error(`bad 229 reply ${JSON.stringify(reply.text)}`);
  return Number(m[1]);
}

/** Open a data connection and collect everything until the server closes it. */
export function readDataConnection(host: string, port: number, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`data connection ${host}:${port} timed out`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** A TCP connection to host:port (from localAddress when given), bounded by timeoutMs. */
export function dataConnect(
  host: string,
  port: number,
  opts: { readonly timeoutMs?: number; readonly localAddress?: string | undefined } = {},
): Promise<net.Socket> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const sock = net.connect(opts.localAddress === undefined ? { host, port } : { host, port, localAddress: opts.localAddress });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Everything received on `sock` until the peer closes it (bounded). */
export function collect(sock: net.Socket, timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('data connection did not close in time'));
    }, timeoutMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}
