/*
 * Supervision of priv: fork it, route login requests to it with the
 * session context master holds, restart it when it dies. Logins in flight
 * when it dies fail cleanly (reason 'internal'); master survives.
 */

import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Config } from '../config/options';
import type { LoginOutcome, MasterToPriv } from '../ipc/messages';
import { parsePrivMessage } from '../ipc/validate';

const PRIV_ENTRY = path.join(__dirname, '..', 'priv', 'main.js');
const RESTART_DELAY_MS = 200;

type Pending = (o: LoginOutcome) => void;

export class PrivSupervisor {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stopped = false;
  restarts = 0;

  constructor(private config: Config) {}

  start(): void {
    if (this.stopped) return;
    const child = fork(PRIV_ENTRY, [], {
      execArgv: ['--v8-pool-size=0'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
      // PAM calls run on libuv's pool; give it room (priv/main.ts bounds it).
      env: { ...process.env, UV_THREADPOOL_SIZE: '16' },
    });
    this.child = child;
    child.on('message', (raw: unknown) => {
      const msg = parsePrivMessage(raw);
      if (msg === null) {
        // Both sides are ours: a bad message means priv is broken. Restart it.
        process.stderr.write('tsftpd: malformed message from priv; restarting it\n');
        child.kill('SIGKILL');
        return;
      }
      if (msg.t === 'login_result') {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (p !== undefined) p(msg.outcome);
      }
    });
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      this.failPending('priv exited');
      if (this.stopped) return;
      this.restarts++;
      process.stderr.write(`tsftpd: priv exited (code ${String(code)}, signal ${String(signal)}); restarting\n`);
      setTimeout(() => this.start(), RESTART_DELAY_MS);
    });
    this.sendRaw({ t: 'configure', config: this.config });
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  reconfigure(config: Config): void {
    this.config = config;
    this.sendRaw({ t: 'configure', config });
  }

  private sendRaw(msg: MasterToPriv): boolean {
    const c = this.child;
    if (c === null || !c.connected) return false;
    try {
      c.send(msg);
      return true;
    } catch {
      return false;
    }
  }

  /** Ask priv for a login decision; never rejects. */
  login(remoteAddress: string, user: string, pass: string): Promise<LoginOutcome> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      if (!this.sendRaw({ t: 'login', id, remoteAddress, user, pass })) {
        this.pending.delete(id);
        resolve({ ok: false, reason: 'internal', detail: 'priv unavailable' });
      }
    });
  }

  private failPending(detail: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p({ ok: false, reason: 'internal', detail });
  }

  stop(): void {
    this.stopped = true;
    this.child?.kill('SIGKILL');
    this.failPending('shutting down');
  }
}
