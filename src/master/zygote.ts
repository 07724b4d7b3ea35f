/*
 * master's side of the zygote (src/master/zygote-process.ts): forks the zygote, asks it
 * for workers, and gives each worker a channel of its own to master.
 *
 * A worker's channel is an AF_UNIX socket pair made here: master keeps one
 * end as a Node IPC channel (the same code child_process.fork uses, reached
 * through --expose-internals, which master/main.ts adds), the other end
 * travels to the zygote with the fork request and becomes the child's
 * NODE_CHANNEL_FD. To the pool a zygote child looks like a ChildProcess:
 * 'message', send() with handles, 'exit' and 'close', kill().
 *
 * When the zygote is unavailable (it could not start, or master lacks the
 * internals), the pool forks workers itself, as before.
 */

import { EventEmitter } from 'node:events';
import { fork, type ChildProcess } from 'node:child_process';
import type * as net from 'node:net';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { parseZygoteToMaster, type MasterToZygote } from '../ipc/zygote';
import { closeFd, socketPair } from '../sys/zygote';

const ZYGOTE_ENTRY = path.join(__dirname, 'zygote-process.js');

/*
 * --single-threaded: no V8 background tasks, which a forked child could not
 * run (it has no threads but the one that forked).
 * --no-lazy, --no-flush-bytecode: compile every function once, here, and keep
 * it; each child would otherwise compile what it runs for itself (measured:
 * worker CPU per login 19-22 -> 16 ms, greeting 6.5-9 -> 5.8-6.2 ms).
 * --max-semi-space-size=1 (MiB): a child's first scavenge writes its own copy
 * of the young generation; a small one keeps that copy small.
 * --interrupt-budget (15x V8's default): a worker lives for one session phase;
 * optimising its first calls costs more than it saves (measured, 100 logins:
 * worker CPU per login 14.3-15.0 -> 13.7 ms; --jitless saved a little more
 * but would slow the JS byte loops: ASCII mode, CRC32).
 */
const ZYGOTE_EXEC_ARGV = [
  '--single-threaded',
  '--v8-pool-size=1',
  '--no-flush-bytecode',
  '--max-semi-space-size=1',
  '--no-lazy',
  '--interrupt-budget=1000000',
];

interface PipeHandle {
  open(fd: number): number;
  close(): void;
}
type PipeCtor = new (type: number) => PipeHandle;
type SetupChannel = (target: EventEmitter, channel: PipeHandle, mode: 'json') => unknown;

interface Internals {
  readonly Pipe: PipeCtor;
  readonly PIPE_SOCKET: number;
  readonly PIPE_IPC: number;
  readonly setupChannel: SetupChannel;
}

/** Node's IPC channel code, when master runs with --expose-internals. */
function loadInternals(): Internals | null {
  if (!process.execArgv.includes('--expose-internals')) return null;
  try {
    const cp: unknown = require('internal/child_process');
    const setupChannel = (cp as { setupChannel?: unknown }).setupChannel;
    const binding = (process as unknown as { binding(name: string): unknown }).binding('pipe_wrap');
    const Pipe = (binding as { Pipe?: unknown }).Pipe;
    const constants = (binding as { constants?: { SOCKET?: unknown; IPC?: unknown } }).constants;
    if (typeof setupChannel !== 'function' || typeof Pipe !== 'function' || typeof constants?.SOCKET !== 'number' || typeof constants.IPC !== 'number') {
      return null;
    }
    return { Pipe: Pipe as PipeCtor, PIPE_SOCKET: constants.SOCKET, PIPE_IPC: constants.IPC, setupChannel: setupChannel as SetupChannel };
  } catch {
    return null;
  }
}

/** One worker forked by the zygote, shaped like the ChildProcess the pool expects. */
export class ZygoteChild extends EventEmitter {
  pid: number | undefined = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /* Read by Node's setupChannel: 'close' after the channel's end and the exit. */
  _closesNeeded = 2;
  _closesGot = 0;
  /* Set by setupChannel. */
  connected = false;
  declare send: (message: unknown, handle?: unknown, options?: { keepOpen?: boolean }, callback?: (e: Error | null) => void) => boolean;
  private exited = false;
  private pendingKill: 'SIGKILL' | 'SIGTERM' | null = null;
  private held: Array<[unknown, unknown]> | null = [];

  constructor(private readonly zygote: ZygoteSpawner) {
    super();
  }

  /*
   * Messages from the worker wait until the zygote has said which pid the
   * worker has (the two arrive on different channels): the pool logs and
   * signals by pid from the worker's first message on.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message' && this.held !== null) {
      this.held.push([args[0], args[1]]);
      return true;
    }
    return super.emit(event, ...args);
  }

  /** The zygote reported the fork. */
  started(pid: number): void {
    this.pid = pid;
    const held = this.held ?? [];
    this.held = null;
    for (const [m, h] of held) super.emit('message', m, h);
    if (this.pendingKill !== null) this.kill(this.pendingKill);
  }

  /** The zygote reaped it (or died, and it with it). */
  ended(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.held = null;
    super.emit('exit', code, signal);
    this._closesGot++;
    if (this._closesGot === this._closesNeeded) super.emit('close', code, signal);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exited) return false;
    const sig = signal === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM';
    if (this.pid === undefined) {
      this.pendingKill = sig;
      return true;
    }
    return this.zygote.kill(this.pid, sig);
  }
}

export class ZygoteSpawner {
  private proc: ChildProcess | null = null;
  private ready = false;
  private nextId = 1;
  private readonly pending = new Map<number, ZygoteChild>();
  private readonly live = new Map<number, ZygoteChild>();
  /** Fork requests made before the zygote was ready. */
  private readonly queued: Array<() => void> = [];
  private failures = 0;
  private stopped = false;

  private constructor(
    private readonly internals: Internals,
    private readonly stdio: ReadonlyArray<'ignore' | 'inherit' | 'ipc' | number>,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A spawner, or null when master cannot set up worker channels itself. */
  static create(stdio: ReadonlyArray<'ignore' | 'inherit' | 'ipc' | number>, env: NodeJS.ProcessEnv): ZygoteSpawner | null {
    const internals = loadInternals();
    if (internals === null) return null;
    const z = new ZygoteSpawner(internals, stdio, env);
    z.start();
    return z;
  }

  /** Give up after repeated failures: the pool then forks workers itself. */
  get usable(): boolean {
    return !this.stopped && this.failures < 5;
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  private start(): void {
    if (this.stopped) return;
    const proc = fork(ZYGOTE_ENTRY, [], { execArgv: ZYGOTE_EXEC_ARGV, stdio: [...this.stdio], serialization: 'json', env: this.env });
    this.proc = proc;
    this.ready = false;
    proc.on('message', (raw: unknown) => this.onMessage(raw));
    proc.on('error', () => undefined);
    proc.on('exit', () => this.onZygoteExit(proc));
  }

  private onMessage(raw: unknown): void {
    const msg = parseZygoteToMaster(raw);
    if (msg === null) {
      this.proc?.kill('SIGKILL');
      return;
    }
    if (msg.t === 'zygote_ready') {
      this.ready = true;
      this.failures = 0;
      for (const go of this.queued.splice(0)) go();
    } else if (msg.t === 'forked') {
      const child = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (child === undefined) return;
      this.live.set(msg.pid, child);
      child.started(msg.pid);
    } else if (msg.t === 'fork_failed') {
      const child = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      child?.ended(null, 'SIGKILL');
    } else {
      const child = this.live.get(msg.pid);
      this.live.delete(msg.pid);
      child?.ended(msg.code, msg.signal === null ? null : signalName(msg.signal));
    }
  }

  /* Its workers died with it (PR_SET_PDEATHSIG); start another. */
  private onZygoteExit(proc: ChildProcess): void {
    if (this.proc !== proc) return;
    this.proc = null;
    this.ready = false;
    if (!this.stopped) this.failures++;
    for (const c of [...this.pending.values(), ...this.live.values()]) c.ended(null, 'SIGKILL');
    this.pending.clear();
    this.live.clear();
    if (this.usable) setTimeout(() => this.start(), 100 * this.failures);
    else for (const go of this.queued.splice(0)) go();
  }

  /** A new worker; its channel is usable at once (messages queue until it runs). */
  spawn(): ZygoteChild {
    const child = new ZygoteChild(this);
    const [mine, theirs] = socketPair();
    const channel = new this.internals.Pipe(this.internals.PIPE_IPC);
    channel.open(mine);
    this.internals.setupChannel(child, channel, 'json');
    const id = this.nextId++;
    this.pending.set(id, child);
    const go = (): void => {
      const proc = this.proc;
      if (proc === null || !this.ready || !proc.connected) {
        // The zygote went away meanwhile: this worker will not exist.
        closeFd(theirs);
        this.pending.delete(id);
        child.ended(null, 'SIGKILL');
        return;
      }
      const carrier = new this.internals.Pipe(this.internals.PIPE_SOCKET);
      carrier.open(theirs);
      const msg: MasterToZygote = { t: 'fork', id };
      try {
        // The zygote's copy arrives with the message; ours is closed once sent.
        proc.send(msg, carrier as unknown as net.Socket, {}, () => carrier.close());
      } catch {
        carrier.close();
        this.pending.delete(id);
        child.ended(null, 'SIGKILL');
      }
    };
    if (this.ready) go();
    else this.queued.push(go);
    return child;
  }

  kill(pid: number, signal: 'SIGKILL' | 'SIGTERM'): boolean {
    const proc = this.proc;
    if (proc === null || !proc.connected || !this.live.has(pid)) return false;
    const msg: MasterToZygote = { t: 'kill', pid, signal };
    proc.send(msg);
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.proc?.kill('SIGKILL');
  }
}

function signalName(n: number): NodeJS.Signals {
  const hit = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return (hit?.[0] ?? 'SIGKILL') as NodeJS.Signals;
}
