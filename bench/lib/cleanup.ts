// Everything the benchmark creates is registered here and undone on exit, Ctrl-C or error:
// processes (servers, their sessions, clients), the run's user, the PAM service, temp dirs.
//
// Every process the bench starts gets TSFTPD_BENCH_RUN=<tag> in its environment, so a
// session process that outlived or was reparented away from its server is still found.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { UserRegistry, removePamService } from '../../test/helpers/users';
import { isAlive, kill, pidsWithEnv, sleepSync } from './proc';

export const RUN_ENV = 'TSFTPD_BENCH_RUN';
export const RUN_TAG = crypto.randomBytes(6).toString('hex');

export const users = new UserRegistry();
const dirs: string[] = [];
let pamInstalled = false;
let done = false;

export function registerDir(dir: string): void {
  dirs.push(dir);
}

export function registerPam(): void {
  pamInstalled = true;
}

/** Environment for a child: ours plus the run tag. */
export function taggedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra, [RUN_ENV]: RUN_TAG };
}

/**
 * Stop the given processes: SIGTERM, up to `graceMs` for them to go, then SIGKILL and
 * wait (bounded) until they are gone. Synchronous: usable from an 'exit' handler.
 */
export function terminateSync(pids: number[], graceMs: number): number[] {
  const alive = (): number[] => pids.filter((p) => isAlive(p));
  for (const p of alive()) kill(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) sleepSync(20);
  const hard = alive();
  for (const p of hard) kill(p, 'SIGKILL');
  const killDeadline = Date.now() + 3000;
  while (alive().length > 0 && Date.now() < killDeadline) sleepSync(20);
  return hard;
}

/** Undo everything; safe to call twice. */
export function cleanupSync(): void {
  if (done) return;
  done = true;
  const left = pidsWithEnv(RUN_ENV, RUN_TAG);
  if (left.length > 0) {
    process.stderr.write(`bench: stopping ${left.length} leftover process(es): ${left.join(' ')}\n`);
    terminateSync(left, 2000);
  }
  for (const e of users.cleanup()) process.stderr.write(`bench: cleanup: ${e}\n`);
  if (pamInstalled) {
    try {
      removePamService();
    } catch (e: unknown) {
      process.stderr.write(`bench: cleanup: PAM service: ${String(e)}\n`);
    }
  }
  for (const d of dirs.reverse()) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch (e: unknown) {
      process.stderr.write(`bench: cleanup: ${d}: ${String(e)}\n`);
    }
  }
}

/** Run cleanupSync on every way out: normal exit, Ctrl-C, SIGTERM/SIGHUP, uncaught errors. */
export function installExitHandlers(): void {
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}: cleaning up\n`);
      cleanupSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (e: Error) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    cleanupSync();
    process.exit(1);
  });
  process.on('unhandledRejection', (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    cleanupSync();
    process.exit(1);
  });
}
