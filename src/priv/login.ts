/*
 * The login decision (vsftpd's privops.c handle_login and the chroot/home
 * computation of twoprocess.c). Runs as root in priv. Its only input from
 * the client side is a user name and a password; the client's address comes
 * from master.
 */

import * as fs from 'node:fs';
import * as posix from 'posix';
import * as userid from 'userid';
import type { Config } from '../config/options';
import type { LoginDecision, LoginOutcome, JailSpec } from '../ipc/messages';
import { pamAuthenticate } from '../sys/native';

export interface LoginRequest {
  readonly user: string;
  readonly pass: string;
  readonly remoteAddress: string;
}

const USERNAME_MAX = 128;
const PASSWORD_MAX = 128;

/*
 * SECURITY: vsftpd's username rule, checked before the name reaches PAM or
 * the password database: 1..128 bytes, first character alphanumeric, '_' or
 * '.', and no spaces or unprintable characters anywhere.
 */
export function validUsername(name: string): boolean {
  if (name.length === 0 || Buffer.byteLength(name) > USERNAME_MAX) return false;
  if (!/^[A-Za-z0-9_.]/.test(name)) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\s\x00-\x1f\x7f]/.test(name);
}

export function isAnonymousLogin(cfg: Config, name: string): boolean {
  const n = name.toLowerCase();
  return cfg.anonymous_enable && (n === 'ftp' || n === 'anonymous');
}

/** vsftpd stores the anonymous password for logs: spaces → _, \n → ?, empty → ?. */
export function sanitizeAnonPassword(p: string): string {
  if (p.length === 0) return '?';
  return p.replace(/ /g, '_').replace(/[\r\n]/g, '?');
}

function fail(reason: Exclude<LoginOutcome, { ok: true }>['reason'], detail: string): LoginOutcome {
  return { ok: false, reason, detail };
}

function lookupUser(name: string): posix.Passwd | null {
  try {
    return posix.getpwnam(name);
  } catch {
    return null;
  }
}

/** Names, one per line, as vsftpd's chroot_list_file and userlist_file. */
function fileListsName(file: string, name: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => line.replace(/\r$/, '') === name);
}

/**
 * vsftpd's chroot rule for local users: chroot_local_user, inverted for the
 * users listed in chroot_list_file when chroot_list_enable is on.
 */
export function shouldChrootLocal(cfg: Config, name: string): boolean {
  if (!cfg.chroot_list_enable) return cfg.chroot_local_user;
  const listed = cfg.chroot_list_file !== null && fileListsName(cfg.chroot_list_file, name);
  return cfg.chroot_local_user ? !listed : listed;
}

function subToken(cfg: Config, text: string, name: string): string {
  const token = cfg.user_sub_token;
  return token === null || token === '' ? text : text.split(token).join(name);
}

function anonymousDecision(cfg: Config, req: LoginRequest): LoginOutcome {
  const ftpUser = cfg.ftp_username;
  const pw = ftpUser === null ? null : lookupUser(ftpUser);
  if (ftpUser === null || pw === null) return fail('internal', `ftp_username ${ftpUser ?? '(unset)'} does not exist`);
  const jail: JailSpec = {
    uid: pw.uid,
    gid: pw.gid,
    // Anonymous sessions get no supplementary groups (vsftpd).
    groups: [],
    // SECURITY: anonymous sessions are always jailed.
    root: cfg.anon_root ?? pw.dir,
    cwd: '/',
    umask: cfg.anon_umask,
    // allow_writeable_chroot is for non-anonymous users only.
    checkWritableRoot: true,
  };
  const decision: LoginDecision = {
    kind: 'anonymous',
    user: ftpUser,
    loginName: req.user,
    anonPassword: sanitizeAnonPassword(req.pass),
    jail,
  };
  return { ok: true, decision };
}

async function localDecision(cfg: Config, req: LoginRequest): Promise<LoginOutcome> {
  if (!cfg.local_enable) return fail('local_disabled', 'local_enable=NO');
  if (cfg.pam_service_name === null) return fail('internal', 'pam_service_name is not set');
  const pam = await pamAuthenticate(cfg.pam_service_name, req.user, req.pass, req.remoteAddress);
  if (!pam.ok) return fail('bad_credentials', `PAM ${pam.stage}: ${pam.message}`);
  // PAM may rewrite the name (pam_userdb mappings and the like).
  const pw = lookupUser(pam.user);
  if (pw === null) return fail('bad_credentials', `PAM user ${pam.user} has no passwd entry`);
  let groups: number[];
  try {
    groups = userid.gids(pw.name);
  } catch {
    groups = [pw.gid];
  }
  let home = cfg.local_root !== null ? subToken(cfg, cfg.local_root, pw.name) : pw.dir;
  let root: string | null = null;
  let cwd = home;
  if (shouldChrootLocal(cfg, pw.name)) {
    // passwd_chroot_enable: "/home/./ftp" jails at /home, enters /ftp.
    const split = cfg.passwd_chroot_enable && cfg.local_root === null ? home.indexOf('/./') : -1;
    if (split !== -1) {
      root = home.slice(0, split) || '/';
      cwd = home.slice(split + 2);
      home = root;
    } else {
      root = home;
      cwd = '/';
    }
  }
  const jail: JailSpec = {
    uid: pw.uid,
    gid: pw.gid,
    groups,
    root,
    cwd,
    umask: cfg.local_umask,
    checkWritableRoot: !cfg.allow_writeable_chroot,
  };
  return { ok: true, decision: { kind: 'local', user: pw.name, loginName: req.user, anonPassword: null, jail } };
}

function sleep(seconds: number): Promise<void> {
  return seconds > 0 ? new Promise((r) => setTimeout(r, seconds * 1000)) : Promise.resolve();
}

export async function decideLogin(cfg: Config, req: LoginRequest): Promise<LoginOutcome> {
  let outcome: LoginOutcome;
  if (!validUsername(req.user)) {
    outcome = fail('bad_username', 'invalid user name');
  } else if (Buffer.byteLength(req.pass) > PASSWORD_MAX) {
    outcome = fail('bad_credentials', 'password too long');
  } else if (isAnonymousLogin(cfg, req.user)) {
    outcome = anonymousDecision(cfg, req);
  } else {
    try {
      outcome = await localDecision(cfg, req);
    } catch (e: unknown) {
      outcome = fail('internal', e instanceof Error ? e.message : String(e));
    }
  }
  // SECURITY: a failed login costs the client time (delay_failed_login);
  // without blocking priv, which serves every session's logins.
  await sleep(outcome.ok ? cfg.delay_successful_login : cfg.delay_failed_login);
  return outcome;
}
