/*
 * Entry point of priv: the one root helper that does privileged work for
 * sessions. Today that is the login decision; port-20 sockets and chown of
 * anonymous uploads join it later. It talks only to master, which alone
 * knows which session a request belongs to.
 *
 * A malformed message from master is a bug; priv exits and master restarts
 * it (fail closed), rather than guessing.
 */

import type { PrivToMaster } from '../ipc/messages';
import { parseMasterToPriv } from '../ipc/validate';
import { chownUpload } from './chown';
import { connectFromDataPort } from './dataconnect';
import { checkUser, decideLogin } from './login';

process.title = 'tsftpd: priv';

/*
 * PAM failures hold a libuv pool thread for ~2 s (pam_faildelay); bound the
 * logins in flight so a burst of wrong passwords cannot starve the pool.
 */
const MAX_CONCURRENT_LOGINS = 8;
let inFlight = 0;
const waiting: Array<() => void> = [];

function acquire(): Promise<void> {
  if (inFlight < MAX_CONCURRENT_LOGINS) {
    inFlight++;
    return Promise.resolve();
  }
  return new Promise((resolve) => waiting.push(resolve));
}

function release(): void {
  const next = waiting.shift();
  if (next !== undefined) next();
  else inFlight--;
}

function send(msg: PrivToMaster): void {
  if (process.send === undefined || !process.connected) process.exit(1);
  process.send(msg);
}

process.on('message', (raw: unknown) => {
  const msg = parseMasterToPriv(raw);
  if (msg === null) {
    process.stderr.write('tsftpd priv: malformed request from master; exiting\n');
    process.exit(1);
  }
  if (msg.t === 'chown') {
    // The session's own config came with the request (master holds it).
    const r = chownUpload(msg.config, msg.jailRoot, msg.path, msg.dev, msg.ino);
    send({ t: 'chown_result', id: msg.id, ok: r.ok, detail: r.ok ? '' : r.detail });
    return;
  }
  if (msg.t === 'data_connect') {
    const id = msg.id;
    void connectFromDataPort(msg.config, msg.localAddress, msg.remoteAddress, msg.port).then((r) => {
      if (!r.ok) {
        send({ t: 'data_connect_result', id, ok: false, detail: r.detail });
        return;
      }
      // The socket goes to master (and on to the worker); priv's copy closes.
      if (process.send === undefined || !process.connected) process.exit(1);
      process.send({ t: 'data_connect_result', id, ok: true, detail: '' } satisfies PrivToMaster, r.socket);
    });
    return;
  }
  const cfg = msg.config;
  if (msg.t === 'check_user') {
    void checkUser(cfg, msg.user).then((allowed) => send({ t: 'user_result', id: msg.id, allowed }));
    return;
  }
  void acquire()
    .then(() => decideLogin(cfg, { user: msg.user, pass: msg.pass, remoteAddress: msg.remoteAddress }))
    .then(
      (outcome) => send({ t: 'login_result', id: msg.id, outcome }),
      (e: unknown) =>
        send({
          t: 'login_result',
          id: msg.id,
          outcome: { ok: false, reason: 'internal', detail: e instanceof Error ? e.message : String(e) },
        }),
    )
    .finally(release);
});

process.on('disconnect', () => process.exit(0));
send({ t: 'ready' });
