// The native RETR/STOR fast path (native/transfer.c, src/worker/transfer.ts):
// plain binary transfers run in a libuv pool thread (sendfile for RETR,
// read/write for STOR). Byte-exact large transfers, REST+RETR, REST+STOR,
// APPE, ABOR during a native RETR and STOR (the session survives, no
// descriptor leaks), a client killing the data connection (426, the file
// kept), data_connection_timeout during a stalled transfer, and the JS path
// still taken for ASCII.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { runCurl } from '../helpers/clients';
import { makeTempDir, startDaemon, type Daemon } from '../helpers/daemon';
import { collect, dataConnect, FtpControl, login, parseEpsv, type FtpReply } from '../helpers/ftp';
import { connectionHolders, isAlive, sleep, startTimeOf, waitFor } from '../helpers/proc';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const T = { timeout: 60_000 };
const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
/** Large enough that it cannot sit in socket buffers: a client that stops reading stalls it. */
const BIG = 48 * MiB;

const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;
let user: TestUser;
let home: string;
let bigData: Buffer;
let d: Daemon;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

before(async () => {
  home = makeTempDir('tsftpd-fast-');
  tempDirs.push(home);
  bigData = randomBytes(BIG);
  fs.writeFileSync(path.join(home, 'big.bin'), bigData, { mode: 0o644 });
  fs.writeFileSync(path.join(home, 'lines.txt'), 'one\ntwo\n', { mode: 0o644 });
  fs.mkdirSync(path.join(home, 'up'), { mode: 0o755 });
  user = users.create({ home });
  fs.chownSync(path.join(home, 'up'), user.uid, user.gid);
  d = await startDaemon({ options: { write_enable: true, ascii_download_enable: true, async_abor_enable: true } });
});

// ---------------------------------------------------------------------------
// helpers

async function session(daemon: Daemon = d): Promise<FtpControl> {
  const ftp = await FtpControl.connect(HOST, daemon.port);
  expect(await ftp.reply(), 220);
  const l = await login(ftp, user.name, user.password);
  assert.equal(l.pass?.code, 230, l.pass?.text);
  await cmd(ftp, 'TYPE I', 200);
  return ftp;
}

function expect(r: FtpReply, code: number): void {
  assert.equal(r.code, code, r.text);
}

async function cmd(ftp: FtpControl, line: string, code: number): Promise<FtpReply> {
  const r = await ftp.command(line);
  expect(r, code);
  return r;
}

/** EPSV, then the data connection for the next transfer command. */
async function openData(ftp: FtpControl): Promise<() => Promise<net.Socket>> {
  const port = parseEpsv(await cmd(ftp, 'EPSV', 229));
  return () => dataConnect(HOST, port, { timeoutMs: 5_000 });
}

/** RETR name on a fresh data connection; returns the bytes and the final reply. */
async function retr(ftp: FtpControl, name: string): Promise<{ data: Buffer; final: FtpReply }> {
  const connect = await openData(ftp);
  const sock = await connect();
  const got = collect(sock, 30_000);
  expect(await ftp.command(`RETR ${name}`), 150);
  const data = await got;
  return { data, final: await ftp.reply(30_000) };
}

/** STOR (or APPE) name with data on a fresh data connection; returns the final reply. */
async function store(ftp: FtpControl, verb: string, name: string, data: Buffer): Promise<FtpReply> {
  const connect = await openData(ftp);
  const sock = await connect();
  sock.on('error', () => undefined);
  expect(await ftp.command(`${verb} ${name}`), 150);
  await new Promise<void>((resolve) => sock.end(data, resolve));
  return ftp.reply(30_000);
}

/** STOR up/name, send `first` and leave the data connection open once it is on disk. */
async function uploadStarted(ftp: FtpControl, name: string, first: Buffer): Promise<net.Socket> {
  const connect = await openData(ftp);
  const sock = await connect();
  sock.on('error', () => undefined);
  expect(await ftp.command(`STOR up/${name}`), 150);
  await new Promise<void>((resolve) => sock.write(first, () => resolve()));
  const onDisk = (): boolean => fs.statSync(path.join(home, 'up', name)).size === first.length;
  await waitFor(onDisk, 10_000, 'the first bytes on disk');
  return sock;
}

/** The session worker serving this control connection. */
function workerPid(ftp: FtpControl, daemon: Daemon = d): number {
  const holders = connectionHolders(daemon.pid, daemon.port, ftp.localPort).filter((p) => p.pid !== daemon.pid);
  const pid = holders[holders.length - 1]?.pid;
  assert.ok(pid !== undefined, 'no worker holds the control connection');
  return pid;
}

function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * A thread of pid other than the main one sits in poll(2): a native loop
 * waiting on its socket (the event loop uses epoll, V8's threads futex).
 */
function nativeLoopWaiting(pid: number): boolean {
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    if (tid === String(pid)) continue;
    try {
      const nr = fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ')[0];
      // poll, ppoll on x86_64; ppoll on aarch64
      if (nr === '7' || nr === '271' || nr === '73') return true;
    } catch {
      // the thread went away
    }
  }
  return false;
}

// ---------------------------------------------------------------------------

describe('native fast path: whole files', () => {
  test('RETR of a large file with curl is byte-exact', T, async () => {
    const out = path.join(makeTempDir('tsftpd-fast-out-'), 'big.bin');
    tempDirs.push(path.dirname(out));
    const r = await runCurl({ user: user.name, password: user.password, port: d.port, path: 'big.bin', extraArgs: ['-o', out] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(fs.readFileSync(out)), sha(bigData));
  });

  test('STOR of a large file with curl is byte-exact; STOR again replaces it', T, async () => {
    const src = path.join(makeTempDir('tsftpd-fast-in-'), 'big.bin');
    tempDirs.push(path.dirname(src));
    fs.writeFileSync(src, bigData);
    const r = await runCurl({ user: user.name, password: user.password, port: d.port, path: 'up/big-up.bin', upload: src });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(fs.readFileSync(path.join(home, 'up', 'big-up.bin'))), sha(bigData));
    const ftp = await session();
    expect(await store(ftp, 'STOR', 'up/big-up.bin', Buffer.from('short\n')), 226);
    assert.equal(fs.readFileSync(path.join(home, 'up', 'big-up.bin'), 'utf8'), 'short\n');
    ftp.close();
  });

  test('REST+RETR and RANG+RETR send exactly the requested bytes', T, async () => {
    const ftp = await session();
    const at = 12_345_678;
    await cmd(ftp, `REST ${at}`, 350);
    const r1 = await retr(ftp, 'big.bin');
    expect(r1.final, 226);
    assert.equal(r1.data.length, BIG - at);
    assert.equal(sha(r1.data), sha(bigData.subarray(at)));
    await cmd(ftp, 'RANG 1000 1999', 350);
    const r2 = await retr(ftp, 'big.bin');
    expect(r2.final, 226);
    assert.ok(r2.data.equals(bigData.subarray(1000, 2000)));
    // Beyond the end: nothing, and success (as the JS path).
    await cmd(ftp, `REST ${BIG + 10}`, 350);
    const r3 = await retr(ftp, 'big.bin');
    expect(r3.final, 226);
    assert.equal(r3.data.length, 0);
    ftp.close();
  });

  test('REST+STOR writes at the offset, APPE appends', T, async () => {
    const ftp = await session();
    const half = 3 * MiB + 17;
    const part = bigData.subarray(0, 6 * MiB);
    expect(await store(ftp, 'STOR', 'up/resume.bin', part.subarray(0, half)), 226);
    await cmd(ftp, `REST ${half}`, 350);
    expect(await store(ftp, 'STOR', 'up/resume.bin', part.subarray(half)), 226);
    assert.equal(sha(fs.readFileSync(path.join(home, 'up', 'resume.bin'))), sha(part));
    expect(await store(ftp, 'APPE', 'up/resume.bin', bigData.subarray(6 * MiB, 8 * MiB)), 226);
    assert.equal(sha(fs.readFileSync(path.join(home, 'up', 'resume.bin'))), sha(bigData.subarray(0, 8 * MiB)));
    ftp.close();
  });

  test('TYPE A RETR still converts line ends (the JS path)', T, async () => {
    const ftp = await session();
    await cmd(ftp, 'TYPE A', 200);
    const r = await retr(ftp, 'lines.txt');
    expect(r.final, 226);
    assert.equal(r.data.toString('latin1'), 'one\r\ntwo\r\n');
    ftp.close();
  });
});

describe('native fast path: ABOR and broken connections', () => {
  test('ABOR during a native RETR: 426 then 226; the session goes on; no descriptor leaks', T, async () => {
    const ftp = await session();
    const pid = workerPid(ftp);
    const fdsBefore = fdCount(pid);
    const connect = await openData(ftp);
    const sock = await connect();
    sock.on('error', () => undefined);
    sock.pause(); // the client stops reading: the server's sendfile stalls
    expect(await ftp.command('RETR big.bin'), 150);
    await waitFor(() => nativeLoopWaiting(pid), 10_000, 'a native loop waiting in poll');
    // The event loop is free while the thread transfers.
    await cmd(ftp, 'STAT', 211);
    ftp.send('ABOR');
    expect(await ftp.reply(5_000), 426);
    expect(await ftp.reply(5_000), 226);
    sock.destroy();
    const again = await retr(ftp, 'lines.txt');
    expect(again.final, 226);
    assert.equal(again.data.toString(), 'one\ntwo\n');
    await waitFor(() => (fdCount(pid) === fdsBefore ? true : null), 5_000, `fd count back to ${fdsBefore}`);
    ftp.close();
  });

  test('ABOR during a native STOR: 426 then 226; the bytes received are kept; the session goes on', T, async () => {
    const ftp = await session();
    const pid = workerPid(ftp);
    const fdsBefore = fdCount(pid);
    const sent = bigData.subarray(0, 2 * MiB);
    const sock = await uploadStarted(ftp, 'aborted.bin', sent);
    assert.ok(nativeLoopWaiting(pid), 'the upload runs in a native loop');
    ftp.send('ABOR');
    expect(await ftp.reply(5_000), 426);
    expect(await ftp.reply(5_000), 226);
    sock.destroy();
    assert.ok(fs.readFileSync(path.join(home, 'up', 'aborted.bin')).equals(sent));
    expect(await store(ftp, 'STOR', 'up/after-abor.bin', Buffer.from('next\n')), 226);
    assert.equal(fs.readFileSync(path.join(home, 'up', 'after-abor.bin'), 'utf8'), 'next\n');
    await waitFor(() => (fdCount(pid) === fdsBefore ? true : null), 5_000, `fd count back to ${fdsBefore}`);
    ftp.close();
  });

  test('the client drops the control connection during a stalled native RETR: the session process exits', T, async () => {
    const ftp = await session();
    const pid = workerPid(ftp);
    const started = startTimeOf(pid) ?? undefined;
    const connect = await openData(ftp);
    const sock = await connect();
    sock.on('error', () => undefined);
    sock.pause();
    expect(await ftp.command('RETR big.bin'), 150);
    await waitFor(() => nativeLoopWaiting(pid), 10_000, 'a native loop waiting in poll');
    ftp.close();
    // A pool thread blocked in the loop must not keep the process alive.
    await waitFor(() => !isAlive(pid, started), 3_000, `session process ${pid} gone`);
    sock.destroy();
  });

  test('the client resets the data connection during RETR: 426; the session goes on', T, async () => {
    const ftp = await session();
    const connect = await openData(ftp);
    const sock = await connect();
    sock.on('error', () => undefined);
    const first = new Promise<void>((resolve) => sock.once('data', () => resolve()));
    expect(await ftp.command('RETR big.bin'), 150);
    await first;
    sock.pause();
    sock.resetAndDestroy();
    expect(await ftp.reply(10_000), 426);
    await cmd(ftp, 'NOOP', 200);
    expect((await retr(ftp, 'lines.txt')).final, 226);
    ftp.close();
  });

  test('the client resets the data connection during STOR: 426; the partial file is kept (vsftpd)', T, async () => {
    const ftp = await session();
    const sent = bigData.subarray(0, MiB);
    const sock = await uploadStarted(ftp, 'reset.bin', sent);
    sock.resetAndDestroy();
    expect(await ftp.reply(10_000), 426);
    assert.ok(fs.readFileSync(path.join(home, 'up', 'reset.bin')).equals(sent));
    await cmd(ftp, 'NOOP', 200);
    ftp.close();
  });
});

describe('native fast path: data_connection_timeout', () => {
  let slow: Daemon;
  before(async () => {
    slow = await startDaemon({ options: { write_enable: true, data_connection_timeout: 2 } });
  });

  test('a RETR whose client stops reading ends with 421 Data timeout', T, async () => {
    const ftp = await session(slow);
    const connect = await openData(ftp);
    const sock = await connect();
    sock.on('error', () => undefined);
    sock.pause();
    expect(await ftp.command('RETR big.bin'), 150);
    const t0 = Date.now();
    expect(await ftp.reply(10_000), 421);
    const waited = Date.now() - t0;
    assert.ok(waited >= 1_500 && waited < 6_000, `timed out after ${waited} ms`);
    assert.ok(await ftp.waitClose(5_000), 'the session ends');
    sock.destroy();
  });

  test('a STOR whose client sends nothing ends with 421 Data timeout', T, async () => {
    const ftp = await session(slow);
    const connect = await openData(ftp);
    const sock = await connect();
    sock.on('error', () => undefined);
    expect(await ftp.command('STOR up/stalled.bin'), 150);
    sock.write(Buffer.from('a little\n'));
    expect(await ftp.reply(10_000), 421);
    assert.ok(await ftp.waitClose(5_000), 'the session ends');
    sock.destroy();
    await sleep(100);
    assert.equal(fs.readFileSync(path.join(home, 'up', 'stalled.bin'), 'utf8'), 'a little\n');
  });
});

describe('use_sendfile=NO', () => {
  test('downloads stay in the read/write path (no native loop) and are byte-exact', T, async () => {
    const plain = await startDaemon({ options: { write_enable: true, use_sendfile: false } });
    try {
      const ftp = await session(plain);
      const pid = workerPid(ftp, plain);
      const connect = await openData(ftp);
      const sock = await connect();
      sock.on('error', () => undefined);
      sock.pause(); // stalled: a native loop would now sit in poll(2)
      expect(await ftp.command('RETR big.bin'), 150);
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(nativeLoopWaiting(pid), false, 'no native loop with use_sendfile=NO');
      }
      sock.destroy();
      expect(await ftp.reply(10_000), 426);
      const whole = await retr(ftp, 'big.bin');
      expect(whole.final, 226);
      assert.equal(sha(whole.data), sha(bigData));
      ftp.close();
    } finally {
      await plain.stop();
    }
  });
});
