// Unit tests for the built-in ls (src/worker/ls.ts) and vsftpd's patterns
// (src/worker/glob.ts). The pattern results were recorded from Debian's
// vsftpd 3.0.3 (test/fixtures/ls/glob-vsftpd.json).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CONFIG, type Config } from '../src/config/options';
import { filterMatch, globMatch, ListingBudget, MATCH_ITERATIONS_MAX, type NameView } from '../src/worker/glob';
import {
  debianNameView,
  formatDate,
  formatLongLine,
  formatPerms,
  lsOptions,
  splitLsArgument,
  toByteString,
} from '../src/worker/ls';
import { modifyFact, parentOf, permFact, type MlsxIdentity } from '../src/worker/mlsx';

interface GlobFixture {
  readonly names: readonly string[];
  readonly results: Readonly<Record<string, string>>;
}

function fixturePath(...parts: string[]): string {
  // dist/test/ls.test.js → repository root is two levels up.
  return path.join(__dirname, '..', '..', 'test', 'fixtures', ...parts);
}

/**
 * The view Debian's vsftpd had in the recording: current directory "/",
 * holding only "g" (the listed directory). realpath() of a remaining name
 * succeeds only for "", ".", "..", "/", "g" and the like.
 */
function recordedView(): NameView {
  const exists = new Set(['/', '/g']);
  const realpath = (name: string): string | null => {
    if (name === '') return null;
    const parts: string[] = [];
    for (const c of name.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') {
        parts.pop();
        continue;
      }
      parts.push(c);
      if (!exists.has(`/${parts.join('/')}`)) return null;
    }
    return `/${parts.join('/')}`;
  };
  return (name, pattern) => {
    const full = realpath(name) ?? `/${'/'}${name}`;
    if (pattern.startsWith('{')) return full;
    const tail = full.slice(full.lastIndexOf('/') + 1);
    return tail === '' ? full : tail;
  };
}

test('filter: every recorded vsftpd answer (pattern × name) is reproduced', () => {
  const fx = JSON.parse(fs.readFileSync(fixturePath('ls', 'glob-vsftpd.json'), 'utf8')) as GlobFixture;
  const view = recordedView();
  let checked = 0;
  const wrong: string[] = [];
  for (const [pattern, b64] of Object.entries(fx.results)) {
    const bits = Buffer.from(b64, 'base64');
    fx.names.forEach((name, i) => {
      // vsftpd lists dot names only when the filter starts with a dot.
      if (name.startsWith('.') && !pattern.startsWith('.')) return;
      const expected = ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
      const got = filterMatch(pattern, name, view);
      checked++;
      if (got !== expected && wrong.length < 20) wrong.push(`${JSON.stringify(pattern)} ~ ${JSON.stringify(name)}: vsftpd ${expected}, ours ${got}`);
    });
  }
  assert.ok(checked > 300_000, `checked ${checked}`);
  assert.deepEqual(wrong, []);
});

test('globMatch: vsftpd semantics on plain names', () => {
  const yes: Array<[string, string]> = [
    ['*.txt', 'a.txt'],
    ['*.txt', 'a.txt.txt'], // the last occurrence after '*' (Debian)
    ['h?llo*', 'hallo.txt'],
    ['{a,b}*', 'beta'],
    ['*.{txt,dat}', 'x.dat'],
    ['{a,}*', 'alpha'],
    ['a{', 'a{'], // no closing brace: literal
    ['*', ''],
    ['*a?', 'ab'],
    ['*a?', 'aab'],
  ];
  const no: Array<[string, string]> = [
    ['*.txt', 'a.txt~'],
    ['h?llo', 'hllo'],
    ['{,a}*', 'alpha'], // an empty first alternative ends the list
    ['{}', ''],
    ['*a?', 'aa'],
    ['*aa', 'aaa'], // occurrences do not overlap
    ['*a*a', 'aba'],
    ['?', 'ab'],
  ];
  for (const [p, n] of yes) assert.equal(globMatch(p, n), true, `${p} ~ ${n}`);
  for (const [p, n] of no) assert.equal(globMatch(p, n), false, `${p} ~ ${n}`);
});

test('glob: the step cap bounds crafted patterns (CVE-2011-0762)', () => {
  // 2^30 alternatives without the cap; a small fraction of a second with it.
  const crafted = `${'{*,*}'.repeat(30)}x`;
  const t0 = process.hrtime.bigint();
  assert.equal(globMatch(crafted, 'a'.repeat(40)), false);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(ms < 200, `took ${ms} ms`);
  // A long pattern: 800 alternatives deep, still bounded.
  const long = `${'{*,*}'.repeat(800)}x`;
  const t1 = process.hrtime.bigint();
  assert.equal(globMatch(long, 'abc'), false);
  assert.ok(Number(process.hrtime.bigint() - t1) / 1e6 < 500);
  // Fewer steps than the cap: a match.
  assert.equal(globMatch('{*,*}'.repeat(5), 'abc'), true);
  assert.equal(MATCH_ITERATIONS_MAX, 1000);
});

test('glob: a listing budget stops matching once spent', () => {
  const budget = new ListingBudget(1);
  assert.equal(budget.remaining, MATCH_ITERATIONS_MAX);
  const crafted = `${'{*,*}'.repeat(30)}x`;
  assert.equal(filterMatch(crafted, 'aaaa', (n) => n, budget), false);
  assert.ok(budget.remaining <= 0);
  // Spent: even a trivial match fails now.
  assert.equal(filterMatch('*', 'anything', (n) => n, budget), false);
  assert.equal(new ListingBudget(2048).remaining, 1000 * 1024 + 100 * 1024);
});

test('formatDate: "Mon dd HH:MM" within 182 days and not in the future, else "Mon dd  YYYY"', () => {
  const now = Date.UTC(2024, 6, 15, 12, 0, 0) / 1000;
  assert.equal(formatDate(now, now, false), 'Jul 15 12:00');
  assert.equal(formatDate(now - 182 * 86400, now, false), 'Jan 15 12:00'); // exactly 182 days: recent
  assert.equal(formatDate(now - 182 * 86400 - 1, now, false), 'Jan 15  2024');
  assert.equal(formatDate(now + 1, now, false), 'Jul 15  2024'); // future
  assert.equal(formatDate(Date.UTC(1999, 11, 31, 23, 59) / 1000, now, false), 'Dec 31  1999');
  assert.equal(formatDate(-1, now, false), 'Dec 31  1969');
  assert.equal(formatDate(Date.UTC(2024, 2, 5, 9, 7) / 1000, Date.UTC(2024, 2, 6) / 1000, false), 'Mar 05 09:07');
});

test('formatPerms: types and setuid/setgid/sticky as vsftpd', () => {
  const S = fs.constants;
  assert.equal(formatPerms(S.S_IFREG | 0o644), '-rw-r--r--');
  assert.equal(formatPerms(S.S_IFDIR | 0o755), 'drwxr-xr-x');
  assert.equal(formatPerms(S.S_IFLNK | 0o777), 'lrwxrwxrwx');
  assert.equal(formatPerms(S.S_IFIFO | 0o600), 'prw-------');
  assert.equal(formatPerms(S.S_IFSOCK | 0o755), 'srwxr-xr-x');
  assert.equal(formatPerms(S.S_IFCHR | 0o666), 'crw-rw-rw-');
  assert.equal(formatPerms(S.S_IFBLK | 0o660), 'brw-rw----');
  assert.equal(formatPerms(S.S_IFREG | 0o4755), '-rwsr-xr-x');
  assert.equal(formatPerms(S.S_IFREG | 0o4644), '-rwSr--r--');
  assert.equal(formatPerms(S.S_IFREG | 0o2755), '-rwxr-sr-x');
  assert.equal(formatPerms(S.S_IFREG | 0o2644), '-rw-r-Sr--');
  assert.equal(formatPerms(S.S_IFDIR | 0o1777), 'drwxrwxrwt');
  assert.equal(formatPerms(S.S_IFDIR | 0o1774), 'drwxrwxr-T');
  assert.equal(formatPerms(0o644), '?rw-r--r--');
});

test('formatLongLine: column widths, ids, hide_ids', () => {
  const cfg: Config = { ...DEFAULT_CONFIG };
  const st = { mode: fs.constants.S_IFREG | 0o640, nlink: 1, uid: 123456789, gid: 987654321, size: 1, mtimeSec: 0 };
  const now = Date.UTC(2024, 0, 1) / 1000;
  assert.equal(formatLongLine('beta.txt', st, cfg, now), '-rw-r-----    1 123456789 987654321        1 Jan 01  1970 beta.txt');
  const big = { ...st, uid: 0, gid: 0, size: 12345678901n, nlink: 12345 };
  assert.equal(formatLongLine('big', big, cfg, now), '-rw-r----- 12345 0        0        12345678901 Jan 01  1970 big');
  assert.equal(
    formatLongLine('x', st, { ...cfg, hide_ids: true }, now),
    '-rw-r-----    1 ftp      ftp             1 Jan 01  1970 x',
  );
});

test('splitLsArgument and lsOptions: options first, up to the first space', () => {
  assert.deepEqual(splitLsArgument('-la dir'), { letters: 'la', path: 'dir' });
  assert.deepEqual(splitLsArgument('-l  sub'), { letters: 'l', path: ' sub' });
  assert.deepEqual(splitLsArgument('dir -la'), { letters: '', path: 'dir -la' });
  assert.deepEqual(splitLsArgument('-'), { letters: '', path: '' });
  assert.deepEqual(splitLsArgument(null), { letters: '', path: '' });
  const cfg: Config = { ...DEFAULT_CONFIG };
  assert.equal(lsOptions('R', cfg, false).recurse, false); // ls_recurse_enable=NO
  assert.equal(lsOptions('R', { ...cfg, ls_recurse_enable: true }, false).recurse, true);
  const o = lsOptions('xaFtr', cfg, false);
  assert.deepEqual(
    { all: o.all, long: o.long, classify: o.classify, byTime: o.byTime, reverse: o.reverse },
    { all: true, long: false, classify: true, byTime: true, reverse: true },
  );
  assert.equal(lsOptions('', cfg, true).long, true);
});

test("debianNameView: realpath's last component from the current directory", () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tsftpd-ls-')));
  const old = process.cwd();
  try {
    fs.writeFileSync(path.join(dir, 'hello.txt'), 'x');
    fs.symlinkSync('hello.txt', path.join(dir, 'link'));
    process.chdir(dir);
    const view = debianNameView(toByteString(dir));
    assert.equal(view('link', '*'), 'hello.txt');
    assert.equal(view('hello.txt', 'h*'), 'hello.txt');
    assert.equal(view('missing', 'm*'), 'missing');
    assert.equal(view('missing', '{m,n}*'), `${dir}/missing`);
    assert.equal(view('link', '{a,b}'), `${dir}/hello.txt`);
    assert.equal(view('', '?'), `${dir}/`); // the whole path when the last component is empty
    assert.equal(view('.', '*'), path.basename(dir));
  } finally {
    process.chdir(old);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mlsx: modify is UTC, parentOf, perm letters from mode bits and gates', () => {
  assert.equal(modifyFact(Date.UTC(2020, 2, 5, 14, 30, 7, 900)), '20200305143007');
  assert.equal(parentOf('a/b'), 'a');
  assert.equal(parentOf('b'), '.');
  assert.equal(parentOf('/b'), '/');
  assert.equal(parentOf('.'), './..');
  assert.equal(parentOf('/'), '/..');
  const S = fs.constants;
  const who = (over: Partial<MlsxIdentity['gates']>, anonymous = false): MlsxIdentity => ({
    uid: 1000,
    gid: 1000,
    groups: new Set([1000]),
    anonymous,
    cfg: { ...DEFAULT_CONFIG },
    gates: { download: true, upload: true, mkdir: true, otherWrite: true, dirlist: true, ...over },
  });
  const home = { mode: S.S_IFDIR | 0o755, uid: 1000, gid: 1000, size: 4096, mtimeMs: 0 };
  const rootDir = { mode: S.S_IFDIR | 0o755, uid: 0, gid: 0, size: 4096, mtimeMs: 0 };
  const mine = { mode: S.S_IFREG | 0o644, uid: 1000, gid: 1000, size: 1, mtimeMs: 0 };
  const theirs = { mode: S.S_IFREG | 0o644, uid: 0, gid: 0, size: 1, mtimeMs: 0 };
  assert.equal(permFact(who({}), mine, home), 'adfrw');
  assert.equal(permFact(who({}), mine, rootDir), 'arw');
  assert.equal(permFact(who({}), theirs, home), 'dfr');
  assert.equal(permFact(who({}), home, rootDir), 'celmp');
  assert.equal(permFact(who({ upload: false, mkdir: false, otherWrite: false }), mine, home), 'r');
  assert.equal(permFact(who({ download: false }), theirs, rootDir), '');
  // Sticky parent: only the owner of the entry or of the directory may remove it.
  const sticky = { mode: S.S_IFDIR | 0o1777, uid: 0, gid: 0, size: 4096, mtimeMs: 0 };
  assert.equal(permFact(who({}), theirs, sticky), 'r');
  assert.equal(permFact(who({}), mine, sticky), 'adfrw');
  // Anonymous: world-readable only (anon_world_readable_only).
  const ownerOnly = { mode: S.S_IFREG | 0o600, uid: 1000, gid: 1000, size: 1, mtimeMs: 0 };
  assert.equal(permFact(who({}, true), ownerOnly, rootDir), 'a');
});
