/*
 * Data connections for one session (vsftpd's ftpdataio.c and the PASV/PORT
 * halves of privops.c). Runs in the jailed session worker: passive ports are
 * above 1024, so no privilege is needed to listen on them.
 *
 * SECURITY: a passive connection from any address but the control
 * connection's peer is refused (pasv_promiscuous=NO); a PORT target must be
 * the control peer on a port >= 1024 (port_promiscuous=NO). Both are
 * vsftpd's defences against data-connection theft and FTP bounce.
 */

import * as net from 'node:net';
import type { Config } from '../config/options';
import type { DataFailure, SessionInfo } from '../ipc/messages';
import { requestDataSocket, sendToMaster } from './ipc';
import { logEvent } from './log';
import { jsonEvent } from './sessionlog';

export type DataOpenResult =
  | { readonly ok: true; readonly socket: net.Socket }
  | { readonly ok: false; readonly code: number; readonly text: string; readonly kind: DataFailure; readonly cause: string };

/** "::ffff:1.2.3.4" and "1.2.3.4" are one peer. */
export function normalizeAddress(addr: string): string {
  return addr.startsWith('::ffff:') && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
}

type PassiveOutcome = { kind: 'socket'; socket: net.Socket } | { kind: 'bad_ip'; from: string };

interface Passive {
  readonly server: net.Server;
  readonly port: number;
  outcome: PassiveOutcome | null;
  waiter: ((o: PassiveOutcome) => void) | null;
}

interface Active {
  readonly host: string;
  readonly port: number;
}

/** vsftpd's port range rule: bounds outside 1024..65535 are ignored. */
export function passivePortRange(cfg: Config): { min: number; max: number } {
  let min = 1024;
  let max = 65535;
  if (cfg.pasv_min_port > min && cfg.pasv_min_port <= max) min = cfg.pasv_min_port;
  if (cfg.pasv_max_port >= min && cfg.pasv_max_port < max && cfg.pasv_max_port !== 0) max = cfg.pasv_max_port;
  return { min, max };
}

function listenOn(server: net.Server, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onError = (): void => {
      server.removeListener('listening', onListening);
      resolve(false);
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, backlog: 1, exclusive: true });
  });
}

export class DataChannel {
  private passive: Passive | null = null;
  private active: Active | null = null;

  constructor(
    private readonly cfg: Config,
    private readonly session: SessionInfo,
  ) {}

  get isConfigured(): boolean {
    return this.passive !== null || this.active !== null;
  }

  /** Drop whatever PASV listener or PORT target the session had. */
  reset(): void {
    if (this.passive !== null) {
      const p = this.passive;
      p.server.close();
      if (p.outcome?.kind === 'socket') p.outcome.socket.destroy();
      this.passive = null;
    }
    this.active = null;
  }

  /** Listen on a random port of the range; returns the port or null. */
  async listenPassive(): Promise<number | null> {
    this.reset();
    const { min, max } = passivePortRange(this.cfg);
    const host = this.session.localAddress;
    const attempts = Math.max(1, this.cfg.bind_retries);
    for (let i = 0; i < attempts; i++) {
      const port = min + Math.floor(Math.random() * (max - min + 1));
      const server = net.createServer({ pauseOnConnect: true });
      if (!(await listenOn(server, host, port))) {
        server.close();
        continue;
      }
      const p: Passive = { server, port, outcome: null, waiter: null };
      server.on('connection', (sock: net.Socket) => this.onPassiveConnection(p, sock));
      server.on('error', () => undefined);
      this.passive = p;
      return port;
    }
    return null;
  }

  private onPassiveConnection(p: Passive, sock: net.Socket): void {
    if (p.outcome !== null || this.passive !== p) {
      sock.destroy();
      return;
    }
    // One connection per PASV, as vsftpd's backlog-1 listener.
    p.server.close();
    const from = normalizeAddress(sock.remoteAddress ?? '');
    const expected = normalizeAddress(this.session.remoteAddress);
    let outcome: PassiveOutcome;
    if (!this.cfg.pasv_promiscuous && from !== expected) {
      sock.destroy();
      outcome = { kind: 'bad_ip', from };
    } else {
      sock.on('error', () => undefined);
      outcome = { kind: 'socket', socket: sock };
    }
    p.outcome = outcome;
    const w = p.waiter;
    p.waiter = null;
    if (w !== null) w(outcome);
  }

  /**
   * PORT/EPRT target. Returns false when the target is refused.
   * SECURITY: only the control peer, only unprivileged ports.
   */
  setActive(host: string, port: number): boolean {
    this.reset();
    if (!this.cfg.port_promiscuous) {
      if (normalizeAddress(host) !== normalizeAddress(this.session.remoteAddress)) return false;
      if (port < 1024) return false;
    }
    if (port < 1 || port > 65535) return false;
    this.active = { host, port };
    return true;
  }

  /**
   * Establish the data connection for a transfer command. Every failure is
   * logged with its cause — what admins lack when passive mode fails.
   */
  async open(): Promise<DataOpenResult> {
    const mode = this.passive !== null ? 'passive' : this.active !== null ? 'active' : 'none';
    const r = await this.establish();
    if (!r.ok) {
      logEvent('data_connection_failed', {
        session: this.session.id,
        client: normalizeAddress(this.session.remoteAddress),
        mode,
        reply: r.code,
        kind: r.kind,
        cause: r.cause,
      });
      jsonEvent({
        event: 'data_connection_failed',
        session: this.session.id,
        client: normalizeAddress(this.session.remoteAddress),
        mode,
        reply: r.code,
        kind: r.kind,
        cause: r.cause,
      });
      sendToMaster({ t: 'data_failed', cause: r.kind });
    }
    return r;
  }

  private async establish(): Promise<DataOpenResult> {
    const passive = this.passive;
    const active = this.active;
    if (passive !== null) {
      const outcome = await this.awaitPassive(passive);
      this.passive = null;
      passive.server.close();
      if (outcome === null) {
        return { ok: false, code: 425, text: 'Failed to establish connection.', kind: 'accept_timeout', cause: 'accept timeout' };
      }
      if (outcome.kind === 'bad_ip') {
        return { ok: false, code: 425, text: 'Security: Bad IP connecting.', kind: 'bad_ip', cause: `connection from ${outcome.from}` };
      }
      return { ok: true, socket: outcome.socket };
    }
    if (active !== null) {
      this.active = null;
      return this.connectActive(active);
    }
    return { ok: false, code: 425, text: 'Use PORT or PASV first.', kind: 'no_setup', cause: 'no data connection set up' };
  }

  private awaitPassive(p: Passive): Promise<PassiveOutcome | null> {
    if (p.outcome !== null) return Promise.resolve(p.outcome);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        p.waiter = null;
        resolve(null);
      }, this.cfg.accept_timeout * 1000);
      p.waiter = (o) => {
        clearTimeout(timer);
        resolve(o);
      };
    });
  }

  private async connectActive(a: Active): Promise<DataOpenResult> {
    // Port 20 needs root: priv makes the connection (to the control peer
    // only) and hands over the socket. With port_promiscuous the target may
    // be another host, which priv never connects to: the worker does it.
    if (this.cfg.connect_from_port_20 && !this.cfg.port_promiscuous) {
      const r = await requestDataSocket(a.port);
      if (r.socket === null) return { ok: false, code: 425, text: 'Failed to establish connection.', kind: 'port20_failed', cause: r.detail };
      r.socket.on('error', () => undefined);
      return { ok: true, socket: r.socket };
    }
    return new Promise((resolve) => {
      // An IPv4 client on a dual-stack listener has a v4-mapped local address;
      // binding that for an IPv4 connect fails (EINVAL): use the plain form.
      const sock = net.connect({ host: a.host, port: a.port, localAddress: normalizeAddress(this.session.localAddress) });
      const timer = setTimeout(() => {
        sock.destroy();
        resolve({ ok: false, code: 425, text: 'Failed to establish connection.', kind: 'connect_failed', cause: 'connect timeout' });
      }, this.cfg.connect_timeout * 1000);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        sock.on('error', () => undefined);
        resolve({ ok: true, socket: sock });
      });
      sock.once('error', (e: Error) => {
        clearTimeout(timer);
        resolve({ ok: false, code: 425, text: 'Failed to establish connection.', kind: 'connect_failed', cause: e.message });
      });
    });
  }
}
