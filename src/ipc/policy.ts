/*
 * Which message a worker may send in which state — the table OpenSSH's
 * monitor keeps. master consults it before routing anything; a message
 * outside the table ends the session (fail closed).
 */

import type { WorkerToMaster } from './messages';

export type WorkerState =
  /** forked, still loading its modules (root, not yet ready) */
  | 'starting'
  /** pre-forked and idle in the pool */
  | 'ready'
  /** W1: jailed as nopriv_user, talking to a client that has not logged in */
  | 'prelogin'
  /** W1: sent LOGIN or check_user, waiting for priv's answer */
  | 'authenticating'
  /** W1: login succeeded, must now hand back unread control bytes */
  | 'handing_off'
  /** W2: jailed as the session user */
  | 'postlogin'
  /** W1 after a TLS login: the session's TLS relay ("SSL handler"); it asks for nothing */
  | 'relay';

type Kind = WorkerToMaster['t'];

export const WORKER_POLICY: Readonly<Record<WorkerState, ReadonlySet<Kind>>> = Object.freeze({
  starting: new Set<Kind>(['ready']),
  ready: new Set<Kind>(),
  // SECURITY: before login a worker can ask two things: may this user name
  // log in (userlist, at USER time), and LOGIN.
  prelogin: new Set<Kind>(['check_user', 'login']),
  // One request in flight at a time: another is a protocol violation.
  authenticating: new Set<Kind>(),
  handing_off: new Set<Kind>(['handoff']),
  // Post-login: a data connection from port 20, chown of an anonymous
  // upload (master also checks the session's config allows each).
  postlogin: new Set<Kind>(['data_connect', 'chown_upload', 'transfer_state', 'transfer_done', 'data_failed']),
  // SECURITY: the relay holds only the client's TLS connection and its end
  // of the Unix socket to W2; any request from it ends the session.
  relay: new Set<Kind>(),
});

export function workerMaySend(state: WorkerState, kind: Kind): boolean {
  return WORKER_POLICY[state].has(kind);
}
