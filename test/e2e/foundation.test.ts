// Foundation proof: the real daemon, started as root from generated configs, checked
// through /proc and through real FTP clients (raw socket, Python ftplib, curl, tnftp).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { runCurl, runFtplib, runTnftp, type FtplibStepResult, type FtplibTranscript } from '../helpers/clients';
import {
  makeTempDir,
  runBinary,
  runConfigOnly,
  startDaemon,
  type Daemon,
  type OptionValue,
} from '../helpers/daemon';
import { connectWithGreeting, login, type FtpControl } from '../helpers/ftp';
import {
  connectionHolders,
  describeProc,
  descendants,
  isAlive,
  procInfo,
  procInfos,
  waitFor,
  type ProcInfo,
} from '../helpers/proc';
import { lookupUser, type TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const TEST_TIMEOUT = { timeout: 60_000 };
const NO_CAPS = '0000000000000000';
const HELLO = 'hello from tsftpd tests\nsecond line\n';

const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;



// ---------------------------------------------------------------------------
// fixtures

function tempDir(prefix: string): string {
  const d = makeTempDir(prefix);
  tempDirs.push(d);
  return d;
}

/**
 * A local user whose home (the jail) is root-owned 0755 with hello.txt (0644) and an
 * `upload` subdirectory owned by the user. writableRoot: the home is owned by the user.
 */
function makeLocalUser(opts: { writableRoot?: boolean } = {}): TestUser {
  const home = tempDir('tsftpd-h-');
  const user = users.create({ home });
  fs.writeFileSync(path.join(home, 'hello.txt'), HELLO, { mode: 0o644 });
  const upload = path.join(home, 'upload');
  fs.mkdirSync(upload, { mode: 0o755 });
  fs.chownSync(upload, user.uid, user.gid);
  if (opts.writableRoot) fs.chownSync(home, user.uid, user.gid);
  return user;
}

/** The anonymous account: a created user whose home is the anon root (root-owned 0755, pub.txt). */
function makeAnonUser(): TestUser {
  const root = tempDir('tsftpd-a-');
  const user = users.create({ home: root });
  fs.writeFileSync(path.join(root, 'pub.txt'), 'public file\n', { mode: 0o644 });
  return user;
}

/** Local scratch space for client-side files. */
function scratch(): string {
  return tempDir('tsftpd-s-');
}

// ---------------------------------------------------------------------------
// daemon + diagnostics

interface RunOpts {
  /** Fail the test if processes are left after SIGTERM (the lifecycle tests do this explicitly). */
  strictStop?: boolean;
}

/** Start the daemon, run body, always stop it; daemon stderr is appended to failures. */
async function withDaemon(
  options: Record<string, OptionValue | null>,
  body: (d: Daemon) => Promise<void>,
  opts: RunOpts = {},
): Promise<void> {
  const d = await startDaemon({ options });
  let failure: unknown = null;
  try {
    await body(d);
  } catch (e: unknown) {
    failure = e;
  }
  const leftovers = await d.stop();
  if (failure !== null) {
    if (failure instanceof Error) {
      failure.message += `\n--- daemon stderr ---\n${d.stderr()}\n--- daemon stdout ---\n${d.stdout()}`;
    }
    throw failure;
  }
  if (leftovers.length > 0) {
    const msg = `WARNING: processes left after SIGTERM: ${leftovers.join(', ')}`;
    if (opts.strictStop) assert.fail(msg);
    console.log(msg);
  }
}

function processTree(d: Daemon): string {
  const infos = procInfos([d.pid, ...descendants(d.pid)]);
  return infos.map(describeProc).join('\n');
}

/** Wait (5 s) for a process of the daemon, other than the master, holding this client's connection and matching `want`. */
async function servingProcess(d: Daemon, ftp: FtpControl, want: (p: ProcInfo) => boolean, what: string): Promise<ProcInfo> {
  try {
    return await waitFor(
      () => connectionHolders(d.pid, d.port, ftp.localPort).find((p) => p.pid !== d.pid && want(p)),
      5_000,
      what,
    );
  } catch (e: unknown) {
    const holders = connectionHolders(d.pid, d.port, ftp.localPort).map(describeProc).join('\n');
    throw new Error(
      `${e instanceof Error ? e.message : String(e)}\nholders of the connection:\n${holders || '(none)'}\nprocess tree:\n${processTree(d)}`,
    );
  }
}

function assertConfined(p: ProcInfo, uid: number, gid: number, root: string): void {
  const ctx = describeProc(p);
  assert.deepEqual(
    [p.uid.real, p.uid.effective, p.uid.saved, p.uid.fs],
    [uid, uid, uid, uid],
    `all uids must be ${uid}: ${ctx}`,
  );
  assert.deepEqual([p.gid.real, p.gid.effective, p.gid.saved], [gid, gid, gid], `all gids must be ${gid}: ${ctx}`);
  assert.ok(!p.groups.includes(0), `no root supplementary group: ${ctx}`);
  assert.equal(p.root, fs.realpathSync(root), `jail root: ${ctx}`);
  assert.equal(p.noNewPrivs, 1, `NoNewPrivs: ${ctx}`);
  assert.equal(p.capEff, NO_CAPS, `CapEff: ${ctx}`);
  assert.equal(p.capPrm, NO_CAPS, `CapPrm: ${ctx}`);
  assert.equal(p.capBnd, NO_CAPS, `CapBnd: ${ctx}`);
}

function step(t: FtplibTranscript, i: number): FtplibStepResult {
  const s = t.steps[i];
  assert.ok(s, `no step ${i} in transcript ${JSON.stringify(t)}`);
  return s;
}

function expectOk(t: FtplibTranscript, i: number, op: string): FtplibStepResult {
  const s = step(t, i);
  assert.equal(s.op, op, `step ${i} op`);
  assert.equal(s.error, undefined, `step ${i} (${op}) failed: ${JSON.stringify(s)}\nwhole transcript: ${JSON.stringify(t, null, 1)}`);
  return s;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------

describe('command line and configuration errors', () => {
  test('-v prints a version and exits 0', TEST_TIMEOUT, async () => {
    const r = await runBinary(['-v']);
    assert.equal(r.timedOut, false, 'tsftpd -v did not exit');
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stdout, /\d+\.\d+\.\d+/, `stdout: ${JSON.stringify(r.stdout)}`);
    console.log(`tsftpd -v: ${r.stdout.trim()}`);
  });

  const base = [
    'listen=YES',
    'listen_address=127.0.0.1',
    'listen_port=${PORT}',
    'background=NO',
    'anonymous_enable=NO',
    'local_enable=YES',
    'secure_chroot_dir=${SECURE}',
    'pam_service_name=tsftpd-test',
  ];
  const withLine = (lineNo: number, text: string, replace: boolean): string => {
    const lines = [...base];
    if (replace) lines[lineNo - 1] = text;
    else lines.splice(lineNo - 1, 0, text);
    return `${lines.join('\n')}\n`;
  };
  const cases: Array<{ name: string; conf: string; lines: number[]; options: string[] }> = [
    { name: 'unknown option (typo chroot_local_usr)', conf: withLine(9, 'chroot_local_usr=YES', false), lines: [9], options: ['chroot_local_usr'] },
    { name: 'bad boolean (listen=MAYBE)', conf: withLine(1, 'listen=MAYBE', true), lines: [1], options: ['listen'] },
    { name: 'bad number (max_login_fails=three)', conf: withLine(9, 'max_login_fails=three', false), lines: [9], options: ['max_login_fails'] },
    { name: 'listen=YES with listen_ipv6=YES', conf: withLine(9, 'listen_ipv6=YES', false), lines: [1, 9], options: ['listen', 'listen_ipv6'] },
    {
      name: 'secure_chroot_dir does not exist',
      conf: withLine(7, 'secure_chroot_dir=${SECURE}/does-not-exist', true),
      lines: [7],
      options: ['secure_chroot_dir'],
    },
  ];
  for (const c of cases) {
    test(`bad config: ${c.name} → exit 2, one line FILE:LINE: OPTION: message`, TEST_TIMEOUT, async () => {
      const r = await runConfigOnly(c.conf);
      assert.equal(r.timedOut, false, `daemon kept running on a bad config; stderr: ${r.stderr}`);
      assert.equal(r.code, 2, `exit code (stderr: ${JSON.stringify(r.stderr)})`);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `exactly one stderr line: ${JSON.stringify(r.stderr)}`);
      const re = new RegExp(`^tsftpd: ${escapeRe(r.configPath)}:(\\d+): (${c.options.map(escapeRe).join('|')}): \\S.*$`);
      const m = re.exec(lines[0] ?? '');
      assert.ok(m, `stderr ${JSON.stringify(lines[0])} does not match ${re}`);
      assert.ok(c.lines.includes(Number(m[1])), `line number ${m[1]} not in ${c.lines.join(',')}`);
      console.log(`  ${c.name}: ${lines[0]}`);
    });
  }

  test('bad config: config file owned by a non-root user → exit 2, one line naming the file', TEST_TIMEOUT, async () => {
    const r = await runConfigOnly(`${base.join('\n')}\n`, [], {
      prepare: (p) => fs.chownSync(p, 65534, 65534),
    });
    assert.equal(r.timedOut, false, `daemon kept running; stderr: ${r.stderr}`);
    assert.equal(r.code, 2, `exit code (stderr: ${JSON.stringify(r.stderr)})`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `exactly one stderr line: ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0] ?? '', new RegExp(`^tsftpd: ${escapeRe(r.configPath)}(:\\d+)?: \\S`));
    console.log(`  non-root owner: ${lines[0]}`);
  });

  test('bad config: missing file → exit 2, one line naming the file', TEST_TIMEOUT, async () => {
    const missing = path.join(tempDir('tsftpd-c-'), 'no-such.conf');
    const r = await runBinary([missing]);
    assert.equal(r.timedOut, false, `daemon kept running; stderr: ${r.stderr}`);
    assert.equal(r.code, 2, `exit code (stderr: ${JSON.stringify(r.stderr)})`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `exactly one stderr line: ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0] ?? '', new RegExp(`^tsftpd: ${escapeRe(missing)}(:\\d+)?: \\S`));
    console.log(`  missing file: ${lines[0]}`);
  });
});

describe('process isolation (/proc)', () => {
  test('master and priv are root; the pre-login worker is nobody in secure_chroot_dir', TEST_TIMEOUT, async () => {
    const nobody = lookupUser('nobody');
    assert.ok(nobody, 'user nobody exists');
    await withDaemon({}, async (d) => {
      const master = procInfo(d.pid);
      assert.ok(master, 'master alive');
      assert.equal(master.uid.effective, 0, describeProc(master));
      const priv = await waitFor(
        () => procInfos(descendants(d.pid)).find((p) => p.cmdline.startsWith('tsftpd: priv')),
        5_000,
        `a "tsftpd: priv" process; tree:\n${processTree(d)}`,
      ).catch((e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\ntree now:\n${processTree(d)}`);
      });
      assert.equal(priv.uid.effective, 0, describeProc(priv));
      assert.equal(priv.uid.real, 0, describeProc(priv));

      const { ftp, greeting } = await connectWithGreeting(d.host, d.port);
      try {
        assert.equal(greeting.code, 220, greeting.text);
        const w1 = await servingProcess(d, ftp, (p) => p.uid.real !== 0, 'the non-root pre-login worker');
        assertConfined(w1, nobody.uid, nobody.gid, d.secureChrootDir);
        console.log(`process tree with one pre-login client:\n${processTree(d)}`);
      } finally {
        ftp.close();
      }
    });
  });

  test('local user session: user uid/gid, jail = home, no privileges', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    await withDaemon({ chroot_local_user: true }, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        const r = await login(ftp, user.name, user.password);
        assert.equal(r.pass?.text, '230 Login successful.', ftp.transcript.join('\n'));
        const w2 = await servingProcess(d, ftp, (p) => p.uid.real === user.uid, `the session process (uid ${user.uid})`);
        assertConfined(w2, user.uid, user.gid, user.home);
        // The pre-login worker hands over and exits.
        await waitFor(
          () => !connectionHolders(d.pid, d.port, ftp.localPort).some((p) => p.uid.real === 65534),
          5_000,
          `the pre-login (nobody) worker to let go of the connection; tree:\n${processTree(d)}`,
        );
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
        console.log(`process tree with one local session:\n${processTree(d)}`);
      } finally {
        ftp.close();
      }
    });
  });

  test('anonymous session: ftp_username uid, jail = anon root, no privileges', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    await withDaemon({ anonymous_enable: true, local_enable: false, ftp_username: anon.name }, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        const r = await login(ftp, 'anonymous', 'tester@example.com');
        assert.equal(r.pass?.text, '230 Login successful.', ftp.transcript.join('\n'));
        const w2 = await servingProcess(d, ftp, (p) => p.uid.real === anon.uid, `the anonymous session process (uid ${anon.uid})`);
        assertConfined(w2, anon.uid, anon.gid, anon.home);
      } finally {
        ftp.close();
      }
    });
  });
});

describe('latency', () => {
  test('connect → 220 greeting arrives within 5 s (measured, not asserted tighter)', TEST_TIMEOUT, async () => {
    await withDaemon({}, async (d) => {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { ftp, greeting, ms } = await connectWithGreeting(d.host, d.port, 5_000);
        try {
          assert.equal(greeting.code, 220, greeting.text);
          samples.push(ms);
          assert.ok(ms < 5_000);
          assert.equal((await ftp.command('QUIT')).text, '221 Goodbye.');
        } finally {
          ftp.close();
        }
        await new Promise((r) => setTimeout(r, 300)); // let the pool refill
      }
      const sorted = [...samples].sort((a, b) => a - b);
      console.log(
        `connect→220 latency: first=${samples[0]?.toFixed(2)} ms, median=${sorted[2]?.toFixed(2)} ms, ` +
          `samples=[${samples.map((s) => s.toFixed(2)).join(', ')}] ms`,
      );
    });
  });
});

describe('Python ftplib', () => {
  test('local user: PWD, LIST, RETR, STOR (umask), SIZE, CWD/CDUP, jail, QUIT', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    const work = scratch();
    const got = path.join(work, 'got.txt');
    const src = path.join(work, 'src.txt');
    const upContent = 'uploaded through ftplib\n';
    fs.writeFileSync(src, upContent);
    await withDaemon({ chroot_local_user: true, write_enable: true, local_umask: '027' }, async (d) => {
      const t = await runFtplib({
        port: d.port,
        user: user.name,
        password: user.password,
        steps: [
          { op: 'pwd' }, // 1
          { op: 'list' }, // 2
          { op: 'nlst' }, // 3
          { op: 'retr', remote: 'hello.txt', local: got }, // 4
          { op: 'size', path: 'hello.txt' }, // 5
          { op: 'cwd', path: 'upload' }, // 6
          { op: 'pwd' }, // 7
          { op: 'stor', local: src, remote: 'new.txt' }, // 8
          { op: 'cdup' }, // 9
          { op: 'pwd' }, // 10
          { op: 'cwd', path: '..' }, // 11
          { op: 'pwd' }, // 12
          { op: 'cwd', path: '/../..' }, // 13
          { op: 'pwd' }, // 14
          { op: 'quit' }, // 15
        ],
      });
      const all = JSON.stringify(t, null, 1);
      assert.match(t.welcome ?? '', /^220 /, all);
      assert.deepEqual(expectOk(t, 0, 'login').replies, ['331 Please specify the password.', '230 Login successful.'], all);
      const pwd = expectOk(t, 1, 'pwd');
      assert.equal(pwd.result, '/');
      assert.deepEqual(pwd.replies, ['257 "/" is the current directory']);
      const list = expectOk(t, 2, 'list');
      assert.ok(Array.isArray(list.result) && list.result.some((l) => typeof l === 'string' && / hello\.txt$/.test(l)), all);
      assert.ok(list.replies.includes('150 Here comes the directory listing.'), all);
      assert.ok(list.replies.includes('226 Directory send OK.'), all);
      const nlst = expectOk(t, 3, 'nlst');
      assert.ok(Array.isArray(nlst.result) && nlst.result.includes('hello.txt') && nlst.result.includes('upload'), all);
      const retr = expectOk(t, 4, 'retr');
      const size = Buffer.byteLength(HELLO);
      assert.ok(retr.replies.includes(`150 Opening BINARY mode data connection for hello.txt (${size} bytes).`), all);
      assert.ok(retr.replies.includes('226 Transfer complete.'), all);
      assert.equal(fs.readFileSync(got, 'utf8'), HELLO);
      const sz = expectOk(t, 5, 'size');
      assert.equal(sz.result, size);
      assert.deepEqual(sz.replies, [`213 ${size}`]);
      assert.deepEqual(expectOk(t, 6, 'cwd').replies, ['250 Directory successfully changed.']);
      assert.equal(expectOk(t, 7, 'pwd').result, '/upload');
      const stor = expectOk(t, 8, 'stor');
      assert.ok(stor.replies.includes('150 Ok to send data.'), all);
      assert.ok(stor.replies.includes('226 Transfer complete.'), all);
      const stored = path.join(user.home, 'upload', 'new.txt');
      assert.equal(fs.readFileSync(stored, 'utf8'), upContent);
      const st = fs.statSync(stored);
      assert.equal(st.uid, user.uid, 'uploaded file owner');
      assert.equal(st.gid, user.gid, 'uploaded file group');
      assert.equal((st.mode & 0o777).toString(8), (0o666 & ~0o027).toString(8), 'mode = 0666 & ~local_umask');
      assert.deepEqual(expectOk(t, 9, 'cdup').replies, ['250 Directory successfully changed.']);
      assert.equal(expectOk(t, 10, 'pwd').result, '/');
      step(t, 11); // CWD .. at the jail root: vsftpd answers 250 and stays at "/"
      assert.equal(expectOk(t, 12, 'pwd').result, '/', `CWD .. left the jail root: ${all}`);
      step(t, 13);
      assert.equal(expectOk(t, 14, 'pwd').result, '/', `CWD /../.. left the jail root: ${all}`);
      assert.deepEqual(expectOk(t, 15, 'quit').replies, ['221 Goodbye.']);
    });
  });

  test('anonymous: login as anonymous and as ftp, download, STOR refused (write_enable=NO)', TEST_TIMEOUT, async () => {
    const anon = makeAnonUser();
    const work = scratch();
    const src = path.join(work, 'up.txt');
    fs.writeFileSync(src, 'nope\n');
    await withDaemon(
      { anonymous_enable: true, local_enable: false, write_enable: false, ftp_username: anon.name },
      async (d) => {
        const got = path.join(work, 'pub.txt');
        const t = await runFtplib({
          port: d.port,
          user: 'anonymous',
          password: 'someone@example.com',
          steps: [{ op: 'pwd' }, { op: 'retr', remote: 'pub.txt', local: got }, { op: 'stor', local: src, remote: 'up.txt' }, { op: 'quit' }],
        });
        const all = JSON.stringify(t, null, 1);
        assert.deepEqual(expectOk(t, 0, 'login').replies, ['331 Please specify the password.', '230 Login successful.'], all);
        assert.equal(expectOk(t, 1, 'pwd').result, '/');
        expectOk(t, 2, 'retr');
        assert.equal(fs.readFileSync(got, 'utf8'), 'public file\n');
        const stor = step(t, 3);
        assert.equal(stor.error, '550 Permission denied.', all);
        assert.ok(!fs.existsSync(path.join(anon.home, 'up.txt')), 'nothing was written');
        assert.deepEqual(expectOk(t, 4, 'quit').replies, ['221 Goodbye.']);

        const t2 = await runFtplib({
          port: d.port,
          user: 'ftp',
          password: 'x',
          steps: [{ op: 'nlst' }, { op: 'quit' }],
        });
        const all2 = JSON.stringify(t2, null, 1);
        assert.deepEqual(expectOk(t2, 0, 'login').replies, ['331 Please specify the password.', '230 Login successful.'], all2);
        const nlst = expectOk(t2, 1, 'nlst');
        assert.ok(Array.isArray(nlst.result) && nlst.result.includes('pub.txt'), all2);
      },
    );
  });
});

describe('curl', () => {
  test('local user: list a directory, download, upload with -T', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    const work = scratch();
    const src = path.join(work, 'curl-up.txt');
    fs.writeFileSync(src, 'sent by curl\n');
    await withDaemon({ chroot_local_user: true, write_enable: true }, async (d) => {
      const cred = { user: user.name, password: user.password, port: d.port };
      const ls = await runCurl({ ...cred, path: '/' });
      assert.equal(ls.code, 0, `curl list: ${JSON.stringify(ls)}`);
      assert.match(ls.stdout, / hello\.txt\r?$/m, ls.stdout);
      assert.match(ls.stdout, / upload\r?$/m, ls.stdout);
      const ls2 = await runCurl({ ...cred, path: '/upload/' });
      assert.equal(ls2.code, 0, `curl list upload/: ${JSON.stringify(ls2)}`);

      const get = await runCurl({ ...cred, path: '/hello.txt' });
      assert.equal(get.code, 0, `curl get: ${JSON.stringify(get)}`);
      assert.equal(get.stdout, HELLO);

      const put = await runCurl({ ...cred, path: '/upload/curl.txt', upload: src });
      assert.equal(put.code, 0, `curl -T: ${JSON.stringify(put)}`);
      const stored = path.join(user.home, 'upload', 'curl.txt');
      assert.equal(fs.readFileSync(stored, 'utf8'), 'sent by curl\n');
      assert.equal(fs.statSync(stored).uid, user.uid);
    });
  });
});

describe('classic ftp client (tnftp) through a pty', () => {
  test('open, user, ls, cd, get, put, bye', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    const work = scratch();
    const putSrc = path.join(work, 'typed.txt');
    fs.writeFileSync(putSrc, 'typed by a person\n');
    const got = path.join(work, 'got.txt');
    await withDaemon({ chroot_local_user: true, write_enable: true }, async (d) => {
      const s = await runTnftp(
        [
          { send: `open 127.0.0.1 ${d.port}`, expect: /220[ -]/ },
          { send: `user ${user.name} ${user.password}`, expect: '230 Login successful.' },
          { send: 'ls', expect: '226 Directory send OK.' },
          { send: `get hello.txt ${got}`, expect: '226 Transfer complete.' },
          { send: 'cd upload', expect: '250 Directory successfully changed.' },
          { send: `put ${putSrc} typed.txt`, expect: '226 Transfer complete.' },
          { send: 'bye', expect: '221 Goodbye.', prompt: false },
        ],
        { cwd: work },
      );
      assert.match(s.transcript, /150 Here comes the directory listing\.[\s\S]* hello\.txt\n[\s\S]*226 Directory send OK\./, s.transcript);
      assert.equal(fs.readFileSync(got, 'utf8'), HELLO);
      const stored = path.join(user.home, 'upload', 'typed.txt');
      assert.equal(fs.readFileSync(stored, 'utf8'), 'typed by a person\n', s.transcript);
      assert.equal(fs.statSync(stored).uid, user.uid);
    });
  });
});

describe('login refusals', () => {
  test('wrong password → 530 Login incorrect.; the connection closes after max_login_fails=2', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    await withDaemon({ max_login_fails: 2 }, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        const first = await login(ftp, user.name, 'wrong-password', 15_000);
        assert.equal(first.user.text, '331 Please specify the password.');
        assert.equal(first.pass?.text, '530 Login incorrect.');
        assert.equal(ftp.closed, false, 'still connected after one failure');
        const second = await login(ftp, user.name, 'wrong-again', 15_000);
        assert.equal(second.user.text, '331 Please specify the password.', ftp.transcript.join('\n'));
        assert.equal(second.pass?.text, '530 Login incorrect.');
        assert.equal(await ftp.waitClose(5_000), true, `server did not close after 2 failures: ${ftp.transcript.join('\n')}`);
      } finally {
        ftp.close();
      }
    });
  });

  test('expired account (chage -E 0) with the right password → 530', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    users.expire(user.name);
    await withDaemon({}, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        const r = await login(ftp, user.name, user.password, 15_000);
        assert.equal(r.pass?.code, 530, ftp.transcript.join('\n'));
        console.log(`  expired account: ${r.pass?.text ?? ''}`);
      } finally {
        ftp.close();
      }
    });
  });

  test('local user when local_enable=NO → 530 This FTP server is anonymous only.', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    const anon = makeAnonUser();
    await withDaemon({ anonymous_enable: true, local_enable: false, ftp_username: anon.name }, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        assert.equal((await ftp.command(`USER ${user.name}`)).text, '530 This FTP server is anonymous only.');
      } finally {
        ftp.close();
      }
    });
  });

  test('commands before login → 530 Please login with USER and PASS.', TEST_TIMEOUT, async () => {
    await withDaemon({}, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        for (const cmd of ['PWD', 'LIST', 'RETR x', 'CWD /']) {
          assert.equal((await ftp.command(cmd)).text, '530 Please login with USER and PASS.', `reply to ${cmd}`);
        }
        // FEAT is one of the few commands allowed before login.
        const feat = await ftp.command('FEAT');
        assert.equal(feat.lines[0], '211-Features:', feat.text);
        assert.equal(feat.lines[feat.lines.length - 1], '211 End', feat.text);
      } finally {
        ftp.close();
      }
    });
  });

  test('writable jail root with allow_writeable_chroot=NO → 500 OOPS', TEST_TIMEOUT, async () => {
    const user = makeLocalUser({ writableRoot: true });
    await withDaemon({ chroot_local_user: true, allow_writeable_chroot: false }, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        const r = await login(ftp, user.name, user.password);
        assert.ok(r.pass, ftp.transcript.join('\n'));
        assert.match(r.pass.text, /^500 OOPS: .*refusing to run with writable root inside chroot\(\)/, ftp.transcript.join('\n'));
        assert.equal(await ftp.waitClose(5_000), true, 'connection closed after OOPS');
      } finally {
        ftp.close();
      }
    });
  });

  test('writable jail root with allow_writeable_chroot=YES → login works', TEST_TIMEOUT, async () => {
    const user = makeLocalUser({ writableRoot: true });
    await withDaemon({ chroot_local_user: true, allow_writeable_chroot: true }, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        const r = await login(ftp, user.name, user.password);
        assert.equal(r.pass?.text, '230 Login successful.', ftp.transcript.join('\n'));
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
        assert.equal((await ftp.command('QUIT')).text, '221 Goodbye.');
      } finally {
        ftp.close();
      }
    });
  });
});

describe('lifecycle', () => {
  test('SIGTERM stops the master and every child (idle daemon)', TEST_TIMEOUT, async () => {
    const d = await startDaemon({});
    let children: number[] = [];
    try {
      // Give the pool a moment to fill so there is something to stop.
      await waitFor(() => descendants(d.pid).length >= 2 || false, 5_000, 'priv + pool processes').catch(() => undefined);
      children = descendants(d.pid);
    } finally {
      const left = await d.stop();
      assert.deepEqual(left, [], `leftover processes after SIGTERM (children were ${children.join(',')})\nstderr:\n${d.stderr()}`);
      assert.equal(d.killedHard(), false, 'master needed SIGKILL');
      console.log(`  idle daemon had ${children.length} children; exit ${JSON.stringify(d.exitStatus())}`);
    }
  });

  test('SIGTERM stops everything while a session is logged in and another is pre-login', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    const d = await startDaemon({ options: { chroot_local_user: true } });
    const clients: FtpControl[] = [];
    let tree = '';
    try {
      const a = await connectWithGreeting(d.host, d.port);
      clients.push(a.ftp);
      const r = await login(a.ftp, user.name, user.password);
      assert.equal(r.pass?.text, '230 Login successful.', a.ftp.transcript.join('\n'));
      await servingProcess(d, a.ftp, (p) => p.uid.real === user.uid, 'the session process');
      const b = await connectWithGreeting(d.host, d.port);
      clients.push(b.ftp);
      await servingProcess(d, b.ftp, (p) => p.uid.real === 65534, 'the pre-login process');
      tree = processTree(d);
    } finally {
      const left = await d.stop();
      for (const c of clients) c.close();
      assert.deepEqual(left, [], `leftover processes after SIGTERM\ntree before stop:\n${tree}\nstderr:\n${d.stderr()}`);
      assert.equal(d.killedHard(), false, 'master needed SIGKILL');
    }
  });

  test('kill -9 of a pre-login worker ends that session only', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    await withDaemon({ chroot_local_user: true }, async (d) => {
      // A bystander session, logged in before the kill, must keep working.
      const { ftp: bystander } = await connectWithGreeting(d.host, d.port);
      const { ftp: victim } = await connectWithGreeting(d.host, d.port);
      try {
        const b = await login(bystander, user.name, user.password);
        assert.equal(b.pass?.text, '230 Login successful.', bystander.transcript.join('\n'));
        const w1 = await servingProcess(d, victim, (p) => p.uid.real === 65534, 'the pre-login worker');
        process.kill(w1.pid, 'SIGKILL');
        assert.equal(await victim.waitClose(5_000), true, `the killed session's connection did not close\ntree:\n${processTree(d)}`);
        assert.equal((await bystander.command('PWD')).text, '257 "/" is the current directory', 'bystander session still served');
      } finally {
        victim.close();
        bystander.close();
      }
      assert.ok(isAlive(d.pid), 'master survived');
      const { ftp, greeting } = await connectWithGreeting(d.host, d.port);
      try {
        assert.equal(greeting.code, 220);
        const r = await login(ftp, user.name, user.password);
        assert.equal(r.pass?.text, '230 Login successful.', ftp.transcript.join('\n'));
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
      } finally {
        ftp.close();
      }
    });
  });

  test('kill -9 of priv: master restarts it and the next login works', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    await withDaemon({ chroot_local_user: true }, async (d) => {
      const privOf = (): ProcInfo | undefined =>
        procInfos(descendants(d.pid)).find((p) => p.cmdline.includes('tsftpd: priv'));
      const priv = await waitFor(() => privOf(), 5_000, 'the priv process');
      assert.equal(priv.uid.real, 0, 'priv runs as root');
      process.kill(priv.pid, 'SIGKILL');
      const restarted = await waitFor(() => {
        const p = privOf();
        return p !== undefined && p.pid !== priv.pid ? p : undefined;
      }, 5_000, 'a restarted priv');
      assert.equal(restarted.uid.real, 0);
      assert.ok(isAlive(d.pid), 'master survived');
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        const r = await login(ftp, user.name, user.password);
        assert.equal(r.pass?.text, '230 Login successful.', ftp.transcript.join('\n'));
      } finally {
        ftp.close();
      }
    });
  });

  test('pipelined USER/PASS/PWD/SYST in one write: all replies in order', TEST_TIMEOUT, async () => {
    const user = makeLocalUser();
    await withDaemon({ chroot_local_user: true }, async (d) => {
      const { ftp } = await connectWithGreeting(d.host, d.port);
      try {
        ftp.sendRaw(`USER ${user.name}\r\nPASS ${user.password}\r\nPWD\r\nSYST\r\n`);
        const r1 = await ftp.reply(10_000);
        const r2 = await ftp.reply(10_000);
        const r3 = await ftp.reply(10_000);
        const r4 = await ftp.reply(10_000);
        assert.deepEqual(
          [r1.text, r2.text, r3.text, r4.text],
          ['331 Please specify the password.', '230 Login successful.', '257 "/" is the current directory', '215 UNIX Type: L8'],
          ftp.transcript.join('\n'),
        );
      } finally {
        ftp.close();
      }
    });
  });
});
