/*
 * The session table and the IPC router. master holds, for every connection,
 * the facts a worker could lie about (addresses, which user logged in, how
 * many logins failed) and routes each worker request to priv with those
 * facts, never with the worker's.
 *
 * Life of a session:
 *   accept → limits → pool worker W1 (pre-login, nopriv, empty jail)
 *   W1 LOGIN → priv decides → W1 hands back unread bytes → pool worker W2
 *   (session user, user's jail) → W2 exits → session ends.
 * With a TLS control connection W1 does not leave at the handoff: TLS state
 * cannot move to another process, so W1 stays as the session's relay
 * ("SSL handler", still nopriv in the empty jail) and W2 gets a Unix stream
 * socket whose other end is W1 (tls.ts makeRelayPair).
 *
 * master never reads a byte from a client socket: sockets arrive paused
 * (pauseOnConnect) and only ever get written to for a 421 refusal.
 */

import type * as net from 'node:net';
import type { Config } from '../config/options';
import type { ControlTls, JailSpec, LoginDecision, SessionInfo, TlsSetup, WorkerToMaster } from '../ipc/messages';
import type { Logger } from './log';
import { Pool, type WorkerEvents, type WorkerProc } from './pool';
import type { PrivSupervisor } from './privsup';
import { checkConnectLimits, type ConnectRefusal } from './limits';
import { BanList } from './ban';
import { Metrics } from './metrics';
import { normalizeAddress } from '../address';
import type { OpenLogs } from '../log/files';
import type { VsftpdLogEntry } from '../log/formats';
import { MasterLogs } from './adminlog';
import { UserRateShares } from './ratesharing';
import { withResolvedPasvAddress } from './pasvaddr';
import { HostsAccess } from './tcpwrap';
import { formatConfigError, parseConfigText, readConfigFile } from '../config/parse';
import { makeRelayPair, sessionTlsSetup, type TlsMaterial } from './tls';

/** How long a TLS relay may take to flush the last replies after W2 has gone. */
const RELAY_GRACE_MS = 3000;

type Phase = 'queued' | 'prelogin' | 'postlogin' | 'closed';

/** vsftpd's texts for refused connections in its log (prelogin.c). */
const REFUSAL_LOG_TEXT: Readonly<Record<string, string>> = {
  max_clients: 'Connection refused: too many sessions.',
  max_per_ip: 'Connection refused: too many sessions for this address.',
  tcp_wrappers: 'Connection refused: tcp_wrappers denial.',
  banned: 'Connection refused: address banned after failed logins.',
  config: 'Connection refused: per-address config could not be loaded.',
};

type Admission =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly cause: string; readonly text: string; readonly detail: string };

/** tcp_wrappers' setenv VSFTPD_LOAD_CONF: a per-address file on top of the main config. */
function loadPerAddressConfig(base: Config, file: string): { ok: true; config: Config } | { ok: false; detail: string } {
  const read = readConfigFile(file, 0);
  if (!read.ok) return { ok: false, detail: formatConfigError(read.error) };
  const r = parseConfigText(read.text, file, base);
  return r.ok ? { ok: true, config: r.config } : { ok: false, detail: formatConfigError(r.error) };
}

interface Session {
  readonly info: SessionInfo;
  readonly config: Config;
  /** master's own descriptor for the connection, until W2 takes it. */
  socket: net.Socket | null;
  phase: Phase;
  w1: WorkerProc | null;
  w2: WorkerProc | null;
  loginFails: number;
  login: LoginDecision | null;
  /** This session's TLS material and ticket keys (ssl_enable), else null. */
  readonly tls: TlsSetup | null;
  /** Accepted on an implicit-TLS port. */
  readonly implicit: boolean;
}


export class SessionTable implements WorkerEvents {
  private readonly sessions = new Map<number, Session>();
  private readonly perIp = new Map<string, number>();
  private readonly bans = new BanList();
  private readonly rateShares = new UserRateShares();
  private readonly hostsAccess = new HostsAccess();
  private nextId = 1;
  /** ssl_enable: what master read as root; each new session takes its own copy. */
  private tlsMaterial: TlsMaterial | null = null;
  readonly pool: Pool;
  private readonly adminLogs: MasterLogs;

  constructor(
    private config: Config,
    private readonly priv: PrivSupervisor,
    private readonly log: Logger,
    /** nopriv_user's ids, looked up by master at start (names need /etc). */
    private nopriv: { readonly uid: number; readonly gid: number },
    /** banner_file's text, read by master at start (W1's jail hides it). */
    private banner: string | null,
    readonly metrics: Metrics = new Metrics(),
    logs: OpenLogs | null = null,
  ) {
    this.pool = new Pool(config.prefork_pool_size, this, logs?.fds, config.zygote_enable);
    this.adminLogs = new MasterLogs(logs);
  }

  get count(): number {
    return this.sessions.size;
  }

  setConfig(config: Config, nopriv: { readonly uid: number; readonly gid: number }, banner: string | null): void {
    this.config = config;
    this.nopriv = nopriv;
    this.banner = banner;
    this.pool.setSize(config.prefork_pool_size);
  }

  /** The TLS material new sessions get (start, SIGHUP); live sessions keep theirs. */
  setTls(material: TlsMaterial | null): void {
    this.tlsMaterial = material;
  }

  /* ---------------- connections ---------------- */

  /** implicit: the connection came in on an implicit-TLS port. */
  accept(socket: net.Socket, implicit = false): void {
    socket.on('error', () => undefined);
    const remote = socket.remoteAddress;
    const local = socket.localAddress;
    if (remote === undefined || local === undefined) {
      socket.destroy();
      return;
    }
    const ip = normalizeAddress(remote);
    // SECURITY: access rules and limits are enforced here, before any
    // worker is involved, so a refused connection costs no process.
    const admitted = this.admit(ip);
    this.metrics.connections.inc();
    if (!admitted.ok) {
      this.metrics.refused.inc({ cause: admitted.cause });
      // vsftpd logs a refused connection as a CONNECT line with the reason.
      this.adminLogs.vsftpd(ip, { pid: process.pid, user: null, ok: null, action: 'CONNECT', arg: REFUSAL_LOG_TEXT[admitted.cause] ?? 'Connection refused.' });
      this.adminLogs.json({ event: 'connect_refused', client: ip, cause: admitted.cause });
      this.log.info({ event: 'connect_refused', ip, cause: admitted.cause, detail: admitted.detail }, 'connection refused');
      socket.end(`421 ${admitted.text}\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    const info: SessionInfo = {
      id: this.nextId++,
      remoteAddress: remote,
      remotePort: socket.remotePort ?? 0,
      localAddress: local,
      localPort: socket.localPort ?? 0,
    };
    const s: Session = {
      info,
      config: admitted.config,
      socket,
      phase: 'queued',
      w1: null,
      w2: null,
      loginFails: 0,
      login: null,
      // Ticket keys are per session: a data connection can resume only
      // this session's control connection (require_ssl_reuse).
      tls: this.tlsMaterial !== null && admitted.config.ssl_enable ? sessionTlsSetup(this.tlsMaterial) : null,
      implicit,
    };
    if (implicit && s.tls === null) {
      // A per-address config switched TLS off: clear text to an implicit client is never right.
      socket.destroy();
      return;
    }
    this.sessions.set(info.id, s);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    this.log.debug({ event: 'connect', session: info.id, ip }, 'connect');
    void this.pool.take().then((w) => this.assignPrelogin(s, w));
  }

  /** tcp_wrappers, bans, then max_clients / max_per_ip; the session's config. */
  private admit(ip: string): Admission {
    let config = this.config;
    if (config.tcp_wrappers) {
      const d = this.hostsAccess.check(ip);
      if (!d.allowed) return { ok: false, cause: 'tcp_wrappers', text: 'Service not available.', detail: '' };
      if (d.loadConf !== null) {
        const per = loadPerAddressConfig(config, d.loadConf);
        if (!per.ok) return { ok: false, cause: 'config', text: 'Service not available.', detail: per.detail };
        config = per.config;
      }
    }
    const banned = this.bans.bannedFor(config, ip);
    if (banned > 0) {
      return { ok: false, cause: 'banned', text: 'Too many failed logins from your address; try later.', detail: `${banned}s left` };
    }
    const refusal: ConnectRefusal | null = checkConnectLimits(config, this.sessions.size, this.perIp.get(ip) ?? 0);
    if (refusal !== null) return { ok: false, cause: refusal.cause, text: refusal.text, detail: '' };
    return { ok: true, config };
  }

  private assignPrelogin(s: Session, w: WorkerProc): void {
    const socket = s.socket;
    if (s.phase === 'closed' || socket === null || socket.destroyed) {
      // The session ended while it waited; the worker goes back to work.
      this.pool.markReady(w);
      return;
    }
    w.state = 'prelogin';
    w.sessionId = s.info.id;
    s.w1 = w;
    s.phase = 'prelogin';
    const nopriv = this.noprivJail(s.config);
    // The CONNECT line is written before the worker can write anything
    // (its greeting under log_ftp_protocol), so the log reads in order.
    this.adminLog(s, { pid: w.pid, user: null, ok: null, action: 'CONNECT' });
    // keepOpen: master keeps its descriptor so it can pass the connection
    // on to W2 after login without W1's cooperation.
    const sent = w.send(
      { t: 'assign_prelogin', session: s.info, config: s.config, jail: nopriv, banner: this.banner, tls: s.tls, implicit: s.implicit },
      socket,
      true,
    );
    if (!sent) {
      this.endSession(s, 'could not hand the connection to a worker');
      return;
    }
    this.adminLogs.json({ event: 'connect', session: s.info.id, client: normalizeAddress(s.info.remoteAddress) });
  }

  /** A vsftpd-format line about this session's client. */
  private adminLog(s: Session, e: Omit<VsftpdLogEntry, 'date' | 'client'>): void {
    this.adminLogs.vsftpd(normalizeAddress(s.info.remoteAddress), e);
  }

  /* ---------------- worker events ---------------- */

  onMessage(w: WorkerProc, msg: WorkerToMaster): void {
    if (msg.t === 'ready') {
      this.metrics.spawns.inc();
      this.metrics.spawnSeconds.inc({}, Number(process.hrtime.bigint() - w.spawnedAt) / 1e9);
      this.pool.markReady(w);
      return;
    }
    const s = w.sessionId === null ? undefined : this.sessions.get(w.sessionId);
    if (s === undefined || s.phase === 'closed') {
      w.kill();
      return;
    }
    switch (msg.t) {
      case 'check_user':
        this.onCheckUser(s, w, msg.user);
        return;
      case 'login':
        this.onLogin(s, w, msg.user, msg.pass);
        return;
      case 'handoff':
        if (msg.tls !== null) this.onTlsHandoff(s, w, msg.tls);
        else this.onHandoff(s, w, msg.pending);
        return;
      case 'data_connect':
        this.onDataConnect(s, w, msg.port);
        return;
      case 'chown_upload':
        this.onChownUpload(s, w, msg.path, msg.dev, msg.ino);
        return;
      case 'transfer_state':
        this.onTransferState(s, w, msg.active);
        return;
      case 'transfer_done':
        this.metrics.transfers.inc({ direction: msg.direction, result: msg.ok ? 'ok' : 'failed' });
        this.metrics.bytes.inc({ direction: msg.direction }, msg.bytes);
        return;
      case 'data_failed':
        this.metrics.dataRefused.inc({ cause: msg.cause });
        return;
    }
  }

  onViolation(w: WorkerProc, why: string): void {
    this.log.warn({ event: 'worker_violation', pid: w.pid, session: w.sessionId, why }, 'IPC violation; ending session');
    w.kill('SIGKILL');
  }

  onExit(w: WorkerProc, code: number | null, signal: NodeJS.Signals | null): void {
    this.pool.remove(w);
    const s = w.sessionId === null ? undefined : this.sessions.get(w.sessionId);
    if (s === undefined) {
      if (w.state !== 'ready' && code !== 0) {
        this.log.warn({ event: 'worker_exit', pid: w.pid, code, signal }, 'pool worker exited');
      }
      return;
    }
    // W1 leaving after its handoff is the normal course of a login.
    if (s.w1 === w && s.phase === 'postlogin') return;
    this.endSession(s, signal !== null ? `worker killed by ${signal}` : `worker exited ${String(code)}`);
  }

  /* ---------------- login ---------------- */

  private onLogin(s: Session, w: WorkerProc, user: string, pass: string): void {
    if (this.bannedNow(s)) {
      this.log.info({ event: 'login_failed', session: s.info.id, ip: normalizeAddress(s.info.remoteAddress), user, reason: 'banned' }, 'login refused: address banned');
      w.send({ t: 'login_result', ok: false, close: true });
      return;
    }
    w.state = 'authenticating';
    void this.priv.login(s.config, s.info.remoteAddress, user, pass).then((outcome) => {
      if (s.phase !== 'prelogin' || s.w1 !== w || !w.alive) return;
      this.metrics.logins.inc({ result: outcome.ok ? 'ok' : 'failed', kind: outcome.ok ? outcome.decision.kind : outcome.reason });
      const pid = w.pid;
      this.adminLogs.json({
        event: outcome.ok ? 'login' : 'login_failed',
        session: s.info.id,
        client: normalizeAddress(s.info.remoteAddress),
        user,
        kind: outcome.ok ? outcome.decision.kind : null,
        reason: outcome.ok ? null : outcome.reason,
      });
      if (outcome.ok) {
        const d = outcome.decision;
        this.adminLog(s, {
          pid,
          user: d.user,
          ok: true,
          action: 'LOGIN',
          ...(d.anonPassword !== null ? { anonPassword: d.anonPassword } : {}),
        });
      } else {
        this.adminLog(s, { pid, user, ok: false, action: 'LOGIN' });
      }
      if (outcome.ok) {
        s.login = outcome.decision;
        this.log.info(
          { event: 'login', session: s.info.id, ip: normalizeAddress(s.info.remoteAddress), user: outcome.decision.user, kind: outcome.decision.kind },
          'login ok',
        );
        w.state = 'handing_off';
        w.send({ t: 'login_result', ok: true, close: false });
        return;
      }
      const close = this.countFailure(s);
      this.log.info(
        { event: 'login_failed', session: s.info.id, ip: normalizeAddress(s.info.remoteAddress), user, reason: outcome.reason, detail: outcome.detail },
        'login failed',
      );
      w.state = 'prelogin';
      w.send({ t: 'login_result', ok: false, close });
    });
  }

  /** Failed logins and userlist refusals count alike (vsftpd). */
  private countFailure(s: Session): boolean {
    s.loginFails++;
    const ip = normalizeAddress(s.info.remoteAddress);
    const ban = this.bans.recordFailure(s.config, ip);
    if (ban > 0) this.log.warn({ event: 'ban', ip, seconds: ban }, 'address banned after repeated login failures');
    // SECURITY: max_login_fails bounds password guesses per connection.
    return s.config.max_login_fails > 0 && s.loginFails >= s.config.max_login_fails;
  }

  /*
   * SECURITY: a ban applies to sessions that were already open when it
   * started: they may not keep guessing. The login is refused without
   * asking priv, and the session ends.
   */
  private bannedNow(s: Session): boolean {
    return this.bans.bannedFor(s.config, normalizeAddress(s.info.remoteAddress)) > 0;
  }

  private onCheckUser(s: Session, w: WorkerProc, user: string): void {
    if (this.bannedNow(s)) {
      w.send({ t: 'user_result', allowed: false, close: true });
      return;
    }
    w.state = 'authenticating';
    void this.priv.checkUser(s.config, user).then((allowed) => {
      if (s.phase !== 'prelogin' || s.w1 !== w || !w.alive) return;
      const close = allowed ? false : this.countFailure(s);
      if (!allowed) {
        this.log.info({ event: 'login_failed', session: s.info.id, ip: normalizeAddress(s.info.remoteAddress), user, reason: 'userlist' }, 'user refused');
      }
      w.state = 'prelogin';
      w.send({ t: 'user_result', allowed, close });
    });
  }

  private onHandoff(s: Session, w1: WorkerProc, pending: string): void {
    const login = s.login;
    const socket = s.socket;
    if (login === null || socket === null) {
      this.onViolation(w1, 'handoff without a login');
      return;
    }
    w1.state = 'postlogin';
    s.phase = 'postlogin';
    void Promise.all([this.pool.take(), withResolvedPasvAddress(login.config)]).then(([w2, config]) => {
      if (s.phase === 'closed' || socket.destroyed) {
        this.pool.markReady(w2);
        return;
      }
      w2.state = 'postlogin';
      w2.sessionId = s.info.id;
      s.w2 = w2;
      // The session runs on the config priv resolved for this user
      // (main config plus user_config_dir and virtual-user options).
      const sent = w2.send({ t: 'assign_postlogin', session: s.info, config, login, pending, control: null, tls: null }, socket, false);
      // Sent without keepOpen: master's descriptor is gone now, W2 owns it.
      s.socket = null;
      if (!sent) this.endSession(s, 'could not hand the session to a worker');
    });
  }

  /*
   * A TLS login: W1 keeps the client's connection (and the TLS state) and
   * becomes the relay; W2 gets the other end of a fresh Unix socket pair.
   * W1 keeps the bytes it decrypted after PASS and writes them first.
   */
  private onTlsHandoff(s: Session, w1: WorkerProc, control: ControlTls): void {
    const login = s.login;
    if (login === null || s.socket === null || s.tls === null) {
      this.onViolation(w1, 'TLS handoff without a login or without TLS');
      return;
    }
    w1.state = 'relay';
    s.phase = 'postlogin';
    // master's own descriptor of the TCP connection goes: W1 holds the TLS
    // connection from now on, and nobody else needs the raw bytes.
    s.socket.destroy();
    s.socket = null;
    const tlsSetup = s.tls;
    void Promise.all([this.pool.take(), withResolvedPasvAddress(login.config), makeRelayPair().catch(() => null)]).then(([w2, config, pair]) => {
      if (s.phase === 'closed' || pair === null || !w1.alive) {
        this.pool.markReady(w2);
        pair?.[0].destroy();
        pair?.[1].destroy();
        this.endSession(s, pair === null ? 'could not make the relay socket pair' : 'relay gone before the handoff');
        return;
      }
      const [relayEnd, sessionEnd] = pair;
      w2.state = 'postlogin';
      w2.sessionId = s.info.id;
      s.w2 = w2;
      // Sent without keepOpen: master's descriptors close once sent, so the
      // two ends live only in W1 and W2.
      const toRelay = w1.send({ t: 'relay_start' }, relayEnd, false);
      const toSession = w2.send(
        { t: 'assign_postlogin', session: s.info, config, login, pending: '', control, tls: tlsSetup },
        sessionEnd,
        false,
      );
      if (!toRelay) relayEnd.destroy();
      if (!toSession) sessionEnd.destroy();
      if (!toRelay || !toSession) this.endSession(s, 'could not hand the TLS session to its workers');
    });
  }

  /* user_max_rate: ratesharing.ts divides one user's budget among their transfers. */
  private onTransferState(s: Session, w: WorkerProc, active: boolean): void {
    const login = s.login;
    if (s.w2 !== w || login === null) return;
    this.rateShares.transfer(login, w, active);
  }

  /* SECURITY: only for a logged-in session whose config asks for port 20. */
  private onDataConnect(s: Session, w: WorkerProc, port: number): void {
    const login = s.login;
    if (s.w2 !== w || login === null || !login.config.connect_from_port_20) {
      this.onViolation(w, 'data_connect not allowed for this session');
      return;
    }
    void this.priv.dataConnect(login.config, s.info.localAddress, s.info.remoteAddress, port).then((r) => {
      if (!w.alive) {
        r.socket?.destroy();
        return;
      }
      if (r.socket === null) {
        this.log.info({ event: 'data_connect_failed', session: s.info.id, port, detail: r.detail }, 'port-20 connect failed');
        w.send({ t: 'data_socket', ok: false, detail: r.detail });
        return;
      }
      if (!w.send({ t: 'data_socket', ok: true, detail: '' }, r.socket, false)) r.socket.destroy();
    });
  }

  /*
   * SECURITY: only a session with anonymous rights, with chown_uploads on
   * in its own config, in a jail, may ask; priv gets the jail root from
   * here, not from the worker, and verifies the file itself.
   */
  private onChownUpload(s: Session, w: WorkerProc, path: string, dev: string, ino: string): void {
    const login = s.login;
    if (s.w2 !== w || login === null || !login.anonRights || !login.config.chown_uploads || login.jail.root === null) {
      this.onViolation(w, 'chown_upload not allowed for this session');
      return;
    }
    void this.priv.chownUpload(login.jail.root, login.config, path, dev, ino).then((r) => {
      if (!r.ok) this.log.warn({ event: 'chown_refused', session: s.info.id, path, detail: r.detail }, 'chown refused');
      if (w.alive) w.send({ t: 'chown_result', ok: r.ok });
    });
  }

  /** W1's jail: nopriv_user, no groups, the empty secure_chroot_dir. */
  private noprivJail(cfg: Config): JailSpec {
    return {
      uid: this.nopriv.uid,
      gid: this.nopriv.gid,
      groups: [],
      // The config validator guarantees it is set; '/nonexistent' fails closed.
      root: cfg.secure_chroot_dir ?? '/nonexistent',
      cwd: '/',
      umask: 0o077,
      checkWritableRoot: false,
    };
  }

  /* ---------------- ending ---------------- */

  private endSession(s: Session, why: string): void {
    if (s.phase === 'closed') return;
    s.phase = 'closed';
    this.sessions.delete(s.info.id);
    const ip = normalizeAddress(s.info.remoteAddress);
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
    s.socket?.destroy();
    s.socket = null;
    for (const w of [s.w1, s.w2]) {
      if (w === null || !w.alive) continue;
      // A TLS relay whose W2 has finished still has the last replies
      // (221 Goodbye.) to encrypt and flush; it exits by itself, or soon.
      if (w === s.w1 && w.state === 'relay' && why !== 'shutdown' && (s.w2 === null || !s.w2.alive)) {
        setTimeout(() => w.kill('SIGKILL'), RELAY_GRACE_MS).unref();
      } else {
        w.kill('SIGKILL');
      }
    }
    if (s.w2 !== null && s.login !== null) this.rateShares.ended(s.login, s.w2);
    this.log.debug({ event: 'disconnect', session: s.info.id, why }, 'session ended');
    this.adminLogs.json({ event: 'disconnect', session: s.info.id, client: ip, why });
  }

  /** SIGTERM: end everything. */
  /**
   * SIGTERM, step 1: pre-login sessions and idle pool workers end now;
   * logged-in sessions are asked to finish their transfer and leave
   * (421). Returns when they have all gone or `graceMs` has passed.
   */
  async drain(graceMs: number): Promise<void> {
    this.pool.stopSpawning();
    for (const s of [...this.sessions.values()]) {
      if (s.phase === 'postlogin' && s.w2 !== null && s.w2.alive) s.w2.send({ t: 'shutdown' });
      else this.endSession(s, 'shutdown');
    }
    this.pool.killIdle();
    const deadline = Date.now() + graceMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /** SIGTERM, step 2: whatever is left ends now. */
  stopAll(): void {
    for (const s of [...this.sessions.values()]) this.endSession(s, 'shutdown');
    this.pool.stop();
  }
}
