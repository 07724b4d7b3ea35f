// The post-login command set, end to end: the real daemon as root, a real local
// user (PAM) or the anonymous account, raw control-connection transcripts and
// data connections. Every test checks the reply code and text AND the effect on
// disk (content, owner, mode, mtime).
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import { freePort, makeTempDir, startDaemon, type Daemon, type OptionValue } from '../helpers/daemon';
import { connectWithGreeting, login, parseEpsv, type FtpControl, type FtpReply, dataConnect, collect } from '../helpers/ftp';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const T = { timeout: 30_000 };
const HOST = '127.0.0.1';
const HELLO = 'hello\nworld\n';

const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;



// ---------------------------------------------------------------------------
// fixtures

interface Env {
  d: Daemon;
  user: TestUser;
  /** The jail (root-owned 0755, hello.txt 0644). */
  home: string;
  /** home/up, owned by the user: the writable directory, "/up" in the session. */
  up: string;
}

function makeHome(user?: { uid: number; gid: number }): { home: string; up: string } {
  const home = makeTempDir('tsftpd-ch-');
  tempDirs.push(home);
  fs.writeFileSync(path.join(home, 'hello.txt'), HELLO, { mode: 0o644 });
  const up = path.join(home, 'up');
  fs.mkdirSync(up, { mode: 0o755 });
  if (user) fs.chownSync(up, user.uid, user.gid);
  return { home, up };
}

/** A local user jailed in its home, write_enable=YES, local_umask=022. */
async function startLocal(extra: Record<string, OptionValue | null> = {}): Promise<Env> {
  const { home, up } = makeHome();
  const user = users.create({ home });
  fs.chownSync(up, user.uid, user.gid);
  const d = await startDaemon({
    options: { write_enable: true, chroot_local_user: true, local_umask: '022', ...extra },
  });
  return { d, user, home, up };
}

/** Anonymous sessions: ftp_username is a created user whose home is the anon root. */
async function startAnon(extra: Record<string, OptionValue | null>): Promise<Env> {
  const { home, up } = makeHome();
  const user = users.create({ home });
  fs.chownSync(up, user.uid, user.gid);
  // Anonymous uploads must stay writable for the anon user itself (umask 022).
  fs.writeFileSync(path.join(up, 'existing.txt'), 'old\n', { mode: 0o644 });
  fs.chownSync(path.join(up, 'existing.txt'), user.uid, user.gid);
  fs.mkdirSync(path.join(up, 'adir'));
  fs.chownSync(path.join(up, 'adir'), user.uid, user.gid);
  const d = await startDaemon({
    options: {
      anonymous_enable: true,
      local_enable: false,
      ftp_username: user.name,
      no_anon_password: true,
      anon_umask: '022',
      ...extra,
    },
  });
  return { d, user, home, up };
}

async function session(env: Env, who: 'local' | 'anon' = 'local'): Promise<FtpControl> {
  const { ftp, greeting } = await connectWithGreeting(HOST, env.d.port);
  assert.equal(greeting.code, 220, `${greeting.text}\n--- daemon stderr ---\n${env.d.stderr()}`);
  if (who === 'anon') {
    const r = await ftp.command('USER anonymous');
    assert.equal(r.code, 230, r.text);
  } else {
    const r = await login(ftp, env.user.name, env.user.password);
    assert.equal(r.pass?.code, 230, r.pass?.text ?? r.user.text);
  }
  return ftp;
}

/** Run body with a logged-in session; the daemon's stderr is added to failures. */
async function withSession(env: Env, body: (ftp: FtpControl) => Promise<void>, who: 'local' | 'anon' = 'local'): Promise<void> {
  const ftp = await session(env, who);
  try {
    await body(ftp);
  } catch (e: unknown) {
    if (e instanceof Error) e.message += `\n--- transcript ---\n${ftp.transcript.join('\n')}\n--- daemon stderr ---\n${env.d.stderr()}`;
    throw e;
  } finally {
    ftp.close();
  }
}

function expectReply(r: FtpReply, code: number, text?: string | RegExp): void {
  assert.equal(r.code, code, r.text);
  if (typeof text === 'string') assert.equal(r.message, text, r.text);
  else if (text !== undefined) assert.match(r.message, text);
}

async function cmd(ftp: FtpControl, line: string, code: number, text?: string | RegExp): Promise<FtpReply> {
  const r = await ftp.command(line);
  expectReply(r, code, text);
  return r;
}

// ---------------------------------------------------------------------------
// data connections

const connectData = (port: number): Promise<net.Socket> => dataConnect(HOST, port);


async function epsv(ftp: FtpControl): Promise<number> {
  const r = await ftp.command('EPSV');
  expectReply(r, 229);
  return parseEpsv(r);
}

interface Transfer {
  first: FtpReply;
  final: FtpReply | null;
  data: Buffer;
}

/** EPSV, connect, send the command, read everything; final is null when the command failed. */
async function download(ftp: FtpControl, line: string): Promise<Transfer> {
  const sock = await connectData(await epsv(ftp));
  const data = collect(sock);
  const first = await ftp.command(line);
  if (first.code !== 150) {
    sock.destroy();
    return { first, final: null, data: Buffer.alloc(0) };
  }
  const buf = await data;
  return { first, final: await ftp.reply(10_000), data: buf };
}

async function upload(ftp: FtpControl, line: string, content: Buffer | string): Promise<Transfer> {
  const sock = await connectData(await epsv(ftp));
  sock.on('error', () => undefined);
  const closed = collect(sock);
  const first = await ftp.command(line);
  if (first.code !== 150) {
    sock.destroy();
    return { first, final: null, data: Buffer.alloc(0) };
  }
  sock.end(content);
  await closed;
  return { first, final: await ftp.reply(10_000), data: Buffer.alloc(0) };
}

const sha256 = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');
const modeOf = (p: string): number => fs.statSync(p).mode & 0o7777;

// ---------------------------------------------------------------------------

describe('local user, write_enable=YES (transfers, files, directories)', () => {
  let env: Env;
  before(async () => {
    env = await startLocal();
  });
  after(async () => {
    await env.d.stop();
  });

  test('RETR: 150 BINARY text with the size, the exact bytes, 226', T, async () => {
    await withSession(env, async (ftp) => {
      const t = await download(ftp, 'RETR hello.txt');
      expectReply(t.first, 150, `Opening BINARY mode data connection for hello.txt (${HELLO.length} bytes).`);
      assert.equal(t.data.toString(), HELLO);
      expectReply(t.final as FtpReply, 226, 'Transfer complete.');
    });
  });

  test('RETR failures: 425 without PASV/PORT, 550 for a missing file and a directory', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'RETR hello.txt', 425, 'Use PORT or PASV first.');
      await cmd(ftp, 'EPSV', 229);
      await cmd(ftp, 'RETR nosuch', 550, 'Failed to open file.');
      await cmd(ftp, 'RETR up', 550, 'Failed to open file.');
    });
  });

  test('REST then RETR sends the tail; REST beyond the end sends nothing; REST applies once', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE I', 200);
      await cmd(ftp, 'REST 6', 350, 'Restart position accepted (6).');
      let t = await download(ftp, 'RETR hello.txt');
      assert.equal(t.data.toString(), 'world\n');
      expectReply(t.final as FtpReply, 226);
      t = await download(ftp, 'RETR hello.txt');
      assert.equal(t.data.toString(), HELLO, 'the REST offset is used by one transfer only');
      await cmd(ftp, 'REST 1000', 350, 'Restart position accepted (1000).');
      t = await download(ftp, 'RETR hello.txt');
      assert.equal(t.data.length, 0);
      expectReply(t.final as FtpReply, 226, 'Transfer complete.');
    });
  });

  test('REST parsing: negative → 0 (vsftpd), 2^63-1 exact, beyond → 501', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'REST -5', 350, 'Restart position accepted (0).');
      await cmd(ftp, 'REST abc', 350, 'Restart position accepted (0).');
      await cmd(ftp, 'REST 9007199254740993', 350, 'Restart position accepted (9007199254740993).');
      await cmd(ftp, 'REST 9223372036854775807', 350, 'Restart position accepted (9223372036854775807).');
      await cmd(ftp, 'REST 9223372036854775808', 501, 'Restart position out of range.');
    });
  });

  test('REST 2^53+1 then RETR of a small file: nothing sent, 226 (no precision loss)', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE I', 200);
      await cmd(ftp, 'REST 9007199254740993', 350);
      const t = await download(ftp, 'RETR hello.txt');
      assert.equal(t.data.length, 0);
      expectReply(t.final as FtpReply, 226);
      // An upload cannot be positioned there (fs.writeSync takes a JS number).
      await cmd(ftp, 'REST 9007199254740993', 350);
      await cmd(ftp, 'EPSV', 229);
      await cmd(ftp, 'STOR up/huge', 554, 'Requested action not taken: invalid REST parameter.');
      assert.equal(fs.existsSync(path.join(env.up, 'huge')), false);
    });
  });

  test('STOR creates the file: content, owner = the user, mode 0644 (0666 & ~022)', T, async () => {
    await withSession(env, async (ftp) => {
      const content = crypto.randomBytes(300_000);
      const t = await upload(ftp, 'STOR up/new.bin', content);
      expectReply(t.first, 150, 'Ok to send data.');
      expectReply(t.final as FtpReply, 226, 'Transfer complete.');
      const p = path.join(env.up, 'new.bin');
      assert.equal(sha256(fs.readFileSync(p)), sha256(content));
      const st = fs.statSync(p);
      assert.equal(st.uid, env.user.uid);
      assert.equal(st.gid, env.user.gid);
      assert.equal(st.mode & 0o7777, 0o644);
    });
  });

  test('STOR over a longer file truncates it', T, async () => {
    const p = path.join(env.up, 'trunc.txt');
    fs.writeFileSync(p, 'a much longer original content\n');
    fs.chownSync(p, env.user.uid, env.user.gid);
    await withSession(env, async (ftp) => {
      const t = await upload(ftp, 'STOR up/trunc.txt', 'short\n');
      expectReply(t.final as FtpReply, 226);
    });
    assert.equal(fs.readFileSync(p, 'utf8'), 'short\n');
  });

  test('REST + STOR writes at the offset and keeps the rest of the file', T, async () => {
    const p = path.join(env.up, 'resume.txt');
    fs.writeFileSync(p, '0123456789');
    fs.chownSync(p, env.user.uid, env.user.gid);
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE I', 200);
      await cmd(ftp, 'REST 4', 350, 'Restart position accepted (4).');
      const t = await upload(ftp, 'STOR up/resume.txt', 'ab');
      expectReply(t.final as FtpReply, 226);
      assert.equal(fs.readFileSync(p, 'utf8'), '0123ab6789');
      // Past the end: a hole, as vsftpd's lseek.
      await cmd(ftp, 'REST 12', 350);
      const t2 = await upload(ftp, 'STOR up/resume.txt', 'Z');
      expectReply(t2.final as FtpReply, 226);
      assert.equal(fs.readFileSync(p, 'latin1'), '0123ab6789\0\0Z');
    });
  });

  test('APPE appends to an existing file and creates a missing one', T, async () => {
    const p = path.join(env.up, 'log.txt');
    fs.writeFileSync(p, 'one\n');
    fs.chownSync(p, env.user.uid, env.user.gid);
    await withSession(env, async (ftp) => {
      let t = await upload(ftp, 'APPE up/log.txt', 'two\n');
      expectReply(t.first, 150, 'Ok to send data.');
      expectReply(t.final as FtpReply, 226, 'Transfer complete.');
      assert.equal(fs.readFileSync(p, 'utf8'), 'one\ntwo\n');
      // REST does not move an append (vsftpd seeks to the end).
      await cmd(ftp, 'REST 1', 350);
      t = await upload(ftp, 'APPE up/log.txt', 'three\n');
      expectReply(t.final as FtpReply, 226);
      assert.equal(fs.readFileSync(p, 'utf8'), 'one\ntwo\nthree\n');
      t = await upload(ftp, 'APPE up/fresh.txt', 'x');
      expectReply(t.final as FtpReply, 226);
      assert.equal(fs.readFileSync(path.join(env.up, 'fresh.txt'), 'utf8'), 'x');
    });
  });

  test('STOU: the name if free, then name.1, name.2; no argument: STOU.1; "150 FILE: name"', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'CWD up', 250);
      let t = await upload(ftp, 'STOU u.txt', 'first');
      expectReply(t.first, 150, 'FILE: u.txt');
      expectReply(t.final as FtpReply, 226, 'Transfer complete.');
      t = await upload(ftp, 'STOU u.txt', 'second');
      expectReply(t.first, 150, 'FILE: u.txt.1');
      t = await upload(ftp, 'STOU u.txt', 'third');
      expectReply(t.first, 150, 'FILE: u.txt.2');
      t = await upload(ftp, 'STOU', 'noname');
      expectReply(t.first, 150, 'FILE: STOU.1');
      expectReply(t.final as FtpReply, 226);
    });
    assert.equal(fs.readFileSync(path.join(env.up, 'u.txt'), 'utf8'), 'first');
    assert.equal(fs.readFileSync(path.join(env.up, 'u.txt.1'), 'utf8'), 'second');
    assert.equal(fs.readFileSync(path.join(env.up, 'u.txt.2'), 'utf8'), 'third');
    assert.equal(fs.readFileSync(path.join(env.up, 'STOU.1'), 'utf8'), 'noname');
    assert.equal(fs.statSync(path.join(env.up, 'STOU.1')).uid, env.user.uid);
  });

  test('STOR failures: 553 Could not create file. (missing directory, unwritable directory)', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'EPSV', 229);
      await cmd(ftp, 'STOR nodir/x', 553, 'Could not create file.');
      await cmd(ftp, 'STOR rootowned.txt', 553, 'Could not create file.');
      await cmd(ftp, 'STOR up', 553, 'Could not create file.');
    });
    assert.equal(fs.existsSync(path.join(env.home, 'rootowned.txt')), false);
  });

  test('DELE: 250 and the file is gone; 550 Delete operation failed. otherwise', T, async () => {
    const p = path.join(env.up, 'del.txt');
    fs.writeFileSync(p, 'x');
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'DELE up/del.txt', 250, 'Delete operation successful.');
      await cmd(ftp, 'DELE up/del.txt', 550, 'Delete operation failed.');
      await cmd(ftp, 'DELE hello.txt', 550, 'Delete operation failed.');
    });
    assert.equal(fs.existsSync(p), false);
    assert.equal(fs.existsSync(path.join(env.home, 'hello.txt')), true);
  });

  test('RNFR/RNTO: 350 Ready for RNTO., 250 Rename successful.; RNTO alone 503; failures 550', T, async () => {
    const p = path.join(env.up, 'old.txt');
    fs.writeFileSync(p, 'content');
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'RNTO up/x', 503, 'RNFR required first.');
      await cmd(ftp, 'RNFR up/nosuch', 550, 'RNFR command failed.');
      await cmd(ftp, 'RNTO up/x', 503, 'RNFR required first.');
      await cmd(ftp, 'RNFR up/old.txt', 350, 'Ready for RNTO.');
      await cmd(ftp, 'RNTO up/new name.txt', 250, 'Rename successful.');
      await cmd(ftp, 'RNTO up/again.txt', 503, 'RNFR required first.');
      await cmd(ftp, 'RNFR up/new name.txt', 350);
      await cmd(ftp, 'RNTO nodir/y', 550, 'Rename failed.');
    });
    assert.equal(fs.existsSync(p), false);
    assert.equal(fs.readFileSync(path.join(env.up, 'new name.txt'), 'utf8'), 'content');
  });

  test('MKD/XMKD: 257 with the absolute quoted path, owner and mode 0755; RMD/XRMD 250', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'CWD up', 250);
      await cmd(ftp, 'MKD d1', 257, '"/up/d1" created');
      await cmd(ftp, 'XMKD /up/say "hi"', 257, '"/up/say ""hi""" created');
      await cmd(ftp, 'MKD d1', 550, 'Create directory operation failed.');
      const st = fs.statSync(path.join(env.up, 'd1'));
      assert.ok(st.isDirectory());
      assert.equal(st.uid, env.user.uid);
      assert.equal(st.mode & 0o7777, 0o755);
      assert.ok(fs.statSync(path.join(env.up, 'say "hi"')).isDirectory());
      await cmd(ftp, 'RMD d1', 250, 'Remove directory operation successful.');
      await cmd(ftp, 'XRMD say "hi"', 250, 'Remove directory operation successful.');
      await cmd(ftp, 'RMD d1', 550, 'Remove directory operation failed.');
      await cmd(ftp, 'MKD /forbidden', 550, 'Create directory operation failed.');
    });
    assert.equal(fs.existsSync(path.join(env.up, 'd1')), false);
  });

  test('SIZE: 213 bytes (binary size in ASCII mode too); 550 for directories and missing files', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'SIZE hello.txt', 213, String(HELLO.length));
      await cmd(ftp, 'TYPE A', 200);
      await cmd(ftp, 'SIZE hello.txt', 213, String(HELLO.length));
      await cmd(ftp, 'SIZE up', 550, 'Could not get file size.');
      await cmd(ftp, 'SIZE nosuch', 550, 'Could not get file size.');
    });
  });

  test('MDTM: get in GMT; set with "MDTM YYYYMMDDHHMMSS file" (mdtm_write) changes mtime', T, async () => {
    const p = path.join(env.up, 'time.txt');
    fs.writeFileSync(p, 'x');
    fs.chownSync(p, env.user.uid, env.user.gid);
    const when = new Date(Date.UTC(2001, 1, 3, 4, 5, 6));
    fs.utimesSync(p, when, when);
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'MDTM up/time.txt', 213, '20010203040506');
      await cmd(ftp, 'MDTM 20200102030405 up/time.txt', 213, 'File modification time set.');
      assert.equal(fs.statSync(p).mtimeMs, Date.UTC(2020, 0, 2, 3, 4, 5));
      await cmd(ftp, 'MDTM up/time.txt', 213, '20200102030405');
      await cmd(ftp, 'MDTM 20190101 up/time.txt', 213, 'File modification time set.');
      assert.equal(fs.statSync(p).mtimeMs, Date.UTC(2019, 0, 1));
      await cmd(ftp, 'MDTM 20200102030405 up/nosuch', 550, 'Could not set file modification time.');
      await cmd(ftp, 'MDTM up', 550, 'Could not get file modification time.');
      await cmd(ftp, 'MDTM nosuch', 550, 'Could not get file modification time.');
    });
  });

  test('MFMT: 213 Modify=...; path, mtime set in UTC; bad time 501; missing file 550', T, async () => {
    const p = path.join(env.up, 'mfmt.txt');
    fs.writeFileSync(p, 'x');
    fs.chownSync(p, env.user.uid, env.user.gid);
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'MFMT 20020717210715 up/mfmt.txt', 213, 'Modify=20020717210715; up/mfmt.txt');
      assert.equal(fs.statSync(p).mtimeMs, Date.UTC(2002, 6, 17, 21, 7, 15));
      await cmd(ftp, 'MFMT 20021317210715 up/mfmt.txt', 501);
      await cmd(ftp, 'MFMT up/mfmt.txt', 501);
      await cmd(ftp, 'MFMT 20020717210715 up/nosuch', 550, 'Could not set file modification time.');
    });
    assert.equal(fs.statSync(p).mtimeMs, Date.UTC(2002, 6, 17, 21, 7, 15));
  });

  test('SITE CHMOD sets 0777 bits only; SITE UMASK shapes the next upload; SITE HELP; unknown SITE', T, async () => {
    const p = path.join(env.up, 'mode.txt');
    fs.writeFileSync(p, 'x', { mode: 0o644 });
    fs.chownSync(p, env.user.uid, env.user.gid);
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'SITE CHMOD 640 up/mode.txt', 200, 'SITE CHMOD command ok.');
      assert.equal(modeOf(p), 0o640);
      await cmd(ftp, 'site chmod 4755 up/mode.txt', 200, 'SITE CHMOD command ok.');
      assert.equal(modeOf(p), 0o755, 'setuid must be dropped');
      await cmd(ftp, 'SITE CHMOD 644', 500, 'SITE CHMOD needs 2 arguments.');
      await cmd(ftp, 'SITE CHMOD', 500, 'SITE CHMOD needs 2 arguments.');
      await cmd(ftp, 'SITE CHMOD 644 up/nosuch', 550, 'SITE CHMOD command failed.');
      await cmd(ftp, 'SITE CHMOD 777 hello.txt', 550, 'SITE CHMOD command failed.');
      await cmd(ftp, 'SITE UMASK', 200, 'Your current UMASK is 022');
      await cmd(ftp, 'SITE UMASK 027', 200, 'UMASK set to 027');
      const t = await upload(ftp, 'STOR up/masked.txt', 'm');
      expectReply(t.final as FtpReply, 226);
      assert.equal(modeOf(path.join(env.up, 'masked.txt')), 0o640);
      await cmd(ftp, 'SITE HELP', 214, 'CHMOD UMASK HELP');
      await cmd(ftp, 'SITE EXEC ls', 500, 'Unknown SITE command.');
      await cmd(ftp, 'SITE', 500, 'Unknown SITE command.');
    });
    assert.equal(modeOf(path.join(env.home, 'hello.txt')), 0o644);
  });

  test('HASH: SHA-256 by default, OPTS HASH selects SHA-1/MD5/CRC32, RANG selects a range', T, async () => {
    const data = crypto.randomBytes(2 * 1024 * 1024 + 3);
    const p = path.join(env.up, 'h.bin');
    fs.writeFileSync(p, data);
    const last = data.length - 1;
    const zcrc = (b: Buffer): string => zlib.crc32(b).toString(16).padStart(8, '0');
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'OPTS HASH', 200, 'SHA-256');
      await cmd(ftp, 'HASH up/h.bin', 213, `SHA-256 0-${last} ${sha256(data)} up/h.bin`);
      await cmd(ftp, 'OPTS HASH sha-1', 200, 'SHA-1');
      await cmd(ftp, 'HASH up/h.bin', 213, `SHA-1 0-${last} ${crypto.createHash('sha1').update(data).digest('hex')} up/h.bin`);
      await cmd(ftp, 'OPTS HASH MD5', 200, 'MD5');
      await cmd(ftp, 'HASH up/h.bin', 213, `MD5 0-${last} ${crypto.createHash('md5').update(data).digest('hex')} up/h.bin`);
      await cmd(ftp, 'OPTS HASH CRC32', 200, 'CRC32');
      await cmd(ftp, 'HASH up/h.bin', 213, `CRC32 0-${last} ${zcrc(data)} up/h.bin`);
      await cmd(ftp, 'OPTS HASH SHA-512', 501, 'Unknown algorithm, current selection not changed');
      await cmd(ftp, 'OPTS HASH', 200, 'CRC32');
      const feat = await cmd(ftp, 'FEAT', 211);
      assert.ok(feat.lines.includes(' HASH SHA-256;SHA-1;MD5;CRC32*'), feat.text);
      await cmd(ftp, 'RANG 10 1048586', 350, 'Restarting at 10. End byte range at 1048586.');
      await cmd(ftp, 'HASH up/h.bin', 213, `CRC32 10-1048586 ${zcrc(data.subarray(10, 1048587))} up/h.bin`);
      await cmd(ftp, 'RANG 5 4', 501);
      await cmd(ftp, 'RANG 1 0', 350);
      await cmd(ftp, 'HASH up/h.bin', 213, `CRC32 0-${last} ${zcrc(data)} up/h.bin`);
      await cmd(ftp, 'HASH up', 553);
      await cmd(ftp, 'HASH up/nosuch', 550, 'Failed to open file.');
    });
  });

  test('RANG + RETR sends the inclusive range; RANG + STOR is refused (504)', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE I', 200);
      await cmd(ftp, 'RANG 1 3', 350);
      const t = await download(ftp, 'RETR hello.txt');
      assert.equal(t.data.toString(), HELLO.slice(1, 4));
      expectReply(t.final as FtpReply, 226);
      await cmd(ftp, 'RANG 0 1', 350);
      await cmd(ftp, 'EPSV', 229);
      await cmd(ftp, 'STOR up/ranged', 504, 'Command not implemented for that parameter.');
    });
    assert.equal(fs.existsSync(path.join(env.up, 'ranged')), false);
  });

  test('AVBL: 213 with the bytes available to users on that filesystem; 550 for a file', T, async () => {
    await withSession(env, async (ftp) => {
      const r = await cmd(ftp, 'AVBL', 213);
      const st = fs.statfsSync(env.home, { bigint: true });
      const expected = st.bavail * st.bsize;
      const got = BigInt(r.message);
      const diff = got > expected ? got - expected : expected - got;
      assert.ok(diff < 64n * 1024n * 1024n, `AVBL ${got} vs statfs ${expected}`);
      await cmd(ftp, 'AVBL up', 213, /^[0-9]+$/);
      await cmd(ftp, 'AVBL hello.txt', 550);
      await cmd(ftp, 'AVBL nosuch', 550);
    });
  });

  test('delete_failed_uploads=NO: an upload cut by a reset keeps the partial file', T, async () => {
    await withSession(env, async (ftp) => {
      const sock = await connectData(await epsv(ftp));
      sock.on('error', () => undefined);
      await cmd(ftp, 'STOR up/partial.bin', 150);
      sock.write(Buffer.alloc(1000, 1));
      await new Promise((r) => setTimeout(r, 200));
      sock.resetAndDestroy();
      expectReply(await ftp.reply(10_000), 426, 'Failure reading network stream.');
    });
    assert.equal(fs.statSync(path.join(env.up, 'partial.bin')).size, 1000);
  });
});

describe('session commands', () => {
  let env: Env;
  before(async () => {
    env = await startLocal({ chmod_enable: false });
  });
  after(async () => {
    await env.d.stop();
  });

  test('TYPE A/A N/I/L 8/L8, bad TYPE; MODE S/B; STRU F/R; ALLO; ACCT/REIN/SMNT 502', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE A', 200, 'Switching to ASCII mode.');
      await cmd(ftp, 'TYPE A N', 200, 'Switching to ASCII mode.');
      await cmd(ftp, 'TYPE I', 200, 'Switching to Binary mode.');
      await cmd(ftp, 'TYPE L 8', 200, 'Switching to Binary mode.');
      await cmd(ftp, 'type l8', 200, 'Switching to Binary mode.');
      await cmd(ftp, 'TYPE E', 500, 'Unrecognised TYPE command.');
      await cmd(ftp, 'MODE S', 200, 'Mode set to S.');
      await cmd(ftp, 'MODE B', 504, 'Bad MODE command.');
      await cmd(ftp, 'STRU F', 200, 'Structure set to F.');
      await cmd(ftp, 'STRU R', 504, 'Bad STRU command.');
      await cmd(ftp, 'ALLO 1000', 202, 'ALLO command ignored.');
      await cmd(ftp, 'ACCT x', 502, 'ACCT not implemented.');
      await cmd(ftp, 'REIN', 502, 'REIN not implemented.');
      await cmd(ftp, 'SMNT /', 502, 'SMNT not implemented.');
      await cmd(ftp, 'XYZZY', 500, 'Unknown command.');
    });
  });

  test('HELP lists the verbs of the command table in vsftpd\'s layout', T, async () => {
    await withSession(env, async (ftp) => {
      const r = await cmd(ftp, 'HELP', 214, 'Help OK.');
      assert.equal(r.lines[0], '214-The following commands are recognized.');
      const verbs = r.lines.slice(1, -1).join(' ').trim().split(/\s+/);
      for (const v of ['ABOR', 'APPE', 'AVBL', 'CWD', 'DELE', 'HASH', 'HELP', 'MFMT', 'RETR', 'SITE', 'STOU', 'XRMD']) {
        assert.ok(verbs.includes(v), `HELP lists ${v}`);
      }
      assert.ok(!verbs.includes('GET'));
      assert.deepEqual(verbs, [...verbs].sort());
      for (const line of r.lines.slice(1, -1)) assert.match(line, /^ [A-Z@]/);
    });
  });

  test('FEAT: exact list for this config; OPTS MLST and OPTS HASH move the stars', T, async () => {
    await withSession(env, async (ftp) => {
      const r = await cmd(ftp, 'FEAT', 211, 'End');
      assert.deepEqual(r.lines, [
        '211-Features:',
        ' AVBL',
        ' EPRT',
        ' EPSV',
        ' HASH SHA-256*;SHA-1;MD5;CRC32',
        ' MDTM',
        ' MFMT',
        ' MLST modify*;perm*;size*;type*;unix.group*;unix.mode*;unix.owner*;',
        ' PASV',
        ' REST STREAM',
        ' SIZE',
        ' TVFS',
        '211 End',
      ]);
      await cmd(ftp, 'OPTS MLST Type;Size;bogus;', 200, 'MLST OPTS type;size;');
      const r2 = await cmd(ftp, 'FEAT', 211);
      assert.ok(r2.lines.includes(' MLST modify;perm;size*;type*;unix.group;unix.mode;unix.owner;'), r2.text);
      await cmd(ftp, 'OPTS MLST', 200, 'MLST OPTS');
      await cmd(ftp, 'OPTS MLST modify;perm;size;type;unix.group;unix.mode;unix.owner;', 200,
        'MLST OPTS modify;perm;size;type;unix.group;unix.mode;unix.owner;');
    });
  });

  test('OPTS UTF8 ON → 200 Always in UTF8 mode.; OFF and unknown options → 501', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'OPTS UTF8 ON', 200, 'Always in UTF8 mode.');
      await cmd(ftp, 'opts utf8 on', 200, 'Always in UTF8 mode.');
      await cmd(ftp, 'OPTS UTF8 OFF', 501, 'Option not understood.');
      await cmd(ftp, 'OPTS FOO', 501, 'Option not understood.');
    });
  });

  test('CLNT: 200 Noted. and one JSON log line with the sanitized name', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'CLNT TestClient 1.0\x1b[1m', 200, 'Noted.');
    });
    const find = (): { user?: string; name?: string } | undefined =>
      env.d
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"client_name"'))
        .map((l) => JSON.parse(l) as { user?: string; name?: string })
        .find((e) => e.user === env.user.name);
    const deadline = Date.now() + 3_000;
    while (find() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(find()?.name, 'TestClient 1.0?[1m');
  });

  test('chmod_enable=NO: SITE CHMOD is unknown, SITE HELP says UMASK HELP', T, async () => {
    const p = path.join(env.up, 'c.txt');
    fs.writeFileSync(p, 'x', { mode: 0o644 });
    fs.chownSync(p, env.user.uid, env.user.gid);
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'SITE CHMOD 600 up/c.txt', 500, 'Unknown SITE command.');
      await cmd(ftp, 'SITE HELP', 214, 'UMASK HELP');
    });
    assert.equal(modeOf(p), 0o644);
  });
});

describe('ASCII mode, delete_failed_uploads, data timeout, full disk', () => {
  let env: Env;
  before(async () => {
    env = await startLocal({
      ascii_download_enable: true,
      ascii_upload_enable: true,
      delete_failed_uploads: true,
      mdtm_write: false,
      data_connection_timeout: 2,
    });
    fs.writeFileSync(path.join(env.home, 'unix.txt'), 'a\nb\r\nc\n');
  });
  after(async () => {
    await env.d.stop();
  });

  test('TYPE A RETR converts LF → CRLF with the ASCII text; TYPE I sends the bytes', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE A', 200);
      let t = await download(ftp, 'RETR unix.txt');
      expectReply(t.first, 150, 'Opening ASCII mode data connection for unix.txt (7 bytes).');
      assert.equal(t.data.toString('latin1'), 'a\r\nb\r\nc\r\n');
      expectReply(t.final as FtpReply, 226);
      await cmd(ftp, 'TYPE I', 200);
      t = await download(ftp, 'RETR unix.txt');
      expectReply(t.first, 150, 'Opening BINARY mode data connection for unix.txt (7 bytes).');
      assert.equal(t.data.toString('latin1'), 'a\nb\r\nc\n');
    });
  });

  test('TYPE A STOR strips CR before LF, keeps lone CRs; TYPE A + REST + RETR → 550', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE A', 200);
      const t = await upload(ftp, 'STOR up/dos.txt', 'x\r\ny\rz\r\n\r\nend\r');
      expectReply(t.final as FtpReply, 226);
      assert.equal(fs.readFileSync(path.join(env.up, 'dos.txt'), 'latin1'), 'x\ny\rz\n\nend\r');
      await cmd(ftp, 'REST 1', 350);
      await cmd(ftp, 'EPSV', 229);
      await cmd(ftp, 'RETR unix.txt', 550, 'No support for resume of ASCII transfer.');
    });
  });

  test('mdtm_write=NO: "MDTM time file" is read as a file name (550), mtime unchanged; MFMT 550', T, async () => {
    const p = path.join(env.up, 'keep.txt');
    fs.writeFileSync(p, 'x');
    fs.chownSync(p, env.user.uid, env.user.gid);
    const before = fs.statSync(p).mtimeMs;
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'MDTM 20200102030405 up/keep.txt', 550, 'Could not get file modification time.');
      await cmd(ftp, 'MFMT 20200102030405 up/keep.txt', 550, 'Permission denied.');
      const feat = await cmd(ftp, 'FEAT', 211);
      assert.ok(!feat.lines.includes(' MFMT'));
    });
    assert.equal(fs.statSync(p).mtimeMs, before);
  });

  test('delete_failed_uploads=YES: a reset upload is removed; a failed APPE keeps the old file', T, async () => {
    const old = path.join(env.up, 'old.log');
    fs.writeFileSync(old, 'precious\n');
    fs.chownSync(old, env.user.uid, env.user.gid);
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE I', 200);
      for (const [verb, name] of [['STOR', 'cut.bin'], ['APPE', 'old.log']] as const) {
        const sock = await connectData(await epsv(ftp));
        sock.on('error', () => undefined);
        await cmd(ftp, `${verb} up/${name}`, 150);
        sock.write(Buffer.alloc(500, 2));
        await new Promise((r) => setTimeout(r, 200));
        sock.resetAndDestroy();
        expectReply(await ftp.reply(10_000), 426, 'Failure reading network stream.');
      }
    });
    assert.equal(fs.existsSync(path.join(env.up, 'cut.bin')), false);
    assert.ok(fs.readFileSync(old, 'latin1').startsWith('precious\n'));
  });

  test('delete_failed_uploads=YES and a failed data connection: a new file is removed, an existing one kept', T, async () => {
    const kept = path.join(env.up, 'kept.txt');
    fs.writeFileSync(kept, 'keep me\n');
    fs.chownSync(kept, env.user.uid, env.user.gid);
    const closed = await freePort();
    await withSession(env, async (ftp) => {
      for (const name of ['kept.txt', 'never.txt']) {
        await cmd(ftp, `EPRT |1|${HOST}|${closed}|`, 200);
        await cmd(ftp, `STOR up/${name}`, 425, 'Failed to establish connection.');
      }
    });
    assert.equal(fs.readFileSync(kept, 'utf8'), 'keep me\n');
    assert.equal(fs.existsSync(path.join(env.up, 'never.txt')), false);
  });

  test('data_connection_timeout: a stalled upload gets 421 Data timeout. Reconnect. Sorry. and the session ends', T, async () => {
    const ftp = await session(env);
    try {
      const sock = await connectData(await epsv(ftp));
      sock.on('error', () => undefined);
      await cmd(ftp, 'STOR up/stall.bin', 150);
      const r = await ftp.reply(10_000);
      expectReply(r, 421, 'Data timeout. Reconnect. Sorry.');
      assert.equal(await ftp.waitClose(5_000), true);
      sock.destroy();
    } finally {
      ftp.close();
    }
    assert.equal(fs.existsSync(path.join(env.up, 'stall.bin')), false, 'delete_failed_uploads removes it');
  });

  test('full disk: STOR answers 452 and (delete_failed_uploads) leaves nothing', T, async (t) => {
    const small = path.join(env.up, 'small');
    fs.mkdirSync(small);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=256k,mode=0755,uid=${env.user.uid},gid=${env.user.gid}`, 'tmpfs', small]);
    if (m.status !== 0) {
      t.skip(`cannot mount a tmpfs here: ${m.stderr.toString().trim()}`);
      return;
    }
    try {
      await withSession(env, async (ftp) => {
        await cmd(ftp, 'TYPE I', 200);
        const tr = await upload(ftp, 'STOR up/small/big.bin', crypto.randomBytes(1024 * 1024));
        expectReply(tr.first, 150);
        expectReply(tr.final as FtpReply, 452, 'Insufficient storage space in system.');
      });
      assert.equal(fs.existsSync(path.join(small, 'big.bin')), false);
    } finally {
      spawnSync('umount', ['-l', small]);
    }
  });
});

// ---------------------------------------------------------------------------
// anonymous gates (vsftpd's postlogin.c table)

const WRITE_COMMANDS = ['STOR up/n.txt', 'STOU up/n.txt', 'APPE up/existing.txt', 'MKD up/d', 'RMD up/adir', 'DELE up/existing.txt', 'RNFR up/existing.txt', 'RNTO up/x', 'SITE UMASK', 'SITE CHMOD 777 up/existing.txt', 'MFMT 20200101000000 up/existing.txt'];

describe('anonymous, write_enable=NO: every write command is 550 Permission denied.', () => {
  let env: Env;
  before(async () => {
    env = await startAnon({ write_enable: false, anon_upload_enable: true, anon_mkdir_write_enable: true, anon_other_write_enable: true });
  });
  after(async () => {
    await env.d.stop();
  });

  test('STOR STOU APPE MKD RMD DELE RNFR RNTO SITE MFMT → 550; nothing changes on disk', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'EPSV', 229);
      for (const line of WRITE_COMMANDS) await cmd(ftp, line, 550, 'Permission denied.');
      await cmd(ftp, 'MDTM 20200102030405 up/existing.txt', 550, 'Could not get file modification time.');
      await cmd(ftp, 'SIZE up/existing.txt', 213, '4');
    }, 'anon');
    assert.deepEqual(fs.readdirSync(env.up).sort(), ['adir', 'existing.txt']);
    assert.equal(fs.readFileSync(path.join(env.up, 'existing.txt'), 'utf8'), 'old\n');
  });
});

describe('anonymous, write_enable + anon_upload_enable only', () => {
  let env: Env;
  before(async () => {
    env = await startAnon({ write_enable: true, anon_upload_enable: true });
  });
  after(async () => {
    await env.d.stop();
  });

  test('STOR of a new file works (owner: the anonymous user, mode 0644); STOU works', T, async () => {
    await withSession(env, async (ftp) => {
      let t = await upload(ftp, 'STOR up/anon.txt', 'anon upload');
      expectReply(t.final as FtpReply, 226, 'Transfer complete.');
      t = await upload(ftp, 'STOU up/anon.txt', 'again');
      expectReply(t.first, 150, 'FILE: up/anon.txt.1');
      expectReply(t.final as FtpReply, 226);
    }, 'anon');
    const st = fs.statSync(path.join(env.up, 'anon.txt'));
    assert.equal(st.uid, env.user.uid);
    assert.equal(st.mode & 0o7777, 0o644);
    assert.equal(fs.readFileSync(path.join(env.up, 'anon.txt.1'), 'utf8'), 'again');
  });

  test('anonymous STOR never overwrites: 553 Could not create file., content unchanged', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'EPSV', 229);
      await cmd(ftp, 'STOR up/existing.txt', 553, 'Could not create file.');
    }, 'anon');
    assert.equal(fs.readFileSync(path.join(env.up, 'existing.txt'), 'utf8'), 'old\n');
  });

  test('MKD (no anon_mkdir_write_enable), APPE DELE RMD RNFR RNTO (no anon_other_write_enable), SITE → 550', T, async () => {
    await withSession(env, async (ftp) => {
      for (const line of ['MKD up/d', 'XMKD up/d', 'APPE up/existing.txt', 'DELE up/existing.txt', 'RMD up/adir', 'XRMD up/adir', 'RNFR up/existing.txt', 'RNTO up/x', 'SITE HELP', 'MFMT 20200101000000 up/existing.txt']) {
        await cmd(ftp, line, 550, 'Permission denied.');
      }
      await cmd(ftp, 'MDTM 20200102030405 up/existing.txt', 550, 'Could not get file modification time.');
    }, 'anon');
    assert.ok(fs.existsSync(path.join(env.up, 'existing.txt')));
    assert.ok(fs.existsSync(path.join(env.up, 'adir')));
    assert.ok(!fs.existsSync(path.join(env.up, 'd')));
  });
});

describe('anonymous, anon_mkdir_write_enable + anon_other_write_enable', () => {
  let env: Env;
  before(async () => {
    env = await startAnon({ write_enable: true, anon_upload_enable: true, anon_mkdir_write_enable: true, anon_other_write_enable: true });
  });
  after(async () => {
    await env.d.stop();
  });

  test('MKD, STOR overwrite, APPE, RNFR/RNTO, MDTM set, DELE, RMD all work; SITE still 550', T, async () => {
    const existing = path.join(env.up, 'existing.txt');
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'MKD up/newdir', 257, '"/up/newdir" created');
      let t = await upload(ftp, 'STOR up/existing.txt', 'new\n');
      expectReply(t.final as FtpReply, 226);
      assert.equal(fs.readFileSync(existing, 'utf8'), 'new\n');
      t = await upload(ftp, 'APPE up/existing.txt', 'more\n');
      expectReply(t.final as FtpReply, 226);
      assert.equal(fs.readFileSync(existing, 'utf8'), 'new\nmore\n');
      await cmd(ftp, 'MDTM 20100101000000 up/existing.txt', 213, 'File modification time set.');
      assert.equal(fs.statSync(existing).mtimeMs, Date.UTC(2010, 0, 1));
      await cmd(ftp, 'RNFR up/existing.txt', 350);
      await cmd(ftp, 'RNTO up/renamed.txt', 250);
      await cmd(ftp, 'DELE up/renamed.txt', 250);
      await cmd(ftp, 'RMD up/adir', 250);
      await cmd(ftp, 'SITE UMASK', 550, 'Permission denied.');
    }, 'anon');
    assert.deepEqual(fs.readdirSync(env.up).sort(), ['newdir']);
    assert.equal(fs.statSync(path.join(env.up, 'newdir')).uid, env.user.uid);
  });
});

describe('anonymous, chown_uploads=YES', () => {
  let env: Env;
  before(async () => {
    env = await startAnon({ write_enable: true, anon_upload_enable: true, chown_uploads: true, chown_upload_mode: '0640' });
  });
  after(async () => {
    await env.d.stop();
  });

  test('STOR: the upload belongs to chown_username (root) with chown_upload_mode, content intact', T, async () => {
    await withSession(env, async (ftp) => {
      const t = await upload(ftp, 'STOR up/given.txt', 'given away\n');
      expectReply(t.first, 150, 'Ok to send data.');
      expectReply(t.final as FtpReply, 226, 'Transfer complete.');
    }, 'anon');
    const p = path.join(env.up, 'given.txt');
    const st = fs.statSync(p);
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(fs.readFileSync(p, 'utf8'), 'given away\n');
  });
});
