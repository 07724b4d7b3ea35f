/*
 * TLS in a session worker: the SecureContext of one session, the server
 * side of a handshake (control connection in W1, data connections in W2),
 * and the one thing Node does not tell: whether a TLS stream ended with the
 * peer's close_notify or with a bare TCP FIN.
 *
 * Everything here is built before the jail (the context, from PEM text
 * master read) or needs nothing from the file system (handshakes).
 *
 * Session tickets. W1 and W2 are separate processes with separate OpenSSL
 * contexts; a data connection can resume the control connection's session
 * only through a stateless ticket both can decrypt. Each session's contexts
 * use its own 48 random bytes (master makes them), so a ticket of another
 * session does not decrypt: that data connection is a full handshake, and
 * isSessionReused() is false (require_ssl_reuse refuses it).
 *
 * Tickets are renewed on every resumption (the ticket key callback answers
 * "renew"): an OpenSSL client marks a TLS 1.3 session it has resumed as not
 * resumable again (tls_finish_handshake() removes it from the client cache),
 * and an OpenSSL server issues no new ticket on a resumed TLS 1.3 connection
 * unless told to renew. curl keeps one session per host and replaces it with
 * each new ticket, so without renewal its next data connection had nothing
 * to resume, and only every other data connection resumed.
 */

import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { Config } from '../config/options';
import type { TlsSetup } from '../ipc/messages';

/** The ALPN protocol id of FTP (RFC 7301 registry); ALPACA (CVE-2021-3618). */
const ALPN_FTP = 'ftp';

/*
 * Ticket lifetime: TLS 1.3's maximum (RFC 8446 §4.6.1). vsftpd sets its
 * session cache timeout to INT_MAX; a short lifetime would refuse the first
 * data connection of a session that stayed idle for a while.
 */
const TICKET_LIFETIME_SECONDS = 7 * 24 * 3600;

/** The native half of a SecureContext: Node's ticket key callback hook. */
interface NativeTicketContext {
  enableTicketKeyCallback(): void;
  onticketkeycallback: (name: Buffer, iv: Buffer, encrypt: boolean) => Array<number | Buffer>;
}

function nativeContext(ctx: tls.SecureContext): NativeTicketContext {
  const native: unknown = (ctx as { context: unknown }).context;
  const hook = typeof native === 'object' && native !== null ? (native as { enableTicketKeyCallback?: unknown }).enableTicketKeyCallback : undefined;
  if (typeof hook !== 'function') throw new Error('this Node.js has no TLS ticket key callback');
  return native as NativeTicketContext;
}

/** Tickets presented that this session's keys do not know (another session's, or stale). */
let foreignTickets = 0;
export function foreignTicketCount(): number {
  return foreignTickets;
}

/**
 * One session's SecureContext: master's certificate and key, the configured
 * ciphers and versions, and this session's ticket keys with renewal.
 */
export function createSessionContext(setup: TlsSetup): tls.SecureContext {
  const keys = Buffer.from(setup.ticketKeys, 'base64');
  if (keys.length !== 48) throw new Error('ticket keys must be 48 bytes');
  const ctx = tls.createSecureContext({
    cert: setup.cert,
    key: setup.key,
    ...(setup.ca !== null ? { ca: setup.ca } : {}),
    ciphers: setup.ciphers,
    minVersion: setup.minVersion,
    maxVersion: setup.maxVersion,
    // Needed for resumption once a client certificate is requested
    // (OpenSSL refuses SSL_VERIFY_PEER resumption without it); the same in W1 and W2.
    sessionIdContext: 'tsftpd',
    sessionTimeout: TICKET_LIFETIME_SECONDS,
  });
  const name = keys.subarray(0, 16);
  const hmac = keys.subarray(16, 32);
  const aes = keys.subarray(32, 48);
  const native = nativeContext(ctx);
  native.enableTicketKeyCallback();
  // [result, hmac key, aes key, key name, iv]; result 1: ok, 2: ok and
  // issue a fresh ticket, 0: unknown key (full handshake).
  native.onticketkeycallback = (ticketName: Buffer, iv: Buffer, encrypt: boolean): Array<number | Buffer> => {
    if (encrypt) return [1, hmac, aes, name, crypto.randomBytes(16)];
    if (!crypto.timingSafeEqual(ticketName, name)) {
      foreignTickets++;
      return [0, hmac, aes, name, iv];
    }
    return [2, hmac, aes, name, iv];
  };
  return ctx;
}

/**
 * The raw connection under a TLS socket, as a JS stream. It lets the TLS
 * layer report how the peer ended: Node emits 'end' alike for a close_notify
 * and for a bare TCP FIN (it never shows OpenSSL the FIN), so the transport
 * records whether the raw connection's EOF had reached the TLS layer when
 * the TLS stream ended. A close_notify ends the TLS stream while its bytes
 * are delivered, before the raw EOF is.
 *
 * During the handshake the raw socket outlives the TLS socket, so a failed
 * negotiation can still be answered in clear text (vsftpd's 421).
 */
export class RawTransport extends Duplex {
  private eofForwarded = false;
  private released = false;
  /** Until settled, destroying the TLS side leaves the raw socket open. */
  keepRaw = true;
  /** null while the TLS stream is open; then: ended by a close_notify? */
  closeNotify: boolean | null = null;
  /** Bytes received from the peer so far. */
  bytesIn = 0;
  private readonly onRawData = (chunk: Buffer): void => {
    this.bytesIn += chunk.length;
    if (!this.push(chunk)) this.raw.pause();
  };
  private readonly onRawEnd = (): void => {
    this.push(null);
  };
  private readonly onRawError = (e: Error): void => {
    this.destroy(e);
  };
  private readonly onRawClose = (): void => {
    if (!this.destroyed) this.destroy();
  };

  constructor(readonly raw: net.Socket) {
    super({ allowHalfOpen: true });
    // Registered before the TLS socket's own 'end' listener (it is made after this).
    this.once('end', () => {
      this.eofForwarded = true;
    });
    raw.on('data', this.onRawData);
    raw.on('end', this.onRawEnd);
    raw.on('error', this.onRawError);
    raw.on('close', this.onRawClose);
  }

  override _read(): void {
    if (!this.released) this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.released || this.raw.destroyed) {
      callback(new Error('connection closed'));
      return;
    }
    this.raw.write(chunk, (e) => callback(e ?? null));
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.released || this.raw.destroyed) {
      callback();
      return;
    }
    this.raw.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.keepRaw) this.raw.destroy();
    else this.detachRaw();
    callback(error);
  }

  /** Stop using the raw socket; it stays open for its owner. */
  private detachRaw(): void {
    this.released = true;
    this.raw.removeListener('data', this.onRawData);
    this.raw.removeListener('end', this.onRawEnd);
    this.raw.removeListener('error', this.onRawError);
    this.raw.removeListener('close', this.onRawClose);
    this.raw.on('error', () => undefined);
  }

  /** Record, when `sock` ends, whether a close_notify ended it. */
  watch(sock: tls.TLSSocket): void {
    const push = sock.push.bind(sock);
    sock.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk === null && this.closeNotify === null) this.closeNotify = !this.eofForwarded;
      return push(chunk, encoding);
    };
  }
}

/** How TLS data connections end, for strict_ssl_read_eof (transfer.ts). */
const ENDINGS = new WeakMap<net.Socket, { readonly transport: RawTransport; readonly strict: boolean }>();

/**
 * For a TLS socket made here: did the peer end it properly? null for a
 * socket that is not TLS. `strict` is strict_ssl_read_eof.
 */
export function tlsEnding(sock: net.Socket): { strict: boolean; closeNotify: boolean } | null {
  const e = ENDINGS.get(sock);
  if (e === undefined) return null;
  return { strict: e.strict, closeNotify: e.transport.closeNotify === true };
}

export interface HandshakeInfo {
  readonly protocol: string;
  readonly cipher: string;
  readonly reused: boolean;
  readonly alpn: string | null;
  readonly sni: string | null;
  /** SHA-256 fingerprint of the client certificate, or null. */
  readonly clientCert: string | null;
  /** The client certificate chains to ca_certs_file. */
  readonly certValid: boolean;
}

/**
 * TLS 1.2 resumption by session ID: OpenSSL keeps such sessions in a
 * server-side cache, which W1 and W2 do not share. W1 captures the control
 * connection's session; W2 lets a data connection resume exactly that one
 * (curl sets SSL_OP_NO_TICKET, so on TLS 1.2 it resumes by session ID only).
 * Node runs these callbacks only for a socket that names a tls.Server; this
 * one never listens.
 */
export interface SessionIdCache {
  /** W1: the control connection's session, once. */
  readonly capture?: (id: Buffer, data: Buffer) => void;
  /** W2: the one session a data connection may resume by ID. */
  readonly resume?: { readonly id: Buffer; readonly data: Buffer } | null;
}

export function sessionIdHolder(cache: SessionIdCache): tls.Server {
  const holder = tls.createServer();
  holder.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    cache.capture?.(id, data);
    done();
  });
  holder.on('resumeSession', (id: Buffer, cb: (err: Error | null, data: Buffer | null) => void) => {
    const r = cache.resume;
    cb(null, r !== undefined && r !== null && id.equals(r.id) ? r.data : null);
  });
  return holder;
}

export type HandshakeOutcome =
  | { readonly ok: true; readonly socket: tls.TLSSocket; readonly info: HandshakeInfo }
  | {
      readonly ok: false;
      readonly reason: string;
      /**
       * End the connection, with `reply` (a full reply line) first when
       * given: in clear text if the handshake never finished (vsftpd's
       * 421), through TLS if it did.
       */
      readonly close: (reply: string | null) => Promise<void>;
    };

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface StartTlsOptions {
  /** A never-listening tls.Server for resumption by session ID (sessionIdHolder). */
  readonly holder?: tls.Server | null;
  /**
   * Further checks, run synchronously when the handshake completes, before
   * a byte of application data moves either way; a reason refuses.
   */
  readonly verify?: (info: HandshakeInfo) => string | null;
  /**
   * On a refusal after the handshake, keep the TLS connection so the
   * refusal can be answered through it (control: 421); otherwise it is
   * destroyed at once (data).
   */
  readonly replyThroughTls?: boolean;
}

/** A server-side handshake in progress. */
export interface TlsHandshake {
  /** The TLS socket, usable at once: writes wait for the handshake (cork it to hold them longer). */
  readonly socket: tls.TLSSocket;
  /** Bytes the client has sent on this connection so far (0: it has not begun its handshake). */
  readonly bytesIn: () => number;
  /** Resolves when the handshake and the checks are done, or failed. */
  readonly done: Promise<HandshakeOutcome>;
  /** The outcome once known, else null. */
  readonly outcome: () => HandshakeOutcome | null;
  /** Fail the handshake if it is not done within `ms` (from now). */
  readonly armTimeout: (ms: number) => void;
}

/**
 * The server side of a TLS handshake on `raw` (control after AUTH or at
 * connect, or a data connection): policy checks at the handshake (ALPN,
 * SNI, client certificate) and `verify`.
 */
export function startTls(raw: net.Socket, ctx: tls.SecureContext, cfg: Config, opts: StartTlsOptions = {}): TlsHandshake {
  const transport = new RawTransport(raw);
  let refusal: string | null = null;
  const expectedSni = cfg.ssl_sni_hostname === null ? null : cfg.ssl_sni_hostname.toLowerCase();
  const holder = opts.holder ?? null;
  const sock = new tls.TLSSocket(transport, {
    isServer: true,
    secureContext: ctx,
    ...(holder !== null ? { server: holder } : {}),
    // vsftpd: ssl_request_cert asks, require_cert insists, validate_cert
    // checks the chain; verification results are looked at below.
    requestCert: cfg.ssl_request_cert || cfg.require_cert,
    rejectUnauthorized: false,
    // ALPACA: a client that offers ALPN must offer "ftp" (vsftpd 3.0.5);
    // one that offers none is fine.
    ALPNCallback: ({ protocols }) => {
      if (protocols.includes(ALPN_FTP)) return ALPN_FTP;
      refusal = `ALPN without "ftp" (offered: ${protocols.join(',')})`;
      return undefined;
    },
    // ssl_sni_hostname: a client that names a host must name this one.
    ...(expectedSni !== null
      ? {
          SNICallback: (servername: string, cb: (err: Error | null, c?: tls.SecureContext) => void): void => {
            // RFC 6066 allows no address literal in SNI; a client that
            // sends one (lftp does) has named no host.
            if (servername.toLowerCase() === expectedSni || net.isIP(servername) !== 0) {
              cb(null, ctx);
              return;
            }
            refusal = `SNI names ${JSON.stringify(servername)}, not ssl_sni_hostname`;
            cb(new Error(refusal));
          },
        }
      : {}),
  });
  transport.watch(sock);
  ENDINGS.set(sock, { transport, strict: cfg.strict_ssl_read_eof });
  let result: HandshakeOutcome | null = null;
  let timer: NodeJS.Timeout | null = null;
  let resolveDone: (o: HandshakeOutcome) => void = () => undefined;
  const done = new Promise<HandshakeOutcome>((resolve) => {
    resolveDone = resolve;
  });
  const settle = (o: HandshakeOutcome): void => {
    if (result !== null) return;
    result = o;
    if (timer !== null) clearTimeout(timer);
    resolveDone(o);
  };
  const failed = (reason: string, established: boolean): void => {
    if (result !== null) return;
    if (established && opts.replyThroughTls !== true) {
      // SECURITY: not one byte of application data on a refused connection.
      transport.keepRaw = false;
      sock.destroy();
    }
    settle({
      ok: false,
      reason,
      close: (reply) =>
        new Promise<void>((closed) => {
          const bound = setTimeout(() => {
            sock.destroy();
            raw.destroy();
            closed();
          }, 1000);
          raw.once('close', () => {
            clearTimeout(bound);
            closed();
          });
          if (established && reply !== null && !sock.destroyed) {
            // The client speaks TLS now: answer through it.
            transport.keepRaw = false;
            sock.end(`${reply}\r\n`);
            return;
          }
          sock.destroy();
          if (reply !== null && !raw.destroyed && raw.writable) raw.end(`${reply}\r\n`);
          else raw.destroy();
        }),
    });
  };
  sock.on('error', (e: Error) => failed(refusal ?? errText(e), false));
  sock.once('close', () => failed(refusal ?? 'connection closed during the TLS handshake', false));
  sock.once('secure', () => {
    if (result !== null) return;
    const peer = sock.getPeerX509Certificate();
    const clientCert = peer?.fingerprint256 ?? null;
    const certError = clientCert === null ? null : certVerifyError(sock);
    const info: HandshakeInfo = {
      protocol: sock.getProtocol() ?? '?',
      cipher: sock.getCipher().name,
      reused: sock.isSessionReused(),
      alpn: typeof sock.alpnProtocol === 'string' ? sock.alpnProtocol : null,
      sni: typeof sock.servername === 'string' && sock.servername !== '' ? sock.servername : null,
      clientCert,
      certValid: clientCert !== null && certError === null,
    };
    let reason: string | null = null;
    if (cfg.require_cert && clientCert === null) reason = 'no client certificate (require_cert)';
    else if (cfg.validate_cert && clientCert !== null && certError !== null) reason = `client certificate not valid: ${certError}`;
    else reason = opts.verify?.(info) ?? null;
    if (reason !== null) {
      failed(reason, true);
      return;
    }
    transport.keepRaw = false;
    settle({ ok: true, socket: sock, info });
  });
  return {
    socket: sock,
    bytesIn: () => transport.bytesIn,
    done,
    outcome: () => result,
    armTimeout: (ms) => {
      if (result !== null || timer !== null) return;
      timer = setTimeout(() => failed('TLS handshake timed out', false), ms);
    },
  };
}

/** A whole handshake, bounded by timeoutMs. */
export function acceptTls(raw: net.Socket, ctx: tls.SecureContext, cfg: Config, timeoutMs: number, opts: StartTlsOptions = {}): Promise<HandshakeOutcome> {
  const h = startTls(raw, ctx, cfg, opts);
  h.armTimeout(timeoutMs);
  return h.done;
}

/**
 * The verification result of the client certificate. Node sets
 * `authorized` only for sockets a listening tls.Server made; for a
 * TLSSocket wrapped by hand the result is read from the TLS handle, as
 * Node itself does. Unknown means not valid (fail closed).
 */
function certVerifyError(sock: tls.TLSSocket): string | null {
  const handle: unknown = (sock as unknown as { _handle: unknown })._handle;
  const fn = typeof handle === 'object' && handle !== null ? (handle as { verifyError?: unknown }).verifyError : undefined;
  if (typeof fn !== 'function') return 'cannot verify the client certificate';
  const e: unknown = fn.call(handle);
  if (e === null || e === undefined) return null;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}

/** debug_ssl: one handshake as flat fields for a JSON event. */
export function handshakeFields(info: HandshakeInfo): Record<string, string | number | boolean | null> {
  return {
    protocol: info.protocol,
    cipher: info.cipher,
    reused: info.reused,
    alpn: info.alpn,
    sni: info.sni,
    client_cert: info.clientCert,
    client_cert_valid: info.certValid,
  };
}
