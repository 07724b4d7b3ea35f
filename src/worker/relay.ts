/*
 * W1 after a TLS login: the session's TLS relay, vsftpd's "SSL handler".
 * TLS state cannot move to another process, so the process that did the
 * handshake keeps the client's connection and copies bytes between it and
 * a Unix stream socket whose other end is W2. It stays what it was before
 * login - nopriv_user in the empty secure_chroot_dir - and asks master for
 * nothing (its IPC state allows no request).
 *
 * The bytes W1 had decrypted after PASS but not consumed go to W2 first, so
 * pipelined commands are answered in order.
 */

import type * as net from 'node:net';

/** How long one direction may outlive the other once a side has closed. */
const LINGER_MS = 3000;

let waiter: ((s: net.Socket | null) => void) | null = null;
let early: net.Socket | null | undefined;

/** The relay socket master sends after the TLS handoff. */
export function waitForRelaySocket(): Promise<net.Socket | null> {
  if (early !== undefined) {
    const s = early;
    early = undefined;
    return Promise.resolve(s);
  }
  return new Promise((resolve) => {
    waiter = resolve;
  });
}

/** Called by the worker's message loop for relay_start. */
export function deliverRelaySocket(socket: net.Socket | null): void {
  const w = waiter;
  waiter = null;
  if (w === null) early = socket;
  else w(socket);
}

/**
 * Copy both ways until either side is done; then let the other drain (a
 * final "221 Goodbye." still has to be encrypted and sent) and exit.
 */
export function runRelay(client: net.Socket, pending: Buffer, session: net.Socket, onDone: () => void): void {
  let finished = false;
  let closed = 0;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    client.destroy();
    session.destroy();
    onDone();
  };
  const linger = (): void => {
    setTimeout(finish, LINGER_MS).unref();
  };
  for (const s of [client, session]) {
    s.on('error', () => finish());
    s.once('close', () => {
      closed++;
      if (closed === 2) finish();
      else linger();
    });
  }
  if (pending.length > 0) session.write(pending);
  // pipe() ends the other side when one side ends: the client's end (TLS
  // close_notify or FIN) reaches W2 as EOF; W2's end becomes our TLS
  // close_notify and FIN.
  client.pipe(session);
  session.pipe(client);
}
