/*
 * W1: the pre-login dialogue, run as nopriv_user inside secure_chroot_dir
 * (vsftpd's prelogin.c). It knows no passwords and decides nothing: it
 * collects USER and PASS and asks master, which asks priv.
 *
 * With ssl_enable it also does the TLS handshake (AUTH TLS, or at once with
 * implicit FTPS): all TLS parsing happens in this unprivileged, jailed
 * process. After a TLS login it stays as the session's relay (relay.ts).
 */

import type * as tls from 'node:tls';
import type { Config } from '../config/options';
import { IPC_LIMITS, type SessionInfo } from '../ipc/messages';
import type { ControlChannel, FtpCommand } from '../protocol/control';
import { featureLines } from '../protocol/features';
import { VERSION } from '../version';
import { normalizeAddress } from './data';
import { requestLogin, requestUserCheck, sendToMaster } from './ipc';
import { logEvent } from './log';
import { runRelay, waitForRelaySocket } from './relay';
import { jsonEvent, setLogUser } from './sessionlog';
import { prot as protReply, pbsz as pbszReply } from './commands/tls';
import { acceptTls, handshakeFields, sessionIdHolder } from './tls';

function isAnonymousName(name: string): boolean {
  const n = name.toLowerCase();
  return n === 'ftp' || n === 'anonymous';
}

/* SECURITY: HTTP verbs on an FTP port mean a cross-protocol attack (ALPACA). */
const HTTP_VERBS = new Set(['GET', 'POST', 'HEAD', 'OPTIONS', 'CONNECT']);

/** vsftpd 3.0.5: the 11th unrecognised command before login ends the session. */
const MAX_PRELOGIN_ERRORS = 10;

/** The control connection once it is TLS. */
interface ControlTlsState {
  readonly socket: tls.TLSSocket;
  prot: 'C' | 'P';
  readonly clientCert: string | null;
}

/** ssl_enable: what W1 needs for TLS, made before the jail. */
export interface PreloginTls {
  /** This session's context (its ticket keys). */
  readonly ctx: tls.SecureContext;
  /** Captures the control connection's session for resumption by ID in W2. */
  readonly holder: tls.Server;
  /** The control connection's TLS session, once made. */
  readonly session: () => { readonly id: Buffer; readonly data: Buffer } | null;
}

export function preloginTls(ctx: tls.SecureContext): PreloginTls {
  let captured: { id: Buffer; data: Buffer } | null = null;
  const holder = sessionIdHolder({
    capture: (id, data) => {
      if (captured === null) captured = { id: Buffer.from(id), data: Buffer.from(data) };
    },
  });
  return { ctx, holder, session: () => captured };
}

interface PreloginState {
  user: string | null;
  /** Unrecognised commands so far. */
  errors: number;
  /** ssl_enable: this session's TLS setup, else null. */
  readonly tlsSetup: PreloginTls | null;
  /** Non-null once the control connection is TLS. */
  tls: ControlTlsState | null;
  readonly info: SessionInfo;
}

type Handler = (ch: ControlChannel, cmd: FtpCommand, st: PreloginState, cfg: Config) => void | Promise<void>;

/** How long a client may take over the control connection's handshake. */
function handshakeTimeoutMs(cfg: Config): number {
  return (cfg.idle_session_timeout > 0 ? cfg.idle_session_timeout : 300) * 1000;
}

/**
 * The control connection's TLS handshake (AUTH, or implicit FTPS before the
 * greeting). Failure: vsftpd's "421 Negotiation failed: <reason>", then the
 * session ends.
 */
async function negotiate(ch: ControlChannel, st: PreloginState, cfg: Config, prot: 'C' | 'P'): Promise<boolean> {
  const setup = st.tlsSetup;
  if (setup === null) return false;
  const raw = ch.releaseSocket();
  const r = await acceptTls(raw, setup.ctx, cfg, handshakeTimeoutMs(cfg), { holder: setup.holder, replyThroughTls: true });
  const client = normalizeAddress(st.info.remoteAddress);
  if (!r.ok) {
    // Always logged: an ALPN or SNI refusal is what an admin looks for.
    logEvent('tls_refused', { session: st.info.id, client, channel: 'control', reason: r.reason });
    jsonEvent({ event: 'tls_refused', session: st.info.id, client, channel: 'control', reason: r.reason });
    ch.abandon();
    await r.close(`421 Negotiation failed: ${r.reason.replace(/[\r\n]/g, ' ')}`);
    process.exit(0);
  }
  if (cfg.debug_ssl) {
    const fields = { session: st.info.id, client, channel: 'control', ...handshakeFields(r.info) };
    logEvent('tls_handshake', fields);
    jsonEvent({ event: 'tls_handshake', ...fields });
  }
  st.tls = { socket: r.socket, prot, clientCert: r.info.clientCert };
  ch.adoptSocket(r.socket);
  return true;
}

async function doLogin(ch: ControlChannel, st: PreloginState, user: string, pass: string): Promise<void> {
  const result = await requestLogin(user, pass);
  if (result.ok) {
    const t = st.tls;
    if (t !== null) {
      // TLS: this process keeps the connection and becomes the relay; the
      // bytes decrypted after PASS go to W2 first, through the relay.
      const pending = ch.detach(true);
      const captured = st.tlsSetup?.session() ?? null;
      const sess = captured !== null && captured.data.length <= IPC_LIMITS.tlsSessionMaxBytes && captured.id.length <= 32 ? captured : null;
      sendToMaster({
        t: 'handoff',
        pending: '',
        tls: {
          prot: t.prot,
          clientCert: t.clientCert,
          session: sess === null ? null : { id: sess.id.toString('hex'), data: sess.data.toString('base64') },
        },
      });
      const session = await waitForRelaySocket();
      if (session === null) process.exit(1);
      process.title = `tsftpd: ${normalizeAddress(st.info.remoteAddress)}: SSL handler`;
      runRelay(t.socket, pending, session, () => process.exit(0));
      return;
    }
    // Everything after PASS belongs to the post-login process.
    const pending = ch.detach();
    // W1's part is over once master has the bytes; W2 takes the session.
    sendToMaster({ t: 'handoff', pending: pending.toString('base64'), tls: null }, () => process.exit(0));
    return;
  }
  if (result.close) {
    ch.fatal(530, 'Login incorrect.');
  } else {
    ch.reply(530, 'Login incorrect.');
  }
}

/** An unrecognised command: 530, and the end after too many (vsftpd 3.0.5). */
function unknownCommand(ch: ControlChannel, st: PreloginState): void {
  st.errors++;
  if (st.errors > MAX_PRELOGIN_ERRORS) {
    ch.fatal(500, 'Too many errors.');
    return;
  }
  ch.reply(530, 'Please login with USER and PASS.');
}

const PRELOGIN_COMMANDS: ReadonlyMap<string, Handler> = new Map<string, Handler>(Object.entries({
  USER: async (ch, cmd, st, cfg) => {
    const name = cmd.arg ?? '';
    if (Buffer.byteLength(name) > IPC_LIMITS.userMax || name.length === 0) {
      st.user = null;
      ch.reply(530, 'Permission denied.');
      return;
    }
    // With anonymous_enable=NO, "ftp" and "anonymous" are ordinary names.
    const anon = isAnonymousName(name) && cfg.anonymous_enable;
    if (!anon && !cfg.local_enable) {
      st.user = null;
      ch.reply(530, 'This FTP server is anonymous only.');
      return;
    }
    // vsftpd's TLS rules at USER (prelogin.c), before any password is sent.
    if (anon && st.tls !== null && !cfg.allow_anon_ssl) {
      st.user = null;
      ch.reply(530, 'Anonymous sessions may not use encryption.');
      return;
    }
    if (cfg.ssl_enable && !anon && st.tls === null && cfg.force_local_logins_ssl) {
      ch.fatal(530, 'Non-anonymous sessions must use encryption.');
      return;
    }
    if (cfg.ssl_enable && anon && st.tls === null && cfg.force_anon_logins_ssl) {
      ch.fatal(530, 'Anonymous sessions must use encryption.');
      return;
    }
    if (cfg.userlist_enable) {
      // Decided before the password is sent, so a refused user never
      // sends one in clear text (priv reads userlist_file).
      const r = await requestUserCheck(name);
      if (!r.allowed) {
        st.user = null;
        if (r.close) ch.fatal(530, 'Permission denied.');
        else ch.reply(530, 'Permission denied.');
        return;
      }
    }
    st.user = name;
    setLogUser(name);
    if (anon && cfg.no_anon_password) {
      await doLogin(ch, st, name, '');
      return;
    }
    ch.reply(331, 'Please specify the password.');
  },
  PASS: (ch, cmd, st) => {
    if (st.user === null) {
      ch.reply(503, 'Login with USER first.');
      return undefined;
    }
    const pass = cmd.arg ?? '';
    if (Buffer.byteLength(pass) > IPC_LIMITS.passMax) {
      ch.reply(530, 'Login incorrect.');
      return undefined;
    }
    return doLogin(ch, st, st.user, pass);
  },
  QUIT: (ch) => {
    ch.fatal(221, 'Goodbye.');
  },
  FEAT: (ch, _cmd, _st, cfg) => {
    ch.replyRaw(featureLines(cfg));
  },
  OPTS: (ch, cmd) => {
    const arg = (cmd.arg ?? '').toUpperCase();
    if (arg === 'UTF8 ON' || arg === 'UTF8') {
      ch.reply(200, 'Always in UTF8 mode.');
    } else {
      ch.reply(501, 'Option not understood.');
    }
  },
  // Not in vsftpd's pre-login set; many clients send it first and it
  // discloses nothing the post-login reply would not.
  SYST: (ch) => {
    ch.reply(215, 'UNIX Type: L8');
  },
  // RFC 4217 (vsftpd's handle_auth): TLS and SSL alike; SSL and TLS-P
  // also set PROT P. Only while the connection is still clear text.
  AUTH: async (ch, cmd, st, cfg) => {
    if (!cfg.ssl_enable || st.tlsSetup === null || st.tls !== null) {
      unknownCommand(ch, st);
      return;
    }
    const mech = (cmd.arg ?? '').toUpperCase();
    if (mech !== 'TLS' && mech !== 'TLS-C' && mech !== 'SSL' && mech !== 'TLS-P') {
      ch.reply(504, 'Unknown AUTH type.');
      return;
    }
    ch.reply(234, 'Proceed with negotiation.');
    await negotiate(ch, st, cfg, mech === 'SSL' || mech === 'TLS-P' ? 'P' : 'C');
  },
  PBSZ: (ch, _cmd, st, cfg) => {
    if (!cfg.ssl_enable) {
      unknownCommand(ch, st);
      return;
    }
    const r = pbszReply(st.tls !== null);
    ch.reply(r.code, r.text);
  },
  PROT: (ch, cmd, st, cfg) => {
    if (!cfg.ssl_enable) {
      unknownCommand(ch, st);
      return;
    }
    const r = protReply(st.tls !== null, cmd.arg);
    if (r.level !== null && st.tls !== null) st.tls.prot = r.level;
    ch.reply(r.code, r.text);
  },
} satisfies Record<string, Handler>));

export function greeting(cfg: Config): string {
  return cfg.ftpd_banner ?? `(tsftpd ${VERSION})`;
}

export interface PreloginOptions {
  readonly banner: string | null;
  readonly info: SessionInfo;
  /** ssl_enable: the session's TLS setup, built before the jail. */
  readonly tls: PreloginTls | null;
  /** Implicit FTPS: handshake before the greeting. */
  readonly implicit: boolean;
}

export async function runPrelogin(ch: ControlChannel, cfg: Config, opts: PreloginOptions): Promise<void> {
  const st: PreloginState = { user: null, errors: 0, tlsSetup: opts.tls, tls: null, info: opts.info };
  // Implicit FTPS: TLS first; PROT stays C until the client asks (vsftpd).
  if (opts.implicit && !(await negotiate(ch, st, cfg, 'C'))) return;
  const banner = opts.banner;
  if (banner !== null) {
    // banner_file: every line as "220-", then a closing "220 " (vsftpd).
    const lines = banner.replace(/\r/g, '').replace(/\n$/, '').split('\n');
    ch.replyRaw([...lines.map((l) => `220-${l}`), '220 ']);
  } else {
    ch.reply(220, greeting(cfg));
  }
  ch.start((cmd) => {
    // vsftpd 3.0.5: an HTTP request on the FTP port ends the session.
    if (HTTP_VERBS.has(cmd.verb)) {
      ch.fatal(500, 'HTTP protocol commands not allowed.');
      return undefined;
    }
    const handler = PRELOGIN_COMMANDS.get(cmd.verb);
    if (handler === undefined) {
      unknownCommand(ch, st);
      return undefined;
    }
    return handler(ch, cmd, st, cfg);
  }, cfg.idle_session_timeout);
}
