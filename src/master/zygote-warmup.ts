/*
 * The zygote's warm-up: run, once, the parts of Node every worker runs, so
 * that each forked child finds them compiled instead of compiling them
 * itself.
 *
 * Why: --no-lazy compiles our own modules eagerly in the zygote, but Node's
 * built-in modules come from its start-up snapshot with most functions not
 * yet compiled. Every child compiled the same ~65 functions again (node:buffer,
 * node:events, timers, streams, process.setgid and friends; counted with
 * V8's --log-function-events) and wrote the new bytecode into pages it
 * then had to copy from the zygote: ~4 ms of a login's CPU (issue #8).
 *
 * SECURITY: the warm-up leaves nothing behind for a child to inherit. Its
 * socket pair, timers and listeners are closed before the zygote reports
 * ready; it never touches libuv's thread pool (a child must start its own:
 * no fs callbacks, no dns, no crypto); its credential calls set what the
 * zygote already has (root's own groups, uid, gid, umask, working
 * directory); no client data, config or secret is involved.
 */

import { EventEmitter, once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { DEFAULT_CONFIG } from '../config/options';
import type { AssignPostlogin, AssignPrelogin } from '../ipc/messages';
import { closeFd, socketPair } from '../sys/zygote';

function warmBuffers(): void {
  const a = Buffer.allocUnsafe(64);
  a.fill(0x41);
  const b = Buffer.from('USER anonymous\r\nPASS x\r\n', 'latin1');
  const c = Buffer.concat([a.subarray(0, 8), b]);
  void c.indexOf(0x0a);
  void c.indexOf('\r\n');
  void c.includes('\r\n');
  void Buffer.byteLength('230 Login successful.\r\n');
  void c.toString('utf8', 0, 10);
  void c.toString('latin1');
  void Buffer.from(c.toString('base64'), 'base64').toString('hex');
  const d = Buffer.alloc(8);
  c.copy(d, 0, 0, 8);
  void Buffer.compare(c, d);
}

function warmEvents(): void {
  const e = new EventEmitter();
  const f = (): void => undefined;
  e.once('x', f);
  e.on('y', f);
  e.on('y', () => undefined);
  void e.listeners('y');
  void e.listenerCount('y');
  e.emit('x');
  e.emit('y', 1, 2);
  e.removeListener('y', f);
  e.once('z', f);
  e.removeAllListeners('z');
  e.removeAllListeners();
}

/* Credential and process-state wrappers, each set to the value it has. */
function warmProcessState(): void {
  const p = process;
  if (p.getgroups && p.setgroups) p.setgroups(p.getgroups());
  if (p.getgid && p.setgid) p.setgid(p.getgid());
  if (p.getuid && p.setuid) p.setuid(p.getuid());
  process.chdir(process.cwd());
  // Adding and removing a process listener (Node checks for signal names).
  const f = (): void => undefined;
  process.on('tsftpd-warm-up', f);
  process.removeListener('tsftpd-warm-up', f);
  process.umask(process.umask(0o022));
  void fs.readlinkSync('/proc/self/root');
  void fs.statSync('/');
  // The stderr stream is created on first use; a file needs no libuv handle
  // (SyncWriteStream), anything else (a tty, a pipe) would: leave it lazy.
  if (fs.fstatSync(2).isFile()) void process.stderr.writable;
}

/*
 * The shapes of master's assignments. JSON.parse builds an object by adding
 * its keys one by one, and V8 gives every new sequence of keys a new hidden
 * class (map): a config has ~250 keys, so each worker built ~250 maps while
 * it parsed its assignment. Parsed once here, the maps exist in the
 * zygote's heap and a child's parse only follows them. The key order is
 * master's (sessions.ts); a different order would still parse, just slower.
 */
function warmMessages(): void {
  const session = { id: 1, remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 21 };
  const jail = { uid: 65534, gid: 65534, groups: [65534], root: '/', cwd: '/', umask: 0o77, checkWritableRoot: false };
  const pre: AssignPrelogin = { t: 'assign_prelogin', session, config: DEFAULT_CONFIG, jail, banner: null, tls: null, implicit: false };
  const post: AssignPostlogin = {
    t: 'assign_postlogin',
    session,
    config: DEFAULT_CONFIG,
    login: { kind: 'local', user: 'u', loginName: 'u', anonPassword: null, anonRights: false, jail, config: DEFAULT_CONFIG },
    pending: '',
    control: null,
    tls: null,
  };
  for (const m of [pre, post]) void JSON.parse(JSON.stringify(m));
}

/* Timers: set, refresh, clear, and one that fires. */
function warmTimers(): Promise<void> {
  const t = setTimeout(() => undefined, 60_000);
  t.refresh();
  t.unref();
  t.ref();
  clearTimeout(t);
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/*
 * A stream socket both ways: net.Socket, Readable, Writable, end and close.
 * Bounded: should the pair not finish within a second, both ends are
 * destroyed and the step ends anyway (the zygote must report ready).
 */
async function warmSockets(): Promise<void> {
  const [x, y] = socketPair();
  let a: net.Socket | null = null;
  let b: net.Socket | null = null;
  let bound: NodeJS.Timeout | null = null;
  try {
    a = new net.Socket({ fd: x, readable: true, writable: true });
    b = new net.Socket({ fd: y, readable: true, writable: true });
    const [ra, rb] = [a, b];
    ra.setEncoding('latin1');
    ra.on('error', () => undefined);
    rb.on('error', () => undefined);
    ra.on('data', () => undefined);
    const closed = Promise.all([once(ra, 'close'), once(rb, 'close')]);
    const timedOut = new Promise<void>((resolve) => {
      bound = setTimeout(resolve, 1000);
    });
    rb.write('220 ready\r\n');
    rb.write(Buffer.from('331 password\r\n'));
    rb.cork();
    rb.write('230 ok\r\n');
    rb.uncork();
    rb.end();
    await Promise.race([once(ra, 'end'), timedOut]);
    ra.end();
    ra.destroy();
    rb.destroy();
    await Promise.race([closed, timedOut]);
  } finally {
    if (bound !== null) clearTimeout(bound);
    // SECURITY: nothing of the pair may reach a child.
    if (a === null) closeFd(x);
    else a.destroy();
    if (b === null) closeFd(y);
    else b.destroy();
  }
}

/**
 * Resolves once everything the warm-up opened is closed again. It is an
 * optimisation only: a step that fails is skipped, and the zygote serves.
 */
export async function warmUp(): Promise<void> {
  for (const step of [warmBuffers, warmEvents, warmMessages, warmProcessState, warmTimers, warmSockets]) {
    try {
      await step();
    } catch {
      // Nothing to undo: each step closes what it opened, also when it throws.
    }
  }
}
