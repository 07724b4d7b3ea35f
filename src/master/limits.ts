/*
 * Connection limits, checked by master at accept time (vsftpd checks them
 * only after forking the session; we refuse before any process is spent).
 */

import type { Config } from '../config/options';

export interface ConnectRefusal {
  readonly cause: 'max_clients' | 'max_per_ip';
  readonly text: string;
}

/**
 * `current` and `fromIp` count the sessions that exist before this one;
 * a limit of 0 means no limit, as in vsftpd.
 */
export function checkConnectLimits(cfg: Config, current: number, fromIp: number): ConnectRefusal | null {
  if (cfg.max_clients > 0 && current + 1 > cfg.max_clients) {
    return { cause: 'max_clients', text: 'There are too many connected users, please try later.' };
  }
  if (cfg.max_per_ip > 0 && fromIp + 1 > cfg.max_per_ip) {
    return { cause: 'max_per_ip', text: 'There are too many connections from your internet address.' };
  }
  return null;
}
