#!/usr/bin/python3
"""Drive an FTP server with Python's stdlib ftplib and print a JSON transcript.

Usage: ftplib_client.py '<json job>'

Job: {"host": "127.0.0.1", "port": 2121, "user": "u", "password": "p",
      "timeout": 10, "passive": true, "login": true,
      "steps": [{"op": "pwd"}, {"op": "cwd", "path": "dir"}, {"op": "cdup"},
                {"op": "list", "path": "optional"}, {"op": "nlst"},
                {"op": "retr", "remote": "f", "local": "/tmp/x"},
                {"op": "stor", "local": "/tmp/x", "remote": "f"},
                {"op": "size", "path": "f"}, {"op": "raw", "cmd": "SYST"},
                {"op": "login", "user": "u", "password": "p"}, {"op": "quit"}]}

Output (stdout, one JSON object):
  {"welcome": "220 ...", "steps": [{"op": ..., "replies": ["..."], "result": ...}
                                   | {"op": ..., "replies": [...], "error": "530 ..."}],
   "error": "only when connecting failed"}
Each step lists every reply line-group ftplib read while running it (150 and 226 included).
When "login" is true (default) and "user" is set, a login step runs first.
"""
import ftplib
import json
import socket
import sys


class RecordingFTP(ftplib.FTP):
    """ftplib.FTP that remembers every reply it reads."""

    def __init__(self, *args, **kwargs):
        self.replies = []
        super().__init__(*args, **kwargs)

    def getresp(self):
        # getmultiline() returns the whole (multi-line) reply; record it, then let
        # ftplib classify it exactly as it normally would.
        resp = self.getmultiline()
        self.replies.append(resp)
        self.lastresp = resp[:3]
        c = resp[:1]
        if c in {'1', '2', '3'}:
            return resp
        if c == '4':
            raise ftplib.error_temp(resp)
        if c == '5':
            raise ftplib.error_perm(resp)
        raise ftplib.error_proto(resp)


def err_text(e):
    if isinstance(e, ftplib.Error):
        return str(e)
    if isinstance(e, EOFError):
        return 'EOF: connection closed'
    if isinstance(e, socket.timeout):
        return 'timeout'
    return '%s: %s' % (type(e).__name__, e)


def run_step(ftp, step):
    op = step.get('op')
    if op == 'login':
        return ftp.login(step.get('user', ''), step.get('password', ''))
    if op == 'pwd':
        return ftp.pwd()
    if op == 'cwd':
        return ftp.cwd(step['path'])
    if op == 'cdup':
        return ftp.voidcmd('CDUP')
    if op == 'list':
        lines = []
        args = ['LIST']
        if step.get('path'):
            args.append(step['path'])
        ftp.retrlines(' '.join(args), lines.append)
        return lines
    if op == 'nlst':
        return ftp.nlst(*([step['path']] if step.get('path') else []))
    if op == 'retr':
        chunks = []
        ftp.retrbinary('RETR ' + step['remote'], chunks.append)
        data = b''.join(chunks)
        if step.get('local'):
            with open(step['local'], 'wb') as f:
                f.write(data)
        return len(data)
    if op == 'stor':
        with open(step['local'], 'rb') as f:
            return ftp.storbinary('STOR ' + step['remote'], f)
    if op == 'size':
        return ftp.size(step['path'])
    if op == 'raw':
        return ftp.sendcmd(step['cmd'])
    if op == 'quit':
        return ftp.quit()
    raise ValueError('unknown op %r' % (op,))


def main():
    job = json.loads(sys.argv[1])
    out = {'steps': []}
    timeout = float(job.get('timeout', 10))
    ftp = RecordingFTP()
    ftp.set_pasv(bool(job.get('passive', True)))
    try:
        out['welcome'] = ftp.connect(job.get('host', '127.0.0.1'), int(job['port']), timeout=timeout)
    except Exception as e:  # noqa: BLE001 - report everything as JSON
        out['error'] = err_text(e)
        print(json.dumps(out))
        return
    steps = list(job.get('steps', []))
    if job.get('login', True) and job.get('user') is not None:
        steps.insert(0, {'op': 'login', 'user': job['user'], 'password': job.get('password', '')})
    for step in steps:
        before = len(ftp.replies)
        rec = {'op': step.get('op')}
        try:
            rec['result'] = run_step(ftp, step)
        except Exception as e:  # noqa: BLE001
            rec['error'] = err_text(e)
        rec['replies'] = ftp.replies[before:]
        out['steps'].append(rec)
    try:
        ftp.close()
    except Exception:  # noqa: BLE001
        pass
    print(json.dumps(out))


if __name__ == '__main__':
    main()
