/*
 * `tsftpd --check-config [CONFIG]` (like `sshd -t`): validate the config as
 * a start would, print the effective settings that differ from the
 * compiled-in defaults, and exit 0 — or print the one error line and exit 2.
 */

import { DEFAULT_CONFIG, OPTION_NAMES, findOption, type OptionName, type Config } from '../config/options';
import { loadRuntimeConfig } from './runtime-config';

/** A value as it would be written in the file (octal options as 0NNN). */
function show(name: OptionName, v: Config[OptionName]): string {
  if (typeof v === 'boolean') return v ? 'YES' : 'NO';
  if (v === null) return '';
  const spec = findOption(name);
  if (typeof v === 'number' && spec?.kind === 'num' && spec.octal) return `0${v.toString(8)}`;
  return String(v);
}

/* The same checks as a start (config, nopriv_user, secure_chroot_dir,
   banner_file): what passes here starts. */
export function checkConfig(file: string, overrides: readonly string[]): number {
  const loaded = loadRuntimeConfig(file, overrides);
  if (!loaded.ok) {
    process.stderr.write(`${loaded.message}\n`);
    return 2;
  }
  const config = loaded.rc.config;
  const lines: string[] = [];
  for (const name of OPTION_NAMES) {
    if (config[name] !== DEFAULT_CONFIG[name]) lines.push(`${name}=${show(name, config[name])}`);
  }
  process.stdout.write(lines.join('\n') + (lines.length > 0 ? '\n' : ''));
  const warning = loaded.rc.warning;
  if (warning !== null) process.stderr.write(`${warning}\n`);
  process.stderr.write(`tsftpd: ${file}: configuration OK\n`);
  return 0;
}
