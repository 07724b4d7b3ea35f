#!/usr/bin/python3
"""Machine listings through Python's stdlib ftplib; prints one JSON object.

Usage: mlsd_client.py '<json job>'

Job: {"host": "127.0.0.1", "port": 2121, "user": "anonymous", "password": "x",
      "timeout": 10,
      "steps": [{"op": "mlsd", "path": "sub", "facts": ["type", "size"]},
                {"op": "mlst", "path": "hello.txt"},
                {"op": "raw", "cmd": "OPTS MLST type;"}]}

Output: {"welcome": "...", "steps": [{"op": "mlsd", "result": [[name, {fact: value}], ...]}
                                     | {"op": ..., "error": "550 ..."}], "error": "..."}
mlsd uses ftplib.FTP.mlsd() (which sends OPTS MLST when facts are given);
mlst returns the reply lines of MLST as ftplib.FTP.sendcmd() gives them.
"""
import ftplib
import json
import sys


def run_step(ftp, step):
    op = step.get('op')
    if op == 'mlsd':
        facts = step.get('facts') or []
        return [[name, facts_found] for name, facts_found in ftp.mlsd(step.get('path', ''), facts)]
    if op == 'mlst':
        path = step.get('path')
        return ftp.sendcmd('MLST' + (' ' + path if path else '')).split('\n')
    if op == 'raw':
        return ftp.sendcmd(step['cmd'])
    raise ValueError('unknown op %r' % (op,))


def main():
    job = json.loads(sys.argv[1])
    out = {'steps': []}
    ftp = ftplib.FTP()
    try:
        out['welcome'] = ftp.connect(job.get('host', '127.0.0.1'), int(job['port']),
                                     timeout=float(job.get('timeout', 10)))
        ftp.login(job.get('user', 'anonymous'), job.get('password', 'x'))
    except Exception as e:  # noqa: BLE001 - everything is reported as JSON
        out['error'] = '%s: %s' % (type(e).__name__, e)
        print(json.dumps(out))
        return
    for step in job.get('steps', []):
        rec = {'op': step.get('op')}
        try:
            rec['result'] = run_step(ftp, step)
        except ftplib.Error as e:
            rec['error'] = str(e)
        except Exception as e:  # noqa: BLE001
            rec['error'] = '%s: %s' % (type(e).__name__, e)
        out['steps'].append(rec)
    try:
        ftp.quit()
    except Exception:  # noqa: BLE001
        pass
    print(json.dumps(out))


if __name__ == '__main__':
    main()
