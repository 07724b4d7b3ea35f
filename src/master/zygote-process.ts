/*
 * The zygote: a pool worker that forks instead of serving.
 *
 * Starting a Node process costs ~60 ms of CPU and ~10 MiB of private memory
 * (docs/PERFORMANCE.md); two of them per login (W1 and W2) made logins six
 * times as expensive as vsftpd's. master forks this process once. It loads
 * all of the worker's code, then, for every worker master asks for, forks a
 * copy of itself: ~1 ms, and the copy shares the zygote's pages until it
 * writes them. The copy gives itself its own channel to master and becomes
 * an ordinary pool worker (src/worker/main.ts startPoolWorker): it jails
 * itself before it reads a client byte, exactly as a worker master forks
 * directly.
 *
 * SECURITY:
 * - The zygote never sees a client, a password, a key or a config: those
 *   reach the worker after the fork, over the worker's own channel. Nothing
 *   secret is copied into the next worker.
 * - It holds no descriptor but its channel to master (and stdio, the log
 *   files) — plus, for the instant of a fork, the one socket that becomes
 *   the new worker's channel. A worker cannot inherit another's channel.
 * - It signals only its own unreaped children, so a kill from master can
 *   never reach a recycled pid.
 * - A worker dies with it (PR_SET_PDEATHSIG, re-armed after the jail's
 *   setuid), so no worker outlives master's means to end it.
 * - It never uses libuv's thread pool (a forked child starts its own) and
 *   runs with V8's --single-threaded, so no V8 task waits on a thread a
 *   child does not have.
 * - Children share the zygote's address-space layout, as vsftpd's session
 *   processes share their parent's; and V8's Math.random state: nothing
 *   that must be unpredictable uses Math.random (crypto only).
 */

import * as fs from 'node:fs';
import { parseMasterToZygote, type ZygoteToMaster } from '../ipc/zygote';
import { warmUp } from './zygote-warmup';
import { exitNow, getPids, reapChildren, zygoteFork } from '../sys/zygote';
// The whole worker, loaded now so that every child has it without loading it.
import { setZygoteParent, startPoolWorker } from '../worker/main';

process.title = 'tsftpd: zygote';

/** Children not yet reaped: the only pids this process will signal. */
const children = new Set<number>();
/**
 * True in a forked child. Callbacks the zygote had already queued when it
 * forked (a second fork request waiting in setImmediate, a reap) would
 * otherwise run in the child too: a worker must never act as the zygote.
 */
let inChild = false;

function send(msg: ZygoteToMaster): void {
  if (process.send === undefined || !process.connected) process.exit(1);
  process.send(msg);
}

/** The descriptor of a Pipe handle master sent (net.Native). */
function handleFd(handle: unknown): number | null {
  if (typeof handle !== 'object' || handle === null) return null;
  const fd = (handle as { fd?: unknown }).fd;
  return typeof fd === 'number' && Number.isSafeInteger(fd) && fd > 2 ? fd : null;
}

function closeHandle(handle: unknown): void {
  if (typeof handle !== 'object' || handle === null) return;
  const close = (handle as { close?: unknown }).close;
  if (typeof close === 'function') (close as () => void).call(handle);
}

/** Node's own listeners that tie `process` to an IPC channel. */
function isChannelListener(f: (...args: unknown[]) => void): boolean {
  // _forkChild's two named ones, and setupChannel's anonymous one that
  // replays messages queued before a 'message' listener existed.
  return f.name === 'onNewListener' || f.name === 'onRemoveListener' || (f.name === '' && f.toString().includes('PendingMessages'));
}

/*
 * In the child, synchronously after the fork: drop everything that belongs
 * to the zygote, take the new channel, start as a pool worker.
 */
function becomeWorker(channelFd: number, zygotePid: number): void {
  inChild = true;
  children.clear();
  // Node's teardown joins threads this process does not have.
  Object.defineProperty(process, 'reallyExit', { value: (code?: number) => exitNow(code ?? 0), configurable: true, writable: true });
  process.on('beforeExit', () => process.exit());
  const { pid, ppid } = getPids();
  // process.pid is a value Node stored at start-up: the zygote's.
  Object.defineProperty(process, 'pid', { value: pid, writable: false, enumerable: true, configurable: true });
  Object.defineProperty(process, 'ppid', { value: ppid, writable: true, enumerable: true, configurable: true });
  setZygoteParent(zygotePid);
  leaveZygoteChannel();
  for (const ev of ['message', 'disconnect', 'internalMessage'] as const) process.removeAllListeners(ev);
  // The SIGCHLD listener stays (reap() does nothing here): removing it would
  // close libuv's signal handle, and a SIGCHLD the zygote had caught but not
  // yet dispatched was lost with its signal pipe in uv_loop_fork, so that
  // close would never finish and the event loop would spin on it.
  const emitter = process as unknown as NodeJS.EventEmitter;
  for (const ev of ['newListener', 'removeListener']) {
    for (const f of emitter.listeners(ev)) if (isChannelListener(f as (...args: unknown[]) => void)) emitter.removeListener(ev, f as (...args: unknown[]) => void);
  }
  forkChild(channelFd);
  startPoolWorker();
}

/*
 * SECURITY: close this process's copy of the zygote's channel now, before
 * the event loop can poll it: a worker reading it would take messages meant
 * for the zygote. (process.disconnect() would wait for a message still
 * being read, and never finish here.) The pipe handle is Node's, kept under
 * the symbol kChannelHandle.
 */
function leaveZygoteChannel(): void {
  const sym = Object.getOwnPropertySymbols(process).find((x) => x.description === 'kChannelHandle');
  const handle: unknown = sym === undefined ? undefined : (process as unknown as Record<symbol, unknown>)[sym];
  if (typeof handle !== 'object' || handle === null || typeof (handle as { close?: unknown }).close !== 'function') exitNow(70);
  (handle as { onread: unknown }).onread = () => undefined;
  closeHandle(handle);
}

/** child_process._forkChild: what Node does at start-up for NODE_CHANNEL_FD. */
function forkChild(fd: number): void {
  const cp: unknown = require('node:child_process');
  const fn = (cp as { _forkChild?: unknown })._forkChild;
  if (typeof fn !== 'function') exitNow(70);
  (fn as (fd: number, mode: string) => void)(fd, 'json');
}

function onFork(id: number, handle: unknown): void {
  if (inChild) return;
  const fd = handleFd(handle);
  if (fd === null) {
    send({ t: 'fork_failed', id, error: 'no channel descriptor' });
    return;
  }
  const zygotePid = process.pid;
  let pid: number;
  try {
    pid = zygoteFork();
  } catch (e: unknown) {
    closeHandle(handle);
    send({ t: 'fork_failed', id, error: e instanceof Error ? e.message : String(e) });
    return;
  }
  if (pid === 0) {
    becomeWorker(fd, zygotePid);
    return;
  }
  children.add(pid);
  closeHandle(handle);
  send({ t: 'forked', id, pid });
}

function reap(): void {
  if (inChild) return;
  for (const c of reapChildren()) {
    children.delete(c.pid);
    send({ t: 'exited', pid: c.pid, code: c.code, signal: c.signal });
  }
}

process.on('message', (raw: unknown, handle: unknown) => {
  const msg = parseMasterToZygote(raw);
  if (msg === null) {
    // master is trusted; a message it cannot have meant ends the zygote.
    fs.writeSync(2, 'tsftpd zygote: malformed message from master\n');
    process.exit(1);
  }
  if (msg.t === 'fork') {
    // After this turn of the loop: Node acknowledges a received handle with
    // a write on the channel; the fork must not copy a write in progress.
    setImmediate(() => onFork(msg.id, handle));
    return;
  }
  // SECURITY: only a child of ours that has not been reaped.
  if (children.has(msg.pid)) process.kill(msg.pid, msg.signal);
});
process.on('SIGCHLD', reap);
// No master: the workers die with the zygote (PR_SET_PDEATHSIG).
process.on('disconnect', () => process.exit(0));

void new Date().toString(); // the time zone, as src/worker/main.ts preload()
void warmUp().then(() => send({ t: 'zygote_ready' }));
