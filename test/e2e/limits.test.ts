// Connection limits, login throttling, bans and tcp_wrappers, end to end:
// the real daemon on 127.0.0.1, clients from 127.0.0.1 and 127.0.0.2.
//
// The refusals that happen at accept time (max_clients, max_per_ip, bans,
// tcp_wrappers) must cost no process: every such test also fires a burst of
// refused connections and shows, through /proc, that the daemon's process
// tree did not change while they were refused.
//
// Wrong passwords go to a built-in virtual user (virtual_users_file): its
// check is a crypt(3) compare, with no pam_faildelay, so the only delay is
// the daemon's own delay_failed_login.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../helpers/clients';
import { binPath, makeTempDir, startDaemon, writeConfig, type Daemon, type OptionValue } from '../helpers/daemon';
import { FtpControl, type FtpReply } from '../helpers/ftp';
import { sleep, waitFor } from '../helpers/proc';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const T = { timeout: 40_000 };
const HOST = '127.0.0.1';
const OTHER = '127.0.0.2';

const TOO_MANY_USERS = 'There are too many connected users, please try later.';
const TOO_MANY_FROM_IP = 'There are too many connections from your internet address.';
const BANNED = 'Too many failed logins from your address; try later.';
const NOT_AVAILABLE = 'Service not available.';

const VUSER = 'vuser';
const VPASS = 'VirtPass-1';

const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;
let guest: TestUser;
let usersFile: string;

before(async () => {
  const home = makeTempDir('tsftpd-lg-');
  tempDirs.push(home);
  guest = users.create({ home });
  const dir = makeTempDir('tsftpd-lv-');
  tempDirs.push(dir);
  usersFile = path.join(dir, 'virtual.users');
  const r = await runProcess(process.execPath, [binPath(), 'user', '-f', usersFile, 'add', VUSER], { input: `${VPASS}\n`, timeoutMs: 15_000 });
  assert.equal(r.code, 0, `tsftpd user add failed: ${r.stderr}`);
});


// ---------------------------------------------------------------------------
// local helpers

const controlFrom = (localAddress: string, host: string, port: number, timeoutMs = 5_000): Promise<FtpControl> =>
  FtpControl.connect(host, port, timeoutMs, localAddress);

/** Append context to an error; the test runner prints the stack, so both get it. */
function addContext(e: Error, text: string): void {
  e.message += `\n${text}`;
  if (e.stack !== undefined) e.stack += `\n${text}`;
}

function expectReply(r: FtpReply, code: number, text?: string | RegExp): void {
  assert.equal(r.code, code, r.text);
  if (typeof text === 'string') assert.equal(r.message, text, r.text);
  else if (text !== undefined) assert.match(r.message, text, r.text);
}

/** Connect from `from`, read the first reply. The connection stays open (close it). */
async function greet(d: Daemon, from = HOST, host = HOST): Promise<{ ftp: FtpControl; first: FtpReply }> {
  const ftp = await controlFrom(from, host, d.port);
  try {
    return { ftp, first: await ftp.reply() };
  } catch (e: unknown) {
    ftp.close();
    throw e;
  }
}

/** Connect from `from`: the first (and only) line must be 421 `text`, then the daemon closes. */
async function expectRefused(d: Daemon, text: string, from = HOST, host = HOST): Promise<void> {
  const { ftp, first } = await greet(d, from, host);
  try {
    expectReply(first, 421, text);
    assert.equal(await ftp.waitClose(3_000), true, 'the daemon closes a refused connection');
    assert.deepEqual(ftp.pending(), [], 'nothing follows the 421');
  } finally {
    ftp.close();
  }
}

/** Connect from `from`, expect the 220 greeting, close. */
async function expectWelcome(d: Daemon, from = HOST, host = HOST): Promise<void> {
  const { ftp, first } = await greet(d, from, host);
  ftp.close();
  expectReply(first, 220);
}

/** One connection, one wrong password for the virtual user (530), then close. Returns the PASS→530 time in s. */
async function failLogin(d: Daemon, from = HOST): Promise<number> {
  const { ftp, first } = await greet(d, from);
  try {
    expectReply(first, 220);
    expectReply(await ftp.command(`USER ${VUSER}`), 331);
    const t0 = Date.now();
    expectReply(await ftp.command('PASS wrong-password', 10_000), 530, 'Login incorrect.');
    return (Date.now() - t0) / 1000;
  } catch (e: unknown) {
    if (e instanceof Error) addContext(e, `--- transcript ---\n${ftp.transcript.join('\n')}`);
    throw e;
  } finally {
    ftp.close();
  }
}

type LogLine = Record<string, unknown>;

/** The daemon's JSON log lines with this event. */
function logEvents(d: Daemon, event: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of d.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null && (v as LogLine).event === event) out.push(v as LogLine);
    } catch {
      // not JSON
    }
  }
  return out;
}

/** Options for the virtual user (its jail: guest_username's home). */
function virtualOptions(): Record<string, OptionValue> {
  return { virtual_users_file: usersFile, guest_username: guest.name };
}

/** Start a daemon, run body, always stop it; the daemon's stderr is added to failures. */
async function withDaemon(options: Record<string, OptionValue | null>, body: (d: Daemon) => Promise<void>): Promise<void> {
  const d = await startDaemon({ options });
  let failure: unknown = null;
  try {
    await body(d);
  } catch (e: unknown) {
    failure = e;
  }
  const leftovers = await d.stop();
  if (failure !== null) {
    if (failure instanceof Error) addContext(failure, `--- daemon stderr ---\n${d.stderr()}`);
    throw failure;
  }
  if (leftovers.length > 0) console.log(`WARNING: processes left after SIGTERM: ${leftovers.join(', ')}`);
}

/** The daemon's descendants once they stopped changing for 800 ms (pool refills done). */
async function settledChildren(d: Daemon): Promise<number[]> {
  let last = d.children().join(',');
  let since = Date.now();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await sleep(50);
    const now = d.children().join(',');
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= 800) {
      return d.children();
    }
  }
  throw new Error(`the daemon's process tree did not settle: ${last}`);
}

/**
 * Fire `n` connections at once from `from`; every one must be refused with
 * 421 `text`; while they are refused (sampled every few ms) and after, the
 * daemon's process tree must be exactly what it was before.
 */
async function burstSpawnsNothing(d: Daemon, n: number, text: string, from = HOST): Promise<void> {
  const beforeTree = await settledChildren(d);
  const seen = new Set<number>(beforeTree);
  let sampling = true;
  const sampler = (async (): Promise<void> => {
    while (sampling) {
      for (const p of d.children()) seen.add(p);
      await sleep(5);
    }
  })();
  const refusedBefore = logEvents(d, 'connect_refused').length;
  try {
    await Promise.all(Array.from({ length: n }, () => expectRefused(d, text, from)));
    await sleep(500);
  } finally {
    sampling = false;
    await sampler;
  }
  const spawned = [...seen].filter((p) => !beforeTree.includes(p));
  assert.deepEqual(spawned, [], `processes appeared while ${n} connections were refused`);
  assert.deepEqual(d.children(), beforeTree, 'the process tree is unchanged');
  await waitFor(() => logEvents(d, 'connect_refused').length - refusedBefore === n, 3_000, `${n} connect_refused log lines`);
  console.log(`  ${n} refused connections, process tree unchanged: ${beforeTree.length} descendants (${beforeTree.join(',')})`);
}

// ---------------------------------------------------------------------------

describe('max_clients and max_per_ip: refused by master before a worker is spent', () => {
  test('max_clients=2: the third connection gets 421 too many connected users; no worker for 20 refused ones', T, async () => {
    await withDaemon({ max_clients: 2 }, async (d) => {
      const a = await greet(d);
      const b = await greet(d, OTHER);
      try {
        expectReply(a.first, 220);
        expectReply(b.first, 220);
        await expectRefused(d, TOO_MANY_USERS);
        await expectRefused(d, TOO_MANY_USERS, OTHER);
        await burstSpawnsNothing(d, 20, TOO_MANY_USERS);
        const refused = logEvents(d, 'connect_refused');
        assert.ok(refused.every((e) => e.cause === 'max_clients'), JSON.stringify(refused[0]));
        // A session that ends frees its slot.
        a.ftp.close();
        await waitFor(async () => {
          const g = await greet(d);
          g.ftp.close();
          return g.first.code === 220;
        }, 5_000, 'a slot to free up after one client left');
      } finally {
        a.ftp.close();
        b.ftp.close();
      }
    });
  });

  test('max_per_ip=1: a second connection from 127.0.0.1 gets 421; 127.0.0.2 still gets in; no worker for 20 refused ones', T, async () => {
    await withDaemon({ max_per_ip: 1 }, async (d) => {
      const a = await greet(d);
      let b: FtpControl | null = null;
      try {
        expectReply(a.first, 220);
        await expectRefused(d, TOO_MANY_FROM_IP);
        const other = await greet(d, OTHER);
        b = other.ftp;
        expectReply(other.first, 220);
        await expectRefused(d, TOO_MANY_FROM_IP, OTHER);
        await burstSpawnsNothing(d, 20, TOO_MANY_FROM_IP);
        const refused = logEvents(d, 'connect_refused');
        assert.ok(refused.every((e) => e.cause === 'max_per_ip' && (e.ip === HOST || e.ip === OTHER)), JSON.stringify(refused));
        a.ftp.close();
        await waitFor(async () => {
          const g = await greet(d);
          g.ftp.close();
          return g.first.code === 220;
        }, 5_000, '127.0.0.1 to get in again after its session ended');
      } finally {
        a.ftp.close();
        b?.close();
      }
    });
  });
});

describe('failed logins: delay_failed_login and max_login_fails', () => {
  test('delay_failed_login=2: the 530 comes ≥ 2 s after PASS; a good password is not delayed', T, async () => {
    await withDaemon({ ...virtualOptions(), delay_failed_login: 2, max_login_fails: 0 }, async (d) => {
      const s = await failLogin(d);
      assert.ok(s >= 2 && s < 5, `530 after ${s.toFixed(2)} s (delay_failed_login=2)`);
      const { ftp, first } = await greet(d);
      try {
        expectReply(first, 220);
        expectReply(await ftp.command(`USER ${VUSER}`), 331);
        const t0 = Date.now();
        expectReply(await ftp.command(`PASS ${VPASS}`, 10_000), 230);
        const ok = (Date.now() - t0) / 1000;
        assert.ok(ok < 1.9, `230 after ${ok.toFixed(2)} s`);
        console.log(`  530 after ${s.toFixed(2)} s; 230 after ${ok.toFixed(2)} s`);
      } finally {
        ftp.close();
      }
    });
  });

  test('delay_failed_login=3 delays only the failing client: a login from 127.0.0.2 meanwhile is not held up', T, async () => {
    await withDaemon({ ...virtualOptions(), delay_failed_login: 3, max_login_fails: 0 }, async (d) => {
      const failing = failLogin(d);
      await sleep(300); // the wrong password is now in priv's delay
      // Were priv to serve logins one at a time, this 230 would wait ~2.7 s.
      const { ftp, first } = await greet(d, OTHER);
      try {
        expectReply(first, 220);
        expectReply(await ftp.command(`USER ${VUSER}`), 331);
        const t0 = Date.now();
        expectReply(await ftp.command(`PASS ${VPASS}`, 10_000), 230);
        const ok = (Date.now() - t0) / 1000;
        assert.ok(ok < 1.9, `the other client's 230 took ${ok.toFixed(2)} s`);
      } finally {
        ftp.close();
      }
      const s = await failing;
      assert.ok(s >= 3, `the failing client still waited: ${s.toFixed(2)} s`);
    });
  });

  test('max_login_fails=2 (delay_failed_login=0): the 2nd failure closes the connection; failures are instant', T, async () => {
    await withDaemon({ ...virtualOptions(), max_login_fails: 2, delay_failed_login: 0, ban_enable: false }, async (d) => {
      const { ftp, first } = await greet(d);
      try {
        expectReply(first, 220);
        for (let i = 1; i <= 2; i++) {
          expectReply(await ftp.command(`USER ${VUSER}`), 331);
          const t0 = Date.now();
          expectReply(await ftp.command('PASS nope'), 530, 'Login incorrect.');
          const s = (Date.now() - t0) / 1000;
          assert.ok(s < 1.5, `failure ${i} took ${s.toFixed(2)} s`);
          if (i === 1) assert.equal(await ftp.waitClose(300), false, 'still open after one failure');
        }
        assert.equal(await ftp.waitClose(3_000), true, 'closed after max_login_fails=2 failures');
      } catch (e: unknown) {
        if (e instanceof Error) addContext(e, `--- transcript ---\n${ftp.transcript.join('\n')}`);
        throw e;
      } finally {
        ftp.close();
      }
    });
  });
});

describe('bans: ban_max_fails failed logins ban the address (421 at connect)', () => {
  /** Connect until a 220 arrives (polling every 150 ms, bounded); returns when it did. */
  async function waitUnbanned(d: Daemon, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { ftp, first } = await greet(d);
      ftp.close();
      if (first.code === 220) return Date.now();
      expectReply(first, 421, BANNED);
      if (Date.now() > deadline) throw new Error(`still banned after ${timeoutMs} ms`);
      await sleep(150);
    }
  }

  test('ban_max_fails=3, ban_time=2: banned after 3 failures, 127.0.0.2 not; expires after ~2 s; a second offence doubles', T, async () => {
    await withDaemon({ ...virtualOptions(), ban_max_fails: 3, ban_time: 2, max_login_fails: 0 }, async (d) => {
      await failLogin(d);
      await failLogin(d);
      await expectWelcome(d); // two failures: not banned yet
      await failLogin(d);
      const t1 = Date.now();
      await expectRefused(d, BANNED);
      await expectWelcome(d, OTHER);
      await burstSpawnsNothing(d, 10, BANNED);
      const free1 = (await waitUnbanned(d, 6_000)) - t1;
      assert.ok(free1 >= 1_200 && free1 <= 4_000, `first ban lasted ${free1} ms (ban_time=2)`);

      // Second offence: 3 new failures, a 4 s ban.
      for (let i = 0; i < 3; i++) await failLogin(d);
      const t2 = Date.now();
      await expectRefused(d, BANNED);
      await sleep(2_500);
      await expectRefused(d, BANNED); // a 2 s ban would be over by now
      const free2 = (await waitUnbanned(d, 6_000)) - t2;
      assert.ok(free2 >= 3_200 && free2 <= 6_500, `second ban lasted ${free2} ms (doubled: 4 s)`);

      const bans = logEvents(d, 'ban');
      assert.deepEqual(
        bans.map((e) => [e.ip, e.seconds]),
        [
          [HOST, 2],
          [HOST, 4],
        ],
      );
      console.log(`  ban 1 lifted after ${free1} ms, ban 2 after ${free2} ms; log: ${JSON.stringify(bans.map((e) => e.seconds))}`);
    });
  });

  // A pre-login session opened before the ban keeps its connection: with
  // max_per_ip=50 and max_login_fails=3 (defaults), 50 connections opened at
  // once give 150 guesses whatever ban_max_fails says, and a right guess
  // logs in while the address is banned.
  test('a session opened before the ban cannot keep guessing while its address is banned', T, async () => {
    await withDaemon({ ...virtualOptions(), ban_max_fails: 3, ban_time: 30, max_login_fails: 0 }, async (d) => {
      const early = await greet(d);
      try {
        expectReply(early.first, 220);
        for (let i = 0; i < 3; i++) await failLogin(d);
        await expectRefused(d, BANNED);
        expectReply(await early.ftp.command(`USER ${VUSER}`), 331);
        const r = await early.ftp.command(`PASS ${VPASS}`, 10_000);
        console.log(`  banned address, session opened before the ban: PASS (right password) → ${r.text}`);
        assert.notEqual(r.code, 230, 'logged in from a banned address');
      } finally {
        early.ftp.close();
      }
    });
  });

  test('ban_enable=NO: six failed logins never ban', T, async () => {
    await withDaemon({ ...virtualOptions(), ban_enable: false, ban_max_fails: 3, ban_time: 60, max_login_fails: 0 }, async (d) => {
      for (let i = 0; i < 6; i++) await failLogin(d);
      await expectWelcome(d);
      assert.equal(logEvents(d, 'ban').length, 0);
    });
  });
});

// ---------------------------------------------------------------------------
// tcp_wrappers: the daemon reads the real /etc/hosts.allow and /etc/hosts.deny.
// They are saved before and restored after (also if the process exits early).

const HOSTS_FILES = ['/etc/hosts.allow', '/etc/hosts.deny'] as const;

interface Saved {
  file: string;
  content: Buffer | null;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds (fractional: µs precision survives a double). */
  atime: number;
  mtime: number;
}

let saved: Saved[] | null = null;

function saveHostsFiles(): void {
  saved = HOSTS_FILES.map((file): Saved => {
    try {
      const st = fs.statSync(file, { bigint: true });
      const secs = (ns: bigint): number => Number(ns / 1000n) / 1e6;
      return {
        file,
        content: fs.readFileSync(file),
        mode: Number(st.mode & 0o7777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
        atime: secs(st.atimeNs),
        mtime: secs(st.mtimeNs),
      };
    } catch {
      return { file, content: null, mode: 0o644, uid: 0, gid: 0, atime: 0, mtime: 0 };
    }
  });
}

/** Put the files back exactly (content, owner, mode, times), or remove ours. Synchronous: also runs on exit. */
function restoreHostsFiles(): void {
  if (saved === null) return;
  for (const s of saved) {
    if (s.content === null) {
      fs.rmSync(s.file, { force: true });
      continue;
    }
    fs.writeFileSync(s.file, s.content);
    fs.chownSync(s.file, s.uid, s.gid);
    fs.chmodSync(s.file, s.mode);
    fs.utimesSync(s.file, s.atime, s.mtime);
  }
}

function writeHosts(allow: string, deny: string): void {
  fs.writeFileSync('/etc/hosts.allow', allow);
  fs.writeFileSync('/etc/hosts.deny', deny);
}

describe('tcp_wrappers=YES (/etc/hosts.allow, /etc/hosts.deny)', () => {
  const onExit = (): void => restoreHostsFiles();
  before(() => {
    saveHostsFiles();
    process.on('exit', onExit);
  });
  after(() => {
    restoreHostsFiles();
    process.removeListener('exit', onExit);
    // The restore is exact: check it.
    for (const s of saved ?? []) {
      if (s.content === null) assert.equal(fs.existsSync(s.file), false, `${s.file} removed`);
      else assert.deepEqual(fs.readFileSync(s.file), s.content, `${s.file} restored`);
    }
  });

  /** Write the hosts files, run body, always restore them. */
  async function withHosts(allow: string, deny: string, body: () => Promise<void>): Promise<void> {
    writeHosts(allow, deny);
    try {
      await body();
    } finally {
      restoreHostsFiles();
    }
  }

  test('hosts.deny "vsftpd: 127.0.0.2" refuses 127.0.0.2 with 421 Service not available., not 127.0.0.1; no worker spent', T, async () => {
    await withHosts('', 'vsftpd: 127.0.0.2\n', async () => {
      await withDaemon({ tcp_wrappers: true }, async (d) => {
        await expectRefused(d, NOT_AVAILABLE, OTHER);
        await expectWelcome(d, HOST);
        await burstSpawnsNothing(d, 10, NOT_AVAILABLE, OTHER);
        assert.ok(logEvents(d, 'connect_refused').every((e) => e.cause === 'tcp_wrappers' && e.ip === OTHER));
      });
      // The same files with tcp_wrappers=NO (the default) change nothing.
      await withDaemon({}, async (d) => {
        await expectWelcome(d, OTHER);
      });
    });
  });

  test('hosts.deny "ALL: ALL" with hosts.allow "tsftpd: 127.0.0.1": only 127.0.0.1 gets in', T, async () => {
    await withHosts('tsftpd: 127.0.0.1\n', 'ALL: ALL\n', async () => {
      await withDaemon({ tcp_wrappers: true }, async (d) => {
        await expectWelcome(d, HOST);
        await expectRefused(d, NOT_AVAILABLE, OTHER);
      });
    });
  });

  test('EXCEPT: hosts.deny "tsftpd: ALL EXCEPT 127.0.0.1" refuses 127.0.0.2 only', T, async () => {
    await withHosts('', 'tsftpd: ALL EXCEPT 127.0.0.1\n', async () => {
      await withDaemon({ tcp_wrappers: true }, async (d) => {
        await expectWelcome(d, HOST);
        await expectRefused(d, NOT_AVAILABLE, OTHER);
      });
    });
  });

  test('hosts.allow "setenv VSFTPD_LOAD_CONF FILE" applies FILE (ftpd_banner=PerIP) to that address only', T, async () => {
    const dir = makeTempDir('tsftpd-lw-');
    tempDirs.push(dir);
    const perIp = path.join(dir, 'per-ip.conf');
    writeConfig(perIp, 'ftpd_banner=PerIP\n');
    const broken = path.join(dir, 'broken.conf');
    writeConfig(broken, 'no_such_option=YES\n');
    const allow = `vsftpd: 127.0.0.2 : setenv VSFTPD_LOAD_CONF ${perIp}\nvsftpd: 127.0.0.3 : setenv VSFTPD_LOAD_CONF ${broken}\n`;
    await withHosts(allow, '', async () => {
      await withDaemon({ tcp_wrappers: true }, async (d) => {
        const o = await greet(d, OTHER);
        o.ftp.close();
        expectReply(o.first, 220, 'PerIP');
        const m = await greet(d, HOST);
        m.ftp.close();
        expectReply(m.first, 220);
        assert.notEqual(m.first.message, 'PerIP', 'the per-address banner is not shown to 127.0.0.1');
        // A per-address file that does not load refuses that address (fail closed).
        await expectRefused(d, NOT_AVAILABLE, '127.0.0.3');
        const refused = logEvents(d, 'connect_refused').find((e) => e.ip === '127.0.0.3');
        assert.ok(refused !== undefined && refused.cause === 'config', JSON.stringify(refused));
        console.log(`  127.0.0.2: "${o.first.text}"; 127.0.0.1: "${m.first.text}"; broken file: ${String(refused.detail)}`);
      });
    });
  });

  test('IPv6: hosts.deny "tsftpd: [::1]" refuses ::1 on a listen_address6=::1 daemon', T, async () => {
    await withHosts('', 'tsftpd: [::1]\n', async () => {
      await withDaemon({ tcp_wrappers: true, listen: false, listen_ipv6: true, listen_address6: '::1', listen_address: null }, async (d) => {
        await expectRefused(d, NOT_AVAILABLE, '::1', '::1');
      });
    });
    await withHosts('', 'tsftpd: [::2]\n', async () => {
      await withDaemon({ tcp_wrappers: true, listen: false, listen_ipv6: true, listen_address6: '::1', listen_address: null }, async (d) => {
        await expectWelcome(d, '::1', '::1');
      });
    });
  });
});
