/*
 * Entry point of a pool worker. master forks it as root; it loads
 * everything it will ever need, tells master it is ready, and waits for one
 * assignment: a pre-login session (W1) or a logged-in session (W2). Either
 * way it jails itself (sys/jail.ts) before it reads a byte from the client,
 * serves that one session and exits.
 */

import * as fs from 'node:fs';
import * as net from 'node:net';
import type * as tls from 'node:tls';
// Loaded now, while the full filesystem is visible: after chroot a require
// of a module not yet loaded fails (reference/node-facts.md).
import type { Config } from '../config/options';
import { logPlan } from '../log/files';
import { openSysLog } from '../log/syslog';
import { currentLogUser, logProtocol, setLogUser } from './sessionlog';
import { enterJail, JailError } from '../sys/jail';
import { setParentDeathSignal } from '../sys/zygote';
import type { AssignPostlogin, AssignPrelogin, MasterToWorker } from '../ipc/messages';
import { ControlChannel } from '../protocol/control';
import { preloginTls, runPrelogin, type PreloginTls } from './prelogin';
import { runPostlogin } from './postlogin';
import { deliverChownResult, deliverDataSocket, deliverLoginResult, deliverUserResult, sendToMaster } from './ipc';
import { normalizeAddress } from './data';
import { setSharedRate } from './ratelimit';
import { loadIdNames } from './idnames';
import type { Session } from './session';
import { deliverRelaySocket } from './relay';
import { createSessionContext, sessionIdHolder } from './tls';

/*
 * Work that must happen before the jail: the time zone. V8 (through ICU)
 * reads /etc/localtime on the first use of local time, and inside the jail
 * it would silently fall back to UTC (or read an attacker's file). A Date
 * is enough: Intl.DateTimeFormat was called here too, but it reads no file
 * once Date has run, and it loads ICU locale data that cost every session
 * 1.7 MiB (issue #8). (libuv's thread pool, which cannot start after
 * RLIMIT_NPROC=0, is started by enterJail itself, after the uid change.)
 */
function preload(): void {
  void new Date().toString();
}

let assigned = false;
/** The zygote's pid when this worker is one of its children (src/master/zygote-process.ts). */
let zygoteParent: number | null = null;

export function setZygoteParent(pid: number): void {
  zygoteParent = pid;
}

/*
 * SECURITY: a child of the zygote must die with it (PR_SET_PDEATHSIG): the
 * zygote is the process master asks to signal its workers, so an orphan
 * would be out of master's reach. enterJail's setuid cleared that signal;
 * set it again, and if the zygote died in between, give up.
 */
/*
 * SECURITY: a worker is jailed once. One that is already inside a chroot
 * when its assignment arrives was reused or forked from a jailed process:
 * an internal error, so refuse, and say so (seen once in a test run as
 * "chroot: ENOENT", not reproduced; this makes it legible if it recurs).
 */
function assertUnconfined(): void {
  const root = fs.readlinkSync('/proc/self/root');
  if (root !== '/') throw new Error(`internal error: worker ${process.pid} is already confined (root ${root})`);
}

function afterJail(): void {
  if (zygoteParent !== null && setParentDeathSignal() !== zygoteParent) throw new Error('the zygote has exited');
}
/** The logged-in session this worker serves (W2), for shutdown. */
let session: Session | null = null;

/** Fail closed: tell the client why (vsftpd's "500 OOPS"), then exit. */
function die(socket: net.Socket | null, text: string): void {
  process.stderr.write(`tsftpd worker ${process.pid}: ${text}\n`);
  const exit = (): void => process.exit(1);
  setTimeout(exit, 1000);
  if (socket !== null && !socket.destroyed) socket.end(`500 OOPS: ${text}\r\n`, exit);
  else exit();
}

function onClosed(): void {
  process.exit(0);
}

/* syslog's /dev/log is outside every jail: connect to it first (ndelay). */
function prepareLogs(cfg: Config): void {
  if (logPlan(cfg).syslog) openSysLog();
}

/* The TLS context is built before the jail, from the PEM text master sent. */
function tlsContext(setup: AssignPrelogin['tls']): tls.SecureContext | null {
  return setup === null ? null : createSessionContext(setup);
}

function startPrelogin(msg: AssignPrelogin, socket: net.Socket): void {
  process.title = `tsftpd: ${normalizeAddress(msg.session.remoteAddress)}: not logged in`;
  prepareLogs(msg.config);
  let tlsSetup: PreloginTls | null;
  try {
    const ctx = tlsContext(msg.tls);
    tlsSetup = ctx === null ? null : preloginTls(ctx);
    assertUnconfined();
    enterJail(msg.jail, false);
    afterJail();
  } catch (e: unknown) {
    die(socket, e instanceof Error ? e.message : String(e));
    return;
  }
  const cfg = msg.config;
  const client = msg.session.remoteAddress;
  const ch = new ControlChannel(socket, Buffer.alloc(0), {
    onClosed,
    onProtocol: cfg.log_ftp_protocol ? (kind, text) => logProtocol(cfg, currentLogUser(), client, kind, text) : undefined,
  });
  void runPrelogin(ch, msg.config, { banner: msg.banner, info: msg.session, tls: tlsSetup, implicit: msg.implicit });
}

function startPostlogin(msg: AssignPostlogin, socket: net.Socket): void {
  process.title = `tsftpd: ${normalizeAddress(msg.session.remoteAddress)}/${msg.login.user}: IDLE`;
  prepareLogs(msg.config);
  // Names for listings come from the host's /etc, read before the jail.
  if (msg.config.text_userdb_names || msg.config.tilde_user_enable) loadIdNames();
  let tlsCtx: tls.SecureContext | null;
  let holder: tls.Server | null = null;
  const control = msg.control;
  try {
    // A TLS control connection: the data connections' context (this
    // session's ticket keys, so they can resume the control session).
    tlsCtx = control !== null ? tlsContext(msg.tls) : null;
    if (control !== null) {
      holder = sessionIdHolder({
        resume: control.session === null ? null : { id: Buffer.from(control.session.id, 'hex'), data: Buffer.from(control.session.data, 'base64') },
      });
    }
  } catch (e: unknown) {
    die(socket, e instanceof Error ? e.message : String(e));
    return;
  }
  try {
    assertUnconfined();
    enterJail(msg.login.jail, true);
    afterJail();
  } catch (e: unknown) {
    const text = e instanceof JailError && e.step !== 'writable root' ? `cannot set up the session: ${e.message}` : e instanceof Error ? e.message : String(e);
    die(socket, text);
    return;
  }
  const cfg = msg.config;
  const client = msg.session.remoteAddress;
  setLogUser(msg.login.user);
  const ch = new ControlChannel(socket, Buffer.from(msg.pending, 'base64'), {
    onClosed,
    onProtocol: cfg.log_ftp_protocol ? (kind, text) => logProtocol(cfg, currentLogUser(), client, kind, text) : undefined,
  });
  const sessionTls = control !== null && tlsCtx !== null ? { ctx: tlsCtx, controlCert: control.clientCert, holder } : null;
  session = runPostlogin(ch, msg.config, msg.session, msg.login, sessionTls, msg.control?.prot ?? 'C');
}

function onMessage(raw: unknown, handle: unknown): void {
  // master is trusted; still, anything unexpected ends this process.
  const msg = raw as MasterToWorker;
  if (msg.t === 'shutdown') {
    if (!assigned || session === null) process.exit(0);
    const s = session;
    // Let a running transfer end (master bounds the wait), then say goodbye.
    const check = (): void => {
      if (s.activeData === null) s.ch.fatal(421, 'Server shutting down.');
      else setTimeout(check, 50);
    };
    check();
    return;
  }
  if (msg.t === 'rate_share') {
    if (!assigned) process.exit(1);
    setSharedRate(msg.rate);
    return;
  }
  if (msg.t === 'relay_start') {
    if (!assigned) process.exit(1);
    deliverRelaySocket(handle instanceof net.Socket ? handle : null);
    return;
  }
  if (msg.t === 'data_socket') {
    if (!assigned) process.exit(1);
    deliverDataSocket(msg, handle instanceof net.Socket ? handle : null);
    return;
  }
  if (msg.t === 'login_result' || msg.t === 'user_result' || msg.t === 'chown_result') {
    if (!assigned) process.exit(1);
    if (msg.t === 'login_result') deliverLoginResult(msg);
    else if (msg.t === 'user_result') deliverUserResult(msg);
    else deliverChownResult(msg);
    return;
  }
  if (assigned || handle === undefined || handle === null) process.exit(1);
  assigned = true;
  const socket = handle as net.Socket;
  socket.on('error', () => undefined);
  if (msg.t === 'assign_prelogin') startPrelogin(msg, socket);
  else if (msg.t === 'assign_postlogin') startPostlogin(msg, socket);
  else process.exit(1);
}

/**
 * Serve as a pool worker: get ready, then wait for master's one assignment.
 * Runs when master forks this file directly, or in a child of the zygote
 * (src/master/zygote-process.ts) once that child has its own channel to master.
 */
export function startPoolWorker(): void {
  process.title = 'tsftpd: pool';
  process.on('message', onMessage);
  // No master, no session: a worker never outlives the daemon's control.
  process.on('disconnect', () => process.exit(0));
  preload();
  sendToMaster({ t: 'ready' });
}

if (require.main === module) startPoolWorker();
