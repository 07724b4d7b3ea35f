/*
 * File and listing transfers over an established data connection.
 *
 * RETR reads 1 MiB at a time into two alternating buffers (the 64 KiB
 * stream default halves throughput on loopback); STOR writes synchronously
 * from the data handler: this process serves one session, and writeSync is
 * about twice as fast as async fs writes (reference/node-facts.md).
 *
 * Positions are BigInt where a client chose them (REST, RANG: up to 2^63-1);
 * fs.read takes a bigint position. fs.writeSync does not, so an upload
 * position must be a safe integer (the caller refuses larger ones).
 *
 * A transfer that makes no progress for data_connection_timeout seconds
 * ends with side 'timeout' (vsftpd: "421 Data timeout. Reconnect. Sorry.").
 * Destroying the data socket from outside (ABOR) ends it as a network
 * failure.
 *
 * Fast path (native/transfer.c): a plain binary transfer - no TLS, no ASCII
 * conversion, no rate limit - runs in a libuv pool thread: RETR with
 * sendfile(2), STOR with splice(2) (read/write for APPE), polling at most
 * 200 ms between checks
 * of an abort flag. While the thread owns the socket's descriptor, JS
 * neither reads nor writes it (libuv reading is stopped), and nothing may
 * close it: ABOR goes through abortTransfer(), which raises the flag; the
 * socket is destroyed only after the loop has returned.
 *
 * strict_ssl_read_eof: a TLS upload must end with the client's close_notify;
 * one that ends with a bare TCP FIN may have been cut short by an attacker
 * (truncation), so it fails (426) and is logged as incomplete.
 */

import * as fs from 'node:fs';
import type * as net from 'node:net';
import { LoopState, recvLoop, sendfileLoop, type LoopResult } from '../sys/native';
import { fromAsciiLineEnds, toAsciiLineEnds } from './ascii';
import { sleep, type RateLimiter } from './ratelimit';
import { tlsEnding } from './tls';

const RETR_CHUNK = 1024 * 1024;

export type TransferResult =
  | { readonly ok: true; readonly bytes: number }
  | {
      readonly ok: false;
      readonly bytes: number;
      readonly side: 'local' | 'network' | 'timeout';
      readonly cause: string;
      /** errno code of a local failure (ENOSPC, EDQUOT, EFBIG, ...). */
      readonly errno?: string;
    };

export interface SendOptions {
  /** First byte to send (REST or RANG start). */
  readonly offset: bigint;
  /** Last byte to send, inclusive (RANG end); null: to end of file. */
  readonly end: bigint | null;
  /** LF → CRLF (TYPE A with ascii_download_enable). */
  readonly ascii: boolean;
  /** data_connection_timeout in seconds; 0: none. */
  readonly stallSeconds: number;
  /** Bandwidth limit (anon_max_rate / local_max_rate / user_max_rate). */
  readonly limiter: RateLimiter;
  /** trans_chunk_size (0: automatic). */
  readonly chunkSize: number;
  /** use_sendfile: NO keeps downloads in the read/write path, as in vsftpd. */
  readonly sendfile: boolean;
}

export interface ReceiveOptions {
  /** Write position (STOR, REST+STOR); null: the descriptor's own (O_APPEND). */
  readonly position: number | null;
  /** CRLF → LF (TYPE A with ascii_upload_enable). */
  readonly ascii: boolean;
  /** data_connection_timeout in seconds; 0: none. */
  readonly stallSeconds: number;
  /** Bandwidth limit (anon_max_rate / local_max_rate / user_max_rate). */
  readonly limiter: RateLimiter;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Fires onStall when tick() was not called for a whole period. */
class StallWatch {
  private progressed = false;
  private readonly timer: NodeJS.Timeout | null;

  constructor(seconds: number, onStall: () => void) {
    this.timer =
      seconds > 0
        ? setInterval(() => {
            if (!this.progressed) onStall();
            this.progressed = false;
          }, seconds * 1000)
        : null;
  }

  tick(): void {
    this.progressed = true;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}

function readChunk(fd: number, buf: Buffer, length: number, pos: bigint): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, length, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/*
 * Resolve only when the write callback fires: Node does not copy a Buffer
 * it is given, so the buffer must not be refilled before libuv has handed
 * it to the kernel.
 */
function writeOut(sock: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) {
      reject(new Error('data connection closed'));
      return;
    }
    const onClose = (): void => reject(new Error('data connection closed'));
    sock.once('close', onClose);
    sock.write(data, (err) => {
      sock.removeListener('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Half-close and wait until the peer has everything (or gave up). */
export function finishSocket(sock: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    if (sock.destroyed) {
      resolve(false);
      return;
    }
    let settled = false;
    const settle = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(ok);
    };
    sock.once('error', () => settle(false));
    sock.once('close', () => settle(false));
    sock.end(() => settle(true));
  });
}

// ---------------------------------------------------------------------------
// the native fast path

/** Native loops running now, by data socket (abortTransfer). */
const nativeLoops = new Map<net.Socket, LoopState>();

/**
 * End the transfer running on sock (ABOR). A native loop is told to stop
 * and its socket closed once the thread has let go of the descriptor;
 * any other transfer's socket is destroyed at once.
 */
export function abortTransfer(sock: net.Socket): void {
  const state = nativeLoops.get(sock);
  if (state === undefined) sock.destroy();
  else state.abort();
}

/** The parts of Node's TCP handle (net.Socket._handle) the fast path uses. */
interface TcpHandle {
  readonly fd: number;
  reading?: unknown;
  readStop(): number;
}

function tcpHandleOf(sock: net.Socket): TcpHandle | null {
  const h = (sock as unknown as { _handle?: unknown })._handle;
  if (typeof h !== 'object' || h === null) return null;
  const { fd, readStop } = h as { fd?: unknown; readStop?: unknown };
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || typeof readStop !== 'function') return null;
  return h as TcpHandle;
}

/**
 * Take the socket's descriptor for a native loop, or null: use the JS path.
 * SECURITY: never for TLS (the descriptor carries ciphertext; a TLSSocket's
 * handle may still expose the TCP fd), and never with bytes already read
 * into JS (they would be lost or reordered).
 */
function claimSocketFd(sock: net.Socket): number | null {
  if ((sock as Partial<{ encrypted: unknown }>).encrypted !== undefined || tlsEnding(sock) !== null) return null;
  if (sock.destroyed || sock.connecting || sock.readableLength > 0) return null;
  const h = tcpHandleOf(sock);
  if (h === null) return null;
  // Stop libuv reading: the thread alone uses the descriptor now. (A passive
  // socket never started: it was accepted with pauseOnConnect.)
  sock.pause();
  if (h.reading === true) {
    h.reading = false;
    if (h.readStop() !== 0) return null;
  }
  // Bytes that arrived before reading stopped stay in JS: take the JS path.
  if (sock.readableLength > 0) return null;
  return h.fd;
}

/** Run one native loop with sock registered, so ABOR and exit can stop it. */
async function runLoop(sock: net.Socket, start: (state: LoopState) => Promise<LoopResult>): Promise<LoopResult> {
  const state = new LoopState();
  nativeLoops.set(sock, state);
  try {
    return await start(state);
  } finally {
    nativeLoops.delete(sock);
  }
}

/** A finished native loop as a TransferResult (after the socket is closed). */
function loopResult(r: LoopResult, direction: 'send' | 'receive'): TransferResult {
  const bytes = r.bytes;
  const errno = r.errno ?? undefined;
  switch (r.status) {
    case 'ok':
      return { ok: true, bytes };
    case 'timeout':
      return { ok: false, bytes, side: 'timeout', cause: 'data connection timeout' };
    case 'local':
      return { ok: false, bytes, side: 'local', cause: `${direction === 'send' ? 'reading' : 'writing'} the file: ${r.errno ?? 'error'}`, errno };
    case 'aborted':
      return { ok: false, bytes, side: 'network', cause: 'data connection closed' };
    default:
      return { ok: false, bytes, side: 'network', cause: `data connection: ${r.errno ?? r.status}`, errno };
  }
}

/** A plain binary transfer at full speed: the native loops apply. */
function nativeEligible(ascii: boolean, limiter: RateLimiter): boolean {
  return !ascii && limiter.rate === 0;
}

/** sendfile(2) in a pool thread; null: not possible here, use the JS path. */
async function sendFileNative(fd: number, sock: net.Socket, opts: SendOptions): Promise<TransferResult | null> {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (!opts.sendfile || !nativeEligible(opts.ascii, opts.limiter) || opts.offset > max || (opts.end !== null && opts.end > max)) return null;
  const count = opts.end === null ? -1 : opts.end < opts.offset ? 0 : Number(opts.end - opts.offset + 1n);
  const sockFd = claimSocketFd(sock);
  if (sockFd === null) return null;
  const r = await runLoop(sock, (state) => sendfileLoop(sockFd, fd, Number(opts.offset), count, opts.stallSeconds * 1000, state));
  if (r.status === 'unsupported') return null;
  if (r.status === 'ok') {
    return (await finishSocket(sock)) ? { ok: true, bytes: r.bytes } : { ok: false, bytes: r.bytes, side: 'network', cause: 'data connection lost' };
  }
  sock.destroy();
  return loopResult(r, 'send');
}

/** Read/write in a pool thread; null: not possible here, use the JS path. */
async function receiveFileNative(fd: number, sock: net.Socket, opts: ReceiveOptions): Promise<TransferResult | null> {
  if (!nativeEligible(opts.ascii, opts.limiter)) return null;
  const sockFd = claimSocketFd(sock);
  if (sockFd === null) return null;
  const r = await runLoop(sock, (state) => recvLoop(sockFd, fd, opts.position ?? -1, opts.stallSeconds * 1000, state));
  sock.destroy();
  return loopResult(r, 'receive');
}

// ---------------------------------------------------------------------------
// the JS path

/** Send a regular file's bytes [offset, end] (end null: to end of file). */
export async function sendFile(fd: number, sock: net.Socket, opts: SendOptions): Promise<TransferResult> {
  return (await sendFileNative(fd, sock, opts)) ?? sendFileJs(fd, sock, opts);
}

async function sendFileJs(fd: number, sock: net.Socket, opts: SendOptions): Promise<TransferResult> {
  const bufs = [Buffer.allocUnsafe(RETR_CHUNK), Buffer.allocUnsafe(RETR_CHUNK)] as const;
  const outs = opts.ascii ? ([Buffer.allocUnsafe(2 * RETR_CHUNK), Buffer.allocUnsafe(2 * RETR_CHUNK)] as const) : null;
  let timedOut = false;
  const watch = new StallWatch(opts.stallSeconds, () => {
    timedOut = true;
    sock.destroy();
  });
  const netFailure = (bytes: number, cause: string): TransferResult =>
    timedOut ? { ok: false, bytes, side: 'timeout', cause: 'data connection timeout' } : { ok: false, bytes, side: 'network', cause };

  let pos = opts.offset;
  let bytes = 0;
  let which = 0;
  let prevCR = false;
  const lengthAt = (p: bigint): number => {
    // A rate limit moves small chunks, so the rate stays smooth.
    const chunk = Math.min(RETR_CHUNK, opts.limiter.chunkSize(opts.chunkSize));
    if (opts.end === null) return chunk;
    const left = opts.end - p + 1n;
    if (left <= 0n) return 0;
    return left < BigInt(chunk) ? Number(left) : chunk;
  };
  const readAt = (buf: Buffer, p: bigint): Promise<number> => {
    const len = lengthAt(p);
    return len === 0 ? Promise.resolve(0) : readChunk(fd, buf, len, p);
  };
  try {
    let next: Promise<number> = readAt(bufs[0], pos);
    for (;;) {
      let n: number;
      try {
        n = await next;
      } catch (e: unknown) {
        return { ok: false, bytes, side: 'local', cause: errText(e), errno: errnoOf(e) };
      }
      if (n === 0) break;
      const cur = bufs[which] as Buffer;
      let out = n === cur.length ? cur : cur.subarray(0, n);
      if (outs !== null) {
        const conv = toAsciiLineEnds(out, prevCR, outs[which] as Buffer);
        prevCR = conv.lastWasCR;
        out = (outs[which] as Buffer).subarray(0, conv.length);
      }
      pos += BigInt(n);
      which ^= 1;
      // Read ahead into the other buffer while this one is on the wire.
      next = readAt(bufs[which] as Buffer, pos);
      try {
        await writeOut(sock, out);
      } catch (e: unknown) {
        next.catch(() => undefined);
        return netFailure(bytes, errText(e));
      }
      watch.tick();
      bytes += out.length;
      const wait = opts.limiter.account(out.length);
      if (wait > 0) await sleep(wait);
    }
    if (!(await finishSocket(sock))) return netFailure(bytes, 'data connection lost');
    return { ok: true, bytes };
  } finally {
    watch.stop();
  }
}

/** Receive into fd until the client closes the data connection. */
export async function receiveFile(fd: number, sock: net.Socket, opts: ReceiveOptions): Promise<TransferResult> {
  return (await receiveFileNative(fd, sock, opts)) ?? receiveFileJs(fd, sock, opts);
}

function receiveFileJs(fd: number, sock: net.Socket, opts: ReceiveOptions): Promise<TransferResult> {
  return new Promise((resolve) => {
    let bytes = 0;
    let pos = opts.position;
    let done = false;
    let prevCR = false;
    let scratch: Buffer | null = null;
    const finish = (r: TransferResult): void => {
      if (done) return;
      done = true;
      watch.stop();
      sock.removeAllListeners('data');
      if (r.ok && tlsEnding(sock) !== null && !sock.destroyed && sock.writable) {
        // TLS: answer the client's close_notify with ours (a client such as
        // Python's ftplib waits for it), then let go; bounded.
        sock.on('error', () => undefined);
        const bound = setTimeout(() => sock.destroy(), 2000);
        sock.end(() => {
          clearTimeout(bound);
          sock.destroy();
        });
      } else {
        sock.destroy();
      }
      resolve(r);
    };
    const watch = new StallWatch(opts.stallSeconds, () =>
      finish({ ok: false, bytes, side: 'timeout', cause: 'data connection timeout' }),
    );
    const writeAll = (data: Buffer, length: number): void => {
      let off = 0;
      while (off < length) {
        const w = fs.writeSync(fd, data, off, length - off, pos);
        off += w;
        if (pos !== null) pos += w;
      }
    };
    sock.on('data', (chunk: Buffer) => {
      watch.tick();
      try {
        if (opts.ascii) {
          if (scratch === null || scratch.length < chunk.length + 1) scratch = Buffer.allocUnsafe(Math.max(chunk.length + 1, 65537));
          const conv = fromAsciiLineEnds(chunk, prevCR, scratch);
          prevCR = conv.lastWasCR;
          writeAll(scratch, conv.length);
        } else {
          writeAll(chunk, chunk.length);
        }
        bytes += chunk.length;
        // Over the limit: stop reading; TCP flow control holds the client.
        const wait = opts.limiter.account(chunk.length);
        if (wait > 0) {
          sock.pause();
          setTimeout(() => {
            if (!done) sock.resume();
          }, wait);
        }
      } catch (e: unknown) {
        finish({ ok: false, bytes, side: 'local', cause: errText(e), errno: errnoOf(e) });
      }
    });
    sock.once('end', () => {
      const tlsEnd = tlsEnding(sock);
      if (tlsEnd !== null && tlsEnd.strict && !tlsEnd.closeNotify) {
        finish({ ok: false, bytes, side: 'network', cause: 'TLS upload ended without close_notify (strict_ssl_read_eof)' });
        return;
      }
      if (prevCR) {
        // A CR at the very end of the upload is data: keep it.
        try {
          writeAll(Buffer.from([0x0d]), 1);
        } catch (e: unknown) {
          finish({ ok: false, bytes, side: 'local', cause: errText(e), errno: errnoOf(e) });
          return;
        }
      }
      finish({ ok: true, bytes });
    });
    sock.once('error', (e: Error) => finish({ ok: false, bytes, side: 'network', cause: e.message }));
    sock.once('close', () => finish({ ok: false, bytes, side: 'network', cause: 'data connection closed' }));
    sock.resume();
  });
}
