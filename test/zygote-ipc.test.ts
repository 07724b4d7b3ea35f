// The zygote's message parsers (src/ipc/zygote.ts): what master and the
// zygote accept from each other, and what they refuse.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMasterToZygote, parseZygoteToMaster } from '../src/ipc/zygote';

test('master -> zygote: fork and kill, nothing else', () => {
  assert.deepEqual(parseMasterToZygote({ t: 'fork', id: 7 }), { t: 'fork', id: 7 });
  assert.deepEqual(parseMasterToZygote({ t: 'kill', pid: 1234, signal: 'SIGKILL' }), { t: 'kill', pid: 1234, signal: 'SIGKILL' });
  assert.deepEqual(parseMasterToZygote({ t: 'kill', pid: 1234, signal: 'SIGTERM', extra: 1 }), { t: 'kill', pid: 1234, signal: 'SIGTERM' });
  const refused: unknown[] = [
    null,
    'fork',
    [],
    { t: 'fork' },
    { t: 'fork', id: -1 },
    { t: 'fork', id: 1.5 },
    { t: 'fork', id: '1' },
    // SECURITY: never a signal to init, to a process group or to "every process".
    { t: 'kill', pid: 1, signal: 'SIGKILL' },
    { t: 'kill', pid: 0, signal: 'SIGKILL' },
    { t: 'kill', pid: -1, signal: 'SIGKILL' },
    { t: 'kill', pid: 1234, signal: 'SIGSTOP' },
    { t: 'kill', pid: 1234, signal: 9 },
    { t: 'kill', pid: Number.MAX_SAFE_INTEGER + 2, signal: 'SIGKILL' },
    { t: 'exec', path: '/bin/sh' },
  ];
  for (const m of refused) assert.equal(parseMasterToZygote(m), null, JSON.stringify(m));
});

test('zygote -> master: ready, forked, fork_failed, exited', () => {
  assert.deepEqual(parseZygoteToMaster({ t: 'zygote_ready' }), { t: 'zygote_ready' });
  assert.deepEqual(parseZygoteToMaster({ t: 'forked', id: 3, pid: 99 }), { t: 'forked', id: 3, pid: 99 });
  assert.deepEqual(parseZygoteToMaster({ t: 'exited', pid: 99, code: 0, signal: null }), { t: 'exited', pid: 99, code: 0, signal: null });
  assert.deepEqual(parseZygoteToMaster({ t: 'exited', pid: 99, code: null, signal: 9 }), { t: 'exited', pid: 99, code: null, signal: 9 });
  const long = parseZygoteToMaster({ t: 'fork_failed', id: 1, error: 'x'.repeat(10_000) });
  assert.ok(long !== null && long.t === 'fork_failed' && long.error.length === 200, 'error text is bounded');
  const refused: unknown[] = [
    undefined,
    { t: 'forked', id: 3 },
    { t: 'forked', id: 3, pid: 1 },
    { t: 'forked', id: 3, pid: '99' },
    { t: 'exited', pid: 99, code: '0', signal: null },
    { t: 'exited', pid: 99, code: 0 },
    { t: 'fork_failed', id: 1, error: 5 },
    { t: 'ready' },
  ];
  for (const m of refused) assert.equal(parseZygoteToMaster(m), null, JSON.stringify(m));
});
