// FTPS: explicit (AUTH TLS) and implicit TLS with real clients (curl, lftp,
// Python's ftplib.FTP_TLS), TLS 1.2 and 1.3; the forced-TLS rules; session
// reuse per session; strict_ssl_read_eof; ALPN/SNI refusals; client
// certificates; the TLS relay process (nopriv_user in the empty jail, the
// only holder besides W2 of the Unix socket between them); and a loopback
// capture that shows no user name or password. 127.0.0.1 only; every wait bounded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess, type ProcResult } from '../helpers/clients';
import { freePort, makeTempDir, repoRoot, runConfigOnly, startDaemon, type Daemon, type OptionValue } from '../helpers/daemon';
import { connectWithGreeting, login } from '../helpers/ftp';
import { connectionHolders, describeProc, descendants, procInfo, procInfos, sleep, waitFor, type ProcInfo } from '../helpers/proc';
import type { TestUser } from '../helpers/users';
import { e2eSuite } from '../helpers/suite';

const T = { timeout: 60_000 };
const HOST = '127.0.0.1';
const NO_CAPS = '0000000000000000';
const HELLO = 'hello over TLS\n';

const suite = e2eSuite();
const users = suite.users;
const tempDirs = suite.dirs;

function tempDir(prefix: string): string {
  const d = makeTempDir(prefix);
  tempDirs.push(d);
  return d;
}



// ---------------------------------------------------------------------------
// certificates (made with openssl at test time)

interface Pki {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  /** cert and key in one file */
  combined: string;
  clientCert: string;
  clientKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await runProcess('openssl', args, { cwd, timeoutMs: 30_000 });
  assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

async function makePki(): Promise<Pki> {
  const dir = tempDir('tsftpd-pki-');
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tsftpd test CA'], dir);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, subj, ext] of [
    ['server', '/CN=localhost', ['-extfile', 'server.ext']],
    ['client', '/CN=tsftpd test client', []],
  ] as const) {
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', ...ext], dir);
  }
  const p = (f: string): string => path.join(dir, f);
  fs.writeFileSync(p('combined.pem'), fs.readFileSync(p('server.pem'), 'utf8') + fs.readFileSync(p('server.key'), 'utf8'));
  for (const f of fs.readdirSync(dir)) fs.chmodSync(p(f), 0o644);
  return { dir, ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key'), combined: p('combined.pem'), clientCert: p('client.pem'), clientKey: p('client.key') };
}

/** A local user jailed in a root-owned home with hello.txt and a writable `upload`. */
function makeUser(): TestUser {
  const home = tempDir('tsftpd-h-');
  const user = users.create({ home });
  fs.writeFileSync(path.join(home, 'hello.txt'), HELLO, { mode: 0o644 });
  for (const n of [1, 2, 3]) fs.writeFileSync(path.join(home, `f${n}.txt`), `file ${n}\n`, { mode: 0o644 });
  const upload = path.join(home, 'upload');
  fs.mkdirSync(upload, { mode: 0o755 });
  fs.chownSync(upload, user.uid, user.gid);
  return user;
}

// ---------------------------------------------------------------------------
// clients

interface PyStep {
  op: string;
  [k: string]: unknown;
}
interface PyResult {
  welcome: string[];
  steps: Array<{ op: string; result?: unknown; error?: string; replies: string[] }>;
  tls: Array<{ version: string; cipher: string }>;
  error?: string;
}

async function python(job: Record<string, unknown> & { steps: PyStep[] }): Promise<PyResult> {
  const script = path.join(repoRoot(), 'test', 'clients', 'ftps_client.py');
  const r = await runProcess('/usr/bin/python3', [script, JSON.stringify({ host: HOST, timeout: 10, ...job })], { timeoutMs: 60_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as PyResult;
  } catch {
    throw new Error(`ftps_client gave no JSON (code ${String(r.code)}):\n${r.stdout}\n${r.stderr}`);
  }
}

function pyOk(r: PyResult, i: number, op: string): unknown {
  const s = r.steps[i];
  assert.ok(s, `no step ${i}: ${JSON.stringify(r)}`);
  assert.equal(s.op, op);
  assert.equal(s.error, undefined, `step ${i} (${op}) failed: ${JSON.stringify(s)}\n${JSON.stringify(r, null, 1)}`);
  return s.result;
}

function curl(args: string[]): Promise<ProcResult> {
  return runProcess('curl', ['-sS', '--max-time', '20', ...args], { timeoutMs: 30_000 });
}

function url(u: TestUser, port: number, p: string, scheme = 'ftp'): string {
  return `${scheme}://${encodeURIComponent(u.name)}:${encodeURIComponent(u.password)}@${HOST}:${port}/${p}`;
}

function lftp(u: TestUser, port: number, ca: string, commands: string[], extra: string[] = []): Promise<ProcResult> {
  const script = [
    'set ftp:ssl-force true',
    'set ftp:ssl-protect-data true',
    `set ssl:ca-file ${ca}`,
    'set net:max-retries 1',
    'set net:timeout 10',
    'set xfer:clobber true',
    ...extra,
    `open -u ${u.name},${u.password} ftp://${HOST}:${port}`,
    ...commands,
  ].join('; ');
  return runProcess('lftp', ['-c', script], { timeoutMs: 60_000 });
}

function jsonEvents(file: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The worker's JSON lines on the daemon's stderr with this event name. */
function stderrEvents(d: Daemon, event: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of d.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o['event'] === event) out.push(o);
    } catch {
      // not JSON
    }
  }
  return out;
}

async function withDaemon(options: Record<string, OptionValue | null>, body: (d: Daemon) => Promise<void>): Promise<void> {
  const d = await startDaemon({ options });
  try {
    await body(d);
  } catch (e: unknown) {
    if (e instanceof Error) e.message += `\n--- daemon stderr ---\n${d.stderr().slice(-6000)}`;
    throw e;
  } finally {
    await d.stop();
  }
}

// ---------------------------------------------------------------------------

let pki: Pki;
let user: TestUser;
let anon: TestUser;

before(async () => {
  pki = await makePki();
  user = makeUser();
  const anonRoot = tempDir('tsftpd-a-');
  anon = users.create({ home: anonRoot });
  fs.writeFileSync(path.join(anonRoot, 'pub.txt'), 'public\n', { mode: 0o644 });
});

function tlsOptions(extra: Record<string, OptionValue | null> = {}): Record<string, OptionValue | null> {
  return {
    ssl_enable: true,
    rsa_cert_file: pki.cert,
    rsa_private_key_file: pki.key,
    chroot_local_user: true,
    write_enable: true,
    ...extra,
  };
}

describe('configuration', () => {
  test('unreadable certificate, a key that does not match, a bad cipher list: one line, exit 2', T, async () => {
    const base = ['listen=YES', 'listen_address=127.0.0.1', 'listen_port=${PORT}', 'background=NO', 'secure_chroot_dir=${SECURE}', 'ssl_enable=YES'];
    const cases: Array<[string[], RegExp]> = [
      [['rsa_cert_file=/nonexistent/cert.pem'], /^tsftpd: .*tsftpd\.conf: rsa_cert_file: \/nonexistent\/cert\.pem: .*ENOENT/],
      [[`rsa_cert_file=${pki.cert}`, `rsa_private_key_file=${pki.clientKey}`], /^tsftpd: .*: rsa_private_key_file: .*no usable certificate and key/],
      [[`rsa_cert_file=${pki.combined}`, 'ssl_ciphers=NOT-A-CIPHER'], /^tsftpd: .*: ssl_ciphers: /],
      [[`rsa_cert_file=${pki.combined}`, 'ssl_min_version=TLSv1.3', 'ssl_max_version=TLSv1.2'], /^tsftpd: .*: ssl_min_version: TLSv1\.3 is above/],
      [[`rsa_cert_file=${pki.combined}`, 'validate_cert=YES'], /^tsftpd: .*: validate_cert: needs ca_certs_file/],
      [['ssl_enable=NO', 'implicit_ssl_port=9990'], /^tsftpd: .*: implicit_ssl_port: needs ssl_enable=YES/],
    ];
    for (const [lines, want] of cases) {
      const r = await runConfigOnly(`${[...base, ...lines].join('\n')}\n`);
      assert.equal(r.code, 2, `exit code for ${lines.join(' ')}; stderr ${r.stderr}`);
      const out = r.stderr.trim().split('\n');
      assert.equal(out.length, 1, `one line: ${r.stderr}`);
      assert.match(out[0] ?? '', want);
    }
  });

  test('ssl_sslv3=YES: a warning, and SSLv3 is never offered (one combined PEM works)', T, async () => {
    await withDaemon({ ssl_enable: true, rsa_cert_file: pki.combined, ssl_sslv3: true }, async (d) => {
      assert.match(d.stderr(), /tsftpd: warning: ssl_sslv3=YES ignored: tsftpd offers TLS 1\.2 and TLS 1\.3 only/);
      const r = await runProcess('openssl', ['s_client', '-connect', `${HOST}:${d.port}`, '-starttls', 'ftp', '-ssl3'], { timeoutMs: 10_000, input: '' });
      assert.notEqual(r.code, 0, 'an SSLv3 handshake must fail');
    });
  });
});

/** The SHA-256 fingerprint of the certificate the server presents after AUTH TLS. */
async function servedFingerprint(port: number): Promise<string> {
  const r = await runProcess('openssl', ['s_client', '-connect', `${HOST}:${port}`, '-starttls', 'ftp'], { timeoutMs: 10_000, input: '' });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  assert.ok(pem !== undefined, `no certificate from s_client: ${r.stdout}\n${r.stderr}`);
  return new crypto.X509Certificate(pem).fingerprint256;
}

describe('reload', () => {
  test('SIGHUP: master reads the certificate again; new sessions get the new one', T, async () => {
    const dir = tempDir('tsftpd-r-');
    const live = path.join(dir, 'live.pem');
    fs.copyFileSync(pki.combined, live);
    await withDaemon({ ssl_enable: true, rsa_cert_file: live }, async (d) => {
      const before = await servedFingerprint(d.port);
      assert.equal(before, new crypto.X509Certificate(fs.readFileSync(pki.cert)).fingerprint256);
      // The client certificate (from the same CA) stands in for a renewed one.
      fs.writeFileSync(live, fs.readFileSync(pki.clientCert, 'utf8') + fs.readFileSync(pki.clientKey, 'utf8'));
      process.kill(d.pid, 'SIGHUP');
      const want = new crypto.X509Certificate(fs.readFileSync(pki.clientCert)).fingerprint256;
      await waitFor(async () => ((await servedFingerprint(d.port)) === want ? true : undefined), 10_000, 'the new certificate');
      // A broken file on reload is refused; the running material stays.
      fs.writeFileSync(live, 'not a certificate\n');
      process.kill(d.pid, 'SIGHUP');
      await waitFor(() => (/reload_failed/.test(d.stderr()) ? true : undefined), 10_000, 'the refused reload');
      assert.match(d.stderr(), /rsa_cert_file/);
      assert.equal(await servedFingerprint(d.port), want);
    });
  });
});

describe('explicit FTPS', () => {
  let d: Daemon;
  let logDir: string;
  let implicitPort: number;
  before(async () => {
    logDir = tempDir('tsftpd-l-');
    implicitPort = await freePort();
    d = await startDaemon({
      options: tlsOptions({
        implicit_ssl_port: implicitPort,
        debug_ssl: true,
        ssl_sni_hostname: 'localhost',
        xferlog_enable: true,
        xferlog_std_format: true,
        xferlog_file: path.join(logDir, 'xferlog'),
        json_log_file: path.join(logDir, 'json.log'),
        anonymous_enable: true,
        ftp_username: anon.name,
      }),
    });
  });
  after(async () => {
    await d.stop();
  });

  test('FEAT lists AUTH TLS, PBSZ, PROT; PBSZ/PROT need TLS; AUTH XYZ → 504; plain local USER → 530 and close', T, async () => {
    const { ftp } = await connectWithGreeting(HOST, d.port);
    try {
      const feat = await ftp.command('FEAT');
      const lines = feat.lines.slice(1, -1).map((l) => l.trim());
      assert.equal(lines[0], 'AUTH TLS', feat.text);
      assert.ok(!lines.includes('AUTH SSL'), feat.text);
      assert.ok(lines.indexOf('PBSZ') > lines.indexOf('PASV') && lines.indexOf('PROT') === lines.indexOf('PBSZ') + 1, feat.text);
      assert.equal((await ftp.command('PBSZ 0')).text, '503 PBSZ needs a secure connection.');
      assert.equal((await ftp.command('PROT P')).text, '503 PROT needs a secure connection.');
      assert.equal((await ftp.command('AUTH XYZ')).text, '504 Unknown AUTH type.');
      assert.equal((await ftp.command(`USER ${user.name}`)).text, '530 Non-anonymous sessions must use encryption.');
      assert.ok(await ftp.waitClose(5_000), 'the session must end');
    } finally {
      ftp.close();
    }
  });

  test('curl over TLS 1.2 and 1.3: list, three downloads (each data connection resumes), upload; logs say tls', T, async () => {
    for (const v of ['1.2', '1.3']) {
      const from = jsonEvents(path.join(logDir, 'json.log')).length;
      const down = await curl(['--ssl-reqd', '--cacert', pki.ca, '--tls-max', v, url(user, d.port, ''), url(user, d.port, 'f1.txt'), url(user, d.port, 'f2.txt'), url(user, d.port, 'f3.txt')]);
      assert.equal(down.code, 0, `curl TLS ${v}: ${down.stderr}`);
      assert.match(down.stdout, /hello\.txt/);
      assert.ok(down.stdout.includes('file 1\nfile 2\nfile 3\n'), down.stdout);
      const local = path.join(tempDir('tsftpd-c-'), 'up.txt');
      fs.writeFileSync(local, `uploaded with curl ${v}\n`);
      const up = await curl(['--ssl-reqd', '--cacert', pki.ca, '--tls-max', v, '-T', local, url(user, d.port, `upload/curl-${v}.txt`)]);
      assert.equal(up.code, 0, `curl upload TLS ${v}: ${up.stderr}`);
      assert.equal(fs.readFileSync(path.join(user.home, 'upload', `curl-${v}.txt`), 'utf8'), `uploaded with curl ${v}\n`);
      const events = jsonEvents(path.join(logDir, 'json.log')).slice(from);
      const data = events.filter((e) => e['event'] === 'tls_handshake' && e['channel'] === 'data');
      const control = events.filter((e) => e['event'] === 'tls_handshake' && e['channel'] === 'control');
      assert.equal(data.length, 5, `five data connections: ${JSON.stringify(events)}`);
      assert.ok(data.every((e) => e['reused'] === true && e['protocol'] === `TLSv${v}`), `every data connection resumed: ${JSON.stringify(data)}`);
      assert.ok(control.every((e) => e['protocol'] === `TLSv${v}` && e['reused'] === false), JSON.stringify(control));
      const transfers = events.filter((e) => e['event'] === 'transfer');
      assert.equal(transfers.length, 4, JSON.stringify(transfers));
      assert.ok(transfers.every((e) => e['tls'] === true && e['complete'] === true), JSON.stringify(transfers));
    }
  });

  test('curl implicit FTPS (ftps://) on the implicit port, TLS 1.2 and 1.3: list, download, upload', T, async () => {
    for (const v of ['1.2', '1.3']) {
      const r = await curl(['--cacert', pki.ca, '--tls-max', v, url(user, implicitPort, '', 'ftps'), url(user, implicitPort, 'hello.txt', 'ftps')]);
      assert.equal(r.code, 0, `implicit TLS ${v}: ${r.stderr}`);
      assert.match(r.stdout, /f1\.txt/);
      assert.ok(r.stdout.endsWith(HELLO), r.stdout);
      const local = path.join(tempDir('tsftpd-c-'), 'up.txt');
      fs.writeFileSync(local, `implicit ${v}\n`);
      const up = await curl(['--cacert', pki.ca, '--tls-max', v, '-T', local, url(user, implicitPort, `upload/implicit-${v}.txt`, 'ftps')]);
      assert.equal(up.code, 0, `implicit upload TLS ${v}: ${up.stderr}`);
      assert.equal(fs.readFileSync(path.join(user.home, 'upload', `implicit-${v}.txt`), 'utf8'), `implicit ${v}\n`);
    }
    // Clear text on the implicit port is not FTP: no greeting.
    const plain = await curl(['--max-time', '3', url(user, implicitPort, 'hello.txt')]);
    assert.notEqual(plain.code, 0);
  });

  test('lftp (GnuTLS), TLS 1.3 and 1.2: ls, get, put', T, async () => {
    for (const [v, prio] of [
      ['1.3', []],
      ['1.2', ['set ssl:priority "NORMAL:-VERS-ALL:+VERS-TLS1.2"']],
    ] as const) {
      const scratch = tempDir('tsftpd-c-');
      fs.writeFileSync(path.join(scratch, 'put.txt'), `lftp ${v}\n`);
      const r = await lftp(user, d.port, pki.ca, ['ls', `get hello.txt -o ${scratch}/got.txt`, `put ${scratch}/put.txt -o upload/lftp-${v}.txt`], [...prio]);
      assert.equal(r.code, 0, `lftp TLS ${v}: ${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /hello\.txt/);
      assert.equal(fs.readFileSync(path.join(scratch, 'got.txt'), 'utf8'), HELLO);
      assert.equal(fs.readFileSync(path.join(user.home, 'upload', `lftp-${v}.txt`), 'utf8'), `lftp ${v}\n`);
    }
  });

  test("Python's ftplib.FTP_TLS, TLS 1.2 and 1.3: login, prot_p, list, retr, stor; PROT S/E/X; PBSZ", T, async () => {
    for (const v of ['1.2', '1.3']) {
      const r = await python({
        port: d.port,
        cafile: pki.ca,
        tls_max: v,
        steps: [
          { op: 'login', user: user.name, password: user.password },
          { op: 'prot_p' },
          { op: 'list' },
          { op: 'retr', remote: 'hello.txt' },
          { op: 'stor', remote: `upload/py-${v}.txt`, data: `python ${v}\n` },
          { op: 'raw', cmd: 'PROT S' },
          { op: 'raw', cmd: 'PROT E' },
          { op: 'raw', cmd: 'PROT X' },
          { op: 'raw', cmd: 'PBSZ 16' },
          { op: 'quit' },
        ],
      });
      assert.equal(r.error, undefined, JSON.stringify(r));
      assert.equal(r.tls[0]?.version, `TLSv${v}`);
      pyOk(r, 0, 'login');
      pyOk(r, 1, 'prot_p');
      assert.ok((pyOk(r, 2, 'list') as string[]).some((l) => l.endsWith(' hello.txt')));
      assert.equal(pyOk(r, 3, 'retr'), HELLO);
      pyOk(r, 4, 'stor');
      assert.equal(fs.readFileSync(path.join(user.home, 'upload', `py-${v}.txt`), 'utf8'), `python ${v}\n`);
      assert.equal(r.steps[5]?.error, '536 PROT not supported.');
      assert.equal(r.steps[6]?.error, '536 PROT not supported.');
      assert.equal(r.steps[7]?.error, '504 PROT not recognized.');
      assert.equal(pyOk(r, 8, 'raw'), '200 PBSZ set to 0.');
    }
  });

  test('PROT C with force_local_data_ssl → 522 Data connections must be encrypted.', T, async () => {
    const r = await python({
      port: d.port,
      cafile: pki.ca,
      steps: [{ op: 'login', user: user.name, password: user.password }, { op: 'prot_c' }, { op: 'list' }],
    });
    pyOk(r, 1, 'prot_c');
    assert.equal(r.steps[2]?.error, '522 Data connections must be encrypted.', JSON.stringify(r));
  });

  test('anonymous over TLS → 530 Anonymous sessions may not use encryption. (allow_anon_ssl=NO)', T, async () => {
    const r = await python({ port: d.port, cafile: pki.ca, steps: [{ op: 'raw', cmd: 'USER anonymous' }] });
    assert.equal(r.steps[0]?.error, '530 Anonymous sessions may not use encryption.', JSON.stringify(r));
  });

  test('a data connection that resumes ANOTHER session is refused (522, session ended); the other session goes on', T, async () => {
    const r = await python({
      port: d.port,
      cafile: pki.ca,
      sessions: 2,
      steps: [
        { op: 'login', user: user.name, password: user.password },
        { op: 'login', on: 1, user: user.name, password: user.password },
        { op: 'prot_p' },
        { op: 'prot_p', on: 1 },
        { op: 'retr', remote: 'hello.txt' },
        // Session 1's data connection offers session 0's TLS session.
        { op: 'retr', on: 1, remote: 'hello.txt', session_of: 0 },
        { op: 'raw', on: 1, cmd: 'NOOP' },
        { op: 'retr', remote: 'hello.txt' },
      ],
    });
    assert.equal(pyOk(r, 4, 'retr'), HELLO);
    const replies = [...(r.steps[5]?.replies ?? []), ...(r.steps[6]?.replies ?? [])];
    assert.ok(replies.includes('522 SSL connection failed: session reuse required'), JSON.stringify(r.steps.slice(5)));
    assert.ok(!replies.some((l) => l.startsWith('226')), JSON.stringify(replies));
    assert.equal(pyOk(r, 7, 'retr'), HELLO, 'the first session is untouched');
    const failures = stderrEvents(d, 'data_connection_failed');
    assert.ok(
      failures.some((e) => e['reply'] === 522 && String(e['cause']).includes('ticket this session did not issue')),
      JSON.stringify(failures),
    );
    // Without any session offered (ftplib's own behaviour): refused too.
    const plain = await python({ port: d.port, cafile: pki.ca, reuse: false, steps: [{ op: 'login', user: user.name, password: user.password }, { op: 'prot_p' }, { op: 'retr', remote: 'hello.txt' }, { op: 'raw', cmd: 'NOOP' }] });
    const all = [...(plain.steps[2]?.replies ?? []), ...(plain.steps[3]?.replies ?? [])];
    assert.ok(all.includes('522 SSL connection failed: session reuse required'), JSON.stringify(plain.steps));
  });

  test('strict_ssl_read_eof: an upload ended by FIN without close_notify fails (426) and is logged incomplete', T, async () => {
    const json = path.join(logDir, 'json.log');
    const from = jsonEvents(json).length;
    const r = await python({
      port: d.port,
      cafile: pki.ca,
      steps: [
        { op: 'login', user: user.name, password: user.password },
        { op: 'prot_p' },
        { op: 'stor_unclean', remote: 'upload/cut.txt', data: 'cut short' },
      ],
    });
    pyOk(r, 1, 'prot_p');
    assert.equal(r.steps[2]?.error, '426 Failure reading network stream.', JSON.stringify(r));
    await waitFor(() => jsonEvents(json).slice(from).some((e) => e['event'] === 'transfer'), 5_000, 'the transfer event');
    const t = jsonEvents(json).slice(from).filter((e) => e['event'] === 'transfer');
    assert.equal(t.length, 1, JSON.stringify(t));
    assert.equal(t[0]?.['complete'], false);
    assert.equal(t[0]?.['tls'], true);
    const xfer = fs.readFileSync(path.join(logDir, 'xferlog'), 'utf8').trim().split('\n');
    const line = xfer.find((l) => l.includes('/upload/cut.txt')) ?? '';
    assert.match(line, / i r .* i$/, `xferlog: direction i, completion i: ${line}`);
    // The clean uploads earlier are complete.
    assert.ok(xfer.some((l) => l.includes('/upload/py-1.3.txt') && l.endsWith(' c')), xfer.join('\n'));
  });

  test('ALPN without "ftp" and SNI naming another host are refused; ALPN ftp and SNI localhost work', T, async () => {
    const steps = [{ op: 'login', user: user.name, password: user.password }];
    const bad = await python({ port: d.port, cafile: pki.ca, alpn: ['http/1.1'], steps });
    assert.ok(bad.error !== undefined, `ALPN http/1.1 must fail: ${JSON.stringify(bad)}`);
    const good = await python({ port: d.port, cafile: pki.ca, alpn: ['ftp', 'http/1.1'], steps });
    assert.equal(good.error, undefined, JSON.stringify(good));
    pyOk(good, 0, 'login');
    const otherHost = await python({ port: d.port, cafile: pki.ca, sni: 'other.example', steps });
    assert.ok(otherHost.error !== undefined, `SNI other.example must fail: ${JSON.stringify(otherHost)}`);
    const thisHost = await python({ port: d.port, cafile: pki.ca, sni: 'localhost', steps });
    assert.equal(thisHost.error, undefined, JSON.stringify(thisHost));
    pyOk(thisHost, 0, 'login');
    const refused = stderrEvents(d, 'tls_refused').map((e) => String(e['reason']));
    assert.ok(refused.some((x) => x.includes('ALPN without "ftp"')), refused.join('\n'));
    assert.ok(refused.some((x) => x.includes('SNI names "other.example"')), refused.join('\n'));
  });

  test('eleven unknown commands before login → 500 Too many errors. and close (vsftpd 3.0.5)', T, async () => {
    const { ftp } = await connectWithGreeting(HOST, d.port);
    try {
      for (let i = 0; i < 10; i++) assert.equal((await ftp.command(`XYZ${i}`)).text, '530 Please login with USER and PASS.');
      assert.equal((await ftp.command('XYZ10')).text, '500 Too many errors.');
      assert.ok(await ftp.waitClose(5_000));
    } finally {
      ftp.close();
    }
  });

  test('the TLS relay: nopriv_user in the empty jail, titled SSL handler; the Unix socket to W2 is held by W1 and W2 only', T, async () => {
    // A Python session that stays logged in while we look.
    const child = spawn('/usr/bin/python3', [
      '-c',
      [
        'import ftplib,ssl,sys,time',
        `c=ssl.create_default_context(cafile=${JSON.stringify(pki.ca)})`,
        `f=ftplib.FTP_TLS(context=c,timeout=10); f.connect(${JSON.stringify(HOST)}, ${d.port}); f.auth()`,
        `f.login(${JSON.stringify(user.name)}, ${JSON.stringify(user.password)})`,
        'print(f.sock.getsockname()[1], flush=True)',
        'sys.stdin.readline()',
        'print(f.sendcmd("NOOP"), flush=True); f.quit()',
      ].join('\n'),
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
    });
    try {
      const clientPort = Number(await waitFor(() => /^(\d+)\n/.exec(out)?.[1], 10_000, 'the client to log in'));
      // Only the relay holds the client's TCP connection: not master, not W2.
      const holders = await waitFor(() => {
        const h = connectionHolders(d.pid, d.port, clientPort);
        return h.length === 1 && / SSL handler$/.test(h[0]?.cmdline ?? '') ? h : undefined;
      }, 5_000, 'only the relay to hold the TCP connection');
      const relay = holders[0] as ProcInfo;
      assert.equal(relay.cmdline, `tsftpd: ${HOST}: SSL handler`);
      for (const id of [relay.uid.real, relay.uid.effective, relay.uid.saved]) assert.equal(id, 65534, describeProc(relay));
      assert.equal(relay.root, fs.realpathSync(d.secureChrootDir), describeProc(relay));
      assert.equal(relay.noNewPrivs, 1);
      assert.equal(relay.capEff, NO_CAPS);
      assert.equal(relay.capBnd, NO_CAPS);
      // W2: the session user, holding no TCP connection to the client.
      const w2 = procInfos(descendants(d.pid)).find((p) => p.cmdline === `tsftpd: ${HOST}/${user.name}: IDLE`);
      assert.ok(w2, `W2 not found:\n${procInfos(descendants(d.pid)).map(describeProc).join('\n')}`);
      assert.equal(w2.uid.effective, user.uid);
      // The Unix stream sockets: W1's end and W2's end are peers, and no
      // other process (master included) holds either.
      const ss = await runProcess('ss', ['-xpn'], { timeoutMs: 10_000 });
      const rows = ss.stdout.split('\n').map((l) => {
        const m = /^u_str\s+ESTAB\s+\d+\s+\d+\s+\S+\s+(\d+)\s+\S+\s+(\d+)\s+users:\((.*)\)\s*$/.exec(l.trim());
        return m === null ? null : { inode: m[1] ?? '', peer: m[2] ?? '', users: [...(m[3] ?? '').matchAll(/pid=(\d+)/g)].map((x) => Number(x[1])) };
      }).filter((x): x is { inode: string; peer: string; users: number[] } => x !== null);
      const relayRow = rows.find((r) => r.users.includes(relay.pid) && !r.users.includes(d.pid) && rows.some((o) => o.inode === r.peer && o.users.includes(w2.pid)));
      assert.ok(relayRow, `no Unix socket between relay ${relay.pid} and W2 ${w2.pid}:\n${ss.stdout.split('\n').filter((l) => /tsftpd/.test(l)).join('\n')}`);
      const w2Row = rows.find((r) => r.inode === relayRow.peer);
      assert.deepEqual(relayRow.users, [relay.pid], 'only the relay holds its end');
      assert.deepEqual(w2Row?.users, [w2.pid], 'only W2 holds its end');
      child.stdin.write('\n');
      await waitFor(() => (out.includes('200 NOOP ok.') ? true : undefined), 10_000, 'NOOP through the relay');
      await waitFor(() => (procInfo(relay.pid) === null ? true : undefined), 10_000, 'the relay to exit after QUIT');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('client certificates and captures', () => {
  test('require_cert + validate_cert: a client certificate from the CA logs in and transfers; none → refused', T, async () => {
    await withDaemon(tlsOptions({ require_cert: true, validate_cert: true, ca_certs_file: pki.ca, debug_ssl: true }), async (d) => {
      const steps = [{ op: 'login', user: user.name, password: user.password }, { op: 'prot_p' }, { op: 'retr', remote: 'hello.txt' }];
      const ok = await python({ port: d.port, cafile: pki.ca, certfile: pki.clientCert, keyfile: pki.clientKey, steps });
      assert.equal(ok.error, undefined, JSON.stringify(ok));
      assert.equal(pyOk(ok, 2, 'retr'), HELLO);
      const hs = stderrEvents(d, 'tls_handshake');
      const fp = hs.find((e) => e['channel'] === 'control')?.['client_cert'];
      assert.match(String(fp), /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
      assert.ok(hs.some((e) => e['channel'] === 'data' && e['client_cert'] === fp && e['client_cert_valid'] === true), JSON.stringify(hs));
      const none = await python({ port: d.port, cafile: pki.ca, steps });
      assert.ok(none.error !== undefined || none.steps[0]?.error !== undefined, `no certificate must be refused: ${JSON.stringify(none)}`);
      assert.ok(stderrEvents(d, 'tls_refused').some((e) => String(e['reason']).includes('no client certificate')), d.stderr());
    });
  });

  test('a capture of a forced-TLS login on the loopback port holds neither the user name nor the password', T, async () => {
    await withDaemon(tlsOptions(), async (d) => {
      const pcap = path.join(tempDir('tsftpd-p-'), 'login.pcap');
      const dump = spawn('tcpdump', ['-i', 'lo', '-Z', 'root', '--immediate-mode', '-U', '-s', '0', '-w', pcap, `tcp port ${d.port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let dumpErr = '';
      dump.stderr.setEncoding('utf8');
      dump.stderr.on('data', (s: string) => {
        dumpErr += s;
      });
      try {
        await waitFor(() => (dumpErr.includes('listening on') ? true : undefined), 10_000, 'tcpdump to start');
        const r = await curl(['--ssl-reqd', '--cacert', pki.ca, url(user, d.port, 'hello.txt')]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, HELLO);
        await sleep(500);
      } finally {
        dump.kill('SIGINT');
        await new Promise((res) => dump.once('close', res));
      }
      const bytes = fs.readFileSync(pcap);
      assert.ok(bytes.length > 1000, `a capture of the session (${bytes.length} bytes); tcpdump: ${dumpErr}`);
      assert.ok(bytes.includes(Buffer.from('AUTH ')), 'the capture holds the clear-text AUTH command (so it captured the session)');
      assert.ok(bytes.includes(Buffer.from('234 Proceed with negotiation.')), 'and the 234 reply');
      assert.ok(!bytes.includes(Buffer.from(user.name)), 'user name in the capture');
      assert.ok(!bytes.includes(Buffer.from(user.password)), 'password in the capture');
    });
  });
});

describe('plain FTP next to ssl_enable', () => {
  test('force_local_logins_ssl=NO: a clear-text local login works, but force_local_data_ssl refuses its data', T, async () => {
    await withDaemon(tlsOptions({ force_local_logins_ssl: false }), async (d) => {
      const { ftp } = await connectWithGreeting(HOST, d.port);
      try {
        const l = await login(ftp, user.name, user.password);
        assert.equal(l.pass?.code, 230, JSON.stringify(l));
        assert.equal((await ftp.command('PROT P')).text, '503 PROT needs a secure connection.');
        assert.equal((await ftp.command('PASV')).code, 227);
        assert.equal((await ftp.command('LIST')).text, '522 Data connections must be encrypted.');
      } finally {
        ftp.close();
      }
    });
  });
});
