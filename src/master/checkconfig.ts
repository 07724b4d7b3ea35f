/*
 * `tsftpd --check-config [CONFIG]` (like `sshd -t`): validate the config as
 * a start would, print the effective settings that differ from the
 * compiled-in defaults, and exit 0 — or print the one error line and exit 2.
 */

import { DEFAULT_CONFIG, OPTION_NAMES, type Config } from '../config/options';
import { formatConfigError, loadConfigFile, unimplementedOptionsWarning } from '../config/parse';

function show(v: Config[keyof Config]): string {
  if (typeof v === 'boolean') return v ? 'YES' : 'NO';
  if (v === null) return '';
  return String(v);
}

export function checkConfig(file: string, overrides: readonly string[]): number {
  const loaded = loadConfigFile(file, overrides);
  if (!loaded.ok) {
    process.stderr.write(`${formatConfigError(loaded.error)}\n`);
    return 2;
  }
  const lines: string[] = [];
  for (const name of OPTION_NAMES) {
    if (loaded.config[name] !== DEFAULT_CONFIG[name]) lines.push(`${name}=${show(loaded.config[name])}`);
  }
  process.stdout.write(lines.join('\n') + (lines.length > 0 ? '\n' : ''));
  const warning = unimplementedOptionsWarning(loaded.set, loaded.config);
  if (warning !== null) process.stderr.write(`${warning}\n`);
  process.stderr.write(`tsftpd: ${file}: configuration OK\n`);
  return 0;
}
