/*
 * user_max_rate (a tsftpd option; vsftpd's rates are per session only): one
 * user's budget is divided evenly among that user's transfers running now,
 * in all of the user's sessions, and every start or end re-shares it.
 * master holds this because only it sees every session.
 */

import type { LoginDecision } from '../ipc/messages';
import type { WorkerProc } from './pool';

function keyOf(login: LoginDecision): string {
  return `${login.kind}:${login.user}`;
}

export class UserRateShares {
  /** Per user: the workers transferring now and the budget each one's config gives. */
  private readonly active = new Map<string, Map<WorkerProc, number>>();

  /** A session's worker started (active) or finished a transfer. */
  transfer(login: LoginDecision, w: WorkerProc, active: boolean): void {
    if (login.config.user_max_rate === 0) return;
    const key = keyOf(login);
    let set = this.active.get(key);
    if (set === undefined) {
      set = new Map();
      this.active.set(key, set);
    }
    if (active) set.set(w, login.config.user_max_rate);
    else set.delete(w);
    this.reshare(key);
  }

  /** A session that ends mid-transfer gives its share back. */
  ended(login: LoginDecision, w: WorkerProc): void {
    const key = keyOf(login);
    if (this.active.get(key)?.delete(w) === true) this.reshare(key);
  }

  private reshare(key: string): void {
    const set = this.active.get(key);
    if (set === undefined) return;
    if (set.size === 0) {
      this.active.delete(key);
      return;
    }
    for (const [worker, budget] of set) {
      if (worker.alive) worker.send({ t: 'rate_share', rate: Math.max(1, Math.floor(budget / set.size)) });
    }
  }
}
