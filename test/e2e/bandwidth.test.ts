// Bandwidth limits with real transfers (local_max_rate, anon_max_rate,
// user_max_rate), a transfer that outlives SIGTERM (shutdown_timeout), and
// the xferlog line of STOU naming the file actually created.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { runCurl } from '../helpers/clients';
import { makeTempDir, startDaemon, type Daemon } from '../helpers/daemon';
import { collect, connectWithGreeting, dataConnect, login, parsePasv } from '../helpers/ftp';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const T = { timeout: 120_000 };
const RATE = 500_000; // bytes per second
const SIZE = 5_000_000; // 10 s at RATE
const suite = e2eSuite();
const users = suite.users;
const dirs = suite.dirs;



function tempDir(prefix: string): string {
  const d = makeTempDir(prefix);
  dirs.push(d);
  return d;
}

/** A jailed user with big.bin (SIZE bytes) and a writable incoming/. */
function makeUser(): TestUser {
  const home = tempDir('tsftpd-bw-');
  const user = users.create({ home });
  fs.writeFileSync(path.join(home, 'big.bin'), Buffer.alloc(SIZE, 0x5a), { mode: 0o644 });
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

async function timed<R>(fn: () => Promise<R>): Promise<{ r: R; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return { r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** The achieved rate is within 5 % of the limit (never much above it). */
function assertRate(bytes: number, seconds: number, limit: number, what: string): void {
  const rate = bytes / seconds;
  console.log(`  ${what}: ${bytes} bytes in ${seconds.toFixed(2)} s = ${Math.round(rate)} B/s (limit ${limit})`);
  assert.ok(rate <= limit * 1.05 && rate >= limit * 0.95, `${what}: ${Math.round(rate)} B/s is not within 5 % of ${limit}`);
}

describe('per-session limits', () => {
  test('local_max_rate: a 10 s download and a 10 s upload stay within 5 % of the limit', T, async () => {
    const u = makeUser();
    const local = path.join(tempDir('tsftpd-bw-l-'), 'up.bin');
    fs.writeFileSync(local, Buffer.alloc(SIZE, 0x41));
    await withDaemon({ write_enable: true, local_max_rate: RATE }, async (d) => {
      const down = await timed(() =>
        runCurl({ user: u.name, password: u.password, port: d.port, path: '/big.bin', extraArgs: ['-o', '/dev/null'] }),
      );
      assert.equal(down.r.code, 0, down.r.stderr);
      assertRate(SIZE, down.seconds, RATE, 'download');
      const up = await timed(() => runCurl({ user: u.name, password: u.password, port: d.port, path: '/incoming/up.bin', upload: local }));
      assert.equal(up.r.code, 0, up.r.stderr);
      assert.equal(fs.statSync(path.join(u.home, 'incoming', 'up.bin')).size, SIZE);
      assertRate(SIZE, up.seconds, RATE, 'upload');
    });
  });
});

describe('user_max_rate (shared by one user\'s sessions)', () => {
  test('two parallel downloads of one user share the budget', T, async () => {
    const u = makeUser();
    await withDaemon({ user_max_rate: 2 * RATE }, async (d) => {
      const one = (): Promise<{ r: Awaited<ReturnType<typeof runCurl>>; seconds: number }> =>
        timed(() => runCurl({ user: u.name, password: u.password, port: d.port, path: '/big.bin', extraArgs: ['-o', '/dev/null'] }));
      const { seconds, r } = await timed(() => Promise.all([one(), one()]));
      for (const x of r) assert.equal(x.r.code, 0, x.r.stderr);
      // Together 2 x SIZE at the user's budget: ~10 s, not ~5 s.
      assertRate(2 * SIZE, seconds, 2 * RATE, 'two sessions together');
    });
  });
});

describe('SIGTERM and live transfers', () => {
  test('a download running when SIGTERM arrives completes; the daemon then exits', T, async () => {
    const u = makeUser();
    const d = await startDaemon({ options: { chroot_local_user: true, local_max_rate: 2_000_000, shutdown_timeout: 20 } });
    try {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        await login(ftp, u.name, u.password);
        await ftp.command('TYPE I');
        const { host, port } = parsePasv(await ftp.command('PASV'));
        ftp.send('RETR big.bin');
        const data = await dataConnect(host, port);
        const received = collect(data, 30_000);
        assert.equal((await ftp.reply()).code, 150);
        await new Promise((r) => setTimeout(r, 800));
        process.kill(d.pid, 'SIGTERM');
        const got = await received;
        assert.equal(got.length, SIZE, 'the whole file arrived after SIGTERM');
        assert.equal((await ftp.reply(10_000)).text, '226 Transfer complete.');
        assert.equal((await ftp.reply(10_000)).text, '421 Server shutting down.');
      } finally {
        ftp.close();
      }
    } finally {
      const left = await d.stop();
      assert.deepEqual(left, [], 'no process left');
    }
  });
});

describe('xferlog', () => {
  test('STOU logs the name actually created (vsftpd logs the requested one)', T, async () => {
    const u = makeUser();
    const logDir = tempDir('tsftpd-bw-log-');
    const xfer = path.join(logDir, 'xferlog');
    fs.writeFileSync(path.join(u.home, 'incoming', 'same.txt'), 'exists\n');
    await withDaemon({ write_enable: true, xferlog_enable: true, xferlog_std_format: true, xferlog_file: xfer }, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        await login(ftp, u.name, u.password);
        const { host, port } = parsePasv(await ftp.command('PASV'));
        ftp.send('STOU incoming/same.txt');
        const data = await dataConnect(host, port);
        const first = await ftp.reply();
        assert.equal(first.text, '150 FILE: incoming/same.txt.1');
        await new Promise<void>((resolve) => data.end('unique\n', () => resolve()));
        assert.match((await ftp.reply(10_000)).text, /^226 /);
      } finally {
        ftp.close();
      }
    });
    const line = fs.readFileSync(xfer, 'utf8').trim().split('\n').pop() ?? '';
    // The session is in TYPE A, but without ascii_upload_enable no conversion
    // happens: tsftpd logs the type really used (b), vsftpd would log a.
    assert.match(line, / 7 \/incoming\/same\.txt\.1 b _ i r /, line);
  });
});
