/*
 * Tests for the project's N-API addon through src/sys/native.ts.
 * Runs as root against real PAM (Debian common-auth/common-account), real
 * system users and libxcrypt. No mocks. Failing PAM calls take ~2 s each
 * (pam_faildelay), so there are few of them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  pamAuthenticate,
  setNoNewPrivs,
  getNoNewPrivs,
  dropCapabilityBoundingSet,
  crypt,
  cryptAsync,
  cryptGenSalt,
  verifyCryptHash,
  setuidRootSucceeds,
  accessErrno,
  tryLockFile,
  unlockFile,
  type PamResult,
} from '../src/sys/native';

const SERVICE = 'tsftpd-test-native';
const PAM_FILE = `/etc/pam.d/${SERVICE}`;
const RHOST = '192.0.2.10';
const PASSWORD = 'Tsn-ok-pass-4711';
// tsn_ok: normal; tsn_exp: account expired; tsn_lock: usermod -L;
// tsn_chg: password change required (chage -d 0); tsn_null: empty password.
const USERS = ['tsn_ok', 'tsn_exp', 'tsn_lock', 'tsn_chg', 'tsn_null'] as const;
const UNKNOWN_USER = 'tsn_no_such_user';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root (real PAM, useradd)';

function run(cmd: string, args: string[], input?: string): void {
  execFileSync(cmd, args, { input, stdio: ['pipe', 'ignore', 'pipe'] });
}

function userExists(name: string): boolean {
  return fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .some((l) => l.startsWith(`${name}:`));
}

function removeUsers(): void {
  for (const u of USERS) {
    if (userExists(u)) {
      try {
        run('userdel', [u]);
      } catch (err: unknown) {
        console.error(`userdel ${u} failed:`, err);
      }
    }
  }
}

function shadowHash(name: string): string {
  const line = fs
    .readFileSync('/etc/shadow', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  assert.ok(line, `${name} not in /etc/shadow`);
  const hash = line.split(':')[1];
  assert.ok(hash !== undefined);
  return hash;
}

async function timed(
  user: string,
  password: string,
): Promise<{ r: PamResult; ms: number }> {
  const t0 = performance.now();
  const r = await pamAuthenticate(SERVICE, user, password, RHOST);
  return { r, ms: Math.round(performance.now() - t0) };
}

before(() => {
  if (!isRoot) return;
  removeUsers(); // leftovers of an aborted run
  fs.writeFileSync(PAM_FILE, '@include common-auth\n@include common-account\n', { mode: 0o644 });
  for (const u of USERS) run('useradd', ['-M', '-s', '/bin/bash', u]);
  run('chpasswd', [], USERS.map((u) => `${u}:${PASSWORD}\n`).join(''));
  run('chage', ['-E', '0', 'tsn_exp']);
  run('usermod', ['-L', 'tsn_lock']);
  run('chage', ['-d', '0', 'tsn_chg']);
  run('passwd', ['-d', 'tsn_null']);
});

after(() => {
  if (!isRoot) return;
  removeUsers();
  fs.rmSync(PAM_FILE, { force: true });
});

test('PAM: right password logs in and returns the user name', { skip }, async (t) => {
  const { r, ms } = await timed('tsn_ok', PASSWORD);
  t.diagnostic(`PAM success latency ${ms} ms`);
  assert.deepEqual(r, { ok: true, user: 'tsn_ok' });
});

test('PAM: wrong password is refused at authenticate', { skip }, async (t) => {
  const { r, ms } = await timed('tsn_ok', 'wrong-password');
  t.diagnostic(`PAM wrong-password latency ${ms} ms`);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.stage, 'authenticate');
  assert.equal(typeof r.code, 'number');
  assert.notEqual(r.code, 0);
  assert.ok(r.message.length > 0);
});

test('PAM: expired account with the right password is refused at acct_mgmt', { skip }, async (t) => {
  const { r, ms } = await timed('tsn_exp', PASSWORD);
  t.diagnostic(`PAM expired latency ${ms} ms: ${JSON.stringify(r)}`);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.stage, 'acct_mgmt');
});

test('PAM: password-change-required account is refused at acct_mgmt', { skip }, async (t) => {
  const { r } = await timed('tsn_chg', PASSWORD);
  t.diagnostic(JSON.stringify(r));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.stage, 'acct_mgmt');
  assert.equal(r.code, 12); // PAM_NEW_AUTHTOK_REQD
});

test('PAM: locked account is refused', { skip }, async (t) => {
  const { r, ms } = await timed('tsn_lock', PASSWORD);
  t.diagnostic(`PAM locked latency ${ms} ms: ${JSON.stringify(r)}`);
  assert.equal(r.ok, false);
});

test('PAM: empty password in /etc/shadow is refused (PAM_DISALLOW_NULL_AUTHTOK)', { skip }, async (t) => {
  const { r, ms } = await timed('tsn_null', '');
  t.diagnostic(`PAM null-password latency ${ms} ms: ${JSON.stringify(r)}`);
  assert.equal(r.ok, false);
});

test('PAM: unknown user is refused', { skip }, async (t) => {
  assert.equal(userExists(UNKNOWN_USER), false);
  const { r, ms } = await timed(UNKNOWN_USER, PASSWORD);
  t.diagnostic(`PAM unknown-user latency ${ms} ms: ${JSON.stringify(r)}`);
  assert.equal(r.ok, false);
});

test('PAM: bad arguments throw TypeError synchronously', () => {
  const call = (s: unknown, u: unknown, p: unknown, h: unknown) => () =>
    pamAuthenticate(s as string, u as string, p as string, h as string);
  assert.throws(call(SERVICE, 'u'.repeat(129), 'x', RHOST), TypeError);
  assert.throws(call(SERVICE, 'tsn_ok', 'pass\0word', RHOST), TypeError);
  assert.throws(call(SERVICE, 'tsn\0ok', 'x', RHOST), TypeError);
  assert.throws(call(SERVICE, 'tsn_ok', 'p'.repeat(129), RHOST), TypeError);
  assert.throws(call(SERVICE, '', 'x', RHOST), TypeError);
  assert.throws(call('../etc/passwd', 'tsn_ok', 'x', RHOST), TypeError);
  assert.throws(call('', 'tsn_ok', 'x', RHOST), TypeError);
  assert.throws(call(SERVICE, 42, 'x', RHOST), TypeError);
  assert.throws(call(SERVICE, 'tsn_ok', undefined, RHOST), TypeError);
  assert.throws(call(SERVICE, 'tsn_ok', 'x', null), TypeError);
  // 128 bytes is the limit, counted in UTF-8 bytes (é is 2 bytes).
  assert.throws(call(SERVICE, 'tsn_ok', 'é'.repeat(65), RHOST), TypeError);
});

test('crypt: sha512-crypt hash from openssl passwd -6', async () => {
  const hash = execFileSync('openssl', ['passwd', '-6', '-salt', 'abc', 'secret'], {
    encoding: 'utf8',
  }).trim();
  assert.match(hash, /^\$6\$abc\$/);
  assert.equal(crypt('secret', hash), hash);
  assert.notEqual(crypt('Secret', hash), hash);
  assert.equal(await cryptAsync('secret', hash), hash);
  assert.equal(await verifyCryptHash('secret', hash), true);
  assert.equal(await verifyCryptHash('secret2', hash), false);
  assert.equal(await verifyCryptHash('', hash), false);
});

test('crypt: yescrypt hash from /etc/shadow (chpasswd)', { skip }, async (t) => {
  const hash = shadowHash('tsn_ok');
  assert.match(hash, /^\$y\$/);
  const t0 = performance.now();
  assert.equal(crypt(PASSWORD, hash), hash);
  t.diagnostic(`yescrypt verify (sync) ${Math.round(performance.now() - t0)} ms`);
  assert.equal(await verifyCryptHash(PASSWORD, hash), true);
  assert.equal(await verifyCryptHash(`${PASSWORD}x`, hash), false);
  // A locked hash ("!" prefix) never verifies, not even with the old password.
  const locked = shadowHash('tsn_lock');
  assert.match(locked, /^!/);
  assert.equal(await verifyCryptHash(PASSWORD, locked), false);
});

test('crypt: cryptGenSalt round trips (yescrypt, sha512, bcrypt)', async () => {
  const y = cryptGenSalt('$y$', 0);
  assert.ok(y !== null);
  assert.match(y, /^\$y\$/);
  const hy = crypt('pw-1', y);
  assert.ok(hy !== null && hy.startsWith(y));
  assert.equal(await verifyCryptHash('pw-1', hy), true);
  assert.equal(await verifyCryptHash('pw-2', hy), false);

  const s6 = cryptGenSalt('$6$', 0);
  assert.ok(s6 !== null);
  const h6 = await cryptAsync('pw-1', s6);
  assert.ok(h6 !== null && h6.startsWith('$6$'));
  assert.equal(await verifyCryptHash('pw-1', h6), true);

  const b = cryptGenSalt('$2b$', 5);
  assert.ok(b !== null);
  assert.match(b, /^\$2b\$05\$/);
  const hb = crypt('pw-1', b);
  assert.ok(hb !== null && hb.startsWith('$2b$05$'));
  assert.equal(await verifyCryptHash('pw-1', hb), true);
  assert.equal(await verifyCryptHash('pw-3', hb), false);

  // Two salts differ (OS randomness).
  assert.notEqual(cryptGenSalt('$y$', 0), cryptGenSalt('$y$', 0));
});

test('crypt: failures are null / false / TypeError', async () => {
  assert.equal(cryptGenSalt('$nope$', 0), null);
  assert.equal(crypt('x', '*0'), null);
  assert.equal(crypt('x', '$y$'), null);
  assert.equal(await cryptAsync('x', '!'), null);
  assert.equal(await verifyCryptHash('x', ''), false);
  assert.equal(await verifyCryptHash('x', '*'), false);
  assert.equal(await verifyCryptHash('a\0b', '$6$abc$x'), false);
  assert.equal(await verifyCryptHash('a'.repeat(600), '$6$abc$x'), false);
  assert.throws(() => crypt('a\0b', '$6$abc'), TypeError);
  assert.throws(() => crypt('x', 5 as unknown as string), TypeError);
  assert.throws(() => cryptGenSalt('$y$', -1), TypeError);
  assert.throws(() => cryptGenSalt('$y$', 1.5), TypeError);
  assert.throws(() => cryptAsync('x\0', '$6$abc'), TypeError);
});

function statusField(status: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status);
  return m?.[1];
}

test('prctl: no_new_privs and bounding-set drop, in a child process only', { skip }, () => {
  const nativeJs = path.join(__dirname, '..', 'src', 'sys', 'native.js');
  const script = `
    const n = require(${JSON.stringify(nativeJs)});
    const before = n.getNoNewPrivs();
    n.dropCapabilityBoundingSet();
    n.setNoNewPrivs();
    const status = require('fs').readFileSync('/proc/self/status', 'utf8');
    process.stdout.write(JSON.stringify({ before, after: n.getNoNewPrivs(), status }));
  `;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout) as { before: boolean; after: boolean; status: string };
  assert.equal(out.after, true);
  assert.equal(statusField(out.status, 'NoNewPrivs'), '1');
  assert.equal(statusField(out.status, 'CapBnd'), '0000000000000000');

  // The test process itself is untouched.
  const mine = fs.readFileSync('/proc/self/status', 'utf8');
  assert.equal(getNoNewPrivs(), statusField(mine, 'NoNewPrivs') === '1');
  assert.notEqual(statusField(mine, 'CapBnd'), '0000000000000000');
  assert.equal(typeof setNoNewPrivs, 'function');
  assert.equal(typeof dropCapabilityBoundingSet, 'function');
});

test('prctl: dropping the bounding set without CAP_SETPCAP throws EPERM', { skip }, () => {
  const nativeJs = path.join(__dirname, '..', 'src', 'sys', 'native.js');
  const script = `
    const n = require(${JSON.stringify(nativeJs)});
    process.setgid(65534); process.setuid(65534);
    try { n.dropCapabilityBoundingSet(); process.stdout.write('no error'); }
    catch (e) { process.stdout.write(e.code + ' ' + e.message); }
  `;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /^EPERM prctl\(PR_CAPBSET_DROP, 0\)/);
});

test('jail checks: setuid(0) and access(2) as values, root before the drop and not after', { skip }, () => {
  const nativeJs = path.join(__dirname, '..', 'src', 'sys', 'native.js');
  // In a child: the drop is for good.
  const dir = fs.mkdtempSync('/tmp/tsftpd-acc-');
  fs.chmodSync(dir, 0o755);
  const script = `
    const n = require(${JSON.stringify(nativeJs)});
    const fs = require('fs');
    const dir = ${JSON.stringify(dir)};
    const asRoot = n.setuidRootSucceeds();
    const rootWrites = n.accessErrno(dir, fs.constants.W_OK);
    process.setgroups([65534]); process.setgid(65534); process.setuid(65534);
    const out = {
      asRoot,
      rootWrites,
      afterDrop: n.setuidRootSucceeds(),
      uid: process.getuid(),
      nobodyWrites: n.accessErrno(dir, fs.constants.W_OK),
      reads: n.accessErrno(dir, fs.constants.R_OK),
      missing: n.accessErrno(dir + '/none', fs.constants.F_OK),
    };
    process.stdout.write(JSON.stringify(out));
  `;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout) as Record<string, unknown>;
  assert.deepEqual(out, {
    asRoot: true,
    rootWrites: 0,
    afterDrop: false,
    uid: 65534,
    nobodyWrites: os.constants.errno.EACCES,
    reads: 0,
    missing: os.constants.errno.ENOENT,
  });
});

test('jail checks: accessErrno refuses what is not a path', () => {
  assert.throws(() => accessErrno('', 0), TypeError);
  assert.throws(() => accessErrno('a\0b', 0), TypeError);
  assert.equal(setuidRootSucceeds(), process.getuid?.() === 0);
});

test('tryLockFile: 0 when free, EAGAIN/EACCES while another process holds a conflicting lock', () => {
  const nativeJs = path.join(__dirname, '..', 'src', 'sys', 'native.js');
  const dir = fs.mkdtempSync('/tmp/tsftpd-lock-');
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'x');
  try {
    const fd = fs.openSync(file, 'r+');
    try {
      assert.equal(tryLockFile(fd, 1), 0);
      // Another process asks without waiting: refused while we hold it.
      const script = `
        const n = require(${JSON.stringify(nativeJs)});
        const fd = require('fs').openSync(${JSON.stringify(file)}, 'r+');
        process.stdout.write(String(n.tryLockFile(fd, 0)));
      `;
      const held = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.equal(held.status, 0, held.stderr);
      assert.ok([os.constants.errno.EAGAIN, os.constants.errno.EACCES].includes(Number(held.stdout)), held.stdout);
      unlockFile(fd);
      const free = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.equal(free.stdout, '0', free.stderr);
    } finally {
      fs.closeSync(fd);
    }
    assert.throws(() => tryLockFile(-1, 0), TypeError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('chrootHere: one lookup (chdir, chroot ".", chdir /); errors name the failed call', { skip }, () => {
  const nativeJs = path.join(__dirname, '..', 'src', 'sys', 'native.js');
  const dir = fs.mkdtempSync('/tmp/tsftpd-jail-');
  fs.writeFileSync(path.join(dir, 'marker'), 'x');
  // In a child: a chroot is for good.
  const script = `
    const n = require(${JSON.stringify(nativeJs)});
    const fs = require('fs');
    const out = {};
    try { n.chrootHere(${JSON.stringify(dir + '/none')}); } catch (e) { out.missing = e.code + ' ' + e.message; }
    try { n.chrootHere('relative/dir'); } catch (e) { out.relative = e.name; }
    n.chrootHere(${JSON.stringify(dir)});
    out.marker = fs.readFileSync('/marker', 'utf8');
    out.cwd = fs.realpathSync.native('.'); // the kernel's cwd (process.cwd() is cached by Node)
    out.outside = fs.existsSync(${JSON.stringify(dir)});
    process.stdout.write(JSON.stringify(out));
  `;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), {
    missing: 'ENOENT chdir: No such file or directory',
    relative: 'TypeError',
    marker: 'x',
    cwd: '/',
    outside: false,
  });
});
