/*
 * HELP: vsftpd's reply, listing the verbs the post-login table really has
 * (vsftpd prints a fixed list).
 *
 * This module and postlogin.ts import each other: COMMANDS is read only when
 * HELP runs, long after both modules have loaded. Only postlogin.ts may
 * import this file.
 */

import { COMMANDS } from '../postlogin';
import { helpLines } from '../cmdparse';
import type { CommandTable } from '../session';

export const HELP_COMMANDS: CommandTable = {
  HELP: {
    handler: (s) => {
      s.ch.replyRaw(['214-The following commands are recognized.', ...helpLines([...COMMANDS.keys()]), '214 Help OK.']);
    },
  },
};
