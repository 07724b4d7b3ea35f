/*
 * File and listing transfers over an established data connection.
 *
 * RETR reads 1 MiB at a time into two alternating buffers (the 64 KiB
 * stream default halves throughput on loopback); STOR writes synchronously
 * from the data handler: this process serves one session, and writeSync is
 * about twice as fast as async fs writes (reference/node-facts.md).
 */

import * as fs from 'node:fs';
import type * as net from 'node:net';

const RETR_CHUNK = 1024 * 1024;

export type TransferResult =
  | { readonly ok: true; readonly bytes: number }
  | { readonly ok: false; readonly bytes: number; readonly side: 'local' | 'network'; readonly cause: string };

function readChunk(fd: number, buf: Buffer, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n)));
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
    sock.write(data, (err) => (err ? reject(err) : resolve()));
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
    sock.end(() => settle(true));
  });
}

/** Send a regular file from `offset` to its end. */
export async function sendFile(fd: number, offset: number, sock: net.Socket): Promise<TransferResult> {
  const bufs = [Buffer.allocUnsafe(RETR_CHUNK), Buffer.allocUnsafe(RETR_CHUNK)] as const;
  let pos = offset;
  let bytes = 0;
  let which = 0;
  let next: Promise<number> = readChunk(fd, bufs[0], pos);
  for (;;) {
    let n: number;
    try {
      n = await next;
    } catch (e: unknown) {
      return { ok: false, bytes, side: 'local', cause: e instanceof Error ? e.message : String(e) };
    }
    if (n === 0) break;
    const cur = bufs[which] as Buffer;
    pos += n;
    which ^= 1;
    // Read ahead into the other buffer while this one is on the wire.
    next = readChunk(fd, bufs[which] as Buffer, pos);
    try {
      await writeOut(sock, n === cur.length ? cur : cur.subarray(0, n));
    } catch (e: unknown) {
      next.catch(() => undefined);
      return { ok: false, bytes, side: 'network', cause: e instanceof Error ? e.message : String(e) };
    }
    bytes += n;
  }
  if (!(await finishSocket(sock))) return { ok: false, bytes, side: 'network', cause: 'data connection lost' };
  return { ok: true, bytes };
}

/** Receive into fd (already positioned by the caller's open flags/offset). */
export function receiveFile(fd: number, offset: number | null, sock: net.Socket): Promise<TransferResult> {
  return new Promise((resolve) => {
    let bytes = 0;
    let pos = offset;
    let done = false;
    const finish = (r: TransferResult): void => {
      if (done) return;
      done = true;
      sock.removeAllListeners('data');
      sock.destroy();
      resolve(r);
    };
    sock.on('data', (chunk: Buffer) => {
      try {
        let off = 0;
        while (off < chunk.length) {
          const w = fs.writeSync(fd, chunk, off, chunk.length - off, pos);
          off += w;
          if (pos !== null) pos += w;
        }
        bytes += chunk.length;
      } catch (e: unknown) {
        finish({ ok: false, bytes, side: 'local', cause: e instanceof Error ? e.message : String(e) });
      }
    });
    sock.once('end', () => finish({ ok: true, bytes }));
    sock.once('error', (e: Error) => finish({ ok: false, bytes, side: 'network', cause: e.message }));
    sock.once('close', () => finish({ ok: false, bytes, side: 'network', cause: 'data connection closed' }));
    sock.resume();
  });
}

/** Send listing text (lines get CRLF). */
export async function sendLines(lines: readonly string[], sock: net.Socket): Promise<boolean> {
  try {
    const BATCH = 512;
    for (let i = 0; i < lines.length; i += BATCH) {
      const text = lines.slice(i, i + BATCH).map((l) => `${l}\r\n`).join('');
      await writeOut(sock, Buffer.from(text, 'utf8'));
    }
  } catch {
    return false;
  }
  return finishSocket(sock);
}
