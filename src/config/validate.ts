// Semantic checks on a fully parsed configuration: value ranges and rules
// that involve more than one option or the file system. They run after every
// line and -o override has been applied, because a later line may legally
// repair an earlier one.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ConfigError, configError, quote } from './errors';
import { type Config, type NumOption, type OptionName, OPTION_TABLE } from './options';

/** Where an option got its value. `seq` orders assignments: higher is later; defaults are -1. */
export interface Assignment {
  readonly file: string;
  readonly line: number | null;
  readonly seq: number;
}

export type Locate = (name: OptionName) => Assignment;

function errorAt(where: Assignment, option: OptionName, message: string): ConfigError {
  return configError(where.file, where.line, option, message);
}

/** Of two options involved in a conflict, the one set last: that is the line the admin has to look at. */
function later(locate: Locate, a: OptionName, b: OptionName): OptionName {
  return locate(a).seq > locate(b).seq ? a : b;
}

function showNum(option: NumOption, value: number): string {
  return option.octal ? `0${value.toString(8)}` : String(value);
}

function checkRanges(config: Config, locate: Locate): ConfigError | null {
  for (const option of OPTION_TABLE) {
    if (option.kind !== 'num') continue;
    const value = config[option.name];
    if (value < option.min || value > option.max) {
      return errorAt(
        locate(option.name),
        option.name,
        `${showNum(option, value)} is out of range (${showNum(option, option.min)}..${showNum(option, option.max)})`,
      );
    }
  }
  return null;
}

function checkListen(config: Config, locate: Locate): ConfigError | null {
  if (config.listen && config.listen_ipv6) {
    // vsftpd dies with the same advice: one listener per process.
    const name = later(locate, 'listen', 'listen_ipv6');
    return errorAt(locate(name), name, 'listen and listen_ipv6 cannot both be YES; run two copies of tsftpd');
  }
  return null;
}

function checkPasvRange(config: Config, locate: Locate): ConfigError | null {
  const min = config.pasv_min_port;
  const max = config.pasv_max_port;
  // Only a range the admin wrote is checked: vsftpd ignores a max below the
  // compiled-in min, so a config that sets only pasv_max_port keeps working.
  const minSet = locate('pasv_min_port').line !== 0;
  if (max !== 0 && max < min && minSet) {
    const name = later(locate, 'pasv_min_port', 'pasv_max_port');
    return errorAt(locate(name), name, `pasv_max_port (${max}) is below pasv_min_port (${min})`);
  }
  return null;
}

function checkPrivsepSettings(config: Config, locate: Locate): ConfigError | null {
  // SECURITY: privilege separation depends on both; an empty value must not
  // silently mean "no jail" or "stay root".
  if (config.nopriv_user === null) {
    return errorAt(locate('nopriv_user'), 'nopriv_user', 'must name an unprivileged user');
  }
  const dir = config.secure_chroot_dir;
  if (dir === null) {
    return errorAt(locate('secure_chroot_dir'), 'secure_chroot_dir', 'must name an empty directory');
  }
  // SECURITY: a relative jail would depend on the daemon's working directory.
  if (!path.isAbsolute(dir)) {
    return errorAt(locate('secure_chroot_dir'), 'secure_chroot_dir', `${quote(dir)} is not an absolute path`);
  }
  let isDirectory: boolean;
  try {
    isDirectory = fs.statSync(dir).isDirectory();
  } catch {
    return errorAt(
      locate('secure_chroot_dir'),
      'secure_chroot_dir',
      `directory ${quote(dir)} does not exist (create an empty directory owned by root and not writable by others)`,
    );
  }
  if (!isDirectory) {
    return errorAt(locate('secure_chroot_dir'), 'secure_chroot_dir', `${quote(dir)} is not a directory`);
  }
  return null;
}

/** The first semantic error in `config`, or null. */
export function validateConfig(config: Config, locate: Locate): ConfigError | null {
  return (
    checkRanges(config, locate) ??
    checkListen(config, locate) ??
    checkPasvRange(config, locate) ??
    checkPrivsepSettings(config, locate)
  );
}
