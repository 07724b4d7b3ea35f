// Tests for src/config: the option table, the vsftpd.conf parser and the
// semantic checks. Runs as root (file ownership checks need chown).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type Config,
  type OptionName,
  DEFAULT_CONFIG,
  IMPLEMENTED_OPTIONS,
  OPTION_NAMES,
  OPTION_TABLE,
} from '../src/config/options';
import {
  type ConfigError,
  type LoadResult,
  CONFIG_FILE_MAX_BYTES,
  formatConfigError,
  loadConfigFile,
  parseConfigText,
  unimplementedOptionsWarning,
} from '../src/config/parse';

// ---- compile-time checks: Config is derived from the table, per-key typed ----

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
export type TypeChecks = [
  Assert<Equal<Config['chroot_local_user'], boolean>>,
  Assert<Equal<Config['max_per_ip'], number>>,
  Assert<Equal<Config['ftpd_banner'], string | null>>,
  Assert<Equal<Config['prefork_pool_size'], number>>,
  Assert<Equal<Config['ssl_tlsv1_3'], boolean>>,
  Assert<Equal<Config['download_file'], string | null>>,
  // Keys are exactly the names: not `string`, and every table name is a key.
  Assert<Equal<string extends keyof Config ? true : false, false>>,
  Assert<Equal<(typeof OPTION_TABLE)[number]['name'], keyof Config>>,
];

// ---- fixtures ----

const tmp = fs.mkdtempSync('/tmp/tsftpd-config-');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
/** Write a fixture file (mode 0600, owned by root unless changed) and return its path. */
function writeConf(content: string, mode = 0o600): string {
  const file = path.join(tmp, `conf-${++counter}.conf`);
  fs.writeFileSync(file, content);
  fs.chmodSync(file, mode);
  return file;
}

/** A config text that passes the semantic checks on any machine, followed by `lines`. */
function conf(...lines: string[]): string {
  return [`secure_chroot_dir=${tmp}`, ...lines].join('\n') + '\n';
}

function load(content: string, overrides: readonly string[] = []): { file: string; result: LoadResult } {
  const file = writeConf(content);
  return { file, result: loadConfigFile(file, overrides) };
}

function loadOk(content: string, overrides: readonly string[] = []): Config {
  const { result } = load(content, overrides);
  if (!result.ok) assert.fail(formatConfigError(result.error));
  return result.config;
}

function expectError(result: LoadResult): ConfigError {
  if (result.ok) assert.fail('expected a configuration error');
  return result.error;
}

/** Check location fields and that the formatted message is one line naming them. */
function assertError(
  e: ConfigError,
  expected: { file: string; line: number | null; option: string | null; message: RegExp },
): void {
  assert.equal(e.file, expected.file);
  assert.equal(e.line, expected.line);
  assert.equal(e.option, expected.option);
  assert.match(e.message, expected.message);
  const text = formatConfigError(e);
  assert.ok(!/[\r\n]/.test(text), `one line: ${text}`);
  assert.ok(text.startsWith('tsftpd: '), text);
  const where = expected.line === null ? `${expected.file}: ` : `${expected.file}:${expected.line}: `;
  assert.ok(text.includes(where), `${text} contains ${where}`);
  if (expected.option !== null) assert.ok(text.includes(`${expected.option}: `), `${text} names the option`);
}

// ---- the table ----

test('table: 132 vsftpd 3.0.3 options (80 bool, 20 num, 32 str) plus Debian, later and tsftpd ones', () => {
  const count = (origin: string, kind?: string): number =>
    OPTION_TABLE.filter((o) => o.origin === origin && (kind === undefined || o.kind === kind)).length;
  assert.equal(count('vsftpd'), 132);
  assert.equal(count('vsftpd', 'bool'), 80);
  assert.equal(count('vsftpd', 'num'), 20);
  assert.equal(count('vsftpd', 'str'), 32);
  assert.deepEqual(
    OPTION_TABLE.filter((o) => o.origin === 'debian').map((o) => o.name),
    ['download_file', 'upload_file'],
  );
  assert.equal(count('later'), 9);
  assert.deepEqual(
    OPTION_TABLE.filter((o) => o.origin === 'tsftpd').map((o) => o.name),
    [
      'prefork_pool_size',
      'zygote_enable',
      'ban_enable',
      'ban_max_fails',
      'ban_window',
      'ban_time',
      'ban_max_time',
      'metrics_enable',
      'metrics_address',
      'metrics_port',
      'json_log_file',
      'shutdown_timeout',
      'user_max_rate',
      'virtual_users_file',
      'implicit_ssl_port',
      'ssl_min_version',
      'ssl_max_version',
    ],
  );
  for (const undocumented of [
    'isolate',
    'isolate_network',
    'seccomp_sandbox',
    'allow_writeable_chroot',
    'ptrace_sandbox',
    'ftp_enable',
    'http_enable',
  ]) {
    assert.ok(new Set<string>(OPTION_NAMES).has(undocumented), undocumented);
  }
});

test('table: names are unique, documented, and DEFAULT_CONFIG has exactly them with the right kinds', () => {
  assert.equal(new Set(OPTION_NAMES).size, OPTION_TABLE.length);
  assert.deepEqual(Object.keys(DEFAULT_CONFIG).sort(), [...OPTION_NAMES].sort());
  for (const o of OPTION_TABLE) {
    assert.match(o.name, /^[a-z][a-z0-9_]*$/);
    assert.ok(o.doc.length > 0 && !o.doc.includes('\n'), `${o.name} has a one-line doc`);
    const value = DEFAULT_CONFIG[o.name];
    switch (o.kind) {
      case 'bool':
        assert.equal(typeof value, 'boolean', o.name);
        break;
      case 'num':
        assert.ok(Number.isInteger(value) && typeof value === 'number', o.name);
        assert.ok(value >= o.min && value <= o.max, `${o.name} default within its range`);
        break;
      case 'str':
        assert.ok(value === null || (typeof value === 'string' && value !== ''), o.name);
        break;
    }
  }
  for (const name of IMPLEMENTED_OPTIONS) {
    assert.ok(new Set<string>(OPTION_NAMES).has(name), `implemented option ${name} exists`);
  }
});

test('defaults are vsftpd 3.0.3 compiled-in values', () => {
  assert.equal(DEFAULT_CONFIG.listen, true);
  assert.equal(DEFAULT_CONFIG.listen_ipv6, false);
  assert.equal(DEFAULT_CONFIG.anonymous_enable, true);
  assert.equal(DEFAULT_CONFIG.local_enable, false);
  assert.equal(DEFAULT_CONFIG.max_per_ip, 50);
  assert.equal(DEFAULT_CONFIG.max_clients, 2000);
  assert.equal(DEFAULT_CONFIG.local_umask, 0o77);
  assert.equal(DEFAULT_CONFIG.anon_umask, 0o77);
  assert.equal(DEFAULT_CONFIG.file_open_mode, 0o666);
  assert.equal(DEFAULT_CONFIG.chown_upload_mode, 0o600);
  assert.equal(DEFAULT_CONFIG.secure_chroot_dir, '/usr/share/empty');
  assert.equal(DEFAULT_CONFIG.pasv_min_port, 5001);
  assert.equal(DEFAULT_CONFIG.pasv_max_port, 0);
  assert.equal(DEFAULT_CONFIG.ssl_ciphers, 'ECDHE-RSA-AES256-GCM-SHA384');
  assert.equal(DEFAULT_CONFIG.strict_ssl_read_eof, true);
  assert.equal(DEFAULT_CONFIG.pam_service_name, 'ftp');
  assert.equal(DEFAULT_CONFIG.nopriv_user, 'nobody');
  assert.equal(DEFAULT_CONFIG.listen_port, 21);
  assert.equal(DEFAULT_CONFIG.idle_session_timeout, 300);
  assert.equal(DEFAULT_CONFIG.ftpd_banner, null);
  assert.equal(DEFAULT_CONFIG.isolate_network, true);
  assert.equal(DEFAULT_CONFIG.seccomp_sandbox, true);
  assert.equal(DEFAULT_CONFIG.ssl_tlsv1_1, false);
  assert.equal(DEFAULT_CONFIG.ssl_tlsv1_2, true);
  assert.equal(DEFAULT_CONFIG.bind_retries, 9);
  assert.equal(DEFAULT_CONFIG.prefork_pool_size, 4);
});

// ---- parsing ----

test('every option in the table parses with a valid value', () => {
  const expected = new Map<OptionName, Config[OptionName]>();
  const lines: string[] = [];
  for (const o of OPTION_TABLE) {
    switch (o.kind) {
      case 'bool': {
        // Flip every boolean, except that listen and listen_ipv6 must not both end up YES.
        const value = o.name === 'listen' ? false : !o.default;
        lines.push(`${o.name}=${value ? 'YES' : 'NO'}`);
        expected.set(o.name, value);
        break;
      }
      case 'num': {
        // pasv_max_port must stay at or above the (now set) pasv_min_port.
        const value =
          o.name === 'pasv_max_port' ? 60000 : o.default + 1 <= o.max ? o.default + 1 : o.default - 1;
        lines.push(`${o.name}=${value}`);
        expected.set(o.name, value);
        break;
      }
      case 'str': {
        const value = o.name === 'secure_chroot_dir' ? tmp : `value of ${o.name}`;
        lines.push(`${o.name}=${value}`);
        expected.set(o.name, value);
        break;
      }
    }
  }
  const { result } = load(lines.join('\n'));
  if (!result.ok) assert.fail(formatConfigError(result.error));
  for (const [name, value] of expected) assert.equal(result.config[name], value, name);
  assert.equal(result.set.size, OPTION_TABLE.length);
});

test('an empty file gives the defaults (except what the fixture sets)', () => {
  const config = loadOk(conf());
  for (const name of OPTION_NAMES) {
    if (name !== 'secure_chroot_dir') assert.equal(config[name], DEFAULT_CONFIG[name], name);
  }
});

test('numbers: decimal, and octal with a leading 0 like vsftpd', () => {
  const config = loadOk(
    conf('local_umask=022', 'anon_umask=0', 'file_open_mode=0644', 'max_clients=010', 'max_per_ip=10', 'accept_timeout=2147483647'),
  );
  assert.equal(config.local_umask, 18);
  assert.equal(config.anon_umask, 0);
  assert.equal(config.file_open_mode, 0o644);
  assert.equal(config.max_clients, 8);
  assert.equal(config.max_per_ip, 10);
  assert.equal(config.accept_timeout, 2147483647);
});

test('booleans: YES/NO/TRUE/FALSE/1/0 in any case', () => {
  for (const yes of ['YES', 'yes', 'Yes', 'TRUE', 'true', 'True', '1']) {
    assert.equal(loadOk(conf(`write_enable=${yes}`)).write_enable, true, yes);
  }
  for (const no of ['NO', 'no', 'No', 'FALSE', 'false', 'fAlSe', '0']) {
    assert.equal(loadOk(conf(`download_enable=${no}`)).download_enable, false, no);
  }
});

test('strings: verbatim with spaces; an empty value unsets the option', () => {
  const config = loadOk(
    conf('ftpd_banner=Welcome to  the  server ', 'ssl_ciphers=', 'anon_root=/srv/ftp', 'anon_root=', 'deny_file={*.mp3,*.exe}'),
  );
  assert.equal(config.ftpd_banner, 'Welcome to  the  server ');
  assert.equal(config.ssl_ciphers, null);
  assert.equal(config.anon_root, null);
  assert.equal(config.deny_file, '{*.mp3,*.exe}');
});

test('comments, blank lines, leading white space and CRLF line ends', () => {
  const text = [
    '# a comment',
    '',
    '   ',
    '\t',
    `secure_chroot_dir=${tmp}`,
    '  listen_port=2121',
    '#listen_port=1',
    'ftpd_banner=hello=world',
  ].join('\r\n');
  const { file, result } = load(text);
  if (!result.ok) assert.fail(formatConfigError(result.error));
  assert.equal(result.config.listen_port, 2121);
  assert.equal(result.config.secure_chroot_dir, tmp); // \r stripped
  assert.equal(result.config.ftpd_banner, 'hello=world'); // split at the first =
  assert.deepEqual(result.set.get('listen_port'), { file, line: 6 });
});

test('a later line wins, and set records where each option was last set', () => {
  const { file, result } = load(conf('max_per_ip=5', 'write_enable=YES', 'max_per_ip=7'));
  if (!result.ok) assert.fail(formatConfigError(result.error));
  assert.equal(result.config.max_per_ip, 7);
  assert.deepEqual(result.set.get('max_per_ip'), { file, line: 4 });
  assert.deepEqual(result.set.get('write_enable'), { file, line: 3 });
  assert.deepEqual(result.set.get('secure_chroot_dir'), { file, line: 1 });
  assert.equal(result.set.has('listen'), false);
  assert.deepEqual([...result.set.keys()], ['secure_chroot_dir', 'write_enable', 'max_per_ip']);
});

test('-o overrides apply after the file, in order, with or without the -o prefix', () => {
  const { result } = load(conf('max_per_ip=5', 'listen_port=2121'), [
    '-omax_per_ip=6',
    'listen_port=2122',
    '-omax_per_ip=9',
    '-oftpd_banner=',
  ]);
  if (!result.ok) assert.fail(formatConfigError(result.error));
  assert.equal(result.config.max_per_ip, 9);
  assert.equal(result.config.listen_port, 2122);
  assert.equal(result.config.ftpd_banner, null);
  assert.deepEqual(result.set.get('max_per_ip'), { file: 'command line (-o #3)', line: null });
  assert.deepEqual(result.set.get('listen_port'), { file: 'command line (-o #2)', line: null });
});

test('an override can repair a conflict in the file (checks run after overrides)', () => {
  const config = loadOk(conf('listen_ipv6=YES'), ['-olisten=NO']);
  assert.equal(config.listen, false);
  assert.equal(config.listen_ipv6, true);
});

test('the returned config is frozen', () => {
  const config = loadOk(conf('write_enable=YES'));
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(DEFAULT_CONFIG));
  assert.equal(Reflect.set(config, 'write_enable', false), false);
  assert.equal(Reflect.set(DEFAULT_CONFIG, 'listen', false), false);
  assert.equal(Reflect.deleteProperty(config, 'listen'), false);
  assert.throws(() => Object.defineProperty(config, 'extra', { value: 1 }), TypeError);
  assert.equal(config.write_enable, true);
  assert.equal(DEFAULT_CONFIG.listen, true);
});

// ---- line errors ----

test('error: unknown option, with a suggestion when one is close', () => {
  const { file, result } = load(conf('listen=YES', 'chroot_local_usr=YES'));
  assertError(expectError(result), {
    file,
    line: 3,
    option: 'chroot_local_usr',
    message: /^unrecognised option; did you mean chroot_local_user\?$/,
  });
  const other = load(conf('frobnicate_everything=1'));
  assertError(expectError(other.result), {
    file: other.file,
    line: 2,
    option: 'frobnicate_everything',
    message: /^unrecognised option$/,
  });
});

test('error: spaces around = are refused with a hint', () => {
  const { file, result } = load(conf('listen = YES'));
  assertError(expectError(result), { file, line: 2, option: 'listen', message: /no spaces allowed around '='/ });
});

test('error: bad boolean', () => {
  for (const bad of ['maybe', 'YES ', 'on', 'Y', '2', '']) {
    const { file, result } = load(conf('pasv_enable=NO', `anonymous_enable=${bad}`));
    assertError(expectError(result), {
      file,
      line: 3,
      option: 'anonymous_enable',
      message: bad === '' ? /^missing value$/ : /bad boolean value/,
    });
  }
});

test('error: bad number (vsftpd would silently use 0 or a prefix)', () => {
  for (const bad of ['10k', '-1', '+5', ' 5', '5 ', '0x10', '089', '1e3', '2147483648', '99999999999999999999']) {
    const { file, result } = load(conf(`max_clients=${bad}`));
    assertError(expectError(result), { file, line: 2, option: 'max_clients', message: /number/ });
  }
  const { file, result } = load(conf('max_clients='));
  assertError(expectError(result), { file, line: 2, option: 'max_clients', message: /^missing value$/ });
});

test('error: a line without =', () => {
  const { file, result } = load(conf('', 'listen'));
  assertError(expectError(result), { file, line: 3, option: 'listen', message: /missing value/ });
});

test('error: indented comment and control characters', () => {
  const indented = load(conf('  # not a comment in vsftpd'));
  assertError(expectError(indented.result), {
    file: indented.file,
    line: 2,
    option: null,
    message: /comments must start in the first column/,
  });
  const control = load(conf('ftpd_banner=hi\u001b[2Jthere'));
  const e = expectError(control.result);
  assertError(e, { file: control.file, line: 2, option: null, message: /control character 0x1b/ });
});

test('error: bad -o override is located as "command line (-o #N)"', () => {
  const { result } = load(conf(), ['-olisten_port=2121', '-owrite_enable=perhaps']);
  const e = expectError(result);
  assertError(e, { file: 'command line (-o #2)', line: null, option: 'write_enable', message: /bad boolean/ });
  assert.equal(formatConfigError(e), `tsftpd: command line (-o #2): write_enable: ${e.message}`);
});

// ---- file errors ----

test('error: missing file', () => {
  const file = path.join(tmp, 'does-not-exist.conf');
  assertError(expectError(loadConfigFile(file, [])), { file, line: null, option: null, message: /no such file/ });
});

test('error: not a regular file (a directory)', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'dir-'));
  assertError(expectError(loadConfigFile(dir, [])), {
    file: dir,
    line: null,
    option: null,
    message: /a directory, not a regular file/,
  });
});

test('a symlink to a good file is followed, as in vsftpd', () => {
  const target = writeConf(conf('listen_port=2100'));
  const link = path.join(tmp, 'link.conf');
  fs.symlinkSync(target, link);
  const result = loadConfigFile(link, []);
  assert.ok(result.ok);
  assert.equal(result.config.listen_port, 2100);
});

test('error: not owned by the required uid', () => {
  const file = writeConf(conf());
  fs.chownSync(file, 65534, 65534);
  assertError(expectError(loadConfigFile(file, [])), {
    file,
    line: null,
    option: null,
    message: /owned by uid 65534; it must be owned by uid 0/,
  });
  // The owner is a parameter (it defaults to the running uid).
  assert.ok(loadConfigFile(file, [], { requiredOwnerUid: 65534 }).ok);
});

test('error: writable by group or others', () => {
  for (const mode of [0o620, 0o602, 0o666]) {
    const file = writeConf(conf(), mode);
    assertError(expectError(loadConfigFile(file, [])), {
      file,
      line: null,
      option: null,
      message: /writable by group or others/,
    });
  }
  assert.ok(loadConfigFile(writeConf(conf(), 0o644), []).ok);
});

test('error: larger than 100,000 bytes', () => {
  const head = conf();
  const exact = head + '#'.repeat(CONFIG_FILE_MAX_BYTES - head.length);
  assert.equal(Buffer.byteLength(exact), CONFIG_FILE_MAX_BYTES);
  assert.ok(loadConfigFile(writeConf(exact), []).ok, 'exactly the limit is fine');
  const file = writeConf(exact + '#');
  assertError(expectError(loadConfigFile(file, [])), { file, line: null, option: null, message: /100000/ });
});

test('error: invalid UTF-8 is located by line', () => {
  const file = path.join(tmp, 'latin1.conf');
  fs.writeFileSync(file, Buffer.concat([Buffer.from(conf('listen_port=21')), Buffer.from([0x61, 0x3d, 0xe9, 0x0a])]));
  fs.chmodSync(file, 0o600);
  assertError(expectError(loadConfigFile(file, [])), { file, line: 3, option: null, message: /UTF-8/ });
});

// ---- semantic errors ----

test('error: listen and listen_ipv6 both YES names the later line', () => {
  const both = load(conf('listen=YES', 'listen_ipv6=YES'));
  assertError(expectError(both.result), {
    file: both.file,
    line: 3,
    option: 'listen_ipv6',
    message: /listen and listen_ipv6 cannot both be YES; run two copies of tsftpd/,
  });
  const reversed = load(conf('listen_ipv6=YES', 'listen=YES'));
  assertError(expectError(reversed.result), {
    file: reversed.file,
    line: 3,
    option: 'listen',
    message: /cannot both be YES/,
  });
  // listen is YES by default: listen_ipv6=YES alone conflicts with the default.
  const alone = load(conf('listen_ipv6=YES'));
  assertError(expectError(alone.result), { file: alone.file, line: 2, option: 'listen_ipv6', message: /cannot both/ });
  const viaOverride = load(conf('listen_ipv6=YES', 'listen=NO'), ['-olisten=YES']);
  assertError(expectError(viaOverride.result), {
    file: 'command line (-o #1)',
    line: null,
    option: 'listen',
    message: /cannot both/,
  });
});

test('error: secure_chroot_dir must exist', () => {
  const missing = path.join(tmp, 'no-such-dir');
  const { file, result } = load(`listen_port=2121\nsecure_chroot_dir=${missing}\n`);
  assertError(expectError(result), { file, line: 2, option: 'secure_chroot_dir', message: /does not exist/ });

  const notDir = writeConf('x');
  const second = load(`secure_chroot_dir=${notDir}\n`);
  assertError(expectError(second.result), {
    file: second.file,
    line: 1,
    option: 'secure_chroot_dir',
    message: /not a directory/,
  });

  const unset = load('secure_chroot_dir=\n');
  assertError(expectError(unset.result), { file: unset.file, line: 1, option: 'secure_chroot_dir', message: /must name/ });

  if (!fs.existsSync('/usr/share/empty')) {
    // The compiled-in default is reported as line 0 of "(default)".
    const byDefault = load('listen_port=2121\n');
    assertError(expectError(byDefault.result), {
      file: '(default)',
      line: 0,
      option: 'secure_chroot_dir',
      message: /does not exist/,
    });
  }
});

test('error: ranges of ports, umasks, modes and prefork_pool_size', () => {
  const cases: ReadonlyArray<readonly [string, OptionName, RegExp]> = [
    ['listen_port=0', 'listen_port', /^0 is out of range \(1\.\.65535\)$/],
    ['listen_port=65536', 'listen_port', /out of range/],
    ['ftp_data_port=70000', 'ftp_data_port', /out of range/],
    ['pasv_min_port=65536', 'pasv_min_port', /out of range/],
    ['local_umask=01000', 'local_umask', /^01000 is out of range \(00\.\.0777\)$/],
    ['anon_umask=512', 'anon_umask', /out of range/],
    ['file_open_mode=04777', 'file_open_mode', /out of range/],
    ['chown_upload_mode=02700', 'chown_upload_mode', /out of range/],
    ['prefork_pool_size=65', 'prefork_pool_size', /out of range \(0\.\.64\)/],
  ];
  for (const [line, option, message] of cases) {
    const { file, result } = load(conf(line));
    assertError(expectError(result), { file, line: 2, option, message });
  }
  assert.equal(loadOk(conf('prefork_pool_size=64', 'local_umask=0777', 'listen_port=65535')).prefork_pool_size, 64);
});

test('error: pasv_max_port below pasv_min_port', () => {
  const { file, result } = load(conf('pasv_max_port=40000', 'pasv_min_port=50000'));
  assertError(expectError(result), { file, line: 3, option: 'pasv_min_port', message: /below pasv_min_port/ });
  const ok = loadOk(conf('pasv_min_port=50000', 'pasv_max_port=50000'));
  assert.equal(ok.pasv_max_port, 50000);
  assert.equal(loadOk(conf('pasv_min_port=50000')).pasv_max_port, 0);
});

// ---- formatting ----

test('formatConfigError: one line, parts omitted when null, control characters escaped', () => {
  assert.equal(
    formatConfigError({ file: '/etc/vsftpd.conf', line: 12, option: 'listen', message: 'bad' }),
    'tsftpd: /etc/vsftpd.conf:12: listen: bad',
  );
  assert.equal(
    formatConfigError({ file: '/etc/vsftpd.conf', line: null, option: null, message: 'no such file' }),
    'tsftpd: /etc/vsftpd.conf: no such file',
  );
  const text = formatConfigError({ file: '/tmp/a\nb', line: 1, option: 'x\r', message: 'm\u001b' });
  assert.ok(!/[\u0000-\u001f]/.test(text), text);
});

// ---- unimplemented options ----

test('unimplemented-options warning lists exactly the non-default unimplemented ones', () => {
  const { result } = load(
    conf(
      'session_support=YES', // unimplemented, non-default: listed
      'one_process_model=YES', // unimplemented, non-default: listed
      'ssl_tlsv1=YES', // unimplemented but the default: not listed
      'listen_port=2121', // implemented: not listed
      'write_enable=YES', // implemented: not listed
      'dirmessage_enable=YES',
      'dirmessage_enable=NO', // back to the default: not listed
    ),
    ['-oisolate=NO'], // overrides count too
  );
  if (!result.ok) assert.fail(formatConfigError(result.error));
  assert.equal(
    unimplementedOptionsWarning(result.set, result.config),
    'tsftpd: warning: options parsed but not implemented yet (no effect): isolate, one_process_model, session_support',
  );
  const clean = load(conf('listen_port=2121', 'ssl_enable=NO'));
  if (!clean.result.ok) assert.fail(formatConfigError(clean.result.error));
  assert.equal(unimplementedOptionsWarning(clean.result.set, clean.result.config), null);
});

// ---- per-user files ----

test('parseConfigText applies text on top of a base config with the same rules', () => {
  const { file, result } = load(conf('local_enable=YES', 'local_umask=022'));
  if (!result.ok) assert.fail(formatConfigError(result.error));
  const perUser = parseConfigText('local_root=/srv/alice\nwrite_enable=YES\n', '/etc/vsftpd/users/alice', result.config, result.set);
  if (!perUser.ok) assert.fail(formatConfigError(perUser.error));
  assert.equal(perUser.config.local_root, '/srv/alice');
  assert.equal(perUser.config.write_enable, true);
  assert.equal(perUser.config.local_umask, 0o22); // inherited
  assert.equal(perUser.config.secure_chroot_dir, tmp);
  assert.ok(Object.isFrozen(perUser.config));
  assert.deepEqual(perUser.set.get('local_umask'), { file, line: 3 });
  assert.deepEqual(perUser.set.get('local_root'), { file: '/etc/vsftpd/users/alice', line: 1 });

  const bad = parseConfigText('\nlocal_umask=9\nwrite_enable=maybe\n', '/etc/vsftpd/users/bob', result.config);
  assertError(expectError(bad), {
    file: '/etc/vsftpd/users/bob',
    line: 3,
    option: 'write_enable',
    message: /bad boolean/,
  });
});
