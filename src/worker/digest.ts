/*
 * File digests for HASH (draft-bryan-ftpext-hash): SHA-256, SHA-1, MD5 from
 * node:crypto, CRC32 implemented here (table-driven, slicing-by-8: eight
 * 256-entry tables, one lookup per input byte, eight bytes per step).
 *
 * Files are hashed streaming, 1 MiB at a time into one reused buffer, so
 * memory stays bounded whatever the file size.
 */

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

/** IANA "Hash Function Textual Names", in FEAT order; the first is the default. */
export const HASH_NAMES = ['SHA-256', 'SHA-1', 'MD5', 'CRC32'] as const;
export type HashName = (typeof HASH_NAMES)[number];
export const DEFAULT_HASH: HashName = 'SHA-256';

/** Case-insensitive lookup of an algorithm name; null when unsupported. */
export function hashNameOf(text: string): HashName | null {
  const upper = text.trim().toUpperCase();
  return HASH_NAMES.find((n) => n === upper) ?? null;
}

// ---------------------------------------------------------------------------
// CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, init and final xor ~0),
// the checksum of zip, gzip, PNG and cksum -a crc32b.

const CRC_TABLES: readonly Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  t.push(t0);
  for (let k = 1; k < 8; k++) {
    const prev = t[k - 1] as Uint32Array;
    const cur = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      const p = prev[n] as number;
      cur[n] = ((p >>> 8) ^ (t0[p & 0xff] as number)) >>> 0;
    }
    t.push(cur);
  }
  return t;
})();

/**
 * Continue a CRC-32 over `data`. Start with crc = 0; the return value is the
 * finished checksum of everything so far (pass it back in to continue).
 */
export function crc32(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES as [
    Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
  ];
  let c = ~crc >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  for (; i < end8; i += 8) {
    const lo = (c ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24))) >>> 0;
    c =
      (t7[lo & 0xff] as number) ^
      (t6[(lo >>> 8) & 0xff] as number) ^
      (t5[(lo >>> 16) & 0xff] as number) ^
      (t4[lo >>> 24] as number) ^
      (t3[data[i + 4] as number] as number) ^
      (t2[data[i + 5] as number] as number) ^
      (t1[data[i + 6] as number] as number) ^
      (t0[data[i + 7] as number] as number);
  }
  for (; i < n; i++) c = (t0[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------------------

export interface Digest {
  update(data: Buffer): void;
  /** Lower-case hexadecimal (draft: "SHOULD be encoded in lowercase"). */
  hex(): string;
}

export function createDigest(name: HashName): Digest {
  if (name === 'CRC32') {
    let c = 0;
    return {
      update: (data) => {
        c = crc32(data, c);
      },
      hex: () => c.toString(16).padStart(8, '0'),
    };
  }
  const h = crypto.createHash(name === 'SHA-256' ? 'sha256' : name === 'SHA-1' ? 'sha1' : 'md5');
  return {
    update: (data) => {
      h.update(data);
    },
    hex: () => h.digest('hex'),
  };
}

const HASH_CHUNK = 1024 * 1024;

function readAt(fd: number, buf: Buffer, length: number, pos: bigint): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, length, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/**
 * Digest of the bytes [start, endInclusive] of an open file (endInclusive
 * null: to end of file). Reads one chunk at a time (bounded memory).
 * Returns the digest and the number of bytes it covers.
 */
export async function digestFile(
  fd: number,
  name: HashName,
  start: bigint,
  endInclusive: bigint | null,
): Promise<{ hex: string; bytes: bigint }> {
  const d = createDigest(name);
  const buf = Buffer.allocUnsafe(HASH_CHUNK);
  let pos = start;
  let bytes = 0n;
  for (;;) {
    let want = HASH_CHUNK;
    if (endInclusive !== null) {
      const left = endInclusive - pos + 1n;
      if (left <= 0n) break;
      if (left < BigInt(want)) want = Number(left);
    }
    const n = await readAt(fd, buf, want, pos);
    if (n === 0) break;
    d.update(n === buf.length ? buf : buf.subarray(0, n));
    pos += BigInt(n);
    bytes += BigInt(n);
  }
  return { hex: d.hex(), bytes };
}
