// The page's own script: what a single-page app on another origin does with
// the API. It only calls the API with a token it was handed; it never asks
// the development IdP for one (the IdP refuses browsers). Each function
// returns what the page could read: a fetch that CORS blocks rejects, and is
// reported as { blocked: message } instead of an answer.
'use strict';

function show(line) {
  const log = document.getElementById('log');
  if (log) log.textContent += line + '\n';
}

async function call(api, method, path, { token, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] ??= 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(api + path, init);
  } catch (e) {
    show(`${method} ${path} -> blocked: ${e.message}`);
    return { blocked: String(e.message) };
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  const answer = {
    status: response.status,
    contentType: response.headers.get('Content-Type'),
    etag: response.headers.get('ETag'),
    location: response.headers.get('Location'),
    body: json,
  };
  show(`${method} ${path} -> ${answer.status} ${answer.contentType ?? ''} ETag=${answer.etag ?? '-'} ${text}`);
  return answer;
}

window.items = {
  create: (api, token, item) => call(api, 'POST', '/items', { token, body: item }),
  read: (api, token, id) => call(api, 'GET', `/items/${id}`, { token }),
  list: (api, token) => call(api, 'GET', '/items?limit=10', { token }),
  replace: (api, token, id, etag, item) =>
    call(api, 'PUT', `/items/${id}`, { token, body: item, headers: { 'If-Match': etag } }),
  patch: (api, token, id, etag, patch) =>
    call(api, 'PATCH', `/items/${id}`, {
      token,
      body: patch,
      headers: { 'If-Match': etag, 'Content-Type': 'application/merge-patch+json' },
    }),
  remove: (api, token, id, etag) =>
    call(api, 'DELETE', `/items/${id}`, { token, headers: etag ? { 'If-Match': etag } : {} }),
  // What a hostile page would try: minting itself a token.
  mintToken: (api) => call(api, 'POST', '/_dev/token', { body: { sub: 'mallory' } }),
};
