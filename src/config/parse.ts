// vsftpd.conf parser.
//
// Follows vsftpd 3.0.3's parseconf.c (line syntax, value syntax, later lines
// win, -o overrides) but refuses, with a file:line message, everything that
// vsftpd silently accepts or silently turns into 0. Nothing here throws: all
// failures come back as a ConfigError value.

import * as fs from 'node:fs';
import { type ConfigError, configError, quote } from './errors';
import {
  type Config,
  type OptionName,
  type TableOption,
  DEFAULT_CONFIG,
  IMPLEMENTED_OPTIONS,
  NUM_MAX,
  OPTION_NAMES,
  findOption,
  freezeConfig,
  isOptionName,
} from './options';
import { type Assignment, validateConfig } from './validate';

export type { ConfigError } from './errors';
export { formatConfigError } from './errors';

/** vsftpd's VSFTP_CONF_FILE_MAX. */
export const CONFIG_FILE_MAX_BYTES = 100_000;

export interface SetLocation {
  readonly file: string;
  /** null for -o overrides. */
  readonly line: number | null;
}

export type LoadResult =
  | { readonly ok: true; readonly config: Config; readonly set: ReadonlyMap<string, SetLocation> }
  | { readonly ok: false; readonly error: ConfigError };

export type ReadResult =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly error: ConfigError; readonly notFound: boolean };

type ConfigValue = Config[OptionName];

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ConfigError };

// ---------------------------------------------------------------------------
// Reading the file

function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

function describeOsError(e: unknown): string {
  switch (errnoCode(e)) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a path component is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

function describeFileType(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

function readFailure(file: string, message: string, notFound = false): ReadResult {
  return { ok: false, error: configError(file, null, null, message), notFound };
}

/**
 * Decode as UTF-8, refusing invalid sequences with the line they are on
 * (a Latin-1 path would otherwise silently become U+FFFD and name another file).
 */
function decodeUtf8(buf: Buffer, file: string): ReadResult {
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(buf) };
  } catch {
    let line = 1;
    let start = 0;
    for (;;) {
      const end = buf.indexOf(0x0a, start);
      const chunk = buf.subarray(start, end === -1 ? buf.length : end);
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(chunk);
      } catch {
        return { ok: false, error: configError(file, line, null, 'not valid UTF-8'), notFound: false };
      }
      if (end === -1) break;
      start = end + 1;
      line++;
    }
    return readFailure(file, 'not valid UTF-8');
  }
}

/**
 * Read a config file after the checks vsftpd makes (regular file, owned by
 * the required uid, at most 100,000 bytes) plus one of ours (not writable by
 * group or others). Exported for per-user config files, where a missing file
 * is not an error: see `notFound`.
 */
export function readConfigFile(file: string, requiredOwnerUid: number): ReadResult {
  let fd: number;
  try {
    // Symlinks are followed, as in vsftpd (stat, not lstat): /etc/vsftpd.conf
    // pointing into /etc/vsftpd/ is common. The checks below use fstat on the
    // open descriptor, so they apply to exactly the file that is read.
    // SECURITY: O_NONBLOCK so that a FIFO at the path cannot hang startup
    // (it is then refused as not a regular file); O_NOCTTY so that a tty
    // device can never become our controlling terminal.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e: unknown) {
    return readFailure(file, `cannot read config file: ${describeOsError(e)}`, errnoCode(e) === 'ENOENT');
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      return readFailure(file, `config file is ${describeFileType(st)}, not a regular file`);
    }
    // SECURITY: whoever owns the file controls the daemon (chroot, users,
    // uploads). vsftpd requires the running uid; we are always root.
    if (st.uid !== requiredOwnerUid) {
      return readFailure(file, `config file is owned by uid ${st.uid}; it must be owned by uid ${requiredOwnerUid}`);
    }
    // SECURITY: beyond vsftpd: a root daemon's config writable by a group or
    // by everyone is as good as owned by them. Refuse rather than warn.
    if ((st.mode & 0o022) !== 0) {
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      return readFailure(
        file,
        `config file is writable by group or others (mode ${mode}); fix with: chmod go-w ${file}`,
      );
    }
    if (st.size > CONFIG_FILE_MAX_BYTES) {
      return readFailure(file, `config file is ${st.size} bytes; the limit is ${CONFIG_FILE_MAX_BYTES}`);
    }
    // Read one byte more than allowed so that a file that grew after fstat is
    // caught too, and never read an unbounded amount.
    const buf = Buffer.alloc(CONFIG_FILE_MAX_BYTES + 1);
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
      if (total === buf.length) {
        return readFailure(file, `config file is larger than the limit of ${CONFIG_FILE_MAX_BYTES} bytes`);
      }
    }
    return decodeUtf8(buf.subarray(0, total), file);
  } catch (e: unknown) {
    return readFailure(file, `cannot read config file: ${describeOsError(e)}`);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Parsing one setting

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest option name within edit distance 2 (case-insensitively), for "did you mean". */
export function suggestOption(name: string): OptionName | null {
  const lower = name.toLowerCase();
  let best: OptionName | null = null;
  let bestDistance = 3;
  for (const candidate of OPTION_NAMES) {
    // Cheap bound: lengths differing by more than the budget cannot match.
    if (Math.abs(candidate.length - lower.length) >= bestDistance) continue;
    const d = levenshtein(lower, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

// vsftpd's isspace(): space, \t, \n, \v, \f, \r.
const SPACE = /[ \t\n\v\f\r]/;
const ALL_SPACE = /^[ \t\n\v\f\r]*$/;
const LEADING_SPACE = /^[ \t\n\v\f\r]+/;
// Control characters other than tab. A stray \r or ESC in a banner or path
// is never intended and would end up in replies, logs or file names.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

const TRUE_WORDS: ReadonlySet<string> = new Set(['YES', 'TRUE', '1']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['NO', 'FALSE', '0']);

function shownName(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}...` : name;
}

type ValueResult = { readonly ok: true; readonly value: ConfigValue } | { readonly ok: false; readonly message: string };

function parseBool(value: string): ValueResult {
  const upper = value.toUpperCase();
  if (TRUE_WORDS.has(upper)) return { ok: true, value: true };
  if (FALSE_WORDS.has(upper)) return { ok: true, value: false };
  return { ok: false, message: `bad boolean value ${quote(value)}: expected YES or NO (or TRUE, FALSE, 1, 0)` };
}

// Deviation from vsftpd: it converts with atoi()/its own octal loop and so
// turns "", "-1", "10k" or "2O" into some number without a word (0, 2^32-1,
// 10, 2). A limit or timeout silently becoming 0 can mean "unlimited", so we
// refuse anything that is not exactly a number.
function parseNum(value: string): ValueResult {
  let n: number;
  if (/^0[0-7]*$/.test(value)) {
    n = Number.parseInt(value, 8); // a leading 0 means octal, as in vsftpd: 022 is 18
  } else if (/^[1-9][0-9]*$/.test(value)) {
    n = Number.parseInt(value, 10);
  } else if (/^0[0-9]+$/.test(value)) {
    return { ok: false, message: `bad number ${quote(value)}: a leading 0 means octal, and 8 and 9 are not octal digits` };
  } else {
    return { ok: false, message: `bad number ${quote(value)}: expected decimal digits, or octal digits after a leading 0` };
  }
  if (n > NUM_MAX) return { ok: false, message: `number ${quote(value)} is too large (maximum ${NUM_MAX})` };
  return { ok: true, value: n };
}

function parseValue(spec: TableOption, value: string): ValueResult {
  switch (spec.kind) {
    case 'str':
      // Verbatim, spaces included (vsftpd 3.0.3 does not trim); empty unsets.
      return { ok: true, value: value === '' ? null : value };
    case 'bool':
      return value === '' ? { ok: false, message: 'missing value' } : parseBool(value);
    case 'num':
      return value === '' ? { ok: false, message: 'missing value' } : parseNum(value);
  }
}

interface Setting {
  readonly name: OptionName;
  readonly value: ConfigValue;
}

/** Parse one `name=value` setting (a file line without its comment/blank handling, or an -o argument). */
function parseSetting(text: string, file: string, line: number | null): Parsed<Setting> {
  const fail = (option: string | null, message: string): Parsed<Setting> => ({
    ok: false,
    error: configError(file, line, option === null ? null : shownName(option), message),
  });
  // vsftpd skips leading white space before the name; so do we.
  const body = text.replace(LEADING_SPACE, '');
  if (body.startsWith('#')) {
    // vsftpd also rejects this (it reports an unrecognised variable).
    return fail(null, 'comments must start in the first column');
  }
  const control = CONTROL.exec(body);
  if (control !== null) {
    const code = control[0].charCodeAt(0).toString(16).padStart(2, '0');
    return fail(null, `line contains control character 0x${code}`);
  }
  const eq = body.indexOf('=');
  if (eq === -1) {
    return fail(body.trimEnd(), 'missing value (expected name=value)');
  }
  const name = body.slice(0, eq);
  const value = body.slice(eq + 1);
  const spec = findOption(name);
  if (spec === undefined) {
    const trimmed = name.trimEnd();
    if ((SPACE.test(name) || SPACE.test(value.charAt(0))) && findOption(trimmed) !== undefined) {
      return fail(trimmed, `no spaces allowed around '=' (write ${trimmed}=value)`);
    }
    if (name === '') return fail(null, 'missing option name before =');
    const suggestion = suggestOption(name);
    return fail(name, suggestion === null ? 'unrecognised option' : `unrecognised option; did you mean ${suggestion}?`);
  }
  const parsed = parseValue(spec, value);
  if (!parsed.ok) return fail(spec.name, parsed.message);
  return { ok: true, value: { name: spec.name, value: parsed.value } };
}

// ---------------------------------------------------------------------------
// Building a configuration

const DEFAULT_ASSIGNMENT: Assignment = Object.freeze({ file: '(default)', line: 0, seq: -1 });

/** A configuration under construction: values plus where each one was set. */
class ConfigBuilder {
  private readonly values: Record<OptionName, ConfigValue>;
  private readonly assigned = new Map<OptionName, Assignment>();
  private seq = 0;

  constructor(
    private readonly base: Config,
    private readonly baseSet: ReadonlyMap<string, SetLocation>,
  ) {
    this.values = { ...base };
  }

  set(setting: Setting, file: string, line: number | null): void {
    this.values[setting.name] = setting.value;
    // Re-insert so that the map's iteration order is the order of last assignment.
    this.assigned.delete(setting.name);
    this.assigned.set(setting.name, { file, line, seq: this.seq++ });
  }

  /** Parse a whole file's text. Returns the first error, or null. */
  applyText(text: string, file: string): ConfigError | null {
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      let raw = lines[i] ?? '';
      if (raw.endsWith('\r')) raw = raw.slice(0, -1); // CRLF files
      if (raw.startsWith('#') || ALL_SPACE.test(raw)) continue;
      const parsed = parseSetting(raw, file, i + 1);
      if (!parsed.ok) return parsed.error;
      this.set(parsed.value, file, i + 1);
    }
    return null;
  }

  /** Apply `-oname=value` arguments (with or without the `-o`), in order. */
  applyOverrides(overrides: readonly string[]): ConfigError | null {
    for (let i = 0; i < overrides.length; i++) {
      const arg = overrides[i] ?? '';
      const file = `command line (-o #${i + 1})`;
      const parsed = parseSetting(arg.startsWith('-o') ? arg.slice(2) : arg, file, null);
      if (!parsed.ok) return parsed.error;
      this.set(parsed.value, file, null);
    }
    return null;
  }

  private locate(name: OptionName): Assignment {
    const own = this.assigned.get(name);
    if (own !== undefined) return own;
    const inherited = this.baseSet.get(name);
    if (inherited !== undefined) return { ...inherited, seq: -1 };
    if (this.base[name] === DEFAULT_CONFIG[name]) return DEFAULT_ASSIGNMENT;
    return { file: '(base config)', line: null, seq: -1 };
  }

  finish(): LoadResult {
    const config = freezeConfig(this.values);
    const error = validateConfig(config, (name) => this.locate(name));
    if (error !== null) return { ok: false, error };
    const set = new Map<string, SetLocation>(this.baseSet);
    for (const [name, where] of this.assigned) {
      set.delete(name);
      set.set(name, Object.freeze({ file: where.file, line: where.line }));
    }
    return { ok: true, config, set };
  }
}

// ---------------------------------------------------------------------------
// Public entry points

/**
 * Load the main config file, then apply `-o` overrides in order, then run the
 * semantic checks. `set` maps every option the file or the overrides set to
 * where it was last set, in order of last assignment.
 */
export function loadConfigFile(
  file: string,
  overrides: readonly string[],
  opts: { readonly requiredOwnerUid?: number } = {},
): LoadResult {
  const owner = opts.requiredOwnerUid ?? process.getuid?.() ?? 0;
  const read = readConfigFile(file, owner);
  if (!read.ok) return { ok: false, error: read.error };
  const builder = new ConfigBuilder(DEFAULT_CONFIG, new Map());
  const error = builder.applyText(read.text, file) ?? builder.applyOverrides(overrides);
  if (error !== null) return { ok: false, error };
  return builder.finish();
}

/**
 * Parse config text on top of `base` with the same rules (for per-user config
 * files). `baseSet` (the base's own `set`) lets errors about inherited values
 * point at the line that set them; the result's `set` includes it.
 */
export function parseConfigText(
  text: string,
  file: string,
  base: Config,
  baseSet: ReadonlyMap<string, SetLocation> = new Map(),
): LoadResult {
  const builder = new ConfigBuilder(base, baseSet);
  const error = builder.applyText(text, file);
  if (error !== null) return { ok: false, error };
  return builder.finish();
}

/**
 * One warning line naming every option that was set to a non-default value
 * but that the daemon does not implement yet; null when there are none.
 */
export function unimplementedOptionsWarning(set: ReadonlyMap<string, unknown>, config: Config): string | null {
  const names: string[] = [];
  for (const name of set.keys()) {
    if (!isOptionName(name) || IMPLEMENTED_OPTIONS.has(name)) continue;
    if (config[name] !== DEFAULT_CONFIG[name]) names.push(name);
  }
  if (names.length === 0) return null;
  names.sort();
  return `tsftpd: warning: options parsed but not implemented yet (no effect): ${names.join(', ')}`;
}
