/*
 * Loading the config as master needs it: the parsed file plus the facts
 * master resolves as root before any session (nopriv_user's ids, the
 * secure_chroot_dir check, banner_file's text, the TLS certificate and
 * key). Used at start (an error
 * refuses to start) and on SIGHUP (an error keeps the running config).
 * Errors are values: one line, naming the file and option.
 */

import * as fs from 'node:fs';
import * as userid from 'userid';
import type { Config } from '../config/options';
import { formatConfigError, loadConfigFile, unimplementedOptionsWarning } from '../config/parse';
import { loadTlsMaterial, type TlsMaterial } from './tls';

export interface RuntimeConfig {
  readonly config: Config;
  readonly nopriv: { readonly uid: number; readonly gid: number };
  readonly banner: string | null;
  /** ssl_enable: certificate, key, CAs and settings, read as root; else null. */
  readonly tls: TlsMaterial | null;
  /** The "parsed but not implemented" warning and TLS warnings, if any (one per line). */
  readonly warning: string | null;
}

export type RuntimeResult = { readonly ok: true; readonly rc: RuntimeConfig } | { readonly ok: false; readonly message: string };

function lookupNopriv(cfg: Config, file: string): { uid: number; gid: number } | string {
  const name = cfg.nopriv_user ?? '';
  try {
    return userid.ids(name);
  } catch {
    return `tsftpd: ${file}: nopriv_user: user ${JSON.stringify(name)} does not exist`;
  }
}

/*
 * SECURITY: the pre-login jail must be a root-owned directory nobody else
 * can write; otherwise a local user could plant files that the jailed
 * worker's libc would read.
 */
function checkSecureChrootDir(cfg: Config, file: string): string | null {
  const dir = cfg.secure_chroot_dir ?? '';
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return `tsftpd: ${file}: secure_chroot_dir: ${dir} does not exist`;
  }
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    return `tsftpd: ${file}: secure_chroot_dir: ${dir} must be a directory owned by root and writable by nobody else`;
  }
  return null;
}

/** banner_file, read as root; W1 cannot reach it from its jail. */
function readBanner(cfg: Config, file: string): { text: string | null } | string {
  if (cfg.banner_file === null) return { text: null };
  try {
    const st = fs.statSync(cfg.banner_file);
    if (!st.isFile() || st.size > 64 * 1024) throw new Error('not a regular file of at most 64 KiB');
    return { text: fs.readFileSync(cfg.banner_file, 'utf8') };
  } catch (e: unknown) {
    return `tsftpd: ${file}: banner_file: ${cfg.banner_file}: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export function loadRuntimeConfig(file: string, overrides: readonly string[]): RuntimeResult {
  const loaded = loadConfigFile(file, overrides);
  if (!loaded.ok) return { ok: false, message: formatConfigError(loaded.error) };
  const config = loaded.config;
  const nopriv = lookupNopriv(config, file);
  if (typeof nopriv === 'string') return { ok: false, message: nopriv };
  const chrootError = checkSecureChrootDir(config, file);
  if (chrootError !== null) return { ok: false, message: chrootError };
  const banner = readBanner(config, file);
  if (typeof banner === 'string') return { ok: false, message: banner };
  const tls = loadTlsMaterial(config, file);
  if (!tls.ok) return { ok: false, message: tls.message };
  const lines = [unimplementedOptionsWarning(loaded.set, config), ...tls.warnings].filter((l): l is string => l !== null);
  return { ok: true, rc: { config, nopriv, banner: banner.text, tls: tls.material, warning: lines.length > 0 ? lines.join('\n') : null } };
}
