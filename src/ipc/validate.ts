/*
 * Validators for IPC messages. Each takes `unknown` (whatever came out of the
 * channel) and returns the typed message or null. They check shape, types
 * and bounds; state checks ("may this worker send this now?") live in
 * policy.ts, so each concern can be read on its own.
 */

import type { Config } from '../config/options';
import {
  DATA_FAILURES,
  IPC_LIMITS,
  type LoginOutcome,
  type MasterToPriv,
  type PrivToMaster,
  type WorkerToMaster,
  type LoginDecision,
  type JailSpec,
  type ControlTls,
} from './messages';

type Obj = { readonly [k: string]: unknown };

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isUint(v: unknown, max = 0x7fffffff): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function isBoundedString(v: unknown, maxBytes: number): v is string {
  return typeof v === 'string' && Buffer.byteLength(v, 'utf8') <= maxBytes;
}

/** Exactly these keys, no more: an extra key is a malformed message. */
function hasExactKeys(o: Obj, keys: readonly string[]): boolean {
  const own = Object.keys(o);
  return own.length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(o, k));
}

/** A handoff's TLS state: null, or PROT C/P and an optional certificate fingerprint. undefined: malformed. */
function parseControlTls(v: unknown): ControlTls | null | undefined {
  if (v === null) return null;
  if (!isObj(v) || !hasExactKeys(v, ['prot', 'clientCert', 'session'])) return undefined;
  const { prot, clientCert, session } = v;
  if (prot !== 'C' && prot !== 'P') return undefined;
  // X509Certificate.fingerprint256: 32 bytes as upper-case hex pairs joined by ':'.
  if (clientCert !== null && (typeof clientCert !== 'string' || !/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/.test(clientCert))) return undefined;
  if (session === null) return { prot, clientCert, session: null };
  if (!isObj(session) || !hasExactKeys(session, ['id', 'data'])) return undefined;
  const { id, data } = session;
  // A TLS session ID is at most 32 bytes; the session itself is bounded.
  if (typeof id !== 'string' || !/^(?:[0-9a-f]{2}){1,32}$/.test(id)) return undefined;
  const maxB64 = Math.ceil(IPC_LIMITS.tlsSessionMaxBytes / 3) * 4;
  if (typeof data !== 'string' || data.length === 0 || data.length > maxB64 || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return undefined;
  return { prot, clientCert, session: { id, data } };
}

/*
 * SECURITY: the only messages an untrusted worker can send. Strings are
 * bounded so a compromised worker cannot make master or priv buffer
 * arbitrary amounts; `pending` is checked as base64 of bounded length.
 */
export function parseWorkerMessage(v: unknown): WorkerToMaster | null {
  if (!isObj(v)) return null;
  switch (v['t']) {
    case 'ready':
      return hasExactKeys(v, ['t']) ? { t: 'ready' } : null;
    case 'login': {
      const user = v['user'];
      const pass = v['pass'];
      if (!hasExactKeys(v, ['t', 'user', 'pass'])) return null;
      if (!isBoundedString(user, IPC_LIMITS.userMax)) return null;
      if (!isBoundedString(pass, IPC_LIMITS.passMax)) return null;
      return { t: 'login', user, pass };
    }
    case 'check_user': {
      const user = v['user'];
      if (!hasExactKeys(v, ['t', 'user'])) return null;
      if (!isBoundedString(user, IPC_LIMITS.userMax)) return null;
      return { t: 'check_user', user };
    }
    case 'transfer_state': {
      if (!hasExactKeys(v, ['t', 'active']) || typeof v['active'] !== 'boolean') return null;
      return { t: 'transfer_state', active: v['active'] };
    }
    case 'transfer_done': {
      const { direction, bytes, ok } = v;
      if (!hasExactKeys(v, ['t', 'direction', 'bytes', 'ok'])) return null;
      if ((direction !== 'in' && direction !== 'out') || typeof ok !== 'boolean') return null;
      if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) return null;
      return { t: 'transfer_done', direction, bytes, ok };
    }
    case 'data_failed': {
      const cause = v['cause'];
      if (!hasExactKeys(v, ['t', 'cause'])) return null;
      const known = DATA_FAILURES.find((c) => c === cause);
      return known === undefined ? null : { t: 'data_failed', cause: known };
    }
    case 'data_connect': {
      const port = v['port'];
      if (!hasExactKeys(v, ['t', 'port']) || !isUint(port, 65535) || port === 0) return null;
      return { t: 'data_connect', port };
    }
    case 'chown_upload': {
      const { path, dev, ino } = v;
      if (!hasExactKeys(v, ['t', 'path', 'dev', 'ino'])) return null;
      // An absolute path inside the jail, without NUL; ids as decimal text.
      if (!isBoundedString(path, 4096) || !path.startsWith('/') || path.includes('\0')) return null;
      if (typeof dev !== 'string' || !/^\d{1,20}$/.test(dev)) return null;
      if (typeof ino !== 'string' || !/^\d{1,20}$/.test(ino)) return null;
      return { t: 'chown_upload', path, dev, ino };
    }
    case 'handoff': {
      const pending = v['pending'];
      if (!hasExactKeys(v, ['t', 'pending', 'tls'])) return null;
      const maxB64 = Math.ceil(IPC_LIMITS.pendingMaxBytes / 3) * 4;
      if (typeof pending !== 'string' || pending.length > maxB64) return null;
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(pending)) return null;
      const tls = parseControlTls(v['tls']);
      if (tls === undefined) return null;
      return { t: 'handoff', pending, tls };
    }
    default:
      return null;
  }
}

export function parseMasterToPriv(v: unknown): MasterToPriv | null {
  // master and priv are both root and run this same code; a config is
  // master's own frozen object, so only its presence is checked here.
  if (isObj(v) && v['t'] === 'check_user' && hasExactKeys(v, ['t', 'id', 'config', 'user'])) {
    const { id, user, config } = v;
    if (!isUint(id) || !isBoundedString(user, IPC_LIMITS.userMax) || !isObj(config)) return null;
    return { t: 'check_user', id, config: config as unknown as Config, user };
  }
  if (isObj(v) && v['t'] === 'data_connect' && hasExactKeys(v, ['t', 'id', 'config', 'localAddress', 'remoteAddress', 'port'])) {
    const { id, config, localAddress, remoteAddress, port } = v;
    if (!isUint(id) || !isObj(config) || !isUint(port, 65535)) return null;
    if (!isBoundedString(localAddress, 64) || !isBoundedString(remoteAddress, 64)) return null;
    return { t: 'data_connect', id, config: config as unknown as Config, localAddress, remoteAddress, port };
  }
  if (isObj(v) && v['t'] === 'chown' && hasExactKeys(v, ['t', 'id', 'jailRoot', 'config', 'path', 'dev', 'ino'])) {
    const { id, jailRoot, config, path, dev, ino } = v;
    if (!isUint(id) || !isBoundedString(jailRoot, 4096) || !isObj(config)) return null;
    if (!isBoundedString(path, 4096) || typeof dev !== 'string' || typeof ino !== 'string') return null;
    return { t: 'chown', id, jailRoot, config: config as unknown as Config, path, dev, ino };
  }
  if (!isObj(v) || v['t'] !== 'login') return null;
  if (!hasExactKeys(v, ['t', 'id', 'config', 'remoteAddress', 'user', 'pass'])) return null;
  const { id, config, remoteAddress, user, pass } = v;
  if (!isUint(id) || !isObj(config)) return null;
  if (!isBoundedString(remoteAddress, 64)) return null;
  if (!isBoundedString(user, IPC_LIMITS.userMax)) return null;
  if (!isBoundedString(pass, IPC_LIMITS.passMax)) return null;
  return { t: 'login', id, config: config as unknown as Config, remoteAddress, user, pass };
}

function parseJail(v: unknown): JailSpec | null {
  if (!isObj(v)) return null;
  const { uid, gid, groups, root, cwd, umask, checkWritableRoot } = v;
  if (!isUint(uid) || !isUint(gid) || !isUint(umask, 0o777)) return null;
  if (!Array.isArray(groups) || groups.length > 1024 || !groups.every((g) => isUint(g))) return null;
  if (root !== null && !isBoundedString(root, 4096)) return null;
  if (!isBoundedString(cwd, 4096)) return null;
  if (typeof checkWritableRoot !== 'boolean') return null;
  return { uid, gid, groups: groups as number[], root, cwd, umask, checkWritableRoot };
}

function parseDecision(v: unknown): LoginDecision | null {
  if (!isObj(v)) return null;
  const { kind, user, loginName, anonPassword, anonRights, config } = v;
  if (kind !== 'anonymous' && kind !== 'local' && kind !== 'guest') return null;
  if (!isBoundedString(user, 256) || !isBoundedString(loginName, 256)) return null;
  if (anonPassword !== null && !isBoundedString(anonPassword, 256)) return null;
  if (typeof anonRights !== 'boolean' || !isObj(config)) return null;
  const jail = parseJail(v['jail']);
  if (jail === null) return null;
  // priv built this config with the strict parser; master and priv are root.
  return { kind, user, loginName, anonPassword, anonRights, jail, config: config as unknown as Config };
}

function parseOutcome(v: unknown): LoginOutcome | null {
  if (!isObj(v)) return null;
  if (v['ok'] === true) {
    const decision = parseDecision(v['decision']);
    return decision === null ? null : { ok: true, decision };
  }
  if (v['ok'] === false) {
    const reason = v['reason'];
    const detail = v['detail'];
    if (
      reason !== 'bad_credentials' &&
      reason !== 'anonymous_only' &&
      reason !== 'local_disabled' &&
      reason !== 'bad_username' &&
      reason !== 'internal'
    ) {
      return null;
    }
    if (!isBoundedString(detail, 1024)) return null;
    return { ok: false, reason, detail };
  }
  return null;
}

export function parsePrivMessage(v: unknown): PrivToMaster | null {
  if (!isObj(v)) return null;
  if (v['t'] === 'ready') return { t: 'ready' };
  if (v['t'] === 'user_result' && isUint(v['id']) && typeof v['allowed'] === 'boolean') {
    return { t: 'user_result', id: v['id'], allowed: v['allowed'] };
  }
  if (v['t'] === 'data_connect_result' && isUint(v['id']) && typeof v['ok'] === 'boolean' && isBoundedString(v['detail'], 1024)) {
    return { t: 'data_connect_result', id: v['id'], ok: v['ok'], detail: v['detail'] };
  }
  if (v['t'] === 'chown_result' && isUint(v['id']) && typeof v['ok'] === 'boolean' && isBoundedString(v['detail'], 1024)) {
    return { t: 'chown_result', id: v['id'], ok: v['ok'], detail: v['detail'] };
  }
  if (v['t'] === 'login_result' && isUint(v['id'])) {
    const outcome = parseOutcome(v['outcome']);
    return outcome === null ? null : { t: 'login_result', id: v['id'], outcome };
  }
  return null;
}
