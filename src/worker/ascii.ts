/*
 * ASCII-mode line-end conversion, as vsftpd's ascii.c does it.
 *
 * Download: every LF not already preceded by CR becomes CRLF (a CRLF in the
 * file stays CRLF, as proftpd and vsftpd do). Upload: every CR directly
 * before an LF is dropped; a lone CR stays. Both work chunk by chunk: the
 * state carried between chunks is "the previous chunk ended in CR".
 *
 * Segments between line ends are copied with Buffer.copy, so the per-byte
 * JavaScript work is one indexOf scan.
 */

const CR = 0x0d;
const LF = 0x0a;

export interface Converted {
  /** Bytes written to the output buffer. */
  readonly length: number;
  /** The input ended in CR (carry into the next chunk). */
  readonly lastWasCR: boolean;
}

/**
 * LF → CRLF. `out` must hold at least 2 × src.length bytes.
 * `prevCR`: the previous chunk ended in CR (so a leading LF is already a CRLF).
 */
export function toAsciiLineEnds(src: Buffer, prevCR: boolean, out: Buffer): Converted {
  let o = 0;
  let i = 0;
  let lastCR = prevCR;
  while (i < src.length) {
    const nl = src.indexOf(LF, i);
    const end = nl === -1 ? src.length : nl;
    if (end > i) {
      src.copy(out, o, i, end);
      o += end - i;
      lastCR = src[end - 1] === CR;
    }
    if (nl === -1) break;
    if (!lastCR) out[o++] = CR;
    out[o++] = LF;
    lastCR = false;
    i = nl + 1;
  }
  return { length: o, lastWasCR: lastCR };
}

/**
 * CRLF → LF; a CR not followed by LF is kept. `out` must hold at least
 * src.length + 1 bytes (a CR held back from the previous chunk may be
 * emitted first). A CR at the very end of `src` is held back
 * (lastWasCR = true): call again with the next chunk, or with an empty
 * buffer at end of file to flush it.
 */
export function fromAsciiLineEnds(src: Buffer, prevCR: boolean, out: Buffer): Converted {
  let o = 0;
  if (prevCR && (src.length === 0 || src[0] !== LF)) out[o++] = CR;
  let i = 0;
  while (i < src.length) {
    const cr = src.indexOf(CR, i);
    if (cr === -1) {
      src.copy(out, o, i);
      o += src.length - i;
      break;
    }
    src.copy(out, o, i, cr);
    o += cr - i;
    if (cr === src.length - 1) return { length: o, lastWasCR: true };
    if (src[cr + 1] !== LF) out[o++] = CR;
    i = cr + 1;
  }
  return { length: o, lastWasCR: false };
}
