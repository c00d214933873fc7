// The page's sign-in: OAuth 2.0 authorization code with PKCE (RFC 7636,
// S256) at an OpenID Provider, as a single-page app on its own origin does
// it (RFC 9700 §2.1.1, OAuth 2.0 for Browser-Based Apps). Discovery gives
// the endpoints; the provider's own pages do the sign-in; the code comes
// back to /callback on this origin and is exchanged at the token endpoint
// by a cross-origin fetch (the provider allows this origin for its public
// client). The access token is kept in sessionStorage: it survives a
// reload of this tab and nothing else.
//
// The provider to use comes in the query of the first load
// (?issuer=...&client_id=...&resource=...&scope=...), as a built app would
// have it in its configuration.
'use strict';

const KEPT = 'signin.config';
const PENDING = 'signin.pending';
const TOKEN = 'signin.access_token';

function b64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString() {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function s256(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(digest));
}

function config() {
  return JSON.parse(sessionStorage.getItem(KEPT) ?? 'null');
}

async function discover(issuer) {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  const doc = await response.json();
  // OIDC Discovery §4.3: the document must be the issuer's own.
  if (doc.issuer !== issuer) throw new Error(`discovery names issuer ${doc.issuer}, not ${issuer}`);
  return doc;
}

function redirectUri() {
  return `${location.origin}/callback`;
}

/** Leaves for the provider's authorization endpoint. */
async function start() {
  const { issuer, clientId, resource, scope } = config();
  const doc = await discover(issuer);
  const pending = { verifier: randomString(), state: randomString(), nonce: randomString() };
  sessionStorage.setItem(PENDING, JSON.stringify({ ...pending, tokenEndpoint: doc.token_endpoint }));
  const url = new URL(doc.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri(),
    scope,
    resource,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await s256(pending.verifier),
    code_challenge_method: 'S256',
  });
  location.assign(url.href);
}

/** Back on /callback: checks state and iss, exchanges the code, keeps the token. */
async function finish() {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  // The code is single-use and must not stay in the address bar or history.
  history.replaceState(null, '', '/');
  const { issuer, clientId, resource } = config();
  if (!pending || params.get('state') !== pending.state) throw new Error('state does not match: not our sign-in');
  if (params.get('error')) throw new Error(`${params.get('error')}: ${params.get('error_description')}`);
  // RFC 9207: the response names its issuer (a mix-up defence).
  if (params.get('iss') !== issuer) throw new Error(`the response is from ${params.get('iss')}, not ${issuer}`);
  const response = await fetch(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: redirectUri(),
      client_id: clientId,
      code_verifier: pending.verifier,
      resource,
    }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`token endpoint ${response.status}: ${JSON.stringify(body)}`);
  sessionStorage.setItem(TOKEN, body.access_token);
}

function setStatus(status, detail = '') {
  window.signIn.status = status;
  window.signIn.detail = detail;
  const line = document.getElementById('signin');
  if (line) line.textContent = `${status} ${detail}`;
}

window.signIn = {
  status: 'loading',
  detail: '',
  start: () => start().catch((e) => setStatus('error', e.message)),
  token: () => sessionStorage.getItem(TOKEN),
};

window.addEventListener('DOMContentLoaded', () => {
  const query = new URLSearchParams(location.search);
  if (query.has('issuer')) {
    sessionStorage.setItem(KEPT, JSON.stringify({
      issuer: query.get('issuer'),
      clientId: query.get('client_id'),
      resource: query.get('resource'),
      scope: query.get('scope'),
    }));
    history.replaceState(null, '', '/');
  }
  document.getElementById('sign-in')?.addEventListener('click', () => window.signIn.start());
  if (location.pathname === '/callback') {
    setStatus('exchanging');
    finish().then(() => setStatus('signed-in'), (e) => setStatus('error', e.message));
  } else {
    setStatus(window.signIn.token() ? 'signed-in' : 'signed-out');
  }
});
