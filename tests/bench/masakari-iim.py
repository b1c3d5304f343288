#!/usr/bin/python3
# Masakari's introspective instance monitor (Debian's python3-masakari-monitors)
# beside the heartbeat, for tests/bench/alternatives.sh; not part of the daemon.
#   masakari-iim.py stub DIR      a stand-in for the masakari API on 127.0.0.1:
#                                 records each request (time, method, path,
#                                 body) in DIR/requests.log, its port in DIR/port
#   masakari-iim.py monitor DIR REGEX
#                                 the monitor, its notifications to that stub,
#                                 watching the guests whose agent socket path
#                                 matches REGEX; its log in DIR/monitor.log
# The packaged monitor (14.0.0) groups the running domains with map(None, ...),
# Python 2 only: on Python 3 every check ends in "'NoneType' object is not
# callable" and no guest is ever pinged. Here that one call is given its
# Python 2 meaning (itertools.zip_longest); nothing else is changed.
import builtins
import itertools
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def stub(d):
    log = os.path.join(d, 'requests.log')

    class Handler(BaseHTTPRequestHandler):
        def _any(self):
            n = int(self.headers.get('Content-Length') or 0)
            body = self.rfile.read(n).decode('utf-8', 'replace') if n else ''
            with open(log, 'a') as f:
                f.write('%.3f %s %s %s\n' % (time.time(), self.command, self.path, body))
            if self.command == 'POST' and 'notifications' in self.path:
                note = json.loads(body).get('notification', {})
                note.update(notification_uuid='stub', status='new')
                reply = {'notification': note}
            else:
                reply = {'version': {'id': 'v1.0', 'status': 'CURRENT', 'links': []}}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _any

        def log_message(self, *args):
            pass

    server = HTTPServer(('127.0.0.1', 0), Handler)
    with open(os.path.join(d, 'port'), 'w') as f:
        f.write('%d\n' % server.server_address[1])
    server.serve_forever()


def monitor(d, regex):
    with open(os.path.join(d, 'port')) as f:
        port = int(f.read())
    conf = os.path.join(d, 'masakarimonitors.conf')
    with open(conf, 'w') as f:
        f.write(f"""[DEFAULT]
debug = true
log_file = {d}/monitor.log
[api]
auth_type = admin_token
endpoint = http://127.0.0.1:{port}/v1
token = stub
[callback]
retry_max = 1
retry_interval = 1
[libvirt]
connection_uri = qemu:///system
[introspectiveinstancemonitor]
qemu_guest_agent_sock_path = {regex}
""")
    from masakarimonitors.cmd import introspectiveinstancemonitor as cmd
    from masakarimonitors.introspectiveinstancemonitor import qemu_utils

    def py2_map(func, *iterables):
        if func is None:
            return itertools.zip_longest(*iterables)
        return builtins.map(func, *iterables)

    qemu_utils.map = py2_map
    sys.argv = [sys.argv[0], '--config-file', conf]
    cmd.main()


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'stub':
        stub(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == 'monitor':
        monitor(sys.argv[2], sys.argv[3])
    else:
        sys.exit('usage: masakari-iim.py stub DIR | monitor DIR REGEX')
