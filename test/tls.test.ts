// Unit tests for the TLS pieces that do not need a daemon: cipher and version
// options, the relay socket pair, close_notify detection (which relies on how
// Node ends a TLS stream: if Node changes, this test says so), per-session
// ticket keys with renewal, PBSZ/PROT replies, and the handoff validator.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CONFIG, freezeConfig, type Config } from '../src/config/options';
import { parseWorkerMessage } from '../src/ipc/validate';
import { effectiveCiphers, makeRelayPair, sessionTlsSetup, versionRange } from '../src/master/tls';
import { pbsz, prot } from '../src/worker/commands/tls';
import { createSessionContext, startTls, tlsEnding } from '../src/worker/tls';

function cfg(over: Partial<Record<keyof Config, unknown>>): Config {
  return freezeConfig({ ...DEFAULT_CONFIG, ...over } as Config);
}

let dir = '';
let cert = '';
let key = '';

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsftpd-tlsu-'));
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=localhost'], { cwd: dir, timeout: 30_000 });
  assert.equal(r.status, 0, String(r.stderr));
  cert = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
  key = fs.readFileSync(path.join(dir, 'k.pem'), 'utf8');
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('options', () => {
  test('ssl_ciphers without TLS_* names keeps the TLS 1.3 suites (as vsftpd with OpenSSL)', () => {
    const c = effectiveCiphers('ECDHE-RSA-AES256-GCM-SHA384');
    assert.ok(c.startsWith('TLS_'), c);
    assert.ok(c.endsWith(':ECDHE-RSA-AES256-GCM-SHA384'), c);
    assert.equal(effectiveCiphers('TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256'), 'TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256');
  });

  test('version range: TLS 1.2 and 1.3, narrowed by ssl_tlsv1_2/_3 and min/max', () => {
    assert.deepEqual(versionRange(cfg({})), { min: 'TLSv1.2', max: 'TLSv1.3' });
    assert.deepEqual(versionRange(cfg({ ssl_tlsv1_2: false })), { min: 'TLSv1.3', max: 'TLSv1.3' });
    assert.deepEqual(versionRange(cfg({ ssl_max_version: 'TLSv1.2' })), { min: 'TLSv1.2', max: 'TLSv1.2' });
    assert.ok('option' in versionRange(cfg({ ssl_tlsv1: false })));
    assert.ok('option' in versionRange(cfg({ ssl_tlsv1_2: false, ssl_tlsv1_3: false })));
    assert.ok('option' in versionRange(cfg({ ssl_min_version: 'TLSv1.1' })));
  });

  test('PBSZ and PROT replies (vsftpd texts)', () => {
    assert.deepEqual(pbsz(false), { code: 503, text: 'PBSZ needs a secure connection.' });
    assert.deepEqual(pbsz(true), { code: 200, text: 'PBSZ set to 0.' });
    assert.deepEqual(prot(false, 'P'), { code: 503, text: 'PROT needs a secure connection.', level: null });
    assert.deepEqual(prot(true, 'p'), { code: 200, text: 'PROT now Private.', level: 'P' });
    assert.deepEqual(prot(true, 'C'), { code: 200, text: 'PROT now Clear.', level: 'C' });
    assert.deepEqual(prot(true, 'S'), { code: 536, text: 'PROT not supported.', level: null });
    assert.deepEqual(prot(true, 'E'), { code: 536, text: 'PROT not supported.', level: null });
    assert.deepEqual(prot(true, 'X'), { code: 504, text: 'PROT not recognized.', level: null });
  });

  test('handoff: the TLS state is validated strictly', () => {
    const fp = Array.from({ length: 32 }, () => 'AB').join(':');
    const ok = { t: 'handoff', pending: '', tls: { prot: 'P', clientCert: fp, session: { id: 'ab'.repeat(32), data: 'AAAA' } } };
    assert.deepEqual(parseWorkerMessage(ok), ok);
    assert.deepEqual(parseWorkerMessage({ t: 'handoff', pending: '', tls: null }), { t: 'handoff', pending: '', tls: null });
    for (const bad of [
      { t: 'handoff', pending: '' },
      { t: 'handoff', pending: '', tls: { prot: 'S', clientCert: null, session: null } },
      { t: 'handoff', pending: '', tls: { prot: 'P', clientCert: 'nope', session: null } },
      { t: 'handoff', pending: '', tls: { prot: 'P', clientCert: null, session: { id: 'x', data: 'AAAA' } } },
      { t: 'handoff', pending: '', tls: { prot: 'P', clientCert: null, session: { id: 'ab', data: 'A'.repeat(30_000) } } },
      { t: 'handoff', pending: '', tls: { prot: 'P', clientCert: null, session: null, extra: 1 } },
    ]) {
      assert.equal(parseWorkerMessage(bad), null, JSON.stringify(bad).slice(0, 200));
    }
  });
});

describe('relay socket pair', () => {
  test('the two ends are connected to each other, and an intruder on the abstract name is not taken', async () => {
    const [a, b] = await makeRelayPair();
    try {
      const got = new Promise<string>((resolve) => b.once('data', (d: Buffer) => resolve(d.toString())));
      b.resume();
      a.write('ping');
      assert.equal(await got, 'ping');
      const back = new Promise<string>((resolve) => a.once('data', (d: Buffer) => resolve(d.toString())));
      a.resume();
      b.write('pong');
      assert.equal(await back, 'pong');
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});

/** A TLS client (Node) to a server socket made by startTls. */
async function serverAndClient(
  setupKeys: string,
  clientOpts: tls.ConnectionOptions = {},
  c: Config = cfg({ ssl_request_cert: false }),
): Promise<{ server: ReturnType<typeof startTls>; client: tls.TLSSocket; tcp: net.Socket; close: () => void }> {
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const tcp = net.connect({ host: '127.0.0.1', port });
  tcp.on('error', () => undefined);
  const client = tls.connect({ socket: tcp, rejectUnauthorized: false, ...clientOpts });
  client.on('error', () => undefined);
  const raw = await accepted;
  listener.close();
  const ctx = createSessionContext({ cert, key, ca: null, ciphers: effectiveCiphers(null), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ticketKeys: setupKeys });
  const server = startTls(raw, ctx, c);
  server.armTimeout(5_000);
  return { server, client, tcp, close: () => (client.destroy(), server.socket.destroy()) };
}

describe('TLS streams', () => {
  test('close_notify and a bare FIN are told apart (strict_ssl_read_eof)', async () => {
    const keys = sessionTlsSetup({ cert, key, ca: null, ciphers: 'x', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' }).ticketKeys;
    for (const clean of [true, false]) {
      const { server, client, tcp, close } = await serverAndClient(keys);
      try {
        const o = await server.done;
        assert.ok(o.ok);
        const ended = new Promise<void>((resolve) => server.socket.once('end', () => resolve()));
        server.socket.resume();
        client.write('upload data');
        if (clean) {
          client.end();
        } else {
          // FIN without close_notify: end the TCP connection under TLS.
          await new Promise((r) => setTimeout(r, 50));
          tcp.end();
        }
        await Promise.race([ended, new Promise((_, rej) => setTimeout(() => rej(new Error('no end')), 5_000))]);
        assert.deepEqual(tlsEnding(server.socket), { strict: true, closeNotify: clean }, clean ? 'close_notify' : 'bare FIN');
      } finally {
        close();
      }
    }
  });

  test('tickets: this session resumes (and gets a new ticket), another session does not', async () => {
    const keysA = crypto.randomBytes(48).toString('base64');
    const keysB = crypto.randomBytes(48).toString('base64');
    let session: Buffer | null = null;
    {
      const { server, client, close } = await serverAndClient(keysA, { maxVersion: 'TLSv1.3' });
      client.on('session', (s: Buffer) => {
        session = s;
      });
      const o = await server.done;
      assert.ok(o.ok && !o.info.reused);
      server.socket.write('x');
      await new Promise((r) => setTimeout(r, 100));
      close();
    }
    assert.ok(session !== null, 'a ticket');
    for (const [keys, reused] of [
      [keysA, true],
      [keysB, false],
    ] as const) {
      const { server, client, close } = await serverAndClient(keys, { maxVersion: 'TLSv1.3', session: session ?? undefined });
      let renewed = false;
      client.on('session', () => {
        renewed = true;
      });
      const o = await server.done;
      assert.ok(o.ok);
      assert.equal(o.info.reused, reused, reused ? 'same session keys resume' : 'other session keys do not');
      server.socket.write('x');
      await new Promise((r) => setTimeout(r, 100));
      if (reused) assert.ok(renewed, 'a resumed connection gets a fresh ticket (curl needs it on TLS 1.3)');
      close();
    }
  });
});
