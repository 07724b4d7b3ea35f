/*
 * Beyond vsftpd: a per-address failure score that bans brute-forcing
 * addresses for a growing time. vsftpd only has max_login_fails (per
 * connection) and delay_failed_login; an attacker reconnects. master counts
 * failed logins per client address across sessions; ban_max_fails failures
 * within ban_window seconds ban the address for ban_time seconds, doubling
 * with each repeat offence up to ban_max_time. A banned address is refused
 * with 421 at connect, before any worker is spent. ban_enable=NO turns it off.
 *
 * Memory is bounded: at most MAX_TRACKED addresses, the stalest evicted.
 */

import type { Config } from '../config/options';

const MAX_TRACKED = 100_000;
/** A repeat offence counts as such for this long after the last ban ended. */
const OFFENCE_MEMORY_SECONDS = 24 * 60 * 60;

interface Record {
  /** Failure times (ms) inside the window, oldest first. */
  failures: number[];
  bannedUntil: number;
  /** Bans so far (for the doubling), forgotten after OFFENCE_MEMORY_SECONDS. */
  offences: number;
  lastSeen: number;
}

export class BanList {
  private readonly records = new Map<string, Record>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds left on a ban, or 0. */
  bannedFor(cfg: Config, ip: string): number {
    if (!cfg.ban_enable) return 0;
    const r = this.records.get(ip);
    if (r === undefined) return 0;
    const left = r.bannedUntil - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Record a failed login (or userlist refusal); returns the new ban in seconds, or 0. */
  recordFailure(cfg: Config, ip: string): number {
    if (!cfg.ban_enable || cfg.ban_max_fails === 0) return 0;
    const now = this.now();
    let r = this.records.get(ip);
    if (r === undefined) {
      this.evictIfFull();
      r = { failures: [], bannedUntil: 0, offences: 0, lastSeen: now };
      this.records.set(ip, r);
    }
    if (r.bannedUntil > 0 && now - r.bannedUntil > OFFENCE_MEMORY_SECONDS * 1000) r.offences = 0;
    r.lastSeen = now;
    const windowStart = now - cfg.ban_window * 1000;
    r.failures = r.failures.filter((t) => t > windowStart);
    r.failures.push(now);
    if (r.failures.length < cfg.ban_max_fails) return 0;
    r.failures = [];
    const seconds = Math.min(cfg.ban_time * 2 ** r.offences, cfg.ban_max_time);
    r.offences = Math.min(r.offences + 1, 30);
    r.bannedUntil = now + seconds * 1000;
    return seconds;
  }

  private evictIfFull(): void {
    if (this.records.size < MAX_TRACKED) return;
    let oldestKey: string | null = null;
    let oldest = Infinity;
    for (const [k, v] of this.records) {
      if (v.lastSeen < oldest && v.bannedUntil < this.now()) {
        oldest = v.lastSeen;
        oldestKey = k;
      }
    }
    if (oldestKey !== null) this.records.delete(oldestKey);
  }
}
