// /proc inspection for process-model tests: descendants, credentials, jail root,
// socket ownership, and a bounded polling helper.
import * as fs from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Kernel start time in clock ticks since boot (field 22 of /proc/PID/stat). */
  startTime: number;
  uid: { real: number; effective: number; saved: number; fs: number };
  gid: { real: number; effective: number; saved: number; fs: number };
  groups: number[];
  noNewPrivs: number;
  capEff: string;
  capPrm: string;
  capBnd: string;
  /** readlink /proc/PID/root ('/' when not chrooted). */
  root: string;
  cwd: string;
  /** argv joined by spaces (process title for node processes). */
  cmdline: string;
}

interface StatLine {
  pid: number;
  ppid: number;
  startTime: number;
}

function readStat(pid: number): StatLine | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] = state (field 3), fields[1] = ppid (4), fields[19] = starttime (22)
  const ppid = Number(fields[1]);
  const startTime = Number(fields[19]);
  if (!Number.isFinite(ppid) || !Number.isFinite(startTime)) return null;
  return { pid, ppid, startTime };
}

/** All numeric /proc entries. */
export function allPids(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(name)) out.push(Number(name));
  }
  return out;
}

/** Every live descendant (children, grandchildren, ...) of `pid`, not including it. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const st = readStat(p);
    if (!st) continue;
    const list = children.get(st.ppid);
    if (list) list.push(p);
    else children.set(st.ppid, [p]);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const cur = queue.shift() as number;
    for (const c of children.get(cur) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out.sort((a, b) => a - b);
}

/** Start time (clock ticks) of a live pid, or null. Pairs with pid to survive pid reuse. */
export function startTimeOf(pid: number): number | null {
  return readStat(pid)?.startTime ?? null;
}

export function isAlive(pid: number, startTime?: number): boolean {
  const st = readStat(pid);
  if (!st) return false;
  if (startTime !== undefined && st.startTime !== startTime) return false;
  // A zombie is dead for our purposes only once reaped; report it as alive so leaks show.
  return true;
}

function idQuad(line: string | undefined): { real: number; effective: number; saved: number; fs: number } {
  const n = (line ?? '').trim().split(/\s+/).map(Number);
  return { real: n[0] ?? -1, effective: n[1] ?? -1, saved: n[2] ?? -1, fs: n[3] ?? -1 };
}

function safeReadlink(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch (e: unknown) {
    return `<${(e as NodeJS.ErrnoException).code ?? 'error'}>`;
  }
}

/** Credentials and confinement of a live process, or null when it is gone. */
export function procInfo(pid: number): ProcInfo | null {
  const st = readStat(pid);
  if (!st) return null;
  let status: string;
  let cmdline: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string): string | undefined => {
    const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status);
    return m?.[1];
  };
  return {
    pid,
    ppid: st.ppid,
    startTime: st.startTime,
    uid: idQuad(field('Uid')),
    gid: idQuad(field('Gid')),
    groups: (field('Groups') ?? '').trim().split(/\s+/).filter((s) => s !== '').map(Number),
    noNewPrivs: Number(field('NoNewPrivs') ?? '-1'),
    capEff: (field('CapEff') ?? '').trim(),
    capPrm: (field('CapPrm') ?? '').trim(),
    capBnd: (field('CapBnd') ?? '').trim(),
    root: safeReadlink(`/proc/${pid}/root`),
    cwd: safeReadlink(`/proc/${pid}/cwd`),
    cmdline: cmdline.replace(/\0+$/, '').replace(/\0/g, ' '),
  };
}

/** procInfo for each live pid in the list (gone pids are skipped). */
export function procInfos(pids: number[]): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const p of pids) {
    const info = procInfo(p);
    if (info) out.push(info);
  }
  return out;
}

/** One-line summary of a process for assertion messages. */
export function describeProc(info: ProcInfo): string {
  return (
    `pid=${info.pid} ppid=${info.ppid} uid=${info.uid.real}/${info.uid.effective}/${info.uid.saved} ` +
    `gid=${info.gid.real}/${info.gid.effective} groups=[${info.groups.join(',')}] nnp=${info.noNewPrivs} ` +
    `capEff=${info.capEff} capBnd=${info.capBnd} root=${info.root} cwd=${info.cwd} cmd=${JSON.stringify(info.cmdline)}`
  );
}

/** Does /proc/PID/environ contain NAME=VALUE exactly? (root can read every process's environ.) */
export function hasEnv(pid: number, name: string, value: string): boolean {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
    return env.split('\0').includes(`${name}=${value}`);
  } catch {
    return false;
  }
}

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

interface TcpRow {
  local: string; // "ADDRHEX:PORTHEX"
  remote: string;
  state: string;
  inode: string;
}

function tcpRows(): TcpRow[] {
  const rows: TcpRow[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      rows.push({ local: f[1] ?? '', remote: f[2] ?? '', state: f[3] ?? '', inode: f[9] ?? '' });
    }
  }
  return rows;
}

/** Inodes of the sockets in LISTEN state (0A) on this TCP port (IPv4 or IPv6). */
export function listeningInodes(port: number): string[] {
  const suffix = `:${hexPort(port)}`;
  return tcpRows()
    .filter((r) => r.state === '0A' && r.local.endsWith(suffix))
    .map((r) => r.inode);
}

/**
 * Is a socket in LISTEN state on this TCP port? With `ownerPid`, only a listening socket
 * held open by that process counts (so another program's socket on the same port number,
 * e.g. on another address, cannot fake readiness). Never connects.
 */
export function isListening(port: number, ownerPid?: number): boolean {
  const inodes = listeningInodes(port);
  if (ownerPid === undefined) return inodes.length > 0;
  return socketHolders([ownerPid], inodes).length > 0;
}

/**
 * Socket inodes of the server side of a TCP connection: local port `serverPort`,
 * remote port `clientPort` (both on loopback in these tests).
 */
export function serverSocketInodes(serverPort: number, clientPort: number): string[] {
  const l = `:${hexPort(serverPort)}`;
  const r = `:${hexPort(clientPort)}`;
  return tcpRows()
    .filter((row) => row.local.endsWith(l) && row.remote.endsWith(r) && row.inode !== '0')
    .map((row) => row.inode);
}

/** Which of `pids` hold an fd on one of the socket inodes. */
export function socketHolders(pids: number[], inodes: string[]): number[] {
  if (inodes.length === 0) return [];
  const wanted = new Set(inodes.map((i) => `socket:[${i}]`));
  const out: number[] = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(target)) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/**
 * The processes under `rootPid` (including it) that hold the server end of the client
 * connection whose local port is `clientPort`.
 */
export function connectionHolders(rootPid: number, serverPort: number, clientPort: number): ProcInfo[] {
  const inodes = serverSocketInodes(serverPort, clientPort);
  const pids = [rootPid, ...descendants(rootPid)];
  return procInfos(socketHolders(pids, inodes));
}

export const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/**
 * Poll `predicate` every `intervalMs` until it returns a value other than
 * undefined/null/false, or throw after `timeoutMs` with `what` (and the last error).
 */
export async function waitFor<T>(
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = undefined;
  for (;;) {
    try {
      const v = await predicate();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (e: unknown) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const extra = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
    }
    await sleep(intervalMs);
  }
}
