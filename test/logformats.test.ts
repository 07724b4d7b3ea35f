// Unit tests for src/log: vsftpd's two line formats (checked against the lines
// observed from Debian's vsftpd 3.0.3, reference/vsftpd-facts.md §7), the date
// format, which files a config asks for, and how the files are opened.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_CONFIG, freezeConfig, type Config, type OptionName } from '../src/config/options';
import { logPlan, openLogs, writeLine } from '../src/log/files';
import { logDate, printable, vsftpdLine, xferlogLine, type VsftpdLogEntry, type XferEntry } from '../src/log/formats';

/** new Date() in local time, as vsftpd's strftime uses it. */
const at = (y: number, mon: number, d: number, h: number, mi: number, s: number): Date => new Date(y, mon - 1, d, h, mi, s);

const OBSERVED = at(2026, 11, 21, 22, 16, 6);

describe('logDate: strftime("%a %b %e %H:%M:%S %Y"), local time', () => {
  test('the observed date', () => {
    assert.equal(logDate(OBSERVED), 'Sat Nov 21 22:16:06 2026');
  });

  test('%e pads the day with a space; hours, minutes and seconds with zeros', () => {
    assert.equal(logDate(at(2026, 11, 1, 3, 4, 5)), 'Sun Nov  1 03:04:05 2026');
    assert.equal(logDate(at(2027, 1, 9, 0, 0, 0)), 'Sat Jan  9 00:00:00 2027');
    assert.equal(logDate(at(2024, 2, 29, 23, 59, 59)), 'Thu Feb 29 23:59:59 2024');
  });

  test('every month and weekday name, always 24 characters', () => {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    for (let m = 1; m <= 12; m++) {
      for (const d of [1, 10, 28]) {
        const date = at(2026, m, d, 12, 0, 0);
        const s = logDate(date);
        assert.equal(s.length, 24, s);
        assert.equal(s.slice(0, 3), days[date.getDay()], s);
        assert.equal(s.slice(4, 7), months[m - 1], s);
        assert.match(s, /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \d{4}$/);
      }
    }
  });
});

describe('vsftpdLine: the observed Debian 3.0.3 lines, byte for byte', () => {
  const base = { client: '127.0.0.1' } as const;
  const cases: Array<{ line: string; entry: VsftpdLogEntry }> = [
    {
      line: 'Sat Nov 21 22:15:56 2026 [pid 10608] CONNECT: Client "127.0.0.1"',
      entry: { ...base, date: at(2026, 11, 21, 22, 15, 56), pid: 10608, user: null, ok: null, action: 'CONNECT' },
    },
    {
      line: 'Sat Nov 21 22:15:56 2026 [pid 10607] [ftp] OK LOGIN: Client "127.0.0.1", anon password "guest@example.com"',
      entry: {
        ...base,
        date: at(2026, 11, 21, 22, 15, 56),
        pid: 10607,
        user: 'ftp',
        ok: true,
        action: 'LOGIN',
        anonPassword: 'guest@example.com',
      },
    },
    {
      line: 'Sat Nov 21 22:16:29 2026 [pid 11148] [vstest] FAIL LOGIN: Client "127.0.0.1"',
      entry: { ...base, date: at(2026, 11, 21, 22, 16, 29), pid: 11148, user: 'vstest', ok: false, action: 'LOGIN' },
    },
    {
      line: 'Sat Nov 21 22:16:06 2026 [pid 10797] [ftp] OK DOWNLOAD: Client "127.0.0.1", "/hello.txt", 12 bytes, 39.59Kbyte/sec',
      entry: {
        ...base,
        date: OBSERVED,
        pid: 10797,
        user: 'ftp',
        ok: true,
        action: 'DOWNLOAD',
        arg: '/hello.txt',
        bytes: 12,
        // 39.59 KiB/s, as bytes per second
        rate: 39.59 * 1024,
      },
    },
    {
      line: 'Sat Nov 21 22:16:54 2026 [pid 11981] [vstest] OK RENAME: Client "127.0.0.1", "/up.txt /moved.txt"',
      entry: {
        ...base,
        date: at(2026, 11, 21, 22, 16, 54),
        pid: 11981,
        user: 'vstest',
        ok: true,
        action: 'RENAME',
        arg: '/up.txt /moved.txt',
      },
    },
    {
      line: 'Sat Nov 21 22:16:54 2026 [pid 11981] [vstest] FAIL DELETE: Client "127.0.0.1", "/nothere"',
      entry: { ...base, date: at(2026, 11, 21, 22, 16, 54), pid: 11981, user: 'vstest', ok: false, action: 'DELETE', arg: '/nothere' },
    },
    {
      line: 'Sat Nov 21 22:16:26 2026 [pid 11149] [vstest] FTP command: Client "127.0.0.1", "PASS <password>"',
      entry: {
        ...base,
        date: at(2026, 11, 21, 22, 16, 26),
        pid: 11149,
        user: 'vstest',
        ok: null,
        action: 'FTP command',
        arg: 'PASS <password>',
      },
    },
    {
      line: 'Sat Nov 21 22:16:26 2026 [pid 11149] FTP response: Client "127.0.0.1", "220 (vsFTPd 3.0.3)"',
      entry: {
        ...base,
        date: at(2026, 11, 21, 22, 16, 26),
        pid: 11149,
        user: null,
        ok: null,
        action: 'FTP response',
        arg: '220 (vsFTPd 3.0.3)',
      },
    },
    {
      line: 'Sat Nov 21 22:17:33 2026 [pid 12706] [anonymous] DEBUG: Client "127.0.0.1", "No SSL session reuse on data channel."',
      entry: {
        ...base,
        date: at(2026, 11, 21, 22, 17, 33),
        pid: 12706,
        user: 'anonymous',
        ok: null,
        action: 'DEBUG',
        arg: 'No SSL session reuse on data channel.',
      },
    },
  ];
  for (const c of cases) {
    test(c.line.slice(25, 90), () => {
      assert.equal(vsftpdLine(c.entry), c.line);
    });
  }

  test('for syslog the date and pid prefix are left out', () => {
    for (const c of cases) {
      assert.equal(vsftpdLine(c.entry, true), c.line.replace(/^.{24} \[pid \d+\] /, ''));
    }
  });

  test('bytes are shown only when non-zero; the rate always for transfers, two decimals', () => {
    const e: VsftpdLogEntry = {
      date: OBSERVED,
      pid: 1,
      user: 'u',
      ok: false,
      action: 'UPLOAD',
      client: '::1',
      arg: '/empty',
      bytes: 0,
      rate: 0,
    };
    assert.equal(vsftpdLine(e), 'Sat Nov 21 22:16:06 2026 [pid 1] [u] FAIL UPLOAD: Client "::1", "/empty", 0.00Kbyte/sec');
    assert.equal(
      vsftpdLine({ ...e, ok: true, bytes: 1048576, rate: 1536 }),
      'Sat Nov 21 22:16:06 2026 [pid 1] [u] OK UPLOAD: Client "::1", "/empty", 1048576 bytes, 1.50Kbyte/sec',
    );
  });

  test('control characters in client-supplied text become "?": one entry is always one line', () => {
    const line = vsftpdLine({
      date: OBSERVED,
      pid: 7,
      user: 'ev\nil\r\x1b[2J',
      ok: false,
      action: 'LOGIN',
      client: '127.0.0.1',
      arg: 'a\x00b\x7fc\td',
    });
    assert.equal(line, 'Sat Nov 21 22:16:06 2026 [pid 7] [ev?il??[2J] FAIL LOGIN: Client "127.0.0.1", "a?b?c?d"');
    assert.doesNotMatch(line, /[\x00-\x1f\x7f]/);
    assert.equal(
      vsftpdLine({ date: OBSERVED, pid: 7, user: 'ftp', ok: true, action: 'LOGIN', client: '127.0.0.1', anonPassword: 'x\ny' }),
      'Sat Nov 21 22:16:06 2026 [pid 7] [ftp] OK LOGIN: Client "127.0.0.1", anon password "x?y"',
    );
  });

  test('printable() keeps printable text as it is', () => {
    assert.equal(printable('/pub/ä ö/file name.txt'), '/pub/ä ö/file name.txt');
    assert.equal(printable('\x01\x1f\x20\x7e\x7f'), '?? ~?');
  });
});

describe('xferlogLine: wu-ftpd xferlog, 14 fields', () => {
  const dl: XferEntry = {
    date: OBSERVED,
    seconds: 0.002,
    client: '127.0.0.1',
    bytes: 12,
    file: '/hello.txt',
    type: 'ascii',
    direction: 'out',
    access: 'anonymous',
    user: 'x@y',
    complete: true,
  };

  test('the observed anonymous download line', () => {
    assert.equal(xferlogLine(dl), 'Sat Nov 21 22:16:06 2026 1 127.0.0.1 12 /hello.txt a _ o a x@y ftp 0 * c');
  });

  test('the observed local upload line', () => {
    assert.equal(
      xferlogLine({ ...dl, date: at(2026, 11, 21, 22, 16, 54), file: '/up.txt', direction: 'in', access: 'real', user: 'vstest' }),
      'Sat Nov 21 22:16:54 2026 1 127.0.0.1 12 /up.txt a _ i r vstest ftp 0 * c',
    );
  });

  test('binary type, guest access, incomplete, whole seconds (minimum 1)', () => {
    const line = xferlogLine({ ...dl, type: 'binary', access: 'guest', user: 'virt', complete: false, seconds: 5, bytes: 0 });
    assert.equal(line, 'Sat Nov 21 22:16:06 2026 5 127.0.0.1 0 /hello.txt b _ o g virt ftp 0 * i');
    assert.equal(xferlogLine({ ...dl, seconds: 0 }).split(' ')[5], '1');
  });

  test('spaces in the file name and user become "_": always 14 space-separated fields after the date', () => {
    const line = xferlogLine({ ...dl, file: '/a dir/my file.txt', user: 'Mr X', client: '::1' });
    assert.equal(line, 'Sat Nov 21 22:16:06 2026 1 ::1 12 /a_dir/my_file.txt a _ o a Mr_X ftp 0 * c');
    // the date itself is 5 fields (its own spaces); then 13 more
    assert.equal(line.slice(25).split(' ').length, 13);
  });

  test('control characters in the file name become "?"', () => {
    assert.equal(
      xferlogLine({ ...dl, file: '/evil\nname\r' }),
      'Sat Nov 21 22:16:06 2026 1 127.0.0.1 12 /evil?name? a _ o a x@y ftp 0 * c',
    );
  });
});

/** DEFAULT_CONFIG with some options changed. */
function cfg(over: Partial<Record<OptionName, boolean | number | string | null>>): Config {
  return freezeConfig({ ...DEFAULT_CONFIG, ...over } as Record<OptionName, boolean | number | string | null>);
}

describe('logPlan: which files a config asks for (vsftpd-facts §7)', () => {
  const V = DEFAULT_CONFIG.vsftpd_log_file;
  const X = DEFAULT_CONFIG.xferlog_file;
  test('compiled-in defaults: no log at all', () => {
    assert.deepEqual(logPlan(DEFAULT_CONFIG), { vsftpd: null, xferlog: null, json: null, syslog: false });
  });
  test('xferlog_enable=YES alone: vsftpd format in vsftpd_log_file', () => {
    assert.deepEqual(logPlan(cfg({ xferlog_enable: true })), { vsftpd: V, xferlog: null, json: null, syslog: false });
  });
  test('+ xferlog_std_format=YES: only the wu-ftpd format in xferlog_file', () => {
    assert.deepEqual(logPlan(cfg({ xferlog_enable: true, xferlog_std_format: true })), {
      vsftpd: null,
      xferlog: X,
      json: null,
      syslog: false,
    });
  });
  test('dual_log_enable=YES: both', () => {
    assert.deepEqual(logPlan(cfg({ xferlog_enable: true, dual_log_enable: true })), { vsftpd: V, xferlog: X, json: null, syslog: false });
    assert.deepEqual(logPlan(cfg({ xferlog_enable: true, xferlog_std_format: true, dual_log_enable: true })), {
      vsftpd: V,
      xferlog: X,
      json: null,
      syslog: false,
    });
  });
  test('syslog_enable=YES: vsftpd-format lines to syslog instead of vsftpd_log_file', () => {
    assert.deepEqual(logPlan(cfg({ xferlog_enable: true, syslog_enable: true })), { vsftpd: null, xferlog: null, json: null, syslog: true });
    assert.deepEqual(logPlan(cfg({ xferlog_enable: true, dual_log_enable: true, syslog_enable: true })), {
      vsftpd: null,
      xferlog: X,
      json: null,
      syslog: true,
    });
  });
  test('log_ftp_protocol=YES needs the vsftpd-format log', () => {
    assert.equal(logPlan(cfg({ log_ftp_protocol: true })).vsftpd, V);
  });
  test('json_log_file is independent of the others', () => {
    assert.deepEqual(logPlan(cfg({ json_log_file: '/tmp/x.json' })), { vsftpd: null, xferlog: null, json: '/tmp/x.json', syslog: false });
  });
  test('the configured file names are used', () => {
    assert.deepEqual(logPlan(cfg({ dual_log_enable: true, vsftpd_log_file: '/a', xferlog_file: '/b' })), {
      vsftpd: '/a',
      xferlog: '/b',
      json: null,
      syslog: false,
    });
  });
});

describe('openLogs: mode 0600, O_APPEND, no symlinks', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsftpd-logunit-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('creates every file mode 0600 (whatever the umask) and appends', () => {
    const files = { vsftpd_log_file: path.join(dir, 'v.log'), xferlog_file: path.join(dir, 'x.log'), json_log_file: path.join(dir, 'j.log') };
    const old = process.umask(0);
    let r: ReturnType<typeof openLogs>;
    try {
      r = openLogs(cfg({ dual_log_enable: true, ...files }));
    } finally {
      process.umask(old);
    }
    assert.ok(r.ok, JSON.stringify(r));
    const fds = r.logs.fds;
    try {
      for (const f of Object.values(files)) {
        assert.equal((fs.statSync(f).mode & 0o7777).toString(8), '600', f);
      }
      assert.notEqual(fds.vsftpd, null);
      assert.notEqual(fds.xferlog, null);
      assert.notEqual(fds.json, null);
      writeLine(fds.vsftpd, 'one');
      writeLine(fds.vsftpd, 'two');
      assert.equal(fs.readFileSync(files.vsftpd_log_file, 'utf8'), 'one\ntwo\n');
      // What logrotate's copytruncate does: truncate under the writer. With
      // O_APPEND the next line lands at the new end, not after a hole of NULs.
      fs.truncateSync(files.vsftpd_log_file, 0);
      writeLine(fds.vsftpd, 'three');
      assert.equal(fs.readFileSync(files.vsftpd_log_file, 'utf8'), 'three\n');
    } finally {
      for (const fd of [fds.vsftpd, fds.xferlog, fds.json]) if (fd !== null) fs.closeSync(fd);
    }
  });

  test('an existing file is appended to, not truncated', () => {
    const f = path.join(dir, 'existing.log');
    fs.writeFileSync(f, 'old line\n', { mode: 0o600 });
    const r = openLogs(cfg({ xferlog_enable: true, vsftpd_log_file: f }));
    assert.ok(r.ok, JSON.stringify(r));
    try {
      writeLine(r.logs.fds.vsftpd, 'new line');
      assert.equal(fs.readFileSync(f, 'utf8'), 'old line\nnew line\n');
    } finally {
      if (r.logs.fds.vsftpd !== null) fs.closeSync(r.logs.fds.vsftpd);
    }
  });

  test('a symlink in place of a log file is refused (O_NOFOLLOW), naming the option', () => {
    const target = path.join(dir, 'victim');
    fs.writeFileSync(target, 'precious\n');
    const link = path.join(dir, 'link.log');
    fs.symlinkSync(target, link);
    const r = openLogs(cfg({ xferlog_enable: true, xferlog_std_format: true, xferlog_file: link }));
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.option, 'xferlog_file');
      assert.match(r.message, new RegExp(`^${link.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    }
    assert.equal(fs.readFileSync(target, 'utf8'), 'precious\n');
  });

  test('an unwritable place names the option', () => {
    const r = openLogs(cfg({ json_log_file: path.join(dir, 'no-such-dir', 'x.json') }));
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.option, 'json_log_file');
  });

  test('writeLine(null, …) does nothing', () => {
    assert.doesNotThrow(() => writeLine(null, 'nothing'));
  });
});
