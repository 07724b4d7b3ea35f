/*
 * The login decision (vsftpd's privops.c handle_login and the chroot/home
 * computation of twoprocess.c). Runs as root in priv. Its only input from
 * the client side is a user name and a password; the client's address comes
 * from master.
 *
 * Kinds of login, in the order they are tried:
 *   anonymous  "ftp"/"anonymous" with anonymous_enable
 *   virtual    a name in virtual_users_file (tsftpd's built-in store)
 *   guest      any PAM login when guest_enable (vsftpd's virtual users)
 *   local      any PAM login otherwise
 */

import * as posix from 'posix';
import * as userid from 'userid';
import type { Config } from '../config/options';
import { parseConfigText, readConfigFile, formatConfigError } from '../config/parse';
import type { JailSpec, LoginDecision, LoginFailure, LoginOutcome } from '../ipc/messages';
import { pamAuthenticate, verifyCryptHash } from '../sys/native';
import { FileUserStore } from './userstore';
import { fileListsLine } from './lists';

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

/**
 * userlist_enable: listed names are refused (userlist_deny=YES) or are the
 * only ones allowed (userlist_deny=NO). Decided at USER, before a password
 * is sent, and again at login.
 */
export function userlistAllows(cfg: Config, name: string): boolean {
  if (!cfg.userlist_enable) return true;
  const listed = cfg.userlist_file !== null && fileListsLine(cfg.userlist_file, name);
  return cfg.userlist_deny ? !listed : listed;
}

/**
 * vsftpd's chroot rule for local users: chroot_local_user, inverted for the
 * users listed in chroot_list_file when chroot_list_enable is on.
 */
export function shouldChrootLocal(cfg: Config, name: string): boolean {
  if (!cfg.chroot_list_enable) return cfg.chroot_local_user;
  const listed = cfg.chroot_list_file !== null && fileListsLine(cfg.chroot_list_file, name);
  return cfg.chroot_local_user ? !listed : listed;
}

function fail(reason: LoginFailure, detail: string): LoginOutcome {
  return { ok: false, reason, detail };
}

function lookupUser(name: string): posix.Passwd | null {
  try {
    return posix.getpwnam(name);
  } catch {
    return null;
  }
}

function subToken(cfg: Config, text: string, name: string): string {
  const token = cfg.user_sub_token;
  return token === null || token === '' ? text : text.split(token).join(name);
}

function supplementaryGroups(pw: posix.Passwd): number[] {
  try {
    return userid.gids(pw.name);
  } catch {
    return [pw.gid];
  }
}

type ConfigResult = { ok: true; config: Config } | { ok: false; detail: string };

/** Apply "option=value" lines on top of `base` with the strict parser. */
function applyOptions(base: Config, lines: readonly string[], source: string): ConfigResult {
  if (lines.length === 0) return { ok: true, config: base };
  const r = parseConfigText(lines.join('\n') + '\n', source, base);
  return r.ok ? { ok: true, config: r.config } : { ok: false, detail: formatConfigError(r.error) };
}

/*
 * user_config_dir/<login name>: per-user options, parsed strictly; a missing
 * file is fine. SECURITY: a name with '/' (or "." / "..") never names a file
 * (vsftpd ignores such names too).
 */
function applyUserConfigDir(base: Config, name: string): ConfigResult {
  const dir = base.user_config_dir;
  if (dir === null || name.includes('/') || name === '.' || name === '..') return { ok: true, config: base };
  const file = `${dir}/${name}`;
  const read = readConfigFile(file, 0);
  if (!read.ok) return read.notFound ? { ok: true, config: base } : { ok: false, detail: formatConfigError(read.error) };
  const r = parseConfigText(read.text, file, base);
  return r.ok ? { ok: true, config: r.config } : { ok: false, detail: formatConfigError(r.error) };
}

/* ---------------- anonymous ---------------- */

function anonymousDecision(cfg: Config, req: LoginRequest): LoginOutcome {
  // SECURITY: deny_email_enable / secure_email_list_enable judge the
  // "password" anonymous users give (by convention an e-mail address).
  if (cfg.deny_email_enable && cfg.banned_email_file !== null && fileListsLine(cfg.banned_email_file, req.pass)) {
    return fail('bad_credentials', 'anonymous password is in banned_email_file');
  }
  if (cfg.secure_email_list_enable) {
    const listed = cfg.email_password_file !== null && req.pass !== '' && fileListsLine(cfg.email_password_file, req.pass);
    if (!listed) return fail('bad_credentials', 'anonymous password is not in email_password_file');
  }
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
    anonRights: true,
    jail,
    config: cfg,
  };
  return { ok: true, decision };
}

/* ---------------- local (PAM, not guest) ---------------- */

function localDecision(base: Config, loginName: string, pw: posix.Passwd): LoginOutcome {
  const per = applyUserConfigDir(base, loginName);
  if (!per.ok) return fail('internal', per.detail);
  const cfg = per.config;
  let root: string | null = null;
  const home = cfg.local_root !== null ? subToken(cfg, cfg.local_root, pw.name) : pw.dir;
  let cwd = home;
  if (shouldChrootLocal(cfg, pw.name)) {
    // passwd_chroot_enable: home "/home/./ftp" jails at /home, enters /ftp.
    const split = cfg.passwd_chroot_enable && cfg.local_root === null ? home.indexOf('/./') : -1;
    if (split !== -1) {
      root = home.slice(0, split) || '/';
      cwd = home.slice(split + 2);
    } else {
      root = home;
      cwd = '/';
    }
  }
  const jail: JailSpec = {
    uid: pw.uid,
    gid: pw.gid,
    groups: supplementaryGroups(pw),
    root,
    cwd,
    umask: cfg.local_umask,
    checkWritableRoot: !cfg.allow_writeable_chroot,
  };
  return {
    ok: true,
    decision: { kind: 'local', user: pw.name, loginName, anonPassword: null, anonRights: false, jail, config: cfg },
  };
}

/* ---------------- guest / virtual ---------------- */

/*
 * A virtual user runs as a system account (guest_username, which per-user
 * options may change) in a jail computed from local_root or that account's
 * home, with user_sub_token replaced by the login name. Without
 * virtual_use_local_privs it has anonymous rights and is always jailed.
 */
function guestDecision(cfg: Config, loginName: string): LoginOutcome {
  const account = cfg.guest_username;
  const pw = account === null ? null : lookupUser(account);
  if (account === null || pw === null) return fail('internal', `guest_username ${account ?? '(unset)'} does not exist`);
  const anonRights = !cfg.virtual_use_local_privs;
  const home = subToken(cfg, cfg.local_root ?? pw.dir, loginName);
  const jailed = anonRights || shouldChrootLocal(cfg, loginName);
  const jail: JailSpec = {
    uid: pw.uid,
    gid: pw.gid,
    groups: anonRights ? [] : supplementaryGroups(pw),
    root: jailed ? home : null,
    cwd: jailed ? '/' : home,
    umask: anonRights ? cfg.anon_umask : cfg.local_umask,
    checkWritableRoot: anonRights || !cfg.allow_writeable_chroot,
  };
  return {
    ok: true,
    decision: { kind: 'guest', user: loginName, loginName, anonPassword: null, anonRights, jail, config: cfg },
  };
}

async function virtualLogin(cfg: Config, req: LoginRequest): Promise<LoginOutcome | null> {
  if (cfg.virtual_users_file === null) return null;
  const found = await new FileUserStore(cfg.virtual_users_file).lookup(req.user);
  if (found.kind === 'unknown') return null;
  if (found.kind === 'error') return fail('internal', found.message);
  if (!(await verifyCryptHash(req.pass, found.user.hash))) return fail('bad_credentials', 'virtual user: wrong password');
  const entry = applyOptions(cfg, found.user.options, `${cfg.virtual_users_file} (${req.user})`);
  if (!entry.ok) return fail('internal', entry.detail);
  const per = applyUserConfigDir(entry.config, req.user);
  if (!per.ok) return fail('internal', per.detail);
  return guestDecision(per.config, req.user);
}

async function pamLogin(cfg: Config, req: LoginRequest): Promise<LoginOutcome> {
  if (!cfg.local_enable) return fail('local_disabled', 'local_enable=NO');
  if (cfg.pam_service_name === null) return fail('internal', 'pam_service_name is not set');
  const pam = await pamAuthenticate(cfg.pam_service_name, req.user, req.pass, req.remoteAddress);
  if (!pam.ok) return fail('bad_credentials', `PAM ${pam.stage}: ${pam.message}`);
  if (cfg.guest_enable) {
    // vsftpd: with guest_enable every non-anonymous login becomes the guest.
    const per = applyUserConfigDir(cfg, req.user);
    if (!per.ok) return fail('internal', per.detail);
    return guestDecision(per.config, req.user);
  }
  // PAM may rewrite the name (pam_userdb mappings and the like).
  const pw = lookupUser(pam.user);
  if (pw === null) return fail('bad_credentials', `PAM user ${pam.user} has no passwd entry`);
  return localDecision(cfg, req.user, pw);
}

function sleep(seconds: number): Promise<void> {
  return seconds > 0 ? new Promise((r) => setTimeout(r, seconds * 1000)) : Promise.resolve();
}

async function decide(cfg: Config, req: LoginRequest): Promise<LoginOutcome> {
  if (!validUsername(req.user)) return fail('bad_username', 'invalid user name');
  if (Buffer.byteLength(req.pass) > PASSWORD_MAX) return fail('bad_credentials', 'password too long');
  // SECURITY: the USER-time userlist answer came from a worker's dialogue;
  // priv checks again rather than trust that it was asked.
  if (!userlistAllows(cfg, req.user)) return fail('bad_credentials', 'refused by userlist');
  if (isAnonymousLogin(cfg, req.user)) return anonymousDecision(cfg, req);
  return (await virtualLogin(cfg, req)) ?? (await pamLogin(cfg, req));
}

export async function decideLogin(cfg: Config, req: LoginRequest): Promise<LoginOutcome> {
  let outcome: LoginOutcome;
  try {
    outcome = await decide(cfg, req);
  } catch (e: unknown) {
    outcome = fail('internal', e instanceof Error ? e.message : String(e));
  }
  // SECURITY: a failed login costs the client time (delay_failed_login),
  // without blocking priv, which serves every session's logins.
  await sleep(outcome.ok ? cfg.delay_successful_login : cfg.delay_failed_login);
  return outcome;
}

/** USER-time check (userlist), with vsftpd's delay on a refusal. */
export async function checkUser(cfg: Config, name: string): Promise<boolean> {
  const allowed = userlistAllows(cfg, name);
  if (!allowed) await sleep(cfg.delay_failed_login);
  return allowed;
}
