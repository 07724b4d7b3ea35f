// Users, access rules and jails, end to end: the real daemon as root, real logins
// (anonymous and PAM local users), checking the reply codes AND the effect: the
// session process's uid and root in /proc, owners and modes of files on disk.
// Virtual users (guest_enable + pam_userdb, and the built-in virtual_users_file)
// are in virtual.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll, type Daemon } from '../helpers/daemon';
import { installPamService, removePamService, UserRegistry, type TestUser } from '../helpers/users';
import {
  assertSession,
  dataCommand,
  escapeRe,
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

before(() => {
  installPamService();
});

after(async () => {
  await stopAll();
  const errors = users.cleanup();
  removePamService();
  scratch.cleanup();
  if (errors.length > 0) console.log(`user cleanup errors: ${errors.join('; ')}`);
});

// ---------------------------------------------------------------------------
// fixtures

const HELLO = 'hello from the users tests\n';

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || String(r.error)}`);
}

/**
 * A local user whose home is root-owned 0755 (a valid jail) holding hello.txt (0644,
 * root) and upload/ (owned by the user). writableRoot: the home is owned by the user.
 */
function makeLocalUser(opts: { writableRoot?: boolean; home?: string } = {}): TestUser {
  const home = opts.home ?? scratch.dir('tsftpd-uh-');
  const user = users.create({ home });
  const real = home.replace('/./', '/');
  fs.mkdirSync(real, { recursive: true });
  fs.writeFileSync(path.join(real, 'hello.txt'), HELLO, { mode: 0o644 });
  mkdirOwned(path.join(real, 'upload'), user.uid, user.gid, 0o755);
  if (opts.writableRoot) fs.chownSync(real, user.uid, user.gid);
  return user;
}

/** The anonymous account: a system user whose home (root-owned 0755) holds pub.txt (0644). */
function makeAnonUser(): TestUser {
  const root = scratch.dir('tsftpd-ua-');
  const user = users.create({ home: root });
  fs.writeFileSync(path.join(root, 'pub.txt'), 'public file\n', { mode: 0o644 });
  return user;
}

/** A root-owned 0644 list file (userlist_file, chroot_list_file, ...) with these lines. */
function listFile(lines: string[]): string {
  const dir = scratch.dir('tsftpd-ul-');
  const f = path.join(dir, 'list');
  writeOwned(f, lines.map((l) => `${l}\n`).join(''), 0, 0, 0o644);
  return f;
}

const ANON = { anonymous_enable: true, local_enable: false } as const;

// ---------------------------------------------------------------------------

describe('anonymous users', () => {
  test('anonymous_enable=NO: "anonymous" and "ftp" are ordinary names that PAM refuses', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    await withDaemon({ anonymous_enable: false, local_enable: true, ftp_username: anon.name }, async (d) => {
      for (const name of ['anonymous', 'ftp']) {
        await withClient(d, async (ftp) => {
          await loginRefused(ftp, name, 'someone@example.com');
        });
      }
      assert.doesNotMatch(d.stderr(), /"kind":"anonymous"/, 'no anonymous login happened');
      const refusal = d.stderr().split('\n').find((l) => l.includes('"event":"login_failed"') && l.includes('"user":"anonymous"'));
      assert.match(refusal ?? '', /"reason":"bad_credentials".*"detail":"PAM/, 'refused by PAM, as a local name');
    });
  });

  test('ftp_username decides the uid, anon_root the jail (/proc of the session)', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    const anonRoot = scratch.dir('tsftpd-ur-');
    fs.writeFileSync(path.join(anonRoot, 'only-in-anon-root.txt'), 'x\n', { mode: 0o644 });
    await withDaemon({ ...ANON, ftp_username: anon.name, anon_root: anonRoot }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, 'anonymous', 'someone@example.com');
        const p = await sessionProcess(d, ftp, anon.uid);
        assertSession(p, anon.uid, anon.gid, anonRoot);
        assert.deepEqual(p.groups, [], 'anonymous sessions have no supplementary groups');
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
        const names = (await dataCommand(ftp, 'NLST')).data.toString().split('\r\n').filter((l) => l !== '');
        assert.deepEqual(names, ['only-in-anon-root.txt'], 'the anon_root is served, not the home of ftp_username');
      });
    });
  });

  test('a writable anonymous root is refused even with allow_writeable_chroot=YES (500 OOPS)', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    fs.chownSync(anon.home, anon.uid, anon.gid);
    await withDaemon({ ...ANON, ftp_username: anon.name, allow_writeable_chroot: true }, async (d) => {
      await withClient(d, async (ftp) => {
        assert.equal((await ftp.command('USER anonymous')).code, 331);
        const r = await ftp.command('PASS a@example.com', 15_000);
        assert.match(r.text, /^500 OOPS: .*refusing to run with writable root inside chroot\(\)/, transcript(ftp));
        assert.equal(await ftp.waitClose(5_000), true, 'the session ends');
      });
    });
  });

  test('no_anon_password=YES: USER anonymous logs in at once (230, no 331)', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    await withDaemon({ ...ANON, ftp_username: anon.name, no_anon_password: true }, async (d) => {
      for (const name of ['anonymous', 'FTP']) {
        await withClient(d, async (ftp) => {
          const r = await ftp.command(`USER ${name}`, 10_000);
          assert.equal(r.text, '230 Login successful.', transcript(ftp));
          await sessionProcess(d, ftp, anon.uid);
          assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
        });
      }
    });
  });

  test('deny_email_enable + banned_email_file: a listed password is refused, others accepted', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    const banned = listFile(['bad@example.com', 'worse@example.com']);
    await withDaemon({ ...ANON, ftp_username: anon.name, deny_email_enable: true, banned_email_file: banned }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, 'anonymous', 'bad@example.com');
        await loginRefused(ftp, 'ftp', 'worse@example.com');
        // The match is on the whole line: a longer address is not banned.
        await loginOk(ftp, 'anonymous', 'bad@example.com.au');
      });
      await withClient(d, async (ftp) => {
        await loginOk(ftp, 'anonymous', 'good@example.com');
      });
      assert.match(d.stderr(), /banned_email_file/, 'the log says why');
    });
  });

  test('secure_email_list_enable + email_password_file: only listed passwords are accepted', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    const list = listFile(['letmein@example.com']);
    await withDaemon(
      { ...ANON, ftp_username: anon.name, secure_email_list_enable: true, email_password_file: list },
      async (d) => {
        await withClient(d, async (ftp) => {
          await loginRefused(ftp, 'anonymous', 'other@example.com');
          await loginRefused(ftp, 'anonymous', 'letmein@example');
          assert.equal((await ftp.command('USER anonymous')).code, 331);
          assert.equal((await ftp.command('PASS')).text, '530 Login incorrect.', 'an empty password is not listed');
          await loginOk(ftp, 'anonymous', 'letmein@example.com');
          await sessionProcess(d, ftp, anon.uid);
        });
      },
    );
  });

  test('anon_world_readable_only: a 0600 file is refused to anonymous, 0644 served; =NO serves both', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    // Owned by the anonymous uid: the kernel would let it read the file, only the rule refuses.
    writeOwned(path.join(anon.home, 'owner-only.txt'), 'not for the world\n', anon.uid, anon.gid, 0o600);
    const base = { ...ANON, ftp_username: anon.name };
    await withDaemon(base, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, 'anonymous', 'a@example.com');
        const refused = await retr(ftp, 'owner-only.txt');
        assert.equal(refused.first.text, '550 Failed to open file.', transcript(ftp));
        const ok = await retr(ftp, 'pub.txt');
        assert.match(ok.first.text, /^150 Opening BINARY mode data connection for pub\.txt \(12 bytes\)\.$/, transcript(ftp));
        assert.equal(ok.final?.text, '226 Transfer complete.');
        assert.equal(ok.data.toString(), 'public file\n');
      });
    });
    await withDaemon({ ...base, anon_world_readable_only: false }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, 'anonymous', 'a@example.com');
        const r = await retr(ftp, 'owner-only.txt');
        assert.equal(r.final?.text, '226 Transfer complete.', transcript(ftp));
        assert.equal(r.data.toString(), 'not for the world\n');
      });
    });
  });

  test('anonymous STOR needs write_enable AND anon_upload_enable; the file is the anonymous uid\'s, anon_umask applies, no overwrite', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    const incoming = mkdirOwned(path.join(anon.home, 'incoming'), anon.uid, anon.gid, 0o755);
    const base = { ...ANON, ftp_username: anon.name, anon_umask: '022' };
    const cases: Array<{ write_enable: boolean; anon_upload_enable: boolean; ok: boolean }> = [
      { write_enable: false, anon_upload_enable: true, ok: false },
      { write_enable: true, anon_upload_enable: false, ok: false },
      { write_enable: true, anon_upload_enable: true, ok: true },
    ];
    for (const c of cases) {
      const name = `up-${String(c.write_enable)}-${String(c.anon_upload_enable)}.txt`;
      await withDaemon({ ...base, write_enable: c.write_enable, anon_upload_enable: c.anon_upload_enable }, async (d) => {
        await withClient(d, async (ftp) => {
          await loginOk(ftp, 'anonymous', 'a@example.com');
          const r = await stor(ftp, `incoming/${name}`, 'anonymous upload\n');
          const onDisk = path.join(incoming, name);
          if (!c.ok) {
            assert.equal(r.first.text, '550 Permission denied.', `${JSON.stringify(c)}\n${transcript(ftp)}`);
            assert.equal(fs.existsSync(onDisk), false, 'nothing written');
            return;
          }
          assert.equal(r.first.text, '150 Ok to send data.', transcript(ftp));
          assert.equal(r.final?.text, '226 Transfer complete.', transcript(ftp));
          assert.equal(fs.readFileSync(onDisk, 'utf8'), 'anonymous upload\n');
          const st = fs.statSync(onDisk);
          assert.equal(st.uid, anon.uid, 'owned by ftp_username');
          assert.equal(modeOf(onDisk), '0644', '0666 & ~anon_umask(022)');
          // Anonymous uploads never overwrite (anon_other_write_enable=NO).
          const again = await stor(ftp, `incoming/${name}`, 'overwrite attempt\n');
          assert.equal(again.first.text, '553 Could not create file.', transcript(ftp));
          assert.equal(fs.readFileSync(onDisk, 'utf8'), 'anonymous upload\n', 'content unchanged');
        });
      });
    }
  });

  test('chown_uploads: an anonymous upload is given to chown_username with chown_upload_mode', TEST_TIMEOUT, async (t) => {
    const anon = makeAnonUser();
    const owner = users.create({ home: '/nonexistent' });
    const incoming = mkdirOwned(path.join(anon.home, 'incoming'), anon.uid, anon.gid, 0o755);
    const opts = {
      ...ANON,
      ftp_username: anon.name,
      write_enable: true,
      anon_upload_enable: true,
      chown_uploads: true,
      chown_username: owner.name,
      chown_upload_mode: '0640',
    };
    let warning = '';
    await withDaemon(opts, async (d) => {
      warning = /^.*not implemented yet \(no effect\):.*$/m.exec(d.stderr())?.[0] ?? '';
      await withClient(d, async (ftp) => {
        await loginOk(ftp, 'anonymous', 'a@example.com');
        const r = await stor(ftp, 'incoming/given.txt', 'given away\n');
        assert.equal(r.final?.text, '226 Transfer complete.', transcript(ftp));
      });
      const f = path.join(incoming, 'given.txt');
      assert.equal(fs.readFileSync(f, 'utf8'), 'given away\n', 'content written after the chown');
      const st = fs.statSync(f);
      assert.equal(st.uid, owner.uid, `owner: uid ${st.uid}, want chown_username ${owner.name} (${owner.uid})`);
      assert.equal(modeOf(f), '0640', 'chown_upload_mode');
    });
    // Fail closed: when the file cannot be given away, the upload is refused and removed.
    await withDaemon({ ...opts, chown_username: 'tsft_no_such_user' }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, 'anonymous', 'a@example.com');
        const r = await stor(ftp, 'incoming/refused.txt', 'never\n');
        assert.equal(r.first.text, '553 Could not create file.', transcript(ftp));
      });
      assert.equal(fs.existsSync(path.join(incoming, 'refused.txt')), false, 'the created file was removed');
    });
    await t.test(
      'the start-up warning does not call the chown_* options unimplemented',
      () => {
        assert.doesNotMatch(warning, /chown/, warning);
      },
    );
  });
});

describe('local users: accounts and files', () => {
  test('a locked account (usermod -L) is refused with the right password; unlocked it logs in', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    sh('usermod', ['-L', user.name]);
    await withDaemon({ chroot_local_user: true }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, user.name, user.password);
      });
      const refusal = d.stderr().split('\n').find((l) => l.includes('"event":"login_failed"') && l.includes(`"user":"${user.name}"`));
      assert.match(refusal ?? '', /"reason":"bad_credentials".*"detail":"PAM/, `the log says PAM refused: ${refusal ?? d.stderr()}`);
      sh('usermod', ['-U', user.name]);
      await withClient(d, async (ftp) => {
        await loginOk(ftp, user.name, user.password);
        assertSession(await sessionProcess(d, ftp, user.uid), user.uid, user.gid, user.home);
      });
    });
  });

  test('local_umask decides the mode of uploads (022 → 0644; 077 per user → 0600), owned by the user', TEST_TIMEOUT, async () => {
    const a = makeLocalUser();
    const b = makeLocalUser();
    const confDir = scratch.dir('tsftpd-uc-');
    writeOwned(path.join(confDir, b.name), 'local_umask=077\n', 0, 0, 0o644);
    await withDaemon({ chroot_local_user: true, write_enable: true, local_umask: '022', user_config_dir: confDir }, async (d) => {
      for (const [u, want] of [
        [a, '0644'],
        [b, '0600'],
      ] as const) {
        await withClient(d, async (ftp) => {
          await loginOk(ftp, u.name, u.password);
          const r = await stor(ftp, 'upload/umask.txt', 'mode test\n');
          assert.equal(r.final?.text, '226 Transfer complete.', transcript(ftp));
        });
        const f = path.join(u.home, 'upload', 'umask.txt');
        const st = fs.statSync(f);
        assert.equal(st.uid, u.uid);
        assert.equal(st.gid, u.gid);
        assert.equal(modeOf(f), want, `mode for ${u.name}`);
      }
    });
  });
});

describe('local users: jails', () => {
  test('local_root with user_sub_token: each login is jailed in base/<login name>', TEST_TIMEOUT, async () => {
    const base = scratch.dir('tsftpd-ub-');
    const a = makeLocalUser();
    const b = makeLocalUser();
    for (const u of [a, b]) {
      fs.mkdirSync(path.join(base, u.name), { mode: 0o755 });
      fs.writeFileSync(path.join(base, u.name, `${u.name}.txt`), `${u.name}\n`, { mode: 0o644 });
    }
    await withDaemon({ chroot_local_user: true, local_root: `${base}/$USER`, user_sub_token: '$USER' }, async (d) => {
      for (const u of [a, b]) {
        await withClient(d, async (ftp) => {
          await loginOk(ftp, u.name, u.password);
          assertSession(await sessionProcess(d, ftp, u.uid), u.uid, u.gid, path.join(base, u.name));
          assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
          const lines = await listLines(ftp);
          assert.equal(lines.length, 1, lines.join('\n'));
          assert.match(lines[0] ?? '', new RegExp(` ${escapeRe(u.name)}\\.txt$`));
        });
      }
    });
  });

  test('passwd_chroot_enable: home /base/./sub jails at /base and starts in /sub', TEST_TIMEOUT, async () => {
    const base = scratch.dir('tsftpd-up-');
    const user = makeLocalUser({ home: `${base}/./sub` });
    fs.writeFileSync(path.join(base, 'top.txt'), 'top\n', { mode: 0o644 });
    await withDaemon({ chroot_local_user: true, passwd_chroot_enable: true }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, user.name, user.password);
        const p = await sessionProcess(d, ftp, user.uid);
        assertSession(p, user.uid, user.gid, base);
        assert.equal(p.cwd, path.join(base, 'sub'), 'the process starts in /base/sub');
        assert.equal((await ftp.command('PWD')).text, '257 "/sub" is the current directory');
        assert.equal((await ftp.command('CDUP')).code, 250);
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
        const names = (await dataCommand(ftp, 'NLST')).data.toString().split('\r\n').filter((l) => l !== '').sort();
        assert.deepEqual(names, ['sub', 'top.txt'], 'the jail root is /base');
      });
    });
    // Without passwd_chroot_enable the whole home path is the jail.
    await withDaemon({ chroot_local_user: true }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, user.name, user.password);
        assertSession(await sessionProcess(d, ftp, user.uid), user.uid, user.gid, path.join(base, 'sub'));
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
      });
    });
  });

  test('chroot_local_user=NO: no chroot (/proc root is /), PWD is the home', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    await withDaemon({ chroot_local_user: false }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, user.name, user.password);
        const p = await sessionProcess(d, ftp, user.uid);
        assertSession(p, user.uid, user.gid, '/');
        assert.equal(p.cwd, user.home);
        assert.equal((await ftp.command('PWD')).text, `257 "${user.home}" is the current directory`);
        assert.equal((await ftp.command('CWD /etc')).text, '250 Directory successfully changed.', 'the whole file system is visible');
      });
    });
  });

  test('chroot_list_file jails the listed users; with chroot_local_user=YES it exempts them instead', TEST_TIMEOUT, async () => {
    const listed = makeLocalUser();
    const other = makeLocalUser();
    const list = listFile([listed.name]);
    for (const chrootLocal of [false, true]) {
      await withDaemon(
        { chroot_local_user: chrootLocal, chroot_list_enable: true, chroot_list_file: list },
        async (d) => {
          for (const u of [listed, other]) {
            const jailed = (u === listed) !== chrootLocal;
            await withClient(d, async (ftp) => {
              await loginOk(ftp, u.name, u.password);
              const p = await sessionProcess(d, ftp, u.uid);
              assertSession(p, u.uid, u.gid, jailed ? u.home : '/');
              const pwd = jailed ? '/' : u.home;
              assert.equal((await ftp.command('PWD')).text, `257 "${pwd}" is the current directory`);
            });
          }
        },
      );
    }
  });

  test('allow_writeable_chroot=YES: a jail root owned by the user works and takes uploads; a listed-out user needs no jail check', TEST_TIMEOUT, async () => {
    const user = makeLocalUser({ writableRoot: true });
    await withDaemon({ chroot_local_user: true, allow_writeable_chroot: true, write_enable: true }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, user.name, user.password);
        assertSession(await sessionProcess(d, ftp, user.uid), user.uid, user.gid, user.home);
        const r = await stor(ftp, '/at-root.txt', 'in the jail root\n');
        assert.equal(r.final?.text, '226 Transfer complete.', transcript(ftp));
      });
      assert.equal(fs.readFileSync(path.join(user.home, 'at-root.txt'), 'utf8'), 'in the jail root\n');
      assert.equal(fs.statSync(path.join(user.home, 'at-root.txt')).uid, user.uid);
    });
    // Not jailed (exempted by chroot_list_file): the writable home is no problem without the option.
    const list = listFile([user.name]);
    await withDaemon({ chroot_local_user: true, chroot_list_enable: true, chroot_list_file: list }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, user.name, user.password);
        assertSession(await sessionProcess(d, ftp, user.uid), user.uid, user.gid, '/');
      });
    });
  });
});

describe('local users: access rules', () => {
  test('userlist_deny=YES: a listed user gets "530 Permission denied." as the reply to USER, before any PASS', TEST_TIMEOUT, async () => {
    const listed = makeLocalUser();
    const other = makeLocalUser();
    const list = listFile([listed.name]);
    await withDaemon({ chroot_local_user: true, userlist_enable: true, userlist_deny: true, userlist_file: list }, async (d) => {
      await withClient(d, async (ftp) => {
        const r = await ftp.command(`USER ${listed.name}`, 10_000);
        assert.equal(r.text, '530 Permission denied.', transcript(ftp));
        assert.deepEqual(ftp.transcript.slice(1), [`> USER ${listed.name}`, '530 Permission denied.'], 'the 530 answers USER; no PASS was sent');
        // The refused name is forgotten: a PASS now has no USER.
        assert.equal((await ftp.command(`PASS ${listed.password}`, 10_000)).text, '503 Login with USER first.', transcript(ftp));
      });
      // Pipelined after a name that was accepted: the PASS must not log in the earlier name.
      await withClient(d, async (ftp) => {
        assert.equal((await ftp.command(`USER ${other.name}`)).code, 331);
        ftp.sendRaw(`USER ${listed.name}\r\nPASS ${other.password}\r\n`);
        assert.equal((await ftp.reply(10_000)).text, '530 Permission denied.', transcript(ftp));
        assert.equal((await ftp.reply(10_000)).text, '503 Login with USER first.', transcript(ftp));
      });
      await withClient(d, async (ftp) => {
        await loginOk(ftp, other.name, other.password);
      });
    });
  });

  test('userlist_deny=NO: only listed users may log in; others get 530 at USER', TEST_TIMEOUT, async () => {
    const listed = makeLocalUser();
    const other = makeLocalUser();
    const list = listFile([listed.name]);
    await withDaemon({ chroot_local_user: true, userlist_enable: true, userlist_deny: false, userlist_file: list }, async (d) => {
      await withClient(d, async (ftp) => {
        assert.equal((await ftp.command(`USER ${other.name}`, 10_000)).text, '530 Permission denied.', transcript(ftp));
        assert.ok(!ftp.transcript.some((l) => l.startsWith('> PASS')));
      });
      await withClient(d, async (ftp) => {
        await loginOk(ftp, listed.name, listed.password);
        await sessionProcess(d, ftp, listed.uid);
      });
    });
  });

  test('user_config_dir: per-user write_enable and local_root apply; a typo or a non-root file fails that login (530) only', TEST_TIMEOUT, async () => {
    const writer = makeLocalUser();
    const plain = makeLocalUser();
    const typo = makeLocalUser();
    const rooted = makeLocalUser();
    const notRootOwned = makeLocalUser();
    const elsewhere = scratch.dir('tsftpd-ue-');
    fs.writeFileSync(path.join(elsewhere, 'elsewhere.txt'), 'x\n', { mode: 0o644 });
    const confDir = scratch.dir('tsftpd-uc-');
    writeOwned(path.join(confDir, writer.name), 'write_enable=YES\n', 0, 0, 0o644);
    writeOwned(path.join(confDir, typo.name), 'write_enabel=YES\n', 0, 0, 0o644);
    writeOwned(path.join(confDir, rooted.name), `local_root=${elsewhere}\n`, 0, 0, 0o644);
    writeOwned(path.join(confDir, notRootOwned.name), 'write_enable=YES\n', notRootOwned.uid, notRootOwned.gid, 0o644);
    await withDaemon({ chroot_local_user: true, write_enable: false, user_config_dir: confDir }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, typo.name, typo.password);
      });
      assert.match(d.stderr(), /write_enabel/, 'the log names the bad option');
      await withClient(d, async (ftp) => {
        await loginRefused(ftp, notRootOwned.name, notRootOwned.password);
      });
      await withClient(d, async (ftp) => {
        await loginOk(ftp, writer.name, writer.password);
        const r = await stor(ftp, 'upload/w.txt', 'per-user write\n');
        assert.equal(r.final?.text, '226 Transfer complete.', transcript(ftp));
      });
      assert.equal(fs.readFileSync(path.join(writer.home, 'upload', 'w.txt'), 'utf8'), 'per-user write\n');
      await withClient(d, async (ftp) => {
        await loginOk(ftp, plain.name, plain.password);
        const r = await stor(ftp, 'upload/p.txt', 'no\n');
        assert.equal(r.first.text, '550 Permission denied.', transcript(ftp));
      });
      assert.equal(fs.existsSync(path.join(plain.home, 'upload', 'p.txt')), false);
      await withClient(d, async (ftp) => {
        await loginOk(ftp, rooted.name, rooted.password);
        assertSession(await sessionProcess(d, ftp, rooted.uid), rooted.uid, rooted.gid, elsewhere);
      });
    });
  });

  test('hide_ids=YES: LIST shows every owner and group as ftp; =NO shows the numeric ids', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    for (const hide of [true, false]) {
      await withDaemon({ chroot_local_user: true, hide_ids: hide }, async (d) => {
        await withClient(d, async (ftp) => {
          await loginOk(ftp, user.name, user.password);
          const lines = await listLines(ftp);
          const hello = lines.find((l) => l.endsWith(' hello.txt'));
          const upload = lines.find((l) => l.endsWith(' upload'));
          assert.ok(hello && upload, lines.join('\n'));
          const [o1, g1] = hide ? ['ftp', 'ftp'] : ['0', '0'];
          const [o2, g2] = hide ? ['ftp', 'ftp'] : [String(user.uid), String(user.gid)];
          assert.match(hello, new RegExp(`^-rw-r--r-- +1 ${o1} +${g1} +\\d+ `), hello);
          assert.match(upload, new RegExp(`^drwxr-xr-x +\\d+ ${o2} +${g2} +\\d+ `), upload);
        });
      });
    }
  });

  test('cmds_allowed and cmds_denied: other commands get 550 Permission denied.; denied wins', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    await withDaemon({ chroot_local_user: true, write_enable: true, cmds_allowed: 'USER,PASS,PWD,CWD,QUIT' }, async (d) => {
      await withClient(d, async (ftp) => {
        await loginOk(ftp, user.name, user.password);
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
        assert.equal((await ftp.command('CWD upload')).text, '250 Directory successfully changed.');
        assert.equal((await ftp.command('SYST')).text, '550 Permission denied.');
        assert.equal((await ftp.command('MKD made')).text, '550 Permission denied.');
        assert.equal((await ftp.command('PASV')).text, '550 Permission denied.');
      });
      assert.equal(fs.existsSync(path.join(user.home, 'upload', 'made')), false);
    });
    await withDaemon(
      { chroot_local_user: true, write_enable: true, cmds_allowed: 'PWD,MKD,DELE,STOR,PASV,QUIT', cmds_denied: 'MKD,dele' },
      async (d) => {
        await withClient(d, async (ftp) => {
          await loginOk(ftp, user.name, user.password);
          assert.equal((await ftp.command('MKD upload/made')).text, '550 Permission denied.');
          const r = await stor(ftp, 'upload/kept.txt', 'kept\n');
          assert.equal(r.final?.text, '226 Transfer complete.', transcript(ftp));
          assert.equal((await ftp.command('DELE upload/kept.txt')).text, '550 Permission denied.');
        });
        assert.equal(fs.existsSync(path.join(user.home, 'upload', 'made')), false, 'MKD did nothing');
        assert.equal(fs.readFileSync(path.join(user.home, 'upload', 'kept.txt'), 'utf8'), 'kept\n', 'DELE did nothing');
      },
    );
  });
});

describe('messages', () => {
  test('banner_file: every line as 220-, then "220 "', TEST_TIMEOUT, async () => {
    const dir = scratch.dir('tsftpd-um-');
    const banner = writeOwned(path.join(dir, 'banner'), 'Welcome to the test server.\n\nAuthorised use only.\n', 0, 0, 0o644);
    await withDaemon({ banner_file: banner, ftpd_banner: 'not this one' }, async (d) => {
      await withClient(d, async (_ftp, greeting) => {
        assert.deepEqual(greeting.lines, ['220-Welcome to the test server.', '220-', '220-Authorised use only.', '220 ']);
      });
    });
  });

  test('dirmessage_enable + message_file: 230- lines at login, 250- on the first CWD into a directory only', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    writeOwned(path.join(user.home, '.msg'), 'Hello home.\nSecond line.\n', 0, 0, 0o644);
    writeOwned(path.join(user.home, '.message'), 'the default name must not be used\n', 0, 0, 0o644);
    const sub = mkdirOwned(path.join(user.home, 'sub'), 0, 0, 0o755);
    writeOwned(path.join(sub, '.msg'), 'In sub.\n', 0, 0, 0o644);
    await withDaemon({ chroot_local_user: true, dirmessage_enable: true, message_file: '.msg' }, async (d) => {
      await withClient(d, async (ftp) => {
        const p = await loginOk(ftp, user.name, user.password);
        assert.deepEqual(p.lines, ['230-Hello home.', '230-Second line.', '230 Login successful.']);
        assert.deepEqual((await ftp.command('CWD sub')).lines, ['250-In sub.', '250 Directory successfully changed.']);
        assert.deepEqual((await ftp.command('CWD /')).lines, ['250 Directory successfully changed.'], 'home already shown at login');
        assert.deepEqual((await ftp.command('CWD sub')).lines, ['250 Directory successfully changed.'], 'shown once only');
        assert.deepEqual((await ftp.command('CWD /upload')).lines, ['250 Directory successfully changed.'], 'no message file');
      });
      // A new session shows them again.
      await withClient(d, async (ftp) => {
        const p = await loginOk(ftp, user.name, user.password);
        assert.equal(p.lines[0], '230-Hello home.');
      });
    });
    await withDaemon({ chroot_local_user: true, dirmessage_enable: false, message_file: '.msg' }, async (d) => {
      await withClient(d, async (ftp) => {
        const p = await loginOk(ftp, user.name, user.password);
        assert.deepEqual(p.lines, ['230 Login successful.']);
        assert.deepEqual((await ftp.command('CWD sub')).lines, ['250 Directory successfully changed.']);
      });
    });
  });
});

describe('symlinks out of a jail', () => {
  function plantLinks(dir: string): void {
    fs.symlinkSync('/etc/passwd', path.join(dir, 'passwd'));
    fs.symlinkSync('../../../../../../etc/shadow', path.join(dir, 'shadow'));
    fs.symlinkSync('/etc', path.join(dir, 'etc'));
  }

  async function checkLinks(d: Daemon, user: string, pass: string): Promise<void> {
    await withClient(d, async (ftp) => {
      await loginOk(ftp, user, pass);
      for (const name of ['passwd', 'shadow', 'etc/passwd']) {
        const r = await retr(ftp, name);
        assert.equal(r.first.text, '550 Failed to open file.', `RETR ${name}\n${transcript(ftp)}`);
      }
      assert.equal((await ftp.command('CWD etc')).text, '550 Failed to change directory.');
      assert.equal((await ftp.command('SIZE passwd')).text, '550 Could not get file size.');
      const lines = await listLines(ftp);
      assert.ok(lines.some((l) => /^lrwxrwxrwx .* passwd -> \/etc\/passwd$/.test(l)), lines.join('\n'));
      assert.ok(lines.some((l) => /^lrwxrwxrwx .* etc -> \/etc$/.test(l)), lines.join('\n'));
    });
  }

  test('local user: RETR through a link to /etc/passwd fails with 550, LIST shows the link', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    plantLinks(user.home);
    await withDaemon({ chroot_local_user: true }, async (d) => {
      await checkLinks(d, user.name, user.password);
    });
  });

  test('anonymous: the same links cannot be followed out of the anonymous root', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    plantLinks(anon.home);
    await withDaemon({ ...ANON, ftp_username: anon.name, anon_world_readable_only: false }, async (d) => {
      await checkLinks(d, 'anonymous', 'a@example.com');
    });
  });
});
