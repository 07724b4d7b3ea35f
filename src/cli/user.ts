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
import { loadConfigFile, formatConfigError } from '../config/parse';
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

/** One line from a non-terminal stdin, or a no-echo prompt on a terminal. */
async function readPassword(prompt: string, confirm: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    const first = Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? '';
    return first.replace(/\r$/, '');
  }
  const ask = (text: string): Promise<string> =>
    new Promise((resolve) => {
      process.stderr.write(text);
      stdin.setRawMode(true);
      stdin.resume();
      let value = '';
      const onData = (b: Buffer): void => {
        for (const ch of b.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.setRawMode(false);
            stdin.pause();
            stdin.removeListener('data', onData);
            process.stderr.write('\n');
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            stdin.setRawMode(false);
            process.exit(130);
          }
          if (ch === '\u007f') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  const first = await ask(prompt);
  if (confirm && (await ask('Retype password: ')) !== first) throw new CliError('passwords do not match');
  return first;
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
