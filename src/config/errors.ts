// Configuration errors are values, not exceptions: the master decides whether
// an error is fatal (startup) or only logged (SIGHUP reload, per-user file).

export interface ConfigError {
  /** The config file path, `command line (-o #N)`, or `(default)` for a compiled-in value. */
  readonly file: string;
  /** 1-based line number; 0 for a compiled-in default; null when there is no line (file-level errors, -o). */
  readonly line: number | null;
  /** The option concerned, or null for file-level errors. */
  readonly option: string | null;
  readonly message: string;
}

export function configError(
  file: string,
  line: number | null,
  option: string | null,
  message: string,
): ConfigError {
  return Object.freeze({ file, line, option, message });
}

// SECURITY: file names, option names and values quoted in messages come from
// the file being rejected; escape control characters so that a message is
// always exactly one line of a log and cannot forge further log lines or
// drive a terminal.
function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** `tsftpd: <file>:<line>: <option>: <message>` on one line; `:<line>` and `<option>: ` are left out when null. */
export function formatConfigError(e: ConfigError): string {
  const where = e.line === null ? e.file : `${e.file}:${e.line}`;
  const option = e.option === null ? '' : `${e.option}: `;
  return escapeControl(`tsftpd: ${where}: ${option}${e.message}`);
}

/** Quote a value from the file for a message: JSON quoting shows trailing spaces and stray characters. */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}...` : value;
  return JSON.stringify(shown);
}
