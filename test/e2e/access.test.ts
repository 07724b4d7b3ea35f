// deny_file, hide_file, text_userdb_names and tilde_user_enable through a
// real PAM login. SECURITY: deny_file is matched on the canonical path in the
// jail, so the CVE-2015-1419 bypass class (CWD etc + RETR passwd around
// deny_file=/etc/passwd, "..", ".", symlinks) is refused.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as net from 'node:net';
import { runFtplib, type FtplibTranscript } from '../helpers/clients';
import { connectWithGreeting, login, parsePasv } from '../helpers/ftp';
import { makeTempDir, startDaemon, type Daemon } from '../helpers/daemon';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const T = { timeout: 90_000 };
const suite = e2eSuite();
const users = suite.users;
const dirs = suite.dirs;



/** A jailed local user whose root-owned home holds etc/passwd, music, a .private dir and a symlink. */
function makeUser(): TestUser {
  const home = makeTempDir('tsftpd-acc-');
  dirs.push(home);
  const user = users.create({ home });
  fs.mkdirSync(path.join(home, 'etc'), { mode: 0o755 });
  fs.writeFileSync(path.join(home, 'etc', 'passwd'), 'jail passwd\n', { mode: 0o644 });
  fs.writeFileSync(path.join(home, 'etc', 'group'), 'jail group\n', { mode: 0o644 });
  fs.mkdirSync(path.join(home, 'music'), { mode: 0o755 });
  fs.writeFileSync(path.join(home, 'music', 'song.mp3'), 'mp3\n', { mode: 0o644 });
  fs.writeFileSync(path.join(home, 'music', 'notes.txt'), 'notes\n', { mode: 0o644 });
  fs.mkdirSync(path.join(home, '.private'), { mode: 0o755 });
  fs.writeFileSync(path.join(home, '.private', 'key'), 'k\n', { mode: 0o644 });
  fs.symlinkSync('etc/passwd', path.join(home, 'pw-link'));
  fs.writeFileSync(path.join(home, 'mine.txt'), 'mine\n', { mode: 0o644 });
  fs.chownSync(path.join(home, 'mine.txt'), user.uid, user.gid);
  fs.mkdirSync(path.join(home, 'incoming'), { mode: 0o755 });
  fs.chownSync(path.join(home, 'incoming'), user.uid, user.gid);
  return user;
}

async function withDaemon(options: Record<string, string | number | boolean>, body: (d: Daemon) => Promise<void>): Promise<void> {
  const d = await startDaemon({ options: { chroot_local_user: true, ...options } });
  try {
    await body(d);
  } catch (e: unknown) {
    if (e instanceof Error) e.stack = `${e.stack ?? e.message}\n--- daemon stderr ---\n${d.stderr()}`;
    throw e;
  } finally {
    await d.stop();
  }
}

/** The steps after the login step runFtplib adds first. */
function ops(t: FtplibTranscript): FtplibTranscript['steps'] {
  return t.steps.filter((s) => s.op !== 'login');
}

function replies(t: FtplibTranscript): string[] {
  return ops(t).map((s) => s.error ?? String(s.replies[s.replies.length - 1] ?? ''));
}

describe('deny_file on the canonical path', () => {
  test('every spelling of /etc/passwd is refused; the rest of etc is not', T, async () => {
    const u = makeUser();
    await withDaemon({ deny_file: '/etc/passwd' }, async (d) => {
      const t = await runFtplib({
        port: d.port,
        user: u.name,
        password: u.password,
        steps: [
          { op: 'retr', remote: '/etc/passwd' },
          { op: 'retr', remote: 'etc/passwd' },
          { op: 'retr', remote: 'etc/../etc/./passwd' },
          { op: 'retr', remote: '//etc//passwd' },
          { op: 'retr', remote: 'pw-link' },
          { op: 'cwd', path: 'etc' },
          { op: 'retr', remote: 'passwd' },
          { op: 'size', path: 'passwd' },
          { op: 'raw', cmd: 'MDTM passwd' },
          { op: 'raw', cmd: 'RNFR passwd' },
          { op: 'retr', remote: 'group' },
        ],
      });
      const r = replies(t);
      for (let i = 0; i < 5; i++) assert.match(r[i] ?? '', /^550 Permission denied\./, `step ${i}: ${JSON.stringify(ops(t)[i])}`);
      assert.match(r[5] ?? '', /^250/, 'CWD etc is allowed');
      for (let i = 6; i < 10; i++) assert.match(r[i] ?? '', /^550 Permission denied\./, `step ${i}: ${JSON.stringify(ops(t)[i])}`);
      assert.equal(ops(t)[10]?.error, undefined, `etc/group is served: ${JSON.stringify(ops(t)[10])}`);
    });
  });

  test('patterns: {*.mp3,.private} refuses matching files, paths inside .private and uploads of such names', T, async () => {
    const u = makeUser();
    await withDaemon({ deny_file: '{*.mp3,.private}', write_enable: true, allow_writeable_chroot: true }, async (d) => {
      const local = path.join(makeTempDir('tsftpd-acc-up-'), 'x.mp3');
      dirs.push(path.dirname(local));
      fs.writeFileSync(local, 'upload\n');
      const t = await runFtplib({
        port: d.port,
        user: u.name,
        password: u.password,
        steps: [
          { op: 'retr', remote: 'music/song.mp3' },
          { op: 'cwd', path: '.private' },
          { op: 'retr', remote: '.private/key' },
          { op: 'stor', local, remote: 'music/new.mp3' },
          { op: 'retr', remote: 'music/notes.txt' },
        ],
      });
      const r = replies(t);
      assert.match(r[0] ?? '', /^550 Permission denied\./);
      assert.match(r[1] ?? '', /^550 Permission denied\./);
      assert.match(r[2] ?? '', /^550 Permission denied\./);
      assert.match(r[3] ?? '', /^550 Permission denied\./);
      assert.equal(fs.existsSync(path.join(u.home, 'music', 'new.mp3')), false, 'the denied upload created nothing');
      assert.equal(ops(t)[4]?.error, undefined, JSON.stringify(ops(t)[4]));
    });
  });
});

describe('hide_file', () => {
  test('hidden from LIST, NLST and MLSD, still reachable by name', T, async () => {
    const u = makeUser();
    await withDaemon({ hide_file: '{*.mp3,.private}' }, async (d) => {
      const t = await runFtplib({
        port: d.port,
        user: u.name,
        password: u.password,
        steps: [
          { op: 'nlst', path: 'music' },
          { op: 'list', path: 'music' },
          { op: 'raw', cmd: 'STAT -a' },
          { op: 'retr', remote: 'music/song.mp3' },
        ],
      });
      const nlst = (ops(t)[0]?.result ?? []) as string[];
      const list = (ops(t)[1]?.result ?? []) as string[];
      assert.deepEqual(nlst, ['music/notes.txt'], JSON.stringify(ops(t)[0]));
      assert.ok(list.every((l) => !l.includes('song.mp3')) && list.some((l) => l.endsWith(' notes.txt')), list.join('\n'));
      assert.ok(!String(ops(t)[2]?.result ?? ops(t)[2]?.replies.join('\n')).includes('.private'), JSON.stringify(ops(t)[2]));
      assert.equal(ops(t)[3]?.error, undefined, `a hidden file is still served: ${JSON.stringify(ops(t)[3])}`);
    });
  });
});

describe('names in listings', () => {
  test('text_userdb_names shows the owner by name; without it, by number', T, async () => {
    const u = makeUser();
    for (const [enabled, expectOwner] of [
      [true, u.name],
      [false, String(u.uid)],
    ] as const) {
      await withDaemon({ text_userdb_names: enabled }, async (d) => {
        const t = await runFtplib({ port: d.port, user: u.name, password: u.password, steps: [{ op: 'list' }] });
        const lines = (ops(t)[0]?.result ?? []) as string[];
        const mine = lines.find((l) => l.endsWith(' mine.txt'));
        assert.ok(mine !== undefined, lines.join('\n'));
        assert.equal(mine.split(/\s+/)[2], expectOwner, mine);
      });
    }
  });

  test('tilde_user_enable: ~user names that user\'s home (an unjailed session)', T, async () => {
    const u = makeUser();
    const other = makeUser();
    await withDaemon({ chroot_local_user: false, tilde_user_enable: true }, async (d) => {
      const t = await runFtplib({
        port: d.port,
        user: u.name,
        password: u.password,
        steps: [{ op: 'cwd', path: `~${other.name}` }, { op: 'pwd' }, { op: 'cwd', path: '~' }, { op: 'pwd' }],
      });
      assert.equal(ops(t)[1]?.result, other.home, JSON.stringify(t));
      assert.equal(ops(t)[3]?.result, u.home, JSON.stringify(t));
    });
    await withDaemon({ chroot_local_user: false, tilde_user_enable: false }, async (d) => {
      const t = await runFtplib({ port: d.port, user: u.name, password: u.password, steps: [{ op: 'cwd', path: `~${other.name}` }] });
      assert.match(ops(t)[0]?.error ?? '', /^550/, 'without tilde_user_enable ~user is a plain (missing) name');
    });
  });
});

describe('upload modes', () => {
  test('file_open_mode and local_umask decide the mode of an upload on disk', T, async () => {
    const u = makeUser();
    const local = path.join(makeTempDir('tsftpd-acc-fm-'), 'up.txt');
    dirs.push(path.dirname(local));
    fs.writeFileSync(local, 'mode test\n');
    for (const [openMode, umask, expected] of [
      [0o600, 0o000, 0o600],
      [0o666, 0o027, 0o640],
      [0o644, 0o022, 0o644],
    ] as const) {
      const name = `incoming/up-${openMode.toString(8)}-${umask.toString(8)}.txt`;
      await withDaemon(
        { write_enable: true, file_open_mode: `0${openMode.toString(8)}`, local_umask: `0${umask.toString(8)}` },
        async (d) => {
          const t = await runFtplib({ port: d.port, user: u.name, password: u.password, steps: [{ op: 'stor', local, remote: name }] });
          assert.equal(ops(t)[0]?.error, undefined, JSON.stringify(t));
          const st = fs.statSync(path.join(u.home, name));
          assert.equal(st.mode & 0o777, expected, `file_open_mode=0${openMode.toString(8)} local_umask=0${umask.toString(8)}`);
          assert.equal(st.uid, u.uid, 'owned by the user');
        },
      );
    }
  });
});

describe('lock_upload_files', () => {
  function dataConnect(host: string, port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      sock.once('connect', () => resolve(sock));
      sock.once('error', reject);
    });
  }

  function readAll(sock: net.Socket): Promise<Buffer> {
    return new Promise((resolve) => {
      const parts: Buffer[] = [];
      sock.on('data', (b: Buffer) => parts.push(b));
      sock.on('error', () => undefined);
      sock.once('close', () => resolve(Buffer.concat(parts)));
    });
  }

  async function session(d: Daemon, u: TestUser): Promise<Awaited<ReturnType<typeof connectWithGreeting>>['ftp']> {
    const { ftp } = await connectWithGreeting(d.host, d.port);
    await login(ftp, u.name, u.password);
    await ftp.command('TYPE I');
    return ftp;
  }

  /*
   * An upload writes half a file and holds; a download of the same file
   * starts. With the lock its RETR gets no reply until the upload ends, and
   * then the whole file; without it, RETR answers at once with half.
   */
  test('a download of a file being uploaded waits for the upload (YES) or sees half of it (NO)', T, async () => {
    const u = makeUser();
    const half = Buffer.alloc(256 * 1024, 0x61);
    for (const lock of [true, false]) {
      const name = `incoming/locked-${String(lock)}.bin`;
      await withDaemon({ write_enable: true, lock_upload_files: lock }, async (d) => {
        const up = await session(d, u);
        const down = await session(d, u);
        try {
          const upPasv = parsePasv(await up.command('PASV'));
          up.send(`STOR ${name}`);
          const upData = await dataConnect(upPasv.host, upPasv.port);
          assert.equal((await up.reply()).code, 150);
          await new Promise<void>((resolve) => upData.write(half, () => resolve()));
          // Wait (bounded) until the first half is on disk.
          const onDisk = (): number => {
            try {
              return fs.statSync(path.join(u.home, name)).size;
            } catch {
              return 0;
            }
          };
          for (let i = 0; i < 250 && onDisk() < half.length; i++) await new Promise((r) => setTimeout(r, 20));
          assert.equal(onDisk(), half.length, 'the first half reached the disk');
          const downPasv = parsePasv(await down.command('PASV'));
          down.send(`RETR ${name}`);
          const downData = await dataConnect(downPasv.host, downPasv.port);
          const received = readAll(downData);
          let early: string | null = null;
          try {
            early = (await down.reply(1500)).text;
          } catch {
            early = null; // no reply yet: the download is waiting for the lock
          }
          if (lock) assert.equal(early, null, 'with the lock RETR waits');
          else assert.match(early ?? '', /^150 /, 'without the lock RETR starts at once');
          if (!lock) {
            // Let the unlocked download finish before the upload goes on,
            // so what it saw is exactly the half on disk.
            assert.match((await down.reply(15_000)).text, /^226 /);
          }
          await new Promise<void>((resolve) => upData.end(half, () => resolve()));
          assert.match((await up.reply(15_000)).text, /^226 /);
          if (lock) {
            assert.match((await down.reply(15_000)).text, /^150 /);
            assert.match((await down.reply(15_000)).text, /^226 /);
          }
          const got = await received;
          if (lock) assert.equal(got.length, 2 * half.length, 'with the lock the download got the whole upload');
          else assert.equal(got.length, half.length, 'without the lock the download got the half on disk');
        } finally {
          up.close();
          down.close();
        }
      });
    }
  });
});
