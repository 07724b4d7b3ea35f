/*
 * TLS as master sees it: the certificate, key and CA files it reads as root
 * (at start and on SIGHUP; a jailed worker cannot reach them), the protocol
 * range the options allow, the per-session ticket keys, and the Unix stream
 * socket pair that joins a session's TLS relay (W1) to its session worker
 * (W2).
 *
 * master never speaks TLS itself: it only proves, once, that the material
 * makes a SecureContext, so a bad file refuses the start instead of failing
 * every handshake.
 */

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Config } from '../config/options';
import type { TlsSetup, TlsVersion } from '../ipc/messages';

/** Everything but the per-session ticket keys. */
export type TlsMaterial = Omit<TlsSetup, 'ticketKeys'>;

export type TlsLoad =
  | { readonly ok: true; readonly material: TlsMaterial | null; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly message: string };

/** A PEM file is small; anything bigger is not what the option should name. */
const MAX_PEM_BYTES = 1024 * 1024;

const VERSIONS: readonly TlsVersion[] = ['TLSv1.2', 'TLSv1.3'];

function isVersion(v: string | null): v is TlsVersion {
  return v === 'TLSv1.2' || v === 'TLSv1.3';
}

function readPem(path: string): string {
  const st = fs.statSync(path);
  if (!st.isFile()) throw new Error('not a regular file');
  if (st.size > MAX_PEM_BYTES) throw new Error(`larger than ${MAX_PEM_BYTES} bytes`);
  return fs.readFileSync(path, 'utf8');
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** TLS 1.3 suites of Node's default list (OpenSSL's defaults). */
function defaultTls13Suites(): string[] {
  return tls.DEFAULT_CIPHERS.split(':').filter((c) => c.startsWith('TLS_'));
}

/*
 * vsftpd hands ssl_ciphers to SSL_CTX_set_cipher_list(), which does not
 * touch TLS 1.3 suites: a config that names only TLS 1.2 ciphers still gets
 * TLS 1.3 with OpenSSL's suites. Node applies one string to both, and a
 * string without TLS_* names would switch TLS 1.3 off; so the default
 * suites are added unless the admin named some.
 */
export function effectiveCiphers(sslCiphers: string | null): string {
  const list = (sslCiphers ?? tls.DEFAULT_CIPHERS).split(':').filter((c) => c !== '');
  if (list.some((c) => c.startsWith('TLS_'))) return list.join(':');
  return [...defaultTls13Suites(), ...list].join(':');
}

/**
 * The versions the options allow: TLS 1.2 and 1.3 only (SSLv2, SSLv3,
 * TLS 1.0 and 1.1 are never offered), narrowed by ssl_tlsv1 (NO: none),
 * Fedora's ssl_tlsv1_2 / ssl_tlsv1_3 and ssl_min_version / ssl_max_version.
 */
export function versionRange(cfg: Config): { min: TlsVersion; max: TlsVersion } | { option: keyof Config; message: string } {
  if (!cfg.ssl_tlsv1) return { option: 'ssl_tlsv1', message: 'NO leaves no TLS version to offer (tsftpd offers TLS 1.2 and 1.3 only)' };
  if (!isVersion(cfg.ssl_min_version)) return { option: 'ssl_min_version', message: `${JSON.stringify(cfg.ssl_min_version)} is not TLSv1.2 or TLSv1.3` };
  if (!isVersion(cfg.ssl_max_version)) return { option: 'ssl_max_version', message: `${JSON.stringify(cfg.ssl_max_version)} is not TLSv1.2 or TLSv1.3` };
  const lo = VERSIONS.indexOf(cfg.ssl_min_version);
  const hi = VERSIONS.indexOf(cfg.ssl_max_version);
  if (lo > hi) return { option: 'ssl_min_version', message: `${cfg.ssl_min_version} is above ssl_max_version ${cfg.ssl_max_version}` };
  const allowed = VERSIONS.filter((v, i) => i >= lo && i <= hi && (v === 'TLSv1.2' ? cfg.ssl_tlsv1_2 : cfg.ssl_tlsv1_3));
  const first = allowed[0];
  const last = allowed[allowed.length - 1];
  if (first === undefined || last === undefined) {
    return { option: 'ssl_tlsv1_2', message: 'ssl_tlsv1_2, ssl_tlsv1_3 and ssl_min_version/ssl_max_version leave no TLS version to offer' };
  }
  return { min: first, max: last };
}

/** Options that parse but that tsftpd will never honour: a warning line each. */
function warnings(cfg: Config): string[] {
  const w: string[] = [];
  for (const [name, on] of [
    ['ssl_sslv2', cfg.ssl_sslv2],
    ['ssl_sslv3', cfg.ssl_sslv3],
    ['ssl_tlsv1_1', cfg.ssl_tlsv1_1],
  ] as const) {
    if (on) w.push(`tsftpd: warning: ${name}=YES ignored: tsftpd offers TLS 1.2 and TLS 1.3 only`);
  }
  return w;
}

/**
 * Read and check the TLS material of a config. ssl_enable=NO: nothing to
 * read (implicit FTPS without it is refused: it would serve clear text to a
 * client that expects TLS). Errors are one line: `tsftpd: FILE: option: message`.
 */
export function loadTlsMaterial(cfg: Config, file: string): TlsLoad {
  const fail = (option: string, message: string): TlsLoad => ({ ok: false, message: `tsftpd: ${file}: ${option}: ${message}` });
  if (!cfg.ssl_enable) {
    if (cfg.implicit_ssl) return fail('implicit_ssl', 'needs ssl_enable=YES');
    if (cfg.implicit_ssl_port !== 0) return fail('implicit_ssl_port', 'needs ssl_enable=YES');
    return { ok: true, material: null, warnings: [] };
  }
  if (cfg.implicit_ssl_port !== 0 && cfg.implicit_ssl_port === cfg.listen_port) {
    return fail('implicit_ssl_port', `${cfg.implicit_ssl_port} is listen_port too (set implicit_ssl=YES to make that port implicit)`);
  }
  const range = versionRange(cfg);
  if ('option' in range) return fail(range.option, range.message);
  if (cfg.validate_cert && cfg.ca_certs_file === null) return fail('validate_cert', 'needs ca_certs_file (the CAs client certificates must chain to)');
  const certFile = cfg.rsa_cert_file;
  if (certFile === null) return fail('rsa_cert_file', 'must name the certificate file when ssl_enable=YES');
  const keyFile = cfg.rsa_private_key_file ?? certFile;
  let cert: string;
  let key: string;
  let ca: string | null = null;
  try {
    cert = readPem(certFile);
  } catch (e: unknown) {
    return fail('rsa_cert_file', `${certFile}: ${errText(e)}`);
  }
  try {
    key = keyFile === certFile ? cert : readPem(keyFile);
  } catch (e: unknown) {
    return fail('rsa_private_key_file', `${keyFile}: ${errText(e)}`);
  }
  if (cfg.ca_certs_file !== null) {
    try {
      ca = readPem(cfg.ca_certs_file);
    } catch (e: unknown) {
      return fail('ca_certs_file', `${cfg.ca_certs_file}: ${errText(e)}`);
    }
  }
  // Each step on its own, so the error names the option at fault.
  try {
    tls.createSecureContext({ cert, key });
  } catch (e: unknown) {
    const option = cfg.rsa_private_key_file === null ? 'rsa_cert_file' : 'rsa_private_key_file';
    return fail(option, `${keyFile === certFile ? certFile : `${certFile} with ${keyFile}`}: no usable certificate and key: ${errText(e)}`);
  }
  const ciphers = effectiveCiphers(cfg.ssl_ciphers);
  try {
    tls.createSecureContext({ cert, key, ciphers, minVersion: range.min, maxVersion: range.max });
  } catch (e: unknown) {
    return fail('ssl_ciphers', `${JSON.stringify(cfg.ssl_ciphers)}: ${errText(e)}`);
  }
  if (ca !== null) {
    try {
      tls.createSecureContext({ cert, key, ca });
    } catch (e: unknown) {
      return fail('ca_certs_file', `${cfg.ca_certs_file ?? ''}: ${errText(e)}`);
    }
  }
  return { ok: true, material: { cert, key, ca, ciphers, minVersion: range.min, maxVersion: range.max }, warnings: warnings(cfg) };
}

/** A session's TLS setup: the material plus 48 fresh random bytes of ticket keys. */
export function sessionTlsSetup(material: TlsMaterial): TlsSetup {
  return { ...material, ticketKeys: crypto.randomBytes(48).toString('base64') };
}

/**
 * A connected pair of Unix stream sockets, made by master for one TLS
 * session: one end for W1 (the relay), one for W2. Node has no socketpair(),
 * so master listens on a fresh abstract address, connects to it, and keeps
 * only the accepted connection whose first bytes are its own random token.
 *
 * SECURITY: the abstract name is random and the listener lives for one
 * connect; anyone else who connects in that window is not recognised (they
 * cannot know the token) and is closed. master gives both ends away with the
 * send (its own descriptors close), so only W1 and W2 hold them.
 */
export function makeRelayPair(timeoutMs = 5000): Promise<[net.Socket, net.Socket]> {
  return new Promise((resolve, reject) => {
    const name = `\0tsftpd-${crypto.randomBytes(16).toString('hex')}`;
    const token = crypto.randomBytes(32);
    const server = net.createServer();
    let client: net.Socket | null = null;
    let accepted: net.Socket | null = null;
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      if (err === null && (client === null || accepted === null)) return;
      settled = true;
      clearTimeout(timer);
      server.close();
      if (err !== null || client === null || accepted === null) {
        client?.destroy();
        accepted?.destroy();
        reject(err ?? new Error('relay pair failed'));
        return;
      }
      resolve([client, accepted]);
    };
    const timer = setTimeout(() => finish(new Error('relay pair: timed out')), timeoutMs);
    server.on('error', (e) => finish(e));
    server.on('connection', (sock: net.Socket) => {
      sock.on('error', () => undefined);
      if (accepted !== null || settled) {
        sock.destroy();
        return;
      }
      let got = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        got = Buffer.concat([got, d]);
        if (got.length < token.length) return;
        sock.removeListener('data', onData);
        sock.pause();
        // Exactly the token, nothing more: anything else is not ours.
        if (got.length === token.length && crypto.timingSafeEqual(got, token) && accepted === null) {
          accepted = sock;
          server.close();
          finish(null);
        } else {
          sock.destroy();
        }
      };
      sock.on('data', onData);
    });
    server.listen(name, () => {
      const c = net.connect(name);
      c.on('error', (e) => finish(e));
      c.once('connect', () => {
        c.write(token, () => {
          c.pause();
          client = c;
          finish(null);
        });
      });
    });
  });
}
