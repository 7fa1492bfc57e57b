// The page at `/`: sources, replicated tables and the map of the source
// databases, from the admin API. Preact renders every value as text (no
// innerHTML anywhere), so what the API or a source returns cannot become
// markup. Paths are relative, so the page also works behind a path prefix.
import htm from 'htm';
import { h, render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';

const html = htm.bind(h);
const TOKEN_KEY = 'kuvasz-streamer.token';
const STATUS_EVERY_MS = 5000;
const READ_ONLY_NOTE =
  'The map is read-only: it is the configuration file (declarative mode). Edit the file and send SIGHUP, or keep the map in the destination to change it here.';

/** An answer of the API that is not a success, with its `{ code, error, info? }` body. */
class ApiFailure extends Error {
  constructor(status, body) {
    super(body.error);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, token) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, { method, headers });
  } catch (e) {
    throw new ApiFailure(0, {
      code: 'network_error',
      error: `cannot reach the streamer: ${e.message}`,
    });
  }
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const known = body && typeof body.error === 'string';
    throw new ApiFailure(
      res.status,
      known ? body : { code: `http_${res.status}`, error: text.trim() || res.statusText },
    );
  }
  return body;
}

async function login(password) {
  const res = await fetch('api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ password }),
  }).catch((e) => {
    throw new ApiFailure(0, {
      code: 'network_error',
      error: `cannot reach the streamer: ${e.message}`,
    });
  });
  const body = await res.json().catch(() => undefined);
  if (!res.ok)
    throw new ApiFailure(
      res.status,
      body?.error ? body : { code: `http_${res.status}`, error: res.statusText },
    );
  return body.token;
}

const seconds = (s) => (typeof s === 'number' ? `${s.toFixed(1)} s` : '');

function bytes(b) {
  if (b === null || b === undefined) return '';
  const n = Number(b);
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

function ErrorBox({ failure, onClose }) {
  if (!failure) return null;
  const b = failure.body;
  return html`<div class="alert" role="alert" data-code=${b.code}>
    <code>${b.code}</code>: <span class="message">${b.error}</span>
    ${b.info ? html`<pre class="info">${b.info}</pre>` : null}
    <button type="button" onClick=${onClose}>Dismiss</button>
  </div>`;
}

function LoginForm({ token, onLogin, onLogout }) {
  const [password, setPassword] = useState('');
  if (token)
    return html`<div>Logged in <button type="button" onClick=${onLogout}>Log out</button></div>`;
  const submit = (e) => {
    e.preventDefault();
    onLogin(password).then((ok) => ok && setPassword(''));
  };
  return html`<form onSubmit=${submit} aria-label="Log in">
    <label>
      Admin password
      <input
        type="password"
        name="password"
        autocomplete="current-password"
        value=${password}
        onInput=${(e) => setPassword(e.currentTarget.value)}
      />
    </label>
    <button type="submit">Log in</button>
  </form>`;
}

function Sources({ status }) {
  const sources = status?.sources ?? [];
  if (sources.length === 0) return html`<p class="muted">No source is running in this process.</p>`;
  return html`<table id="sources">
    <thead>
      <tr>
        <th>Database</th><th>sid</th><th>State</th><th>Lag</th><th>WAL behind</th>
        <th>Retries</th><th>Last error</th>
      </tr>
    </thead>
    <tbody>
      ${sources.map(
        (s) => html`<tr key=${`${s.database}/${s.sid}`}>
          <td>${s.database}</td>
          <td>${s.sid}</td>
          <td class=${`state-${s.state}`}>${s.state}</td>
          <td class="num">${seconds(s.lagSeconds)}</td>
          <td class="num">${bytes(s.health?.lagBytes)}</td>
          <td class="num">${s.retries}</td>
          <td class="error">
            ${s.lastError ? html`${s.lastError.kind}: ${s.lastError.message} <span class="muted">(${s.lastError.at})</span>` : null}
            ${s.health?.error ? html`<div>health: ${s.health.error}</div>` : null}
          </td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function Tables({ tbls, canChange, busy, onStop }) {
  if (tbls.length === 0) return html`<p class="muted">No table is replicated.</p>`;
  return html`<table id="tables">
    <thead>
      <tr><th>id</th><th>Database</th><th>Table</th><th>Type</th><th>Target</th><th></th></tr>
    </thead>
    <tbody>
      ${tbls.map(
        (t) => html`<tr key=${t.id} data-tbl-id=${t.id}>
          <td class="num">${t.id}</td>
          <td>${t.db_name}</td>
          <td>${t.schema}.${t.name}</td>
          <td>${t.type}</td>
          <td>${t.target}</td>
          <td>
            <button
              type="button"
              aria-label=${`Stop replicating ${t.db_name} ${t.schema}.${t.name}`}
              disabled=${!canChange || busy}
              onClick=${() => onStop(t.id)}
            >
              Stop replicating
            </button>
          </td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function MapRow({ e, canChange, busy, onReplicate, onStop }) {
  const [type, setType] = useState('clone');
  const [regex, setRegex] = useState('');
  const partitioned = e.partitions && e.partitions.length > 0;
  const label = `${e.db_name} ${e.schema}.${e.name}`;
  return html`<tr data-map-id=${e.id} data-replicated=${String(e.replicated)}>
    <td>${e.db_name}</td>
    <td>${e.schema}.${e.name}${partitioned ? html` <span class="muted">(partitioned: ${e.partitions.join(', ')})</span>` : null}</td>
    <td>${e.target}</td>
    <td class=${e.present ? 'yes' : 'muted'}>${e.present ? 'yes' : 'no'}</td>
    <td class=${e.replicated ? 'yes' : 'muted'}>${e.replicated ? `yes (${e.type})` : 'no'}</td>
    <td>
      ${
        e.replicated
          ? html`<button
              type="button"
              aria-label=${`Stop replicating ${label}`}
              disabled=${!canChange || busy || e.tbl_id === null}
              onClick=${() => onStop(e.tbl_id)}
            >
              Stop replicating
            </button>`
          : html`<select
                aria-label=${`Type for ${label}`}
                value=${type}
                disabled=${!canChange || busy}
                onChange=${(ev) => setType(ev.currentTarget.value)}
              >
                <option value="clone">clone</option>
                <option value="append">append</option>
                <option value="history">history</option>
              </select>
              ${
                partitioned
                  ? html` <input
                      aria-label=${`Partitions regex for ${label}`}
                      placeholder="partitions regex"
                      value=${regex}
                      disabled=${!canChange || busy}
                      onInput=${(ev) => setRegex(ev.currentTarget.value)}
                    />`
                  : null
              }
              <button
                type="button"
                aria-label=${`Replicate ${label}`}
                disabled=${!canChange || busy}
                onClick=${() => onReplicate(e.id, type, regex)}
              >
                Replicate
              </button>`
      }
    </td>
  </tr>`;
}

function MapTable({ map, ...rest }) {
  if (map.length === 0)
    return html`<p class="muted">No table found in the source databases (or none answered).</p>`;
  return html`<table id="map">
    <thead>
      <tr><th>Database</th><th>Source table</th><th>Target</th><th>Target present</th>
        <th>Replicated</th><th></th></tr>
    </thead>
    <tbody>
      ${map.map((e) => html`<${MapRow} key=${e.id} e=${e} ...${rest} />`)}
    </tbody>
  </table>`;
}

function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY));
  const [status, setStatus] = useState(undefined);
  const [tbls, setTbls] = useState([]);
  const [map, setMap] = useState([]);
  const [failure, setFailure] = useState(undefined);
  const [readOnly, setReadOnly] = useState(document.documentElement.dataset.mapMode === 'file');
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(false);

  const keepToken = useCallback((t) => {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
    setToken(t);
  }, []);

  /** Shows an API failure; a refused token is forgotten, a read-only map disables changes. */
  const fail = useCallback(
    (e) => {
      const f =
        e instanceof ApiFailure ? e : new ApiFailure(0, { code: 'page_error', error: String(e) });
      if (f.status === 401) keepToken(null);
      if (f.body.code === 'read_only') setReadOnly(true);
      setFailure(f);
    },
    [keepToken],
  );

  const loadStatus = useCallback(
    () => api('GET', 'api/status').then(setStatus).catch(fail),
    [fail],
  );
  const loadMap = useCallback(
    () =>
      Promise.all([api('GET', 'api/tbl'), api('GET', 'api/map')])
        .then(([t, m]) => {
          setTbls(t);
          setMap(m);
          setLoaded(true);
        })
        .catch(fail),
    [fail],
  );

  useEffect(() => {
    loadStatus();
    loadMap();
    const timer = setInterval(loadStatus, STATUS_EVERY_MS);
    return () => clearInterval(timer);
  }, [loadStatus, loadMap]);

  const onLogin = async (password) => {
    try {
      keepToken(await login(password));
      setFailure(undefined);
      return true;
    } catch (e) {
      fail(e);
      return false;
    }
  };

  /** Runs one change, then reads the tables and the map again. */
  const change = async (fn) => {
    setBusy(true);
    try {
      await fn();
      setFailure(undefined);
    } catch (e) {
      fail(e);
    } finally {
      await loadMap();
      setBusy(false);
    }
  };

  const onReplicate = (id, type, regex) =>
    change(() => {
      const q = new URLSearchParams({ type });
      if (regex) q.set('partitions_regex', regex);
      return api('POST', `api/map/${encodeURIComponent(id)}/clone?${q}`, token);
    });
  // The map's catalog is read again after a removal (the API refreshes it on clone only).
  const onStop = (tblId) =>
    change(async () => {
      await api('DELETE', `api/tbl/${encodeURIComponent(tblId)}`, token);
      await api('POST', 'api/map/refresh', token);
    });
  const onRefresh = () =>
    change(() => (token && !readOnly ? api('POST', 'api/map/refresh', token) : undefined)).then(
      loadStatus,
    );

  const canChange = Boolean(token) && !readOnly;
  return html`
    <header>
      <h1>kuvasz-streamer</h1>
      <${LoginForm} token=${token} onLogin=${onLogin} onLogout=${() => keepToken(null)} />
    </header>
    <${ErrorBox} failure=${failure} onClose=${() => setFailure(undefined)} />
    ${readOnly ? html`<p class="note" id="read-only">${READ_ONLY_NOTE}</p>` : null}
    ${!token && !readOnly ? html`<p class="note">Log in to add or remove tables.</p>` : null}
    <h2>Sources</h2>
    <${Sources} status=${status} />
    <h2>Replicated tables</h2>
    <${Tables} tbls=${tbls} canChange=${canChange} busy=${busy} onStop=${onStop} />
    <h2>
      Tables of the source databases
      <button type="button" onClick=${onRefresh} disabled=${busy}>Refresh</button>
    </h2>
    ${
      loaded
        ? html`<${MapTable}
            map=${map}
            canChange=${canChange}
            busy=${busy}
            onReplicate=${onReplicate}
            onStop=${onStop}
          />`
        : html`<p class="muted">Reading the source catalogs…</p>`
    }
  `;
}

render(html`<${App} />`, document.getElementById('app'));
