#!/usr/bin/python3
"""Drive an FTPS server with Python's ftplib.FTP_TLS and print a JSON transcript.

Usage: ftps_client.py '<json job>'

Job: {"host": "127.0.0.1", "port": 2121, "implicit": false, "timeout": 10,
      "cafile": "/x/ca.pem", "certfile": null, "keyfile": null,
      "tls_max": "1.2" | "1.3" | null, "alpn": ["ftp"] | null, "sni": null,
      "reuse": true,
      "sessions": 1,            # how many control connections (all share one SSLContext)
      "steps": [{"op": "login", "user": "u", "password": "p"},
                {"op": "prot_p"}, {"op": "prot_c"}, {"op": "pbsz"},
                {"op": "list", "path": "optional"},
                {"op": "retr", "remote": "f"},          # result: the bytes as text
                {"op": "stor", "remote": "f", "data": "text"},
                {"op": "stor_unclean", "remote": "f", "data": "text"},  # FIN without close_notify
                {"op": "raw", "cmd": "SYST"}, {"op": "quit"}]}
Each step may carry "on": N (which control connection, default 0) and
"session_of": M (resume connection M's TLS session on this data connection
instead of its own: a data connection of another TLS session).

Data connections resume the control connection's TLS session (ftplib alone
does not; servers that require session reuse, as vsftpd does by default,
refuse it otherwise).

Output (stdout, one JSON object): {"welcome": [...], "steps": [{"op", "result"|"error", "replies"}],
"tls": [{"version", "cipher"}], "error": "only when connecting failed"}
"""
import ftplib
import json
import socket
import ssl
import sys


class RecordingFTPS(ftplib.FTP_TLS):
    """FTP_TLS that records replies and resumes a TLS session on data connections."""

    def __init__(self, *args, implicit=False, reuse=True, **kwargs):
        self.replies = []
        self.implicit = implicit
        self.reuse = reuse
        self.session_source = None
        super().__init__(*args, **kwargs)

    def connect(self, host='', port=0, timeout=-999, source_address=None):
        if not self.implicit:
            return super().connect(host, port, timeout, source_address)
        # Implicit FTPS: TLS before the greeting.
        if host:
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        self.sock = socket.create_connection((self.host, self.port), self.timeout)
        self.af = self.sock.family
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)
        self.file = self.sock.makefile('r', encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def getresp(self):
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

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            source = self.session_source if self.session_source is not None else self
            session = source.sock.session if self.reuse else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


def err_text(e):
    if isinstance(e, ftplib.Error):
        return str(e)
    if isinstance(e, EOFError):
        return 'EOF: connection closed'
    if isinstance(e, socket.timeout):
        return 'timeout'
    return '%s: %s' % (type(e).__name__, e)


def stor_unclean(ftp, remote, data):
    """Upload, then close the TCP connection without a TLS close_notify."""
    conn = ftp.transfercmd('STOR ' + remote)
    conn.sendall(data.encode())
    raw = socket.socket(fileno=conn.detach())
    raw.close()
    return ftp.voidresp()


def run_step(ftps, step):
    op = step.get('op')
    ftp = ftps[step.get('on', 0)]
    if 'session_of' in step:
        ftp.session_source = ftps[step['session_of']]
    else:
        ftp.session_source = None
    if op == 'login':
        return ftp.login(step.get('user', ''), step.get('password', ''), secure=False)
    if op == 'auth':
        return ftp.auth()
    if op == 'prot_p':
        return ftp.prot_p()
    if op == 'prot_c':
        return ftp.prot_c()
    if op == 'pbsz':
        return ftp.voidcmd('PBSZ 0')
    if op == 'list':
        lines = []
        args = ['LIST']
        if step.get('path'):
            args.append(step['path'])
        ftp.retrlines(' '.join(args), lines.append)
        return lines
    if op == 'retr':
        chunks = []
        ftp.retrbinary('RETR ' + step['remote'], chunks.append)
        return b''.join(chunks).decode('utf-8', 'replace')
    if op == 'stor':
        import io
        return ftp.storbinary('STOR ' + step['remote'], io.BytesIO(step.get('data', '').encode()))
    if op == 'stor_unclean':
        return stor_unclean(ftp, step['remote'], step.get('data', ''))
    if op == 'raw':
        return ftp.sendcmd(step['cmd'])
    if op == 'quit':
        return ftp.quit()
    raise ValueError('unknown op %r' % op)


def main():
    job = json.loads(sys.argv[1])
    host = job.get('host', '127.0.0.1')
    ctx = ssl.create_default_context(cafile=job.get('cafile'))
    if job.get('certfile'):
        ctx.load_cert_chain(job['certfile'], job.get('keyfile'))
    tls_max = job.get('tls_max')
    if tls_max == '1.2':
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif tls_max == '1.3':
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if job.get('alpn'):
        ctx.set_alpn_protocols(job['alpn'])
    sni = job.get('sni')
    out = {'welcome': [], 'steps': [], 'tls': []}
    ftps = []
    try:
        for _ in range(job.get('sessions', 1)):
            f = RecordingFTPS(context=ctx, implicit=job.get('implicit', False), reuse=job.get('reuse', True), timeout=job.get('timeout', 10))
            f.connect(host=host, port=job['port'])
            out['welcome'].append(f.welcome)
            if not f.implicit and job.get('auth', True):
                if sni:
                    # SNI names this host (the connection goes to `host`).
                    f.host = sni
                f.auth()
            if isinstance(f.sock, ssl.SSLSocket):
                out['tls'].append({'version': f.sock.version(), 'cipher': f.sock.cipher()[0]})
            f.host = host
            ftps.append(f)
    except Exception as e:  # noqa: BLE001 - report anything
        out['error'] = err_text(e)
        print(json.dumps(out))
        return
    for step in job.get('steps', []):
        ftp = ftps[step.get('on', 0)]
        before = len(ftp.replies)
        rec = {'op': step.get('op')}
        try:
            rec['result'] = run_step(ftps, step)
        except Exception as e:  # noqa: BLE001
            rec['error'] = err_text(e)
        rec['replies'] = ftp.replies[before:]
        out['steps'].append(rec)
    for f in ftps:
        try:
            f.close()
        except Exception:  # noqa: BLE001
            pass
    print(json.dumps(out))


if __name__ == '__main__':
    main()
