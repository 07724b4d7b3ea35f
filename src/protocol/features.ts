/*
 * The FEAT reply (RFC 2389), listing only what this build implements and
 * this config enables: a client that trusts FEAT must never be told about a
 * command that then fails.
 *
 * vsftpd's own lines (features.c) keep their order, which is alphabetical;
 * the extensions vsftpd never had are slotted in alphabetically:
 *   AVBL (draft-peterson-streamlined-ftp-command-extensions),
 *   HASH (draft-bryan-ftpext-hash), MFMT (draft-somers-ftp-mfxx),
 *   MLST (RFC 3659 §7).
 * With ssl_enable: AUTH TLS, PBSZ, PROT (vsftpd's lines). AUTH SSL, which
 * vsftpd lists only with ssl_sslv2 or ssl_sslv3, is never listed: tsftpd
 * never offers SSL (AUTH SSL is still accepted, as a synonym of AUTH TLS
 * that implies PROT P).
 * Not listed: CLNT (clients send it without looking), RANG STREAM (RANG
 * works for HASH and RETR only, and the feature line promises STOR too).
 */

import type { Config } from '../config/options';
import { DEFAULT_HASH, HASH_NAMES } from '../worker/digest';
import { MLST_FACTS } from '../worker/session';

/** What a logged-in session has selected with OPTS (FEAT stars it). */
export interface FeatureSelection {
  readonly hashAlgorithm: string;
  readonly mlstFacts: readonly string[];
}

const DEFAULT_SELECTION: FeatureSelection = { hashAlgorithm: DEFAULT_HASH, mlstFacts: MLST_FACTS };

export function featureLines(config: Config, sel: FeatureSelection = DEFAULT_SELECTION): string[] {
  const f: string[] = [];
  if (config.ssl_enable && config.ssl_tlsv1) f.push('AUTH TLS');
  f.push('AVBL');
  if (config.port_enable) f.push('EPRT');
  if (config.pasv_enable) f.push('EPSV');
  if (config.download_enable) {
    f.push(`HASH ${HASH_NAMES.map((h) => (h === sel.hashAlgorithm ? `${h}*` : h)).join(';')}`);
  }
  f.push('MDTM');
  if (config.write_enable && config.mdtm_write) f.push('MFMT');
  if (config.dirlist_enable) {
    f.push(`MLST ${MLST_FACTS.map((m) => (sel.mlstFacts.includes(m) ? `${m}*;` : `${m};`)).join('')}`);
  }
  if (config.pasv_enable) f.push('PASV');
  if (config.ssl_enable) {
    f.push('PBSZ');
    f.push('PROT');
  }
  f.push('REST STREAM');
  f.push('SIZE');
  f.push('TVFS');
  // utf8_filesystem (vsftpd 3.0.5, Debian): UTF8 only when the admin says
  // names on disk are UTF-8. OPTS UTF8 ON is accepted either way.
  if (config.utf8_filesystem) f.push('UTF8');
  return ['211-Features:', ...f.map((x) => ` ${x}`), '211 End'];
}
