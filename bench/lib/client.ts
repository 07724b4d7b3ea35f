// The C client (bench/client/ftpbench.c): built with cc at run time, run as a child.
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { taggedEnv } from './cleanup';
import { kill } from './proc';

/** Compile bench/client/ftpbench.c into outDir; returns the binary's path. */
export function buildClient(repoRoot: string, outDir: string): string {
  const src = path.join(repoRoot, 'bench', 'client', 'ftpbench.c');
  const out = path.join(outDir, 'ftpbench');
  const r = spawnSync('cc', ['-O2', '-Wall', '-pthread', '-o', out, src], { encoding: 'utf8' });
  if (r.error) throw new Error(`cc: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`cc failed:\n${r.stderr}`);
  return out;
}

export type Json = Record<string, unknown>;

function lastJsonLine(stdout: string, what: string): Json {
  const lines = stdout.trim().split('\n');
  const line = lines[lines.length - 1] ?? '';
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Json;
  } catch {
    // fall through
  }
  throw new Error(`${what}: no JSON result in output: ${stdout.slice(0, 500)}`);
}

/**
 * Run a program to completion (bounded by timeoutMs) and parse its last stdout line as JSON.
 * With onSync, the client runs with FTPBENCH_SYNC=1: when it prints {"sync":1} (set-up done)
 * onSync is awaited, then the client is told to go on (if onSync fails, the client is told
 * to stop and fails).
 */
/**
 * The bench's two sync points with a client run under FTPBENCH_SYNC
 * (bench/client/ftpbench.c): start, before the timed part; end, after it and
 * before the client quits. The client waits for each to resolve.
 */
export interface ClientSync {
  start(): Promise<void>;
  end(): Promise<void>;
}

export function runJson(cmd: string, args: string[], timeoutMs: number, what: string, sync?: ClientSync): Promise<Json> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: taggedEnv(sync ? { FTPBENCH_SYNC: '1' } : {}),
      stdio: [sync ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let reached = 0;
    const { stdout, stderr } = child;
    if (stdout === null || stderr === null) throw new Error('spawn gave no pipes');
    stdout.setEncoding('utf8');
    stderr.setEncoding('utf8');
    const answer = (hook: () => Promise<void>, last: boolean): void => {
      const go = (): void => {
        if (last) child.stdin?.end('g');
        else child.stdin?.write('g');
      };
      void hook().then(go, () => child.stdin?.end());
    };
    stdout.on('data', (d: string) => {
      out += d;
      if (sync === undefined) return;
      if (reached === 0 && out.includes('{"sync":1}\n')) {
        reached = 1;
        answer(() => sync.start(), false);
      }
      if (reached === 1 && out.includes('{"sync":2}\n')) {
        reached = 2;
        answer(() => sync.end(), true);
      }
    });
    stderr.on('data', (d: string) => (err += d));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) kill(child.pid, 'SIGKILL');
      reject(new Error(`${what}: timed out after ${timeoutMs} ms\n${err}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${what}: exited ${String(code ?? signal)}: ${err.trim()}`));
        return;
      }
      try {
        resolve(lastJsonLine(out, what));
      } catch (e: unknown) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/** A client that prints a first result, then waits for its stdin to close (the idle mode). */
export interface HeldClient {
  first: Json;
  /** What it printed on stderr so far (failed logins). */
  stderr(): string;
  /** Close its stdin (it QUITs every session) and wait for it to exit. */
  release(): Promise<void>;
}

export function runHeld(cmd: string, args: string[], timeoutMs: number, what: string): Promise<HeldClient> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: taggedEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let settled = false;
    let exited = false;
    const exitP = new Promise<void>((r) =>
      child.once('close', () => {
        exited = true;
        r();
      }),
    );
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (err += d));
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      if (child.pid !== undefined) kill(child.pid, 'SIGKILL');
      reject(new Error(`${what}: timed out after ${timeoutMs} ms\n${err}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      if (!settled) reject(e);
      settled = true;
    });
    child.stdout.on('data', (d: string) => {
      out += d;
      if (settled || !out.includes('\n')) return;
      settled = true;
      clearTimeout(timer);
      let first: Json;
      try {
        first = lastJsonLine(out.slice(0, out.indexOf('\n')), what);
      } catch (e: unknown) {
        reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      resolve({
        first,
        stderr: () => err,
        release: async (): Promise<void> => {
          child.stdin.end();
          const t = setTimeout(() => {
            if (!exited && child.pid !== undefined) kill(child.pid, 'SIGKILL');
          }, 60_000);
          await exitP;
          clearTimeout(t);
        },
      });
    });
    void exitP.then(() => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${what}: exited before its result: ${err.trim()}`));
    });
  });
}

export function num(j: Json, key: string): number {
  const v = j[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`result has no number ${key}: ${JSON.stringify(j)}`);
  return v;
}

export function nums(j: Json, key: string): number[] {
  const v = j[key];
  if (!Array.isArray(v) || !v.every((x): x is number => typeof x === 'number')) {
    throw new Error(`result has no number list ${key}`);
  }
  return v;
}
