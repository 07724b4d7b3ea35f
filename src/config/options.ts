// The table of every option tsftpd understands in a vsftpd.conf file.
//
// This file is the single source of truth: the `Config` type, DEFAULT_CONFIG
// and OPTION_NAMES are all derived from OPTION_TABLE, so adding an option here
// is the only step needed for the parser to accept it and for the type checker
// to know `config.<name>`.
//
// Defaults are vsftpd 3.0.3's compiled-in values (tunables.c), not the man
// page's, because an admin migrating a config file gets the compiled-in values
// for every option the file does not mention. Where the two differ, the doc
// text says so ("man: ...").

export type OptionKind = 'bool' | 'num' | 'str';

/** Where an option comes from; used by tests and by `tsftpd --help-options`-style listings. */
export type OptionOrigin =
  | 'vsftpd' // upstream vsftpd 3.0.3 (parseconf.c)
  | 'debian' // Debian's vsftpd 3.0.3 patch stack
  | 'later' // vsftpd 3.0.4/3.0.5 or Fedora patches, seen in configs migrated from those
  | 'tsftpd'; // our own

interface OptionBase<N extends string> {
  readonly name: N;
  readonly origin: OptionOrigin;
  /** One line, shown in diagnostics and option listings. */
  readonly doc: string;
}

export interface BoolOption<N extends string = string> extends OptionBase<N> {
  readonly kind: 'bool';
  readonly default: boolean;
}

export interface NumOption<N extends string = string> extends OptionBase<N> {
  readonly kind: 'num';
  readonly default: number;
  /** Inclusive bounds checked after parsing (validate.ts). The parser itself caps at 2^31-1. */
  readonly min: number;
  readonly max: number;
  /** Show the value in octal in messages (umasks and file modes). */
  readonly octal: boolean;
}

export interface StrOption<N extends string = string> extends OptionBase<N> {
  readonly kind: 'str';
  /** null = unset (vsftpd's NULL string tunable). */
  readonly default: string | null;
}

export type OptionSpec = BoolOption | NumOption | StrOption;

/** Largest number the parser accepts (vsftpd stores unsigned int; we stay within a signed 32-bit int). */
export const NUM_MAX = 0x7fffffff;

interface NumBounds {
  readonly min?: number;
  readonly max?: number;
  readonly octal?: boolean;
}

// Helpers keep one option per line. The generic parameter N keeps each name
// as a string literal type, which is what lets `Config` be derived below.
function bool<N extends string>(
  name: N,
  def: boolean,
  doc: string,
  origin: OptionOrigin = 'vsftpd',
): BoolOption<N> {
  return { name, kind: 'bool', default: def, doc, origin };
}

function num<N extends string>(
  name: N,
  def: number,
  doc: string,
  bounds: NumBounds = {},
  origin: OptionOrigin = 'vsftpd',
): NumOption<N> {
  return {
    name,
    kind: 'num',
    default: def,
    doc,
    origin,
    min: bounds.min ?? 0,
    max: bounds.max ?? NUM_MAX,
    octal: bounds.octal ?? false,
  };
}

function str<N extends string>(
  name: N,
  def: string | null,
  doc: string,
  origin: OptionOrigin = 'vsftpd',
): StrOption<N> {
  return { name, kind: 'str', default: def, doc, origin };
}

const PORT = { min: 1, max: 65535 } as const;
// 0 means "not set" for the passive port range (vsftpd then uses 1024..65535).
const PORT_OR_ZERO = { min: 0, max: 65535 } as const;
// SECURITY: a umask or creation mode with bits above 0777 would smuggle
// setuid/setgid/sticky bits onto uploaded files.
const MODE = { min: 0, max: 0o777, octal: true } as const;

export const OPTION_TABLE = [
  // ---- vsftpd 3.0.3: server mode and general access -------------------------------
  bool('listen', true, 'run standalone, listening on IPv4 (man: NO; NO and listen_ipv6=NO means inetd mode)'),
  bool('listen_ipv6', false, 'run standalone, listening on IPv6 (:: also accepts IPv4); exclusive with listen'),
  str('listen_address', null, 'IPv4 address to listen on (default: all)'),
  str('listen_address6', null, 'IPv6 address to listen on (default: all)'),
  num('listen_port', 21, 'control connection port', PORT),
  bool('background', false, 'detach from the terminal when started standalone'),
  bool('setproctitle_enable', false, 'show session state in ps output'),
  bool('tcp_wrappers', false, 'check connections with tcp_wrappers (hosts.allow/hosts.deny)'),
  bool('ftp_enable', true, 'serve FTP (undocumented)'),
  bool('http_enable', false, 'experimental HTTP GET over the control socket, needs one_process_model (undocumented)'),
  bool('local_enable', false, 'allow logins by local (PAM) users; also needed for virtual users'),
  bool('anonymous_enable', true, 'allow anonymous logins as ftp/anonymous (Debian man: NO)'),
  bool('write_enable', false, 'allow STOR, STOU, APPE, DELE, RNFR/RNTO, MKD, RMD, SITE'),
  bool('download_enable', true, 'NO denies every download (RETR)'),
  bool('dirlist_enable', true, 'NO denies directory listings (LIST, NLST, STAT path)'),
  bool('chmod_enable', true, 'allow SITE CHMOD for local users'),
  str('cmds_allowed', null, 'comma-separated list of the only commands allowed after login'),
  str('cmds_denied', null, 'comma-separated list of commands denied after login (wins over cmds_allowed)'),
  str('deny_file', null, 'pattern of names that cannot be accessed at all (not for serious access control)'),
  str('hide_file', null, 'pattern of names hidden from listings (still accessible)'),
  bool('userlist_enable', false, 'check userlist_file before asking for the password'),
  bool('userlist_deny', true, 'userlist_file lists denied users; NO makes it the list of the only allowed users'),
  str('userlist_file', '/etc/vsftpd.user_list', 'file of user names for userlist_enable'),
  str('pam_service_name', 'ftp', 'PAM service used to authenticate local users (Debian: vsftpd)'),
  bool('check_shell', true, 'non-PAM builds: require the user shell to be listed in /etc/shells'),
  bool('session_support', false, 'open a PAM session and write utmp/wtmp (keeps a root process per session)'),
  bool('tilde_user_enable', false, 'resolve ~user paths (needs /etc/passwd inside the chroot)'),
  bool('use_localtime', false, 'use local time instead of GMT in listings and MDTM'),
  bool('text_userdb_names', false, 'show user and group names instead of numeric ids in listings'),
  bool('hide_ids', false, 'show every file as owned by user and group ftp in listings'),
  bool('force_dot_files', false, 'list dot files even without -a'),
  bool('ls_recurse_enable', false, 'allow ls -R'),
  bool('mdtm_write', true, 'allow MDTM with a time argument to set a file modification time'),
  bool('lock_upload_files', true, 'take a write lock on uploads and a read lock on downloads'),
  bool('ascii_upload_enable', false, 'honour ASCII mode (CRLF conversion) on uploads'),
  bool('ascii_download_enable', false, 'honour ASCII mode (CRLF conversion) on downloads'),
  bool('async_abor_enable', false, 'handle urgent (out-of-band) ABOR during transfers'),
  bool('use_sendfile', true, 'use sendfile() for downloads'),
  num('file_open_mode', 0o666, 'permissions of created files, before the umask', MODE),
  bool('delete_failed_uploads', false, 'delete partially uploaded files'),

  // ---- vsftpd 3.0.3: anonymous users ------------------------------------------------
  str('ftp_username', 'ftp', 'system user for anonymous sessions; its home is the anonymous root'),
  str('anon_root', null, 'directory to change into after an anonymous login'),
  bool('anon_upload_enable', false, 'allow anonymous STOR/STOU (needs write_enable); also governs virtual users'),
  bool('anon_mkdir_write_enable', false, 'allow anonymous MKD (needs write_enable)'),
  bool('anon_other_write_enable', false, 'allow anonymous DELE, RMD, RNFR/RNTO, APPE, overwrite and MDTM set'),
  bool('anon_world_readable_only', true, 'anonymous users may only download world-readable files'),
  num('anon_umask', 0o77, 'umask for files created by anonymous users', MODE),
  num('anon_max_rate', 0, 'transfer rate limit for anonymous users in bytes/s (0: none)'),
  bool('no_anon_password', false, 'do not ask anonymous users for a password'),
  bool('deny_email_enable', false, 'reject anonymous passwords listed in banned_email_file'),
  str('banned_email_file', '/etc/vsftpd.banned_emails', 'list of refused anonymous passwords'),
  bool('secure_email_list_enable', false, 'accept only the anonymous passwords listed in email_password_file'),
  str('email_password_file', '/etc/vsftpd.email_passwords', 'list of accepted anonymous passwords'),
  bool('chown_uploads', false, 'give anonymous uploads to chown_username'),
  str('chown_username', 'root', 'owner of anonymous uploads when chown_uploads=YES'),
  num('chown_upload_mode', 0o600, 'mode forced on chowned anonymous uploads', MODE),

  // ---- vsftpd 3.0.3: local users ---------------------------------------------------
  num('local_umask', 0o77, 'umask for files created by local users (sample config: 022)', MODE),
  str('local_root', null, 'directory to change into after a local login (user_sub_token is expanded)'),
  num('local_max_rate', 0, 'transfer rate limit for local users in bytes/s (0: none)'),
  bool('passwd_chroot_enable', false, 'with chroot, jail at the part of the home path before /./'),

  // ---- vsftpd 3.0.3: virtual users / guest ------------------------------------------
  bool('guest_enable', false, 'map every non-anonymous login to guest_username'),
  str('guest_username', 'ftp', 'real user that guest (virtual) users run as'),
  bool('virtual_use_local_privs', false, 'virtual users get local-user rights instead of anonymous rights'),
  str('user_sub_token', null, 'token (e.g. $USER) replaced by the login name in local_root and guest homes'),

  // ---- vsftpd 3.0.3: chroot and privilege separation --------------------------------
  bool('chroot_local_user', false, 'jail local users in their home directory'),
  bool('chroot_list_enable', false, 'chroot_list_file lists users to jail (or not to jail when chroot_local_user=YES)'),
  str('chroot_list_file', '/etc/vsftpd.chroot_list', 'file of user names for chroot_list_enable'),
  bool('allow_writeable_chroot', false, 'allow a jail root the user can write to, non-anonymous only (undocumented)'),
  str('secure_chroot_dir', '/usr/share/empty', 'empty directory used as the jail of unprivileged helpers (Debian: /var/run/vsftpd/empty)'),
  str('nopriv_user', 'nobody', 'fully unprivileged user for helper processes; use a dedicated user'),
  bool('one_process_model', false, 'one process per session, anonymous only (faster, weaker)'),
  bool('run_as_launching_user', false, 'run as the user who started the daemon, without chroot'),
  bool('isolate', true, 'new PID and IPC namespaces per session (undocumented)'),
  bool('isolate_network', true, 'new empty network namespace for untrusted processes (undocumented)'),
  bool('seccomp_sandbox', true, 'seccomp system call filters for session processes (undocumented)'),
  bool('ptrace_sandbox', false, 'ptrace-based sandbox, one_process_model on 32-bit only (undocumented)'),

  // ---- vsftpd 3.0.3: data connections ------------------------------------------------
  bool('pasv_enable', true, 'allow PASV and EPSV'),
  bool('port_enable', true, 'allow PORT and EPRT'),
  bool('pasv_promiscuous', false, 'skip the check that a PASV data connection comes from the control peer'),
  bool('port_promiscuous', false, 'skip the PORT/EPRT target address and privileged-port checks'),
  bool('connect_from_port_20', false, 'make PORT data connections from ftp_data_port (sample config: YES)'),
  num('ftp_data_port', 20, 'source port of PORT data connections when connect_from_port_20=YES', PORT),
  // vsftpd 3.0.3's tunables.c compiles in 5001 (the man page says 0).
  num('pasv_min_port', 5001, 'lowest port for passive data connections (man: 0)', PORT_OR_ZERO),
  num('pasv_max_port', 0, 'highest port for passive data connections (0: not set, i.e. 65535)', PORT_OR_ZERO),
  str('pasv_address', null, 'IPv4 address to advertise in PASV replies (default: the control connection address)'),
  bool('pasv_addr_resolve', false, 'pasv_address is a host name, resolved once at start'),
  num('accept_timeout', 60, 'seconds to wait for the client to open a passive data connection'),
  num('connect_timeout', 60, 'seconds to wait for a PORT data connection to be established'),
  num('data_connection_timeout', 300, 'seconds a data transfer may stall'),
  num('trans_chunk_size', 0, 'transfer chunk size in bytes (0: 64 KiB); smaller makes rate limits smoother'),

  // ---- vsftpd 3.0.3: SSL / TLS ------------------------------------------------------
  bool('ssl_enable', false, 'enable FTPS (AUTH TLS)'),
  bool('implicit_ssl', false, 'start TLS immediately on connect (implicit FTPS)'),
  bool('allow_anon_ssl', false, 'allow anonymous users to use TLS'),
  bool('force_anon_logins_ssl', false, 'anonymous logins must use TLS'),
  bool('force_anon_data_ssl', false, 'anonymous data connections must use TLS'),
  bool('force_local_logins_ssl', true, 'non-anonymous logins must use TLS'),
  bool('force_local_data_ssl', true, 'non-anonymous data connections must use TLS'),
  bool('ssl_sslv2', false, 'allow SSLv2 (tsftpd never offers it: YES only warns at start)'),
  bool('ssl_sslv3', false, 'allow SSLv3 (tsftpd never offers it: YES only warns at start)'),
  bool('ssl_tlsv1', true, 'allow TLS at all (tsftpd offers TLS 1.2 and 1.3, narrowed by ssl_tlsv1_2/_3 and ssl_min_version/ssl_max_version)'),
  str('ssl_ciphers', 'ECDHE-RSA-AES256-GCM-SHA384', 'OpenSSL cipher list for TLS 1.2; TLS 1.3 suites keep their defaults unless TLS_* names are listed (man: DES-CBC3-SHA)'),
  str('rsa_cert_file', '/usr/share/ssl/certs/vsftpd.pem', 'certificate (chain) file, read by master as root at start and on SIGHUP'),
  str('rsa_private_key_file', null, 'private key file (default: rsa_cert_file, one combined PEM)'),
  str('dsa_cert_file', null, 'DSA certificate file'),
  str('dsa_private_key_file', null, 'DSA private key file'),
  str('ca_certs_file', null, 'CA certificates for client certificate validation (needed by validate_cert)'),
  bool('ssl_request_cert', true, 'ask clients for a certificate'),
  bool('require_cert', false, 'clients must present a certificate'),
  bool('validate_cert', false, 'client certificates must verify against ca_certs_file'),
  bool('require_ssl_reuse', true, 'data connections must resume the control connection TLS session'),
  bool('strict_ssl_read_eof', true, 'TLS uploads must end with close_notify (man: NO)'),
  bool('strict_ssl_write_shutdown', false, 'TLS downloads must end with a TLS shutdown'),
  bool('debug_ssl', false, 'log every TLS handshake (protocol, cipher, resumption, ALPN, SNI, client certificate) as a JSON event'),

  // ---- vsftpd 3.0.3: limits and timeouts --------------------------------------------
  num('max_clients', 2000, 'maximum concurrent sessions, standalone mode (0: no limit) (man: 0)'),
  num('max_per_ip', 50, 'maximum concurrent sessions per client address, standalone mode (0: no limit) (man: 0)'),
  num('max_login_fails', 3, 'failed logins before the connection is closed'),
  num('delay_failed_login', 1, 'seconds to wait before reporting a failed login'),
  num('delay_successful_login', 0, 'seconds to wait before accepting a successful login'),
  num('idle_session_timeout', 300, 'seconds allowed between commands'),

  // ---- vsftpd 3.0.3: logging ---------------------------------------------------------
  bool('xferlog_enable', false, 'write a transfer log (sample config: YES)'),
  bool('xferlog_std_format', false, 'write the log in wu-ftpd xferlog format to xferlog_file'),
  str('xferlog_file', '/var/log/xferlog', 'wu-ftpd format transfer log file'),
  str('vsftpd_log_file', '/var/log/vsftpd.log', 'vsftpd format log file'),
  bool('dual_log_enable', false, 'write both the xferlog and the vsftpd log'),
  bool('syslog_enable', false, 'send the vsftpd log to syslog instead of vsftpd_log_file'),
  bool('log_ftp_protocol', false, 'log every command and reply (vsftpd format only)'),
  bool('no_log_lock', false, 'do not lock log files while writing'),

  // ---- vsftpd 3.0.3: messages and banners --------------------------------------------
  str('ftpd_banner', null, 'greeting text (default: "(vsFTPd 3.0.3)"-style version banner)'),
  str('banner_file', null, 'file holding the greeting text (overrides ftpd_banner)'),
  bool('dirmessage_enable', false, 'show message_file on first entry into a directory (sample config: YES)'),
  str('message_file', '.message', 'per-directory message file name'),

  // ---- vsftpd 3.0.3: per-user configuration ------------------------------------------
  str('user_config_dir', null, 'directory of per-user config files named after the login name'),

  // ---- Debian patch -------------------------------------------------------------------
  str('download_file', null, 'pattern that downloaded names must match (Debian)', 'debian'),
  str('upload_file', null, 'pattern that uploaded names must match (Debian)', 'debian'),

  // ---- vsftpd 3.0.4/3.0.5 and Fedora patches -------------------------------------------
  bool('ssl_tlsv1_1', false, 'allow TLS 1.1 (Fedora / 3.0.5; tsftpd never offers it: YES only warns)', 'later'),
  bool('ssl_tlsv1_2', true, 'allow TLS 1.2 (Fedora / 3.0.5)', 'later'),
  bool('ssl_tlsv1_3', true, 'allow TLS 1.3 (Fedora / 3.0.5)', 'later'),
  str('ssl_sni_hostname', null, 'refuse TLS handshakes whose SNI names another host (3.0.5)', 'later'),
  bool('reverse_lookup_enable', true, 'resolve client addresses to names for PAM (Fedora)', 'later'),
  bool('better_stou', false, 'STOU generates random unique file names instead of name.1, name.2 ... (Fedora)', 'later'),
  num('bind_retries', 9, 'attempts to find a free port for a passive data connection (Fedora)', {}, 'later'),
  bool('utf8_filesystem', false, 'names on disk are UTF-8: FEAT lists UTF8 (3.0.5, Debian)', 'later'),
  bool('wc_logs_enable', false, 'log multibyte (UTF-8) characters instead of replacing them, escape the rest in hex (Fedora)', 'later'),

  // ---- tsftpd -------------------------------------------------------------------------
  // Bounded: every ready worker is a live process holding memory; 64 is plenty
  // for a daemon whose accept rate is limited by fork+exec of new workers anyway.
  num('prefork_pool_size', 4, 'number of ready pre-forked workers the master keeps (0: fork on demand)', { min: 0, max: 64 }, 'tsftpd'),
  // A forked copy of a started Node process costs ~1 ms and shares its
  // pages; a Node process started afresh costs ~60 ms and ~10 MiB (issue #8).
  bool('zygote_enable', true, 'fork session workers from one pre-started zygote process instead of starting a Node process for each (read at start-up)', 'tsftpd'),
  bool('ban_enable', true, 'ban client addresses with too many failed logins across sessions (421 at connect)', 'tsftpd'),
  num('ban_max_fails', 10, 'failed logins from one address within ban_window that start a ban (0: never)', { max: 1_000_000 }, 'tsftpd'),
  num('ban_window', 600, 'seconds over which failed logins are counted for a ban', { min: 1 }, 'tsftpd'),
  num('ban_time', 60, 'seconds of the first ban; each repeat offence doubles it', { min: 1 }, 'tsftpd'),
  num('ban_max_time', 86400, 'longest ban in seconds', { min: 1 }, 'tsftpd'),
  bool('metrics_enable', false, 'serve Prometheus metrics on metrics_address:metrics_port/metrics', 'tsftpd'),
  str('metrics_address', '127.0.0.1', 'address of the metrics endpoint (loopback by default)', 'tsftpd'),
  num('metrics_port', 9121, 'port of the metrics endpoint', { min: 1, max: 65535 }, 'tsftpd'),
  str('json_log_file', null, 'structured JSON event log (connect, login, transfer, refused data connection, disconnect)', 'tsftpd'),
  num('shutdown_timeout', 5, 'on SIGTERM, seconds live transfers may take to finish before they are cut', { max: 86400 }, 'tsftpd'),
  num('user_max_rate', 0, 'bytes/s shared by all transfers of one user across sessions (0: no shared limit)', {}, 'tsftpd'),
  str('virtual_users_file', null, 'built-in virtual users: a root-only file of name:hash[:option=value...] lines, managed by `tsftpd user`', 'tsftpd'),
  num('implicit_ssl_port', 0, 'a second listen port whose connections start TLS at once (implicit FTPS, e.g. 990) beside listen_port; 0: none', PORT_OR_ZERO, 'tsftpd'),
  str('ssl_min_version', 'TLSv1.2', 'lowest TLS version offered: TLSv1.2 or TLSv1.3', 'tsftpd'),
  str('ssl_max_version', 'TLSv1.3', 'highest TLS version offered: TLSv1.2 or TLSv1.3', 'tsftpd'),
] as const;

type TableEntry = (typeof OPTION_TABLE)[number];

interface KindValue {
  readonly bool: boolean;
  readonly num: number;
  readonly str: string | null;
}

/**
 * A fully resolved configuration. Keys are exactly the option names, spelled
 * as in vsftpd.conf, so `config.chroot_local_user` reads like the file.
 * Derived from OPTION_TABLE: the two cannot drift.
 */
export type Config = { readonly [E in TableEntry as E['name']]: KindValue[E['kind']] };

export type OptionName = keyof Config;

/** Option names in table order. */
export const OPTION_NAMES: readonly OptionName[] = Object.freeze(OPTION_TABLE.map((o) => o.name));

/** One entry of OPTION_TABLE, with its name typed as an OptionName. */
export type TableOption = OptionSpec & TableEntry;

const BY_NAME: ReadonlyMap<string, TableOption> = new Map(OPTION_TABLE.map((o): [string, TableOption] => [o.name, o]));

/** The table entry for a name, or undefined for a name that is not an option. */
export function findOption(name: string): TableOption | undefined {
  return BY_NAME.get(name);
}

export function isOptionName(name: string): name is OptionName {
  return BY_NAME.has(name);
}

type ConfigValue = KindValue[OptionKind];

/**
 * Build a frozen Config from a complete name → value record. The one place a
 * plain record becomes a Config: callers (DEFAULT_CONFIG, the parser) only
 * ever fill it from OPTION_TABLE with values of the entry's own kind.
 */
export function freezeConfig(values: Readonly<Record<OptionName, ConfigValue>>): Config {
  return Object.freeze({ ...values }) as Config;
}

function buildDefaults(): Config {
  const values: Partial<Record<OptionName, ConfigValue>> = {};
  for (const option of OPTION_TABLE) {
    values[option.name] = option.default;
  }
  return freezeConfig(values as Record<OptionName, ConfigValue>);
}

/** Compiled-in defaults: what a daemon started with an empty config file uses. */
export const DEFAULT_CONFIG: Config = buildDefaults();

// The options the daemon honours today. Anything else parses (so existing
// vsftpd.conf files load) but has no effect; unimplementedOptionsWarning()
// tells the admin about those. `satisfies` makes a misspelt entry a compile error.
const IMPLEMENTED = [
  'use_sendfile',
  'listen',
  'listen_ipv6',
  'listen_address',
  'listen_address6',
  'listen_port',
  'background',
  'local_enable',
  'anonymous_enable',
  'write_enable',
  'download_enable',
  'dirlist_enable',
  'pam_service_name',
  'ftp_username',
  'anon_root',
  'no_anon_password',
  'local_umask',
  'anon_umask',
  'file_open_mode',
  'local_root',
  'chroot_local_user',
  'chroot_list_enable',
  'chroot_list_file',
  'allow_writeable_chroot',
  'secure_chroot_dir',
  'nopriv_user',
  'pasv_enable',
  'pasv_promiscuous',
  'pasv_min_port',
  'pasv_max_port',
  'pasv_address',
  'accept_timeout',
  'data_connection_timeout',
  'idle_session_timeout',
  'max_clients',
  'max_per_ip',
  'max_login_fails',
  'delay_failed_login',
  'delay_successful_login',
  'ftpd_banner',
  'prefork_pool_size',
  'zygote_enable',
  'use_localtime',
  'hide_ids',
  'force_dot_files',
  'port_enable',
  'port_promiscuous',
  'connect_timeout',
  'bind_retries',
  'anon_world_readable_only',
  'anon_upload_enable',
  'passwd_chroot_enable',
  'user_sub_token',
  'userlist_enable',
  'userlist_deny',
  'userlist_file',
  'guest_enable',
  'guest_username',
  'virtual_use_local_privs',
  'user_config_dir',
  'deny_email_enable',
  'banned_email_file',
  'secure_email_list_enable',
  'email_password_file',
  'banner_file',
  'cmds_allowed',
  'cmds_denied',
  'virtual_users_file',
  'dirmessage_enable',
  'message_file',
  'ban_enable',
  'ban_max_fails',
  'ban_window',
  'ban_time',
  'ban_max_time',
  'tcp_wrappers',
  'pasv_addr_resolve',
  'connect_from_port_20',
  'ftp_data_port',
  'metrics_enable',
  'metrics_address',
  'metrics_port',
  'anon_mkdir_write_enable',
  'anon_other_write_enable',
  'chmod_enable',
  'mdtm_write',
  'ascii_upload_enable',
  'ascii_download_enable',
  'async_abor_enable',
  'delete_failed_uploads',
  'chown_uploads',
  'chown_username',
  'chown_upload_mode',
  'xferlog_enable',
  'xferlog_std_format',
  'xferlog_file',
  'vsftpd_log_file',
  'dual_log_enable',
  'syslog_enable',
  'json_log_file',
  'anon_max_rate',
  'local_max_rate',
  'trans_chunk_size',
  'user_max_rate',
  'shutdown_timeout',
  'ls_recurse_enable',
  'deny_file',
  'hide_file',
  'text_userdb_names',
  'tilde_user_enable',
  'lock_upload_files',
  // FTPS
  'ssl_enable',
  'implicit_ssl',
  'implicit_ssl_port',
  'allow_anon_ssl',
  'force_anon_logins_ssl',
  'force_anon_data_ssl',
  'force_local_logins_ssl',
  'force_local_data_ssl',
  'ssl_sslv2',
  'ssl_sslv3',
  'ssl_tlsv1',
  'ssl_tlsv1_1',
  'ssl_tlsv1_2',
  'ssl_tlsv1_3',
  'ssl_min_version',
  'ssl_max_version',
  'ssl_ciphers',
  'rsa_cert_file',
  'rsa_private_key_file',
  'ca_certs_file',
  'ssl_request_cert',
  'require_cert',
  'validate_cert',
  'require_ssl_reuse',
  'strict_ssl_read_eof',
  'debug_ssl',
  'ssl_sni_hostname',
] as const satisfies readonly OptionName[];

export const IMPLEMENTED_OPTIONS: ReadonlySet<string> = new Set<string>(IMPLEMENTED);
