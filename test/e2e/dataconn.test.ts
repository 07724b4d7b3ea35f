// Data connections with real traffic on loopback: PASV/EPSV/PORT/EPRT, the
// peer-address checks that stop data-connection theft and FTP bounce
// (pasv_promiscuous / port_promiscuous = NO), connect_from_port_20, the
// advertised passive address, IPv6 on ::1, the accept/connect/idle timeouts,
// and the daemon's log line for every failed data connection.
//
// 127.0.0.2 plays the "other client": sockets bound to it reach the daemon on
// 127.0.0.1 over lo like any second host would.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFtplib } from '../helpers/clients';
import { makeTempDir, startDaemon, type Daemon, type OptionValue } from '../helpers/daemon';
import { FtpControl, login, parseEpsv, parsePasv, type FtpReply, dataConnect, collect } from '../helpers/ftp';
import { waitFor } from '../helpers/proc';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const T = { timeout: 30_000 };
const HOST = '127.0.0.1';
/** The "other client". */
const OTHER = '127.0.0.2';
const HELLO = 'hello over the data connection\n';

const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;
const children: ChildProcess[] = [];
let user: TestUser;
let home: string;

before(() => {
  home = makeTempDir('tsftpd-dc-');
  tempDirs.push(home);
  fs.writeFileSync(path.join(home, 'hello.txt'), HELLO, { mode: 0o644 });
  fs.mkdirSync(path.join(home, 'up'), { mode: 0o755 });
  user = users.create({ home });
  fs.chownSync(path.join(home, 'up'), user.uid, user.gid);
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

// ---------------------------------------------------------------------------
// local helpers

const controlFrom = (localAddress: string, host: string, port: number, timeoutMs = 5_000): Promise<FtpControl> =>
  FtpControl.connect(host, port, timeoutMs, localAddress);



interface Accepted {
  sock: net.Socket;
  remoteAddress: string;
  remotePort: number;
}

interface ActiveListener {
  port: number;
  /** The first connection the listener gets. */
  accepted: Promise<Accepted>;
  close(): void;
}

/** A listener for an active-mode (PORT/EPRT) data connection. */
function activeListener(host: string, timeoutMs = 10_000): Promise<ActiveListener> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    let timer: NodeJS.Timeout | null = null;
    const accepted = new Promise<Accepted>((res, rej) => {
      server.once('connection', (sock: net.Socket) => {
        if (timer !== null) clearTimeout(timer);
        sock.on('error', () => undefined);
        res({ sock, remoteAddress: sock.remoteAddress ?? '', remotePort: sock.remotePort ?? -1 });
      });
      timer = setTimeout(() => rej(new Error('no active data connection arrived')), timeoutMs);
    });
    accepted.catch(() => undefined);
    server.once('error', reject);
    server.listen(0, host, () => {
      const a = server.address();
      if (a === null || typeof a === 'string') {
        reject(new Error('no address'));
        return;
      }
      resolve({
        port: a.port,
        accepted,
        close: () => {
          if (timer !== null) clearTimeout(timer);
          server.close();
        },
      });
    });
  });
}

/** "PORT h1,h2,h3,h4,p1,p2" for an IPv4 address and port. */
function portArg(host: string, port: number): string {
  return `${host.split('.').join(',')},${port >> 8},${port & 0xff}`;
}

function expectReply(r: FtpReply, code: number, text?: string | RegExp): void {
  assert.equal(r.code, code, r.text);
  if (typeof text === 'string') assert.equal(r.message, text, r.text);
  else if (text !== undefined) assert.match(r.message, text, r.text);
}

async function cmd(ftp: FtpControl, line: string, code: number, text?: string | RegExp): Promise<FtpReply> {
  const r = await ftp.command(line);
  expectReply(r, code, text);
  return r;
}

/** Append context to an error; the test runner prints the stack, so both get it. */
function addContext(e: Error, text: string): void {
  e.message += `\n${text}`;
  if (e.stack !== undefined) e.stack += `\n${text}`;
}

type LogLine = Record<string, unknown>;

/** The daemon's JSON log lines (master's pino lines and the workers' lines) with this event. */
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

/** Wait (3 s) for a data_connection_failed line of this kind; returns it. */
async function dataFailure(d: Daemon, kind: string): Promise<LogLine> {
  return waitFor(
    () => logEvents(d, 'data_connection_failed').find((e) => e.kind === kind),
    3_000,
    `a data_connection_failed line with kind ${kind} on the daemon's stderr`,
  );
}

/** Every daemon here: the local user jailed in its home, write_enable. */
const DAEMON_BASE: Record<string, OptionValue> = { chroot_local_user: true, write_enable: true, local_umask: '022' };

/** Start a daemon (DAEMON_BASE + options), run body, always stop it. */
async function withDaemon(options: Record<string, OptionValue | null>, body: (d: Daemon) => Promise<void>): Promise<void> {
  const d = await startDaemon({ options: { ...DAEMON_BASE, ...options } });
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

let sharedDaemon: Promise<Daemon> | null = null;

/**
 * One daemon with the default data-connection options, shared by the tests
 * that need nothing else (each daemon start costs a second or more).
 * stopAll() in the file's after hook (helpers/suite.ts) stops it.
 */
async function withSharedDaemon(body: (d: Daemon) => Promise<void>): Promise<void> {
  sharedDaemon ??= startDaemon({ options: DAEMON_BASE });
  const d = await sharedDaemon;
  try {
    await body(d);
  } catch (e: unknown) {
    if (e instanceof Error) addContext(e, `--- daemon stderr ---\n${d.stderr()}`);
    throw e;
  }
}

/** Connect (to host, from localAddress if given), read 220, log in; transcript added to failures of body. */
async function withSession(
  d: Daemon,
  body: (ftp: FtpControl) => Promise<void>,
  opts: { host?: string; from?: string } = {},
): Promise<void> {
  const host = opts.host ?? HOST;
  const ftp = opts.from === undefined ? await FtpControl.connect(host, d.port) : await controlFrom(opts.from, host, d.port);
  try {
    expectReply(await ftp.reply(), 220);
    const r = await login(ftp, user.name, user.password);
    assert.equal(r.pass?.code, 230, r.pass?.text ?? r.user.text);
    await body(ftp);
  } catch (e: unknown) {
    if (e instanceof Error) addContext(e, `--- transcript ---\n${ftp.transcript.join('\n')}`);
    throw e;
  } finally {
    ftp.close();
  }
}

/** PASV (or EPSV), connect (from `from` if given), RETR hello.txt, 226; returns the data. */
async function passiveRetr(ftp: FtpControl, opts: { from?: string; extended?: boolean; host?: string } = {}): Promise<Buffer> {
  let port: number;
  if (opts.extended === true) {
    port = parseEpsv(await cmd(ftp, 'EPSV', 229));
  } else {
    port = parsePasv(await cmd(ftp, 'PASV', 227)).port;
  }
  const sock = await dataConnect(opts.host ?? HOST, port, { localAddress: opts.from });
  const data = collect(sock);
  await cmd(ftp, 'RETR hello.txt', 150);
  const buf = await data;
  await final(ftp);
  return buf;
}

/** Read the final reply of a transfer (after 150). */
async function final(ftp: FtpControl, code = 226): Promise<FtpReply> {
  const r = await ftp.reply(10_000);
  expectReply(r, code);
  return r;
}

/** Active-mode RETR through a listener on `host`: the setup command is `setup(port)`. */
async function activeRetr(ftp: FtpControl, host: string, setup: (port: number) => string, setupText: string): Promise<Accepted & { data: Buffer }> {
  const l = await activeListener(host);
  try {
    await cmd(ftp, setup(l.port), 200, setupText);
    ftp.send('RETR hello.txt');
    const first = await ftp.reply(10_000);
    expectReply(first, 150);
    const a = await l.accepted;
    const data = await collect(a.sock);
    await final(ftp);
    return { ...a, data };
  } finally {
    l.close();
  }
}

/** PORT to a fresh listener, send `line`, 150, let `use` drive the data connection, 226. */
async function activeTransfer<R>(ftp: FtpControl, line: string, use: (sock: net.Socket) => Promise<R>): Promise<R> {
  const l = await activeListener(HOST);
  try {
    await cmd(ftp, `PORT ${portArg(HOST, l.port)}`, 200);
    ftp.send(line);
    expectReply(await ftp.reply(10_000), 150);
    const result = await use((await l.accepted).sock);
    await final(ftp);
    return result;
  } finally {
    l.close();
  }
}

// ---------------------------------------------------------------------------

describe('PASV and EPSV', () => {
  test('227 names the control connection\'s local address; ports stay in pasv_min_port..pasv_max_port and listen', T, async () => {
    // The daemon listens on 127.0.0.5; our source address is 127.0.0.1. The
    // 227 must carry 127.0.0.5 (the local end), not the client's address.
    await withDaemon({ listen_address: '127.0.0.5', pasv_min_port: 41000, pasv_max_port: 41010 }, async (d) => {
      await withSession(
        d,
        async (ftp) => {
          const ports = new Set<number>();
          for (let i = 0; i < 12; i++) {
            const r = await cmd(ftp, 'PASV', 227, /^Entering Passive Mode \(\d+,\d+,\d+,\d+,\d+,\d+\)\.$/);
            const p = parsePasv(r);
            assert.equal(p.host, '127.0.0.5', r.text);
            assert.ok(p.port >= 41000 && p.port <= 41010, `port ${p.port} outside 41000..41010`);
            ports.add(p.port);
          }
          for (let i = 0; i < 6; i++) {
            const r = await cmd(ftp, 'EPSV', 229, /^Entering Extended Passive Mode \(\|\|\|\d+\|\)$/);
            const port = parseEpsv(r);
            assert.ok(port >= 41000 && port <= 41010, `EPSV port ${port} outside 41000..41010`);
            ports.add(port);
          }
          assert.ok(ports.size > 1, `the port is random, not fixed: ${[...ports].join(',')}`);
          // The advertised port really is the session's listener.
          assert.equal((await passiveRetr(ftp, { host: '127.0.0.5' })).toString(), HELLO);
          assert.equal((await passiveRetr(ftp, { host: '127.0.0.5', extended: true })).toString(), HELLO);
          await cmd(ftp, 'EPSV 1', 229);
          await cmd(ftp, 'EPSV 2', 522, 'Bad network protocol.');
          console.log(`  PASV/EPSV ports seen: ${[...ports].sort().join(',')}`);
        },
        { host: '127.0.0.5' },
      );
    });
  });

  test('EPSV ALL: then PASV, PORT and EPRT get 550 Permission denied.; EPSV still works', T, async () => {
    await withSharedDaemon(async (d) => {
      await withSession(d, async (ftp) => {
        await cmd(ftp, 'EPSV ALL', 200);
        await cmd(ftp, 'PASV', 550, 'Permission denied.');
        await cmd(ftp, `PORT ${portArg(HOST, 40000)}`, 550, 'Permission denied.');
        await cmd(ftp, 'EPRT |1|127.0.0.1|40000|', 550, 'Permission denied.');
        assert.equal((await passiveRetr(ftp, { extended: true })).toString(), HELLO);
      });
    });
  });

  test('pasv_enable=NO: PASV and EPSV get 550 Permission denied.', T, async () => {
    await withDaemon({ pasv_enable: false }, async (d) => {
      await withSession(d, async (ftp) => {
        await cmd(ftp, 'PASV', 550, 'Permission denied.');
        await cmd(ftp, 'EPSV', 550, 'Permission denied.');
        await cmd(ftp, 'RETR hello.txt', 425, 'Use PORT or PASV first.');
      });
    });
  });

  test('pasv_address=1.2.3.4 is advertised in 227 (EPSV carries no address)', T, async () => {
    await withDaemon({ pasv_address: '1.2.3.4', pasv_min_port: 41000, pasv_max_port: 41010 }, async (d) => {
      await withSession(d, async (ftp) => {
        const p = parsePasv(await cmd(ftp, 'PASV', 227));
        assert.equal(p.host, '1.2.3.4');
        assert.ok(p.port >= 41000 && p.port <= 41010);
        // The listener itself is on the local address: EPSV transfers work.
        assert.equal((await passiveRetr(ftp, { extended: true })).toString(), HELLO);
      });
    });
  });

  test('pasv_addr_resolve=YES: pasv_address=localhost is advertised as 127.0.0.1', T, async () => {
    // The daemon listens on 127.0.0.5 so that falling back to the local
    // address (a failed lookup) would show as 127.0.0.5.
    await withDaemon({ listen_address: '127.0.0.5', pasv_address: 'localhost', pasv_addr_resolve: true }, async (d) => {
      await withSession(
        d,
        async (ftp) => {
          const r = await cmd(ftp, 'PASV', 227);
          assert.equal(parsePasv(r).host, '127.0.0.1', r.text);
        },
        { host: '127.0.0.5' },
      );
    });
  });
  test('a stale passive listener never lingers: a new PASV, a PORT, a finished transfer and a timeout close it', T, async () => {
    await withDaemon({ accept_timeout: 1 }, async (d) => {
      await withSession(d, async (ftp) => {
        const refused = async (port: number, what: string): Promise<void> => {
          await assert.rejects(dataConnect(HOST, port), /ECONNREFUSED/, `${what}: port ${port} still accepts connections`);
        };
        const first = parsePasv(await cmd(ftp, 'PASV', 227)).port;
        const second = parsePasv(await cmd(ftp, 'PASV', 227)).port;
        if (first !== second) await refused(first, 'after a second PASV');
        await cmd(ftp, `PORT ${portArg(HOST, 40000)}`, 200);
        await refused(second, 'after PORT');
        const used = parsePasv(await cmd(ftp, 'PASV', 227)).port;
        const sock = await dataConnect(HOST, used);
        const data = collect(sock);
        await cmd(ftp, 'RETR hello.txt', 150);
        assert.equal((await data).toString(), HELLO);
        await final(ftp);
        await refused(used, 'after the transfer');
        const timedOut = parsePasv(await cmd(ftp, 'PASV', 227)).port;
        await cmd(ftp, 'RETR hello.txt', 425, 'Failed to establish connection.');
        await refused(timedOut, 'after the accept timeout');
      });
    });
  });

  test('every port of the range taken: PASV → 425 Could not listen on a passive port.; the session goes on', T, async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve, reject) => {
      blocker.once('error', reject);
      blocker.listen(41020, HOST, resolve);
    });
    try {
      await withDaemon({ pasv_min_port: 41020, pasv_max_port: 41020 }, async (d) => {
        await withSession(d, async (ftp) => {
          const t0 = Date.now();
          await cmd(ftp, 'PASV', 425, 'Could not listen on a passive port.');
          await cmd(ftp, 'EPSV', 425, 'Could not listen on a passive port.');
          assert.ok(Date.now() - t0 < 5_000, 'the retries are bounded');
          await cmd(ftp, 'NOOP', 200);
        });
      });
    } finally {
      blocker.close();
    }
  });
});

describe('SECURITY: pasv_promiscuous (data-connection theft)', () => {
  test('pasv_promiscuous=NO: a connection from 127.0.0.2 to our PASV port → 425 Security: Bad IP connecting.', T, async () => {
    await withSharedDaemon(async (d) => {
      await withSession(d, async (ftp) => {
        for (const verb of ['PASV', 'EPSV']) {
          const r = await cmd(ftp, verb, verb === 'PASV' ? 227 : 229);
          const port = verb === 'PASV' ? parsePasv(r).port : parseEpsv(r);
          // The thief connects first; the daemon must drop it without a byte.
          const thief = await dataConnect(HOST, port, { localAddress: OTHER });
          const stolen = await collect(thief, 5_000);
          assert.equal(stolen.length, 0, `${verb}: the thief got no data`);
          await cmd(ftp, 'RETR hello.txt', 425, 'Security: Bad IP connecting.');
        }
        const e = await dataFailure(d, 'bad_ip');
        assert.equal(e.reply, 425);
        assert.equal(e.mode, 'passive');
        assert.equal(e.client, HOST);
        assert.match(String(e.cause), /127\.0\.0\.2/);
        console.log(`  logged: ${JSON.stringify(e)}`);
        // The session is intact: the real client still transfers.
        assert.equal((await passiveRetr(ftp)).toString(), HELLO);
      });
    });
  });

  test('pasv_promiscuous=YES: the same connection from 127.0.0.2 gets the file', T, async () => {
    await withDaemon({ pasv_promiscuous: true }, async (d) => {
      await withSession(d, async (ftp) => {
        assert.equal((await passiveRetr(ftp, { from: OTHER })).toString(), HELLO);
        assert.equal((await passiveRetr(ftp, { from: OTHER, extended: true })).toString(), HELLO);
        assert.equal(logEvents(d, 'data_connection_failed').length, 0);
      });
    });
  });
});

describe('PORT and EPRT (FTP bounce)', () => {
  test('PORT to another address, to a privileged port, or malformed → 500 Illegal PORT command.', T, async () => {
    await withSharedDaemon(async (d) => {
      await withSession(d, async (ftp) => {
        const bad = [
          `PORT ${portArg(OTHER, 40000)}`,
          `PORT ${portArg('10.0.0.1', 40000)}`,
          `PORT ${portArg(HOST, 21)}`,
          `PORT ${portArg(HOST, 1023)}`,
          'PORT 127,0,0,1,256,1',
          'PORT 127,0,0,1,4',
          'PORT 1,2,3',
          'PORT',
          'PORT a,b,c,d,e,f',
        ];
        for (const line of bad) await cmd(ftp, line, 500, 'Illegal PORT command.');
        // A refused PORT leaves no data connection set up.
        await cmd(ftp, 'RETR hello.txt', 425, 'Use PORT or PASV first.');
        await cmd(ftp, `PORT ${portArg(HOST, 1024)}`, 200, 'PORT command successful. Consider using PASV.');
      });
    });
  });

  test('a good PORT: the server connects to the control peer; RETR, LIST and STOR work', T, async () => {
    await withSharedDaemon(async (d) => {
      await withSession(d, async (ftp) => {
        const r = await activeRetr(ftp, HOST, (p) => `PORT ${portArg(HOST, p)}`, 'PORT command successful. Consider using PASV.');
        assert.equal(r.data.toString(), HELLO);
        assert.equal(r.remoteAddress, HOST);
        assert.ok(r.remotePort >= 1024, `without connect_from_port_20 the source port is unprivileged: ${r.remotePort}`);

        const listing = await activeTransfer(ftp, 'LIST', async (sock) => (await collect(sock)).toString());
        assert.match(listing, / hello\.txt\r?\n/);
        await activeTransfer(ftp, 'STOR up/active.txt', async (sock) => {
          sock.end('uploaded in active mode\n');
          await collect(sock);
        });
        assert.equal(fs.readFileSync(path.join(home, 'up', 'active.txt'), 'utf8'), 'uploaded in active mode\n');
      });
    });
  });

  test('EPRT: |1|127.0.0.1|port| works; |2|::1| on IPv4 → 522; malformed → 500 Bad EPRT command.; another host → 500', T, async () => {
    await withSharedDaemon(async (d) => {
      await withSession(d, async (ftp) => {
        let r = await activeRetr(ftp, HOST, (p) => `EPRT |1|127.0.0.1|${p}|`, 'EPRT command successful. Consider using EPSV.');
        assert.equal(r.data.toString(), HELLO);
        // RFC 2428: any delimiter character.
        r = await activeRetr(ftp, HOST, (p) => `EPRT !1!127.0.0.1!${p}!`, 'EPRT command successful. Consider using EPSV.');
        assert.equal(r.data.toString(), HELLO);

        await cmd(ftp, 'EPRT |2|::1|40000|', 522, 'Bad EPRT protocol.');
        await cmd(ftp, 'EPRT |3|127.0.0.1|40000|', 522, 'Bad EPRT protocol.');
        for (const line of ['EPRT', 'EPRT |1|127.0.0.1|', 'EPRT |1|127.0.0.1|abc|', 'EPRT |1|::1|40000|', 'EPRT |1|127.0.0|40000|', 'EPRT 127.0.0.1:40000']) {
          await cmd(ftp, line, 500, 'Bad EPRT command.');
        }
        await cmd(ftp, 'EPRT |1|127.0.0.2|40000|', 500, 'Illegal EPRT command.');
        await cmd(ftp, 'EPRT |1|127.0.0.1|21|', 500, 'Illegal EPRT command.');
      });
    });
  });

  test('port_enable=NO: PORT and EPRT get 550 Permission denied.', T, async () => {
    await withDaemon({ port_enable: false }, async (d) => {
      await withSession(d, async (ftp) => {
        await cmd(ftp, `PORT ${portArg(HOST, 40000)}`, 550, 'Permission denied.');
        await cmd(ftp, 'EPRT |1|127.0.0.1|40000|', 550, 'Permission denied.');
      });
    });
  });

  test('Python ftplib in active mode (set_pasv(False)): LIST, RETR, STOR', T, async () => {
    await withSharedDaemon(async (d) => {
      const local = makeTempDir('tsftpd-dcs-');
      tempDirs.push(local);
      const src = path.join(local, 'src.bin');
      fs.writeFileSync(src, Buffer.alloc(300_000, 0x5a));
      const t = await runFtplib({
        port: d.port,
        user: user.name,
        password: user.password,
        passive: false,
        steps: [{ op: 'list' }, { op: 'retr', remote: 'hello.txt', local: path.join(local, 'got.txt') }, { op: 'stor', local: src, remote: 'up/ftplib.bin' }, { op: 'quit' }],
      });
      const all = JSON.stringify(t, null, 1);
      for (const s of t.steps) assert.equal(s.error, undefined, `${s.op} failed: ${all}`);
      const replies = t.steps.flatMap((s) => s.replies);
      assert.ok(replies.some((x) => x.startsWith('200 PORT command successful')), `ftplib used PORT: ${all}`);
      assert.ok(!replies.some((x) => /^22[79]/.test(x)), `no passive mode: ${all}`);
      assert.equal(fs.readFileSync(path.join(local, 'got.txt'), 'utf8'), HELLO);
      assert.equal(fs.statSync(path.join(home, 'up', 'ftplib.bin')).size, 300_000);
    });
  });

  test('connect_from_port_20=YES: the data connection comes from port 20 (ftp_data_port default)', T, async () => {
    await withDaemon({ connect_from_port_20: true }, async (d) => {
      await withSession(d, async (ftp) => {
        let r = await activeRetr(ftp, HOST, (p) => `PORT ${portArg(HOST, p)}`, 'PORT command successful. Consider using PASV.');
        assert.equal(r.data.toString(), HELLO);
        assert.equal(r.remoteAddress, HOST);
        assert.equal(r.remotePort, 20, 'source port of the PORT data connection');
        r = await activeRetr(ftp, HOST, (p) => `EPRT |1|127.0.0.1|${p}|`, 'EPRT command successful. Consider using EPSV.');
        assert.equal(r.remotePort, 20, 'source port of the EPRT data connection');
        // A refused connection through priv is a 425 and a logged port20_failed.
        const closed = await closedPort();
        await cmd(ftp, `PORT ${portArg(HOST, closed)}`, 200);
        await cmd(ftp, 'RETR hello.txt', 425, 'Failed to establish connection.');
        const e = await dataFailure(d, 'port20_failed');
        assert.equal(e.mode, 'active');
        console.log(`  logged: ${JSON.stringify(e)}`);
      });
    });
  });

  test('connect_from_port_20=YES with ftp_data_port=2020: the data connection comes from port 2020', T, async () => {
    await withDaemon({ connect_from_port_20: true, ftp_data_port: 2020 }, async (d) => {
      await withSession(d, async (ftp) => {
        const r = await activeRetr(ftp, HOST, (p) => `PORT ${portArg(HOST, p)}`, 'PORT command successful. Consider using PASV.');
        assert.equal(r.data.toString(), HELLO);
        assert.equal(r.remotePort, 2020);
      });
    });
  });
  test('port_promiscuous=YES: PORT/EPRT to another address and to a privileged port are accepted (FXP)', T, async () => {
    await withDaemon({ port_promiscuous: true }, async (d) => {
      await withSession(d, async (ftp) => {
        const r = await activeRetr(ftp, OTHER, (p) => `PORT ${portArg(OTHER, p)}`, 'PORT command successful. Consider using PASV.');
        assert.equal(r.data.toString(), HELLO);
        const e = await activeRetr(ftp, OTHER, (p) => `EPRT |1|${OTHER}|${p}|`, 'EPRT command successful. Consider using EPSV.');
        assert.equal(e.data.toString(), HELLO);
        await cmd(ftp, `PORT ${portArg(HOST, 21)}`, 200);
        await cmd(ftp, 'EPRT |1|127.0.0.1|21|', 200);
      });
    });
  });
});

/** A port on 127.0.0.1 nobody listens on (listened on, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const a = s.address();
      const port = a !== null && typeof a !== 'string' ? a.port : -1;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A listening port whose accept queue is full, so a further SYN is dropped
 * and connect() hangs: a Python process listens with backlog 0 and never
 * accepts; two connections of its own fill the queue.
 */
async function blackholePort(): Promise<number> {
  const script = [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'fill = []',
    'for _ in range(2):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try:',
    '        c.connect(s.getsockname())',
    '    except BlockingIOError:',
    '        pass',
    '    fill.append(c)',
    'time.sleep(0.3)',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(60)',
  ].join('\n');
  const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  child.stdout.setEncoding('utf8');
  let out = '';
  child.stdout.on('data', (s: string) => {
    out += s;
  });
  const line = await waitFor(() => (out.includes('\n') ? out.trim() : null), 5_000, 'the blackhole listener port');
  return Number(line);
}

function stopChild(c: ChildProcess): void {
  if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
}

describe('timeouts, and every failed data connection logged with its cause', () => {
  test('accept_timeout=2: PASV, then RETR without connecting → 425 Failed to establish connection. after ~2 s', T, async () => {
    await withDaemon({ accept_timeout: 2 }, async (d) => {
      await withSession(d, async (ftp) => {
        await cmd(ftp, 'PASV', 227);
        const t0 = Date.now();
        await cmd(ftp, 'RETR hello.txt', 425, 'Failed to establish connection.');
        const s = (Date.now() - t0) / 1000;
        assert.ok(s >= 1.8 && s <= 4.5, `425 after ${s.toFixed(2)} s (accept_timeout=2)`);
        const e = await dataFailure(d, 'accept_timeout');
        assert.equal(e.mode, 'passive');
        assert.equal(e.reply, 425);
        console.log(`  425 after ${s.toFixed(2)} s; logged: ${JSON.stringify(e)}`);
        await cmd(ftp, 'NOOP', 200);
      });
    });
  });

  test('connect_timeout=2: PORT to a closed port → 425 at once; to a port that never answers → 425 after ~2 s', T, async () => {
    await withDaemon({ connect_timeout: 2 }, async (d) => {
      await withSession(d, async (ftp) => {
        const closed = await closedPort();
        await cmd(ftp, `PORT ${portArg(HOST, closed)}`, 200);
        let t0 = Date.now();
        await cmd(ftp, 'RETR hello.txt', 425, 'Failed to establish connection.');
        assert.ok(Date.now() - t0 < 1_800, 'a refused connection fails before the timeout');
        const refused = await dataFailure(d, 'connect_failed');
        assert.equal(refused.mode, 'active');
        assert.match(String(refused.cause), /ECONNREFUSED/);

        const hole = await blackholePort();
        await cmd(ftp, `PORT ${portArg(HOST, hole)}`, 200);
        t0 = Date.now();
        await cmd(ftp, 'RETR hello.txt', 425, 'Failed to establish connection.');
        const s = (Date.now() - t0) / 1000;
        for (const c of children) stopChild(c);
        assert.ok(s >= 1.8 && s <= 4.5, `425 after ${s.toFixed(2)} s (connect_timeout=2)`);
        await waitFor(() => logEvents(d, 'data_connection_failed').some((e) => e.cause === 'connect timeout'), 3_000, 'a logged connect timeout');
        console.log(`  unanswered connect: 425 after ${s.toFixed(2)} s`);
        await cmd(ftp, 'NOOP', 200);
      });
    });
  });

  test('idle_session_timeout=2: 421 Timeout. and close, logged in or not', T, async () => {
    await withDaemon({ idle_session_timeout: 2 }, async (d) => {
      await withSession(d, async (ftp) => {
        const t0 = Date.now();
        const r = await ftp.reply(6_000);
        expectReply(r, 421, 'Timeout.');
        const s = (Date.now() - t0) / 1000;
        assert.ok(s >= 1.5 && s <= 4.5, `421 after ${s.toFixed(2)} s`);
        assert.equal(await ftp.waitClose(3_000), true, 'the connection closes after 421');
      });
      const pre = await FtpControl.connect(HOST, d.port);
      try {
        expectReply(await pre.reply(), 220);
        const t0 = Date.now();
        expectReply(await pre.reply(6_000), 421, 'Timeout.');
        const s = (Date.now() - t0) / 1000;
        assert.ok(s >= 1.5 && s <= 4.5, `pre-login 421 after ${s.toFixed(2)} s`);
        assert.equal(await pre.waitClose(3_000), true);
      } finally {
        pre.close();
      }
    });
  });
});

describe('IPv6 on ::1 (listen_ipv6=YES, listen_address6=::1)', () => {
  const v6 = { listen: false, listen_ipv6: true, listen_address6: '::1', listen_address: null };

  test('login, EPSV LIST/RETR/STOR, EPRT |2|::1| active RETR; PASV and IPv4 EPRT refused', T, async () => {
    await withDaemon(v6, async (d) => {
      await withSession(
        d,
        async (ftp) => {
          // EPSV: the data connection on ::1.
          let port = parseEpsv(await cmd(ftp, 'EPSV', 229, /^Entering Extended Passive Mode \(\|\|\|\d+\|\)$/));
          let sock = await dataConnect('::1', port);
          let data = collect(sock);
          await cmd(ftp, 'LIST', 150);
          assert.match((await data).toString(), / hello\.txt\r?\n/);
          await final(ftp);

          assert.equal((await passiveRetr(ftp, { host: '::1', extended: true })).toString(), HELLO);

          port = parseEpsv(await cmd(ftp, 'EPSV 2', 229));
          sock = await dataConnect('::1', port);
          sock.on('error', () => undefined);
          const closed = collect(sock);
          await cmd(ftp, 'STOR up/v6.txt', 150);
          sock.end('stored over IPv6\n');
          await closed;
          await final(ftp);
          assert.equal(fs.readFileSync(path.join(home, 'up', 'v6.txt'), 'utf8'), 'stored over IPv6\n');

          // EPRT |2|::1|port|: active mode over IPv6.
          const r = await activeRetr(ftp, '::1', (p) => `EPRT |2|::1|${p}|`, 'EPRT command successful. Consider using EPSV.');
          assert.equal(r.data.toString(), HELLO);
          assert.equal(r.remoteAddress, '::1');

          // IPv4 forms on an IPv6 control connection. EPRT |1| parses (as in
          // vsftpd) but 127.0.0.1 is not the control peer ::1.
          await cmd(ftp, 'EPSV 1', 522, 'Bad network protocol.');
          await cmd(ftp, 'EPRT |1|127.0.0.1|40000|', 500, 'Illegal EPRT command.');
          await cmd(ftp, `PORT ${portArg(HOST, 40000)}`, 500, 'Illegal PORT command.');
          const pasv = await ftp.command('PASV');
          console.log(`  PASV on IPv6: ${pasv.text}`);
          assert.ok(pasv.code >= 400 && pasv.code < 600, `PASV on an IPv6 control connection must be refused, got ${pasv.text}`);
          // No passive listener was left behind: a transfer now has no setup.
          await cmd(ftp, 'RETR hello.txt', 425, 'Use PORT or PASV first.');
          await cmd(ftp, 'NOOP', 200);
        },
        { host: '::1' },
      );
    });
  });
  test('connect_from_port_20=YES over IPv6: EPRT |2|::1| data connection from [::1]:20', T, async () => {
    await withDaemon({ ...v6, connect_from_port_20: true }, async (d) => {
      await withSession(
        d,
        async (ftp) => {
          const r = await activeRetr(ftp, '::1', (p) => `EPRT |2|::1|${p}|`, 'EPRT command successful. Consider using EPSV.');
          assert.equal(r.data.toString(), HELLO);
          assert.equal(r.remoteAddress, '::1');
          assert.equal(r.remotePort, 20);
        },
        { host: '::1' },
      );
    });
  });

  // listen_address6=::ffff:127.0.0.1 gives the dual-stack case (listen_ipv6=YES
  // accepting IPv4 clients as v4-mapped addresses) without listening beyond lo.
  const mapped = { ...v6, listen_address6: '::ffff:127.0.0.1' };

  test('IPv4 clients on an IPv6 socket (v4-mapped): PASV and the peer check see 127.0.0.1', T, async () => {
    await withDaemon(mapped, async (d) => {
      await withSession(d, async (ftp) => {
        const r = await cmd(ftp, 'PASV', 227);
        assert.equal(parsePasv(r).host, HOST, r.text);
        const sock = await dataConnect(HOST, parsePasv(r).port);
        const data = collect(sock);
        await cmd(ftp, 'RETR hello.txt', 150);
        assert.equal((await data).toString(), HELLO);
        await final(ftp);
        // The peer check compares unmapped addresses: 127.0.0.2 is still refused.
        const port = parsePasv(await cmd(ftp, 'PASV', 227)).port;
        assert.equal((await collect(await dataConnect(HOST, port, { localAddress: OTHER }), 5_000)).length, 0);
        await cmd(ftp, 'RETR hello.txt', 425, 'Security: Bad IP connecting.');
        await cmd(ftp, 'EPRT |2|::1|40000|', 522, 'Bad EPRT protocol.');
        await cmd(ftp, `PORT ${portArg(OTHER, 40000)}`, 500, 'Illegal PORT command.');
      });
    });
  });

  test('IPv4 clients on an IPv6 socket (v4-mapped): connect_from_port_20 PORT works through priv', T, async () => {
    await withDaemon({ ...mapped, connect_from_port_20: true }, async (d) => {
      await withSession(d, async (ftp) => {
        const a = await activeRetr(ftp, HOST, (p) => `PORT ${portArg(HOST, p)}`, 'PORT command successful. Consider using PASV.');
        assert.equal(a.data.toString(), HELLO);
        assert.equal(a.remotePort, 20);
      });
    });
  });

  // The worker connects to the IPv4 target with localAddress set to the
  // session's v4-mapped local address: bind() fails with EINVAL, so active
  // mode is broken for every IPv4 client of a listen_ipv6=YES (dual-stack)
  // daemon unless connect_from_port_20=YES.
  test('IPv4 clients on an IPv6 socket (v4-mapped): PORT and EPRT |1| transfers work', T, async () => {
    await withDaemon(mapped, async (d) => {
      await withSession(d, async (ftp) => {
        const a = await activeRetr(ftp, HOST, (p) => `PORT ${portArg(HOST, p)}`, 'PORT command successful. Consider using PASV.');
        assert.equal(a.data.toString(), HELLO);
        const e = await activeRetr(ftp, HOST, (p) => `EPRT |1|127.0.0.1|${p}|`, 'EPRT command successful. Consider using EPSV.');
        assert.equal(e.data.toString(), HELLO);
      });
    });
  });
});
