/*
 * The prefork pool: worker processes forked ahead of need, each of which
 * has already loaded its code and is waiting, as root, for one assignment.
 * Handing a connection to a ready worker costs milliseconds; forking one on
 * demand costs ~150 ms of CPU (reference/node-facts.md).
 *
 * A worker serves one session phase and exits; the pool refills in the
 * background. When no worker is ready, requests wait in a FIFO.
 */

import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { MasterToWorker, WorkerToMaster } from '../ipc/messages';
import type { WorkerState } from '../ipc/policy';
import { workerMaySend } from '../ipc/policy';
import { parseWorkerMessage } from '../ipc/validate';
import type * as net from 'node:net';
import { LOG_FD, type OpenLogs } from '../log/files';
import { ZygoteSpawner } from './zygote';

const WORKER_ENTRY = path.join(__dirname, '..', 'worker', 'main.js');

/**
 * How long a refill waits while the pool still has a ready worker. Measured
 * (issue #8, PAM-free logins): forking at once added ~1.3 ms to each login.
 */
const REFILL_DELAY_MS = 20;

/** libuv threads of a logged-in worker (a pre-login worker starts none). */
export const WORKER_THREAD_POOL_SIZE = 2;

/* Flags that cost nothing and save memory (reference/node-facts.md). */
const WORKER_EXEC_ARGV = ['--v8-pool-size=0'];

export interface WorkerEvents {
  /** A validated message the worker's state allows. */
  onMessage(w: WorkerProc, msg: WorkerToMaster): void;
  /** The worker sent something it may not: master ends its session. */
  onViolation(w: WorkerProc, why: string): void;
  onExit(w: WorkerProc, code: number | null, signal: NodeJS.Signals | null): void;
}

/** What the pool needs of a worker process: a ChildProcess, or a child of the zygote. */
export interface WorkerChild {
  readonly pid?: number | undefined;
  readonly connected: boolean;
  send(message: unknown, handle?: net.Socket, options?: { keepOpen?: boolean }): boolean;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'message', listener: (raw: unknown) => void): unknown;
  on(event: 'exit', listener: () => void): unknown;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: () => void): unknown;
}

export class WorkerProc {
  state: WorkerState = 'starting';
  /** Session id this worker serves, once assigned. */
  sessionId: number | null = null;
  readonly spawnedAt = process.hrtime.bigint();
  private exited = false;

  constructor(
    readonly child: WorkerChild,
    private readonly events: WorkerEvents,
  ) {
    child.on('message', (raw: unknown) => this.onRaw(raw));
    // 'close', not 'exit': 'exit' can arrive before the last IPC messages a
    // worker sent (W1's handoff, sent just before it exits), and the session
    // would be ended with its login half done. 'close' comes after them.
    child.on('exit', () => {
      this.exited = true;
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      this.exited = true;
      this.events.onExit(this, code, signal);
    });
    child.on('error', () => undefined);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.exited;
  }

  private onRaw(raw: unknown): void {
    const msg = parseWorkerMessage(raw);
    if (msg === null) {
      this.events.onViolation(this, 'malformed message');
      return;
    }
    // SECURITY: the state table decides, not the worker.
    if (!workerMaySend(this.state, msg.t)) {
      this.events.onViolation(this, `${msg.t} not allowed in state ${this.state}`);
      return;
    }
    this.events.onMessage(this, msg);
  }

  send(msg: MasterToWorker, socket?: net.Socket, keepOpen = false): boolean {
    if (this.exited || !this.child.connected) return false;
    try {
      if (socket !== undefined) this.child.send(msg, socket, { keepOpen });
      else this.child.send(msg);
      return true;
    } catch {
      return false;
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.child.kill(signal);
  }
}

export class Pool {
  private readonly ready: WorkerProc[] = [];
  private readonly waiters: Array<(w: WorkerProc) => void> = [];
  private starting = 0;
  private stopped = false;
  /** A refill that take() put off (refillSoon). */
  private refillTimer: NodeJS.Timeout | null = null;
  /** undefined: not tried yet; null: none (workers are forked by master). */
  private zygote: ZygoteSpawner | null | undefined = undefined;
  readonly all = new Set<WorkerProc>();

  constructor(
    private size: number,
    private readonly events: WorkerEvents,
    /** Log descriptors every worker inherits as fds 4, 5, 6 (log/files.ts). */
    private readonly logFds: OpenLogs['fds'] = { vsftpd: null, xferlog: null, json: null },
    /** Fork workers from a zygote (src/master/zygote-process.ts) rather than one by one. */
    private readonly useZygote = true,
  ) {}

  setSize(n: number): void {
    this.size = n;
    this.refill();
  }

  get readyCount(): number {
    return this.ready.length;
  }

  /** Called by master when a worker reports 'ready'. */
  markReady(w: WorkerProc): void {
    this.starting--;
    w.state = 'ready';
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(w);
    else this.ready.push(w);
  }

  /** Forget a worker that exited (ready or not). */
  remove(w: WorkerProc): void {
    this.all.delete(w);
    if (w.state === 'starting') this.starting--;
    const i = this.ready.indexOf(w);
    if (i !== -1) this.ready.splice(i, 1);
    this.refill();
  }

  /** A ready worker, now or when one becomes ready. */
  take(): Promise<WorkerProc> {
    const w = this.ready.shift();
    const p =
      w !== undefined ? Promise.resolve(w) : new Promise<WorkerProc>((resolve) => this.waiters.push(resolve));
    // Taking one may leave the pool short: top it up in the background. With
    // workers still ready, a little later: a fork now would compete for the
    // CPU with the session just handed over (its jail, its first reply).
    if (this.ready.length > 0 && this.waiters.length === 0) this.refillSoon();
    else setImmediate(() => this.refill());
    return p;
  }

  private refillSoon(): void {
    if (this.refillTimer !== null) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = null;
      this.refill();
    }, REFILL_DELAY_MS);
    this.refillTimer.unref();
  }

  /** Number of requests that wait for a worker. */
  get backlog(): number {
    return this.waiters.length;
  }

  refill(): void {
    if (this.stopped) return;
    // prefork_pool_size=0 forks on demand only.
    const want = this.size + this.waiters.length;
    while (this.ready.length + this.starting < want) this.spawn();
  }

  private spawn(): void {
    const { vsftpd, xferlog, json } = this.logFds;
    const inherited = [vsftpd === null ? null : LOG_FD.vsftpd, xferlog === null ? null : LOG_FD.xferlog, json === null ? null : LOG_FD.json];
    const stdio = ['ignore', 'ignore', 'inherit', 'ipc', vsftpd ?? 'ignore', xferlog ?? 'ignore', json ?? 'ignore'] as const;
    // SECURITY: the worker writes logs only to the descriptors named here,
    // never to a number that might be a client socket.
    // UV_THREADPOOL_SIZE: a session runs at most one transfer loop and one
    // other piece of file work at a time; every thread costs its creation
    // (~0.2 ms) in the login path (sys/jail.ts).
    const env = { ...process.env, UV_THREADPOOL_SIZE: String(WORKER_THREAD_POOL_SIZE), TSFTPD_LOG_FDS: inherited.filter((x) => x !== null).join(',') };
    // Forked by the zygote (~1 ms) when there is one, else by master (~60 ms).
    if (this.zygote === undefined) this.zygote = this.useZygote ? ZygoteSpawner.create(stdio, env) : null;
    const child: WorkerChild =
      this.zygote !== null && this.zygote.usable
        ? this.zygote.spawn()
        : fork(WORKER_ENTRY, [], { execArgv: WORKER_EXEC_ARGV, stdio: [...stdio], serialization: 'json', env });
    const w = new WorkerProc(child, this.events);
    this.starting++;
    this.all.add(w);
  }

  /** The zygote's pid, if workers come from one (tests, metrics). */
  get zygotePid(): number | null {
    return this.zygote?.pid ?? null;
  }

  /** Wait until the pool is full (start-up), bounded. */
  async warm(timeoutMs: number): Promise<void> {
    this.refill();
    const deadline = Date.now() + timeoutMs;
    while (this.ready.length < this.size && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** No more forks (shutdown); workers already running are left alone. */
  stopSpawning(): void {
    this.stopped = true;
  }

  /** End the workers that serve no session (ready or still starting). */
  killIdle(): void {
    for (const w of this.all) if (w.sessionId === null) w.kill('SIGKILL');
  }

  stop(): void {
    this.stopped = true;
    if (this.refillTimer !== null) clearTimeout(this.refillTimer);
    for (const w of this.all) w.kill('SIGKILL');
    this.zygote?.stop();
  }
}
