/**
 * Typed wrappers for the zygote's system calls (native/zygote.c): fork a
 * started Node process, reap its children, and the few calls a forked child
 * needs because Node cached or owns the originals (pid, exit).
 *
 * Loaded before any jail, like src/sys/native.ts (the same shared object).
 */
import { loadAddon } from './native';

interface RawZygote {
  zygoteFork(): number;
  setParentDeathSignal(): number;
  getPids(): [number, number];
  execNode(file: string, argv: string[]): never;
  exitNow(code: number): never;
  reapChildren(): number[];
  socketPair(): [number, number];
  closeFd(fd: number): void;
}

const NAMES: readonly (keyof RawZygote)[] = [
  'zygoteFork',
  'setParentDeathSignal',
  'getPids',
  'execNode',
  'exitNow',
  'reapChildren',
  'socketPair',
  'closeFd',
];

const raw = loadAddon<RawZygote>(NAMES);

/** fork(): the child's pid in the parent, 0 in the child (whose event loop is its own). */
export function zygoteFork(): number {
  return raw.zygoteFork();
}

/** Re-arm "SIGKILL me when my parent dies" (a setuid clears it); returns getppid(). */
export function setParentDeathSignal(): number {
  return raw.setParentDeathSignal();
}

export function getPids(): { pid: number; ppid: number } {
  const [pid, ppid] = raw.getPids();
  return { pid, ppid };
}

/** Replace this process (same pid, same descriptors); throws on failure. */
export function execNode(file: string, argv: string[]): never {
  return raw.execNode(file, argv);
}

/** _exit(): see exitNow in native/zygote.c for why a forked child needs it. */
export function exitNow(code: number): never {
  return raw.exitNow(code);
}

export interface ReapedChild {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: number | null;
}

/** Every child that has ended (waitpid WNOHANG until none). */
export function reapChildren(): ReapedChild[] {
  const flat = raw.reapChildren();
  const out: ReapedChild[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    const pid = flat[i] as number;
    const signaled = flat[i + 1] === 1;
    const value = flat[i + 2] as number;
    out.push({ pid, code: signaled ? null : value, signal: signaled ? value : null });
  }
  return out;
}

/** A connected AF_UNIX stream pair, close-on-exec. */
export function socketPair(): [number, number] {
  return raw.socketPair();
}

export function closeFd(fd: number): void {
  raw.closeFd(fd);
}
