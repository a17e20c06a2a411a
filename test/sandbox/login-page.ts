import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider } from 'oidc-provider';
import { readBody, sendHtml } from './http-util.js';
import { SCOPES, TEST_USER } from './types.js';

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const STYLE = `body{font-family:system-ui,sans-serif;background:#f4f4f7;display:flex;justify-content:center;padding-top:10vh}
main{background:#fff;padding:2rem 2.5rem;border-radius:12px;box-shadow:0 2px 12px #0002;min-width:20rem}
label{display:block;margin:.5rem 0 .25rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem;width:100%}.error{color:#b00020}small{color:#666}`;

export function loginPageHtml(uid: string, params: Record<string, string | undefined>, error?: string): string {
  const u = encodeURIComponent(uid);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to drio (sandbox)</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body><main>
<h1>Sign in to drio</h1>
<p><small>Sandbox authorization server. Client <code>${esc(params.client_id ?? '')}</code> asks for
<code>${esc(params.scope ?? SCOPES.join(' '))}</code>.</small></p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${u}/login" id="login-form">
<label for="username">Username</label>
<input id="username" name="username" type="text" value="${esc(TEST_USER.username)}" autocomplete="username" autofocus>
<button type="submit" id="sign-in">Sign in</button>
</form>
<form method="post" action="/interaction/${u}/abort" id="cancel-form">
<button type="submit" id="cancel">Cancel</button>
</form>
</main></body></html>`;
}

function errorHtml(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title><style>${STYLE}</style></head>
<body><main><h1>Something went wrong</h1><p class="error">${esc(message)}</p></main></body></html>`;
}

function knownUser(username: string): boolean {
  const u = username.trim().toLowerCase();
  return u === TEST_USER.username || u === TEST_USER.email;
}

/** Grant every requested (supported) scope for the OIDC part and for the drio resource: consent is automatic. */
async function autoGrant(provider: Provider, apiUrl: string, accountId: string, params: Record<string, string | undefined>): Promise<string> {
  const requested = (params.scope ?? '').split(' ').filter((s) => (SCOPES as readonly string[]).includes(s));
  const scope = (requested.length ? requested : [...SCOPES]).join(' ');
  const grant = new provider.Grant({ accountId, clientId: params.client_id ?? '' });
  grant.addOIDCScope(scope);
  const resources = new Set([apiUrl]);
  if (params.resource) resources.add(params.resource);
  for (const r of resources) grant.addResourceScope(r, scope);
  return grant.save();
}

/**
 * Handles /interaction/:uid (GET: the login page), /interaction/:uid/login and /interaction/:uid/abort (POST).
 * Returns false when the path is not an interaction route.
 */
export async function handleInteraction(provider: Provider, apiUrl: string, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  const m = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(path);
  if (!m) return false;
  const action = m[2];
  try {
    const details = await provider.interactionDetails(req, res);
    const { uid, prompt, params } = details;
    if (req.method === 'GET' && !action) {
      if (prompt.name === 'consent' && details.session?.accountId) {
        const grantId = await autoGrant(provider, apiUrl, details.session.accountId, params);
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return true;
      }
      sendHtml(res, 200, loginPageHtml(uid, params));
      return true;
    }
    if (req.method === 'POST' && action === 'abort') {
      await readBody(req);
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
      return true;
    }
    if (req.method === 'POST' && action === 'login') {
      const form = new URLSearchParams(await readBody(req));
      const username = form.get('username') ?? '';
      if (!knownUser(username)) {
        sendHtml(res, 401, loginPageHtml(uid, params, `Unknown user "${username}". Use "${TEST_USER.username}".`));
        return true;
      }
      const grantId = await autoGrant(provider, apiUrl, TEST_USER.id, params);
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: TEST_USER.id }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
      return true;
    }
    sendHtml(res, 405, errorHtml('Method not allowed'));
    return true;
  } catch (err) {
    if (!res.headersSent) sendHtml(res, 400, errorHtml(err instanceof Error ? err.message : String(err)));
    return true;
  }
}
