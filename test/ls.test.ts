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
import { LSTAT_FIELDS, lstatAt, readdirAt } from '../src/sys/native';
import { closeDirQuiet, debianNameView, lsOptions, openLsTarget, runListing, splitLsArgument, toByteString } from '../src/worker/ls';
import { formatDate, formatLongLine, formatPerms, LongLineFormatter } from '../src/worker/lsformat';
import { DirEntries } from '../src/worker/lsstat';
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

// ---------------------------------------------------------------------------
// the native lstat batch and the chunked listing (lsstat.ts, lsformat.ts)

/** A scratch directory (real path) for one test; removed afterwards. */
function withScratch(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tsftpd-ls-')));
    try {
      await body(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Odd names as byte strings: bytes >= 0x80 (not UTF-8), a newline, spaces, a leading dash. */
const ODD_NAMES = ['plain.txt', '\xff\xfe\x80 latin', 'new\nline', ' space ', '-dash', 'caf\xc3\xa9'];

test('lstatAt: one call gives what lstat() gives, odd names, symlinks, vanished entries', withScratch(async (dir) => {
  for (const n of ODD_NAMES) fs.writeFileSync(Buffer.from(`${dir}/${n}`, 'latin1'), n);
  fs.mkdirSync(path.join(dir, 'sub'), { mode: 0o751 });
  fs.symlinkSync('nowhere', path.join(dir, 'dangling'));
  fs.symlinkSync('sub', path.join(dir, 'tosub'));
  fs.utimesSync(path.join(dir, 'plain.txt'), new Date(-86_400_500), new Date(-86_400_500)); // before 1970: floor
  const names = [...ODD_NAMES, 'sub', 'dangling', 'tosub', 'vanished', '.', '..', 'a/b'];
  const out = new Float64Array(names.length * LSTAT_FIELDS);
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await lstatAt(fd, Buffer.from(names.map((n) => `${n}\0`).join(''), 'latin1'), names.length, out);
  } finally {
    fs.closeSync(fd);
  }
  names.forEach((n, i) => {
    const got = Array.from(out.subarray(i * LSTAT_FIELDS, (i + 1) * LSTAT_FIELDS));
    // A name with '/' is not a directory entry: refused, never looked up.
    const st = n.includes('/') ? undefined : fs.lstatSync(Buffer.from(`${dir}/${n}`, 'latin1'), { throwIfNoEntry: false });
    if (st === undefined) {
      assert.equal(got[0], -1, JSON.stringify(n));
      return;
    }
    assert.deepEqual(got, [st.mode, st.nlink, st.uid, st.gid, st.size, Math.floor(st.mtimeMs / 1000)], JSON.stringify(n));
  });
  const dangling = names.indexOf('dangling') * LSTAT_FIELDS;
  assert.equal((out[dangling] as number) & fs.constants.S_IFMT, fs.constants.S_IFLNK); // not followed
  assert.equal(out[names.indexOf('plain.txt') * LSTAT_FIELDS + 5], -86_401);
}));

test('lstatAt: malformed arguments throw TypeError before any work', () => {
  const out = new Float64Array(LSTAT_FIELDS * 2);
  assert.throws(() => lstatAt(0, Buffer.from('a\0'), 0, out), TypeError); // no entries
  assert.throws(() => lstatAt(-1, Buffer.from('a\0'), 1, out), TypeError);
  assert.throws(() => lstatAt(0, Buffer.from('a\0b\0'), 3, new Float64Array(LSTAT_FIELDS * 3)), TypeError); // fewer names than count
  assert.throws(() => lstatAt(0, Buffer.from('a\0b'), 1, out), TypeError); // bytes after the last name
  assert.throws(() => lstatAt(0, Buffer.from('a\0b\0'), 2, new Float64Array(LSTAT_FIELDS)), TypeError); // out too small
});

test('LongLineFormatter: its cached strings equal the plain functions', () => {
  const now = Date.UTC(2024, 6, 15, 12, 0, 30) / 1000;
  const times = [now, now + 1, now - 29, now - 31, now - 182 * 86400, now - 182 * 86400 - 1, -1, -61, 0, 59, 60, 2 ** 41, 1e18, 1.5];
  for (let i = 0; i < 2000; i++) times.push(now - Math.floor(Math.random() * 400 * 86400) + 86400);
  for (const cfg of [{ ...DEFAULT_CONFIG }, { ...DEFAULT_CONFIG, use_localtime: true }, { ...DEFAULT_CONFIG, hide_ids: true }]) {
    const f = new LongLineFormatter(cfg, now);
    for (const [i, t] of times.entries()) {
      const st = { mode: (i % 3 === 0 ? fs.constants.S_IFDIR : fs.constants.S_IFREG) | (i & 0o7777), nlink: i % 300, uid: i % 5, gid: i % 7, size: i * 1000, mtimeSec: t };
      const plain =
        `${formatPerms(st.mode)} ${String(st.nlink).padStart(4)} ` +
        `${(cfg.hide_ids ? 'ftp' : String(st.uid)).padEnd(8)} ${(cfg.hide_ids ? 'ftp' : String(st.gid)).padEnd(8)} ` +
        `${String(st.size).padStart(8)} ${formatDate(t, now, cfg.use_localtime)} n`;
      assert.equal(f.line('n', st.mode, st.nlink, st.uid, st.gid, st.size, st.mtimeSec), plain, `t=${t}`);
      assert.equal(formatLongLine('n', st, cfg, now), plain);
    }
  }
});

test('DirEntries: without a descriptor (lstat by path) it gives the same numbers', withScratch(async (dir) => {
  for (const n of ODD_NAMES) fs.writeFileSync(Buffer.from(`${dir}/${n}`, 'latin1'), n);
  const names = [...ODD_NAMES, 'vanished'];
  const collect = async (opened: DirEntries): Promise<number[]> => {
    const all: number[] = [];
    try {
      await opened.forEachChunk(names, (_s, end, f) => {
        all.push(...f.subarray(0, (end - _s) * LSTAT_FIELDS));
        return true;
      });
    } finally {
      opened.close();
    }
    return all;
  };
  const native = await collect(DirEntries.open(toByteString(dir), `${toByteString(dir)}/`, 3));
  const byPath = await collect(DirEntries.open(`${toByteString(dir)}/not-there`, `${toByteString(dir)}/`, 3));
  assert.deepEqual(byPath, native);
  assert.equal(native[(names.length - 1) * LSTAT_FIELDS], -1);
}));

/** A listing as the old per-entry code made it: lstat, readlink and format each entry in turn. */
function referenceListing(dir: string, names: string[], letters: string, cfg: Config, now: number): string {
  const long = true;
  const byTime = letters.includes('t');
  const rows: Array<{ name: string; st: fs.Stats }> = [];
  for (const n of names) {
    const st = fs.lstatSync(Buffer.from(`${dir}/${n}`, 'latin1'), { throwIfNoEntry: false });
    if (st !== undefined) rows.push({ name: n, st });
  }
  if (byTime) rows.sort((a, b) => Math.floor(b.st.mtimeMs / 1000) - Math.floor(a.st.mtimeMs / 1000));
  else rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines = rows.map(({ name, st }) => {
    let shown = name;
    if (st.isSymbolicLink()) shown += ` -> ${fs.readlinkSync(Buffer.from(`${dir}/${name}`, 'latin1'), { encoding: 'latin1' })}`;
    if (letters.includes('F') && st.isDirectory()) shown += '/';
    assert.ok(long);
    return `${formatPerms(st.mode)} ${String(st.nlink).padStart(4)} ${String(st.uid).padEnd(8)} ${String(st.gid).padEnd(8)} ${String(st.size).padStart(8)} ${formatDate(Math.floor(st.mtimeMs / 1000), now, cfg.use_localtime)} ${shown}`;
  });
  return lines.map((l) => `${l}\r\n`).join('');
}

test('a directory of 10,045 entries lists byte for byte as entry-by-entry lstat + format', withScratch(async (dir) => {
  const names: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const n = `entry-${String(i).padStart(5, '0')}.dat`;
    fs.writeFileSync(path.join(dir, n), 'x'.repeat(i % 97));
    // distinct seconds, so that -t has one order
    fs.utimesSync(path.join(dir, n), 1_600_000_000 + i * 61, 1_600_000_000 + i * 61);
    names.push(n);
  }
  for (const [i, n] of ODD_NAMES.entries()) {
    fs.writeFileSync(Buffer.from(`${dir}/${n}`, 'latin1'), n);
    fs.utimesSync(Buffer.from(`${dir}/${n}`, 'latin1'), 1_500_000_000 + i, 1_500_000_000 + i);
    names.push(n);
  }
  for (let i = 0; i < 44 - ODD_NAMES.length; i++) {
    const n = `z-link-${i}`;
    fs.symlinkSync(i % 2 === 0 ? 'nowhere' : `entry-0000${i % 10}.dat`, path.join(dir, n));
    fs.lutimesSync(path.join(dir, n), 1_400_000_000 + i, 1_400_000_000 + i);
    names.push(n);
  }
  fs.mkdirSync(path.join(dir, 'zz-dir'));
  fs.utimesSync(path.join(dir, 'zz-dir'), 1_300_000_000, 1_300_000_000);
  names.push('zz-dir');
  assert.equal(names.length, 10_045);
  const old = process.cwd();
  process.chdir(dir);
  try {
    const cfg: Config = { ...DEFAULT_CONFIG };
    for (const [letters, bytes] of [['l', false], ['lF', false], ['lt', false], ['l', true], ['lF', true], ['lt', true]] as const) {
      const now = Math.floor(Date.now() / 1000);
      const target = openLsTarget('.');
      const chunks: Buffer[] = [];
      // A sink that takes bytes gets the lines the addon formats; one
      // without gets LongLineFormatter's.
      const send = (lines: readonly string[]): Promise<boolean> => Promise.resolve(chunks.push(Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1')) > 0);
      const sendBytes = (data: Buffer): Promise<boolean> => Promise.resolve(chunks.push(data) > 0);
      try {
        const outcome = await runListing({
          cfg,
          letters,
          verbose: true,
          target,
          cwdBytes: toByteString(dir),
          sink: bytes ? { send, sendBytes } : { send },
        });
        assert.equal(outcome, 'ok');
      } finally {
        closeDirQuiet(target.handle);
      }
      const got = Buffer.concat(chunks).toString('latin1');
      assert.equal(got.split('\r\n').length - 1, names.length, letters);
      assert.ok(got === referenceListing('.', names, letters, cfg, now), `LIST -${letters} (${bytes ? 'addon' : 'JavaScript'} lines) differs`);
    }
  } finally {
    process.chdir(old);
  }
}));

test('readdirAt: every name once, raw bytes, in readdir or byte order', withScratch(async (dir) => {
  for (const n of ODD_NAMES) fs.writeFileSync(Buffer.from(`${dir}/${n}`, 'latin1'), n);
  fs.mkdirSync(path.join(dir, 'sub'));
  const expected = fs.readdirSync(dir, { encoding: 'latin1' });
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const split = (b: Buffer): string[] => b.toString('latin1').split('\0').slice(0, -1);
    const sorted = split(await readdirAt(fd, true));
    assert.deepEqual(sorted, [...expected].sort()); // no "." or ".."
    const raw = split(await readdirAt(fd, false));
    assert.deepEqual([...raw].sort(), sorted);
    // the descriptor's own offset is not moved: a second read sees everything again
    assert.deepEqual(split(await readdirAt(fd, true)), sorted);
  } finally {
    fs.closeSync(fd);
  }
  const empty = fs.openSync(path.join(dir, 'sub'), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    assert.equal((await readdirAt(empty, true)).length, 0);
  } finally {
    fs.closeSync(empty);
  }
}));

test('lstatAt with format: the long lines LongLineFormatter makes, for the entries that exist', withScratch(async (dir) => {
  for (const n of ODD_NAMES) fs.writeFileSync(Buffer.from(`${dir}/${n}`, 'latin1'), n.repeat(3));
  fs.mkdirSync(path.join(dir, 'sub'), { mode: 0o2751 });
  fs.symlinkSync('nowhere', path.join(dir, 'dangling'));
  fs.symlinkSync(Buffer.from('t\xffrget', 'latin1'), path.join(dir, 'oddlink'));
  fs.writeFileSync(path.join(dir, 'suid'), '');
  fs.chmodSync(path.join(dir, 'suid'), 0o4754);
  fs.chownSync(path.join(dir, 'suid'), 123456, 654321);
  const now = Math.floor(Date.now() / 1000);
  const times: Array<[string, number]> = [['sub', now - 60], ['suid', now + 3600], ['dangling', -1], ['plain.txt', now - 183 * 86400]];
  for (const [n, t] of times) fs.lutimesSync(path.join(dir, n), new Date(t * 1000), new Date(t * 1000));
  const names = [...ODD_NAMES, 'sub', 'dangling', 'oddlink', 'suid', 'vanished', '.', '..'];
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    for (const hideIds of [false, true]) {
      for (const classify of [false, true]) {
        const out = new Float64Array(names.length * LSTAT_FIELDS);
        const buf = Buffer.from(names.map((n) => `${n}\0`).join(''), 'latin1');
        const made = await lstatAt(fd, buf, names.length, out, { hideIds, classify, nowSec: now });
        assert.ok(made !== null);
        const fmt = new LongLineFormatter({ ...DEFAULT_CONFIG, hide_ids: hideIds }, now);
        let expected = '';
        names.forEach((n, i) => {
          const f = Array.from(out.subarray(i * LSTAT_FIELDS, (i + 1) * LSTAT_FIELDS)) as [number, number, number, number, number, number];
          if (f[0] < 0) return;
          let shown = n;
          if ((f[0] & fs.constants.S_IFMT) === fs.constants.S_IFLNK) shown += ` -> ${fs.readlinkSync(Buffer.from(`${dir}/${n}`, 'latin1'), { encoding: 'latin1' })}`;
          if (classify && (f[0] & fs.constants.S_IFMT) === fs.constants.S_IFDIR) shown += '/';
          expected += `${fmt.line(shown, f[0], f[1], f[2], f[3], f[4], f[5])}\r\n`;
        });
        assert.equal(made.toString('latin1'), expected, `hideIds ${hideIds} classify ${classify}`);
        assert.equal(await lstatAt(fd, buf, names.length, out), null); // no format: no lines
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}));
