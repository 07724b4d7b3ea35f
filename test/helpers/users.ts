// Real system users with real passwords for login tests, and the PAM service file
// the daemon authenticates through. Everything created here is tracked so an
// `after` hook can remove it even when a test failed half-way.
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TestUser {
  name: string;
  password: string;
  uid: number;
  gid: number;
  home: string;
}

export const PAM_SERVICE = 'tsftpd-test';
export const PAM_FILE = `/etc/pam.d/${PAM_SERVICE}`;

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 15_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.status)}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

function randomAlnum(len: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.randomBytes(len);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

/** A fresh user name: `tsft_` + 6 random [a-z0-9]. */
export function randomUserName(): string {
  return `tsft_${randomAlnum(6)}`;
}

/** A URL-safe random password (letters and digits only). */
export function randomPassword(): string {
  return `Pw${randomAlnum(14)}`;
}

/** uid/gid of an existing user via getent (no cache involved on this host). */
export function lookupUser(name: string): { uid: number; gid: number; home: string } | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 5_000 });
  if (r.status !== 0) return null;
  const f = r.stdout.trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' };
}

/** Tracks the users one test file creates; call cleanup() from an `after` hook. */
export class UserRegistry {
  private readonly created = new Set<string>();

  /**
   * useradd -M -d HOME -s /bin/bash NAME, then set the password through chpasswd.
   * The home directory is NOT created: the test decides its owner and mode.
   */
  create(opts: { home: string; name?: string; password?: string }): TestUser {
    const name = opts.name ?? randomUserName();
    const password = opts.password ?? randomPassword();
    run('useradd', ['-M', '-d', opts.home, '-s', '/bin/bash', name]);
    this.created.add(name);
    run('chpasswd', [], `${name}:${password}\n`);
    const ent = lookupUser(name);
    if (!ent) throw new Error(`user ${name} not found after useradd`);
    return { name, password, uid: ent.uid, gid: ent.gid, home: opts.home };
  }

  /** Expire the account (chage -E 0): PAM account management then refuses it. */
  expire(name: string): void {
    run('chage', ['-E', '0', name]);
  }

  delete(name: string): void {
    if (lookupUser(name)) run('userdel', [name]);
    this.created.delete(name);
  }

  /** Delete every user this registry created; returns the errors instead of throwing. */
  cleanup(): string[] {
    const errors: string[] = [];
    for (const name of [...this.created]) {
      try {
        this.delete(name);
      } catch (e: unknown) {
        errors.push(e instanceof Error ? e.message : String(e));
      }
    }
    return errors;
  }

  names(): string[] {
    return [...this.created];
  }
}

/** Debian's standard auth + account stack for service `tsftpd-test`. */
export const PAM_STACK = '# installed by tsftpd tests\n@include common-auth\n@include common-account\n';

/** One marker file per test process using the PAM service, so concurrent test files share it safely. */
const PAM_HOLDERS = '/run/tsftpd-test-pam';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: unknown) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Write /etc/pam.d/tsftpd-test (mode 0644) and register this process as a user of it.
 * Returns the service name.
 */
export function installPamService(): string {
  fs.mkdirSync(PAM_HOLDERS, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(PAM_HOLDERS, String(process.pid)), '');
  fs.writeFileSync(PAM_FILE, PAM_STACK, { mode: 0o644 });
  fs.chmodSync(PAM_FILE, 0o644);
  return PAM_SERVICE;
}

/**
 * Unregister this process; remove the PAM file only when no other live test process
 * still uses it (another test file may be running at the same time).
 */
export function removePamService(): void {
  fs.rmSync(path.join(PAM_HOLDERS, String(process.pid)), { force: true });
  let others = 0;
  let names: string[] = [];
  try {
    names = fs.readdirSync(PAM_HOLDERS);
  } catch {
    names = [];
  }
  for (const name of names) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) others++;
    else fs.rmSync(path.join(PAM_HOLDERS, name), { force: true });
  }
  if (others === 0) fs.rmSync(PAM_FILE, { force: true });
}
