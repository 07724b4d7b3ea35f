// The admin-facing logs of the real daemon: vsftpd format (vsftpd_log_file or
// syslog), wu-ftpd xferlog, tsftpd's JSON events. A fixed scenario (connect,
// failed login, login, download, upload, file operations, quit; then an
// anonymous session) is checked line by line with patterns that pin every
// field; then file modes, passwords, refusals, 50 concurrent sessions (no torn
// or interleaved lines), syslog, log_ftp_protocol, and rotation with
// etc/logrotate.d/tsftpd (copytruncate).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { runProcess } from '../helpers/clients';
import { makeTempDir, repoRoot, startDaemon, type Daemon, type OptionValue } from '../helpers/daemon';
import { connectWithGreeting, login, parseEpsv, type FtpControl, type FtpReply, dataConnect, collect } from '../helpers/ftp';
import { connectionHolders, sleep, waitFor } from '../helpers/proc';
import { lookupUser, type TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const HOST = '127.0.0.1';
const T = { timeout: 120_000 };
const HELLO = 'hello from the log tests\nline two\n';
const UPLOAD = 'uploaded by the log tests\n';
const PUB = 'public file\n';
const ANON_PASS = 'guest@example.com';
const WRONG_PASS = 'Wr0ngPassw0rdXyz';
/** sessionlog.ts logProtocol() exists but nothing calls it. */

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

/** Local user: root-owned 0755 home (the jail) with hello.txt and an `upload` dir owned by the user. */
function makeLocalUser(): TestUser {
  const home = tempDir('tsftpd-lh-');
  const user = users.create({ home });
  fs.writeFileSync(path.join(home, 'hello.txt'), HELLO, { mode: 0o644 });
  const up = path.join(home, 'upload');
  fs.mkdirSync(up, { mode: 0o755 });
  fs.chownSync(up, user.uid, user.gid);
  return user;
}

/** The anonymous account (ftp_username): root-owned 0755 home with pub.txt. */
function makeAnonUser(): TestUser {
  const root = tempDir('tsftpd-la-');
  const user = users.create({ home: root });
  fs.writeFileSync(path.join(root, 'pub.txt'), PUB, { mode: 0o644 });
  return user;
}

interface LogFiles {
  dir: string;
  vsftpd: string;
  xferlog: string;
  json: string;
}

function logFiles(): LogFiles {
  const dir = tempDir('tsftpd-logs-');
  return { dir, vsftpd: path.join(dir, 'vsftpd.log'), xferlog: path.join(dir, 'xferlog'), json: path.join(dir, 'events.json') };
}

const read = (f: string): string => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
const lines = (f: string): string[] => read(f).split('\n').filter((l) => l !== '');

function nobodyUid(): number {
  const n = lookupUser('nobody');
  assert.ok(n, 'user nobody exists');
  return n.uid;
}

/** Start a daemon; the failure message of `body` gets the daemon's stderr. */
async function withDaemon(options: Record<string, OptionValue | null>, body: (d: Daemon) => Promise<void>): Promise<void> {
  const d = await startDaemon({ options });
  try {
    await body(d);
  } catch (e: unknown) {
    if (e instanceof Error) e.message += `\n--- daemon stderr ---\n${d.stderr()}`;
    throw e;
  } finally {
    const left = await d.stop();
    if (left.length > 0) console.log(`WARNING: processes left after SIGTERM: ${left.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------
// data connections (EPSV)

const connectData = (port: number): Promise<net.Socket> => dataConnect(HOST, port);

const collectAll = (sock: net.Socket, timeoutMs = 30_000): Promise<Buffer> => collect(sock, timeoutMs);

async function epsv(ftp: FtpControl, timeoutMs: number): Promise<number> {
  const r = await ftp.command('EPSV', timeoutMs);
  assert.equal(r.code, 229, ftp.transcript.join('\n'));
  return parseEpsv(r);
}

async function download(ftp: FtpControl, file: string, timeoutMs = 10_000): Promise<{ data: string; final: FtpReply }> {
  const sock = await connectData(await epsv(ftp, timeoutMs));
  const data = collectAll(sock);
  const first = await ftp.command(`RETR ${file}`, timeoutMs);
  if (first.code !== 150) {
    sock.destroy();
    throw new Error(`RETR ${file}: ${first.text}\n${ftp.transcript.join('\n')}`);
  }
  const buf = await data;
  const final = await ftp.reply(timeoutMs);
  assert.equal(final.code, 226, ftp.transcript.join('\n'));
  return { data: buf.toString('utf8'), final };
}

async function upload(ftp: FtpControl, file: string, content: string): Promise<FtpReply> {
  const sock = await connectData(await epsv(ftp, 10_000));
  const closed = collectAll(sock);
  const first = await ftp.command(`STOR ${file}`);
  if (first.code !== 150) {
    sock.destroy();
    throw new Error(`STOR ${file}: ${first.text}\n${ftp.transcript.join('\n')}`);
  }
  sock.end(content);
  await closed;
  const final = await ftp.reply(10_000);
  assert.equal(final.code, 226, ftp.transcript.join('\n'));
  return final;
}

/** The daemon process (not master) that holds this client's connection and runs as `uid`. */
async function holderPid(d: Daemon, ftp: FtpControl, uid: number, what: string): Promise<number> {
  const p = await waitFor(
    () => connectionHolders(d.pid, d.port, ftp.localPort).find((h) => h.pid !== d.pid && h.uid.real === uid),
    5_000,
    what,
  );
  return p.pid;
}

interface FdView {
  target: string;
  /** f_flags from /proc/PID/fdinfo/FD (octal in the file). */
  flags: number;
}

/** What a process holds at fds 4, 5, 6 (null: nothing). */
function logFds(pid: number): Record<number, FdView | null> {
  const out: Record<number, FdView | null> = {};
  for (const fd of [4, 5, 6]) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      out[fd] = { target, flags: parseInt(/^flags:\s*([0-7]+)$/m.exec(info)?.[1] ?? '0', 8) };
    } catch {
      out[fd] = null;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// line patterns

const DAY = '(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)';
const MON = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
/** strftime("%a %b %e %H:%M:%S %Y"): day of month space-padded. */
const DATE = `${DAY} ${MON} (?: [1-9]|[12]\\d|3[01]) [0-2]\\d:[0-5]\\d:[0-5]\\d \\d{4}`;
const RATE = '\\d+\\.\\d{2}Kbyte/sec';

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Any vsftpd-format line (file form): date, [pid N], [user]?, OK|FAIL?, ACTION: Client "ip", rest. */
const VSFTPD_ANY = new RegExp(
  `^(${DATE}) \\[pid (\\d+)\\] (?:\\[([^\\]\\n]*)\\] )?(?:(OK|FAIL) )?` +
    `(CONNECT|LOGIN|DOWNLOAD|UPLOAD|MKDIR|DELETE|RENAME|RMDIR|CHMOD|FTP command|FTP response|DEBUG): Client "([0-9a-f.:]+)"(.*)$`,
);
/** Any xferlog line: 14 fields. */
const XFER_ANY = new RegExp(`^(${DATE}) (\\d+) (\\S+) (\\d+) (\\S+) ([ab]) _ ([oi]) ([arg]) (\\S+) ftp 0 \\* ([ci])$`);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Parse a log date (local time) and check its weekday. */
function parseLogDate(s: string): Date {
  const m = /^(\w{3}) (\w{3}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(s);
  assert.ok(m, `date ${JSON.stringify(s)}`);
  const d = new Date(Number(m[7]), MONTHS.indexOf(m[2] ?? ''), Number((m[3] ?? '').trim()), Number(m[4]), Number(m[5]), Number(m[6]));
  assert.equal(DAYS[d.getDay()], m[1], `weekday of ${s}`);
  return d;
}

interface Window {
  from: number;
  to: number;
}

/** Log dates have whole seconds: allow the second the window started in. */
function assertInWindow(date: Date, w: Window, ctx: string): void {
  const t = date.getTime();
  assert.ok(t >= Math.floor(w.from / 1000) * 1000 && t <= w.to, `${ctx}: time ${date.toString()} outside the test run`);
}

/** Match each line against its pattern (same count), check the dates; returns the matches. */
function matchLines(actual: string[], patterns: RegExp[], w: Window, what: string): RegExpExecArray[] {
  const ctx = `${what}:\n${actual.join('\n')}`;
  assert.equal(actual.length, patterns.length, `number of lines in ${ctx}`);
  return actual.map((line, i) => {
    const re = patterns[i] as RegExp;
    const m = re.exec(line);
    assert.ok(m, `line ${i + 1} ${JSON.stringify(line)} does not match ${re}\n${ctx}`);
    assertInWindow(parseLogDate(m[1] ?? ''), w, `line ${i + 1} of ${what}`);
    return m;
  });
}

type Json = Record<string, unknown>;

function jsonEvents(f: string): Json[] {
  return lines(f).map((l, i) => {
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      assert.fail(`line ${i + 1} of ${f} is not JSON: ${JSON.stringify(l)}`);
    }
    assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `line ${i + 1} is not an object: ${l}`);
    return v as Json;
  });
}

/** Check an event's exact keys and the values given (time is checked as ISO within the window). */
function assertEvent(e: Json | undefined, want: Json, w: Window, extraKeys: string[] = []): void {
  assert.ok(e, `missing event ${JSON.stringify(want)}`);
  const keys = ['time', 'pid', ...Object.keys(want), ...extraKeys].sort();
  assert.deepEqual(Object.keys(e).sort(), [...new Set(keys)].sort(), `keys of ${JSON.stringify(e)}`);
  for (const [k, v] of Object.entries(want)) assert.deepEqual(e[k], v, `${k} of ${JSON.stringify(e)}`);
  assert.equal(typeof e['time'], 'string');
  assert.match(String(e['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const t = Date.parse(String(e['time']));
  assert.ok(t >= w.from - 5 && t <= w.to + 5, `event time ${String(e['time'])} outside the test run`);
}

// ---------------------------------------------------------------------------

describe('the fixed scenario: connect, failed login, login, download, upload, file operations, quit; then anonymous', () => {
  let local: TestUser;
  let anon: TestUser;
  let logs: LogFiles;
  let daemon: Daemon;
  const w: Window = { from: 0, to: 0 };
  const pids = { masterPid: 0, w1Local: 0, w2Local: 0, w1Anon: 0, w2Anon: 0 };
  const fds: { w1: Record<number, FdView | null>; w2: Record<number, FdView | null> } = { w1: {}, w2: {} };
  let stderr = '';
  let stdout = '';
  let scenarioError: unknown = null;

  before(async () => {
    local = makeLocalUser();
    anon = makeAnonUser();
    logs = logFiles();
    daemon = await startDaemon({
      options: {
        xferlog_enable: true,
        dual_log_enable: true,
        vsftpd_log_file: logs.vsftpd,
        xferlog_file: logs.xferlog,
        json_log_file: logs.json,
        write_enable: true,
        chroot_local_user: true,
        anonymous_enable: true,
        ftp_username: anon.name,
        local_umask: '022',
      },
    });
    pids.masterPid = daemon.pid;
    const nobody = nobodyUid();
    w.from = Date.now();
    try {
      // Session A: a local user.
      const a = await connectWithGreeting(HOST, daemon.port);
      try {
        assert.equal(a.greeting.code, 220);
        pids.w1Local = await holderPid(daemon, a.ftp, nobody, 'the pre-login worker of session A');
        fds.w1 = logFds(pids.w1Local);
        const bad = await login(a.ftp, local.name, WRONG_PASS);
        assert.equal(bad.pass?.text, '530 Login incorrect.', a.ftp.transcript.join('\n'));
        const good = await login(a.ftp, local.name, local.password);
        assert.equal(good.pass?.text, '230 Login successful.', a.ftp.transcript.join('\n'));
        pids.w2Local = await holderPid(daemon, a.ftp, local.uid, 'the session process of session A');
        fds.w2 = logFds(pids.w2Local);
        assert.equal((await a.ftp.command('TYPE I')).code, 200);
        const got = await download(a.ftp, 'hello.txt');
        assert.equal(got.data, HELLO);
        await upload(a.ftp, 'upload/up.txt', UPLOAD);
        assert.equal(fs.readFileSync(path.join(local.home, 'upload', 'up.txt'), 'utf8'), UPLOAD);
        // File operations: MKDIR, RMDIR, RENAME, CHMOD, a failed and a good DELETE.
        const expect = async (line: string, code: number): Promise<void> => {
          const r = await a.ftp.command(line);
          assert.equal(r.code, code, `${line}: ${r.text}`);
        };
        await expect('MKD upload/d', 257);
        await expect('RMD upload/d', 250);
        await expect('RNFR upload/up.txt', 350);
        await expect('RNTO upload/moved.txt', 250);
        await expect('SITE CHMOD 640 upload/moved.txt', 200);
        await expect('DELE /nothere', 550);
        await expect('DELE upload/moved.txt', 250);
        assert.equal((await a.ftp.command('QUIT')).text, '221 Goodbye.');
        await a.ftp.waitClose(5_000);
      } finally {
        a.ftp.close();
      }
      // Session B: anonymous, left in TYPE A (no ascii_download_enable: no conversion happens).
      const b = await connectWithGreeting(HOST, daemon.port);
      try {
        pids.w1Anon = await holderPid(daemon, b.ftp, nobody, 'the pre-login worker of session B');
        const r = await login(b.ftp, 'anonymous', ANON_PASS);
        assert.equal(r.pass?.text, '230 Login successful.', b.ftp.transcript.join('\n'));
        pids.w2Anon = await holderPid(daemon, b.ftp, anon.uid, 'the session process of session B');
        const got = await download(b.ftp, 'pub.txt');
        assert.equal(got.data, PUB);
        assert.equal((await b.ftp.command('QUIT')).text, '221 Goodbye.');
        await b.ftp.waitClose(5_000);
      } finally {
        b.ftp.close();
      }
      // Both sessions ended: master logs their disconnects.
      await waitFor(
        () => jsonEvents(logs.json).filter((e) => e['event'] === 'disconnect').length >= 2,
        5_000,
        'two disconnect events in the JSON log',
      ).catch(() => undefined);
      await sleep(200);
    } catch (e: unknown) {
      scenarioError = e;
    } finally {
      w.to = Date.now() + 1_000;
      await daemon.stop();
      stderr = daemon.stderr();
      stdout = daemon.stdout();
    }
  });

  const ok = (): void => {
    if (scenarioError !== null) {
      const msg = scenarioError instanceof Error ? scenarioError.message : String(scenarioError);
      assert.fail(`the scenario itself failed: ${msg}\n--- daemon stderr ---\n${stderr}`);
    }
  };

  test('the scenario ran (connect, 530, 230, RETR, STOR, MKD/RMD/RNFR+RNTO/SITE CHMOD/DELE, QUIT; anonymous 230, RETR, QUIT)', T, () => {
    ok();
  });

  test('log files: regular files owned by root, mode 0600', T, () => {
    for (const f of [logs.vsftpd, logs.xferlog, logs.json]) {
      const st = fs.lstatSync(f);
      assert.ok(st.isFile(), `${f} is a regular file`);
      assert.equal(st.uid, 0, `${f} owner`);
      assert.equal(st.gid, 0, `${f} group`);
      assert.equal((st.mode & 0o7777).toString(8), '600', `${f} mode`);
    }
  });

  test('jailed workers hold the logs as inherited fds 4 (vsftpd), 5 (xferlog), 6 (JSON): write-only, O_APPEND', T, () => {
    ok();
    const want: Record<number, string> = { 4: logs.vsftpd, 5: logs.xferlog, 6: logs.json };
    for (const [who, view] of [
      ['pre-login worker', fds.w1],
      ['session process', fds.w2],
    ] as const) {
      for (const fd of [4, 5, 6]) {
        const v = view[fd];
        assert.ok(v, `${who} has no fd ${fd}: ${JSON.stringify(view)}`);
        assert.equal(v.target, want[fd], `${who} fd ${fd}`);
        assert.equal(v.flags & 0o3, 0o1, `${who} fd ${fd} is O_WRONLY (flags ${v.flags.toString(8)})`);
        assert.ok((v.flags & 0o2000) !== 0, `${who} fd ${fd} is O_APPEND (flags ${v.flags.toString(8)})`);
      }
    }
  });

  test('vsftpd log: CONNECT and LOGIN lines, every field (pid = the pre-login worker)', T, () => {
    ok();
    const u = esc(local.name);
    const got = lines(logs.vsftpd).filter((l) => / (?:CONNECT|LOGIN): /.test(l));
    matchLines(
      got,
      [
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Local}\\] CONNECT: Client "127\\.0\\.0\\.1"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Local}\\] \\[${u}\\] FAIL LOGIN: Client "127\\.0\\.0\\.1"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Local}\\] \\[${u}\\] OK LOGIN: Client "127\\.0\\.0\\.1"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Anon}\\] CONNECT: Client "127\\.0\\.0\\.1"$`),
        new RegExp(
          `^(${DATE}) \\[pid ${pids.w1Anon}\\] \\[${esc(anon.name)}\\] OK LOGIN: Client "127\\.0\\.0\\.1", anon password "${esc(ANON_PASS)}"$`,
        ),
      ],
      w,
      'vsftpd.log without transfer lines',
    );
  });

  test('vsftpd log: the whole file in order, transfers and file operations included (pid = the session process)', T, () => {
    ok();
    const u = esc(local.name);
    const ip = '127\\.0\\.0\\.1';
    matchLines(
      lines(logs.vsftpd),
      [
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Local}\\] CONNECT: Client "${ip}"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Local}\\] \\[${u}\\] FAIL LOGIN: Client "${ip}"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Local}\\] \\[${u}\\] OK LOGIN: Client "${ip}"$`),
        new RegExp(
          `^(${DATE}) \\[pid ${pids.w2Local}\\] \\[${u}\\] OK DOWNLOAD: Client "${ip}", "/hello\\.txt", ${Buffer.byteLength(HELLO)} bytes, ${RATE}$`,
        ),
        new RegExp(
          `^(${DATE}) \\[pid ${pids.w2Local}\\] \\[${u}\\] OK UPLOAD: Client "${ip}", "/upload/up\\.txt", ${Buffer.byteLength(UPLOAD)} bytes, ${RATE}$`,
        ),
        new RegExp(`^(${DATE}) \\[pid ${pids.w2Local}\\] \\[${u}\\] OK MKDIR: Client "${ip}", "/upload/d"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w2Local}\\] \\[${u}\\] OK RMDIR: Client "${ip}", "/upload/d"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w2Local}\\] \\[${u}\\] OK RENAME: Client "${ip}", "/upload/up\\.txt /upload/moved\\.txt"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w2Local}\\] \\[${u}\\] OK CHMOD: Client "${ip}", "/upload/moved\\.txt 640"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w2Local}\\] \\[${u}\\] FAIL DELETE: Client "${ip}", "/nothere"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w2Local}\\] \\[${u}\\] OK DELETE: Client "${ip}", "/upload/moved\\.txt"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Anon}\\] CONNECT: Client "${ip}"$`),
        new RegExp(`^(${DATE}) \\[pid ${pids.w1Anon}\\] \\[${esc(anon.name)}\\] OK LOGIN: Client "${ip}", anon password "${esc(ANON_PASS)}"$`),
        new RegExp(
          `^(${DATE}) \\[pid ${pids.w2Anon}\\] \\[${esc(anon.name)}\\] OK DOWNLOAD: Client "${ip}", "/pub\\.txt", ${Buffer.byteLength(PUB)} bytes, ${RATE}$`,
        ),
      ],
      w,
      'vsftpd.log',
    );
  });

  test('xferlog: one 14-field line per transfer (b: no ASCII conversion happened; anonymous user = the password)', T, () => {
    ok();
    matchLines(
      lines(logs.xferlog),
      [
        new RegExp(`^(${DATE}) 1 127\\.0\\.0\\.1 ${Buffer.byteLength(HELLO)} /hello\\.txt b _ o r ${esc(local.name)} ftp 0 \\* c$`),
        new RegExp(`^(${DATE}) 1 127\\.0\\.0\\.1 ${Buffer.byteLength(UPLOAD)} /upload/up\\.txt b _ i r ${esc(local.name)} ftp 0 \\* c$`),
        new RegExp(`^(${DATE}) 1 127\\.0\\.0\\.1 ${Buffer.byteLength(PUB)} /pub\\.txt b _ o a ${esc(ANON_PASS)} ftp 0 \\* c$`),
      ],
      w,
      'xferlog',
    );
  });

  /** The JSON events of one session, in file order. */
  const ofSession = (all: Json[], id: unknown): Json[] => all.filter((e) => e['session'] === id);

  test('JSON log: connect, login_failed, login, disconnect events with their exact fields', T, () => {
    ok();
    const all = jsonEvents(logs.json);
    const connects = all.filter((e) => e['event'] === 'connect');
    assert.equal(connects.length, 2, JSON.stringify(all, null, 1));
    const sa = connects[0]?.['session'];
    const sb = connects[1]?.['session'];
    assert.equal(typeof sa, 'number');
    assert.equal(typeof sb, 'number');
    assert.notEqual(sa, sb, 'two sessions, two ids');
    assert.deepEqual(
      all.map((e) => e['session']).filter((x) => x !== sa && x !== sb),
      [],
      'every event names one of the two sessions',
    );
    // Session A's disconnect may be logged after session B's connect (master
    // learns of the worker's exit after the client saw the close), so the
    // order is checked per session.
    const fromMaster = (e: Json): boolean => ['connect', 'login_failed', 'login', 'disconnect'].includes(String(e['event']));
    const a = ofSession(all, sa).filter(fromMaster);
    const b = ofSession(all, sb).filter(fromMaster);
    assert.deepEqual(a.map((e) => e['event']), ['connect', 'login_failed', 'login', 'disconnect'], JSON.stringify(a, null, 1));
    assert.deepEqual(b.map((e) => e['event']), ['connect', 'login', 'disconnect'], JSON.stringify(b, null, 1));
    const master = { pid: pids.masterPid, client: '127.0.0.1' };
    assertEvent(a[0], { ...master, event: 'connect', session: sa }, w);
    assertEvent(a[1], { ...master, event: 'login_failed', session: sa, user: local.name, kind: null, reason: 'bad_credentials' }, w);
    assertEvent(a[2], { ...master, event: 'login', session: sa, user: local.name, kind: 'local', reason: null }, w);
    assertEvent(a[3], { ...master, event: 'disconnect', session: sa }, w, ['why']);
    assert.equal(typeof a[3]?.['why'], 'string');
    assertEvent(b[0], { ...master, event: 'connect', session: sb }, w);
    assertEvent(b[1], { ...master, event: 'login', session: sb, user: 'anonymous', kind: 'anonymous', reason: null }, w);
    assertEvent(b[2], { ...master, event: 'disconnect', session: sb }, w, ['why']);
  });

  test('JSON log: one transfer event per transfer, from the session process, with exact fields', T, () => {
    ok();
    const all = jsonEvents(logs.json);
    const connects = all.filter((e) => e['event'] === 'connect');
    const sa = connects[0]?.['session'];
    const sb = connects[1]?.['session'];
    const events = all.filter((e) => e['event'] === 'transfer');
    assert.equal(events.length, 3, JSON.stringify(all, null, 1));
    const common = { event: 'transfer', client: '127.0.0.1', tls: false, complete: true };
    assertEvent(
      events[0],
      { ...common, pid: pids.w2Local, session: sa, user: local.name, direction: 'out', path: '/hello.txt', bytes: Buffer.byteLength(HELLO) },
      w,
      ['seconds', 'rate'],
    );
    assertEvent(
      events[1],
      { ...common, pid: pids.w2Local, session: sa, user: local.name, direction: 'in', path: '/upload/up.txt', bytes: Buffer.byteLength(UPLOAD) },
      w,
      ['seconds', 'rate'],
    );
    assertEvent(
      events[2],
      { ...common, pid: pids.w2Anon, session: sb, user: anon.name, direction: 'out', path: '/pub.txt', bytes: Buffer.byteLength(PUB) },
      w,
      ['seconds', 'rate'],
    );
    for (const e of events) {
      assert.equal(typeof e['seconds'], 'number');
      assert.ok(Number(e['seconds']) >= 0 && Number(e['seconds']) < 30, JSON.stringify(e));
      assert.ok(Number.isInteger(e['rate']) && Number(e['rate']) >= 0, JSON.stringify(e));
    }
    // In order with each session's other events: after its login, before its disconnect.
    assert.deepEqual(
      ofSession(all, sa).map((e) => e['event']),
      ['connect', 'login_failed', 'login', 'transfer', 'transfer', 'mkdir', 'rmdir', 'rename', 'chmod', 'delete', 'delete', 'disconnect'],
    );
    assert.deepEqual(ofSession(all, sb).map((e) => e['event']), ['connect', 'login', 'transfer', 'disconnect']);
  });

  test('JSON log: one event per file operation, from the session process, with exact fields', T, () => {
    ok();
    const all = jsonEvents(logs.json);
    const sa = all.find((e) => e['event'] === 'connect')?.['session'];
    const ops = all.filter((e) => ['mkdir', 'rmdir', 'rename', 'chmod', 'delete'].includes(String(e['event'])));
    const base = { pid: pids.w2Local, session: sa, user: local.name };
    const want: Json[] = [
      { ...base, event: 'mkdir', path: '/upload/d', ok: true },
      { ...base, event: 'rmdir', path: '/upload/d', ok: true },
      { ...base, event: 'rename', path: '/upload/up.txt /upload/moved.txt', ok: true },
      { ...base, event: 'chmod', path: '/upload/moved.txt 640', ok: true },
      { ...base, event: 'delete', path: '/nothere', ok: false },
      { ...base, event: 'delete', path: '/upload/moved.txt', ok: true },
    ];
    assert.equal(ops.length, want.length, JSON.stringify(ops, null, 1));
    want.forEach((x, i) => assertEvent(ops[i], x, w));
  });

  test('no "not implemented" warning at start for the logging options', T, () => {
    const warning = stderr.split('\n').find((l) => l.includes('not implemented')) ?? '';
    for (const name of ['xferlog_enable', 'dual_log_enable', 'vsftpd_log_file', 'xferlog_file', 'json_log_file']) {
      assert.ok(!new RegExp(`\\b${name}\\b`).test(warning), `start-up warning names ${name}: ${warning}`);
    }
  });

  test('passwords never appear: not in any log file, not on stderr or stdout', T, () => {
    ok();
    const sources: Array<[string, string]> = [
      [logs.vsftpd, read(logs.vsftpd)],
      [logs.xferlog, read(logs.xferlog)],
      [logs.json, read(logs.json)],
      ['daemon stderr', stderr],
      ['daemon stdout', stdout],
    ];
    assert.ok(read(logs.vsftpd).length > 0, 'vsftpd.log is not empty');
    for (const [name, text] of sources) {
      for (const secret of [local.password, WRONG_PASS]) {
        assert.ok(!text.includes(secret), `${name} contains a password:\n${text}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------

describe('which files a config writes', () => {
  test('xferlog_enable + xferlog_std_format (no dual): only xferlog_file, vsftpd_log_file is never created', T, async () => {
    const anon = makeAnonUser();
    const logs = logFiles();
    await withDaemon(
      {
        xferlog_enable: true,
        xferlog_std_format: true,
        vsftpd_log_file: logs.vsftpd,
        xferlog_file: logs.xferlog,
        anonymous_enable: true,
        local_enable: false,
        ftp_username: anon.name,
      },
      async (d) => {
        const { ftp } = await connectWithGreeting(HOST, d.port);
        try {
          const r = await login(ftp, 'ftp', 'std@example.com');
          assert.equal(r.pass?.text, '230 Login successful.');
          assert.equal((await download(ftp, 'pub.txt')).data, PUB);
          await ftp.command('QUIT');
        } finally {
          ftp.close();
        }
        await sleep(300);
      },
    );
    assert.equal(fs.existsSync(logs.vsftpd), false, 'vsftpd_log_file must not be created');
    assert.equal((fs.statSync(logs.xferlog).mode & 0o777).toString(8), '600');
    assert.equal(fs.readdirSync(logs.dir).sort().join(','), 'xferlog');
  });

  test('xferlog_std_format alone: the download is in xferlog_file', T, async () => {
    const anon = makeAnonUser();
    const logs = logFiles();
    const w: Window = { from: Date.now(), to: 0 };
    await withDaemon(
      {
        xferlog_enable: true,
        xferlog_std_format: true,
        xferlog_file: logs.xferlog,
        anonymous_enable: true,
        local_enable: false,
        ftp_username: anon.name,
      },
      async (d) => {
        const { ftp } = await connectWithGreeting(HOST, d.port);
        try {
          assert.equal((await login(ftp, 'ftp', 'std@example.com')).pass?.code, 230);
          assert.equal((await ftp.command('TYPE I')).code, 200);
          await download(ftp, 'pub.txt');
          await ftp.command('QUIT');
        } finally {
          ftp.close();
        }
        await waitFor(() => lines(logs.xferlog).length >= 1, 3_000, 'an xferlog line').catch(() => undefined);
      },
    );
    w.to = Date.now();
    matchLines(
      lines(logs.xferlog),
      [new RegExp(`^(${DATE}) 1 127\\.0\\.0\\.1 ${Buffer.byteLength(PUB)} /pub\\.txt b _ o a std@example\\.com ftp 0 \\* c$`)],
      w,
      'xferlog',
    );
  });

  test('no logging options: no log file is created anywhere we can see', T, async () => {
    const anon = makeAnonUser();
    const logs = logFiles();
    await withDaemon(
      {
        // the file options set, but nothing enables them
        vsftpd_log_file: logs.vsftpd,
        xferlog_file: logs.xferlog,
        anonymous_enable: true,
        local_enable: false,
        ftp_username: anon.name,
      },
      async (d) => {
        const { ftp } = await connectWithGreeting(HOST, d.port);
        try {
          assert.equal((await login(ftp, 'ftp', 'x@y')).pass?.code, 230);
          await ftp.command('QUIT');
        } finally {
          ftp.close();
        }
      },
    );
    assert.deepEqual(fs.readdirSync(logs.dir), []);
  });
});

// ---------------------------------------------------------------------------

describe('refusals', () => {
  let logs: LogFiles;
  let failure: unknown = null;
  let session = -1;
  const w: Window = { from: 0, to: 0 };

  before(async () => {
    const anon = makeAnonUser();
    logs = logFiles();
    const d = await startDaemon({
      options: {
        xferlog_enable: true,
        vsftpd_log_file: logs.vsftpd,
        json_log_file: logs.json,
        anonymous_enable: true,
        local_enable: false,
        ftp_username: anon.name,
        max_per_ip: 1,
        accept_timeout: 1,
      },
    });
    w.from = Date.now();
    try {
      const a = await connectWithGreeting(HOST, d.port);
      try {
        assert.equal((await login(a.ftp, 'anonymous', 'r@example.com')).pass?.code, 230);
        // max_per_ip=1: a second connection from 127.0.0.1 is refused at accept.
        const b = await connectWithGreeting(HOST, d.port);
        assert.equal(b.greeting.text, '421 There are too many connections from your internet address.');
        b.ftp.close();
        // A passive data connection the client never opens: 425 after accept_timeout.
        await epsv(a.ftp, 5_000);
        const r = await a.ftp.command('RETR pub.txt', 10_000);
        assert.equal(r.code, 425, a.ftp.transcript.join('\n'));
        await a.ftp.command('QUIT');
        await a.ftp.waitClose(5_000);
      } finally {
        a.ftp.close();
      }
      await waitFor(() => read(logs.json).includes('"disconnect"'), 5_000, 'the disconnect event').catch(() => undefined);
      session = Number(jsonEvents(logs.json).find((e) => e['event'] === 'connect')?.['session']);
    } catch (e: unknown) {
      failure = e;
    } finally {
      w.to = Date.now() + 1_000;
      await d.stop();
    }
  });

  test('the scenario ran (421 for the second connection, 425 for the data connection never opened)', T, () => {
    if (failure !== null) throw failure;
  });

  // vsftpd (prelogin.c check_limits) logs the refusal as a CONNECT line:
  //   [pid N] CONNECT: Client "ip", "Connection refused: too many sessions for this address."
  test(
    'a connection refused by max_per_ip is in the vsftpd log with vsftpd\'s reason text',
    T,
    () => {
      const refused = lines(logs.vsftpd).filter((l) => l.includes('Connection refused'));
      matchLines(
        refused,
        [new RegExp(`^(${DATE}) \\[pid \\d+\\] CONNECT: Client "127\\.0\\.0\\.1", "Connection refused: too many sessions for this address\\."$`)],
        w,
        'refusal lines in vsftpd.log',
      );
    },
  );

  // options.ts: json_log_file = "structured JSON event log (connect, login,
  // transfer, refused data connection, disconnect)".
  test(
    'a failed data connection is a JSON event (json_log_file promises "refused data connection")',
    T,
    () => {
      const ev = jsonEvents(logs.json).filter((e) => /data/.test(String(e['event'])));
      assert.equal(ev.length, 1, JSON.stringify(jsonEvents(logs.json), null, 1));
      assert.equal(ev[0]?.['session'], session);
      assert.equal(ev[0]?.['client'], '127.0.0.1');
    },
  );
});

// ---------------------------------------------------------------------------

describe('log_ftp_protocol', () => {
  test('every command and reply in the vsftpd log, PASS masked as "PASS <password>"', T, async () => {
    const local = makeLocalUser();
    const logs = logFiles();
    const w: Window = { from: Date.now(), to: 0 };
    let w1 = 0;
    let w2 = 0;
    await withDaemon({ log_ftp_protocol: true, vsftpd_log_file: logs.vsftpd, chroot_local_user: true }, async (d) => {
      const { ftp } = await connectWithGreeting(HOST, d.port);
      try {
        w1 = await holderPid(d, ftp, nobodyUid(), 'the pre-login worker');
        const r = await login(ftp, local.name, local.password);
        assert.equal(r.pass?.code, 230);
        w2 = await holderPid(d, ftp, local.uid, 'the session process');
        assert.equal((await ftp.command('PWD')).text, '257 "/" is the current directory');
        await ftp.command('QUIT');
        await ftp.waitClose(5_000);
      } finally {
        ftp.close();
      }
      await sleep(300);
    });
    w.to = Date.now();
    const text = read(logs.vsftpd);
    assert.ok(!text.includes(local.password), `the password is in the log:\n${text}`);
    const got = lines(logs.vsftpd);
    const ip = '127\\.0\\.0\\.1';
    const u = esc(local.name);
    const want = [
      new RegExp(`^(${DATE}) \\[pid ${w1}\\] CONNECT: Client "${ip}"$`),
      new RegExp(`^(${DATE}) \\[pid ${w1}\\] FTP response: Client "${ip}", "220 .*"$`),
      new RegExp(`^(${DATE}) \\[pid ${w1}\\] FTP command: Client "${ip}", "USER ${u}"$`),
      new RegExp(`^(${DATE}) \\[pid ${w1}\\] \\[${u}\\] FTP response: Client "${ip}", "331 Please specify the password\\."$`),
      new RegExp(`^(${DATE}) \\[pid ${w1}\\] \\[${u}\\] FTP command: Client "${ip}", "PASS <password>"$`),
      new RegExp(`^(${DATE}) \\[pid ${w1}\\] \\[${u}\\] OK LOGIN: Client "${ip}"$`),
      new RegExp(`^(${DATE}) \\[pid ${w2}\\] \\[${u}\\] FTP response: Client "${ip}", "230 Login successful\\."$`),
      new RegExp(`^(${DATE}) \\[pid ${w2}\\] \\[${u}\\] FTP command: Client "${ip}", "PWD"$`),
      new RegExp(`^(${DATE}) \\[pid ${w2}\\] \\[${u}\\] FTP response: Client "${ip}", "257 \\"/\\" is the current directory"$`),
      new RegExp(`^(${DATE}) \\[pid ${w2}\\] \\[${u}\\] FTP command: Client "${ip}", "QUIT"$`),
      new RegExp(`^(${DATE}) \\[pid ${w2}\\] \\[${u}\\] FTP response: Client "${ip}", "221 Goodbye\\."$`),
    ];
    matchLines(got, want, w, 'vsftpd.log with log_ftp_protocol');
  });
});

// ---------------------------------------------------------------------------

describe('syslog_enable', () => {
  /**
   * A syslog receiver on /dev/log (a Unix datagram socket; Node has none, so
   * python3 binds it). Only when /dev/log does not exist: a real syslog
   * daemon's socket is never touched. Prints each datagram as a JSON string.
   */
  const RECEIVER = [
    'import json, os, socket, sys',
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
    "s.bind('/dev/log')",
    "os.chmod('/dev/log', 0o666)",
    "print('ready', flush=True)",
    'while True:',
    '    d = s.recv(65536)',
    "    print(json.dumps(d.decode('utf-8', 'replace')), flush=True)",
  ].join('\n');

  test('vsftpd-format lines (no date, no pid prefix) go to syslog, facility ftp; no vsftpd_log_file', T, async (t) => {
    if (fs.existsSync('/dev/log')) {
      t.skip('/dev/log exists (a syslog daemon runs here); not replacing it');
      return;
    }
    const local = makeLocalUser();
    const logs = logFiles();
    let rx: ChildProcess | null = null;
    let out = '';
    try {
      rx = spawn('/usr/bin/python3', ['-c', RECEIVER], { stdio: ['ignore', 'pipe', 'pipe'] });
      rx.stdout?.setEncoding('utf8');
      rx.stdout?.on('data', (s: string) => {
        out += s;
      });
      await waitFor(() => out.startsWith('ready\n'), 5_000, 'the syslog receiver');
      await withDaemon(
        { xferlog_enable: true, syslog_enable: true, vsftpd_log_file: logs.vsftpd, chroot_local_user: true },
        async (d) => {
          const { ftp } = await connectWithGreeting(HOST, d.port);
          try {
            assert.equal((await login(ftp, local.name, WRONG_PASS)).pass?.code, 530);
            assert.equal((await login(ftp, local.name, local.password)).pass?.code, 230);
            await ftp.command('QUIT');
          } finally {
            ftp.close();
          }
          await waitFor(() => out.includes('OK LOGIN'), 5_000, 'the OK LOGIN line on syslog').catch(() => undefined);
        },
      );
    } finally {
      rx?.kill('SIGKILL');
      fs.rmSync('/dev/log', { force: true });
    }
    const msgs = out
      .split('\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as string);
    const u = esc(local.name);
    // <facility*8+severity>: ftp is facility 11; info 6 → 94, warning 4 → 92.
    const HDR = `${MON} (?: [1-9]|[12]\\d|3[01]) \\d\\d:\\d\\d:\\d\\d tsftpd\\[(\\d+)\\]: `;
    const find = (re: RegExp): RegExpExecArray => {
      for (const m of msgs) {
        const r = re.exec(m);
        if (r) return r;
      }
      assert.fail(`no syslog message matches ${re}:\n${msgs.join('\n')}`);
    };
    find(new RegExp(`^<94>${HDR}CONNECT: Client "127\\.0\\.0\\.1"$`));
    find(new RegExp(`^<92>${HDR}\\[${u}\\] FAIL LOGIN: Client "127\\.0\\.0\\.1"$`));
    find(new RegExp(`^<94>${HDR}\\[${u}\\] OK LOGIN: Client "127\\.0\\.0\\.1"$`));
    assert.ok(!out.includes(local.password), 'password on syslog');
    assert.equal(fs.existsSync(logs.vsftpd), false, 'vsftpd_log_file must not be written with syslog_enable');
  });
});

// ---------------------------------------------------------------------------

describe('50 concurrent anonymous sessions', () => {
  const N = 50;
  let logs: LogFiles;
  let failures: string[] = [];
  let stderr = '';
  const w: Window = { from: 0, to: 0 };

  before(async () => {
    const anon = makeAnonUser();
    logs = logFiles();
    const d = await startDaemon({
      options: {
        xferlog_enable: true,
        dual_log_enable: true,
        vsftpd_log_file: logs.vsftpd,
        xferlog_file: logs.xferlog,
        json_log_file: logs.json,
        anonymous_enable: true,
        local_enable: false,
        ftp_username: anon.name,
        max_per_ip: 0,
        max_clients: 0,
        prefork_pool_size: 16,
      },
      readyTimeoutMs: 30_000,
    });
    w.from = Date.now();
    try {
      const one = async (i: number): Promise<void> => {
        const { ftp } = await connectWithGreeting(HOST, d.port, 60_000);
        try {
          const r = await login(ftp, 'anonymous', `s${i}@example.com`, 60_000);
          if (r.pass?.code !== 230) throw new Error(`login: ${ftp.transcript.join(' | ')}`);
          const got = await download(ftp, 'pub.txt', 60_000);
          if (got.data !== PUB) throw new Error(`download: ${JSON.stringify(got.data)}`);
          await ftp.command('QUIT', 30_000);
        } finally {
          ftp.close();
        }
      };
      const results = await Promise.allSettled(Array.from({ length: N }, (_, i) => one(i)));
      failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`session ${i}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : []));
      await waitFor(
        () => jsonEvents(logs.json).filter((e) => e['event'] === 'disconnect').length >= N,
        20_000,
        `${N} disconnect events`,
      ).catch(() => undefined);
    } finally {
      w.to = Date.now() + 1_000;
      await d.stop();
      stderr = d.stderr();
    }
  });

  // Seen in 2 of 2 runs (7 and 18 of 50 sessions): master logs "login ok",
  // then the client's connection closes without a 230; the JSON log says
  // disconnect why "worker exited 0". The pre-login worker sends `handoff`
  // and exits at once; under load master handles the child's 'exit' before
  // the queued IPC message, finds the session still in phase prelogin and
  // ends it (sessions.ts onExit / pool.ts WorkerProc).
  test(
    `all ${N} sessions logged in and downloaded`,
    T,
    () => {
      assert.deepEqual(failures, [], `\n--- daemon stderr ---\n${stderr.slice(-5000)}`);
    },
  );

  test('every line of every log is whole (no torn or interleaved lines); connects and logins counted', T, () => {
    const v = lines(logs.vsftpd);
    for (const [i, l] of v.entries()) {
      const m = VSFTPD_ANY.exec(l);
      assert.ok(m, `vsftpd.log line ${i + 1} does not parse: ${JSON.stringify(l)}`);
      assertInWindow(parseLogDate(m[1] ?? ''), w, `vsftpd.log line ${i + 1}`);
    }
    for (const [i, l] of lines(logs.xferlog).entries()) {
      assert.ok(XFER_ANY.exec(l), `xferlog line ${i + 1} does not parse: ${JSON.stringify(l)}`);
    }
    const events = jsonEvents(logs.json); // throws on a torn line
    for (const f of [logs.vsftpd, logs.xferlog, logs.json]) {
      const text = read(f);
      assert.ok(text === '' || text.endsWith('\n'), `${f} ends with a whole line`);
      assert.ok(!text.includes('\0'), `${f} has NUL bytes`);
    }
    assert.equal(v.filter((l) => / CONNECT: Client "127\.0\.0\.1"$/.test(l)).length, N, 'CONNECT lines');
    const logins = v.filter((l) => / OK LOGIN: /.test(l));
    assert.equal(logins.length, N, 'OK LOGIN lines');
    const passwords = logins.map((l) => /anon password "(s\d+@example\.com)"$/.exec(l)?.[1]).sort();
    assert.deepEqual(passwords, Array.from({ length: N }, (_, i) => `s${i}@example.com`).sort(), 'each session logged once');
    for (const ev of ['connect', 'login', 'disconnect']) {
      assert.equal(events.filter((e) => e['event'] === ev).length, N, `JSON ${ev} events`);
    }
    const sessions = new Set(events.filter((e) => e['event'] === 'connect').map((e) => e['session']));
    assert.equal(sessions.size, N, 'distinct session ids');
  });

  test('one DOWNLOAD line, one xferlog line and one JSON transfer event per completed download', T, () => {
    const done = N - failures.length;
    assert.ok(done > 0, 'some sessions downloaded');
    const v = lines(logs.vsftpd).filter((l) => / OK DOWNLOAD: /.test(l));
    assert.equal(v.length, done, 'DOWNLOAD lines');
    for (const l of v) assert.match(l, new RegExp(`, "/pub\\.txt", ${Buffer.byteLength(PUB)} bytes, ${RATE}$`));
    const x = lines(logs.xferlog);
    assert.equal(x.length, done, 'xferlog lines');
    for (const l of x) assert.match(l, new RegExp(` ${Buffer.byteLength(PUB)} /pub\\.txt [ab] _ o a s\\d+@example\\.com ftp 0 \\* c$`));
    assert.equal(jsonEvents(logs.json).filter((e) => e['event'] === 'transfer').length, done, 'JSON transfer events');
  });
});

// ---------------------------------------------------------------------------

describe('rotation with etc/logrotate.d/tsftpd (copytruncate) while the daemon runs', () => {
  test('rotated copies keep the old lines (mode 0600); new lines start the emptied files, no NUL hole', T, async (t) => {
    if (!fs.existsSync('/usr/sbin/logrotate')) {
      t.skip('logrotate is not installed');
      return;
    }
    const anon = makeAnonUser();
    const logs = logFiles();
    const shipped = fs.readFileSync(path.join(repoRoot(), 'etc', 'logrotate.d', 'tsftpd'), 'utf8');
    for (const p of ['/var/log/vsftpd.log', '/var/log/xferlog', '/var/log/tsftpd.json']) {
      assert.ok(shipped.includes(`\n${p}\n`), `etc/logrotate.d/tsftpd names ${p}`);
    }
    assert.match(shipped, /^\s*copytruncate\s*$/m);
    const conf = path.join(logs.dir, 'logrotate.conf');
    fs.writeFileSync(
      conf,
      shipped
        .replace('\n/var/log/vsftpd.log\n', `\n${logs.vsftpd}\n`)
        .replace('\n/var/log/xferlog\n', `\n${logs.xferlog}\n`)
        .replace('\n/var/log/tsftpd.json\n', `\n${logs.json}\n`),
      { mode: 0o644 },
    );
    const state = path.join(logs.dir, 'logrotate.state');

    const session = async (d: Daemon, pass: string): Promise<void> => {
      const { ftp } = await connectWithGreeting(HOST, d.port);
      try {
        assert.equal((await login(ftp, 'anonymous', pass)).pass?.code, 230);
        await ftp.command('QUIT');
        await ftp.waitClose(5_000);
      } finally {
        ftp.close();
      }
    };

    await withDaemon(
      {
        xferlog_enable: true,
        dual_log_enable: true,
        vsftpd_log_file: logs.vsftpd,
        xferlog_file: logs.xferlog,
        json_log_file: logs.json,
        anonymous_enable: true,
        local_enable: false,
        ftp_username: anon.name,
      },
      async (d) => {
        await session(d, 'before@example.com');
        await waitFor(() => read(logs.json).includes('"disconnect"'), 5_000, 'the first disconnect event');
        const before1 = read(logs.vsftpd);
        const beforeJson = read(logs.json);
        assert.match(before1, /before@example\.com/);

        const r = await runProcess('/usr/sbin/logrotate', ['-f', '-s', state, conf], { timeoutMs: 30_000 });
        assert.equal(r.code, 0, `logrotate: ${r.stdout}${r.stderr}`);

        // delaycompress: the first rotation is left uncompressed as .1
        assert.equal(read(`${logs.vsftpd}.1`), before1, 'rotated copy of vsftpd.log');
        assert.equal(read(`${logs.json}.1`), beforeJson, 'rotated copy of the JSON log');
        for (const f of [`${logs.vsftpd}.1`, `${logs.json}.1`, logs.vsftpd, logs.json]) {
          const st = fs.statSync(f);
          assert.equal((st.mode & 0o777).toString(8), '600', `${f} mode`);
          assert.equal(st.uid, 0, `${f} owner`);
        }
        assert.equal(fs.statSync(logs.vsftpd).size, 0, 'vsftpd.log truncated in place');

        // The daemon's inherited descriptors still work and write at the new end.
        await session(d, 'after@example.com');
        await waitFor(() => read(logs.json).includes('"disconnect"'), 5_000, 'the second disconnect event');
        const after1 = read(logs.vsftpd);
        assert.ok(!after1.includes('\0'), 'no NUL bytes after truncation (O_APPEND)');
        assert.match(after1, new RegExp(`^${DATE} \\[pid \\d+\\] CONNECT: Client "127\\.0\\.0\\.1"\\n`), after1);
        assert.match(after1, /after@example\.com/);
        assert.doesNotMatch(after1, /before@example\.com/);
        const ev = jsonEvents(logs.json);
        assert.deepEqual(
          ev.map((e) => e['event']),
          ['connect', 'login', 'disconnect'],
          'the JSON log restarts with the new session',
        );
      },
    );
  });
});
