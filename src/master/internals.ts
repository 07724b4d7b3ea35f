/*
 * master runs with Node's --expose-internals: the zygote's workers get their
 * channels to master from Node's own IPC code (src/master/zygote.ts), which
 * only that flag makes reachable. An admin starts `tsftpd` (or `node
 * bin/tsftpd`) without it, so master restarts itself with it, first thing:
 * execv() keeps the pid, the descriptors and the arguments, so nothing
 * outside notices (a service manager, a pid file, a test harness).
 *
 * This module must be the first master imports. If the restart fails,
 * master runs on without the flag, and the pool forks workers itself.
 */
import { execNode } from '../sys/zygote';

const FLAG = '--expose-internals';
const MARK = 'TSFTPD_REEXEC';

function restartWithInternals(): void {
  if (process.execArgv.includes(FLAG)) return;
  // Never loop: one restart per start.
  if (process.env[MARK] === '1') return;
  const script = process.argv[1];
  if (script === undefined) return;
  process.env[MARK] = '1';
  try {
    execNode(process.execPath, [process.argv0, FLAG, ...process.execArgv, script, ...process.argv.slice(2)]);
  } catch (e: unknown) {
    process.stderr.write(`tsftpd: cannot restart with ${FLAG} (${e instanceof Error ? e.message : String(e)}); workers are forked one by one\n`);
  }
}

restartWithInternals();
delete process.env[MARK];
