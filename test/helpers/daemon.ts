// Start and stop the real daemon (node bin/tsftpd CONFIG) as root for e2e tests.
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  allPids,
  descendants,
  hasEnv,
  isAlive,
  isListening,
  sleep,
  startTimeOf,
  waitFor,
} from './proc';
import { PAM_SERVICE } from './users';

export type OptionValue = string | number | boolean;
export type Options = Record<string, OptionValue>;

/** Repository root: the nearest ancestor of this file holding package.json with name tsftpd. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        const parsed: unknown = JSON.parse(fs.readFileSync(pkg, 'utf8'));
        if (typeof parsed === 'object' && parsed !== null && (parsed as { name?: unknown }).name === 'tsftpd') {
          return dir;
        }
      } catch {
        // keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no tsftpd package.json above ${__dirname}`);
    dir = up;
  }
}

export function binPath(): string {
  return path.join(repoRoot(), 'bin', 'tsftpd');
}

/** A TCP port that was free a moment ago on 127.0.0.1 (listen on 0, read, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

/** New root-owned 0755 temp dir /tmp/<prefix>XXXXXX (mkdtemp makes 0700; jails need traversal). */
export function makeTempDir(prefix = 'tsftpd-t-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

function formatValue(v: OptionValue): string {
  if (typeof v === 'boolean') return v ? 'YES' : 'NO';
  return String(v);
}

/** vsftpd.conf text, one `name=value` per line, in insertion order. */
export function configText(options: Options): string {
  return Object.entries(options)
    .map(([k, v]) => `${k}=${formatValue(v)}\n`)
    .join('');
}

/** Write a config file owned by root, mode 0600 (what the daemon requires). */
export function writeConfig(file: string, text: string): void {
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chownSync(file, 0, 0);
  fs.chmodSync(file, 0o600);
}

/** Defaults every test config starts from; `secure_chroot_dir` and `listen_port` filled in by the caller. */
export function testDefaults(port: number, secureChrootDir: string): Options {
  return {
    listen: true,
    listen_address: '127.0.0.1',
    listen_port: port,
    background: false,
    anonymous_enable: false,
    local_enable: true,
    delay_failed_login: 0,
    secure_chroot_dir: secureChrootDir,
    pam_service_name: PAM_SERVICE,
  };
}

export interface StartOptions {
  /** Options merged over testDefaults(); a value of null removes a default. */
  options?: Record<string, OptionValue | null>;
  /** Extra argv before CONFIG (e.g. ['-ofoo=bar']). */
  args?: string[];
  /** Readiness timeout (default 15 s). */
  readyTimeoutMs?: number;
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
  /** Keep the temp dir after stop() (for debugging). */
  keepDir?: boolean;
}

export interface Daemon {
  pid: number;
  port: number;
  host: string;
  /** Temp dir of this run (/tmp/tsftpd-t-XXXX). */
  dir: string;
  /** The empty root-owned 0755 secure_chroot_dir. */
  secureChrootDir: string;
  configPath: string;
  /** The merged options written to the config. */
  options: Options;
  stdout(): string;
  stderr(): string;
  /** Exit status once the master exited, else null. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Live descendant pids of the master right now. */
  children(): number[];
  /** True when the last stop() needed SIGKILL for the master. */
  killedHard(): boolean;
  /**
   * SIGTERM, wait for the master to exit (10 s bound, then SIGKILL), then report every
   * process of this daemon still alive (they are SIGKILLed after being recorded).
   * Returns the leftover pids (empty when the shutdown was clean).
   */
  stop(): Promise<number[]>;
}

const running = new Set<Daemon>();

/** Tag put in the daemon's environment so leftover processes can be found after reparenting. */
const TAG_NAME = 'TSFTPD_TEST_TAG';

/** Stop every daemon started by this process that is still running (for `after` hooks). */
export async function stopAll(): Promise<void> {
  for (const d of [...running]) await d.stop();
}

/** The daemon did not become ready; carries what it printed. */
export class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/**
 * Start the daemon and wait until its master holds a listening socket on the port.
 * When the free port picked was taken by someone else in the meantime (EADDRINUSE) and
 * the caller did not fix listen_port, retry with another port (3 attempts).
 */
export async function startDaemon(opts: StartOptions = {}): Promise<Daemon> {
  const fixedPort = opts.options !== undefined && 'listen_port' in opts.options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDaemonOnce(opts);
    } catch (e: unknown) {
      const retry = !fixedPort && attempt < 3 && e instanceof DaemonStartError && e.stderr.includes('EADDRINUSE');
      if (!retry) throw e;
    }
  }
}

async function startDaemonOnce(opts: StartOptions): Promise<Daemon> {
  const dir = makeTempDir('tsftpd-t-');
  const secureChrootDir = path.join(dir, 'empty');
  fs.mkdirSync(secureChrootDir, { mode: 0o755 });
  fs.chownSync(secureChrootDir, 0, 0);
  fs.chmodSync(secureChrootDir, 0o755);
  const host = '127.0.0.1';
  const port = await freePort(host);

  const merged: Options = testDefaults(port, secureChrootDir);
  for (const [k, v] of Object.entries(opts.options ?? {})) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  const listenPort = Number(merged.listen_port);
  const configPath = path.join(dir, 'tsftpd.conf');
  writeConfig(configPath, configText(merged));

  const tag = crypto.randomBytes(8).toString('hex');
  const child: ChildProcess = spawn(process.execPath, [binPath(), ...(opts.args ?? []), configPath], {
    cwd: repoRoot(),
    env: { ...process.env, ...(opts.env ?? {}), [TAG_NAME]: tag },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => {
    out += d;
  });
  child.stderr?.on('data', (d: string) => {
    err += d;
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
    child.once('error', (e) => {
      err += `\n[spawn error] ${e.message}`;
      exit = { code: -1, signal: null };
      resolve();
    });
  });
  const pid = child.pid ?? -1;
  const pidStart = pid > 0 ? startTimeOf(pid) : null;

  // Every pid (with its start time) ever seen under the master, for leak checks.
  const seen = new Map<number, number>();
  const snapshot = (): void => {
    if (exit !== null || pid <= 0) return;
    for (const p of descendants(pid)) {
      if (!seen.has(p)) {
        const st = startTimeOf(p);
        if (st !== null) seen.set(p, st);
      }
    }
  };
  const sampler = setInterval(snapshot, 100);
  sampler.unref();

  let hardKill = false;
  let stopped: Promise<number[]> | null = null;

  const daemon: Daemon = {
    pid,
    port: listenPort,
    host,
    dir,
    secureChrootDir,
    configPath,
    options: merged,
    stdout: () => out,
    stderr: () => err,
    exitStatus: () => exit,
    children: () => (exit === null && pid > 0 ? descendants(pid) : []),
    killedHard: () => hardKill,
    stop: () => {
      if (stopped) return stopped;
      stopped = (async (): Promise<number[]> => {
        snapshot();
        if (exit === null && pid > 0) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // already gone
          }
          const deadline = Date.now() + 10_000;
          while (exit === null && Date.now() < deadline) {
            snapshot();
            await sleep(20);
          }
          if (exit === null) {
            hardKill = true;
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // gone
            }
            await Promise.race([exited, sleep(3_000)]);
          }
        }
        clearInterval(sampler);
        // Let the children notice the master's exit (they should go with it).
        const left = (): number[] => {
          const out2 = new Set<number>();
          for (const [p, st] of seen) if (isAlive(p, st)) out2.add(p);
          for (const p of allPids()) {
            if (p !== process.pid && p !== pid && hasEnv(p, TAG_NAME, tag)) {
              const st = startTimeOf(p);
              if (st !== null && (pidStart === null || st >= pidStart)) out2.add(p);
            }
          }
          return [...out2].sort((a, b) => a - b);
        };
        let leftovers = left();
        const graceEnd = Date.now() + 2_000;
        while (leftovers.length > 0 && Date.now() < graceEnd) {
          await sleep(50);
          leftovers = left();
        }
        for (const p of leftovers) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone
          }
        }
        running.delete(daemon);
        if (!opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
        return leftovers;
      })();
      return stopped;
    },
  };
  running.add(daemon);

  const readyTimeout = opts.readyTimeoutMs ?? 15_000;
  try {
    await waitFor(
      () => {
        if (exit !== null) throw new Error('exited');
        return isListening(listenPort, pid);
      },
      readyTimeout,
      `tsftpd to listen on ${host}:${listenPort}`,
      20,
    );
  } catch {
    const ex = daemon.exitStatus();
    const status = ex === null ? 'still running' : `exited code=${String(ex.code)} signal=${String(ex.signal)}`;
    await daemon.stop();
    throw new DaemonStartError(
      `tsftpd did not become ready (${status}) within ${readyTimeout} ms\n` +
        `config:\n${configText(merged)}stderr:\n${err}\nstdout:\n${out}`,
      err,
    );
  }
  snapshot();
  return daemon;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the timeout fired and the process was killed. */
  timedOut: boolean;
}

/** Run `node bin/tsftpd ARGS...` to completion (SIGKILL after timeoutMs). */
export function runBinary(args: string[], timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [binPath(), ...args], {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout can kill whatever it started
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, signal: null, stdout, stderr: stderr + e.message, timedOut });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export interface ConfigRunResult extends RunResult {
  configPath: string;
  dir: string;
}

/**
 * Write `confText` to a fresh temp dir (root, 0600; `prepare` may change that) and run
 * the binary on it, expecting it to fail. `args` go before the config path. The temp
 * dir is removed afterwards. Use `${SECURE}` / `${PORT}` in confText for an existing
 * empty secure_chroot_dir and a free port.
 */
export async function runConfigOnly(
  confText: string,
  args: string[] = [],
  opts: { timeoutMs?: number; prepare?: (configPath: string) => void } = {},
): Promise<ConfigRunResult> {
  const dir = makeTempDir('tsftpd-c-');
  const secure = path.join(dir, 'empty');
  fs.mkdirSync(secure, { mode: 0o755 });
  const port = await freePort();
  const configPath = path.join(dir, 'tsftpd.conf');
  writeConfig(configPath, confText.split('${SECURE}').join(secure).split('${PORT}').join(String(port)));
  try {
    opts.prepare?.(configPath);
    const r = await runBinary([...args, configPath], opts.timeoutMs ?? 10_000);
    return { ...r, configPath, dir };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
