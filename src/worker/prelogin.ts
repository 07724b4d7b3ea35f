/*
 * W1: the pre-login dialogue, run as nopriv_user inside secure_chroot_dir
 * (vsftpd's prelogin.c). It knows no passwords and decides nothing: it
 * collects USER and PASS and asks master, which asks priv.
 */

import type { Config } from '../config/options';
import { IPC_LIMITS } from '../ipc/messages';
import type { ControlChannel, FtpCommand } from '../protocol/control';
import { featureLines } from '../protocol/features';
import { VERSION } from '../version';
import { requestLogin, requestUserCheck, sendToMaster } from './ipc';
import { setLogUser } from './sessionlog';

function isAnonymousName(name: string): boolean {
  const n = name.toLowerCase();
  return n === 'ftp' || n === 'anonymous';
}

interface PreloginState {
  user: string | null;
}

type Handler = (ch: ControlChannel, cmd: FtpCommand, st: PreloginState, cfg: Config) => void | Promise<void>;

async function doLogin(ch: ControlChannel, user: string, pass: string): Promise<void> {
  const result = await requestLogin(user, pass);
  if (result.ok) {
    // Everything after PASS belongs to the post-login process.
    const pending = ch.detach();
    // W1's part is over once master has the bytes; W2 takes the session.
    sendToMaster({ t: 'handoff', pending: pending.toString('base64') }, () => process.exit(0));
    return;
  }
  if (result.close) {
    ch.fatal(530, 'Login incorrect.');
  } else {
    ch.reply(530, 'Login incorrect.');
  }
}

const PRELOGIN_COMMANDS: ReadonlyMap<string, Handler> = new Map<string, Handler>(Object.entries({
  USER: async (ch, cmd, st, cfg) => {
    const name = cmd.arg ?? '';
    if (Buffer.byteLength(name) > IPC_LIMITS.userMax || name.length === 0) {
      st.user = null;
      ch.reply(530, 'Permission denied.');
      return;
    }
    // With anonymous_enable=NO, "ftp" and "anonymous" are ordinary names.
    const anon = isAnonymousName(name);
    if (!(anon && cfg.anonymous_enable) && !cfg.local_enable) {
      st.user = null;
      ch.reply(530, 'This FTP server is anonymous only.');
      return;
    }
    if (cfg.userlist_enable) {
      // Decided before the password is sent, so a refused user never
      // sends one in clear text (priv reads userlist_file).
      const r = await requestUserCheck(name);
      if (!r.allowed) {
        st.user = null;
        if (r.close) ch.fatal(530, 'Permission denied.');
        else ch.reply(530, 'Permission denied.');
        return;
      }
    }
    st.user = name;
    setLogUser(name);
    if (anon && cfg.anonymous_enable && cfg.no_anon_password) {
      await doLogin(ch, name, '');
      return;
    }
    ch.reply(331, 'Please specify the password.');
  },
  PASS: (ch, cmd, st) => {
    if (st.user === null) {
      ch.reply(503, 'Login with USER first.');
      return undefined;
    }
    const pass = cmd.arg ?? '';
    if (Buffer.byteLength(pass) > IPC_LIMITS.passMax) {
      ch.reply(530, 'Login incorrect.');
      return undefined;
    }
    return doLogin(ch, st.user, pass);
  },
  QUIT: (ch) => {
    ch.fatal(221, 'Goodbye.');
  },
  FEAT: (ch, _cmd, _st, cfg) => {
    ch.replyRaw(featureLines(cfg));
  },
  OPTS: (ch, cmd) => {
    const arg = (cmd.arg ?? '').toUpperCase();
    if (arg === 'UTF8 ON' || arg === 'UTF8') {
      ch.reply(200, 'Always in UTF8 mode.');
    } else {
      ch.reply(501, 'Option not understood.');
    }
  },
  // Not in vsftpd's pre-login set; many clients send it first and it
  // discloses nothing the post-login reply would not.
  SYST: (ch) => {
    ch.reply(215, 'UNIX Type: L8');
  },
} satisfies Record<string, Handler>));

export function greeting(cfg: Config): string {
  return cfg.ftpd_banner ?? `(tsftpd ${VERSION})`;
}

export function runPrelogin(ch: ControlChannel, cfg: Config, banner: string | null): void {
  const st: PreloginState = { user: null };
  if (banner !== null) {
    // banner_file: every line as "220-", then a closing "220 " (vsftpd).
    const lines = banner.replace(/\r/g, '').replace(/\n$/, '').split('\n');
    ch.replyRaw([...lines.map((l) => `220-${l}`), '220 ']);
  } else {
    ch.reply(220, greeting(cfg));
  }
  ch.start((cmd) => {
    const handler = PRELOGIN_COMMANDS.get(cmd.verb);
    if (handler === undefined) {
      ch.reply(530, 'Please login with USER and PASS.');
      return undefined;
    }
    return handler(ch, cmd, st, cfg);
  }, cfg.idle_session_timeout);
}
