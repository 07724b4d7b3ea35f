/*
 * Data connections for one session (vsftpd's ftpdataio.c and the PASV/PORT
 * halves of privops.c). Runs in the jailed session worker: passive ports are
 * above 1024, so no privilege is needed to listen on them.
 *
 * SECURITY: a passive connection from any address but the control
 * connection's peer is refused (pasv_promiscuous=NO); a PORT target must be
 * the control peer on a port >= 1024 (port_promiscuous=NO). Both are
 * vsftpd's defences against data-connection theft and FTP bounce.
 *
 * TLS (PROT P): the data connection's handshake starts as soon as it is
 * accepted, with this session's context, and vsftpd's checks run the moment
 * it completes: the TLS session must be a resumption of this session's
 * control connection (require_ssl_reuse) and present the control
 * connection's client certificate. Listings and transfers get TLS from
 * open() without knowing.
 *
 * Clients differ in when they handshake. curl and lftp do it before they
 * send RETR or LIST (and wait for it): open() waits for the outcome, and a
 * refusal is answered instead of the 150. Python's ftplib waits for the 150
 * first: open() returns the TLS socket corked at once - nothing the caller
 * writes reaches the TLS layer until the checks passed - and a refusal ends
 * the transfer; its final reply becomes vsftpd's 522 (as vsftpd, which
 * always handshakes after its 150).
 */

import { randomInt } from 'node:crypto';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { normalizeAddress } from '../address';
import type { Config } from '../config/options';
import type { DataFailure, SessionInfo } from '../ipc/messages';
import { requestDataSocket, sendToMaster } from './ipc';
import { logEvent } from './log';
import { jsonEvent } from './sessionlog';
import { foreignTicketCount, handshakeFields, startTls, type HandshakeInfo, type TlsHandshake } from './tls';

/** What a data connection needs to know about the session's TLS. */
export interface DataSecurity {
  /** The session's TLS context (the control connection is TLS), else null. */
  readonly ctx: tls.SecureContext | null;
  /** SHA-256 fingerprint of the client certificate on the control connection, or null. */
  readonly controlCert: string | null;
  /** Resumption by session ID of the control connection's session (tls.ts sessionIdHolder). */
  readonly holder: tls.Server | null;
  /** force_anon_data_ssl applies (anonymous), else force_local_data_ssl. */
  readonly anonymous: boolean;
  /** The PROT level now. */
  prot(): 'C' | 'P';
  /** End the session once the reply in flight is out (vsftpd exits after a refused data TLS session). */
  endSession(): void;
  /** Answer the command in progress with this, whatever its own final reply (a refusal after the 150). */
  replaceFinalReply(code: number, text: string, fatal: boolean): void;
}

const CLEAR_TEXT: DataSecurity = {
  ctx: null,
  controlCert: null,
  holder: null,
  anonymous: false,
  prot: () => 'C',
  endSession: () => undefined,
  replaceFinalReply: () => undefined,
};

export type DataOpenResult =
  | { readonly ok: true; readonly socket: net.Socket }
  | { readonly ok: false; readonly code: number; readonly text: string; readonly kind: DataFailure; readonly cause: string };


type PassiveOutcome =
  | { kind: 'socket'; socket: net.Socket; handshake: DataHandshake | null }
  | { kind: 'bad_ip'; from: string };

/** A data connection's handshake, and whether open() already handed its socket out. */
interface DataHandshake {
  readonly tls: TlsHandshake;
  /** open() returned the socket before the handshake finished (ftplib-style client). */
  late: boolean;
  /** Why the checks refused it, once they did. */
  refused: string | null;
}

/** Let go of an accepted data connection, whatever state its TLS is in. */
function discard(o: PassiveOutcome | null): void {
  if (o === null || o.kind !== 'socket') return;
  o.handshake?.tls.socket.destroy();
  o.socket.destroy();
}

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
  /** The last data connection open() returned was TLS (for the transfer log). */
  lastTls = false;

  constructor(
    private readonly cfg: Config,
    private readonly session: SessionInfo,
    private readonly security: DataSecurity = CLEAR_TEXT,
  ) {}

  /** PROT P on a TLS session: data connections speak TLS. */
  private get wantTls(): boolean {
    return this.security.ctx !== null && this.security.prot() === 'P';
  }

  get isConfigured(): boolean {
    return this.passive !== null || this.active !== null;
  }

  /** Drop whatever PASV listener or PORT target the session had. */
  reset(): void {
    // Tickets of other sessions counted from here belong to the next data connection.
    this.foreignSeen = foreignTicketCount();
    if (this.passive !== null) {
      const p = this.passive;
      p.server.close();
      discard(p.outcome);
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
      // SECURITY: crypto, not Math.random: workers forked from the zygote all
      // start from the same Math.random state, and a client that saw its own
      // ports would know the next session's.
      const port = randomInt(min, max + 1);
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
      // The client may handshake before it sends the transfer command.
      outcome = { kind: 'socket', socket: sock, handshake: this.wantTls ? this.startDataTls(sock) : null };
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
    this.lastTls = false;
    const r = await this.establishSecure(mode);
    if (!r.ok) this.logFailure(mode, r);
    return r;
  }

  private logFailure(mode: string, r: Extract<DataOpenResult, { ok: false }>): void {
    const fields = {
      session: this.session.id,
      client: normalizeAddress(this.session.remoteAddress),
      mode,
      reply: r.code,
      kind: r.kind,
      cause: r.cause,
    };
    logEvent('data_connection_failed', fields);
    jsonEvent({ event: 'data_connection_failed', ...fields });
    sendToMaster({ t: 'data_failed', cause: r.kind });
  }

  /**
   * force_local_data_ssl / force_anon_data_ssl first (vsftpd: only with
   * ssl_enable), then the connection, then its TLS checks.
   */
  private async establishSecure(mode: string): Promise<DataOpenResult> {
    const forced = this.security.anonymous ? this.cfg.force_anon_data_ssl : this.cfg.force_local_data_ssl;
    if (this.cfg.ssl_enable && forced && !this.wantTls && this.isConfigured) {
      this.reset();
      return {
        ok: false,
        code: 522,
        text: 'Data connections must be encrypted.',
        kind: 'tls',
        cause: `PROT ${this.security.ctx === null ? 'unavailable (control connection in clear text)' : 'C'} and force_${this.security.anonymous ? 'anon' : 'local'}_data_ssl=YES`,
      };
    }
    const tlsWanted = this.wantTls;
    const r = await this.establish();
    if (!r.ok) return r;
    const h = r.handshake ?? (tlsWanted ? this.startDataTls(r.socket) : null);
    if (h === null) return { ok: true, socket: r.socket };
    h.tls.armTimeout(this.cfg.accept_timeout * 1000);
    if (h.tls.outcome() === null && h.tls.bytesIn() === 0) {
      // The client has not begun: it waits for the 150 (ftplib). Hand the
      // socket out corked; the checks decide before a byte moves.
      h.late = true;
      h.tls.socket.cork();
      void h.tls.done.then((o) => {
        if (o.ok) {
          this.logHandshake(o.info);
          h.tls.socket.uncork();
          return;
        }
        void o.close(null);
        const refusal = this.refusal(h.refused ?? `TLS handshake failed: ${o.reason}`);
        this.security.replaceFinalReply(refusal.code, refusal.text, this.cfg.require_ssl_reuse);
        this.logFailure(mode, refusal);
      });
      this.lastTls = true;
      return { ok: true, socket: h.tls.socket };
    }
    // It has begun (curl, lftp): wait, and refuse before the 150.
    const o = await h.tls.done;
    if (!o.ok) {
      void o.close(null);
      const refusal = this.refusal(h.refused ?? `TLS handshake failed: ${o.reason}`);
      if (this.cfg.require_ssl_reuse) this.security.endSession();
      return refusal;
    }
    this.logHandshake(o.info);
    this.lastTls = true;
    return { ok: true, socket: o.socket };
  }

  /** Start the server side of a data connection's TLS, with vsftpd's checks at its end. */
  private startDataTls(sock: net.Socket): DataHandshake | null {
    const ctx = this.security.ctx;
    if (ctx === null) return null;
    const foreignBefore = this.foreignSeen;
    const h: DataHandshake = {
      late: false,
      refused: null,
      tls: startTls(sock, ctx, this.cfg, {
        holder: this.security.holder,
        verify: (info) => {
          const cause = this.check(info, foreignBefore);
          if (cause !== null) {
            h.refused = cause;
            if (h.late) {
              // The 150 is out: the transfer's own reply becomes the refusal.
              const refusal = this.refusal(cause);
              this.security.replaceFinalReply(refusal.code, refusal.text, this.cfg.require_ssl_reuse);
            }
          }
          return cause;
        },
      }),
    };
    return h;
  }

  /**
   * vsftpd's ssl_accept() checks on a data connection: a resumption of this
   * session's control connection (require_ssl_reuse), and the control
   * connection's client certificate, if it had one.
   */
  private check(info: HandshakeInfo, foreignBefore: number): string | null {
    if (this.cfg.require_ssl_reuse && !info.reused) {
      return foreignTicketCount() > foreignBefore
        ? 'TLS session is not a resumption of this session: the client offered a ticket this session did not issue'
        : 'TLS session is not a resumption of the control connection (no session offered)';
    }
    const control = this.security.controlCert;
    if (control !== null && info.clientCert === null) return 'Missing cert on data channel';
    if (control !== null && info.clientCert !== control) return 'DIFFERENT cert on data channel';
    return null;
  }

  /** The reply to a refused data TLS session (vsftpd 3.0.3 post_mark_connect). */
  private refusal(cause: string): Extract<DataOpenResult, { ok: false }> {
    const reuse = this.cfg.require_ssl_reuse;
    return { ok: false, code: 522, text: reuse ? 'SSL connection failed: session reuse required' : 'SSL connection failed.', kind: 'tls', cause };
  }

  private logHandshake(info: HandshakeInfo): void {
    if (!this.cfg.debug_ssl) return;
    const fields = { session: this.session.id, client: normalizeAddress(this.session.remoteAddress), channel: 'data', ...handshakeFields(info) };
    logEvent('tls_handshake', fields);
    jsonEvent({ event: 'tls_handshake', ...fields });
  }

  /** Tickets of other sessions seen before this data connection (foreignTicketCount). */
  private foreignSeen = 0;

  private async establish(): Promise<
    | { readonly ok: true; readonly socket: net.Socket; readonly handshake: DataHandshake | null }
    | Extract<DataOpenResult, { ok: false }>
  > {
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
      return { ok: true, socket: outcome.socket, handshake: outcome.handshake };
    }
    if (active !== null) {
      this.active = null;
      const r = await this.connectActive(active);
      return r.ok ? { ok: true, socket: r.socket, handshake: null } : r;
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
export { normalizeAddress };
