/*
 * connect_from_port_20 (vsftpd's PRIV_SOCK_GET_DATA_SOCK): an active-mode
 * data connection whose source port is ftp_data_port (20 by RFC 959), which
 * only root may bind.
 *
 * SECURITY: the target address is always the control connection's peer and
 * the source address its local address, both from master; the worker names
 * only the port, which must be >= 1024 (vsftpd dies on less: FTP bounce to
 * a privileged service). The socket is paused before connect() so priv
 * never reads a byte of it; it is handed on paused.
 */

import * as net from 'node:net';
import type { Config } from '../config/options';
import { normalizeAddress } from '../address';

export type DataConnectOutcome = { readonly ok: true; readonly socket: net.Socket } | { readonly ok: false; readonly detail: string };


export function connectFromDataPort(cfg: Config, localAddress: string, remoteAddress: string, port: number): Promise<DataConnectOutcome> {
  if (!cfg.connect_from_port_20) return Promise.resolve({ ok: false, detail: 'connect_from_port_20 is off' });
  if (port < 1024 || port > 65535) return Promise.resolve({ ok: false, detail: `illegal port ${port}` });
  return new Promise((resolve) => {
    const sock = new net.Socket();
    sock.pause();
    let done = false;
    const finish = (o: DataConnectOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!o.ok) sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ ok: false, detail: 'connect timeout' }), cfg.connect_timeout * 1000);
    sock.once('error', (e: Error) => finish({ ok: false, detail: e.message }));
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      sock.on('error', () => undefined);
      finish({ ok: true, socket: sock });
    });
    sock.connect({
      host: normalizeAddress(remoteAddress),
      port,
      localAddress: normalizeAddress(localAddress),
      localPort: cfg.ftp_data_port,
    });
  });
}
