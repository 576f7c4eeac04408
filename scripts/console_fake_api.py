#!/usr/bin/env python3
"""A FAKE agentcore worker HTTP API, for developing the web console without the Swift server.

NOT the product: nothing here talks to Kafka or a store. It serves fixed fake data shaped like the
HTTP contract (the worker's /v1 endpoints, /healthz, /readyz, /metrics), the console's three files
from Sources/AgentCoreHTTP/Console/ at the contract's paths (/, /console/app.js, /console/style.css;
re-read on every request, so edits show on reload), and an SSE stream that emits a made-up event
every 2 seconds.

    python3 scripts/console_fake_api.py --port 8099 [--token T] [--restoring-seconds 20]

Fake data: workspaces "acme" (projects web, api) and "globex" (project research); acme/web has
instances c1..c4 and planner-1; c1 has contexts "plan" (4 versions) and "memory" (v2..v5, v1 pruned,
rolled back); acme/api holds 75 instances to page through. --token requires a bearer token on /v1/*
(or ?access_token= on /v1/events); --restoring-seconds answers 503 partition_unavailable for globex
(partition 6) during the first N seconds; --empty lists no workspaces or definitions. Python standard library only.
"""

import argparse
import itertools
import json
import os
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

STARTED = time.time()
NOW = datetime.now(timezone.utc)


def iso(dt):
    return dt.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (dt.microsecond // 1000)


def ago(**kw):
    return iso(NOW - timedelta(**kw))


def now_iso():
    return iso(datetime.now(timezone.utc))


# ------------------------------------------------------------------ fake data

WORKSPACES = [
    {'id': 'acme', 'partition': 3, 'projects': ['api', 'web']},
    {'id': 'globex', 'partition': 6, 'projects': ['research']},
]
PARTITIONS = {w['id']: w['partition'] for w in WORKSPACES}

DEFINITIONS = [
    {'slug': s, 'id': 'def-' + s, 'name': n, 'agent_type': 'llm', 'description': d,
     'capabilities': caps, 'config_schema': {'type': 'object', 'properties': {'model': {'type': 'string'}}},
     'metadata': {}, 'is_enabled': True, 'revision': 1, 'created_at': ago(days=3), 'updated_at': ago(days=3)}
    for s, n, d, caps in [
        ('coder', 'Coder', 'Writes and edits code.', ['code', 'shell']),
        ('reviewer', 'Reviewer', 'Reviews pull requests.', ['code']),
        ('planner', 'Planner', None, ['plan']),
    ]
]


def instance(ws, project, iid, definition, name, status, hb=None, err=None, config=None, state=None, created_days=2):
    return {
        'workspace_id': ws, 'project_id': project, 'id': iid, 'definition': definition, 'name': name,
        'status': status, 'config': config if config is not None else {'model': 'large-1', 'temperature': 0.2},
        'state': state, 'last_heartbeat': hb, 'last_error': err,
        'created_at': ago(days=created_days), 'updated_at': ago(minutes=7),
    }


INSTANCES = {
    ('acme', 'web'): [
        instance('acme', 'web', 'c1', 'coder', 'Login page coder', 'active', hb=ago(seconds=4),
                 config={'model': 'large-1', 'temperature': 0.2, 'tools': ['git', 'tests']},
                 state={'task': 'login-form', 'progress': 0.6}),
        instance('acme', 'web', 'c2', 'reviewer', 'PR reviewer', 'error', hb=ago(minutes=3),
                 err='tool call timed out after 30 s: search_api (attempt 3 of 3)'),
        instance('acme', 'web', 'c3', 'coder', '<img src=x onerror=alert(1)> escaping check', 'idle'),
        instance('acme', 'web', 'c4', 'coder', 'Night shift', 'offline', hb=ago(hours=5)),
        instance('acme', 'web', 'planner-1', 'planner', 'Sprint planner', 'busy', hb=ago(seconds=40)),
    ],
    ('acme', 'api'): [
        instance('acme', 'api', 'svc-%03d' % i, 'coder', 'API worker %d' % i,
                 ['active', 'idle', 'busy', 'offline', 'initializing', 'error'][i % 6],
                 hb=ago(seconds=i * 13) if i % 6 not in (1, 4) else None,
                 err='quota exceeded' if i % 6 == 5 else None)
        for i in range(1, 76)
    ],
    ('globex', 'research'): [
        instance('globex', 'research', 'r1', 'planner', 'Literature scout', 'initializing'),
        instance('globex', 'research', 'r2', 'coder', 'Notebook runner', 'active', hb=ago(seconds=9)),
    ],
}

PLAN = [
    ('replace', 'alice', 'first draft', {
        'goal': 'ship the login page', 'owner': 'alice', 'steps': ['design']}),
    ('merge', 'alice', 'add implementation step', {
        'goal': 'ship the login page', 'owner': 'alice', 'steps': ['design', 'implement'], 'estimate_days': 3}),
    ('replace', 'bob', 'SSO scope', {
        'goal': 'ship the login page with SSO', 'owner': 'bob', 'estimate_days': 5,
        'steps': ['design', 'implement', 'review'],
        'notes': {'risk': 'SSO provider rate limits', 'links': ['https://example.invalid/sso']}}),
    ('merge', 'c1', None, {
        'goal': 'ship the login page with SSO', 'owner': 'bob',
        'steps': ['design', 'implement', 'review', 'deploy'],
        'notes': {'risk': 'SSO provider rate limits', 'contact': 'sso-team', 'links': ['https://example.invalid/sso']},
        'status': 'in progress'}),
]
MEMORY = [
    None,  # v1 pruned
    ('replace', 'c1', 'facts', {'facts': ['repo uses pnpm'], 'summary': 'short'}),
    ('merge', 'c1', None, {'facts': ['repo uses pnpm', 'CI runs on push'], 'summary': 'short'}),
    ('merge', 'c1', 'bad merge', {'facts': [], 'summary': None}),
    ('rollback', 'operator', 'rollback to v3', {'facts': ['repo uses pnpm', 'CI runs on push'], 'summary': 'short'}),
]


def make_context(iid, name, rows, rollback_pointer=None, rollback_state=None):
    versions = []
    for n, row in enumerate(rows, start=1):
        if row is None:
            continue
        mode, by, desc, data = row
        versions.append({'version': n, 'data': data, 'description': desc, 'created_by': by,
                         'byte_size': len(json.dumps(data, separators=(',', ':'))), 'mode': mode,
                         'created_at': ago(hours=len(rows) - n, minutes=3)})
    ctx = {'id': 'ctx-%s-%s' % (iid, name), 'instance_id': iid, 'name': name,
           'current_version': versions[-1]['version'], 'oldest_version': versions[0]['version'],
           'rollback_pointer': rollback_pointer, 'rollback_state': rollback_state,
           'created_at': versions[0]['created_at'], 'updated_at': versions[-1]['created_at']}
    return {'context': ctx, 'versions': versions}


CONTEXTS = {
    ('acme', 'web', 'c1'): {
        'plan': make_context('c1', 'plan', PLAN),
        'memory': make_context('c1', 'memory', MEMORY, rollback_pointer=3, rollback_state='success'),
    },
    ('acme', 'web', 'c2'): {
        'review notes/2026': make_context('c2', 'review notes/2026', [('replace', 'c2', None, {'open': 2, 'closed': 7})]),
    },
    ('globex', 'research', 'r2'): {
        'notebook': make_context('r2', 'notebook', [('replace', 'r2', None, {'cells': 3}), ('merge', 'r2', None, {'cells': 4})]),
    },
}


def esc_pointer(k):
    return k.replace('~', '~0').replace('/', '~1')


def make_patch(a, b, path=''):
    """RFC 6902 operations turning a into b (simple, not minimal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        ops = []
        for k in sorted(a):
            if k not in b:
                ops.append({'op': 'remove', 'path': path + '/' + esc_pointer(k)})
        for k in sorted(b):
            p = path + '/' + esc_pointer(k)
            if k not in a:
                ops.append({'op': 'add', 'path': p, 'value': b[k]})
            else:
                ops.extend(make_patch(a[k], b[k], p))
        return ops
    if isinstance(a, list) and isinstance(b, list):
        ops = []
        n = min(len(a), len(b))
        for i in range(n):
            ops.extend(make_patch(a[i], b[i], '%s/%d' % (path, i)))
        for i in range(n, len(b)):
            ops.append({'op': 'add', 'path': '%s/%d' % (path, i), 'value': b[i]})
        for i in range(len(a) - 1, n - 1, -1):
            ops.append({'op': 'remove', 'path': '%s/%d' % (path, i)})
        return ops
    if type(a) is type(b) and a == b:
        return []
    return [{'op': 'replace', 'path': path, 'value': b}]


# ------------------------------------------------------------------ events

OFFSET = itertools.count(1000)
OFFSET_LOCK = threading.Lock()


def next_event(ws, n):
    part = PARTITIONS.get(ws, 0)
    with OFFSET_LOCK:
        off = next(OFFSET)
    if ws == 'acme':
        project, a, b = 'web', 'c1', 'c4'
    else:
        project, a, b = 'research', 'r2', 'r1'
    templates = [
        ('instance.heartbeat', {'instance_id': a, 'status': 'active', 'at': now_iso(), 'state': {'progress': round((n % 10) / 10, 1)}}),
        ('context.version_created', {'context_id': 'ctx-%s-plan' % a, 'instance_id': a, 'name': 'plan', 'version': 5 + n // 6,
                                     'parent_version': 4 + n // 6, 'description': 'step done', 'created_by': a,
                                     'byte_size': 230 + n, 'mode': 'merge'}),
        ('instance.status_changed', {'instance_id': b, 'from': 'offline', 'to': 'active', 'reason': 'heartbeat', 'error': None}),
        ('command.rejected', {'code': 'version_conflict', 'message': 'expected version 3, current is 4',
                              'field': 'payload.expected_version', 'command_type': 'context.write'}),
        ('instance.spawned', {'instance_id': 'tmp-%d' % n, 'definition': 'coder', 'name': 'Temp %d' % n, 'status': 'idle',
                              'config': {}, 'state': None}),
        ('context.rolled_back', {'context_id': 'ctx-%s-memory' % a, 'instance_id': a, 'name': 'memory', 'target_version': 3,
                                 'new_version': 6, 'rollback_state': 'success'}),
    ]
    etype, payload = templates[n % len(templates)]
    ev = {'schema': 'agentcore.event/v1', 'id': 'agentcore.commands/%d/%d/0' % (part, off), 'type': etype,
          'command_id': 'cmd-%d' % off, 'workspace_id': ws, 'project_id': project,
          'occurred_at': now_iso(), 'payload': payload}
    return ev


# ------------------------------------------------------------------ HTTP

class Handler(BaseHTTPRequestHandler):
    server_version = 'agentcore-fake/0'
    protocol_version = 'HTTP/1.1'
    opts = None  # set in main

    def log_message(self, fmt, *args):
        if not self.opts.quiet:
            sys.stderr.write('%s %s\n' % (self.address_string(), fmt % args))

    # -- responses
    def send_json(self, status, body, headers=None):
        raw = json.dumps(body).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(raw)))
        self.send_header('Cache-Control', 'no-store')
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def error(self, status, code, message, headers=None):
        self.send_json(status, {'error': {'code': code, 'message': message}}, headers)

    def send_text(self, status, text, ctype):
        raw = text.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(raw)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        self.wfile.write(raw)

    def static(self, name, ctype):
        path = os.path.join(self.opts.console_dir, name)
        try:
            with open(path, 'r', encoding='utf-8') as f:
                self.send_text(200, f.read(), ctype)
        except OSError as e:
            self.send_text(404, 'missing %s: %s\n' % (path, e), 'text/plain; charset=utf-8')

    # -- routing
    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        segs = [unquote(s) for s in url.path.split('/')[1:]]
        if url.path in ('/', '/index.html'):
            return self.static('index.html', 'text/html; charset=utf-8')
        if url.path == '/console/app.js':
            return self.static('app.js', 'text/javascript; charset=utf-8')
        if url.path == '/console/style.css':
            return self.static('style.css', 'text/css; charset=utf-8')
        if url.path == '/healthz':
            return self.send_json(200, {'status': 'ok', 'last_loop_ms_ago': 12})
        if url.path == '/readyz':
            restoring = 1 if self.restoring() else 0
            return self.send_json(200 if not restoring else 503, {
                'ready': not restoring, 'reasons': ['partition 6 restoring'] if restoring else [],
                'partitions': {'active': 8 - restoring, 'restoring': restoring, 'failed': 0}})
        if url.path == '/metrics':
            return self.send_text(200, '# TYPE agentcore_events_published_total counter\nagentcore_events_published_total 42\n',
                                  'text/plain; version=0.0.4')
        if not url.path.startswith('/v1/'):
            return self.error(404, 'not_found', 'No such path: %s.' % url.path)
        if self.opts.token:
            auth = self.headers.get('Authorization', '')
            ok = auth == 'Bearer ' + self.opts.token or (url.path == '/v1/events' and q.get('access_token') == self.opts.token)
            if not ok:
                return self.error(401, 'unauthorized', 'A valid bearer token is required.')
        try:
            return self.route_v1(url.path, segs[1:], q)
        except (BrokenPipeError, ConnectionResetError):
            return None

    def restoring(self):
        return time.time() - STARTED < self.opts.restoring_seconds

    def route_v1(self, path, s, q):
        if s == ['cluster']:
            parts1 = [{'partition': p, 'state': 'active'} for p in range(0, 4)]
            parts2 = [{'partition': p, 'state': 'restoring' if p == 6 and self.restoring() else 'active'} for p in range(4, 8)]
            return self.send_json(200, {'self': 'worker-1', 'partition_count': 8, 'workers': [
                {'worker_id': 'worker-1', 'http_url': 'http://127.0.0.1:%d' % self.opts.port, 'last_seen': now_iso(), 'partitions': parts1},
                {'worker_id': 'worker-2', 'http_url': 'http://10.0.0.12:8080', 'last_seen': ago(seconds=3), 'partitions': parts2},
            ]})
        if s == ['definitions']:
            return self.send_json(200, {'definitions': [] if self.opts.empty else DEFINITIONS})
        if s == ['workspaces']:
            return self.send_json(200, {'workspaces': [] if self.opts.empty else WORKSPACES, 'partial': self.restoring()})
        if s == ['events']:
            return self.events(q)
        if len(s) >= 4 and s[0] == 'workspaces' and s[2] == 'projects':
            ws, project = s[1], s[3]
            part = PARTITIONS.get(ws, 0)
            hdrs = {'X-Agentcore-Worker': 'worker-1' if part < 4 else 'worker-2', 'X-Agentcore-Partition': str(part)}
            if ws == 'globex' and self.restoring():
                return self.error(503, 'partition_unavailable', 'Partition 6 is being restored on worker-2.', {'Retry-After': '2'})
            return self.workspace_route(ws, project, s[4:], q, hdrs)
        return self.error(404, 'not_found', 'No such endpoint.')

    def workspace_route(self, ws, project, s, q, hdrs):
        insts = INSTANCES.get((ws, project), [])
        if s == ['instances']:
            try:
                limit = int(q.get('limit', '50'))
            except ValueError:
                return self.error(400, 'bad_request', 'limit must be an integer.')
            if not 1 <= limit <= 500:
                return self.error(400, 'bad_request', 'limit must be between 1 and 500.')
            status = q.get('status')
            if status and status not in ('idle', 'initializing', 'active', 'busy', 'error', 'offline'):
                return self.error(400, 'bad_request', 'Unknown status %r.' % status)
            rows = sorted(insts, key=lambda i: i['id'])
            if status:
                rows = [i for i in rows if i['status'] == status]
            if q.get('after'):
                rows = [i for i in rows if i['id'] > q['after']]
            page = rows[:limit]
            nxt = page[-1]['id'] if len(rows) > limit else None
            return self.send_json(200, {'instances': page, 'next_after': nxt}, hdrs)
        if len(s) < 2 or s[0] != 'instances':
            return self.error(404, 'not_found', 'No such endpoint.')
        iid = s[1]
        inst = next((i for i in insts if i['id'] == iid), None)
        if inst is None:
            return self.error(404, 'not_found', 'Instance %s not found in %s/%s.' % (iid, ws, project))
        if len(s) == 2:
            return self.send_json(200, inst, hdrs)
        ctxs = CONTEXTS.get((ws, project, iid), {})
        if s[2:] == ['contexts']:
            return self.send_json(200, {'contexts': [c['context'] for c in ctxs.values()]}, hdrs)
        if len(s) < 4 or s[2] != 'contexts':
            return self.error(404, 'not_found', 'No such endpoint.')
        c = ctxs.get(s[3])
        if c is None:
            return self.error(404, 'not_found', 'Context %s not found for instance %s.' % (s[3], iid))
        by_n = {v['version']: v for v in c['versions']}

        def version_arg(name):
            try:
                return int(q[name])
            except (KeyError, ValueError):
                raise ValueError('%s must be an integer version' % name)

        if len(s) == 4:
            if 'version' in q:
                try:
                    n = version_arg('version')
                except ValueError as e:
                    return self.error(400, 'bad_request', str(e) + '.')
                if n not in by_n:
                    return self.error(404, 'version_not_retained', 'Version %d of %s is not retained.' % (n, c['context']['name']))
                return self.send_json(200, {'context': c['context'], 'version': by_n[n]}, hdrs)
            return self.send_json(200, {'context': c['context'], 'version': c['versions'][-1]}, hdrs)
        if s[4:] == ['versions']:
            try:
                limit = int(q.get('limit', '20'))
                before = int(q['before']) if 'before' in q else None
            except ValueError:
                return self.error(400, 'bad_request', 'limit and before must be integers.')
            if not 1 <= limit <= 200:
                return self.error(400, 'bad_request', 'limit must be between 1 and 200.')
            rows = sorted(c['versions'], key=lambda v: -v['version'])
            if before is not None:
                rows = [v for v in rows if v['version'] < before]
            page = rows[:limit]
            nxt = page[-1]['version'] if len(rows) > limit else None
            return self.send_json(200, {'versions': page, 'next_before': nxt}, hdrs)
        if s[4:] == ['diff']:
            try:
                a, b = version_arg('from'), version_arg('to')
            except ValueError as e:
                return self.error(400, 'bad_request', str(e) + '.')
            for n in (a, b):
                if n not in by_n:
                    return self.error(404, 'version_not_retained', 'Version %d of %s is not retained.' % (n, c['context']['name']))
            return self.send_json(200, {'from': a, 'to': b, 'patch': make_patch(by_n[a]['data'], by_n[b]['data'])}, hdrs)
        return self.error(404, 'not_found', 'No such endpoint.')

    def events(self, q):
        ws = q.get('workspace')
        if not ws:
            return self.error(400, 'bad_request', 'workspace is required.')
        self.send_response(200)
        self.send_header('Content-Type', 'text/event-stream')
        self.send_header('Cache-Control', 'no-store')
        self.send_header('Connection', 'close')
        self.end_headers()
        self.close_connection = True
        n = 0
        last_write = time.time()
        try:
            self.wfile.write(b': connected\n\n')
            self.wfile.flush()
            while True:
                time.sleep(0.25)
                if time.time() - last_write >= self.opts.event_interval:
                    ev = next_event(ws, n)
                    n += 1
                    msg = 'id: %s\nevent: %s\ndata: %s\n\n' % (ev['id'], ev['type'], json.dumps(ev, separators=(',', ':')))
                    self.wfile.write(msg.encode('utf-8'))
                    self.wfile.flush()
                    last_write = time.time()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=8099)
    ap.add_argument('--token', default='', help='require this bearer token on /v1/*')
    ap.add_argument('--restoring-seconds', type=float, default=0,
                    help='answer 503 partition_unavailable for workspace globex during the first N seconds')
    ap.add_argument('--event-interval', type=float, default=2.0, help='seconds between fake SSE events')
    ap.add_argument('--console-dir', default=os.path.join(here, '..', 'Sources', 'AgentCoreHTTP', 'Console'))
    ap.add_argument('--empty', action='store_true', help='no workspaces and no definitions (the empty state)')
    ap.add_argument('--quiet', action='store_true', help='no request log')
    opts = ap.parse_args()
    opts.console_dir = os.path.abspath(opts.console_dir)
    Handler.opts = opts
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((opts.host, opts.port), Handler)
    print('fake agentcore API (console development only) on http://%s:%d/ serving %s'
          % (opts.host, srv.server_address[1], opts.console_dir), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
