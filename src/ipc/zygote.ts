/**
 * Messages between master and the zygote (src/master/zygote-process.ts). Both run as
 * root and neither parses client bytes; the zygote still checks every
 * message's shape and acts only on its own live children.
 */

export type MasterToZygote =
  /** Fork one worker; the message carries the worker's end of its channel to master. */
  | { readonly t: 'fork'; readonly id: number }
  /** Signal a worker. The zygote is its parent, so the pid cannot have been reused. */
  | { readonly t: 'kill'; readonly pid: number; readonly signal: 'SIGKILL' | 'SIGTERM' };

export type ZygoteToMaster =
  | { readonly t: 'zygote_ready' }
  | { readonly t: 'forked'; readonly id: number; readonly pid: number }
  | { readonly t: 'fork_failed'; readonly id: number; readonly error: string }
  | { readonly t: 'exited'; readonly pid: number; readonly code: number | null; readonly signal: number | null };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isPid(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 1;
}

function isNullableInt(v: unknown): v is number | null {
  return v === null || (typeof v === 'number' && Number.isSafeInteger(v));
}

export function parseMasterToZygote(raw: unknown): MasterToZygote | null {
  if (!isRecord(raw)) return null;
  if (raw.t === 'fork' && isCount(raw.id)) return { t: 'fork', id: raw.id };
  if (raw.t === 'kill' && isPid(raw.pid) && (raw.signal === 'SIGKILL' || raw.signal === 'SIGTERM')) {
    return { t: 'kill', pid: raw.pid, signal: raw.signal };
  }
  return null;
}

export function parseZygoteToMaster(raw: unknown): ZygoteToMaster | null {
  if (!isRecord(raw)) return null;
  if (raw.t === 'zygote_ready') return { t: 'zygote_ready' };
  if (raw.t === 'forked' && isCount(raw.id) && isPid(raw.pid)) return { t: 'forked', id: raw.id, pid: raw.pid };
  if (raw.t === 'fork_failed' && isCount(raw.id) && typeof raw.error === 'string') {
    return { t: 'fork_failed', id: raw.id, error: raw.error.slice(0, 200) };
  }
  if (raw.t === 'exited' && isPid(raw.pid) && isNullableInt(raw.code) && isNullableInt(raw.signal)) {
    return { t: 'exited', pid: raw.pid, code: raw.code, signal: raw.signal };
  }
  return null;
}
