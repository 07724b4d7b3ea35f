/*
 * The single privilege-drop routine, after vsftpd's
 * vsf_secutil_change_credentials(). A worker calls enterJail() exactly once,
 * after everything it will ever need is loaded and before it reads a byte
 * from a client.
 *
 * Every step either succeeds or throws; the caller exits the process on a
 * throw (fail closed). There is no partial jail.
 */

import * as fs from 'node:fs';
import * as posix from 'posix';
import * as native from './native';
import type { JailSpec } from '../ipc/messages';

export class JailError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

function step<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e: unknown) {
    if (e instanceof JailError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new JailError(name, `${name}: ${msg}`);
  }
}

/** Node's POSIX credential calls; absent only on platforms we never run on. */
function credentials(): Required<Pick<NodeJS.Process, 'setgroups' | 'setgid' | 'setuid' | 'getuid' | 'geteuid' | 'getgid' | 'getegid'>> {
  const p = process;
  if (!p.setgroups || !p.setgid || !p.setuid || !p.getuid || !p.geteuid || !p.getgid || !p.getegid) {
    throw new JailError('platform', 'POSIX credential calls are missing');
  }
  return {
    setgroups: p.setgroups.bind(p),
    setgid: p.setgid.bind(p),
    setuid: p.setuid.bind(p),
    getuid: p.getuid.bind(p),
    geteuid: p.geteuid.bind(p),
    getgid: p.getgid.bind(p),
    getegid: p.getegid.bind(p),
  };
}

/*
 * Start libuv's thread pool: its threads are created, synchronously, by the
 * first piece of work queued to it. A stat of "/" is such work, and harmless
 * inside any jail.
 */
function startThreadPool(): void {
  fs.stat('/', () => undefined);
}

/**
 * threadPool: start libuv's thread pool inside the jail (a logged-in
 * session: file I/O, native transfer loops). A pre-login worker does no
 * file I/O and goes without: starting the pool cost ~0.9 ms per connection.
 * Should such a worker ever queue pool work, the pool cannot start
 * (RLIMIT_NPROC=0) and libuv aborts the process: the session ends.
 */
export function enterJail(spec: JailSpec, threadPool: boolean): void {
  const cred = credentials();
  // SECURITY: the bounding set only matters across exec, which a worker
  // never does; dropping it anyway means no future exec could regain a
  // capability. Needs CAP_SETPCAP, so it comes first, while still root.
  step('capbset', () => native.dropCapabilityBoundingSet());
  step('setgroups', () => cred.setgroups([...spec.groups]));
  if (spec.root !== null) {
    const root = spec.root;
    // SECURITY: one lookup of the path (chdir, then chroot(".")), as vsftpd:
    // a second lookup could land elsewhere if a component changed between.
    step('chroot', () => native.chrootHere(root));
    // The kernel's working directory is the new root already; Node caches
    // the old one for process.cwd(), and this resets that cache.
    step('chdir /', () => process.chdir('/'));
  }
  // Numeric ids only: name lookups need /etc, which the jail may not have.
  step('setgid', () => cred.setgid(spec.gid));
  step('setuid', () => cred.setuid(spec.uid));
  // SECURITY: setuid() from root to non-root clears the permitted and
  // effective sets; confirm it, and that root cannot be regained.
  step('verify', () => {
    if (cred.getuid() !== spec.uid || cred.geteuid() !== spec.uid) {
      throw new Error('uid did not change');
    }
    if (cred.getgid() !== spec.gid || cred.getegid() !== spec.gid) {
      throw new Error('gid did not change');
    }
    if (spec.uid !== 0 && native.setuidRootSucceeds()) throw new Error('setuid(0) succeeded after the drop');
  });
  // libuv's thread pool starts here, after the drop and before the process
  // limit: its threads are born with the session's credentials, so the
  // credential calls above had no other thread to signal (glibc makes every
  // thread repeat a set*id call: ~0.5 ms per session with four idle threads).
  if (threadPool) step('thread pool', startThreadPool);
  // SECURITY: no new processes (vsftpd's RLIMIT_NPROC=0): a session has no
  // business forking, and this stops it even if code execution is gained.
  // Threads count against it too, so libuv's pool was started just above.
  if (spec.uid !== 0) {
    step('rlimit nproc', () => posix.setrlimit('nproc', { soft: 0, hard: 0 }));
  }
  step('no_new_privs', () => native.setNoNewPrivs());
  process.umask(spec.umask);
  // As the session user, so permissions (and NFS root squash) apply.
  step('chdir home', () => process.chdir(spec.cwd));
  if (spec.root !== null && spec.checkWritableRoot) {
    // SECURITY: a user who can write the jail root can plant /etc and /lib
    // files that libc reads inside the jail (vsftpd 2.3.5, BID 51013).
    const writable = native.accessErrno('/', fs.constants.W_OK) === 0;
    if (writable) {
      throw new JailError('writable root', 'refusing to run with writable root inside chroot()');
    }
  }
}
