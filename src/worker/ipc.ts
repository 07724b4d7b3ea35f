/*
 * The worker's end of the IPC channel to master. A worker can send only
 * WorkerToMaster messages; master decides whether the current state allows
 * them (ipc/policy.ts).
 */

import type * as net from 'node:net';
import type { ChownResultToWorker, DataSocketToWorker, LoginResultToWorker, UserResultToWorker, WorkerToMaster } from '../ipc/messages';

export function sendToMaster(msg: WorkerToMaster, onSent?: () => void): void {
  if (process.send === undefined || !process.connected) {
    // No master: nothing this process does can be authorised. Fail closed.
    process.exit(1);
  }
  process.send(msg, undefined, undefined, () => onSent?.());
}

let loginWaiter: ((r: LoginResultToWorker) => void) | null = null;

/** Ask master (and through it, priv) to log in; resolves with the answer. */
export function requestLogin(user: string, pass: string): Promise<LoginResultToWorker> {
  return new Promise((resolve) => {
    loginWaiter = resolve;
    sendToMaster({ t: 'login', user, pass });
  });
}

/** Called by the worker's message loop for a login_result from master. */
export function deliverLoginResult(r: LoginResultToWorker): void {
  const w = loginWaiter;
  loginWaiter = null;
  if (w === null) process.exit(1);
  w(r);
}

let userWaiter: ((r: UserResultToWorker) => void) | null = null;

/** userlist check at USER time, answered by priv through master. */
export function requestUserCheck(user: string): Promise<UserResultToWorker> {
  return new Promise((resolve) => {
    userWaiter = resolve;
    sendToMaster({ t: 'check_user', user });
  });
}

export function deliverUserResult(r: UserResultToWorker): void {
  const w = userWaiter;
  userWaiter = null;
  if (w === null) process.exit(1);
  w(r);
}

let chownWaiter: ((r: ChownResultToWorker) => void) | null = null;

/**
 * chown_uploads: ask priv (through master) to give the file this session
 * just created to chown_username. `path` is absolute inside the jail;
 * dev/ino identify the file so priv can check it is this one.
 */
export function requestChownUpload(path: string, dev: bigint, ino: bigint): Promise<boolean> {
  return new Promise((resolve) => {
    chownWaiter = (r) => resolve(r.ok);
    sendToMaster({ t: 'chown_upload', path, dev: dev.toString(), ino: ino.toString() });
  });
}

export function deliverChownResult(r: ChownResultToWorker): void {
  const w = chownWaiter;
  chownWaiter = null;
  if (w === null) process.exit(1);
  w(r);
}

let dataWaiter: ((r: { socket: net.Socket | null; detail: string }) => void) | null = null;

/** connect_from_port_20: priv connects from port 20 to the client's `port`. */
export function requestDataSocket(port: number): Promise<{ socket: net.Socket | null; detail: string }> {
  return new Promise((resolve) => {
    dataWaiter = resolve;
    sendToMaster({ t: 'data_connect', port });
  });
}

export function deliverDataSocket(r: DataSocketToWorker, socket: net.Socket | null): void {
  const w = dataWaiter;
  dataWaiter = null;
  if (w === null) process.exit(1);
  w({ socket: r.ok ? socket : null, detail: r.detail });
}

/** A transfer ended: master counts it (metrics). Fire and forget. */
export function reportTransfer(direction: 'in' | 'out', bytes: number, ok: boolean): void {
  sendToMaster({ t: 'transfer_done', direction, bytes, ok });
}
