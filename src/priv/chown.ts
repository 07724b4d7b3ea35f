/*
 * chown_uploads (vsftpd's PRIV_SOCK_CHOWN). vsftpd's session child passes
 * the open file descriptor; Node's IPC cannot carry a file descriptor, so
 * priv opens the file itself and proves it is the one the worker created:
 *
 *   1. open jailRoot + path with O_NOFOLLOW (no symlink as the last step)
 *      and O_NONBLOCK (a FIFO cannot hang priv);
 *   2. SECURITY: /proc/self/fd/N must resolve inside jailRoot — a symlink
 *      in an earlier component cannot lead priv out of the jail;
 *   3. fstat: a regular file, the (dev, inode) the worker reported, owned by
 *      the anonymous (ftp_username) or guest (guest_username) uid — the
 *      only files vsftpd will give away;
 *   4. fchown to chown_username and fchmod to chown_upload_mode on that fd
 *      (the kernel clears set-id bits on chown; the mode is masked to 0777).
 *
 * Any failed check refuses; nothing is changed.
 */

import * as fs from 'node:fs';
import * as posix from 'posix';
import type { Config } from '../config/options';

export type ChownOutcome = { readonly ok: true } | { readonly ok: false; readonly detail: string };

function uidOf(name: string | null): number | null {
  if (name === null) return null;
  try {
    return posix.getpwnam(name).uid;
  } catch {
    return null;
  }
}

export function chownUpload(cfg: Config, jailRoot: string, path: string, dev: string, ino: string): ChownOutcome {
  if (!cfg.chown_uploads) return { ok: false, detail: 'chown_uploads is off' };
  const target = uidOf(cfg.chown_username);
  if (target === null) return { ok: false, detail: `chown_username ${cfg.chown_username ?? '(unset)'} does not exist` };
  const allowedOwners = new Set([uidOf(cfg.ftp_username), uidOf(cfg.guest_username)].filter((u): u is number => u !== null));
  const root = jailRoot.replace(/\/+$/, '') || '/';
  let fd: number;
  try {
    fd = fs.openSync(root + path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e: unknown) {
    return { ok: false, detail: `open: ${e instanceof Error ? e.message : String(e)}` };
  }
  try {
    const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
    if (root !== '/' && !real.startsWith(`${root}/`)) return { ok: false, detail: `${real} is outside the jail` };
    const st = fs.fstatSync(fd, { bigint: true });
    if (!st.isFile()) return { ok: false, detail: 'not a regular file' };
    if (st.dev.toString() !== dev || st.ino.toString() !== ino) return { ok: false, detail: 'not the file the session created' };
    if (Number(st.uid) === target) return { ok: true };
    if (!allowedOwners.has(Number(st.uid))) return { ok: false, detail: `owned by uid ${st.uid}, not the anonymous or guest user` };
    fs.fchownSync(fd, target, -1);
    fs.fchmodSync(fd, cfg.chown_upload_mode & 0o777);
    return { ok: true };
  } catch (e: unknown) {
    return { ok: false, detail: e instanceof Error ? e.message : String(e) };
  } finally {
    fs.closeSync(fd);
  }
}
