// Real FTP clients driven from tests: Python ftplib (JSON transcript), curl, and the
// classic interactive tnftp `ftp` through a pseudo-terminal. Every run is time-bounded.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as pty from 'node-pty';
import { repoRoot } from './daemon';

export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run a command to completion; SIGKILL after timeoutMs. */
export function runProcess(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; cwd?: string; input?: string } = {},
): Promise<ProcResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
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
    child.stdin.on('error', () => {
      // child may exit before reading stdin
    });
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
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

// ---------------------------------------------------------------------------
// Python ftplib

export type FtplibStep =
  | { op: 'login'; user: string; password: string }
  | { op: 'pwd' }
  | { op: 'cwd'; path: string }
  | { op: 'cdup' }
  | { op: 'list'; path?: string }
  | { op: 'nlst'; path?: string }
  | { op: 'retr'; remote: string; local?: string }
  | { op: 'stor'; local: string; remote: string }
  | { op: 'size'; path: string }
  | { op: 'raw'; cmd: string }
  | { op: 'quit' };

export interface FtplibJob {
  host?: string;
  port: number;
  /** When set (and login !== false) a login step runs first. */
  user?: string;
  password?: string;
  /** Socket timeout in seconds (default 10). */
  timeout?: number;
  passive?: boolean;
  login?: boolean;
  steps: FtplibStep[];
}

export interface FtplibStepResult {
  op: string;
  /** pwd: the path; list/nlst: string[]; retr: byte count; size: number; others: the final reply. */
  result?: unknown;
  /** e.g. "530 Login incorrect." or "EOF: connection closed". */
  error?: string;
  /** Every reply read during this step (150 and 226 included). */
  replies: string[];
}

export interface FtplibTranscript {
  welcome?: string;
  steps: FtplibStepResult[];
  /** Set when connecting failed. */
  error?: string;
  /** Raw process outcome, for diagnostics. */
  exitCode: number | null;
  stderr: string;
}

export function ftplibScriptPath(): string {
  return path.join(repoRoot(), 'test', 'clients', 'ftplib_client.py');
}

/** Run test/clients/ftplib_client.py with the job; throws if it produced no JSON. */
export async function runFtplib(job: FtplibJob, timeoutMs = 60_000): Promise<FtplibTranscript> {
  const r = await runProcess('/usr/bin/python3', [ftplibScriptPath(), JSON.stringify(job)], { timeoutMs });
  const lastLine = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(lastLine);
  } catch {
    throw new Error(
      `ftplib client gave no JSON (code=${String(r.code)} timedOut=${r.timedOut})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { steps?: unknown }).steps)) {
    throw new Error(`ftplib client JSON has no steps: ${lastLine}`);
  }
  const t = parsed as { welcome?: string; steps: FtplibStepResult[]; error?: string };
  return { ...t, exitCode: r.code, stderr: r.stderr };
}

/** The step results with a given op, in order. */
export function stepsOf(t: FtplibTranscript, op: string): FtplibStepResult[] {
  return t.steps.filter((s) => s.op === op);
}

// ---------------------------------------------------------------------------
// curl

export function ftpUrl(user: string, password: string, port: number, urlPath: string, host = '127.0.0.1'): string {
  const p = urlPath.startsWith('/') ? urlPath : `/${urlPath}`;
  return `ftp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}${p}`;
}

/**
 * curl -sS --max-time 20 [extra...] URL. A trailing "/" in urlPath lists the directory;
 * `upload` sends that local file with -T.
 */
export function runCurl(opts: {
  user: string;
  password: string;
  port: number;
  path: string;
  upload?: string;
  extraArgs?: string[];
  host?: string;
}): Promise<ProcResult> {
  const args = ['-sS', '--max-time', '20', ...(opts.extraArgs ?? [])];
  if (opts.upload !== undefined) args.push('-T', opts.upload);
  args.push(ftpUrl(opts.user, opts.password, opts.port, opts.path, opts.host));
  return runProcess('curl', args, { timeoutMs: 30_000 });
}

// ---------------------------------------------------------------------------
// tnftp through a pty

export interface PtyStep {
  /** The line typed (Enter is added). */
  send: string;
  /** Text or pattern that must appear in the output after the line was typed. */
  expect: string | RegExp;
  timeoutMs?: number;
  /** Also wait for the next "ftp> " prompt after the match (default true). */
  prompt?: boolean;
}

export interface PtySession {
  /** Everything the terminal showed (typed echo included), \r removed. */
  transcript: string;
  exitCode: number | null;
}

export class PtyExpectError extends Error {
  constructor(
    message: string,
    readonly transcript: string,
  ) {
    super(`${message}\n--- terminal transcript ---\n${transcript}\n--- end ---`);
  }
}

const PROMPT = 'ftp> ';

/**
 * Spawn `/usr/bin/ftp -n` (tnftp) in a pty, wait for its prompt, then for each step type
 * the line and wait for `expect` (and the next prompt). Throws PtyExpectError with the
 * screen transcript when something does not show up in time.
 */
export async function runTnftp(
  steps: PtyStep[],
  opts: { cwd?: string; args?: string[]; defaultTimeoutMs?: number; exitTimeoutMs?: number } = {},
): Promise<PtySession> {
  const term = pty.spawn('/usr/bin/ftp', ['-n', ...(opts.args ?? [])], {
    name: 'xterm',
    cols: 200,
    rows: 50,
    cwd: opts.cwd ?? process.cwd(),
    env: { ...process.env, TERM: 'xterm', LANG: 'C', LC_ALL: 'C', HOME: opts.cwd ?? '/tmp' },
  });
  let screen = '';
  let exitCode: number | null = null;
  let exited = false;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  term.onData((d: string) => {
    screen += d.replace(/\r/g, '');
    notify();
  });
  term.onExit((e) => {
    exited = true;
    exitCode = e.exitCode;
    notify();
  });

  const waitUntil = (cond: () => boolean, timeoutMs: number, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (cond()) {
        resolve();
        return;
      }
      const check = (): void => {
        if (cond()) {
          done();
          resolve();
        } else if (exited) {
          done();
          reject(new PtyExpectError(`ftp exited (code ${String(exitCode)}) while waiting for ${what}`, screen));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new PtyExpectError(`timed out after ${timeoutMs} ms waiting for ${what}`, screen));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const matchAt = (text: string, expect: string | RegExp): number => {
    if (typeof expect === 'string') {
      const i = text.indexOf(expect);
      return i < 0 ? -1 : i + expect.length;
    }
    const m = new RegExp(expect.source, expect.flags.replace('g', '')).exec(text);
    return m ? m.index + m[0].length : -1;
  };

  const defTimeout = opts.defaultTimeoutMs ?? 15_000;
  try {
    await waitUntil(() => screen.includes(PROMPT), defTimeout, 'the first ftp> prompt');
    for (const step of steps) {
      const start = screen.length;
      term.write(`${step.send}\r`);
      const timeoutMs = step.timeoutMs ?? defTimeout;
      let end = -1;
      await waitUntil(
        () => {
          end = matchAt(screen.slice(start), step.expect);
          return end >= 0;
        },
        timeoutMs,
        `${String(step.expect)} after typing ${JSON.stringify(step.send)}`,
      );
      if (step.prompt !== false) {
        const after = start + end;
        await waitUntil(() => screen.slice(after).includes(PROMPT), timeoutMs, `the prompt after ${JSON.stringify(step.send)}`);
      }
    }
    await waitUntil(() => exited, opts.exitTimeoutMs ?? 5_000, 'ftp to exit').catch(() => undefined);
  } finally {
    if (!exited) {
      try {
        term.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  }
  return { transcript: screen, exitCode };
}
