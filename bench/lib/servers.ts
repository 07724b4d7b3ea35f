// Start and stop tsftpd and vsftpd for the benchmark, from the same vsftpd.conf settings.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { taggedEnv, terminateSync } from './cleanup';
import { descendants, isAlive, isListening, pickPort, readStat, sleep, treePss } from './proc';

export type ServerName = 'tsftpd' | 'vsftpd';
export type OptionValue = string | number | boolean;
export type Options = Record<string, OptionValue>;

export const VSFTPD_BIN = '/usr/sbin/vsftpd';
/** Control ports are picked here, below the kernel's ephemeral range (32768-60999). */
const CONTROL_PORTS: [number, number] = [21000, 29999];

/** vsftpd.conf text, one `name=value` per line, booleans as YES/NO. */
export function configText(options: Options): string {
  return Object.entries(options)
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 'YES' : 'NO') : String(v)}\n`)
    .join('');
}

/** Root-owned 0600 config file (both daemons refuse group/other-writable ones). */
export function writeConfig(file: string, text: string): void {
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chownSync(file, 0, 0);
  fs.chmodSync(file, 0o600);
}

/** An empty root-owned 0755 directory for secure_chroot_dir. */
export function makeEmptyDir(dir: string): string {
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chownSync(dir, 0, 0);
  fs.chmodSync(dir, 0o755);
  return dir;
}

/**
 * Copy what `node bin/tsftpd` runs (bin/, dist/src/, the native addon, package.json; node_modules
 * linked) into dest, so that another developer rebuilding dist/ during a long run cannot
 * change the daemon under measurement half-way. Returns dest, to use as the tsftpd root.
 */
export function snapshotTsftpd(root: string, dest: string): string {
  fs.mkdirSync(dest, { mode: 0o755 });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dest, 'package.json'));
  fs.cpSync(path.join(root, 'bin'), path.join(dest, 'bin'), { recursive: true });
  fs.cpSync(path.join(root, 'dist', 'src'), path.join(dest, 'dist', 'src'), { recursive: true });
  fs.mkdirSync(path.join(dest, 'native', 'build', 'Release'), { recursive: true });
  fs.copyFileSync(path.join(root, 'native', 'binding.gyp'), path.join(dest, 'native', 'binding.gyp'));
  const addon = path.join('native', 'build', 'Release', 'tsftpd_native.node');
  fs.copyFileSync(path.join(root, addon), path.join(dest, addon));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dest, 'node_modules'));
  return dest;
}

/**
 * What in a server's output deserves a look: anything that is not a JSON log line (a stack
 * trace), tsftpd log entries at error level or above, IPC violations, and workers that
 * exited with an error code before the server was asked to stop. (A worker ended by
 * SIGKILL is the master's doing: it kills what is left of a session when the session ends.)
 */
export function logWarnings(logFile: string): string[] {
  let text = '';
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  let stopping = false;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let rec: unknown = null;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = null;
    }
    if (typeof rec !== 'object' || rec === null) {
      out.push(line);
      continue;
    }
    const r = rec as { level?: unknown; event?: unknown; code?: unknown };
    if (r.event === 'stopping') stopping = true;
    const crashed = r.event === 'worker_exit' && !stopping && typeof r.code === 'number' && r.code !== 0;
    if ((typeof r.level === 'number' && r.level >= 50) || r.event === 'worker_violation' || crashed) out.push(line);
  }
  return out;
}

export interface RunningServer {
  name: ServerName;
  pid: number;
  port: number;
  logFile: string;
  /** Stop by PID: SIGTERM the master, then every process of its tree still alive. */
  stop(): Promise<void>;
}

export interface StartParams {
  name: ServerName;
  /** Settings shared by both servers (listen_port and secure_chroot_dir are added here). */
  options: Options;
  /** Extra settings only this server gets (vsftpd: seccomp_sandbox=NO). */
  extra: Options;
  secureChrootDir: string;
  /** Directory for the config file and the log. */
  dir: string;
  repoRoot: string;
  label: string;
}

/**
 * Start the server and wait until its listen port shows up in /proc/net/tcp
 * (readiness is never probed by connecting: a probe would be a session). The port is
 * picked free a moment before; when the server exits before listening (someone took the
 * port in between), it is tried again on another port, up to 3 times.
 */
export async function startServer(p: StartParams): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(p);
    } catch (e: unknown) {
      if (attempt >= 3 || !(e instanceof EarlyExit)) throw e;
    }
  }
}

class EarlyExit extends Error {}

async function startOnce(p: StartParams): Promise<RunningServer> {
  const port = pickPort(CONTROL_PORTS[0], CONTROL_PORTS[1]);
  const options: Options = {
    ...p.options,
    listen_port: port,
    secure_chroot_dir: p.secureChrootDir,
    ...p.extra,
  };
  const conf = path.join(p.dir, `${p.label}.conf`);
  writeConfig(conf, configText(options));
  const logFile = path.join(p.dir, `${p.label}.log`);
  const logFd = fs.openSync(logFile, 'w', 0o600);
  const [cmd, args] =
    p.name === 'tsftpd'
      ? [process.execPath, [path.join(p.repoRoot, 'bin', 'tsftpd'), conf]]
      : [VSFTPD_BIN, [conf]];
  // detached: its own process group, so a Ctrl-C in the terminal reaches only the bench,
  // which then stops the servers by PID.
  const child = spawn(cmd, args, {
    cwd: p.repoRoot,
    env: taggedEnv(),
    stdio: ['ignore', logFd, logFd],
    detached: true,
  });
  fs.closeSync(logFd);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid;
  if (pid === undefined) throw await spawnError;
  const start = readStat(pid)?.start;

  const deadline = Date.now() + 30_000;
  while (!isListening(port)) {
    if (exited || Date.now() > deadline) {
      terminateSync([pid, ...descendants(pid)], 2000);
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      const msg = `${p.name} did not start listening on ${port}${exited ? ' (it exited)' : ''}:\n${log}`;
      throw exited ? new EarlyExit(msg) : new Error(msg);
    }
    await sleep(20);
  }

  let stopped: Promise<void> | null = null;
  return {
    name: p.name,
    pid,
    port,
    logFile,
    stop: () => {
      stopped ??= (async (): Promise<void> => {
        const tree = descendants(pid);
        if (isAlive(pid, start)) process.kill(pid, 'SIGTERM');
        const until = Date.now() + 10_000;
        while (!exited && Date.now() < until) await sleep(20);
        // Sessions of a daemon whose master is gone must go too (vsftpd's do not always).
        const rest = [...new Set([...tree, ...descendants(pid)])].filter((x) => isAlive(x));
        if (!exited) rest.push(pid);
        if (rest.length > 0) terminateSync(rest, 3000);
      })();
      return stopped;
    },
  };
}

/**
 * Wait until the server's process tree stops changing (no process started or ended for
 * `quietMs`), e.g. while tsftpd refills its prefork pool. Bounded by `maxMs`.
 */
export async function settle(pid: number, quietMs = 600, maxMs = 15_000): Promise<void> {
  const key = (): string => descendants(pid).sort((a, b) => a - b).join(',');
  let last = key();
  let since = Date.now();
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    await sleep(100);
    const k = key();
    if (k !== last) {
      last = k;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
  }
}

export { treePss };
