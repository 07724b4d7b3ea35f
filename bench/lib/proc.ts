// /proc helpers for the benchmark: process trees, PSS, listening sockets, tagged processes.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocking sleep, for the synchronous exit path only. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export interface Stat {
  ppid: number;
  state: string;
  /** utime + stime + cutime + cstime, clock ticks: own CPU plus that of reaped children. */
  cpuTicks: number;
  /** Start time in clock ticks since boot: with the pid, identifies one process. */
  start: number;
}

/** Fields of /proc/PID/stat (the command name may hold spaces and parentheses). */
export function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).split(' ');
  // after "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime priority nice num_threads itrealvalue starttime
  const state = f[0] ?? '?';
  const ppid = Number(f[1]);
  const start = Number(f[19]);
  const cpuTicks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  if (!Number.isFinite(ppid) || !Number.isFinite(start) || !Number.isFinite(cpuTicks)) return null;
  return { ppid, state, start, cpuTicks };
}

/** The process title (/proc/PID/cmdline, NULs as spaces), e.g. "tsftpd: 127.0.0.1/user: IDLE". */
export function readComm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' ').slice(0, 60);
  } catch {
    return '?';
  }
}

export function allPids(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(name)) out.push(Number(name));
  }
  return out;
}

/** True while the process (pid, start) exists and is not a zombie. */
export function isAlive(pid: number, start?: number): boolean {
  const st = readStat(pid);
  if (st === null || st.state === 'Z' || st.state === 'X') return false;
  return start === undefined || st.start === start;
}

/**
 * Every live descendant of pid (children, grandchildren, ...), by scanning ppid; with
 * zombies too when `withZombies` (they still hold their CPU times until reaped).
 */
export function descendants(pid: number, withZombies = false): number[] {
  const kids = new Map<number, number[]>();
  for (const p of allPids()) {
    const st = readStat(p);
    if (st === null || (st.state === 'Z' && !withZombies)) continue;
    const list = kids.get(st.ppid);
    if (list) list.push(p);
    else kids.set(st.ppid, [p]);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const c of kids.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Pss of one process in KiB (/proc/PID/smaps_rollup), 0 when it is gone. */
export function pssKiB(pid: number): number {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return 0;
  }
  const m = /^Pss:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Selected /proc/PID/smaps_rollup fields (KiB): where one process's memory is. */
export function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let text = '';
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return out;
  }
  for (const m of text.matchAll(/^(Rss|Pss|Pss_Anon|Pss_File|Shared_Clean|Private_Dirty|Anonymous):\s+(\d+) kB/gm)) {
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** Total PSS (KiB) and process count of pid and all its descendants. */
export function treePss(pid: number): { kib: number; procs: number } {
  const pids = [pid, ...descendants(pid)].filter((p) => isAlive(p));
  let kib = 0;
  for (const p of pids) kib += pssKiB(p);
  return { kib, procs: pids.length };
}

let clkTck = 0;
/** Clock ticks per second (getconf CLK_TCK; 100 on Linux). */
function ticksPerSecond(): number {
  if (clkTck === 0) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number((r.stdout ?? '').trim());
    clkTck = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clkTck;
}

/**
 * CPU seconds used so far by pid's tree: every live member's user+system time plus that
 * of the children it has reaped (a server's exited sessions are counted by their parent).
 */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid, true)]) ticks += readStat(p)?.cpuTicks ?? 0;
  return ticks / ticksPerSecond();
}

/** True when some socket listens on TCP port `port` (IPv4 or IPv6), read from /proc/net/tcp*. */
export function isListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (local === undefined || f[3] !== '0A') continue;
      if (local.slice(local.lastIndexOf(':') + 1) === hex) return true;
    }
  }
  return false;
}

/** Every local TCP port in any state (listening or connected), from /proc/net/tcp*. */
export function usedPorts(): Set<number> {
  const out = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local !== undefined) out.add(parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
    }
  }
  return out;
}

/** A port in [lo, hi] that no socket uses right now (no connection attempt involved). */
export function pickPort(lo: number, hi: number, avoid: ReadonlySet<number> = new Set()): number {
  const used = usedPorts();
  for (let i = 0; i < 1000; i++) {
    const p = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (!used.has(p) && !avoid.has(p)) return p;
  }
  throw new Error(`no free port in ${lo}-${hi}`);
}

/** Pids whose environment holds NAME=VALUE (finds processes reparented away from us). */
export function pidsWithEnv(name: string, value: string): number[] {
  const needle = `${name}=${value}`;
  const out: number[] = [];
  for (const p of allPids()) {
    if (p === process.pid) continue;
    let env: string;
    try {
      env = fs.readFileSync(`/proc/${p}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (env.split('\0').includes(needle)) out.push(p);
  }
  return out;
}

export function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}
