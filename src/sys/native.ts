/**
 * Typed wrapper around the project's own N-API addon (native/tsftpd_native.c).
 *
 * The shared object is loaded when this module is first imported. Import it
 * before chroot()/setuid(): dlopen() of a library not loaded before fails in
 * an empty jail.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { timingSafeEqual } from 'node:crypto';

export type PamStage = 'start' | 'authenticate' | 'acct_mgmt' | 'setcred';

/** Outcome of a PAM transaction. `user` is PAM_USER as read back after success
 * (modules may rewrite the name). */
export type PamResult =
  | { ok: true; user: string }
  | { ok: false; stage: PamStage; code: number; message: string };

/** Limits enforced by the addon (bytes, UTF-8). */
export const PAM_MAX_USER_BYTES = 128;
export const PAM_MAX_PASSWORD_BYTES = 128;
export const CRYPT_MAX_PASSPHRASE_BYTES = 511;
export const CRYPT_MAX_SETTING_BYTES = 383;

interface RawPamResult {
  ok: boolean;
  user: string;
  stage: PamStage | 'ok';
  code: number;
  message: string;
}

interface RawNative {
  pamAuthenticate(
    service: string,
    user: string,
    password: string,
    rhost: string,
    callback: (result: unknown) => void,
  ): void;
  setNoNewPrivs(): void;
  getNoNewPrivs(): boolean;
  dropCapabilityBoundingSet(): void;
  setuidRootSucceeds(): boolean;
  accessErrno(path: string, mode: number): number;
  chrootHere(path: string): void;
  crypt(password: string, setting: string): string | null;
  cryptAsync(password: string, setting: string, callback: (result: unknown) => void): void;
  cryptGenSalt(prefix: string, rounds: number): string | null;
  lockFile(fd: number, kind: 0 | 1, callback: (errno: unknown) => void): void;
  tryLockFile(fd: number, kind: 0 | 1): number;
  unlockFile(fd: number): void;
  lstatAt(
    dirFd: number,
    names: Buffer,
    count: number,
    out: Float64Array,
    format: number,
    now: number,
    callback: (err: unknown, lines: unknown) => void,
  ): void;
  readdirAt(dirFd: number, sorted: boolean, callback: (err: unknown, names: unknown) => void): void;
  sendfileLoop(
    sockFd: number,
    fileFd: number,
    offset: number,
    count: number,
    stallMs: number,
    state: BigInt64Array,
    callback: (status: unknown, errno: unknown, bytes: unknown) => void,
  ): void;
  recvLoop(
    sockFd: number,
    fileFd: number,
    position: number,
    stallMs: number,
    state: BigInt64Array,
    callback: (status: unknown, errno: unknown, bytes: unknown) => void,
  ): void;
}

const FUNCTIONS: readonly (keyof RawNative)[] = [
  'pamAuthenticate',
  'setNoNewPrivs',
  'getNoNewPrivs',
  'dropCapabilityBoundingSet',
  'setuidRootSucceeds',
  'accessErrno',
  'chrootHere',
  'crypt',
  'cryptAsync',
  'cryptGenSalt',
  'lockFile',
  'tryLockFile',
  'unlockFile',
  'lstatAt',
  'readdirAt',
  'sendfileLoop',
  'recvLoop',
];

/** Walk up from this file to the directory holding package.json + native/. */
function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (
      fs.existsSync(path.join(dir, 'package.json')) &&
      fs.existsSync(path.join(dir, 'native', 'binding.gyp'))
    ) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`tsftpd: cannot find the project root (package.json + native/) above ${start}`);
    }
    dir = parent;
  }
}

/**
 * The addon, checked to have every function in `names` (each part of the
 * project that uses it names its own: this file, src/sys/zygote.ts).
 */
export function loadAddon<T>(names: readonly (keyof T & string)[]): T {
  const file = path.join(findProjectRoot(__dirname), 'native', 'build', 'Release', 'tsftpd_native.node');
  let m: unknown;
  try {
    m = require(file) as unknown;
  } catch (err: unknown) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`tsftpd: cannot load ${file} (run \`npm run build:native\`): ${msg}`);
  }
  const rec = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
  const missing = names.filter((name) => typeof rec[name] !== 'function');
  if (missing.length > 0) throw new Error(`tsftpd: ${file} lacks functions: ${missing.join(', ')}`);
  return m as T;
}

const raw: RawNative = loadAddon<RawNative>(FUNCTIONS);

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: Error) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve: ((v: T) => void) | undefined;
  let reject: ((e: Error) => void) | undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  if (resolve === undefined || reject === undefined) throw new Error('unreachable');
  return { promise, resolve, reject };
}

const STAGES: readonly string[] = ['start', 'authenticate', 'acct_mgmt', 'setcred', 'ok'];

function isRawPamResult(r: unknown): r is RawPamResult {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    typeof o.ok === 'boolean' &&
    typeof o.user === 'string' &&
    typeof o.stage === 'string' &&
    STAGES.includes(o.stage) &&
    typeof o.code === 'number' &&
    typeof o.message === 'string'
  );
}

/**
 * Run one PAM transaction on the libuv thread pool: pam_start → PAM_RHOST,
 * PAM_TTY="ftp", PAM_RUSER → pam_authenticate → pam_acct_mgmt (expired,
 * locked and password-change-required accounts are refused) →
 * pam_setcred(ESTABLISH) → PAM_USER → pam_end. Needs root.
 * A failure typically takes ~2 s (pam_faildelay) and occupies a pool thread
 * that long. Throws TypeError synchronously on bad arguments: non-strings, NUL
 * bytes, user/password longer than 128 bytes, empty user, service name not
 * matching [A-Za-z0-9._-]+, rhost longer than 255 bytes.
 */
export function pamAuthenticate(
  service: string,
  user: string,
  password: string,
  rhost: string,
): Promise<PamResult> {
  const { promise, resolve, reject } = deferred<PamResult>();
  // Called outside the Promise executor so that a TypeError is thrown, not a rejection.
  raw.pamAuthenticate(service, user, password, rhost, (r: unknown) => {
    if (!isRawPamResult(r)) {
      reject(new Error('tsftpd_native.pamAuthenticate returned a malformed result'));
    } else if (r.ok && r.stage === 'ok') {
      resolve({ ok: true, user: r.user });
    } else {
      const stage: PamStage = r.stage === 'ok' ? 'setcred' : r.stage;
      resolve({ ok: false, stage, code: r.code, message: r.message });
    }
  });
  return promise;
}

/** prctl(PR_SET_NO_NEW_PRIVS, 1). Irreversible for this process and its children. */
export function setNoNewPrivs(): void {
  raw.setNoNewPrivs();
}

export function getNoNewPrivs(): boolean {
  return raw.getNoNewPrivs();
}

/** PR_CAPBSET_DROP every capability. Needs CAP_SETPCAP: call while still root. */
export function dropCapabilityBoundingSet(): void {
  raw.dropCapabilityBoundingSet();
}

/** Whether setuid(0) succeeds now (the jail's check that root cannot be regained). */
export function setuidRootSucceeds(): boolean {
  return raw.setuidRootSucceeds();
}

/**
 * chdir(path), then chroot("."): the jail root is the directory the one
 * lookup reached, and the working directory is that root. Throws an Error
 * naming the failed call.
 */
export function chrootHere(path: string): void {
  raw.chrootHere(path);
}

/** access(2): 0, or the errno. No exception for the expected refusal. */
export function accessErrno(path: string, mode: number): number {
  return raw.accessErrno(path, mode);
}

/** crypt_r(3) (libxcrypt: $y$, $6$, $2b$, ...). null on failure. Blocks ~20 ms for yescrypt. */
export function crypt(password: string, setting: string): string | null {
  return raw.crypt(password, setting);
}

/** crypt_r(3) on the libuv thread pool. Bad arguments throw TypeError synchronously. */
export function cryptAsync(password: string, setting: string): Promise<string | null> {
  const { promise, resolve, reject } = deferred<string | null>();
  raw.cryptAsync(password, setting, (r: unknown) => {
    if (r === null || typeof r === 'string') resolve(r);
    else reject(new Error('tsftpd_native.cryptAsync returned a malformed result'));
  });
  return promise;
}

/** crypt_gensalt_rn(3) with OS randomness; prefix like "$y$", "$6$", "$2b$"; rounds 0 = default. */
export function cryptGenSalt(prefix: string, rounds: number): string | null {
  return raw.cryptGenSalt(prefix, rounds);
}

/**
 * Check a password against a crypt(3) hash; the final comparison is constant
 * time. Returns false (never throws) for locked/invalid hashes ("!", "*", ""),
 * passwords with NUL bytes or too long for crypt.
 */
export async function verifyCryptHash(password: string, hash: string): Promise<boolean> {
  if (typeof password !== 'string' || typeof hash !== 'string') return false;
  if (hash.length === 0 || password.includes('\0') || hash.includes('\0')) return false;
  if (Buffer.byteLength(password, 'utf8') > CRYPT_MAX_PASSPHRASE_BYTES) return false;
  if (Buffer.byteLength(hash, 'utf8') > CRYPT_MAX_SETTING_BYTES) return false;
  const computed = await cryptAsync(password, hash);
  if (computed === null) return false;
  const a = Buffer.from(computed, 'utf8');
  const b = Buffer.from(hash, 'utf8');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/**
 * lock_upload_files: a whole-file fcntl lock (read for downloads, write for
 * uploads), waiting for conflicting locks on libuv's pool. Resolves with 0
 * or the errno number. Released by unlockFile() or by closing the fd.
 */
export function lockFile(fd: number, kind: 'read' | 'write'): Promise<number> {
  const type = kind === 'write' ? 1 : 0;
  // Without waiting first: only a conflicting lock needs the pool's F_SETLKW.
  const now = tryLockFile(fd, type);
  if (now !== os.constants.errno.EAGAIN && now !== os.constants.errno.EACCES) return Promise.resolve(now);
  return new Promise((resolve) => {
    raw.lockFile(fd, type, (errno: unknown) => resolve(typeof errno === 'number' ? errno : -1));
  });
}

/** The lock without waiting: 0, or the errno (EAGAIN/EACCES: held by another process). */
export function tryLockFile(fd: number, kind: 0 | 1): number {
  return raw.tryLockFile(fd, kind);
}

export function unlockFile(fd: number): void {
  raw.unlockFile(fd);
}

// ---------------------------------------------------------------------------
// listings (native/listing.c)

/** Numbers per entry in lstatAt()'s output: mode, nlink, uid, gid, size, mtime seconds. */
export const LSTAT_FIELDS = 6;
/** Most entries one lstatAt() call takes. */
export const LSTAT_MAX_COUNT = 65536;

/** Long lines lstatAt() can build along the way (vsftpd's build_dir_line with UTC dates, ids as numbers or hidden). */
export interface LstatFormat {
  /** hide_ids: "ftp" for owner and group. */
  readonly hideIds: boolean;
  /** -F: '/' after directories. */
  readonly classify: boolean;
  /** Now, in whole seconds: dates more than 182 days old or in the future show the year. */
  readonly nowSec: number;
}

const FORMAT_LONG = 1;
const FORMAT_HIDE_IDS = 2;
const FORMAT_CLASSIFY = 4;

/**
 * lstat() of `count` entries of the open directory `dirFd`, on libuv's
 * thread pool (fstatat(dirFd, name, AT_SYMLINK_NOFOLLOW) each). `names`
 * holds the names' raw bytes, each followed by a NUL; entry i's numbers go
 * to out[i * LSTAT_FIELDS ...]: mode (-1 when its lstat failed), nlink,
 * uid, gid, size (approximate beyond 2^53), mtime in whole seconds.
 * With `format`, resolves with the long lines of the entries that exist
 * (raw bytes, CRLF after each, " -> target" for symbolic links), or null
 * when the addon left them to the caller (a time outside years 1-9999);
 * without, null. The caller keeps dirFd open and leaves `names` and `out`
 * alone until the promise settles. Bad arguments throw TypeError
 * synchronously.
 */
export function lstatAt(dirFd: number, names: Buffer, count: number, out: Float64Array, format: LstatFormat | null = null): Promise<Buffer | null> {
  // The addon checks these too; checking here gives a clearer message for
  // the mistakes a caller can make (a fractional count would be truncated).
  if (!Number.isInteger(dirFd) || dirFd < 0) throw new TypeError('lstatAt: dirFd must be an open descriptor');
  if (!Number.isInteger(count) || count < 1 || count > LSTAT_MAX_COUNT) throw new TypeError(`lstatAt: count must be 1..${LSTAT_MAX_COUNT}`);
  if (out.length < count * LSTAT_FIELDS) throw new TypeError('lstatAt: out is too small');
  if (format !== null && !Number.isSafeInteger(format.nowSec)) throw new TypeError('lstatAt: nowSec must be an integer');
  const flags = format === null ? 0 : FORMAT_LONG | (format.hideIds ? FORMAT_HIDE_IDS : 0) | (format.classify ? FORMAT_CLASSIFY : 0);
  const { promise, resolve, reject } = deferred<Buffer | null>();
  raw.lstatAt(dirFd, names, count, out, flags, format?.nowSec ?? 0, (err: unknown, lines: unknown) => {
    if (err !== null) reject(new Error(typeof err === 'string' ? err : 'tsftpd_native.lstatAt failed'));
    else resolve(format !== null && Buffer.isBuffer(lines) ? lines : null);
  });
  return promise;
}

/**
 * Every name of the open directory dirFd (without "." and "..") on libuv's
 * thread pool, read through a descriptor of its own (dirFd's offset is not
 * moved): their raw bytes, each followed by a NUL, in readdir order or, with
 * `sorted`, in byte order (strcmp; what Array.prototype.sort() gives for
 * latin1 byte strings), sorted off the main thread. Rejects when
 * the directory cannot be read at all or its names pass 256 MiB; a readdir()
 * error part way ends the list. dirFd stays open until the promise settles.
 */
export function readdirAt(dirFd: number, sorted: boolean): Promise<Buffer> {
  if (!Number.isInteger(dirFd) || dirFd < 0) throw new TypeError('readdirAt: dirFd must be an open descriptor');
  const { promise, resolve, reject } = deferred<Buffer>();
  raw.readdirAt(dirFd, sorted, (err: unknown, names: unknown) => {
    if (err === null && Buffer.isBuffer(names)) resolve(names);
    else reject(new Error(typeof err === 'string' ? err : 'tsftpd_native.readdirAt returned a malformed result'));
  });
  return promise;
}

// ---------------------------------------------------------------------------
// transfer loops (native/transfer.c): the RETR/STOR fast path

/**
 * How a native transfer loop ended: 'ok'; 'aborted' (abort() was called);
 * 'timeout' (no byte for stallMs); 'local' (the file side failed, errno
 * says how); 'network' (the socket side failed); 'unsupported' (sendfile
 * refused the file before a byte moved: use read/write instead).
 */
export type LoopStatus = 'ok' | 'aborted' | 'timeout' | 'local' | 'network' | 'unsupported';

export interface LoopResult {
  readonly status: LoopStatus;
  /** errno name (EPIPE, ENOSPC, ...) of a failure, else null. */
  readonly errno: string | null;
  /** Bytes moved (sent, or received and written). */
  readonly bytes: number;
}

const LOOP_STATUSES: readonly string[] = ['ok', 'aborted', 'timeout', 'local', 'network', 'unsupported'];

/**
 * Memory shared with a running loop's thread: [0] bytes moved so far (the
 * thread writes it after every chunk), [1] the abort flag (JS writes it;
 * the thread checks it at least every 200 ms).
 */
export class LoopState {
  readonly shared = new BigInt64Array(2);

  get bytes(): number {
    return Number(Atomics.load(this.shared, 0));
  }

  abort(): void {
    Atomics.store(this.shared, 1, 1n);
  }
}

function loopCallback(resolve: (r: LoopResult) => void): (status: unknown, errno: unknown, bytes: unknown) => void {
  return (status, errno, bytes) => {
    const ok = typeof status === 'string' && LOOP_STATUSES.includes(status);
    resolve({
      // A malformed answer is treated as a local failure: the transfer ends, never hangs.
      status: ok ? (status as LoopStatus) : 'local',
      errno: typeof errno === 'string' ? errno : ok ? null : 'EIO',
      bytes: typeof bytes === 'number' ? bytes : 0,
    });
  };
}

/**
 * sendfile(2) fileFd's bytes from offset (count bytes; -1: to end of file)
 * to the socket, on libuv's thread pool. Both descriptors must stay open
 * until the promise settles. Throws TypeError synchronously on bad
 * arguments (not a socket / not a regular file, non-integer numbers).
 */
export function sendfileLoop(sockFd: number, fileFd: number, offset: number, count: number, stallMs: number, state: LoopState): Promise<LoopResult> {
  const { promise, resolve } = deferred<LoopResult>();
  raw.sendfileLoop(sockFd, fileFd, offset, count, stallMs, state.shared, loopCallback(resolve));
  return promise;
}

/**
 * Read the socket until the peer closes it and write everything to fileFd
 * at position (-1: the descriptor's own position, as with O_APPEND), on
 * libuv's thread pool. Same rules as sendfileLoop.
 */
export function recvLoop(sockFd: number, fileFd: number, position: number, stallMs: number, state: LoopState): Promise<LoopResult> {
  const { promise, resolve } = deferred<LoopResult>();
  raw.recvLoop(sockFd, fileFd, position, stallMs, state.shared, loopCallback(resolve));
  return promise;
}
