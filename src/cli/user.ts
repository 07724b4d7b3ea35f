/*
 * `tsftpd user`: manage the built-in virtual users (virtual_users_file).
 *
 *   tsftpd user [-f FILE | -c CONFIG] add NAME [option=value ...]
 *   tsftpd user [-f FILE | -c CONFIG] passwd NAME
 *   tsftpd user [-f FILE | -c CONFIG] del NAME
 *   tsftpd user [-f FILE | -c CONFIG] list
 *
 * SECURITY: a password never comes from the command line (it would show in
 * ps and shell history): it is typed at a prompt without echo, or read from
 * standard input when that is not a terminal. The file is replaced
 * atomically, mode 0600, owned by root.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../config/options';
import { loadConfigFile, formatConfigError, parseConfigText } from '../config/parse';
import { DEFAULT_CONFIG_FILE } from '../master/cmdline';
import { crypt, cryptGenSalt } from '../sys/native';
import { formatUserFile, parseUserFile, validVirtualName, type VirtualUser } from '../userdb/format';

const USAGE = `usage: tsftpd user [-f FILE | -c CONFIG] add NAME [option=value ...]
       tsftpd user [-f FILE | -c CONFIG] passwd NAME
       tsftpd user [-f FILE | -c CONFIG] del NAME
       tsftpd user [-f FILE | -c CONFIG] list`;

class CliError extends Error {}

function readUsers(file: string): VirtualUser[] {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`${file}: ${(e as Error).message}`);
  }
  const parsed = parseUserFile(text);
  if (!parsed.ok) throw new CliError(`${file}:${parsed.line}: ${parsed.message}`);
  return [...parsed.users];
}

function writeUsers(file: string, users: readonly VirtualUser[]): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.writeSync(fd, formatUserFile(users));
    fs.fchownSync(fd, 0, 0);
    fs.fchmodSync(fd, 0o600);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Hold an exclusive lock file while reading-modifying-writing. */
function withLock<T>(file: string, fn: () => T): T {
  const lock = `${file}.lock`;
  let fd: number;
  try {
    fd = fs.openSync(lock, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch {
    throw new CliError(`${lock} exists: another tsftpd user command is running (remove the file if not)`);
  }
  try {
    return fn();
  } finally {
    fs.closeSync(fd);
    fs.unlinkSync(lock);
  }
}

/*
 * Password input. Not a TTY: lines from stdin. A TTY: echo is switched off
 * (raw mode) BEFORE the prompt is written — as getpass(3) — so a password
 * typed the moment the prompt appears is never echoed. Input is kept across
 * prompts, so "pw<Enter>pw<Enter>" pasted at once answers both.
 */
class PasswordReader {
  private buffered = '';
  private ended = false;
  private waiter: (() => void) | null = null;
  private started = false;

  private start(): void {
    if (this.started) return;
    this.started = true;
    const stdin = process.stdin;
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', (b: Buffer) => {
      this.buffered += b.toString('utf8');
      this.wake();
    });
    stdin.on('end', () => {
      this.ended = true;
      this.wake();
    });
    stdin.resume();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async line(prompt: string): Promise<string> {
    const tty = process.stdin.isTTY === true;
    this.start();
    if (tty) process.stderr.write(prompt);
    for (;;) {
      const m = /\r\n|\r|\n|\u0003/.exec(this.buffered);
      if (m !== null) {
        if (m[0] === '\u0003') {
          this.close();
          process.exit(130);
        }
        const raw = this.buffered.slice(0, m.index);
        this.buffered = this.buffered.slice(m.index + m[0].length);
        if (tty) process.stderr.write('\n');
        // Backspace (DEL) edits the line, as a terminal in cooked mode would.
        let value = '';
        for (const ch of raw) value = ch === '\u007f' ? value.slice(0, -1) : value + ch;
        return value;
      }
      if (this.ended) {
        const rest = this.buffered;
        this.buffered = '';
        return rest;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  close(): void {
    const stdin = process.stdin;
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  }
}

async function readPassword(prompt: string, confirm: boolean): Promise<string> {
  const reader = new PasswordReader();
  try {
    const first = await reader.line(prompt);
    // Confirmation only at a terminal; a script gives the password once.
    if (confirm && process.stdin.isTTY === true && (await reader.line('Retype password: ')) !== first) {
      throw new CliError('passwords do not match');
    }
    return first;
  } finally {
    reader.close();
  }
}

function hashPassword(password: string): string {
  if (password.length === 0) throw new CliError('empty password refused');
  if (Buffer.byteLength(password) > 128) throw new CliError('password longer than 128 bytes (FTP limit)');
  const salt = cryptGenSalt('$y$', 0);
  const hash = salt === null ? null : crypt(password, salt);
  if (hash === null) throw new CliError('crypt(3) failed to hash the password');
  return hash;
}

/** The file named by -c CONFIG's (or /etc/tsftpd.conf's) virtual_users_file. */
function fileFromConfig(args: string[]): string {
  let config = DEFAULT_CONFIG_FILE;
  if (args[0] === '-c' && args[1] !== undefined) {
    config = args[1];
    args.splice(0, 2);
  }
  const loaded = loadConfigFile(config, []);
  if (!loaded.ok) throw new CliError(formatConfigError(loaded.error));
  if (loaded.config.virtual_users_file === null) throw new CliError(`${config}: virtual_users_file is not set; use -f FILE`);
  return loaded.config.virtual_users_file;
}

async function run(argv: readonly string[]): Promise<void> {
  const args = [...argv];
  let file: string;
  if (args[0] === '-f') {
    const f = args[1];
    if (f === undefined) throw new CliError(USAGE);
    file = path.resolve(f);
    args.splice(0, 2);
  } else {
    file = fileFromConfig(args);
  }
  const [verb, name, ...options] = args;
  if (verb === 'list') {
    for (const u of readUsers(file)) process.stdout.write(`${[u.name, ...u.options].join(' ')}\n`);
    return;
  }
  if (verb === undefined || name === undefined) throw new CliError(USAGE);
  if (!validVirtualName(name)) throw new CliError(`invalid user name ${JSON.stringify(name)}`);
  for (const o of options) {
    if (verb !== 'add' || !/^[a-z0-9_]+=[^:\n]*$/.test(o)) throw new CliError(`invalid option ${JSON.stringify(o)}\n${USAGE}`);
  }
  // SECURITY/usability: per-user options are checked now with the daemon's
  // strict parser, so a typo (or a secret passed as "password=...") is
  // refused here instead of being stored and failing every login.
  if (options.length > 0) {
    const checked = parseConfigText(options.join('\n') + '\n', 'command line', DEFAULT_CONFIG);
    if (!checked.ok) throw new CliError(formatConfigError(checked.error));
  }
  switch (verb) {
    case 'add': {
      if (readUsers(file).some((u) => u.name === name)) throw new CliError(`user ${name} exists`);
      const hash = hashPassword(await readPassword(`Password for ${name}: `, true));
      withLock(file, () => {
        const users = readUsers(file);
        if (users.some((u) => u.name === name)) throw new CliError(`user ${name} exists`);
        writeUsers(file, [...users, { name, hash, options }]);
      });
      process.stderr.write(`tsftpd: user ${name} added to ${file}\n`);
      return;
    }
    case 'passwd': {
      if (!readUsers(file).some((u) => u.name === name)) throw new CliError(`no user ${name}`);
      const hash = hashPassword(await readPassword(`New password for ${name}: `, true));
      withLock(file, () => {
        const users = readUsers(file);
        const i = users.findIndex((u) => u.name === name);
        const old = users[i];
        if (old === undefined) throw new CliError(`no user ${name}`);
        users[i] = { ...old, hash };
        writeUsers(file, users);
      });
      process.stderr.write(`tsftpd: password of ${name} changed\n`);
      return;
    }
    case 'del': {
      withLock(file, () => {
        const users = readUsers(file);
        if (!users.some((u) => u.name === name)) throw new CliError(`no user ${name}`);
        writeUsers(file, users.filter((u) => u.name !== name));
      });
      process.stderr.write(`tsftpd: user ${name} deleted\n`);
      return;
    }
    default:
      throw new CliError(USAGE);
  }
}

export async function userCommand(argv: readonly string[]): Promise<number> {
  try {
    await run(argv);
    return 0;
  } catch (e: unknown) {
    process.stderr.write(`tsftpd user: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof CliError ? 2 : 1;
  }
}
