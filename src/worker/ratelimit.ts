/*
 * Bandwidth limits for one session's transfers: anon_max_rate /
 * local_max_rate (vsftpd; per session, also per user through
 * user_config_dir), and beyond vsftpd user_max_rate, a budget shared by all
 * sessions of one user that master divides among the transfers running.
 *
 * The limiter keeps the average rate since the last rate change at or below
 * the limit: after each chunk it says how long to wait. Chunks are small
 * enough (a tenth of a second's worth, or trans_chunk_size) that the rate is
 * smooth, so a 10 s transfer lands within a few percent of the limit.
 */

import type { Config } from '../config/options';

const MIN_CHUNK = 4096;
const MAX_CHUNK = 1024 * 1024;

/** The budget master currently grants this session (user_max_rate); 0: none. */
let sharedRate = 0;
const listeners = new Set<() => void>();

export function setSharedRate(bytesPerSecond: number): void {
  sharedRate = bytesPerSecond;
  for (const l of listeners) l();
}

export class RateLimiter {
  private windowStart = process.hrtime.bigint();
  private windowBytes = 0;
  private readonly onShareChange = (): void => this.restartWindow();

  /**
   * `userBudget` (user_max_rate) is assumed to be all ours until master's
   * first share arrives, so a transfer never starts unlimited.
   */
  constructor(
    private readonly sessionRate: number,
    userBudget = 0,
  ) {
    if (userBudget > 0 && sharedRate === 0) sharedRate = userBudget;
    listeners.add(this.onShareChange);
  }

  /** Bytes per second now in force; 0 means unlimited. */
  get rate(): number {
    const limits = [this.sessionRate, sharedRate].filter((r) => r > 0);
    return limits.length === 0 ? 0 : Math.min(...limits);
  }

  /** Largest chunk to move at once at this rate. */
  chunkSize(configured: number): number {
    const r = this.rate;
    if (r === 0) return MAX_CHUNK;
    const base = configured > 0 ? configured : Math.floor(r / 10);
    return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, base));
  }

  /** Count `n` bytes moved; returns the milliseconds to wait before the next. */
  account(n: number): number {
    this.windowBytes += n;
    const r = this.rate;
    if (r === 0) return 0;
    const elapsed = Number(process.hrtime.bigint() - this.windowStart) / 1e9;
    const due = this.windowBytes / r;
    return due > elapsed ? Math.ceil((due - elapsed) * 1000) : 0;
  }

  private restartWindow(): void {
    this.windowStart = process.hrtime.bigint();
    this.windowBytes = 0;
  }

  stop(): void {
    listeners.delete(this.onShareChange);
  }
}

/** The per-session limit vsftpd would apply. */
export function sessionMaxRate(cfg: Config, anonRights: boolean): number {
  return anonRights ? cfg.anon_max_rate : cfg.local_max_rate;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
