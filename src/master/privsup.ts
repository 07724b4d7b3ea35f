/*
 * Supervision of priv: fork it, route login requests to it with the
 * session context master holds, restart it when it dies. Logins in flight
 * when it dies fail cleanly (reason 'internal'); master survives.
 */

import { fork, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Config } from '../config/options';
import type { LoginOutcome, MasterToPriv, PrivToMaster } from '../ipc/messages';
import { parsePrivMessage } from '../ipc/validate';

const PRIV_ENTRY = path.join(__dirname, '..', 'priv', 'main.js');
const RESTART_DELAY_MS = 200;

type Result = Extract<PrivToMaster, { id: number }>;
/** A request in flight: what to do with priv's answer, or with priv's death. */
interface Pending {
  readonly onResult: (r: Result, handle: net.Socket | null) => void;
  readonly onFail: (detail: string) => void;
}

export class PrivSupervisor {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stopped = false;
  restarts = 0;


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
    child.on('message', (raw: unknown, handle: unknown) => {
      const socket = handle instanceof net.Socket ? handle : null;
      const msg = parsePrivMessage(raw);
      if (msg === null) {
        // Both sides are ours: a bad message means priv is broken. Restart it.
        process.stderr.write('tsftpd: malformed message from priv; restarting it\n');
        child.kill('SIGKILL');
        return;
      }
      if (msg.t === 'ready') {
        socket?.destroy();
        return;
      }
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (p !== undefined) p.onResult(msg, socket);
      else socket?.destroy();
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
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
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

  private request(build: (id: number) => MasterToPriv, p: Pending): void {
    const id = this.nextId++;
    this.pending.set(id, p);
    if (!this.sendRaw(build(id))) {
      this.pending.delete(id);
      p.onFail('priv unavailable');
    }
  }

  /** Ask priv for a login decision; never rejects. */
  login(config: Config, remoteAddress: string, user: string, pass: string): Promise<LoginOutcome> {
    return new Promise((resolve) => {
      const failed = (detail: string): void => resolve({ ok: false, reason: 'internal', detail });
      this.request((id) => ({ t: 'login', id, config, remoteAddress, user, pass }), {
        onResult: (r) => (r.t === 'login_result' ? resolve(r.outcome) : failed('mismatched answer from priv')),
        onFail: failed,
      });
    });
  }

  /** USER-time userlist check; fails closed (false) when priv cannot answer. */
  checkUser(config: Config, user: string): Promise<boolean> {
    return new Promise((resolve) => {
      this.request((id) => ({ t: 'check_user', id, config, user }), {
        onResult: (r) => resolve(r.t === 'user_result' && r.allowed),
        onFail: () => resolve(false),
      });
    });
  }

  /** chown_uploads for a session master vouches for; false when refused. */
  chownUpload(jailRoot: string, config: Config, path: string, dev: string, ino: string): Promise<{ ok: boolean; detail: string }> {
    return new Promise((resolve) => {
      this.request((id) => ({ t: 'chown', id, jailRoot, config, path, dev, ino }), {
        onResult: (r) => resolve(r.t === 'chown_result' ? { ok: r.ok, detail: r.detail } : { ok: false, detail: 'mismatched answer' }),
        onFail: (detail) => resolve({ ok: false, detail }),
      });
    });
  }

  /** connect_from_port_20: a connected, paused socket, or the reason why not. */
  dataConnect(config: Config, localAddress: string, remoteAddress: string, port: number): Promise<{ socket: net.Socket | null; detail: string }> {
    return new Promise((resolve) => {
      this.request((id) => ({ t: 'data_connect', id, config, localAddress, remoteAddress, port }), {
        onResult: (r, handle) => {
          if (r.t === 'data_connect_result' && r.ok && handle !== null) resolve({ socket: handle, detail: '' });
          else {
            handle?.destroy();
            resolve({ socket: null, detail: r.t === 'data_connect_result' ? r.detail : 'mismatched answer' });
          }
        },
        onFail: (detail) => resolve({ socket: null, detail }),
      });
    });
  }

  private failPending(detail: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.onFail(detail);
  }

  stop(): void {
    this.stopped = true;
    this.child?.kill('SIGKILL');
    this.failPending('shutting down');
  }
}
