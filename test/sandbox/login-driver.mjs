// Completes the sandbox's HTML login over plain HTTP, the way a (very simple) browser would:
// follows redirects manually, carries cookies, fills and submits the login form, and stops at the
// first redirect that leaves the authorization server: that target is the client's callback, which
// is requested once (a refused connection is tolerated) and reported back.
// Plain JS so that fake-browser.mjs can run without a TypeScript loader. Types: login-driver.d.mts.

const MAX_STEPS = 25;

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", '#x27': "'", '#x2F': '/', '#47': '/' };

function decodeEntities(s) {
  return s.replace(/&(#x?[0-9a-f]+|[a-z]+);/gi, (m, name) => {
    if (name in ENTITIES) return ENTITIES[name];
    if (/^#x[0-9a-f]+$/i.test(name)) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (/^#\d+$/.test(name)) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return m;
  });
}

function attr(tagAttrs, name) {
  const re = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i');
  const m = re.exec(tagAttrs);
  if (!m) return undefined;
  return decodeEntities(m[1] ?? m[2] ?? m[3] ?? '');
}

/** @returns {{action: string|undefined, method: string, fields: [string,string][], buttons: {name?: string, value?: string, text: string}[], hasUsername: boolean}[]} */
export function parseForms(html) {
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form>/gi;
  let fm;
  while ((fm = formRe.exec(html))) {
    const [, formAttrs, inner] = fm;
    const fields = [];
    let hasUsername = false;
    for (const im of inner.matchAll(/<input\b([^>]*)>/gi)) {
      const a = im[1];
      const name = attr(a, 'name');
      const type = (attr(a, 'type') ?? 'text').toLowerCase();
      if (!name || type === 'submit' || type === 'button' || type === 'image' || type === 'reset') continue;
      if ((type === 'checkbox' || type === 'radio') && !/\bchecked\b/i.test(a)) continue;
      if (name === 'username' || name === 'login' || name === 'email') hasUsername = true;
      fields.push([name, attr(a, 'value') ?? '']);
    }
    const buttons = [];
    for (const bm of inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
      const type = (attr(bm[1], 'type') ?? 'submit').toLowerCase();
      if (type !== 'submit') continue;
      buttons.push({ name: attr(bm[1], 'name'), value: attr(bm[1], 'value'), text: decodeEntities(bm[2].replace(/<[^>]*>/g, '')).trim() });
    }
    for (const im of inner.matchAll(/<input\b([^>]*)>/gi)) {
      if ((attr(im[1], 'type') ?? '').toLowerCase() !== 'submit') continue;
      buttons.push({ name: attr(im[1], 'name'), value: attr(im[1], 'value'), text: attr(im[1], 'value') ?? '' });
    }
    forms.push({ action: attr(formAttrs, 'action'), method: (attr(formAttrs, 'method') ?? 'get').toUpperCase(), fields, buttons, hasUsername });
  }
  return forms;
}

class CookieJar {
  #cookies = new Map();
  store(headers) {
    const list = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [];
    for (const line of list) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expired = value === '';
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v.trim()) <= Date.now()) expired = true;
      }
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function pickForm(forms, deny) {
  const isCancel = (f) => f.buttons.some((b) => /cancel|deny|abort/i.test(`${b.text} ${b.value ?? ''}`)) || /abort|cancel|deny/i.test(f.action ?? '');
  if (deny) {
    const f = forms.find(isCancel);
    if (!f) return undefined;
    const button = f.buttons.find((b) => /cancel|deny|abort/i.test(`${b.text} ${b.value ?? ''}`));
    return { form: f, button };
  }
  const f = forms.find((x) => x.hasUsername) ?? forms.find((x) => !isCancel(x)) ?? forms[0];
  if (!f) return undefined;
  const button = f.buttons.find((b) => /sign in|log ?in|continue|submit|allow|authori[sz]e/i.test(`${b.text} ${b.value ?? ''}`)) ?? f.buttons.find((b) => !/cancel|deny|abort/i.test(`${b.text} ${b.value ?? ''}`));
  return { form: f, button };
}

/**
 * @param {string} authorizationUrl
 * @param {{ deny?: boolean, username?: string }} [opts]
 * @returns {Promise<{ status: number, body: string, callbackUrl: string }>}
 */
export async function completeLogin(authorizationUrl, opts = {}) {
  const start = new URL(authorizationUrl);
  const issuerOrigin = start.origin;
  const jar = new CookieJar();
  let url = start.href;
  let method = 'GET';
  /** @type {string|undefined} */
  let body;

  for (let step = 0; step < MAX_STEPS; step++) {
    const headers = { accept: 'text/html,application/xhtml+xml', 'user-agent': 'drio-sandbox-fake-browser/1' };
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    jar.store(res.headers);
    const text = await res.text();

    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      const next = new URL(res.headers.get('location'), url);
      method = res.status === 307 || res.status === 308 ? method : 'GET';
      if (method === 'GET') body = undefined;
      if (next.origin !== issuerOrigin) return requestCallback(next.href);
      url = next.href;
      continue;
    }
    if (res.status >= 400) {
      throw new Error(`login failed: ${method} ${url} answered ${res.status}: ${summarize(text)}`);
    }
    const forms = parseForms(text);
    const picked = pickForm(forms, opts.deny === true);
    if (!picked) throw new Error(`login failed: no usable form at ${url} (status ${res.status}): ${summarize(text)}`);
    const { form, button } = picked;
    const params = new URLSearchParams();
    for (const [name, value] of form.fields) {
      if (opts.username !== undefined && (name === 'username' || name === 'login' || name === 'email')) params.append(name, opts.username);
      else params.append(name, value);
    }
    if (button?.name) params.append(button.name, button.value ?? '');
    const target = new URL(form.action ?? url, url);
    if (form.method === 'POST') {
      method = 'POST';
      body = params.toString();
      url = target.href;
    } else {
      method = 'GET';
      body = undefined;
      for (const [k, v] of params) target.searchParams.set(k, v);
      url = target.href;
    }
    if (target.origin !== issuerOrigin) return requestCallback(target.href);
  }
  throw new Error(`login failed: more than ${MAX_STEPS} steps starting at ${authorizationUrl}`);
}

async function requestCallback(callbackUrl) {
  try {
    const res = await fetch(callbackUrl, { redirect: 'manual', headers: { accept: 'text/html' } });
    return { status: res.status, body: await res.text(), callbackUrl };
  } catch {
    // Nobody listening (or the listener closed right away): the URL is what matters.
    return { status: 0, body: '', callbackUrl };
  }
}

function summarize(html) {
  return html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
}
