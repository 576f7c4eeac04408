// agentcore web console: a single-page app over the worker's HTTP API (same origin, relative URLs).
// No dependencies. Every piece of server data reaches the DOM through textContent or attributes
// (the h() helper below); nothing built from server data goes through innerHTML.
(() => {
  'use strict';

  const TOKEN_KEY = 'agentcore.console.token';
  const STATUSES = ['idle', 'initializing', 'active', 'busy', 'error', 'offline'];
  const EVENT_TYPES = [
    'definition.registered', 'definition.updated', 'definition.disabled',
    'instance.spawned', 'instance.status_changed', 'instance.configured', 'instance.heartbeat', 'instance.removed',
    'context.created', 'context.version_created', 'context.rolled_back', 'context.versions_pruned',
    'agent.message_delivered', 'command.rejected',
  ];
  const FEED_CAP = 200;
  const INSTANCE_PAGE = 50;
  const VERSION_PAGE = 20;

  // ---------------------------------------------------------------- DOM helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'dataset') { for (const [dk, dv] of Object.entries(v)) if (dv !== null && dv !== undefined) el.dataset[dk] = String(dv); }
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function $(sel, root) { return (root || document).querySelector(sel); }

  function enc(s) { return encodeURIComponent(String(s)); }
  function route(...segs) { return '#/' + segs.map(enc).join('/'); }

  function pretty(v) { return v === undefined ? 'null' : JSON.stringify(v, null, 2); }

  function sortedKeys(v) {
    if (Array.isArray(v)) return v.map(sortedKeys);
    if (v && typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v).sort()) {
        Object.defineProperty(out, k, { value: sortedKeys(v[k]), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return v;
  }

  function compact(v, max) {
    let s = v === undefined ? '' : JSON.stringify(v);
    if (s === undefined) s = String(v);
    max = max || 240;
    return s.length > max ? s.slice(0, max - 1) + '…' : s;
  }

  function bytes(n) {
    if (typeof n !== 'number') return '—';
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1024 / 1024).toFixed(1) + ' MiB';
  }

  function relTime(iso) {
    const t = Date.parse(iso);
    if (isNaN(t)) return String(iso);
    const diff = Math.round((Date.now() - t) / 1000);
    const s = Math.abs(diff);
    let txt;
    if (s < 5) return 'just now';
    if (s < 60) txt = s + ' s';
    else if (s < 3600) txt = Math.floor(s / 60) + ' min';
    else if (s < 86400) txt = Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    else txt = Math.floor(s / 86400) + ' d';
    return diff >= 0 ? txt + ' ago' : 'in ' + txt;
  }

  function timeEl(iso, emptyText) {
    if (iso === null || iso === undefined || iso === '') return h('span', { class: 'muted' }, emptyText || '—');
    return h('time', { class: 'rel', datetime: iso, title: iso, dataset: { ts: iso } }, relTime(iso));
  }

  function clockTime(iso) {
    const t = new Date(iso);
    if (isNaN(t.getTime())) return String(iso);
    return t.toISOString().slice(11, 23);
  }

  setInterval(() => {
    for (const el of document.querySelectorAll('time.rel[data-ts]')) el.textContent = relTime(el.dataset.ts);
  }, 10000);

  function badge(kind, value) {
    if (value === null || value === undefined) return h('span', { class: 'muted' }, '—');
    return h('span', { class: 'badge ' + kind + '-' + String(value).replace(/[^a-z_-]/gi, '') , dataset: { value } }, value);
  }

  function cmdBlock(lines) {
    const text = lines.join('\n');
    const pre = h('pre', { class: 'cmd' }, h('code', null, text));
    const btn = h('button', { type: 'button', class: 'small secondary copy' }, 'Copy');
    btn.addEventListener('click', async () => {
      try { await navigator.clipboard.writeText(text); btn.textContent = 'Copied'; }
      catch (_) {
        const range = document.createRange(); range.selectNodeContents(pre);
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        btn.textContent = 'Selected: press Ctrl+C';
      }
      setTimeout(() => { btn.textContent = 'Copy'; }, 2000);
    });
    return h('div', { class: 'cmd-block' }, pre, btn);
  }

  function shq(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }

  function emptyState(id, message, commands, extra) {
    return h('div', { class: 'empty-state', id }, h('p', null, message), commands ? cmdBlock(commands) : null, extra || null);
  }

  function section(title, ...children) {
    return h('section', { class: 'panel' }, h('h3', null, title), ...children);
  }

  function fields(id, pairs) {
    const [elId, ...extra] = id.split(' ');
    const dl = h('dl', { class: ['fields', ...extra].join(' '), id: elId });
    for (const [k, v] of pairs) append(dl, [h('dt', null, k), h('dd', null, v)]);
    return dl;
  }

  // ---------------------------------------------------------------- token

  function getToken() { try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; } }
  function setToken(t) {
    try { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); } catch (_) { /* private mode */ }
  }
  function authHeaders() {
    const t = getToken();
    const hd = { Accept: 'application/json' };
    if (t) hd.Authorization = 'Bearer ' + t;
    return hd;
  }

  function showAuth(message) {
    const box = $('#auth');
    $('#auth-message').textContent = message || '';
    box.hidden = false;
    $('#token-input').value = getToken();
    $('#token-input').focus();
  }
  function hideAuth() { $('#auth').hidden = true; }

  $('#auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken($('#token-input').value.trim());
    hideAuth();
    connectFeed();
    render();
  });
  $('#token-clear').addEventListener('click', () => { setToken(''); $('#token-input').value = ''; hideAuth(); connectFeed(); render(); });
  $('#token-cancel').addEventListener('click', hideAuth);
  $('#token-button').addEventListener('click', () => { if ($('#auth').hidden) showAuth(getToken() ? 'A token is stored. Replace or clear it.' : 'No token stored.'); else hideAuth(); });

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }
  class Cancelled extends Error { constructor() { super('cancelled'); } }

  let routeGen = 0;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function retryAfterSeconds(value) {
    if (!value) return 2;
    const n = Number(value);
    if (!isNaN(n)) return Math.min(60, Math.max(1, Math.ceil(n)));
    const t = Date.parse(value);
    if (!isNaN(t)) return Math.min(60, Math.max(1, Math.ceil((t - Date.now()) / 1000)));
    return 2;
  }

  const notices = new Map();
  function setNotice(key, text) {
    if (text) notices.set(key, text); else notices.delete(key);
    const el = $('#notice');
    clear(el);
    for (const t of notices.values()) append(el, [h('p', { class: 'retrying' }, t)]);
    el.hidden = notices.size === 0;
  }

  // GET a JSON endpoint. 401 opens the token form; 503 partition_unavailable is retried after
  // Retry-After for as long as the page that asked is still shown.
  async function api(path, gen) {
    const key = path;
    try {
      for (;;) {
        let resp;
        try {
          resp = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
        } catch (e) {
          throw new ApiError(0, 'network', 'Cannot reach the server (' + e.message + ').');
        }
        if (gen !== undefined && gen !== routeGen) throw new Cancelled();
        if (resp.ok) return await resp.json();
        let code = 'http_' + resp.status;
        let message = 'HTTP ' + resp.status + (resp.statusText ? ' ' + resp.statusText : '');
        try {
          const body = await resp.json();
          if (body && body.error) { code = body.error.code || code; message = body.error.message || message; }
        } catch (_) { /* not JSON */ }
        if (resp.status === 401) {
          showAuth(message);
          throw new ApiError(401, code, message + ' Enter the API token above.');
        }
        if (resp.status === 503 && code === 'partition_unavailable') {
          const secs = retryAfterSeconds(resp.headers.get('Retry-After'));
          setNotice(key, 'Partition restoring, retrying in ' + secs + ' s: ' + message);
          await sleep(secs * 1000);
          if (gen !== undefined && gen !== routeGen) throw new Cancelled();
          continue;
        }
        throw new ApiError(resp.status, code, message);
      }
    } finally {
      setNotice(key, null);
    }
  }

  function errorBox(err, back) {
    const box = h('div', { class: 'error-box', id: 'error', role: 'alert' },
      h('strong', null, err.status === 401 ? 'Unauthorized: ' : 'Error: '), err.message || String(err));
    if (err.code) append(box, [' ', h('span', { class: 'code' }, '(' + err.code + ')')]);
    if (back) append(box, [h('div', null, h('a', { href: back[0] }, back[1]))]);
    return box;
  }

  // ---------------------------------------------------------------- routing

  function parseHash() {
    let raw = location.hash.replace(/^#/, '');
    let query = '';
    const q = raw.indexOf('?');
    if (q >= 0) { query = raw.slice(q + 1); raw = raw.slice(0, q); }
    let segs;
    try { segs = raw.split('/').filter(Boolean).map(decodeURIComponent); } catch (_) { segs = []; }
    return { segs, query: new URLSearchParams(query) };
  }

  function content() { return $('#content'); }

  function setCrumbs(items) {
    const nav = clear($('#crumbs'));
    items.forEach((it, i) => {
      if (i > 0) append(nav, [h('span', { class: 'sep' }, '›')]);
      append(nav, [it[1] && i < items.length - 1 ? h('a', { href: it[1] }, it[0]) : h('span', { class: 'here' }, it[0])]);
    });
  }

  function setNav(which) {
    for (const a of document.querySelectorAll('#mainnav a')) a.classList.toggle('active', a.dataset.nav === which);
  }

  async function render() {
    const gen = ++routeGen;
    notices.clear(); setNotice('', null);
    const { segs, query } = parseHash();
    const el = clear(content());
    append(el, [h('p', { class: 'loading' }, 'Loading…')]);
    try {
      if (segs.length === 0) { setNav('workspaces'); await renderWorkspaces(gen); }
      else if (segs[0] === 'cluster' && segs.length === 1) { setNav('cluster'); await renderCluster(gen); }
      else if (segs[0] === 'w' && segs.length === 2) { setNav('workspaces'); setFeedWorkspace(segs[1]); await renderWorkspaces(gen, segs[1]); }
      else if (segs[0] === 'w' && segs[2] === 'p' && segs.length === 4) {
        setNav('workspaces'); setFeedWorkspace(segs[1]);
        await renderInstances(gen, segs[1], segs[3], query);
      } else if (segs[0] === 'w' && segs[2] === 'p' && segs[4] === 'i' && segs.length === 6) {
        setNav('workspaces'); setFeedWorkspace(segs[1]);
        await renderInstance(gen, segs[1], segs[3], segs[5]);
      } else if (segs[0] === 'w' && segs[2] === 'p' && segs[4] === 'i' && segs[6] === 'c' && segs.length === 8) {
        setNav('workspaces'); setFeedWorkspace(segs[1]);
        await renderContext(gen, segs[1], segs[3], segs[5], segs[7], query);
      } else {
        setNav(''); setCrumbs([['Workspaces', '#/'], ['Not found']]);
        clear(el); append(el, [errorBox(new ApiError(404, 'not_found', 'No such page in the console.'), ['#/', 'Back to the workspaces'])]);
      }
    } catch (err) {
      if (err instanceof Cancelled || gen !== routeGen) return;
      clear(el);
      append(el, [errorBox(err, ['#/', 'Back to the workspaces'])]);
    }
  }

  window.addEventListener('hashchange', render);

  function pageHeader(title, sub, actions) {
    return h('div', { class: 'page-head' },
      h('div', null, h('h2', null, title), sub ? h('p', { class: 'sub' }, sub) : null),
      h('div', { class: 'actions' }, actions || null,
        h('button', { type: 'button', class: 'secondary small', id: 'refresh', onclick: () => render() }, 'Refresh')));
  }

  // ---------------------------------------------------------------- workspaces

  // Enabled definitions, for the commands suggested by empty states ([] when unreadable).
  async function enabledDefinitions(gen) {
    try {
      const defs = (await api('/v1/definitions', gen)).definitions || [];
      return defs.filter((d) => d && d.is_enabled !== false && typeof d.slug === 'string');
    } catch (e) {
      if (e instanceof Cancelled) throw e;
      return [];
    }
  }

  async function renderWorkspaces(gen, only) {
    setCrumbs(only ? [['Workspaces', '#/'], [only]] : [['Workspaces']]);
    const data = await api('/v1/workspaces', gen);
    const el = clear(content());
    let list = data.workspaces || [];
    if (only) list = list.filter((w) => w.id === only);
    append(el, [pageHeader(only ? 'Workspace ' + only : 'Workspaces',
      only ? null : list.length + (list.length === 1 ? ' workspace' : ' workspaces') + ' across the cluster')]);
    if (data.partial) {
      append(el, [h('p', { class: 'warn', id: 'partial' },
        'Some partitions could not be read (restoring or unreachable): this list may be incomplete.')]);
    }
    if (list.length === 0) {
      if (only) {
        append(el, [emptyState('workspaces-empty', 'No workspace "' + only + '" was found.', null, h('a', { href: '#/' }, 'All workspaces'))]);
        return;
      }
      const enabled = await enabledDefinitions(gen);
      const slug = enabled.length ? enabled[0].slug : 'coder';
      const lines = [];
      if (!enabled.length) {
        lines.push('agentcore send --type definition.register --workspace acme \\');
        lines.push('    --payload \'{"slug":"coder","name":"Coder","agent_type":"llm"}\' --wait');
      }
      lines.push('agentcore send --type instance.spawn --workspace acme --project web \\');
      lines.push('    --payload ' + shq(JSON.stringify({ definition: slug, name: 'c1', instance_id: 'c1' })) + ' --wait');
      append(el, [h('div', { id: 'workspaces', class: 'empty' },
        emptyState('workspaces-empty',
          'No workspaces yet. Send a command' + (enabled.length ? '' : ' (register a definition first, then spawn an instance)') + ':',
          lines, h('p', { class: 'hint' }, 'Add --brokers host:port when the cluster is not at 127.0.0.1:9092.')))]);
      return;
    }
    const ul = h('ul', { id: 'workspaces', class: 'cards' });
    for (const w of list) {
      const projects = (w.projects || []).slice().sort();
      append(ul, [h('li', { class: 'workspace card', dataset: { id: w.id } },
        h('div', { class: 'card-head' },
          h('a', { class: 'ws-name', href: route('w', w.id) }, w.id),
          h('span', { class: 'muted' }, 'partition ' + w.partition)),
        projects.length
          ? h('ul', { class: 'projects' }, projects.map((p) =>
            h('li', null, h('a', { class: 'project-link', href: route('w', w.id, 'p', p), dataset: { project: p } }, p))))
          : h('p', { class: 'muted' }, 'No projects.'))]);
    }
    append(el, [ul]);
  }

  // ---------------------------------------------------------------- instances

  const pageStack = { key: '', stack: [] };

  async function renderInstances(gen, ws, project, query) {
    setCrumbs([['Workspaces', '#/'], [ws, route('w', ws)], [project]]);
    const status = query.get('status') || '';
    const after = query.get('after') || '';
    const key = ws + '\u0000' + project + '\u0000' + status;
    if (pageStack.key !== key) { pageStack.key = key; pageStack.stack = []; }
    if (!after) pageStack.stack = [];
    const base = route('w', ws, 'p', project);
    const link = (st, aft) => {
      const q = new URLSearchParams();
      if (st) q.set('status', st);
      if (aft) q.set('after', aft);
      const s = q.toString();
      return base + (s ? '?' + s : '');
    };
    const params = new URLSearchParams({ limit: String(INSTANCE_PAGE) });
    if (status) params.set('status', status);
    if (after) params.set('after', after);
    const data = await api('/v1/workspaces/' + enc(ws) + '/projects/' + enc(project) + '/instances?' + params, gen);
    const el = clear(content());

    const select = h('select', { id: 'status-filter', 'aria-label': 'Status filter' },
      h('option', { value: '' }, 'All statuses'),
      STATUSES.map((s) => h('option', { value: s }, s)));
    select.value = status;
    select.addEventListener('change', () => { location.hash = link(select.value, ''); });

    append(el, [pageHeader('Instances', ws + ' / ' + project,
      h('label', { class: 'inline' }, 'Status ', select))]);

    const list = data.instances || [];
    if (list.length === 0) {
      if (status || after) {
        append(el, [emptyState('instances-empty',
          after ? 'No more instances.' : 'No ' + status + ' instances in this project.', null,
          h('a', { href: link('', '') }, 'Show all instances'))]);
      } else {
        const enabled = await enabledDefinitions(gen);
        append(el, [emptyState('instances-empty', 'No instances in this project yet. Spawn one:', [
          'agentcore send --type instance.spawn --workspace ' + ws + ' --project ' + project + ' \\',
          '    --payload ' + shq(JSON.stringify({ definition: enabled.length ? enabled[0].slug : 'coder', name: 'c1' })) + ' --wait'])]);
      }
    } else {
      const tbody = h('tbody');
      for (const it of list) {
        const href = route('w', ws, 'p', project, 'i', it.id);
        append(tbody, [h('tr', { class: 'instance-row', dataset: { id: it.id, status: it.status } },
          h('td', null, h('a', { class: 'instance-link', href }, it.id)),
          h('td', null, it.name),
          h('td', null, h('code', null, it.definition)),
          h('td', { class: 'status' }, badge('status', it.status)),
          h('td', { class: 'heartbeat' }, timeEl(it.last_heartbeat, 'never')),
          h('td', { class: 'last-error' }, it.last_error
            ? h('span', { class: 'error-text', title: it.last_error }, compact(it.last_error, 90).replace(/^"|"$/g, ''))
            : h('span', { class: 'muted' }, '—')),
          h('td', null, timeEl(it.updated_at)))]);
      }
      append(el, [h('table', { id: 'instances', class: 'grid' },
        h('thead', null, h('tr', null, ['Instance', 'Name', 'Definition', 'Status', 'Last heartbeat', 'Last error', 'Updated']
          .map((t) => h('th', null, t)))),
        tbody)]);
    }

    const pager = h('div', { class: 'pager', id: 'pager' });
    if (after) {
      const prev = pageStack.stack.length ? pageStack.stack[pageStack.stack.length - 1] : null;
      append(pager, [h('button', { type: 'button', class: 'secondary', id: 'page-prev', onclick: () => {
        const p = pageStack.stack.pop();
        location.hash = link(status, p || '');
      } }, prev === null ? '« First page' : '‹ Previous page')]);
    }
    append(pager, [h('span', { class: 'muted' }, list.length + ' shown' + (after ? ', after ' + after : ''))]);
    if (data.next_after) {
      append(pager, [h('button', { type: 'button', class: 'secondary', id: 'page-next', onclick: () => {
        pageStack.stack.push(after);
        location.hash = link(status, data.next_after);
      } }, 'Next page ›')]);
    }
    append(el, [pager]);
  }

  // ---------------------------------------------------------------- one instance

  async function renderInstance(gen, ws, project, id) {
    setCrumbs([['Workspaces', '#/'], [ws, route('w', ws)], [project, route('w', ws, 'p', project)], [id]]);
    const base = '/v1/workspaces/' + enc(ws) + '/projects/' + enc(project) + '/instances/' + enc(id);
    const [inst, ctx] = await Promise.all([api(base, gen), api(base + '/contexts', gen)]);
    const el = clear(content());
    append(el, [pageHeader(h('span', null, inst.name + ' ', badge('status', inst.status)), 'instance ' + inst.id)]);

    const page = h('div', { id: 'instance', dataset: { id: inst.id, status: inst.status } });
    append(page, [section('Fields', fields('instance-fields wide', [
      ['Id', h('code', null, inst.id)],
      ['Name', inst.name],
      ['Definition', h('code', null, inst.definition)],
      ['Status', badge('status', inst.status)],
      ['Last heartbeat', timeEl(inst.last_heartbeat, 'never')],
      ['Last error', inst.last_error ? h('span', { class: 'error-text' }, inst.last_error) : h('span', { class: 'muted' }, '—')],
      ['Workspace / project', inst.workspace_id + ' / ' + inst.project_id],
      ['Created', timeEl(inst.created_at)],
      ['Updated', timeEl(inst.updated_at)],
    ]))]);
    append(page, [h('div', { class: 'two-col' },
      section('Config', h('pre', { class: 'json', id: 'instance-config' }, pretty(inst.config))),
      section('State', inst.state === null || inst.state === undefined
        ? h('p', { class: 'muted', id: 'instance-state' }, 'No state reported.')
        : h('pre', { class: 'json', id: 'instance-state' }, pretty(inst.state))))]);

    const contexts = (ctx.contexts || []).slice().sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    if (contexts.length === 0) {
      append(page, [section('Contexts', emptyState('contexts-empty', 'No contexts for this instance. Write one:', [
        'agentcore send --type context.write --workspace ' + ws + ' --project ' + project + ' \\',
        '    --payload ' + shq(JSON.stringify({ instance_id: id, name: 'plan', data: { steps: ['design'] } })) + ' --wait'])) ]);
    } else {
      const tbody = h('tbody');
      for (const c of contexts) {
        append(tbody, [h('tr', { class: 'context-row', dataset: { name: c.name, version: c.current_version } },
          h('td', null, h('a', { class: 'context-link', href: route('w', ws, 'p', project, 'i', id, 'c', c.name) }, c.name)),
          h('td', { class: 'num' }, 'v' + c.current_version),
          h('td', { class: 'num' }, 'v' + c.oldest_version),
          h('td', { class: 'num' }, c.rollback_pointer === null || c.rollback_pointer === undefined ? h('span', { class: 'muted' }, '—') : 'v' + c.rollback_pointer),
          h('td', null, badge('rollback', c.rollback_state)),
          h('td', null, timeEl(c.updated_at)))]);
      }
      append(page, [section('Contexts', h('table', { id: 'contexts', class: 'grid' },
        h('thead', null, h('tr', null, ['Name', 'Current', 'Oldest kept', 'Rollback pointer', 'Rollback state', 'Updated']
          .map((t) => h('th', null, t)))),
        tbody))]);
    }
    append(el, [page]);
  }

  // ---------------------------------------------------------------- one context

  async function renderContext(gen, ws, project, id, name, query) {
    setCrumbs([['Workspaces', '#/'], [ws, route('w', ws)], [project, route('w', ws, 'p', project)],
      [id, route('w', ws, 'p', project, 'i', id)], [name]]);
    const base = '/v1/workspaces/' + enc(ws) + '/projects/' + enc(project) + '/instances/' + enc(id) + '/contexts/' + enc(name);
    const [cur, vers] = await Promise.all([api(base, gen), api(base + '/versions?limit=' + VERSION_PAGE, gen)]);
    const c = cur.context;
    const v = cur.version;
    const el = clear(content());
    append(el, [pageHeader('Context ' + c.name, 'instance ' + id + ' · ' + ws + ' / ' + project)]);

    const page = h('div', { id: 'context', dataset: { name: c.name, current: c.current_version } });
    const top = h('div', { class: 'ctx-top' });
    append(page, [top]);
    append(top, [section('Context', fields('context-fields', [
      ['Current version', h('span', { id: 'current-version' }, 'v' + c.current_version)],
      ['Oldest kept', 'v' + c.oldest_version],
      ['Rollback pointer', h('span', { id: 'rollback-pointer' },
        c.rollback_pointer === null || c.rollback_pointer === undefined ? 'none' : 'v' + c.rollback_pointer)],
      ['Rollback state', h('span', { id: 'rollback-state' }, c.rollback_state ? badge('rollback', c.rollback_state) : h('span', { class: 'muted' }, 'none'))],
      ['Created', timeEl(c.created_at)],
      ['Updated', timeEl(c.updated_at)],
    ]))]);

    append(top, [section('Current data (v' + v.version + ')',
      h('p', { class: 'meta' }, versionMeta(v)),
      h('pre', { class: 'json tall', id: 'current-data', dataset: { version: v.version } }, pretty(v.data)))]);

    // versions (newest first, paged with next_before)
    const state = { a: null, b: null, diffGen: 0, expand: false };
    const tbody = h('tbody');
    const table = h('table', { id: 'version-list', class: 'grid' },
      h('thead', null, h('tr', null, ['A', 'B', 'Version', 'Mode', 'Created', 'By', 'Description', 'Size'].map((t) => h('th', null, t)))),
      tbody);
    const more = h('div', { class: 'pager' });
    const addVersions = (list, nextBefore) => {
      for (const ver of list) {
        append(tbody, [h('tr', { class: 'version-row', dataset: { version: ver.version } },
          h('td', null, h('button', { type: 'button', class: 'pick pick-a', title: 'Diff from this version', onclick: () => pick('a', ver.version) }, 'A')),
          h('td', null, h('button', { type: 'button', class: 'pick pick-b', title: 'Diff to this version', onclick: () => pick('b', ver.version) }, 'B')),
          h('td', { class: 'num' }, 'v' + ver.version, ver.version === c.current_version ? h('span', { class: 'tag' }, 'current') : null),
          h('td', null, badge('mode', ver.mode)),
          h('td', null, timeEl(ver.created_at)),
          h('td', null, ver.created_by),
          h('td', { class: 'desc' }, ver.description === null || ver.description === undefined ? h('span', { class: 'muted' }, '—') : ver.description),
          h('td', { class: 'num' }, bytes(ver.byte_size)))]);
      }
      clear(more);
      if (nextBefore !== null && nextBefore !== undefined) {
        append(more, [h('button', { type: 'button', class: 'secondary', id: 'versions-more', onclick: async (e) => {
          e.target.disabled = true;
          try {
            const next = await api(base + '/versions?limit=' + VERSION_PAGE + '&before=' + enc(nextBefore), gen);
            addVersions(next.versions || [], next.next_before);
            markPicks();
          } catch (err) {
            if (err instanceof Cancelled) return;
            clear(more); append(more, [errorBox(err)]);
          }
        } }, 'Load older versions')]);
      } else {
        append(more, [h('span', { class: 'muted' }, 'Oldest kept version: v' + c.oldest_version)]);
      }
    };
    addVersions(vers.versions || [], vers.next_before);
    append(page, [section('Versions (newest first)', h('div', { class: 'scroll' }, table), more)]);

    // diff
    const fromSel = h('select', { id: 'diff-from', 'aria-label': 'Version A' });
    const toSel = h('select', { id: 'diff-to', 'aria-label': 'Version B' });
    const newest = c.current_version;
    const oldest = Math.max(c.oldest_version, newest - 1999);
    for (let n = newest; n >= oldest; n--) {
      const label = 'v' + n + (n === newest ? ' (current)' : '');
      append(fromSel, [h('option', { value: n }, label)]);
      append(toSel, [h('option', { value: n }, label)]);
    }
    const diffBox = h('div', { id: 'diff' }, h('p', { class: 'muted' }, 'Pick two versions.'));
    const expandBox = h('input', { type: 'checkbox', id: 'diff-expand' });
    expandBox.addEventListener('change', () => { state.expand = expandBox.checked; loadDiff(); });
    append(page, [h('section', { class: 'panel', id: 'diff-panel' },
      h('h3', null, 'Diff'),
      h('div', { class: 'diff-controls' },
        h('label', { class: 'inline' }, 'A ', fromSel),
        h('button', { type: 'button', class: 'secondary small', id: 'diff-swap', title: 'Swap A and B', onclick: () => { const t = state.a; state.a = state.b; state.b = t; syncPicks(); } }, '⇄'),
        h('label', { class: 'inline' }, 'B ', toSel),
        h('label', { class: 'inline check' }, expandBox, ' show unchanged lines')),
      diffBox)]);
    append(el, [page]);

    fromSel.addEventListener('change', () => pick('a', Number(fromSel.value)));
    toSel.addEventListener('change', () => pick('b', Number(toSel.value)));

    function pick(which, n) { state[which] = n; syncPicks(); }
    function markPicks() {
      for (const row of tbody.querySelectorAll('.version-row')) {
        const n = Number(row.dataset.version);
        row.classList.toggle('is-a', n === state.a);
        row.classList.toggle('is-b', n === state.b);
        row.querySelector('.pick-a').setAttribute('aria-pressed', String(n === state.a));
        row.querySelector('.pick-b').setAttribute('aria-pressed', String(n === state.b));
      }
    }
    function syncPicks() {
      fromSel.value = String(state.a);
      toSel.value = String(state.b);
      markPicks();
      const q = new URLSearchParams({ a: String(state.a), b: String(state.b) });
      history.replaceState(null, '', route('w', ws, 'p', project, 'i', id, 'c', name) + '?' + q);
      loadDiff();
    }

    async function loadDiff() {
      const a = state.a, b = state.b;
      const my = ++state.diffGen;
      diffBox.dataset.from = a; diffBox.dataset.to = b; diffBox.dataset.state = 'loading';
      clear(diffBox); append(diffBox, [h('p', { class: 'loading' }, 'Loading diff v' + a + ' → v' + b + '…')]);
      if (a === b) {
        clear(diffBox);
        diffBox.dataset.state = 'same';
        append(diffBox, [h('p', { class: 'muted', id: 'diff-summary' },
          c.current_version === c.oldest_version ? 'Only one version is kept so far: nothing to compare.' : 'A and B are the same version: pick two different ones.')]);
        return;
      }
      let d, va, vb;
      try {
        [d, va, vb] = await Promise.all([
          api(base + '/diff?from=' + a + '&to=' + b, gen),
          api(base + '?version=' + a, gen),
          api(base + '?version=' + b, gen)]);
      } catch (err) {
        if (err instanceof Cancelled || my !== state.diffGen) return;
        clear(diffBox); diffBox.dataset.state = 'error';
        append(diffBox, [errorBox(err)]);
        return;
      }
      if (my !== state.diffGen) return;
      clear(diffBox);
      diffBox.dataset.state = 'ready';
      renderDiff(diffBox, d.patch || [], va.version, vb.version, state.expand);
    }

    const qa = Number(query.get('a')), qb = Number(query.get('b'));
    const inRange = (n) => Number.isInteger(n) && n >= oldest && n <= newest;
    state.b = inRange(qb) && query.has('b') ? qb : newest;
    state.a = inRange(qa) && query.has('a') ? qa : Math.max(oldest, newest - 1);
    syncPicks();
  }

  function versionMeta(v) {
    return [badge('mode', v.mode), ' by ', v.created_by, ' · ', timeEl(v.created_at), ' · ', bytes(v.byte_size),
      v.description ? [' · ', h('span', { class: 'desc' }, v.description)] : null];
  }

  // ---------------------------------------------------------------- JSON Patch (RFC 6902) + pointers

  const MISSING = Symbol('missing');

  function parsePointer(p) {
    if (p === '') return [];
    if (typeof p !== 'string' || p[0] !== '/') throw new Error('bad pointer ' + p);
    return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  function isIndex(t) { return /^(0|[1-9][0-9]*)$/.test(t); }
  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
  function setOwn(o, k, v) { Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true }); }

  function getAt(doc, tokens) {
    let cur = doc;
    for (const t of tokens) {
      if (Array.isArray(cur)) {
        if (!isIndex(t) || Number(t) >= cur.length) return MISSING;
        cur = cur[Number(t)];
      } else if (cur !== null && typeof cur === 'object') {
        if (!has(cur, t)) return MISSING;
        cur = cur[t];
      } else return MISSING;
    }
    return cur;
  }

  function parentOf(doc, tokens) {
    const parent = getAt(doc, tokens.slice(0, -1));
    if (parent === MISSING || parent === null || typeof parent !== 'object') throw new Error('no parent for ' + tokens.join('/'));
    return parent;
  }

  function addAt(doc, tokens, value) {
    if (tokens.length === 0) return value;
    const parent = parentOf(doc, tokens);
    const key = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!(key === '-' || isIndex(key)) || i > parent.length) throw new Error('bad index');
      parent.splice(i, 0, value);
    } else setOwn(parent, key, value);
    return doc;
  }

  function removeAt(doc, tokens) {
    if (tokens.length === 0) return null;
    const parent = parentOf(doc, tokens);
    const key = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      if (!isIndex(key) || Number(key) >= parent.length) throw new Error('bad index');
      parent.splice(Number(key), 1);
    } else {
      if (!has(parent, key)) throw new Error('no member ' + key);
      delete parent[key];
    }
    return doc;
  }

  function replaceAt(doc, tokens, value) {
    if (tokens.length === 0) return value;
    const parent = parentOf(doc, tokens);
    const key = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      if (!isIndex(key) || Number(key) >= parent.length) throw new Error('bad index');
      parent[Number(key)] = value;
    } else {
      if (!has(parent, key)) throw new Error('no member ' + key);
      setOwn(parent, key, value);
    }
    return doc;
  }

  function clone(v) { return v === undefined ? undefined : JSON.parse(JSON.stringify(v)); }

  function deepEqual(x, y) {
    if (x === y) return true;
    if (typeof x !== typeof y || x === null || y === null || typeof x !== 'object') return false;
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    if (Array.isArray(x)) return x.length === y.length && x.every((e, i) => deepEqual(e, y[i]));
    const kx = Object.keys(x), ky = Object.keys(y);
    return kx.length === ky.length && kx.every((k) => has(y, k) && deepEqual(x[k], y[k]));
  }

  // Walks the patch over a copy of A's data, so each operation's old value is read from the
  // document as it stands when that operation applies (what A's data holds at that path for
  // patches whose operations do not overlap).
  function explainPatch(patch, dataA, dataB) {
    let doc = clone(dataA);
    let ok = true;
    const rows = [];
    for (const op of patch) {
      const row = { op: String(op.op), path: String(op.path), from: op.from, old: MISSING, neu: MISSING };
      let tokens = null;
      try { tokens = parsePointer(op.path); } catch (_) { ok = false; }
      const src = ok ? doc : dataA;
      if (tokens) {
        const before = getAt(src, tokens);
        const parent = tokens.length ? getAt(src, tokens.slice(0, -1)) : null;
        switch (row.op) {
          case 'replace': case 'remove': case 'test': row.old = before; break;
          case 'add': case 'move': case 'copy':
            if (!Array.isArray(parent)) row.old = before; // adding to an existing object member replaces it
            break;
          default: break;
        }
        if (row.op === 'move' || row.op === 'copy') {
          try { row.neu = getAt(src, parsePointer(op.from)); } catch (_) { /* bad from */ }
        }
      }
      if ('value' in op && row.op !== 'test') row.neu = op.value;
      if (row.op === 'test') row.neu = op.value;
      // snapshot: later operations mutate the walked document
      if (row.old !== MISSING) row.old = clone(row.old);
      if (row.neu !== MISSING) row.neu = clone(row.neu);
      if (ok && tokens) {
        try {
          switch (row.op) {
            case 'add': doc = addAt(doc, tokens, clone(op.value)); break;
            case 'remove': doc = removeAt(doc, tokens); break;
            case 'replace': doc = replaceAt(doc, tokens, clone(op.value)); break;
            case 'move': { const ft = parsePointer(op.from); const val = getAt(doc, ft); if (val === MISSING) throw new Error('no from'); doc = removeAt(doc, ft); doc = addAt(doc, tokens, val); break; }
            case 'copy': { const val = getAt(doc, parsePointer(op.from)); if (val === MISSING) throw new Error('no from'); doc = addAt(doc, tokens, clone(val)); break; }
            case 'test': break;
            default: throw new Error('unknown op');
          }
        } catch (_) { ok = false; }
      }
      rows.push(row);
    }
    return { rows, reproduces: ok && deepEqual(doc, dataB), applied: ok };
  }

  function valueCell(cls, v) {
    if (v === MISSING) return h('span', { class: cls + ' none' }, '—');
    const full = JSON.stringify(v);
    return h('code', { class: cls, title: full && full.length > 160 ? full.slice(0, 4000) : null }, compact(v, 160));
  }

  // ---------------------------------------------------------------- line diff

  function lineDiff(a, b) {
    let pre = 0;
    while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
    let suf = 0;
    while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
    const ops = [];
    for (let i = 0; i < pre; i++) ops.push(['=', i, i]);
    const am = a.slice(pre, a.length - suf), bm = b.slice(pre, b.length - suf);
    const n = am.length, m = bm.length;
    if (n * m <= 4000000 && n > 0 && m > 0) {
      // LCS table, suffix form
      const w = m + 1;
      const L = new Uint32Array((n + 1) * w);
      for (let i = n - 1; i >= 0; i--) {
        for (let j = m - 1; j >= 0; j--) {
          L[i * w + j] = am[i] === bm[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
        }
      }
      let i = 0, j = 0;
      while (i < n && j < m) {
        if (am[i] === bm[j]) { ops.push(['=', pre + i, pre + j]); i++; j++; }
        else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) { ops.push(['-', pre + i]); i++; }
        else { ops.push(['+', pre + j]); j++; }
      }
      while (i < n) ops.push(['-', pre + i++]);
      while (j < m) ops.push(['+', pre + j++]);
    } else {
      for (let i = 0; i < n; i++) ops.push(['-', pre + i]);
      for (let j = 0; j < m; j++) ops.push(['+', pre + j]);
    }
    for (let k = 0; k < suf; k++) ops.push(['=', a.length - suf + k, b.length - suf + k]);
    return ops;
  }

  // Pairs runs of removed/added lines into side-by-side rows.
  function sideRows(ops) {
    const rows = [];
    let dels = [], adds = [];
    const flush = () => {
      const k = Math.max(dels.length, adds.length);
      for (let i = 0; i < k; i++) rows.push({ kind: 'chg', l: i < dels.length ? dels[i] : null, r: i < adds.length ? adds[i] : null });
      dels = []; adds = [];
    };
    for (const op of ops) {
      if (op[0] === '=') { flush(); rows.push({ kind: 'eq', l: op[1], r: op[2] }); }
      else if (op[0] === '-') dels.push(op[1]);
      else adds.push(op[1]);
    }
    flush();
    return rows;
  }

  function renderDiff(box, patch, va, vb, expand) {
    const ex = explainPatch(patch, va.data, vb.data);
    append(box, [h('p', { id: 'diff-summary', class: 'summary' },
      patch.length === 0
        ? 'v' + va.version + ' and v' + vb.version + ' hold the same data.'
        : patch.length + (patch.length === 1 ? ' operation turns ' : ' operations turn ') + 'v' + va.version + ' into v' + vb.version + '.')]);
    if (patch.length && !ex.reproduces) {
      append(box, [h('p', { class: 'warn', id: 'diff-mismatch' },
        ex.applied ? 'Note: applying this patch to v' + va.version + ' does not reproduce v' + vb.version + "'s data exactly."
          : 'Note: the patch could not be applied to v' + va.version + ' here; old values are read from v' + va.version + ' as it is.')]);
    }
    if (patch.length) {
      const ol = h('ol', { id: 'diff-ops', class: 'ops' });
      for (const r of ex.rows) {
        append(ol, [h('li', { class: 'diff-op op-' + r.op.replace(/[^a-z]/g, ''), dataset: { op: r.op, path: r.path } },
          h('span', { class: 'op' }, r.op),
          h('code', { class: 'path' }, r.path === '' ? '(whole document)' : r.path),
          r.from !== undefined ? h('span', { class: 'from' }, 'from ', h('code', null, String(r.from))) : null,
          h('span', { class: 'values' },
            valueCell('old', r.old), h('span', { class: 'arrow' }, '→'), valueCell('new', r.neu)))]);
      }
      append(box, [h('div', { class: 'ops-head' },
        h('span', null, 'op'), h('span', null, 'path'), h('span', null, 'v' + va.version + ' value → v' + vb.version + ' value')), ol]);
    }

    // side by side, keys sorted so both sides print the same way
    const la = pretty(sortedKeys(va.data)).split('\n');
    const lb = pretty(sortedKeys(vb.data)).split('\n');
    const rows = sideRows(lineDiff(la, lb));
    const tbody = h('tbody');
    const CONTEXT = 3;
    const changedAt = rows.map((r) => r.kind !== 'eq');
    const near = new Array(rows.length).fill(false);
    rows.forEach((r, i) => {
      if (changedAt[i]) for (let k = Math.max(0, i - CONTEXT); k <= Math.min(rows.length - 1, i + CONTEXT); k++) near[k] = true;
    });
    let hidden = 0;
    const flushHidden = () => {
      if (hidden) append(tbody, [h('tr', { class: 'fold' }, h('td', { colspan: 4 }, '⋯ ' + hidden + ' unchanged line' + (hidden === 1 ? '' : 's')))]);
      hidden = 0;
    };
    rows.forEach((r, i) => {
      if (!expand && !near[i] && rows.length > 40) { hidden++; return; }
      flushHidden();
      const chg = r.kind === 'chg';
      append(tbody, [h('tr', { class: chg ? 'changed' : 'same' },
        h('td', { class: 'ln' }, r.l === null ? '' : String(r.l + 1)),
        h('td', { class: 'code side-a' + (chg && r.l !== null ? ' changed del' : '') + (r.l === null ? ' blank' : '') }, r.l === null ? '' : la[r.l]),
        h('td', { class: 'ln' }, r.r === null ? '' : String(r.r + 1)),
        h('td', { class: 'code side-b' + (chg && r.r !== null ? ' changed add' : '') + (r.r === null ? ' blank' : '') }, r.r === null ? '' : lb[r.r]))]);
    });
    flushHidden();
    append(box, [h('div', { id: 'diff-side', class: 'side-by-side' },
      h('table', null,
        h('colgroup', null, h('col', { class: 'ln' }), h('col'), h('col', { class: 'ln' }), h('col')),
        h('thead', null, h('tr', null,
          h('th', { colspan: 2 }, 'A: v' + va.version + ' ', h('span', { class: 'muted' }, va.created_at)),
          h('th', { colspan: 2 }, 'B: v' + vb.version + ' ', h('span', { class: 'muted' }, vb.created_at)))),
        tbody))]);
  }

  // ---------------------------------------------------------------- cluster

  let clusterTimer = null;

  async function renderCluster(gen) {
    setCrumbs([['Cluster']]);
    const data = await api('/v1/cluster', gen);
    const el = clear(content());
    const workers = (data.workers || []).slice().sort((a, b) => a.worker_id < b.worker_id ? -1 : 1);
    append(el, [pageHeader('Cluster', 'answered by ' + data.self + ' · ' + data.partition_count + ' partitions · ' + workers.length + ' worker' + (workers.length === 1 ? '' : 's'))]);
    const wrap = h('div', { id: 'cluster' });
    if (!workers.length) {
      append(wrap, [emptyState('cluster-empty', 'No worker heartbeats seen yet. Start a worker:', [
        'agentcore worker --brokers 127.0.0.1:9092 --data-dir ./data/w1'])]);
    } else {
      const tbody = h('tbody');
      for (const w of workers) {
        const parts = (w.partitions || []).slice().sort((x, y) => x.partition - y.partition);
        const url = typeof w.http_url === 'string' && /^https?:\/\//i.test(w.http_url)
          ? h('a', { href: w.http_url, rel: 'noreferrer' }, w.http_url) : h('span', { class: 'muted' }, w.http_url || '—');
        append(tbody, [h('tr', { class: 'worker-row', dataset: { id: w.worker_id } },
          h('td', null, h('strong', null, w.worker_id), w.worker_id === data.self ? h('span', { class: 'tag' }, 'this worker') : null),
          h('td', null, url),
          h('td', null, timeEl(w.last_seen)),
          h('td', null, parts.length ? parts.map((p) =>
            h('span', { class: 'chip partition-' + String(p.state).replace(/[^a-z]/g, ''), dataset: { partition: p.partition, state: p.state }, title: 'partition ' + p.partition + ': ' + p.state },
              'p' + p.partition, h('small', null, p.state))) : h('span', { class: 'muted' }, 'none')))]);
      }
      append(wrap, [section('Workers', h('table', { id: 'workers', class: 'grid' },
        h('thead', null, h('tr', null, ['Worker', 'HTTP', 'Last seen', 'Partitions'].map((t) => h('th', null, t)))), tbody))]);

      const owner = new Map();
      for (const w of workers) for (const p of w.partitions || []) owner.set(p.partition, { worker: w.worker_id, state: p.state });
      const grid = h('div', { id: 'partition-map', class: 'pmap' });
      for (let p = 0; p < (data.partition_count || 0); p++) {
        const o = owner.get(p);
        append(grid, [h('div', { class: 'pcell ' + (o ? 'partition-' + String(o.state).replace(/[^a-z]/g, '') : 'partition-none'), dataset: { partition: p } },
          h('div', { class: 'pnum' }, 'partition ' + p),
          h('div', null, o ? o.worker : 'no owner'),
          h('small', null, o ? o.state : 'unassigned'))]);
      }
      append(wrap, [section('Partitions', grid)]);
    }
    append(el, [wrap]);
    clearTimeout(clusterTimer);
    clusterTimer = setTimeout(() => { if (gen === routeGen) render(); }, 10000);
  }

  // ---------------------------------------------------------------- live feed

  const feed = { ws: null, es: null, paused: false, events: [], seen: new Set(), retry: null, missed: 0 };

  function setFeedState(state, text) {
    $('#feed').dataset.state = state;
    const st = $('#feed-status');
    st.textContent = text || state;
    st.className = 'feed-status s-' + state;
  }

  function setFeedWorkspace(ws) {
    if (ws === feed.ws) return;
    feed.ws = ws;
    feed.events = []; feed.seen.clear();
    $('#feed-workspace').textContent = 'workspace ' + ws;
    renderFeed();
    connectFeed();
  }

  function connectFeed() {
    if (feed.es) { feed.es.close(); feed.es = null; }
    clearTimeout(feed.retry);
    if (!feed.ws) { setFeedState('idle'); return; }
    let url = '/v1/events?workspace=' + enc(feed.ws);
    const t = getToken();
    if (t) url += '&access_token=' + enc(t);
    let es;
    try { es = new EventSource(url); } catch (e) { setFeedState('closed', 'cannot open'); return; }
    feed.es = es;
    setFeedState('connecting', 'connecting…');
    es.onopen = () => { if (feed.es === es) setFeedState('open', 'live'); };
    es.onerror = () => {
      if (feed.es !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        setFeedState('closed', 'refused; retrying in 5 s');
        feed.retry = setTimeout(connectFeed, 5000);
      } else setFeedState('reconnecting', 'reconnecting…');
    };
    es.onmessage = onFeedMessage;
    for (const type of EVENT_TYPES) es.addEventListener(type, onFeedMessage);
  }

  function onFeedMessage(msg) {
    let ev;
    try { ev = JSON.parse(msg.data); } catch (_) { ev = { type: msg.type, id: msg.lastEventId, payload: { raw: String(msg.data) } }; }
    if (!ev || typeof ev !== 'object') return;
    if (!ev.type) ev.type = msg.type;
    const id = ev.id || msg.lastEventId;
    if (id) { if (feed.seen.has(id)) return; feed.seen.add(id); }
    feed.events.unshift(ev);
    while (feed.events.length > FEED_CAP) {
      const gone = feed.events.pop();
      if (gone.id) feed.seen.delete(gone.id);
    }
    if (feed.paused) { feed.missed++; $('#feed-pause').textContent = 'Resume (' + feed.missed + ')'; return; }
    const list = $('#feed-list');
    list.insertBefore(feedItem(ev), list.firstChild);
    while (list.children.length > FEED_CAP) list.removeChild(list.lastChild);
    $('#feed-empty').hidden = true;
  }

  function renderFeed() {
    const list = clear($('#feed-list'));
    for (const ev of feed.events) list.appendChild(feedItem(ev));
    const empty = $('#feed-empty');
    empty.hidden = feed.events.length > 0;
    empty.textContent = feed.ws ? 'Waiting for events in ' + feed.ws + '… (only new events are shown)' : 'Open a workspace to follow its events.';
  }

  function summary(ev) {
    const p = ev.payload || {};
    const v = (n) => (n === null || n === undefined ? '?' : 'v' + n);
    const ctx = () => (typeof p.instance_id === 'string' ? '' : '? / ') + 'context ' + (p.name || '?');
    switch (ev.type) {
      case 'instance.spawned': return 'spawned (' + (p.definition || '?') + ', ' + (p.status || '?') + ')';
      case 'instance.status_changed': return (p.from || '?') + ' → ' + (p.to || '?') + (p.reason ? ': ' + p.reason : '') + (p.error ? ' (' + p.error + ')' : '');
      case 'instance.configured': return 'configured';
      case 'instance.heartbeat': return 'heartbeat, ' + (p.status || '?');
      case 'instance.removed': return 'removed, ' + (p.contexts_removed ?? 0) + ' context(s) removed';
      case 'context.created': return ctx() + ' created';
      case 'context.version_created': return ctx() + ' ' + v(p.version) + ' (' + (p.mode || '?') + ', ' + bytes(p.byte_size) + ')' + (p.description ? ': ' + p.description : '');
      case 'context.rolled_back': return ctx() + ' rolled back to ' + v(p.target_version) + ' as ' + v(p.new_version) + ' (' + (p.rollback_state || '?') + ')';
      case 'context.versions_pruned': return ctx() + ' pruned ' + v(p.pruned_from) + '–' + v(p.pruned_to) + ', kept from ' + v(p.retained_from);
      case 'agent.message_delivered': return 'message #' + (p.seq ?? '?') + ' ' + (p.from_instance_id || '?') + ' → ' + (p.to_instance_id || '?') + ': ' + compact(p.body, 80);
      case 'command.rejected': return (p.command_type || 'command') + ' rejected: ' + (p.code || '?') + (p.field ? ' at ' + p.field : '') + (p.message ? ': ' + p.message : '');
      case 'definition.registered': case 'definition.updated': case 'definition.disabled':
        return 'definition ' + (p.slug || '?') + ' ' + ev.type.split('.')[1] + ' (revision ' + (p.revision ?? '?') + ')';
      default: return compact(p, 120);
    }
  }

  function feedItem(ev) {
    const p = ev.payload || {};
    const type = String(ev.type || 'message');
    const cat = type.split('.')[0].replace(/[^a-z]/g, '');
    const instance = typeof p.instance_id === 'string' ? p.instance_id : null;
    let who = null;
    if (instance) {
      who = ev.project_id && ev.workspace_id
        ? h('a', { class: 'ev-instance', href: route('w', ev.workspace_id, 'p', ev.project_id, 'i', instance), title: ev.project_id + ' / ' + instance }, instance)
        : h('span', { class: 'ev-instance' }, instance);
    }
    const text = summary(ev);
    return h('li', { class: 'feed-item cat-' + cat + (type === 'command.rejected' ? ' rejected' : ''), dataset: { type, id: ev.id } },
      h('div', { class: 'ev-head' },
        h('span', { class: 'ev-type' }, type),
        ev.occurred_at ? h('time', { class: 'ev-time', datetime: ev.occurred_at, title: ev.occurred_at }, clockTime(ev.occurred_at)) : null),
      h('div', { class: 'ev-body' }, who, who ? ' ' : null, h('span', { class: 'ev-summary', title: text.length > 80 ? text : null }, text)));
  }

  $('#feed-pause').addEventListener('click', () => {
    feed.paused = !feed.paused;
    feed.missed = 0;
    $('#feed-pause').textContent = feed.paused ? 'Resume' : 'Pause';
    if (!feed.paused) renderFeed();
  });
  $('#feed-clear').addEventListener('click', () => { feed.events = []; feed.seen.clear(); renderFeed(); });

  // ---------------------------------------------------------------- start

  render();
})();
