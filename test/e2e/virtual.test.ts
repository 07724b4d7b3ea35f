// Virtual users, end to end, both ways:
//  - vsftpd's: guest_enable=YES + guest_username + a PAM service using pam_userdb with a
//    Berkeley DB (built here with db_load; needs Debian's db5.3-util or db-util);
//  - tsftpd's built-in virtual_users_file, managed by `tsftpd user` (CLI round trip,
//    per-entry options, file mode checks, the no-echo prompt through a pty).
// Checked through real logins: reply codes, the session's uid and root in /proc, and
// owners and modes of uploaded files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as pty from 'node-pty';
import { runProcess, type ProcResult } from '../helpers/clients';
import { binPath, repoRoot, stopAll } from '../helpers/daemon';
import { installPamService, removePamService, UserRegistry, type TestUser } from '../helpers/users';
import {
  assertSession,
  listLines,
  loginOk,
  loginRefused,
  mkdirOwned,
  modeOf,
  retr,
  Scratch,
  sessionProcess,
  stor,
  TEST_TIMEOUT,
  transcript,
  withClient,
  withDaemon,
  writeOwned,
} from '../fixtures/users/harness';

const users = new UserRegistry();
const scratch = new Scratch();

/** The pam_userdb service this file installs (and always removes). */
const USERDB_SERVICE = 'tsftpd-test-userdb';
const USERDB_PAM_FILE = `/etc/pam.d/${USERDB_SERVICE}`;

function removeUserdbService(): void {
  fs.rmSync(USERDB_PAM_FILE, { force: true });
}

// Remove the PAM file even if the runner is interrupted.
process.once('exit', removeUserdbService);

before(() => {
  installPamService();
});

after(async () => {
  await stopAll();
  removeUserdbService();
  const errors = users.cleanup();
  removePamService();
  scratch.cleanup();
  if (errors.length > 0) console.log(`user cleanup errors: ${errors.join('; ')}`);
});

// ---------------------------------------------------------------------------
// fixtures

function rand(n: number): string {
  return crypto.randomBytes(n).toString('hex').slice(0, n);
}

/** A virtual login name (no system account of that name exists). */
function virtualName(prefix: string): string {
  return `${prefix}_${rand(6)}`;
}

function virtualPassword(): string {
  return `Vp${rand(14)}`;
}

/** The system account virtual users run as: home root-owned 0755 (never used as a jail here). */
function makeGuestAccount(): TestUser {
  return users.create({ home: scratch.dir('tsftpd-vg-') });
}

/**
 * base/<name> for each virtual user: root-owned 0755 (a valid jail), <name>.txt (0644),
 * owner-only.txt (0600, owned by the guest account) and incoming/ (owned by the guest).
 */
function makeVirtualHomes(base: string, names: string[], guest: TestUser): void {
  for (const name of names) {
    const home = mkdirOwned(path.join(base, name), 0, 0, 0o755);
    writeOwned(path.join(home, `${name}.txt`), `${name}\n`, 0, 0, 0o644);
    writeOwned(path.join(home, 'owner-only.txt'), 'guest only\n', guest.uid, guest.gid, 0o600);
    mkdirOwned(path.join(home, 'incoming'), guest.uid, guest.gid, 0o755);
  }
}

function dbLoadCommand(): string {
  for (const c of ['/usr/bin/db_load', '/usr/bin/db5.3_load']) if (fs.existsSync(c)) return c;
  throw new Error('db_load not found: apt-get install db5.3-util (or db-util)');
}

/**
 * A Berkeley DB of user → password for pam_userdb (vsftpd's EXAMPLE/VIRTUAL_USERS) and
 * /etc/pam.d/tsftpd-test-userdb using it for auth and account. Returns the service name.
 */
function installUserdb(logins: Record<string, string>): string {
  const dir = scratch.dir('tsftpd-vd-');
  fs.chmodSync(dir, 0o700);
  const txt = path.join(dir, 'logins.txt');
  fs.writeFileSync(txt, Object.entries(logins).map(([u, p]) => `${u}\n${p}\n`).join(''), { mode: 0o600 });
  const db = path.join(dir, 'logins');
  const r = spawnSync(dbLoadCommand(), ['-T', '-t', 'hash', '-f', txt, `${db}.db`], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.status, 0, `db_load: ${r.stderr}`);
  fs.rmSync(txt);
  fs.chmodSync(`${db}.db`, 0o600);
  fs.writeFileSync(
    USERDB_PAM_FILE,
    `# installed by tsftpd tests (virtual.test.ts)\nauth required pam_userdb.so db=${db}\naccount required pam_userdb.so db=${db}\n`,
    { mode: 0o644 },
  );
  return USERDB_SERVICE;
}

/** `tsftpd user -f FILE ARGS...` with `input` on a pipe (not a TTY). */
function userCli(file: string, args: string[], input = ''): Promise<ProcResult> {
  return runProcess(process.execPath, [binPath(), 'user', '-f', file, ...args], { input, timeoutMs: 15_000, cwd: repoRoot() });
}

async function cliOk(file: string, args: string[], input = ''): Promise<ProcResult> {
  const r = await userCli(file, args, input);
  assert.equal(r.code, 0, `tsftpd user ${args.join(' ')}: exit ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function fileNames(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(':')[0] ?? '');
}

// ---------------------------------------------------------------------------

describe('vsftpd virtual users: guest_enable + pam_userdb', () => {
  test('virtual_use_local_privs=NO: guest uid, jail base/$USER, anonymous rights (STOR needs anon_upload_enable)', TEST_TIMEOUT, async () => {
    const guest = makeGuestAccount();
    const local = users.create({ home: scratch.dir('tsftpd-vl-') });
    const va = virtualName('va');
    const vb = virtualName('vb');
    const pa = virtualPassword();
    const pb = virtualPassword();
    const service = installUserdb({ [va]: pa, [vb]: pb });
    const base = scratch.dir('tsftpd-vb-');
    makeVirtualHomes(base, [va, vb], guest);
    const confDir = scratch.dir('tsftpd-vc-');
    writeOwned(path.join(confDir, vb), 'anon_upload_enable=YES\n', 0, 0, 0o644);
    const options = {
      pam_service_name: service,
      guest_enable: true,
      guest_username: guest.name,
      local_root: `${base}/$USER`,
      user_sub_token: '$USER',
      write_enable: true,
      // Anonymous rights mean a jail even without chroot_local_user.
      chroot_local_user: false,
      user_config_dir: confDir,
    };
    try {
      await withDaemon(options, async (d) => {
        await withClient(d, async (ftp) => {
          await loginRefused(ftp, va, 'wrong-password');
          // A system account is unknown to this PAM service.
          await loginRefused(ftp, local.name, local.password);
          await loginOk(ftp, va, pa);
          const p = await sessionProcess(d, ftp, guest.uid);
          assertSession(p, guest.uid, guest.gid, path.join(base, va));
          assert.deepEqual(p.groups, [], 'anonymous rights: no supplementary groups');
          assert.match(p.cmdline, new RegExp(`/${va}: `), `the title names the virtual user: ${p.cmdline}`);
          assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
          const lines = await listLines(ftp);
          assert.ok(lines.some((l) => l.endsWith(` ${va}.txt`)), lines.join('\n'));
          const up = await stor(ftp, 'incoming/no.txt', 'no\n');
          assert.equal(up.first.text, '550 Permission denied.', transcript(ftp));
          const hidden = await retr(ftp, 'owner-only.txt');
          assert.equal(hidden.first.text, '550 Failed to open file.', `anon_world_readable_only applies\n${transcript(ftp)}`);
          const pub = await retr(ftp, `${va}.txt`);
          assert.equal(pub.final?.text, '226 Transfer complete.', transcript(ftp));
          assert.equal(pub.data.toString(), `${va}\n`);
        });
        assert.equal(fs.existsSync(path.join(base, va, 'incoming', 'no.txt')), false);
        await withClient(d, async (ftp) => {
          await loginOk(ftp, vb, pb);
          assertSession(await sessionProcess(d, ftp, guest.uid), guest.uid, guest.gid, path.join(base, vb));
          const up = await stor(ftp, 'incoming/yes.txt', 'uploaded by a virtual user\n');
          assert.equal(up.final?.text, '226 Transfer complete.', transcript(ftp));
        });
        const f = path.join(base, vb, 'incoming', 'yes.txt');
        assert.equal(fs.readFileSync(f, 'utf8'), 'uploaded by a virtual user\n');
        assert.equal(fs.statSync(f).uid, guest.uid, 'owned by guest_username');
        assert.equal(modeOf(f), '0600', '0666 & ~anon_umask (077)');
      });
    } finally {
      removeUserdbService();
    }
  });

  test('virtual_use_local_privs=YES: local rights (write_enable, local_umask, no world-readable rule); jailed only by chroot_local_user', TEST_TIMEOUT, async () => {
    const guest = makeGuestAccount();
    const va = virtualName('va');
    const pa = virtualPassword();
    const service = installUserdb({ [va]: pa });
    const base = scratch.dir('tsftpd-vb-');
    makeVirtualHomes(base, [va], guest);
    const options = {
      pam_service_name: service,
      guest_enable: true,
      guest_username: guest.name,
      local_root: `${base}/$USER`,
      user_sub_token: '$USER',
      virtual_use_local_privs: true,
      write_enable: true,
      anon_upload_enable: false,
      local_umask: '022',
    };
    try {
      await withDaemon({ ...options, chroot_local_user: true }, async (d) => {
        await withClient(d, async (ftp) => {
          await loginOk(ftp, va, pa);
          assertSession(await sessionProcess(d, ftp, guest.uid), guest.uid, guest.gid, path.join(base, va));
          const up = await stor(ftp, 'incoming/local.txt', 'local rights\n');
          assert.equal(up.final?.text, '226 Transfer complete.', transcript(ftp));
          const r = await retr(ftp, 'owner-only.txt');
          assert.equal(r.final?.text, '226 Transfer complete.', transcript(ftp));
          assert.equal(r.data.toString(), 'guest only\n');
        });
        const f = path.join(base, va, 'incoming', 'local.txt');
        assert.equal(fs.statSync(f).uid, guest.uid);
        assert.equal(modeOf(f), '0644', '0666 & ~local_umask (022)');
      });
      await withDaemon({ ...options, chroot_local_user: false }, async (d) => {
        await withClient(d, async (ftp) => {
          await loginOk(ftp, va, pa);
          const p = await sessionProcess(d, ftp, guest.uid);
          assertSession(p, guest.uid, guest.gid, '/');
          assert.equal(p.cwd, path.join(base, va));
          assert.equal((await ftp.command('PWD')).text, `257 "${path.join(base, va)}" is the current directory`);
        });
      });
    } finally {
      removeUserdbService();
    }
  });
});

describe('built-in virtual users: virtual_users_file and `tsftpd user`', () => {
  function setup(names: string[]): { guest: TestUser; base: string; file: string; options: Record<string, string | boolean> } {
    const guest = makeGuestAccount();
    const base = scratch.dir('tsftpd-vb-');
    makeVirtualHomes(base, names, guest);
    const dir = scratch.dir('tsftpd-vf-');
    const file = path.join(dir, 'users');
    const options = {
      virtual_users_file: file,
      guest_username: guest.name,
      local_root: `${base}/$USER`,
      user_sub_token: '$USER',
    };
    return { guest, base, file, options };
  }

  test('round trip: add (root 0600 file), login, passwd (old refused, new works), del (refused), list', TEST_TIMEOUT, async () => {
    const alice = virtualName('alice');
    const { guest, base, file, options } = setup([alice]);
    const pw1 = virtualPassword();
    const pw2 = virtualPassword();
    const added = await cliOk(file, ['add', alice], `${pw1}\n`);
    assert.match(added.stderr, new RegExp(`user ${alice} added`));
    const st = fs.statSync(file);
    assert.equal(st.uid, 0);
    assert.equal(st.gid, 0);
    assert.equal(modeOf(file), '0600');
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^${alice}:\\$y\\$[^:\\n]+\\n$`), 'one line name:yescrypt-hash');
    assert.ok(!text.includes(pw1), 'the password is not stored in clear');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['users'], 'no lock or temp file left');
    assert.equal((await cliOk(file, ['list'])).stdout, `${alice}\n`, 'list shows names (and options), never hashes');
    const again = await userCli(file, ['add', alice], `${pw2}\n`);
    assert.equal(again.code, 2, 'adding an existing user fails');
    assert.match(again.stderr, /exists/);

    await withDaemon(options, async (d) => {
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, alice, pw2);
        await loginOk(ftp, alice, pw1);
        const p = await sessionProcess(d, ftp, guest.uid);
        assertSession(p, guest.uid, guest.gid, path.join(base, alice));
        assert.deepEqual(p.groups, []);
      });
      const changed = await cliOk(file, ['passwd', alice], `${pw2}\n`);
      assert.match(changed.stderr, /password of .* changed/);
      assert.equal(modeOf(file), '0600');
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, alice, pw1);
        await loginOk(ftp, alice, pw2);
      });
      await cliOk(file, ['del', alice]);
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, alice, pw2);
      });
    });
    assert.equal((await cliOk(file, ['list'])).stdout, '');
    assert.equal(modeOf(file), '0600');
    const gone = await userCli(file, ['del', alice]);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /no user/);
  });

  test('per-entry options: local_root and write_enable take effect; guest_username maps to another account', TEST_TIMEOUT, async () => {
    const bob = virtualName('bob');
    const carol = virtualName('carol');
    const { guest, base, file, options } = setup([carol]);
    const other = makeGuestAccount();
    const bobRoot = scratch.dir('tsftpd-vr-');
    makeVirtualHomes(bobRoot, ['x'], guest);
    const bobHome = path.join(bobRoot, 'x');
    const pb = virtualPassword();
    const pc = virtualPassword();
    await cliOk(file, ['add', bob, `local_root=${bobHome}`, 'write_enable=YES'], `${pb}\n`);
    await cliOk(file, ['add', carol, `guest_username=${other.name}`], `${pc}\n`);
    assert.equal((await cliOk(file, ['list'])).stdout, `${bob} local_root=${bobHome} write_enable=YES\n${carol} guest_username=${other.name}\n`);
    // Anonymous rights (virtual_use_local_privs=NO): uploads need write_enable AND anon_upload_enable.
    await withDaemon({ ...options, write_enable: false, anon_upload_enable: true }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, bob, pb);
        assertSession(await sessionProcess(d, ftp, guest.uid), guest.uid, guest.gid, bobHome);
        const up = await stor(ftp, 'incoming/bob.txt', 'bob was here\n');
        assert.equal(up.final?.text, '226 Transfer complete.', transcript(ftp));
      });
      const f = path.join(bobHome, 'incoming', 'bob.txt');
      assert.equal(fs.readFileSync(f, 'utf8'), 'bob was here\n');
      assert.equal(fs.statSync(f).uid, guest.uid);
      await withClient(d, async (ftp) => {
        await loginOk(ftp, carol, pc);
        assertSession(await sessionProcess(d, ftp, other.uid), other.uid, other.gid, path.join(base, carol));
        const up = await stor(ftp, 'incoming/carol.txt', 'no\n');
        assert.equal(up.first.text, '550 Permission denied.', `write_enable=NO for carol\n${transcript(ftp)}`);
      });
    });
  });

  test('a password can never be given on the command line', TEST_TIMEOUT, async () => {
    const { file } = setup([]);
    const dave = virtualName('dave');
    for (const args of [
      ['add', dave, 'secret'],
      ['add', dave, '--password', 'secret'],
      ['add', dave, '-p', 'secret'],
    ]) {
      const r = await userCli(file, args, 'fromstdin\n');
      assert.equal(r.code, 2, `tsftpd user ${args.join(' ')} must fail: ${r.stderr}`);
      assert.match(r.stderr, /invalid option/, r.stderr);
      assert.equal(fs.existsSync(file) && fileNames(file).includes(dave), false, `${args.join(' ')} added a user`);
    }
    await cliOk(file, ['add', dave], 'fromstdin\n');
    const p = await userCli(file, ['passwd', dave, 'newsecret'], 'other\n');
    assert.equal(p.code, 2, p.stderr);
    assert.match(p.stderr, /invalid option/);
    const empty = await userCli(file, ['add', virtualName('erin')], '\n');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /empty password refused/);
    assert.deepEqual(fileNames(file), [dave]);
  });

  test(
    'an option that is not a vsftpd option (password=secret) is refused by `tsftpd user add`, not stored',
    TEST_TIMEOUT,
    async () => {
      const ivan = virtualName('ivan');
      const { file, options } = setup([ivan]);
      const pi = virtualPassword();
      const r = await userCli(file, ['add', ivan, 'password=secret', 'write_enabel=YES'], `${pi}\n`);
      const stored = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (r.code === 0) {
        // Show what the bug does: the entry exists and cannot log in.
        await withDaemon(options, async (d) => {
          await withClient(d, async (ftp) => {
            await loginRefused(ftp, ivan, pi);
          });
          console.log(`  stored line: ${stored.trim().replace(/\$y\$[^:]*/, '<hash>')}; daemon log: ${/"detail":"[^"]*/.exec(d.stderr())?.[0] ?? ''}`);
        });
      }
      assert.equal(r.code, 2, `exit ${String(r.code)}: ${r.stderr}`);
      assert.match(r.stderr, /password|write_enabel/);
      assert.ok(!stored.includes('secret'), `the users file holds the command-line secret: ${stored}`);
    },
  );

  test('the users file must be root-only: mode 0644 (or another owner) makes logins fail closed (530), the log says why', TEST_TIMEOUT, async () => {
    const frank = virtualName('frank');
    const { guest, file, options } = setup([frank]);
    const pf = virtualPassword();
    await cliOk(file, ['add', frank], `${pf}\n`);
    await withDaemon(options, async (d) => {
      fs.chmodSync(file, 0o644);
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, frank, pf);
      });
      assert.match(d.stderr(), /must be a regular file owned by root with mode 0600 or stricter/, 'stderr names the mode rule');
      fs.chmodSync(file, 0o600);
      fs.chownSync(file, guest.uid, guest.gid);
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, frank, pf);
      });
      fs.chownSync(file, 0, 0);
      await withClient(d, async (ftp) => {
        await loginOk(ftp, frank, pf);
      });
    });
  });

  test('interactive prompt through a pty: no echo, confirmation, mismatch refused', TEST_TIMEOUT, async () => {
    const gina = virtualName('gina');
    const { file, options } = setup([gina]);
    const pg = virtualPassword();
    // Typed as a person would: a moment after the prompt shows.
    const ok = await typePassword(file, gina, pg, pg, 300);
    assert.equal(ok.exitCode, 0, ok.transcript);
    assert.match(ok.transcript, new RegExp(`Password for ${gina}: `));
    assert.match(ok.transcript, /Retype password: /);
    assert.ok(!ok.transcript.includes(pg), `the typed password was echoed:\n${ok.transcript}`);
    assert.ok(!ok.transcript.includes(pg.slice(0, 4)), `part of the password was echoed:\n${ok.transcript}`);
    const other = virtualName('hugo');
    const bad = await typePassword(file, other, pg, `${pg}x`, 300);
    assert.equal(bad.exitCode, 2, bad.transcript);
    assert.match(bad.transcript, /passwords do not match/);
    assert.deepEqual(fileNames(file), [gina]);
    await withDaemon(options, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, gina, pg);
      });
    });
  });
});

/**
 * Run `tsftpd user -f FILE add NAME` in a pty and answer both prompts, `delayMs` after
 * each shows; bounded (15 s per step).
 */
test(
  'the prompt shows only once echo is off: a password typed the moment the prompt appears is not echoed',
  TEST_TIMEOUT,
  async () => {
    const file = path.join(scratch.dir('tsftpd-vf-'), 'users');
    const echoed: string[] = [];
    for (let i = 0; i < 5; i++) {
      const name = virtualName(`race${i}`);
      const pw = virtualPassword();
      const r = await typePassword(file, name, pw, pw, 0);
      assert.equal(r.exitCode, 0, r.transcript);
      if (r.transcript.includes(pw)) echoed.push(r.transcript);
    }
    assert.deepEqual(echoed, [], `the password was echoed:\n${echoed.join('\n---\n')}`);
  },
);

async function typePassword(
  file: string,
  name: string,
  first: string,
  second: string,
  delayMs: number,
): Promise<{ transcript: string; exitCode: number | null }> {
  const term = pty.spawn(process.execPath, [binPath(), 'user', '-f', file, 'add', name], {
    name: 'xterm',
    cols: 120,
    rows: 30,
    cwd: repoRoot(),
    env: { ...process.env, TERM: 'xterm', LANG: 'C', LC_ALL: 'C' },
  });
  let screen = '';
  let exitCode: number | null = null;
  let exited = false;
  const exitedP = new Promise<void>((resolve) => {
    term.onExit((e) => {
      exited = true;
      exitCode = e.exitCode;
      resolve();
    });
  });
  term.onData((d: string) => {
    screen += d.replace(/\r/g, '');
  });
  const waitFor = async (what: string, from: number): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!screen.slice(from).includes(what)) {
      if (exited) throw new Error(`exited before ${JSON.stringify(what)}:\n${screen}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(what)}:\n${screen}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await waitFor(`Password for ${name}: `, 0);
    const mark = screen.length;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    term.write(`${first}\r`);
    await waitFor('Retype password: ', mark);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    term.write(`${second}\r`);
    await Promise.race([exitedP, new Promise((r) => setTimeout(r, 15_000))]);
    if (!exited) throw new Error(`did not exit:\n${screen}`);
    // Let the last output arrive.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    if (!exited) term.kill('SIGKILL');
  }
  return { transcript: screen, exitCode };
}
