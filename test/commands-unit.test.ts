// Unit tests for the pure parts of the command set: ASCII conversion, CRC32 and
// the digests, argument parsers, and control-line parsing.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import { isTransferInterrupt, parseCommandLine, stripTelnet } from '../src/protocol/control';
import { featureLines } from '../src/protocol/features';
import { DEFAULT_CONFIG } from '../src/config/options';
import { fromAsciiLineEnds, toAsciiLineEnds } from '../src/worker/ascii';
import {
  formatOctal,
  formatTimeVal,
  helpLines,
  logSafe,
  MAX_OFFSET,
  parseMlstOpts,
  parseOctal,
  parseRangArg,
  parseRestArg,
  parseTimeVal,
  parseVsftpdTime,
  splitMdtmSetArg,
} from '../src/worker/cmdparse';
import { crc32, createDigest, digestFile, hashNameOf } from '../src/worker/digest';

/** Run a converter over `input` split at every possible pair of cut points. */
function convertInPieces(
  input: Buffer,
  cuts: number[],
  fn: (src: Buffer, prev: boolean, out: Buffer) => { length: number; lastWasCR: boolean },
  flush: boolean,
): Buffer {
  const parts: Buffer[] = [];
  let prev = false;
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    const src = input.subarray(at, cut);
    const out = Buffer.alloc(src.length * 2 + 1);
    const r = fn(src, prev, out);
    parts.push(out.subarray(0, r.length));
    prev = r.lastWasCR;
    at = cut;
  }
  if (flush) {
    const out = Buffer.alloc(1);
    const r = fn(Buffer.alloc(0), prev, out);
    parts.push(out.subarray(0, r.length));
  }
  return Buffer.concat(parts);
}

describe('ASCII line ends (vsftpd ascii.c)', () => {
  const dl = (s: string, cuts: number[] = []): string =>
    convertInPieces(Buffer.from(s, 'latin1'), cuts, toAsciiLineEnds, false).toString('latin1');
  const ul = (s: string, cuts: number[] = []): string =>
    convertInPieces(Buffer.from(s, 'latin1'), cuts, fromAsciiLineEnds, true).toString('latin1');

  test('download: LF → CRLF, CRLF stays, lone CR stays', () => {
    assert.equal(dl('a\nb\n'), 'a\r\nb\r\n');
    assert.equal(dl('a\r\nb'), 'a\r\nb');
    assert.equal(dl('\n\n'), '\r\n\r\n');
    assert.equal(dl('a\rb'), 'a\rb');
    assert.equal(dl(''), '');
  });

  test('download: a CR at the end of one chunk and LF at the start of the next is one CRLF', () => {
    assert.equal(dl('a\r\nb', [2]), 'a\r\nb');
    assert.equal(dl('a\n\nb', [2]), 'a\r\n\r\nb');
  });

  test('upload: CRLF → LF, lone CR kept, trailing CR kept', () => {
    assert.equal(ul('a\r\nb\r\n'), 'a\nb\n');
    assert.equal(ul('a\rb'), 'a\rb');
    assert.equal(ul('a\r\r\n'), 'a\r\n');
    assert.equal(ul('end\r'), 'end\r');
    assert.equal(ul('\n'), '\n');
  });

  test('upload: every split point gives the same result', () => {
    const input = 'x\r\ny\rz\r\r\n\r\nw\r';
    const whole = ul(input);
    assert.equal(whole, 'x\ny\rz\r\n\nw\r');
    // Chunks are never empty (an empty input means end of file: flush).
    for (let i = 1; i < input.length; i++) {
      for (let j = i + 1; j < input.length; j++) assert.equal(ul(input, [i, j]), whole, `cuts ${i},${j}`);
    }
  });

  test('download: every split point gives the same result', () => {
    const input = 'x\r\ny\n\rz\n\n';
    const whole = dl(input);
    for (let i = 0; i <= input.length; i++) assert.equal(dl(input, [i]), whole, `cut ${i}`);
  });
});

describe('CRC32 and digests', () => {
  test('CRC32 check value of "123456789" is cbf43926', () => {
    assert.equal(crc32(Buffer.from('123456789')).toString(16), 'cbf43926');
    assert.equal(crc32(Buffer.alloc(0)), 0);
  });

  test('CRC32 matches zlib on random data of every length 0..40 and 1 MiB, in pieces too', () => {
    const zcrc = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
    const data = crypto.randomBytes(1024 * 1024 + 7);
    const reference = (b: Buffer): number => (zcrc !== undefined ? zcrc(b) : crc32(b));
    for (let n = 0; n <= 40; n++) assert.equal(crc32(data.subarray(0, n)), reference(data.subarray(0, n)), `length ${n}`);
    let c = 0;
    for (let at = 0; at < data.length; at += 100_003) c = crc32(data.subarray(at, Math.min(at + 100_003, data.length)), c);
    assert.equal(c, reference(data));
    assert.equal(crc32(data), c);
  });

  test('createDigest: SHA-256, SHA-1, MD5 as node:crypto, CRC32 zero-padded hex', () => {
    const b = Buffer.from('hello');
    const d = (n: 'SHA-256' | 'SHA-1' | 'MD5' | 'CRC32'): string => {
      const x = createDigest(n);
      x.update(b);
      return x.hex();
    };
    assert.equal(d('SHA-256'), crypto.createHash('sha256').update(b).digest('hex'));
    assert.equal(d('SHA-1'), crypto.createHash('sha1').update(b).digest('hex'));
    assert.equal(d('MD5'), crypto.createHash('md5').update(b).digest('hex'));
    assert.equal(d('CRC32'), '3610a686');
    const z = createDigest('CRC32');
    z.update(Buffer.from([0x9a, 0x3c]));
    assert.match(z.hex(), /^[0-9a-f]{8}$/);
  });

  test('hashNameOf is case-insensitive and knows only the four names', () => {
    assert.equal(hashNameOf('sha-256'), 'SHA-256');
    assert.equal(hashNameOf('md5'), 'MD5');
    assert.equal(hashNameOf('Crc32'), 'CRC32');
    assert.equal(hashNameOf('SHA-512'), null);
    assert.equal(hashNameOf(''), null);
  });

  test('digestFile: whole file and an inclusive range, across chunk boundaries', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsftpd-u-'));
    try {
      const data = crypto.randomBytes(3 * 1024 * 1024 + 5);
      const f = path.join(dir, 'f');
      fs.writeFileSync(f, data);
      const fd = fs.openSync(f, 'r');
      try {
        const all = await digestFile(fd, 'SHA-256', 0n, null);
        assert.equal(all.hex, crypto.createHash('sha256').update(data).digest('hex'));
        assert.equal(all.bytes, BigInt(data.length));
        const part = await digestFile(fd, 'MD5', 1_000_000n, 2_500_000n);
        assert.equal(part.hex, crypto.createHash('md5').update(data.subarray(1_000_000, 2_500_001)).digest('hex'));
        assert.equal(part.bytes, 1_500_001n);
        const past = await digestFile(fd, 'CRC32', BigInt(data.length - 2), BigInt(data.length + 100));
        assert.equal(past.bytes, 2n);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('argument parsers', () => {
  test('REST: digits up to 2^63-1 exactly; anything else 0 (vsftpd); larger refused', () => {
    assert.equal(parseRestArg('0'), 0n);
    assert.equal(parseRestArg('123'), 123n);
    assert.equal(parseRestArg('9007199254740993'), 9007199254740993n);
    assert.equal(parseRestArg('9223372036854775807'), MAX_OFFSET);
    assert.equal(parseRestArg('9223372036854775808'), 'too-large');
    assert.equal(parseRestArg('-5'), 0n);
    assert.equal(parseRestArg('12abc'), 0n);
    assert.equal(parseRestArg(''), 0n);
    assert.equal(parseRestArg(null), 0n);
  });

  test('RANG: two numbers, end inclusive; "1 0" resets; start > end invalid', () => {
    assert.deepEqual(parseRangArg('0 49'), { start: 0n, end: 49n });
    assert.equal(parseRangArg('1 0'), 'reset');
    assert.equal(parseRangArg('5 4'), 'invalid');
    assert.equal(parseRangArg('5'), 'invalid');
    assert.equal(parseRangArg('a b'), 'invalid');
    assert.equal(parseRangArg('0 9223372036854775808'), 'invalid');
  });

  test('MDTM setter syntax as vsftpd: space at 8 or 14, or after 15 with a dot at 14', () => {
    assert.deepEqual(splitMdtmSetArg('20200102030405 a b'), { time: '20200102030405', path: 'a b' });
    assert.deepEqual(splitMdtmSetArg('20200102 f'), { time: '20200102', path: 'f' });
    assert.deepEqual(splitMdtmSetArg('20200102030405.123 f'), { time: '20200102030405.123', path: 'f' });
    assert.equal(splitMdtmSetArg('file name'), null);
    assert.equal(splitMdtmSetArg('2020 f'), null);
    assert.equal(splitMdtmSetArg('20200102030405'), null);
  });

  test('vsftpd time parse: GMT unless use_localtime; 8-digit form is midnight', () => {
    assert.equal(parseVsftpdTime('20200102030405', false), Date.UTC(2020, 0, 2, 3, 4, 5));
    assert.equal(parseVsftpdTime('20200102', false), Date.UTC(2020, 0, 2));
    assert.equal(parseVsftpdTime('20200102030405', true), new Date(2020, 0, 2, 3, 4, 5).getTime());
  });

  test('RFC 3659 time-val: strict, UTC, fractions allowed, bad dates refused', () => {
    assert.equal(parseTimeVal('20020717210715'), Date.UTC(2002, 6, 17, 21, 7, 15));
    assert.equal(parseTimeVal('20020717210715.5'), Date.UTC(2002, 6, 17, 21, 7, 15, 500));
    assert.equal(parseTimeVal('20020231000000'), null);
    assert.equal(parseTimeVal('20021317000000'), null);
    assert.equal(parseTimeVal('2002071721071'), null);
    assert.equal(parseTimeVal('x0020717210715'), null);
    assert.equal(formatTimeVal(Date.UTC(2002, 6, 17, 21, 7, 15), false), '20020717210715');
  });

  test('octal modes as vsftpd: digits up to the first non-octal; formatted with a leading 0', () => {
    assert.equal(parseOctal('755'), 0o755);
    assert.equal(parseOctal('0027'), 0o27);
    assert.equal(parseOctal('7777'), 0o7777);
    assert.equal(parseOctal('8'), 0);
    assert.equal(parseOctal('64x'), 0o64);
    assert.equal(parseOctal(''), 0);
    assert.equal(formatOctal(0o22), '022');
    assert.equal(formatOctal(0), '0');
    assert.equal(formatOctal(0o777), '0777');
  });

  test('OPTS MLST facts: case-insensitive, unknown ignored, no duplicates, client order', () => {
    const all = ['modify', 'perm', 'size', 'type', 'unix.group', 'unix.mode', 'unix.owner'];
    assert.deepEqual(parseMlstOpts('Type;Size;Modify;', all), ['type', 'size', 'modify']);
    assert.deepEqual(parseMlstOpts('size;bogus;SIZE', all), ['size']);
    assert.deepEqual(parseMlstOpts('', all), []);
  });

  test('HELP layout: leading space, 4-column verbs, 14 per line', () => {
    const verbs = ['RETR', 'CWD', 'ABOR', 'MKD', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K'];
    const lines = helpLines(verbs);
    assert.equal(lines.length, 2);
    assert.equal(lines[0], ' A    ABOR B    C    CWD  D    E    F    G    H    I    J    K    MKD');
    assert.equal(lines[1], ' RETR');
  });

  test('logSafe: control and non-ASCII bytes become ?, long text is cut', () => {
    assert.equal(logSafe('a\nb\x1b[31mé'), 'a?b?[31m?');
    assert.equal(logSafe('x'.repeat(300)).length, 203);
  });
});

describe('control lines', () => {
  const parse = (bytes: number[] | string): ReturnType<typeof parseCommandLine> =>
    parseCommandLine(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes));

  test('verb upper-cased, argument untrimmed, trailing CRs dropped, NUL → LF', () => {
    assert.deepEqual(parse('retr  a b\r\r'), { verb: 'RETR', arg: ' a b' });
    assert.deepEqual(parse('NOOP'), { verb: 'NOOP', arg: null });
    assert.deepEqual(parse('MKD a\0b'), { verb: 'MKD', arg: 'a\nb' });
  });

  test('empty line and a lone space are ignored (vsftpd)', () => {
    assert.equal(parse(''), null);
    assert.equal(parse('\r'), null);
    assert.equal(parse(' '), null);
    assert.deepEqual(parse('  x'), { verb: '', arg: ' x' });
  });

  test('Telnet: IAC IAC is 0xFF, option negotiation and commands are removed', () => {
    assert.deepEqual([...stripTelnet(Buffer.from([0x41, 0xff, 0xff, 0x42]))], [0x41, 0xff, 0x42]);
    assert.deepEqual([...stripTelnet(Buffer.from([0xff, 0xfb, 0x01, 0x41]))], [0x41]);
    assert.deepEqual([...stripTelnet(Buffer.from([0xff, 0xf4, 0x41]))], [0x41]);
    // An IAC before a non-command byte goes alone.
    assert.deepEqual([...stripTelnet(Buffer.from([0xff, 0x41]))], [0x41]);
  });

  test('urgent ABOR: IAC IP IAC DM ABOR, and IAC IP DM ABOR (urgent IAC taken out of band)', () => {
    assert.deepEqual(parse([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('ABOR\r')]), { verb: 'ABOR', arg: null });
    assert.deepEqual(parse([0xff, 0xf4, 0xf2, ...Buffer.from('ABOR\r')]), { verb: 'ABOR', arg: null });
    assert.deepEqual(parse([0xff, 0xf4, 0xff, ...Buffer.from('ABOR')]), { verb: 'ABOR', arg: null });
  });

  test('only ABOR and argument-less STAT interrupt a transfer', () => {
    assert.equal(isTransferInterrupt({ verb: 'ABOR', arg: null }), true);
    assert.equal(isTransferInterrupt({ verb: 'STAT', arg: null }), true);
    assert.equal(isTransferInterrupt({ verb: 'STAT', arg: '/' }), false);
    assert.equal(isTransferInterrupt({ verb: 'NOOP', arg: null }), false);
    assert.equal(isTransferInterrupt({ verb: 'QUIT', arg: null }), false);
  });
});

describe('FEAT', () => {
  test('default config: vsftpd lines in order, the extensions in between, SHA-256 and every fact starred', () => {
    const lines = featureLines(DEFAULT_CONFIG);
    assert.deepEqual(lines, [
      '211-Features:',
      ' AVBL',
      ' EPRT',
      ' EPSV',
      ' HASH SHA-256*;SHA-1;MD5;CRC32',
      ' MDTM',
      ' MLST modify*;perm*;size*;type*;unix.group*;unix.mode*;unix.owner*;',
      ' PASV',
      ' REST STREAM',
      ' SIZE',
      ' TVFS',
      '211 End',
    ]);
  });

  test('utf8_filesystem adds UTF8, last', () => {
    const lines = featureLines({ ...DEFAULT_CONFIG, utf8_filesystem: true });
    assert.deepEqual(lines.slice(-2), [' UTF8', '211 End']);
  });

  test('selection moves the stars; disabled features disappear', () => {
    const cfg = { ...DEFAULT_CONFIG, write_enable: true, pasv_enable: false, download_enable: false };
    const lines = featureLines(cfg, { hashAlgorithm: 'CRC32', mlstFacts: ['size'] });
    assert.ok(lines.includes(' MFMT'));
    assert.ok(!lines.includes(' PASV') && !lines.includes(' EPSV'));
    assert.ok(!lines.some((l) => l.startsWith(' HASH')));
    assert.ok(lines.includes(' MLST modify;perm;size*;type;unix.group;unix.mode;unix.owner;'));
    const withHash = featureLines({ ...cfg, download_enable: true }, { hashAlgorithm: 'CRC32', mlstFacts: [] });
    assert.ok(withHash.includes(' HASH SHA-256;SHA-1;MD5;CRC32*'));
  });
});
