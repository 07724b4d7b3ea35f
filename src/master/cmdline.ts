/*
 * The command line, as vsftpd's: tsftpd [-v] [-oname=value ...] [CONFIG].
 * -o overrides apply after the file, in the order given.
 */

export const DEFAULT_CONFIG_FILE = '/etc/tsftpd.conf';

export type CommandLine =
  | { readonly kind: 'version' }
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly configFile: string; readonly overrides: readonly string[] }
  | { readonly kind: 'check'; readonly configFile: string; readonly overrides: readonly string[] }
  | { readonly kind: 'error'; readonly message: string };

export const USAGE = `usage: tsftpd [-v] [-oname=value ...] [CONFIG]
       tsftpd --check-config [-oname=value ...] [CONFIG]
       tsftpd user [-f FILE | -c CONFIG] add|passwd|del|list [NAME] [option=value ...]`;

export function parseCommandLine(argv: readonly string[]): CommandLine {
  const overrides: string[] = [];
  let configFile: string | null = null;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-v' || a === '--version') return { kind: 'version' };
    if (a === '-h' || a === '--help') return { kind: 'help' };
    if (a === '--check-config' || a === '-t') {
      check = true;
      continue;
    }
    if (a.startsWith('-o')) {
      // "-oname=value" as vsftpd; "-o name=value" is accepted too.
      const value = a.length > 2 ? a.slice(2) : argv[++i];
      if (value === undefined || value === '') return { kind: 'error', message: `-o needs name=value\n${USAGE}` };
      overrides.push(value);
      continue;
    }
    if (a.startsWith('-')) return { kind: 'error', message: `unknown option ${a}\n${USAGE}` };
    if (configFile !== null) return { kind: 'error', message: `more than one config file given\n${USAGE}` };
    configFile = a;
  }
  return { kind: check ? 'check' : 'run', configFile: configFile ?? DEFAULT_CONFIG_FILE, overrides };
}
