// The zygote (src/master/zygote-process.ts): workers are forked copies of one started
// Node process, and they are still jailed, unprivileged and within master's
// reach. Real daemon, real PAM users, /proc.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, test } from 'node:test';
import { makeTempDir, startDaemon, type Daemon } from '../helpers/daemon';
import { connectWithGreeting, login, parsePasv, type FtpControl } from '../helpers/ftp';
import { connectionHolders, describeProc, descendants, isAlive, procInfo, procInfos, waitFor, type ProcInfo } from '../helpers/proc';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';
import { WORKER_THREAD_POOL_SIZE } from '../../src/master/pool';

const TEST_TIMEOUT = { timeout: 60_000 };
const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;


function makeUser(): TestUser {
  const home = makeTempDir('tsftpd-h-');
  tempDirs.push(home);
  return users.create({ home });
}

function tree(d: Daemon): ProcInfo[] {
  return procInfos([d.pid, ...descendants(d.pid)]);
}

function describeTree(d: Daemon): string {
  return tree(d).map(describeProc).join('\n');
}

function zygoteOf(d: Daemon): ProcInfo | undefined {
  return tree(d).find((p) => p.cmdline.startsWith('tsftpd: zygote') && p.ppid === d.pid);
}

async function sessionProcess(d: Daemon, ftp: FtpControl, uid: number): Promise<ProcInfo> {
  return waitFor(
    () => connectionHolders(d.pid, d.port, ftp.localPort).find((p) => p.pid !== d.pid && p.uid.real === uid),
    5_000,
    `the session process (uid ${uid}); tree:\n${describeTree(d)}`,
  );
}

async function loggedIn(d: Daemon, user: TestUser): Promise<FtpControl> {
  const { ftp } = await connectWithGreeting(d.host, d.port);
  const r = await login(ftp, user.name, user.password);
  assert.equal(r.pass?.text, '230 Login successful.', ftp.transcript.join('\n'));
  return ftp;
}

async function withDaemon(options: Record<string, string | number | boolean>, body: (d: Daemon) => Promise<void>): Promise<void> {
  const d = await startDaemon({ options: { chroot_local_user: true, ...options } });
  try {
    await body(d);
  } catch (e: unknown) {
    // The daemon's own account of a failure (worker exits, refusals).
    if (e instanceof Error) e.message += `\n--- daemon stderr ---\n${d.stderr()}`;
    throw e;
  } finally {
    await d.stop();
  }
}

/** Threads of a live process. */
function threadCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/task`).length;
}

/** Open descriptors of a live process, beyond stdio, that are sockets. */
function socketFds(pid: number): string[] {
  return fs
    .readdirSync(`/proc/${pid}/fd`)
    .filter((fd) => Number(fd) > 2)
    .map((fd) => `${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`)
    .filter((l) => l.includes('socket:'));
}

function childrenOf(pid: number): number[] {
  return descendants(pid).filter((p) => procInfo(p)?.ppid === pid);
}

/** utime + stime of a live process, ms (10 ms ticks). */
function cpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

describe('zygote', () => {
  test('workers are children of a root zygote, jailed and unprivileged as before', TEST_TIMEOUT, async () => {
    const user = makeUser();
    await withDaemon({}, async (d) => {
      const zygote = await waitFor(() => zygoteOf(d), 5_000, `a tsftpd: zygote child of master; tree:\n${describeTree(d)}`);
      assert.equal(zygote.uid.effective, 0, describeProc(zygote));
      const ftp = await loggedIn(d, user);
      try {
        const w2 = await sessionProcess(d, ftp, user.uid);
        assert.equal(w2.ppid, zygote.pid, `the session's parent is the zygote\n${describeTree(d)}`);
        assert.equal(w2.root, user.home, describeProc(w2));
        assert.equal(w2.noNewPrivs, 1, describeProc(w2));
        assert.equal(w2.capBnd, '0000000000000000', describeProc(w2));
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
      } finally {
        ftp.close();
      }
    });
  });

  test('the warm-up leaves nothing open; a pre-login worker has no thread pool, a logged-in one its own', TEST_TIMEOUT, async () => {
    const user = makeUser();
    await withDaemon({}, async (d) => {
      const zygote = await waitFor(() => zygoteOf(d), 5_000, 'the zygote');
      // SECURITY: the zygote's warm-up (zygote-warmup.ts) opened a socket
      // pair; every child would inherit a leftover. Only master's channel.
      assert.equal(socketFds(zygote.pid).length, 1, socketFds(zygote.pid).join('\n'));
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        const w1 = await waitFor(
          () => connectionHolders(d.pid, d.port, ftp.localPort).find((p) => p.pid !== d.pid && p.uid.real !== 0),
          5_000,
          `the pre-login worker; tree:\n${describeTree(d)}`,
        );
        assert.equal(threadCount(w1.pid), 1, `pre-login worker ${describeProc(w1)}`);
        const r = await login(ftp, user.name, user.password);
        assert.equal(r.pass?.text, '230 Login successful.', ftp.transcript.join('\n'));
        const w2 = await sessionProcess(d, ftp, user.uid);
        // Started inside the jail, after the uid change (sys/jail.ts).
        assert.equal(threadCount(w2.pid), 1 + WORKER_THREAD_POOL_SIZE, `logged-in worker ${describeProc(w2)}`);
        assert.equal((await ftp.command('SIZE nosuchfile')).code, 550);
      } finally {
        ftp.close();
      }
    });
  });

  test('two sessions get different passive ports (no shared Math.random state)', TEST_TIMEOUT, async () => {
    const user = makeUser();
    await withDaemon({ pasv_min_port: 40000, pasv_max_port: 60000 }, async (d) => {
      const ports = new Set<number>();
      for (let i = 0; i < 4; i++) {
        const ftp = await loggedIn(d, user);
        try {
          ports.add(parsePasv(await ftp.command('PASV')).port);
        } finally {
          ftp.close();
        }
      }
      // Four draws from 20,001 ports: equal ones mean the sessions share a generator state.
      assert.ok(ports.size >= 3, `passive ports ${[...ports].join(', ')}`);
    });
  });

  test('SIGKILL of the zygote ends its sessions; master starts another and logins work', TEST_TIMEOUT, async () => {
    const user = makeUser();
    await withDaemon({}, async (d) => {
      const zygote = await waitFor(() => zygoteOf(d), 5_000, 'the zygote');
      const ftp = await loggedIn(d, user);
      const w2 = await sessionProcess(d, ftp, user.uid);
      process.kill(zygote.pid, 'SIGKILL');
      // SECURITY: the session process, already setuid to the user, dies too
      // (its parent-death signal was set again after the setuid).
      await waitFor(() => (isAlive(w2.pid) ? undefined : true), 5_000, `session ${w2.pid} to die with the zygote`);
      ftp.close();
      const next = await waitFor(
        () => {
          const z = zygoteOf(d);
          return z !== undefined && z.pid !== zygote.pid ? z : undefined;
        },
        10_000,
        `a new zygote; tree:\n${describeTree(d)}`,
      );
      assert.equal(procInfo(d.pid)?.uid.effective, 0, 'master still running');
      const again = await waitFor(
        async () => {
          try {
            return await loggedIn(d, user);
          } catch {
            return undefined;
          }
        },
        10_000,
        'a login after the zygote restarted',
      );
      try {
        const w = await sessionProcess(d, again, user.uid);
        assert.equal(w.ppid, next.pid);
      } finally {
        again.close();
      }
    });
  });

  test('workers forked while sessions end (SIGCHLD in the zygote) do not spin', TEST_TIMEOUT, async () => {
    // Regression: a worker forked while the zygote had a SIGCHLD caught but
    // not dispatched closed that signal handle in the child, and libuv's
    // close never finished: the idle worker ran an event loop at 100 % CPU.
    const user = makeUser();
    await withDaemon({}, async (d) => {
      for (let wave = 0; wave < 4; wave++) {
        const sessions = await Promise.all(Array.from({ length: 8 }, () => loggedIn(d, user)));
        await Promise.all(sessions.map(async (ftp) => {
          await ftp.command('QUIT').catch(() => undefined);
          ftp.close();
        }));
      }
      const zygote = await waitFor(() => zygoteOf(d), 5_000, 'the zygote');
      await new Promise((r) => setTimeout(r, 1000));
      const before = new Map(childrenOf(zygote.pid).map((pid) => [pid, cpuMs(pid)]));
      await new Promise((r) => setTimeout(r, 1500));
      for (const [pid, t0] of before) {
        const t1 = cpuMs(pid);
        if (t0 === null || t1 === null) continue;
        assert.ok(t1 - t0 < 300, `worker ${pid} used ${t1 - t0} ms of CPU in 1.5 s while idle\n${describeTree(d)}`);
      }
      assert.ok(before.size > 0, 'the zygote has children');
    });
  });

  test('zygote_enable=NO: master forks every worker itself', TEST_TIMEOUT, async () => {
    const user = makeUser();
    await withDaemon({ zygote_enable: false }, async (d) => {
      const ftp = await loggedIn(d, user);
      try {
        const w2 = await sessionProcess(d, ftp, user.uid);
        assert.equal(w2.ppid, d.pid, describeTree(d));
        assert.equal(zygoteOf(d), undefined, describeTree(d));
      } finally {
        ftp.close();
      }
    });
  });
});
