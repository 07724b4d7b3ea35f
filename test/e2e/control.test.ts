// The control channel after login, through raw-socket transcripts: line limits,
// Telnet bytes, NUL, bare LF, empty lines, pipelining, HTTP verbs, and ABOR
// (idle, in band, as Telnet IP + Synch urgent data, during RETR, STOR and LIST).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, startDaemon, type Daemon, type OptionValue } from '../helpers/daemon';
import { connectWithGreeting, login, parseEpsv, type FtpControl, type FtpReply, dataConnect } from '../helpers/ftp';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const T = { timeout: 30_000 };
const HOST = '127.0.0.1';
const HELLO = 'hello\nworld\n';
/** Large enough that an unread RETR stalls on full socket buffers (sparse: no disk cost). */
const BIG = 256 * 1024 * 1024;

const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;



interface Env {
  d: Daemon;
  user: TestUser;
  home: string;
  up: string;
}

/** A jailed local user: home root-owned with hello.txt, big.bin (sparse), many/ (files), up/ (the user's). */
async function startLocal(extra: Record<string, OptionValue | null> = {}): Promise<Env> {
  const home = makeTempDir('tsftpd-cc-');
  tempDirs.push(home);
  fs.writeFileSync(path.join(home, 'hello.txt'), HELLO, { mode: 0o644 });
  const big = path.join(home, 'big.bin');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, BIG);
  const user = users.create({ home });
  const up = path.join(home, 'up');
  fs.mkdirSync(up);
  fs.chownSync(up, user.uid, user.gid);
  const d = await startDaemon({ options: { write_enable: true, chroot_local_user: true, local_umask: '022', ...extra } });
  return { d, user, home, up };
}

async function session(env: Env): Promise<FtpControl> {
  const { ftp, greeting } = await connectWithGreeting(HOST, env.d.port);
  assert.equal(greeting.code, 220, `${greeting.text}\n--- daemon stderr ---\n${env.d.stderr()}`);
  const r = await login(ftp, env.user.name, env.user.password);
  assert.equal(r.pass?.code, 230, r.pass?.text ?? r.user.text);
  return ftp;
}

async function withSession(env: Env, body: (ftp: FtpControl) => Promise<void>): Promise<void> {
  const ftp = await session(env);
  try {
    await body(ftp);
  } catch (e: unknown) {
    if (e instanceof Error) e.message += `\n--- transcript ---\n${ftp.transcript.join('\n')}\n--- daemon stderr ---\n${env.d.stderr()}`;
    throw e;
  } finally {
    ftp.close();
  }
}

function expectReply(r: FtpReply, code: number, text?: string): void {
  assert.equal(r.code, code, r.text);
  if (text !== undefined) assert.equal(r.message, text, r.text);
}

async function cmd(ftp: FtpControl, line: string, code: number, text?: string): Promise<FtpReply> {
  const r = await ftp.command(line);
  expectReply(r, code, text);
  return r;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nothing more arrives on the control connection for `ms`. */
async function assertSilent(ftp: FtpControl, ms: number): Promise<void> {
  await sleep(ms);
  assert.deepEqual(ftp.pending(), [], 'no reply expected yet');
}

const connectData = (port: number): Promise<net.Socket> => dataConnect(HOST, port);

function drain(sock: net.Socket, timeoutMs = 15_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('data connection did not close in time'));
    }, timeoutMs);
    sock.on('data', (c: Buffer) => {
      n += c.length;
    });
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(n);
    });
    sock.resume();
  });
}

async function epsv(ftp: FtpControl): Promise<number> {
  const r = await ftp.command('EPSV');
  expectReply(r, 229);
  return parseEpsv(r);
}

/** Start a RETR of big.bin whose data the client does not read (the transfer stalls). */
async function stalledRetr(ftp: FtpControl): Promise<net.Socket> {
  await cmd(ftp, 'TYPE I', 200);
  const sock = await connectData(await epsv(ftp));
  sock.pause();
  await cmd(ftp, 'RETR big.bin', 150, `Opening BINARY mode data connection for big.bin (${BIG} bytes).`);
  await sleep(300);
  return sock;
}

// ---------------------------------------------------------------------------

describe('control channel framing after login', () => {
  let env: Env;
  before(async () => {
    env = await startLocal();
  });
  after(async () => {
    await env.d.stop();
  });

  test('a 4096-byte line (\\n included) is served; 4097 bytes → 500 Input line too long. and close', T, async () => {
    await withSession(env, async (ftp) => {
      const pad = 'x'.repeat(4096 - 'NOOP \r\n'.length);
      ftp.sendRaw(`NOOP ${pad}\r\n`);
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
      ftp.sendRaw(`NOOP ${pad}x\r\n`);
      expectReply(await ftp.reply(), 500, 'Input line too long.');
      assert.equal(await ftp.waitClose(5_000), true);
    });
  });

  test('an endless line without \\n is cut at 4096 bytes with 500 and close', T, async () => {
    await withSession(env, async (ftp) => {
      ftp.sendRaw('NOOP '.padEnd(5000, 'y'));
      expectReply(await ftp.reply(), 500, 'Input line too long.');
      assert.equal(await ftp.waitClose(5_000), true);
    });
  });

  test('Telnet IAC sequences are stripped; IAC IAC is a data byte', T, async () => {
    await withSession(env, async (ftp) => {
      ftp.sendRaw('\xff\xfb\x18NOOP\r\n');
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
      ftp.sendRaw('\xff\xf4\xff\xf2NOOP\r\n');
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
      ftp.sendRaw('NO\xff\xffOP\r\n');
      expectReply(await ftp.reply(), 500, 'Unknown command.');
    });
  });

  test('bare LF ends a line; trailing CRs are dropped; verbs are case-insensitive', T, async () => {
    await withSession(env, async (ftp) => {
      ftp.sendRaw('NOOP\n');
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
      ftp.sendRaw('noop\r\r\r\n');
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
      ftp.sendRaw('sYsT\n');
      expectReply(await ftp.reply(), 215, 'UNIX Type: L8');
    });
  });

  test('empty lines and a lone space are ignored (no reply)', T, async () => {
    await withSession(env, async (ftp) => {
      ftp.sendRaw('\r\n\n \r\n\r\r\nNOOP\r\n');
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
      await assertSilent(ftp, 300);
    });
  });

  test('NUL in a path is a newline (RFC 959): MKD up/a<NUL>b creates "a\\nb"', T, async () => {
    await withSession(env, async (ftp) => {
      ftp.sendRaw('MKD up/a\0b\r\n');
      const r = await ftp.reply();
      // The reply carries the newline back as NUL (vsftpd), keeping the framing.
      expectReply(r, 257, '"/up/a\0b" created');
    });
    assert.ok(fs.statSync(path.join(env.up, 'a\nb')).isDirectory());
  });

  test('pipelined commands in one write are answered in order', T, async () => {
    await withSession(env, async (ftp) => {
      ftp.sendRaw('NOOP\r\nPWD\r\nTYPE I\r\nSIZE hello.txt\r\nSYST\r\n');
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
      expectReply(await ftp.reply(), 257, '"/" is the current directory');
      expectReply(await ftp.reply(), 200, 'Switching to Binary mode.');
      expectReply(await ftp.reply(), 213, String(HELLO.length));
      expectReply(await ftp.reply(), 215, 'UNIX Type: L8');
    });
  });

  test('commands pipelined behind a transfer wait for it: 150, 226, then their replies', T, async () => {
    await withSession(env, async (ftp) => {
      const sock = await connectData(await epsv(ftp));
      const got = drain(sock);
      ftp.sendRaw('RETR hello.txt\r\nNOOP\r\nSIZE hello.txt\r\n');
      expectReply(await ftp.reply(), 150);
      assert.equal(await got, HELLO.length);
      expectReply(await ftp.reply(), 226, 'Transfer complete.');
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
      expectReply(await ftp.reply(), 213, String(HELLO.length));
    });
  });

  for (const verb of ['GET', 'POST', 'HEAD', 'OPTIONS', 'CONNECT']) {
    test(`HTTP verb ${verb} after login → 500 HTTP protocol commands not allowed. and close`, T, async () => {
      await withSession(env, async (ftp) => {
        ftp.sendRaw(`${verb} / HTTP/1.1\r\nHost: x\r\n\r\n`);
        expectReply(await ftp.reply(), 500, 'HTTP protocol commands not allowed.');
        assert.equal(await ftp.waitClose(5_000), true);
      });
    });
  }

  test('ABOR with no transfer → 225 No transfer to ABOR. (also as Telnet IP + DM)', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'ABOR', 225, 'No transfer to ABOR.');
      ftp.sendRaw('\xff\xf4\xff\xf2ABOR\r\n');
      expectReply(await ftp.reply(), 225, 'No transfer to ABOR.');
    });
  });

  test('async_abor_enable=NO: ABOR during RETR is answered after it (426, then 225), as vsftpd', T, async () => {
    await withSession(env, async (ftp) => {
      const sock = await stalledRetr(ftp);
      ftp.send('ABOR');
      await assertSilent(ftp, 300);
      sock.destroy();
      expectReply(await ftp.reply(10_000), 426, 'Failure writing network stream.');
      expectReply(await ftp.reply(), 225, 'No transfer to ABOR.');
      await cmd(ftp, 'NOOP', 200);
    });
  });
});

describe('ABOR during transfers (async_abor_enable=YES)', () => {
  let env: Env;
  before(async () => {
    env = await startLocal({ async_abor_enable: true });
    const many = path.join(env.home, 'many');
    fs.mkdirSync(many);
    const long = 'n'.repeat(200);
    for (let i = 0; i < 30_000; i++) fs.writeFileSync(path.join(many, `${long}${i}`), '');
  });
  after(async () => {
    await env.d.stop();
  });

  test('ABOR during RETR: 426 Failure writing network stream. then 226 ABOR successful.; session goes on', T, async () => {
    await withSession(env, async (ftp) => {
      const sock = await stalledRetr(ftp);
      ftp.send('ABOR');
      expectReply(await ftp.reply(5_000), 426, 'Failure writing network stream.');
      expectReply(await ftp.reply(), 226, 'ABOR successful.');
      sock.destroy();
      await cmd(ftp, 'NOOP', 200, 'NOOP ok.');
      await cmd(ftp, 'SIZE hello.txt', 213);
    });
  });

  test('urgent ABOR (send(IAC IP IAC, MSG_OOB) + DM ABOR, from Python) during RETR', T, async () => {
    const script = `
import socket, sys, json, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = socket.create_connection((host, port), timeout=10)
f = c.makefile('rb')
def reply():
    line = f.readline().decode('latin1').rstrip('\\r\\n')
    while line[3:4] == '-':
        nxt = f.readline().decode('latin1').rstrip('\\r\\n')
        if nxt.startswith(line[:3] + ' '):
            line = nxt
    return line
out = {'greeting': reply()}
c.sendall(('USER %s\\r\\n' % user).encode()); reply()
c.sendall(('PASS %s\\r\\n' % pw).encode()); out['pass'] = reply()
c.sendall(b'TYPE I\\r\\n'); reply()
c.sendall(b'EPSV\\r\\n'); r = reply()
d = socket.create_connection((host, int(r.split('|||')[1].split('|')[0])), timeout=10)
c.sendall(b'RETR big.bin\\r\\n'); out['retr'] = reply()
time.sleep(0.4)
c.send(b'\\xff\\xf4\\xff', socket.MSG_OOB)
c.sendall(b'\\xf2ABOR\\r\\n')
out['first'] = reply(); out['second'] = reply()
c.sendall(b'NOOP\\r\\n'); out['noop'] = reply()
d.close(); c.close()
print(json.dumps(out))
`;
    const r = spawnSync('python3', ['-c', script, HOST, String(env.d.port), env.user.name, env.user.password], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 0, `python: ${r.stderr}\n--- daemon ---\n${env.d.stderr()}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, string>;
    assert.equal(out.pass, '230 Login successful.');
    assert.match(out.retr ?? '', /^150 Opening BINARY mode/);
    assert.equal(out.first, '426 Failure writing network stream.');
    assert.equal(out.second, '226 ABOR successful.');
    assert.equal(out.noop, '200 NOOP ok.');
  });

  test('ABOR during STOR: 426 Failure reading network stream. then 226 ABOR successful.; the bytes so far stay', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE I', 200);
      const sock = await connectData(await epsv(ftp));
      await cmd(ftp, 'STOR up/aborted.bin', 150, 'Ok to send data.');
      sock.write(Buffer.alloc(4096, 7));
      await sleep(300);
      ftp.send('ABOR');
      expectReply(await ftp.reply(5_000), 426, 'Failure reading network stream.');
      expectReply(await ftp.reply(), 226, 'ABOR successful.');
      sock.destroy();
      await cmd(ftp, 'NOOP', 200);
    });
    assert.equal(fs.statSync(path.join(env.up, 'aborted.bin')).size, 4096);
  });

  test('NOOP during a transfer waits its turn; the transfer then completes normally', T, async () => {
    await withSession(env, async (ftp) => {
      await cmd(ftp, 'TYPE I', 200);
      const sock = await connectData(await epsv(ftp));
      sock.pause();
      await cmd(ftp, 'RETR big.bin', 150);
      ftp.send('NOOP');
      await assertSilent(ftp, 300);
      assert.equal(await drain(sock, 60_000), BIG);
      expectReply(await ftp.reply(10_000), 226, 'Transfer complete.');
      expectReply(await ftp.reply(), 200, 'NOOP ok.');
    });
  });

  test('ABOR right after a transfer ended: 225 No transfer to ABOR.', T, async () => {
    await withSession(env, async (ftp) => {
      const sock = await connectData(await epsv(ftp));
      const got = drain(sock);
      await cmd(ftp, 'RETR hello.txt', 150);
      await got;
      expectReply(await ftp.reply(), 226, 'Transfer complete.');
      await cmd(ftp, 'ABOR', 225, 'No transfer to ABOR.');
    });
  });

  test('ABOR during LIST: 426 Failure writing network stream. then 226 ABOR successful.', T, async () => {
    await withSession(env, async (ftp) => {
      const sock = await connectData(await epsv(ftp));
      sock.pause();
      await cmd(ftp, 'LIST many', 150);
      await sleep(300);
      ftp.send('ABOR');
      expectReply(await ftp.reply(5_000), 426, 'Failure writing network stream.');
      expectReply(await ftp.reply(), 226, 'ABOR successful.');
      sock.destroy();
      await cmd(ftp, 'NOOP', 200);
    });
  });
});
