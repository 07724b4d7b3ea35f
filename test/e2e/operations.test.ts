// Running the daemon as an admin does: SIGHUP reload (live sessions keep their
// config, a bad file is refused), SIGTERM with live sessions, --check-config,
// background=YES, the Prometheus metrics endpoint, and the generated option
// docs (docs/options/) kept in step with the option table.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IMPLEMENTED_OPTIONS, OPTION_TABLE } from '../../src/config/options';
import { runProcess } from '../helpers/clients';
import {
  binPath,
  configText,
  freePort,
  makeTempDir,
  repoRoot,
  runBinary,
  startDaemon,
  writeConfig,
  type Daemon,
  type OptionValue,
  type Options,
} from '../helpers/daemon';
import { connectWithGreeting, login, parseEpsv, type FtpControl } from '../helpers/ftp';
import {
  allPids,
  descendants,
  hasEnv,
  isAlive,
  listeningInodes,
  procInfo,
  procInfos,
  sleep,
  socketHolders,
  waitFor,
} from '../helpers/proc';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const HOST = '127.0.0.1';
const T = { timeout: 90_000 };
const HELLO = 'hello from the operations tests\n';

const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;



function tempDir(prefix: string): string {
  const d = makeTempDir(prefix);
  tempDirs.push(d);
  return d;
}

/** Local user: root-owned 0755 home (the jail) holding hello.txt, and an `upload` dir the user owns. */
function makeLocalUser(): TestUser {
  const home = tempDir('tsftpd-oh-');
  const user = users.create({ home });
  fs.writeFileSync(path.join(home, 'hello.txt'), HELLO, { mode: 0o644 });
  const up = path.join(home, 'upload');
  fs.mkdirSync(up, { mode: 0o755 });
  fs.chownSync(up, user.uid, user.gid);
  return user;
}

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

async function session(d: Daemon, user: TestUser): Promise<{ ftp: FtpControl; greeting: string }> {
  const { ftp, greeting } = await connectWithGreeting(HOST, d.port);
  const r = await login(ftp, user.name, user.password);
  assert.equal(r.pass?.text, '230 Login successful.', ftp.transcript.join('\n'));
  return { ftp, greeting: greeting.text };
}

/** Rewrite the running daemon's config file with its options changed (null removes one). */
function rewriteConfig(d: Daemon, changes: Record<string, OptionValue | null>): void {
  const opts: Options = { ...d.options };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete opts[k];
    else opts[k] = v;
  }
  writeConfig(d.configPath, configText(opts));
}

/** master's structured stderr lines (pino JSON) with this event. */
function stderrEvents(d: Daemon, event: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of d.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      if (v['event'] === event) out.push(v);
    } catch {
      // not JSON
    }
  }
  return out;
}

/** SIGHUP, then wait for the master to report `event` (one more than before). */
async function hup(d: Daemon, event: 'reloaded' | 'reload_failed'): Promise<Record<string, unknown>> {
  const before1 = stderrEvents(d, event).length;
  process.kill(d.pid, 'SIGHUP');
  return waitFor(() => stderrEvents(d, event)[before1], 5_000, `a "${event}" line on stderr after SIGHUP`);
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------------------

describe('SIGHUP reload', () => {
  test('a live session keeps its config; a session accepted before the reload too; a new session gets the new one', T, async () => {
    const user = makeLocalUser();
    await withDaemon({ chroot_local_user: true, write_enable: false, ftpd_banner: 'Old banner.' }, async (d) => {
      const live = await session(d, user);
      const early = await connectWithGreeting(HOST, d.port); // accepted, not logged in yet
      try {
        assert.equal(live.greeting, '220 Old banner.');
        assert.equal((await live.ftp.command('MKD before')).code, 550, 'write_enable=NO at start');

        rewriteConfig(d, { write_enable: true, ftpd_banner: 'New banner.' });
        await hup(d, 'reloaded');

        // The live session keeps write_enable=NO.
        const r = await live.ftp.command('MKD during');
        assert.equal(r.code, 550, `live session after reload: ${r.text}`);
        assert.ok(!fs.existsSync(path.join(user.home, 'upload', 'during')));
        assert.equal((await live.ftp.command('PWD')).code, 257, 'the live session still works');

        // Accepted before the reload: its config was fixed at accept.
        assert.equal(early.greeting.text, '220 Old banner.');
        const e = await login(early.ftp, user.name, user.password);
        assert.equal(e.pass?.text, '230 Login successful.');
        assert.equal((await early.ftp.command('MKD upload/early')).code, 550, 'session accepted before the reload keeps write_enable=NO');

        // A new session: new banner, write_enable=YES.
        const fresh = await session(d, user);
        try {
          assert.equal(fresh.greeting, '220 New banner.');
          const m = await fresh.ftp.command('MKD upload/after');
          assert.equal(m.code, 257, `new session after reload: ${m.text}`);
          assert.ok(fs.statSync(path.join(user.home, 'upload', 'after')).isDirectory());
        } finally {
          fresh.ftp.close();
        }
      } finally {
        live.ftp.close();
        early.ftp.close();
      }
    });
  });

  test('a config with an error is refused: one reload_failed line naming file:line; the running config stays', T, async () => {
    const user = makeLocalUser();
    await withDaemon({ chroot_local_user: true, ftpd_banner: 'Running banner.' }, async (d) => {
      const good = configText(d.options);
      const badLine = good.split('\n').length; // appended after the last line
      writeConfig(d.configPath, `${good}ftpd_banner=Bad banner.\nchroot_local_usr=YES\n`);
      const ev = await hup(d, 'reload_failed');
      const error = String(ev['error']);
      assert.match(
        error,
        new RegExp(`^tsftpd: ${esc(d.configPath)}:${badLine + 1}: chroot_local_usr: \\S.*$`),
        `reload_failed line: ${JSON.stringify(ev)}`,
      );
      assert.ok(!error.includes('\n'), 'one line');
      assert.equal(stderrEvents(d, 'reloaded').length, 0, 'no reload happened');
      assert.ok(isAlive(d.pid), 'master keeps running');
      const s = await session(d, user);
      try {
        assert.equal(s.greeting, '220 Running banner.', 'the running config stays');
      } finally {
        s.ftp.close();
      }

      // A semantic error (not a syntax error) is refused the same way.
      rewriteConfig(d, { secure_chroot_dir: path.join(d.dir, 'no-such-dir'), ftpd_banner: 'Bad banner.' });
      const ev2 = await hup(d, 'reload_failed');
      assert.match(String(ev2['error']), new RegExp(`^tsftpd: ${esc(d.configPath)}(:\\d+)?: secure_chroot_dir: `), JSON.stringify(ev2));
      const s2 = await connectWithGreeting(HOST, d.port);
      try {
        assert.equal(s2.greeting.text, '220 Running banner.');
      } finally {
        s2.ftp.close();
      }

      // Fixing the file and reloading again works.
      rewriteConfig(d, { ftpd_banner: 'Fixed banner.' });
      await hup(d, 'reloaded');
      const s3 = await connectWithGreeting(HOST, d.port);
      try {
        assert.equal(s3.greeting.text, '220 Fixed banner.');
      } finally {
        s3.ftp.close();
      }
    });
  });
});

// ---------------------------------------------------------------------------

describe('SIGTERM', () => {
  test('with a download in progress, a logged-in idle session and a pre-login one: every process goes, no SIGKILL needed', T, async () => {
    const user = makeLocalUser();
    // A file big enough that the transfer stalls when the client does not read.
    fs.writeFileSync(path.join(user.home, 'big.bin'), crypto.randomBytes(8 * 1024 * 1024), { mode: 0o644 });
    const d = await startDaemon({ options: { chroot_local_user: true } });
    const clients: FtpControl[] = [];
    const socks: net.Socket[] = [];
    let tree: number[] = [];
    try {
      const busy = await session(d, user);
      clients.push(busy.ftp);
      const ep = await busy.ftp.command('EPSV');
      assert.equal(ep.code, 229);
      const data = net.connect({ host: HOST, port: parseEpsv(ep) });
      data.on('error', () => undefined);
      socks.push(data);
      data.pause(); // never read: the transfer stalls with full buffers
      assert.equal((await busy.ftp.command('RETR big.bin')).code, 150);
      const idle = await session(d, user);
      clients.push(idle.ftp);
      const pre = await connectWithGreeting(HOST, d.port);
      clients.push(pre.ftp);
      pre.ftp.send('USER half'); // mid-login
      await pre.ftp.reply();
      await sleep(300);
      tree = descendants(d.pid);
      assert.ok(tree.length >= 4, `priv, 3 session workers and the pool: ${tree.join(',')}`);
    } finally {
      const left = await d.stop();
      for (const c of clients) c.close();
      for (const s of socks) s.destroy();
      assert.deepEqual(left, [], `leftover processes after SIGTERM (tree before: ${tree.join(',')})\n${d.stderr()}`);
      assert.equal(d.killedHard(), false, 'master needed SIGKILL');
      assert.deepEqual(d.exitStatus(), { code: 0, signal: null }, 'master exits 0');
    }
    for (const p of tree) assert.equal(isAlive(p), false, `pid ${p} still alive`);
  });

  test('the clients see their connections closed', T, async () => {
    const user = makeLocalUser();
    const d = await startDaemon({ options: { chroot_local_user: true } });
    let s: { ftp: FtpControl; greeting: string } | null = null;
    try {
      s = await session(d, user);
    } finally {
      const left = await d.stop();
      assert.deepEqual(left, []);
    }
    assert.equal(await s.ftp.waitClose(5_000), true, 'the logged-in client was disconnected');
    s.ftp.close();
  });
});

// ---------------------------------------------------------------------------

describe('--check-config', () => {
  function confFile(text: string): string {
    const dir = tempDir('tsftpd-cc-');
    const f = path.join(dir, 'tsftpd.conf');
    writeConfig(f, text);
    return f;
  }
  /** An existing root-owned 0755 directory for secure_chroot_dir. */
  const secure = (): string => tempDir('tsftpd-ce-');

  test('prints the settings that differ from the compiled-in defaults (name=value, table order) and exits 0', T, async () => {
    const dir = secure();
    const f = confFile(
      [
        '# a comment',
        'listen=YES', // the default: not shown
        'listen_port=2121',
        'listen_address=127.0.0.1',
        'anonymous_enable=NO',
        'local_enable=YES',
        'write_enable=YES',
        'max_per_ip=5',
        'ftpd_banner=Welcome to the test.',
        `secure_chroot_dir=${dir}`,
        'pam_service_name=tsftpd-test',
        'ban_enable=YES', // the default: not shown
        '',
      ].join('\n'),
    );
    const r = await runBinary(['--check-config', f]);
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.equal(
      r.stdout,
      [
        'listen_address=127.0.0.1',
        'listen_port=2121',
        'local_enable=YES',
        'anonymous_enable=NO',
        'write_enable=YES',
        'pam_service_name=tsftpd-test',
        `secure_chroot_dir=${dir}`,
        'max_per_ip=5',
        'ftpd_banner=Welcome to the test.',
        '',
      ].join('\n'),
    );
    assert.match(r.stderr, new RegExp(`^tsftpd: ${esc(f)}: configuration OK$`, 'm'));
  });

  test('-o overrides are applied after the file', T, async () => {
    const dir = secure();
    const f = confFile(`secure_chroot_dir=${dir}\nmax_per_ip=5\n`);
    const r = await runBinary(['--check-config', '-omax_per_ip=7', '-o', 'idle_session_timeout=60', f]);
    assert.equal(r.code, 0, r.stderr);
    // table order: secure_chroot_dir (chroot section), max_per_ip, idle_session_timeout (limits)
    assert.equal(r.stdout, `secure_chroot_dir=${dir}\nmax_per_ip=7\nidle_session_timeout=60\n`);
  });

  test(
    'octal options are shown in octal, as written (local_umask=022)',
    T,
    async () => {
      const dir = secure();
      const f = confFile(`secure_chroot_dir=${dir}\nlocal_umask=022\nfile_open_mode=0644\n`);
      const r = await runBinary(['--check-config', f]);
      assert.equal(r.code, 0, r.stderr);
      const shown = r.stdout.trimEnd().split('\n');
      assert.ok(shown.includes('local_umask=022'), `stdout: ${r.stdout}`);
      assert.ok(shown.includes('file_open_mode=0644'), `stdout: ${r.stdout}`);
    },
  );

  const bad: Array<{ name: string; lines: string[]; line: number; option: string }> = [
    { name: 'unknown option', lines: ['listen=YES', 'chroot_local_usr=YES'], line: 2, option: 'chroot_local_usr' },
    { name: 'bad boolean', lines: ['listen=YES', 'anonymous_enable=NO', 'write_enable=MAYBE'], line: 3, option: 'write_enable' },
    { name: 'bad number', lines: ['max_clients=lots'], line: 1, option: 'max_clients' },
  ];
  for (const c of bad) {
    test(`a bad config (${c.name}) → exit 2, nothing on stdout, one line FILE:LINE: option: message`, T, async () => {
      const dir = secure();
      const f = confFile(`${c.lines.join('\n')}\nsecure_chroot_dir=${dir}\n`);
      const r = await runBinary(['--check-config', f]);
      assert.equal(r.timedOut, false);
      assert.equal(r.code, 2, `exit code; stderr ${JSON.stringify(r.stderr)}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one stderr line: ${JSON.stringify(r.stderr)}`);
      assert.match(lines[0] ?? '', new RegExp(`^tsftpd: ${esc(f)}:${c.line}: ${c.option}: \\S`));
      console.log(`  ${c.name}: ${lines[0] ?? ''}`);
    });
  }

  // checkconfig.ts promises to "validate the config as a start would", but
  // it runs only the parser and validator, not runtime-config.ts's checks.
  test(
    'what a start refuses, --check-config refuses too (writable secure_chroot_dir, unknown nopriv_user)',
    T,
    async () => {
      const writable = tempDir('tsftpd-cw-');
      fs.chmodSync(writable, 0o777);
      const cases = [
        { conf: `secure_chroot_dir=${writable}\n`, option: 'secure_chroot_dir' },
        { conf: `secure_chroot_dir=${secure()}\nnopriv_user=tsftpd_no_such_user\n`, option: 'nopriv_user' },
      ];
      for (const c of cases) {
        const f = confFile(c.conf);
        const start = await runBinary(['-olisten_address=127.0.0.1', `-olisten_port=${await freePort()}`, f]);
        assert.equal(start.code, 2, `a start refuses it: ${start.stderr}`);
        const r = await runBinary(['--check-config', f]);
        assert.equal(r.code, 2, `--check-config on what a start refuses (${start.stderr.trim()}): exit ${String(r.code)}, stderr ${r.stderr}`);
        assert.match(r.stderr.trimEnd(), new RegExp(`^tsftpd: ${esc(f)}(:\\d+)?: ${c.option}: `));
      }
    },
  );

  test('a missing file → exit 2, one line naming it', T, async () => {
    const f = path.join(tempDir('tsftpd-cm-'), 'missing.conf');
    const r = await runBinary(['--check-config', f]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.trimEnd(), new RegExp(`^tsftpd: ${esc(f)}(:\\d+)?: [^\\n]+$`));
  });
});

// ---------------------------------------------------------------------------

/** Processes holding a listening socket on this TCP port. */
function listenersOf(port: number): number[] {
  return socketHolders(allPids(), listeningInodes(port));
}

describe('background=YES', () => {
  test('the command returns 0 at once; a detached master keeps serving until SIGTERM', T, async () => {
    const dir = tempDir('tsftpd-bg-');
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty, { mode: 0o755 });
    const port = await freePort();
    const conf = path.join(dir, 'tsftpd.conf');
    writeConfig(
      conf,
      configText({
        listen: true,
        listen_address: HOST,
        listen_port: port,
        background: true,
        anonymous_enable: false,
        local_enable: true,
        secure_chroot_dir: empty,
        pam_service_name: 'tsftpd-test',
      }),
    );
    // Tag the environment so every process it leaves behind can be found.
    const tag = crypto.randomBytes(8).toString('hex');
    const started = Date.now();
    const child = spawn(process.execPath, [binPath(), conf], {
      cwd: repoRoot(),
      env: { ...process.env, TSFTPD_TEST_TAG: tag },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      err += s;
    });
    child.stdout.resume();
    const tagged = (): number[] => allPids().filter((p) => p !== process.pid && hasEnv(p, 'TSFTPD_TEST_TAG', tag));
    let master = -1;
    try {
      const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve({ code: null, signal: 'timeout' });
        }, 10_000);
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal });
        });
      });
      const took = Date.now() - started;
      assert.deepEqual(exit, { code: 0, signal: null }, `the command's exit; stderr: ${err}`);
      assert.ok(took < 5_000, `returned after ${took} ms`);
      console.log(`  background=YES returned in ${took} ms`);

      master = await waitFor(() => listenersOf(port)[0], 15_000, `a process listening on ${HOST}:${port}`);
      const info = procInfo(master);
      assert.ok(info, 'the listener is alive');
      assert.equal(info.cmdline, 'tsftpd: master', `the listener is the master: ${info.cmdline}`);
      assert.notEqual(info.ppid, child.pid, 'not a child of the command that returned');
      assert.equal(info.uid.effective, 0);
      assert.ok(hasEnv(master, 'TSFTPD_TEST_TAG', tag), 'it is the daemon this test started');
      // Detached: its own session, no controlling terminal of ours.
      const stat = fs.readFileSync(`/proc/${master}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      assert.equal(Number(fields[3]), master, 'the master leads its own session (setsid)');

      const { ftp, greeting } = await connectWithGreeting(HOST, port, 10_000);
      try {
        assert.equal(greeting.code, 220, greeting.text);
        assert.equal((await ftp.command('QUIT')).text, '221 Goodbye.');
      } finally {
        ftp.close();
      }
      const kids = descendants(master);
      assert.ok(kids.length >= 1, 'priv and pool workers under the detached master');
      process.kill(master, 'SIGTERM');
      await waitFor(() => !isAlive(master), 10_000, 'the detached master to exit after SIGTERM');
      await waitFor(() => tagged().length === 0, 5_000, `every process of the detached daemon to exit (left: ${tagged().join(',')})`);
      assert.deepEqual(listenersOf(port), [], 'nothing listens any more');
    } finally {
      // Never leave it running: SIGTERM the master found, then SIGKILL anything tagged.
      if (master > 0 && isAlive(master)) {
        try {
          process.kill(master, 'SIGTERM');
        } catch {
          // gone
        }
        await waitFor(() => !isAlive(master), 5_000, 'master exit').catch(() => undefined);
      }
      for (const p of tagged()) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      for (const p of listenersOf(port)) {
        const info = procInfo(p);
        if (info !== null && info.cmdline.startsWith('tsftpd')) process.kill(p, 'SIGKILL');
      }
    }
  });
});

// ---------------------------------------------------------------------------
// metrics

interface HttpResult {
  status: number;
  contentType: string;
  body: string;
}

function httpRequest(port: number, urlPath: string, method = 'GET'): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, path: urlPath, method, timeout: 5_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        body += s;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

type Samples = Map<string, number>;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^{}]*\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))$/;

function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = SAMPLE.exec(line);
    assert.ok(m, `metrics line ${i + 1} is not a Prometheus sample: ${JSON.stringify(line)}`);
    out.set(`${m[1] ?? ''}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

async function scrape(port: number): Promise<Samples> {
  const r = await httpRequest(port, '/metrics');
  assert.equal(r.status, 200);
  return parseMetrics(r.body);
}

const val = (s: Samples, key: string): number => s.get(key) ?? 0;

/** The local addresses (hex "ADDR:PORT") of listening TCP sockets on this port. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && (f[1] ?? '').endsWith(`:${hexPort}`)) out.push(f[1] ?? '');
    }
  }
  return out;
}

const METRIC_NAMES = [
  'tsftpd_sessions',
  'tsftpd_connections_total',
  'tsftpd_connections_refused_total',
  'tsftpd_logins_total',
  'tsftpd_transfers_total',
  'tsftpd_bytes_total',
  'tsftpd_data_connections_failed_total',
  'tsftpd_pool_ready_workers',
  'tsftpd_priv_restarts_total',
];

describe('metrics endpoint (metrics_enable=YES, max_per_ip=1)', () => {
  let d: Daemon;
  let user: TestUser;
  let mport = 0;

  before(async () => {
    user = makeLocalUser();
    mport = await freePort();
    d = await startDaemon({ options: { chroot_local_user: true, metrics_enable: true, metrics_port: mport, max_per_ip: 1 } });
    await waitFor(() => listeningAddresses(mport).length > 0, 5_000, 'the metrics endpoint to listen');
  });

  after(async () => {
    await d.stop();
  });

  /** max_per_ip=1: wait until master has no session left before the next connection. */
  const settled = (): Promise<unknown> =>
    waitFor(async () => val(await scrape(mport), 'tsftpd_sessions') === 0, 5_000, 'tsftpd_sessions to drop to 0');

  test('GET /metrics: 200, text/plain version 0.0.4, HELP and TYPE for every metric, every line a sample', T, async () => {
    const r = await httpRequest(mport, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.contentType, 'text/plain; version=0.0.4');
    for (const name of METRIC_NAMES) {
      assert.match(r.body, new RegExp(`^# HELP ${name} \\S.*$`, 'm'), `HELP for ${name}`);
      assert.match(r.body, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), `TYPE for ${name}`);
    }
    const s = parseMetrics(r.body);
    assert.equal(val(s, 'tsftpd_connections_total'), 0, 'no connection yet');
    assert.equal(val(s, 'tsftpd_sessions'), 0);
    console.log(`  /metrics (${r.body.split('\n').length} lines)`);
  });

  test('the pool ready gauge is present and positive', T, async () => {
    const s = await scrape(mport);
    assert.ok(s.has('tsftpd_pool_ready_workers'), [...s.keys()].join(' '));
    assert.ok(val(s, 'tsftpd_pool_ready_workers') >= 1, `ready workers: ${val(s, 'tsftpd_pool_ready_workers')}`);
  });

  test('connections_total, logins_total{result="ok"} and the sessions gauge move with a login', T, async () => {
    await settled();
    const m0 = await scrape(mport);
    const s = await session(d, user);
    try {
      const m1 = await scrape(mport);
      assert.equal(val(m1, 'tsftpd_connections_total') - val(m0, 'tsftpd_connections_total'), 1);
      assert.equal(val(m1, 'tsftpd_logins_total{kind="local",result="ok"}') - val(m0, 'tsftpd_logins_total{kind="local",result="ok"}'), 1);
      assert.equal(val(m1, 'tsftpd_sessions'), 1);
    } finally {
      await s.ftp.command('QUIT').catch(() => undefined);
      s.ftp.close();
    }
    await settled();
  });

  test('logins_total{result="failed"} counts a wrong password', T, async () => {
    await settled();
    const key = 'tsftpd_logins_total{kind="bad_credentials",result="failed"}';
    const m0 = await scrape(mport);
    const { ftp } = await connectWithGreeting(HOST, d.port);
    try {
      assert.equal((await login(ftp, user.name, 'not-the-password')).pass?.code, 530);
      const m1 = await scrape(mport);
      assert.equal(val(m1, key) - val(m0, key), 1, [...m1.entries()].join('\n'));
      assert.equal(val(m1, 'tsftpd_logins_total{kind="local",result="ok"}'), val(m0, 'tsftpd_logins_total{kind="local",result="ok"}'));
    } finally {
      ftp.close();
    }
    await settled();
  });

  test('connections_refused_total{cause="max_per_ip"}: a second connection from 127.0.0.1 gets 421', T, async () => {
    await settled();
    const key = 'tsftpd_connections_refused_total{cause="max_per_ip"}';
    const m0 = await scrape(mport);
    const first = await session(d, user);
    try {
      const second = await connectWithGreeting(HOST, d.port);
      try {
        assert.equal(second.greeting.text, '421 There are too many connections from your internet address.');
        assert.equal(await second.ftp.waitClose(5_000), true, 'refused connection closed');
      } finally {
        second.ftp.close();
      }
      const m1 = await scrape(mport);
      assert.equal(val(m1, key) - val(m0, key), 1);
      assert.equal(val(m1, 'tsftpd_connections_total') - val(m0, 'tsftpd_connections_total'), 2, 'refused connections are counted as accepted too');
    } finally {
      first.ftp.close();
    }
    await settled();
  });

  test('transfers_total and bytes_total count a download', T, async () => {
    await settled();
    const m0 = await scrape(mport);
    const s = await session(d, user);
    try {
      const ep = await s.ftp.command('EPSV');
      assert.equal(ep.code, 229);
      const got = new Promise<string>((resolve, reject) => {
        const sock = net.connect({ host: HOST, port: parseEpsv(ep) });
        let buf = '';
        sock.setEncoding('utf8');
        sock.on('data', (c: string) => {
          buf += c;
        });
        sock.on('error', reject);
        sock.on('close', () => resolve(buf));
      });
      assert.equal((await s.ftp.command('RETR hello.txt')).code, 150);
      assert.equal(await got, HELLO);
      assert.equal((await s.ftp.reply(10_000)).code, 226);
      const m1 = await waitFor(
        async () => {
          const m = await scrape(mport);
          return val(m, 'tsftpd_transfers_total{direction="out",result="ok"}') > val(m0, 'tsftpd_transfers_total{direction="out",result="ok"}')
            ? m
            : undefined;
        },
        3_000,
        'tsftpd_transfers_total{direction="out",result="ok"} to increase',
      );
      assert.equal(
        val(m1, 'tsftpd_transfers_total{direction="out",result="ok"}') - val(m0, 'tsftpd_transfers_total{direction="out",result="ok"}'),
        1,
      );
      assert.equal(val(m1, 'tsftpd_bytes_total{direction="out"}') - val(m0, 'tsftpd_bytes_total{direction="out"}'), Buffer.byteLength(HELLO));
    } finally {
      s.ftp.close();
    }
    await settled();
  });

  test('tsftpd_priv_restarts_total increases after kill -9 of the priv process; logins still work', T, async () => {
    await settled();
    const m0 = await scrape(mport);
    const privOf = (): number | undefined => procInfos(descendants(d.pid)).find((p) => p.cmdline.includes('tsftpd: priv'))?.pid;
    const priv = await waitFor(() => privOf(), 5_000, 'the priv process');
    process.kill(priv, 'SIGKILL');
    await waitFor(() => {
      const p = privOf();
      return p !== undefined && p !== priv;
    }, 5_000, 'a restarted priv');
    const m1 = await waitFor(
      async () => {
        const m = await scrape(mport);
        return val(m, 'tsftpd_priv_restarts_total') > val(m0, 'tsftpd_priv_restarts_total') ? m : undefined;
      },
      5_000,
      'tsftpd_priv_restarts_total to increase',
    );
    assert.equal(val(m1, 'tsftpd_priv_restarts_total') - val(m0, 'tsftpd_priv_restarts_total'), 1);
    const s = await session(d, user);
    s.ftp.close();
    await settled();
  });

  test('any other path or method → 404', T, async () => {
    for (const p of ['/', '/metrics/', '/metrics?x=1', '/Metrics', '/metrics/../metrics', '/favicon.ico', '/debug']) {
      const r = await httpRequest(mport, p);
      assert.equal(r.status, 404, `GET ${p}`);
    }
    for (const m of ['POST', 'PUT', 'DELETE']) {
      const r = await httpRequest(mport, '/metrics', m);
      assert.equal(r.status, 404, `${m} /metrics`);
    }
    const head = await httpRequest(mport, '/metrics', 'HEAD');
    assert.notEqual(head.status, 200, 'HEAD is not served either');
  });

  test('listens on 127.0.0.1 only (metrics_address defaults to loopback)', T, async () => {
    const addrs = listeningAddresses(mport);
    assert.deepEqual(addrs, [`0100007F:${mport.toString(16).toUpperCase().padStart(4, '0')}`], `listening sockets on ${mport}`);
    assert.deepEqual(listenersOf(mport), [d.pid], 'held by master');
  });
});

describe('metrics off by default', () => {
  test('without metrics_enable, master listens on the FTP port only', T, async () => {
    await withDaemon({}, async (d) => {
      const inodes = new Set<string>();
      for (const fd of fs.readdirSync(`/proc/${d.pid}/fd`)) {
        try {
          const target = fs.readlinkSync(`/proc/${d.pid}/fd/${fd}`);
          const m = /^socket:\[(\d+)\]$/.exec(target);
          if (m) inodes.add(m[1] ?? '');
        } catch {
          // closed meanwhile
        }
      }
      const ports: number[] = [];
      for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
        for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
          const f = line.trim().split(/\s+/);
          if (f[3] === '0A' && inodes.has(f[9] ?? '')) ports.push(parseInt((f[1] ?? '').split(':')[1] ?? '0', 16));
        }
      }
      assert.deepEqual(ports, [d.port]);
    });
  });
});

// ---------------------------------------------------------------------------
// docs/options

describe('docs/options is generated from the option table and up to date', () => {
  const docs = (): string => path.join(repoRoot(), 'docs', 'options');

  test('scripts/gen-option-docs regenerates exactly the committed pages (run it after changing src/config/options.ts)', T, async () => {
    const out = tempDir('tsftpd-docs-');
    const r = await runProcess(process.execPath, [path.join(repoRoot(), 'scripts', 'gen-option-docs'), '--out', out], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `gen-option-docs: ${r.stdout}${r.stderr}`);
    const fresh = fs.readdirSync(out).sort();
    const committed = fs.existsSync(docs()) ? fs.readdirSync(docs()).sort() : [];
    assert.deepEqual(committed, fresh, 'docs/options has exactly the generated files; run scripts/gen-option-docs');
    const stale = fresh.filter((f) => fs.readFileSync(path.join(out, f), 'utf8') !== fs.readFileSync(path.join(docs(), f), 'utf8'));
    assert.deepEqual(stale, [], 'these docs/options pages are stale; run scripts/gen-option-docs');
    const check = await runProcess(process.execPath, [path.join(repoRoot(), 'scripts', 'gen-option-docs'), '--check'], { timeoutMs: 30_000 });
    assert.equal(check.code, 0, `gen-option-docs --check: ${check.stderr}`);
  });

  test('every option is on exactly one page with its type, default and whether it is implemented', T, () => {
    const rows = new Map<string, { page: string; cells: string[] }[]>();
    const pages = fs.readdirSync(docs()).filter((f) => f.endsWith('.md') && f !== 'README.md');
    assert.ok(pages.length >= 5, `group pages: ${pages.join(', ')}`);
    for (const page of pages) {
      const text = fs.readFileSync(path.join(docs(), page), 'utf8');
      for (const line of text.split('\n')) {
        const m = /^\| `([a-z0-9_]+)` \| (.*) \|$/.exec(line);
        if (!m) continue;
        const cells = (m[2] ?? '').split(' | ');
        const list = rows.get(m[1] ?? '') ?? [];
        list.push({ page, cells });
        rows.set(m[1] ?? '', list);
      }
    }
    for (const o of OPTION_TABLE) {
      const found = rows.get(o.name) ?? [];
      assert.equal(found.length, 1, `${o.name} appears on ${found.length} pages`);
      const cells = found[0]?.cells ?? [];
      const [type, def, implemented] = cells;
      assert.equal(implemented, IMPLEMENTED_OPTIONS.has(o.name) ? 'yes' : 'no', `${o.name} implemented`);
      assert.equal(type?.split(/[ ,]/)[0], o.kind === 'bool' ? 'boolean' : o.kind === 'str' ? 'string' : o.octal ? 'octal' : 'number');
      if (o.kind === 'bool') assert.equal(def, o.default ? '`YES`' : '`NO`', `${o.name} default`);
      if (o.kind === 'num' && !o.octal) assert.equal(def, `\`${o.default}\``, `${o.name} default`);
      if (o.kind === 'num' && o.octal) assert.equal(Number.parseInt((def ?? '').replace(/`/g, ''), 8), o.default, `${o.name} default`);
      if (o.kind === 'str') assert.equal(def, o.default === null ? '(unset)' : `\`${o.default}\``, `${o.name} default`);
      assert.ok(cells.slice(3).join(' | ').length > 0, `${o.name} has a description`);
    }
    assert.equal(rows.size, OPTION_TABLE.length, 'no option the table does not have');
    const index = fs.readFileSync(path.join(docs(), 'README.md'), 'utf8');
    for (const o of OPTION_TABLE) {
      assert.equal(index.split(`| \`${o.name}\` |`).length - 1, 1, `${o.name} in the README index once`);
    }
    for (const page of pages) assert.ok(index.includes(`](${page})`), `README links ${page}`);
  });
});
