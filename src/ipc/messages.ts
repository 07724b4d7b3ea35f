/*
 * The one IPC protocol between master, priv and the workers.
 *
 * Every message is a member of a discriminated union keyed by `t`. The
 * receiving side of every channel that crosses a trust boundary (worker →
 * master) runs a validator from validate.ts before acting on a message;
 * anything that does not validate ends that session, never the daemon.
 *
 * Trust directions:
 *   master → priv     trusted (both root), validated anyway (fail closed)
 *   priv → master     trusted (both root), validated anyway
 *   master → worker   trusted (the worker is still root, or already jailed)
 *   worker → master   UNTRUSTED: a worker parses client bytes
 */

import type { Config } from '../config/options';

/** What master knows about a connection; never taken from a worker. */
export interface SessionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** The credentials and jail a worker switches to before it reads a byte. */
export interface JailSpec {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  /** chroot() target, or null for a local user who is not jailed. */
  readonly root: string | null;
  /** Directory to enter after the switch (inside the jail when rooted). */
  readonly cwd: string;
  readonly umask: number;
  /** Refuse a jail root the new uid can write to (vsftpd's check). */
  readonly checkWritableRoot: boolean;
}

export type LoginKind = 'anonymous' | 'local' | 'guest';

/** priv's answer to a successful login: who the session becomes. */
export interface LoginDecision {
  readonly kind: LoginKind;
  /** The name shown in logs and titles (ftp_username for anonymous). */
  readonly user: string;
  /** The name the client typed at USER (anonymous: "anonymous"/"ftp"). */
  readonly loginName: string;
  /** Anonymous only: the password string, sanitised for logs. */
  readonly anonPassword: string | null;
  /**
   * The session gets anonymous rights (anon_* gates, no overwrite): true for
   * anonymous, and for guest/virtual users unless virtual_use_local_privs.
   */
  readonly anonRights: boolean;
  readonly jail: JailSpec;
  /** The session's effective config: the main one plus user_config_dir/<user>. */
  readonly config: Config;
}

export type LoginFailure =
  | 'bad_credentials'
  | 'anonymous_only'
  | 'local_disabled'
  | 'bad_username'
  | 'internal';

export type LoginOutcome =
  | { readonly ok: true; readonly decision: LoginDecision }
  | { readonly ok: false; readonly reason: LoginFailure; readonly detail: string };

/* ---------------- master ↔ priv ---------------- */

/*
 * Every request to priv carries the session's config: master holds it per
 * session (main file, per-address file, reloads), so priv keeps no config
 * of its own that could be stale.
 */
export interface PrivLoginRequest {
  readonly t: 'login';
  readonly id: number;
  readonly config: Config;
  readonly remoteAddress: string;
  readonly user: string;
  readonly pass: string;
}
/** userlist_enable: may this name log in at all? Asked at USER time. */
export interface PrivCheckUser {
  readonly t: 'check_user';
  readonly id: number;
  readonly config: Config;
  readonly user: string;
}

export interface PrivConfigure {
  readonly t: 'configure';
  readonly config: Config;
}
/**
 * chown_uploads: give a fresh anonymous upload to chown_username. The path
 * is the worker's claim; jailRoot and the session's config come from
 * master; priv verifies the file itself (priv/chown.ts).
 */
export interface PrivChownRequest {
  readonly t: 'chown';
  readonly id: number;
  readonly jailRoot: string;
  readonly config: Config;
  readonly path: string;
  readonly dev: string;
  readonly ino: string;
}

/**
 * connect_from_port_20: priv binds ftp_data_port on the control connection's
 * local address and connects to the control peer. SECURITY: the worker
 * names only the port; both addresses come from master's session record.
 */
export interface PrivDataConnect {
  readonly t: 'data_connect';
  readonly id: number;
  readonly config: Config;
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly port: number;
}

export type MasterToPriv = PrivLoginRequest | PrivCheckUser | PrivChownRequest | PrivDataConnect;

export type PrivToMaster =
  | { readonly t: 'ready' }
  | { readonly t: 'login_result'; readonly id: number; readonly outcome: LoginOutcome }
  | { readonly t: 'user_result'; readonly id: number; readonly allowed: boolean }
  | { readonly t: 'chown_result'; readonly id: number; readonly ok: boolean; readonly detail: string }
  /** With ok, the connected (paused) socket travels as the message's handle. */
  | { readonly t: 'data_connect_result'; readonly id: number; readonly ok: boolean; readonly detail: string };

/* ---------------- master ↔ worker ---------------- */

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/**
 * What a worker needs to speak TLS: the certificate and key master read as
 * root (a jailed worker cannot reach /etc/ssl), the settings, and this
 * session's own ticket keys. W1 and W2 of one session get the same keys, so
 * a data connection can resume the control connection's TLS session; no
 * other session's ticket can be decrypted with them.
 */
export interface TlsSetup {
  /** PEM certificate chain (rsa_cert_file). */
  readonly cert: string;
  /** PEM private key (rsa_private_key_file, or the cert file). */
  readonly key: string;
  /** PEM CA certificates for client certificates (ca_certs_file), or null. */
  readonly ca: string | null;
  /** OpenSSL cipher string (TLS 1.2 list, TLS 1.3 suites). */
  readonly ciphers: string;
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** 48 random bytes, base64: key name, HMAC key, AES key of session tickets. */
  readonly ticketKeys: string;
}

/** The control connection's TLS state, from W1 to W2 (through master). */
export interface ControlTls {
  /** PROT level: C clear, P private data connections. */
  readonly prot: 'C' | 'P';
  /** SHA-256 fingerprint of the client certificate on the control channel, or null. */
  readonly clientCert: string | null;
  /**
   * The control connection's TLS session (id hex, DER base64), for clients
   * that resume by session ID rather than by ticket (curl turns TLS 1.2
   * tickets off): W2 lets a data connection resume exactly this one.
   */
  readonly session: { readonly id: string; readonly data: string } | null;
}

export interface AssignPrelogin {
  readonly t: 'assign_prelogin';
  readonly session: SessionInfo;
  readonly config: Config;
  readonly jail: JailSpec;
  /** banner_file's text, read by master (the jail hides the file). */
  readonly banner: string | null;
  /** ssl_enable: the TLS material; null: no TLS for this session. */
  readonly tls: TlsSetup | null;
  /** Implicit FTPS: the TLS handshake comes before the greeting. */
  readonly implicit: boolean;
}

export interface AssignPostlogin {
  readonly t: 'assign_postlogin';
  readonly session: SessionInfo;
  readonly config: Config;
  readonly login: LoginDecision;
  /** Control-channel bytes the pre-login worker read but did not consume. */
  readonly pending: string; // base64
  /**
   * Non-null when the control connection is TLS: the handle is then a Unix
   * stream socket whose other end is W1, the session's TLS relay.
   */
  readonly control: ControlTls | null;
  /** TLS material for data connections (null when control is null). */
  readonly tls: TlsSetup | null;
}

/**
 * To W1 after a TLS login: the handle is its end of the Unix stream socket
 * to W2. W1 relays between it and the client's TLS connection.
 */
export interface RelayStartToWorker {
  readonly t: 'relay_start';
}

export interface LoginResultToWorker {
  readonly t: 'login_result';
  readonly ok: boolean;
  /** Failure only: max_login_fails reached, end the session. */
  readonly close: boolean;
}

export interface UserResultToWorker {
  readonly t: 'user_result';
  readonly allowed: boolean;
  /** Refusal only: max_login_fails reached, end the session. */
  readonly close: boolean;
}

export interface ChownResultToWorker {
  readonly t: 'chown_result';
  readonly ok: boolean;
}

/** With ok, the connected data socket is the message's handle. */
export interface DataSocketToWorker {
  readonly t: 'data_socket';
  readonly ok: boolean;
  readonly detail: string;
}

/** user_max_rate: this session's current share of its user's budget (bytes/s). */
export interface RateShareToWorker {
  readonly t: 'rate_share';
  readonly rate: number;
}

/** SIGTERM: finish the transfer in progress, then end the session. */
export interface ShutdownToWorker {
  readonly t: 'shutdown';
}

export type MasterToWorker =
  | RelayStartToWorker
  | ShutdownToWorker
  | RateShareToWorker
  | DataSocketToWorker
  | AssignPrelogin
  | AssignPostlogin
  | LoginResultToWorker
  | UserResultToWorker
  | ChownResultToWorker;

export type WorkerToMaster =
  | { readonly t: 'ready' }
  | { readonly t: 'check_user'; readonly user: string }
  | { readonly t: 'login'; readonly user: string; readonly pass: string }
  /** After a successful login; tls: the control connection is TLS and W1 stays as its relay. */
  | { readonly t: 'handoff'; readonly pending: string; readonly tls: ControlTls | null }
  /** Post-login, user_max_rate: a transfer started (true) or ended (false). */
  | { readonly t: 'transfer_state'; readonly active: boolean }
  /** Post-login: a transfer ended (for metrics). */
  | { readonly t: 'transfer_done'; readonly direction: 'in' | 'out'; readonly bytes: number; readonly ok: boolean }
  /** Post-login: a data connection could not be established (for metrics). */
  | { readonly t: 'data_failed'; readonly cause: DataFailure }
  /** Post-login, connect_from_port_20: connect from port 20 to the client's port. */
  | { readonly t: 'data_connect'; readonly port: number }
  /** Post-login, chown_uploads: path inside the jail, (dev, ino) as decimal. */
  | { readonly t: 'chown_upload'; readonly path: string; readonly dev: string; readonly ino: string };

/** Why a data connection failed; a closed set, so metrics stay bounded. */
export const DATA_FAILURES = ['accept_timeout', 'bad_ip', 'connect_failed', 'port20_failed', 'no_setup', 'tls'] as const;
export type DataFailure = (typeof DATA_FAILURES)[number];

/** Limits on what a worker may put in a message (vsftpd: 128-byte names). */
export const IPC_LIMITS = Object.freeze({
  userMax: 128,
  passMax: 128,
  /** A pipelined burst after PASS can be at most one full control line more. */
  pendingMaxBytes: 4096 * 4,
  /** A serialized TLS session (DER, with a client certificate chain at most). */
  tlsSessionMaxBytes: 16 * 1024,
});
