// Unit tests for src/master/tcpwrap.ts: hosts.allow / hosts.deny parsing and
// matching (hosts_access(5), hosts_options(5)). No daemon, no /etc files: the
// HostsAccess tests use files in a temp dir.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { clientMatches, decide, HostsAccess, parseHostsFile } from '../src/master/tcpwrap';

const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** allowed for ip with these file texts. */
function allowed(allowText: string, denyText: string, ip: string): boolean {
  return decide(parseHostsFile(allowText), parseHostsFile(denyText), ip).allowed;
}

describe('parseHostsFile', () => {
  test('daemons, clients and options; comments and blank lines skipped', () => {
    const rules = parseHostsFile(
      [
        '# a comment',
        '',
        '   ',
        'vsftpd: 127.0.0.2',
        'ALL EXCEPT sshd : 10.0.0.0/8, 192.168. : deny',
        '  # indented comment',
        'tsftpd,vsftpd : ALL : setenv VSFTPD_LOAD_CONF /etc/tsftpd/per-ip.conf : allow',
      ].join('\n'),
    );
    assert.deepEqual(rules, [
      { daemons: ['vsftpd'], clients: ['127.0.0.2'], options: [] },
      { daemons: ['ALL', 'EXCEPT', 'sshd'], clients: ['10.0.0.0/8', '192.168.'], options: ['deny'] },
      { daemons: ['tsftpd', 'vsftpd'], clients: ['ALL'], options: ['setenv VSFTPD_LOAD_CONF /etc/tsftpd/per-ip.conf', 'allow'] },
    ]);
  });

  test('IPv6 patterns in brackets keep their colons', () => {
    const rules = parseHostsFile('vsftpd: [::1] [fe80::]/10 [2001:db8::1]/128 : deny\n');
    assert.deepEqual(rules, [{ daemons: ['vsftpd'], clients: ['[::1]', '[fe80::]/10', '[2001:db8::1]/128'], options: ['deny'] }]);
  });

  test('backslash-newline continues a rule; "\\:" stays in an option', () => {
    const rules = parseHostsFile('vsftpd: 127.0.0.1 \\\n  127.0.0.2 : setenv X a\\:b\n');
    assert.deepEqual(rules, [{ daemons: ['vsftpd'], clients: ['127.0.0.1', '127.0.0.2'], options: ['setenv X a:b'] }]);
  });

  test('CRLF line ends and a line without a client list', () => {
    const rules = parseHostsFile('vsftpd: 127.0.0.2\r\nbroken line without colon\r\n');
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0]?.clients, ['127.0.0.2']);
  });

  test('the Debian stock files (comments only) hold no rule', () => {
    const text = [
      '# /etc/hosts.deny: list of hosts that are _not_ allowed to access the system.',
      '# Example:    ALL: some.host.name, .some.domain',
      '# ALL: PARANOID',
      '',
    ].join('\n');
    assert.deepEqual(parseHostsFile(text), []);
  });
});

describe('clientMatches', () => {
  const cases: Array<[pattern: string, ip: string, expected: boolean]> = [
    ['ALL', '127.0.0.1', true],
    ['ALL', '::1', true],
    // exact addresses
    ['127.0.0.2', '127.0.0.2', true],
    ['127.0.0.2', '127.0.0.20', false],
    ['127.0.0.2', '127.0.0.1', false],
    // prefixes ending in "."
    ['127.0.', '127.0.0.1', true],
    ['127.0.', '127.1.0.1', false],
    ['127.', '127.255.0.9', true],
    ['192.168.1.', '192.168.10.1', false],
    ['192.168.1.', '192.168.1.10', true],
    // net/mask
    ['127.0.0.0/255.0.0.0', '127.200.1.1', true],
    ['127.0.0.0/255.255.255.0', '127.0.1.1', false],
    ['10.1.0.0/255.255.0.0', '10.1.254.3', true],
    ['10.1.0.0/255.255.0.0', '10.2.0.1', false],
    // net/len
    ['127.0.0.0/8', '127.1.2.3', true],
    ['127.0.0.0/8', '128.0.0.1', false],
    ['192.168.0.0/16', '192.168.77.1', true],
    ['192.168.0.0/24', '192.168.1.1', false],
    ['127.0.0.2/32', '127.0.0.2', true],
    ['127.0.0.2/32', '127.0.0.3', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['200.0.0.0/1', '130.0.0.1', true],
    ['200.0.0.0/1', '127.0.0.1', false],
    ['127.0.0.0/33', '127.0.0.1', false],
    // wildcards
    ['127.0.0.*', '127.0.0.42', true],
    ['127.0.0.*', '127.0.1.42', false],
    ['127.0.0.?', '127.0.0.7', true],
    ['127.0.0.?', '127.0.0.17', false],
    ['1?7.0.0.1', '127.0.0.1', true],
    ['127.0.0.1*', '127.0.0.1', true],
    ['127.0.0.1*', '127.0.0.10', true],
    // the "." of a wildcard pattern is literal
    ['127.0.0.*', '127x0x0x1', false],
    // IPv6
    ['[::1]', '::1', true],
    ['[::1]', '::2', false],
    ['[0:0:0:0:0:0:0:1]', '::1', true],
    ['[::1]/128', '::1', true],
    ['[fe80::]/10', 'fe80::1', true],
    ['[fe80::]/10', 'febf:ffff::1', true],
    ['[fe80::]/10', 'fec0::1', false],
    ['[fe80::]/64', 'fe80::abcd:1', true],
    ['[fe80::]/64', 'fe80:0:0:1::1', false],
    ['[2001:db8::]/32', '2001:db8:1234::5', true],
    ['[2001:db8::]/32', '2001:db9::5', false],
    ['[::]/0', '2001:db8::1', true],
    ['[::1]/129', '::1', false],
    ['[fe80::]/10', 'fe80::1%eth0', true],
    // families never cross
    ['[::1]', '127.0.0.1', false],
    ['127.0.0.1', '::1', false],
    ['127.0.', '::1', false],
    ['127.0.0.0/8', '::1', false],
    // names never match (no DNS at accept time)
    ['localhost', '127.0.0.1', false],
    ['.example.com', '127.0.0.1', false],
    ['LOCAL', '127.0.0.1', false],
    ['KNOWN', '127.0.0.1', false],
    ['PARANOID', '127.0.0.1', false],
    ['@netgroup', '127.0.0.1', false],
    // malformed
    ['127.0.0.0/255.0.0', '127.0.0.1', false],
    ['[not-an-address]', '::1', false],
  ];
  for (const [pattern, ip, expected] of cases) {
    test(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${ip}`, () => {
      assert.equal(clientMatches(pattern, ip), expected);
    });
  }
});

describe('decide: hosts.allow first, then hosts.deny, else allow', () => {
  test('no rules: allowed, no per-address config', () => {
    assert.deepEqual(decide([], [], '127.0.0.1'), { allowed: true, loadConf: null });
  });

  test('deny "vsftpd: 127.0.0.2" refuses 127.0.0.2 only', () => {
    assert.equal(allowed('', 'vsftpd: 127.0.0.2\n', '127.0.0.2'), false);
    assert.equal(allowed('', 'vsftpd: 127.0.0.2\n', '127.0.0.1'), true);
  });

  test('daemon names: ALL, tsftpd and vsftpd apply; other daemons do not', () => {
    for (const d of ['ALL', 'tsftpd', 'vsftpd', 'sshd, vsftpd', 'vsftpd@127.0.0.1']) {
      assert.equal(allowed('', `${d}: 127.0.0.2\n`, '127.0.0.2'), false, `daemon list ${d}`);
    }
    for (const d of ['sshd', 'in.ftpd', 'proftpd', 'ALL EXCEPT vsftpd', 'ALL EXCEPT tsftpd']) {
      assert.equal(allowed('', `${d}: 127.0.0.2\n`, '127.0.0.2'), true, `daemon list ${d}`);
    }
  });

  test('"ALL: ALL" deny with "tsftpd: 127.0.0.1" allow: only 127.0.0.1 gets in', () => {
    assert.equal(allowed('tsftpd: 127.0.0.1\n', 'ALL: ALL\n', '127.0.0.1'), true);
    assert.equal(allowed('tsftpd: 127.0.0.1\n', 'ALL: ALL\n', '127.0.0.2'), false);
    assert.equal(allowed('tsftpd: 127.0.0.1\n', 'ALL: ALL\n', '::1'), false);
  });

  test('EXCEPT in the client list, nested EXCEPT', () => {
    const deny = 'vsftpd: ALL EXCEPT 127.0.0.1\n';
    assert.equal(allowed('', deny, '127.0.0.1'), true);
    assert.equal(allowed('', deny, '127.0.0.2'), false);
    // 127. except 127.0.0.0/24, except 127.0.0.5 again: a EXCEPT (b EXCEPT c)
    const nested = 'vsftpd: 127. EXCEPT 127.0.0.0/24 EXCEPT 127.0.0.5\n';
    assert.equal(allowed('', nested, '127.1.1.1'), false, 'in 127., not in /24: denied');
    assert.equal(allowed('', nested, '127.0.0.9'), true, 'in the /24 exception: allowed');
    assert.equal(allowed('', nested, '127.0.0.5'), false, 'excepted from the exception: denied');
  });

  test('the first matching rule decides', () => {
    const allow = 'vsftpd: 127.0.0.2 : deny\nvsftpd: 127.0.0.\n';
    assert.equal(allowed(allow, 'ALL: ALL\n', '127.0.0.2'), false, 'first allow rule says deny');
    assert.equal(allowed(allow, 'ALL: ALL\n', '127.0.0.3'), true, 'second allow rule grants');
  });

  test('options: "deny" in hosts.allow refuses, "allow" in hosts.deny grants', () => {
    assert.equal(allowed('vsftpd: 127.0.0.2 : deny\n', '', '127.0.0.2'), false);
    assert.equal(allowed('', 'vsftpd: 127.0.0.2 : allow\n', '127.0.0.2'), true);
    assert.equal(allowed('', 'vsftpd: 127.0.0.2 : severity auth.info : deny\n', '127.0.0.2'), false);
  });

  test('spawn/twist options are ignored, the rule still applies', () => {
    assert.equal(allowed('', 'vsftpd: 127.0.0.2 : spawn /bin/touch /tmp/pwned\n', '127.0.0.2'), false);
    assert.equal(allowed('', 'vsftpd: 127.0.0.2 : twist /bin/echo hi\n', '127.0.0.2'), false);
  });

  test('setenv VSFTPD_LOAD_CONF from the matching allow rule only', () => {
    const allow = 'vsftpd: 127.0.0.2 : setenv VSFTPD_LOAD_CONF /etc/tsftpd/127.0.0.2.conf\n';
    assert.deepEqual(decide(parseHostsFile(allow), [], '127.0.0.2'), { allowed: true, loadConf: '/etc/tsftpd/127.0.0.2.conf' });
    assert.deepEqual(decide(parseHostsFile(allow), [], '127.0.0.1'), { allowed: true, loadConf: null });
    const denied = 'vsftpd: 127.0.0.2 : setenv VSFTPD_LOAD_CONF /x.conf : deny\n';
    assert.deepEqual(decide(parseHostsFile(denied), [], '127.0.0.2'), { allowed: false, loadConf: null });
  });

  test('name patterns in hosts.deny fail closed: "ALL EXCEPT .example.com" denies everyone', () => {
    assert.equal(allowed('', 'vsftpd: ALL EXCEPT .example.com\n', '127.0.0.1'), false);
    assert.equal(allowed('vsftpd: LOCAL\n', 'ALL: ALL\n', '127.0.0.1'), false);
  });

  test('IPv6 rules', () => {
    assert.equal(allowed('', 'vsftpd: [::1]\n', '::1'), false);
    assert.equal(allowed('', 'vsftpd: [::1]\n', '127.0.0.1'), true);
    assert.equal(allowed('vsftpd: [fe80::]/10\n', 'ALL: ALL\n', 'fe80::1'), true);
    assert.equal(allowed('vsftpd: [fe80::]/10\n', 'ALL: ALL\n', '2001:db8::1'), false);
  });

  // libwrap compares keywords and daemon names with strcasecmp (tcpd.h:
  // STR_EQ), so "all", "except" and "VSFTPD" work there. tsftpd compares
  // them case-sensitively; in hosts.deny that fails open.
  test('keywords and daemon names are case-insensitive (libwrap strcasecmp)', () => {
    assert.equal(allowed('', 'vsftpd: all\n', '127.0.0.2'), false, '"all" as client');
    assert.equal(allowed('', 'all: 127.0.0.2\n', '127.0.0.2'), false, '"all" as daemon');
    assert.equal(allowed('', 'VSFTPD: 127.0.0.2\n', '127.0.0.2'), false, 'daemon name in capitals');
    assert.equal(allowed('', 'vsftpd: ALL except 127.0.0.1\n', '127.0.0.1'), true, '"except"');
  });
});

describe('HostsAccess (files)', () => {
  function files(): { dir: string; allow: string; deny: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsftpd-tcpw-'));
    tempDirs.push(dir);
    return { dir, allow: path.join(dir, 'hosts.allow'), deny: path.join(dir, 'hosts.deny') };
  }

  test('missing files allow everyone', () => {
    const f = files();
    assert.deepEqual(new HostsAccess(f.allow, f.deny).check('127.0.0.2'), { allowed: true, loadConf: null });
  });

  test('reads both files and re-reads them after a change', () => {
    const f = files();
    fs.writeFileSync(f.deny, 'vsftpd: 127.0.0.2\n');
    const h = new HostsAccess(f.allow, f.deny);
    assert.equal(h.check('127.0.0.2').allowed, false);
    assert.equal(h.check('127.0.0.1').allowed, true);
    // A different size: noticed at once.
    fs.writeFileSync(f.deny, 'vsftpd: 127.0.0.1, 127.0.0.3\n');
    assert.equal(h.check('127.0.0.2').allowed, true);
    assert.equal(h.check('127.0.0.1').allowed, false);
    // Same size, replaced by rename (new inode): noticed too.
    const tmp = `${f.deny}.new`;
    fs.writeFileSync(tmp, 'vsftpd: 127.0.0.2, 127.0.0.4\n');
    fs.renameSync(tmp, f.deny);
    assert.equal(h.check('127.0.0.2').allowed, false);
    fs.writeFileSync(f.allow, 'vsftpd: 127.0.0.2 : setenv VSFTPD_LOAD_CONF /p.conf\n');
    assert.deepEqual(h.check('127.0.0.2'), { allowed: true, loadConf: '/p.conf' });
  });

  test('a directory in place of a file counts as no rules (as libwrap: fopen works, nothing to read)', () => {
    const f = files();
    fs.mkdirSync(f.deny);
    assert.equal(new HostsAccess(f.allow, f.deny).check('127.0.0.2').allowed, true);
  });

  // libwrap has no size limit (it reads every rule) and refuses service when
  // hosts.deny exists but cannot be read (table_match: ERR). tsftpd drops a
  // hosts.deny over 1 MiB and then allows everyone: it fails open.
  test('an oversized hosts.deny does not silently allow everyone', () => {
    const f = files();
    fs.writeFileSync(f.deny, `vsftpd: 127.0.0.2\n${'#'.repeat(1024 * 1024)}\n`);
    assert.equal(new HostsAccess(f.allow, f.deny).check('127.0.0.2').allowed, false);
  });
});
