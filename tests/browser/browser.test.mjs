// A real browser against the local stack, from another origin.
//
// Starts the local stack (LOCAL_BIN) on a free loopback port with
// --cors-origin set to a second loopback origin, serves page/ from that
// origin, and drives Debian's Chromium headless through playwright-core.
// The page's own scripts make every call; the assertions here are on what
// those scripts could read. Two ways to a token:
// - the development IdP: tokens minted with `local token` (outside the
//   page: the development IdP refuses browsers);
// - a real OpenID Provider (../oidc/provider.mjs, started by ./oidc.mjs):
//   the page signs in by authorization code + PKCE through the provider's
//   own login and consent pages (page/signin.js) and keeps the token.
//
// On a failure, a screenshot, the page's console and the stack's and the
// provider's stderr are kept under ARTIFACTS (target/browser-artifacts/).
//
//   LOCAL_BIN=target/debug/local ARTIFACTS=target/browser-artifacts node --test tests/browser/

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

import { startProvider, stopProvider } from './oidc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const LOCAL_BIN = process.env.LOCAL_BIN;
const ARTIFACTS = process.env.ARTIFACTS ?? join(here, '..', '..', 'target', 'browser-artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// The banner's last line (local/src/banner.rs).
const BANNER_END = '# Stop the stack with Ctrl-C.';
// Without the background-networking flags Chromium floods the closed
// network with refused connections (../shared/STACK.md).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

assert.ok(LOCAL_BIN, 'LOCAL_BIN must name the built local binary (scripts/browser-test.sh sets it)');

/** Serves page/ on a free loopback port; resolves to [server, origin]. */
function servePage() {
  const files = {
    '/': ['index.html', 'text/html; charset=utf-8'],
    // Where the OpenID Provider sends the browser back with the code.
    '/callback': ['index.html', 'text/html; charset=utf-8'],
    '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
    '/signin.js': ['signin.js', 'text/javascript; charset=utf-8'],
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = files[path];
    if (path === '/favicon.ico') {
      // Asked for by every page load; an empty answer keeps the console clean.
      res.writeHead(204).end();
      return;
    }
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store' });
    res.end(readFileSync(join(here, 'page', file[0])));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve([server, `http://127.0.0.1:${server.address().port}`]));
  });
}

/** Starts the stack in its own process group; resolves once its banner is out. */
function startStack(corsOrigin, stderrLines, extraArgs = []) {
  const child = spawn(LOCAL_BIN, ['--addr', '127.0.0.1:0', '--cors-origin', corsOrigin, ...extraArgs], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' },
  });
  child.stderr.setEncoding('utf8').on('data', (d) => stderrLines.push(d));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no banner within 60 s:\n${out}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`the stack exited (${code}):\n${out}${stderrLines.join('')}`)));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (out.includes(BANNER_END)) {
        clearTimeout(timer);
        const api = /^export API=(\S+)$/m.exec(out)?.[1];
        if (!api) reject(new Error(`the banner exports no API:\n${out}`));
        else resolve({ child, api });
      }
    });
  });
}

/** Ctrl-C to the stack's process group, as a person stops it. */
function stopStack(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(-child.pid, 'SIGINT');
  });
}

/** A token from the running stack's development IdP, via `local token`. */
async function mint(api, ...args) {
  const { stdout } = await promisify(execFile)(LOCAL_BIN, ['token', '--url', api, ...args]);
  return stdout.trim();
}

// Shared by both ways to a token: one page origin, one stack, one browser.
let pageServer;
let appOrigin;
let stack;
let api;
let provider;
let op;
let context;
let page;
let profile;
const stackStderr = [];
const providerStderr = [];
const consoleLines = [];

before(async () => {
  [pageServer, appOrigin] = await servePage();
  // The provider first: the page's origin is its public client's.
  ({ child: provider, ready: op } = await startProvider([`${appOrigin}/callback`], providerStderr));
  // The stack trusts the provider by discovery alone, beside the development IdP.
  const trusted = [{ alias: 'test-op', issuer: op.issuer, audiences: [op.api] }];
  ({ child: stack, api } = await startStack(appOrigin, stackStderr, ['--trusted-issuers', JSON.stringify(trusted)]));
  assert.notEqual(new URL(api).origin, appOrigin, 'the page and the API must be two origins');
  assert.notEqual(new URL(op.issuer).origin, appOrigin, 'the page and the provider must be two origins');
  // A fresh profile per run: nothing cached from an earlier one.
  profile = mkdtempSync(join(tmpdir(), 'browser-test-profile-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
  page.on('requestfailed', (r) => consoleLines.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
}, { timeout: 120_000 });

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await stopStack(stack);
  await stopProvider(provider);
  pageServer?.close();
});

/** A step whose failure keeps a screenshot, the console and both servers' stderr. */
function step(name, fn) {
  // A hung fetch or page must fail the run, not hold CI until its limit.
  it(name, { timeout: 30_000 }, async () => {
    try {
      await fn();
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
      mkdirSync(ARTIFACTS, { recursive: true });
      await page?.screenshot({ path: join(ARTIFACTS, `${slug}.png`), fullPage: true }).catch(() => {});
      writeFileSync(join(ARTIFACTS, `${slug}.console.log`), consoleLines.join('\n') + '\n');
      writeFileSync(join(ARTIFACTS, `${slug}.stack-stderr.log`), stackStderr.join(''));
      writeFileSync(join(ARTIFACTS, `${slug}.provider-stderr.log`), providerStderr.join(''));
      console.error(`browser-test: artefacts of "${name}" in ${ARTIFACTS}`);
      throw e;
    }
  });
}

/** Runs `window.items[fn]` in the page; what CORS hid from the page is a failure. */
const tryCall = (fn, ...args) => page.evaluate(([f, a]) => window.items[f](...a), [fn, args]);
const call = async (fn, ...args) => {
  const r = await tryCall(fn, ...args);
  assert.equal(r.blocked, undefined, `the browser hid the answer to ${fn} from the page: ${r.blocked}`);
  return r;
};

describe('a page on another origin uses the local stack with development IdP tokens', () => {
  let alice;
  let bob;
  // Carried from step to step, as the page's state would be.
  let id;
  let firstEtag;
  let etag;

  before(async () => {
    alice = await mint(api, '--user', 'alice');
    bob = await mint(api, '--user', 'bob', '--group', 'readonly');
    await page.goto(appOrigin + '/');
    assert.equal(await page.evaluate(() => typeof window.items), 'object', 'page/app.js did not load');
  });

  step('creates an item and reads its ETag and Location', async () => {
    const r = await call('create', api, alice, { name: 'from the browser', tags: ['cors'] });
    assert.equal(r.status, 201);
    id = r.body.id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(r.etag, '"1"', 'ETag is not exposed to the page');
    assert.equal(r.location, `items/${id}`, 'Location is not exposed to the page');
    firstEtag = r.etag;
  });

  step('reads the item back with its ETag', async () => {
    const r = await call('read', api, alice, id);
    assert.equal(r.status, 200);
    assert.equal(r.body.name, 'from the browser');
    assert.equal(r.etag, firstEtag);
    const listed = await call('list', api, alice);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.items.map((i) => i.id), [id]);
  });

  step('updates with If-Match and gets the next ETag', async () => {
    const r = await call('replace', api, alice, id, firstEtag, { name: 'renamed in the browser' });
    assert.equal(r.status, 200);
    assert.equal(r.body.name, 'renamed in the browser');
    assert.equal(r.etag, '"2"');
    etag = r.etag;
    const p = await call('patch', api, alice, id, etag, { description: 'merge patch' });
    assert.equal(p.status, 200);
    assert.equal(p.body.description, 'merge patch');
    assert.equal(p.etag, '"3"');
    etag = p.etag;
  });

  step('sees a 412 problem+json on a stale If-Match', async () => {
    const r = await call('replace', api, alice, id, firstEtag, { name: 'stale' });
    assert.equal(r.status, 412);
    assert.equal(r.contentType, 'application/problem+json');
    assert.equal(r.body.status, 412);
    assert.equal(typeof r.body.title, 'string');
    const still = await call('read', api, alice, id);
    assert.equal(still.body.name, 'renamed in the browser', 'a stale update changed the item');
  });

  step('reads the problem+json of a 401 without a credential', async () => {
    const r = await call('list', api, null);
    assert.equal(r.status, 401);
    assert.equal(r.contentType, 'application/problem+json');
    assert.equal(r.body.status, 401);
    assert.equal(r.body.title, 'Unauthorized');
  });

  step('reads the problem+json of a 403 when a read-only user deletes', async () => {
    const r = await call('remove', api, bob, id, etag);
    assert.equal(r.status, 403);
    assert.equal(r.contentType, 'application/problem+json');
    assert.equal(r.body.status, 403);
    assert.equal(r.body.title, 'Forbidden');
    assert.match(r.body.detail, /not authorized/);
    const still = await call('read', api, alice, id);
    assert.equal(still.status, 200, 'the read-only user deleted the item');
  });

  step('cannot mint a token from the page: the development IdP stays closed to browsers', async () => {
    const r = await tryCall('mintToken', api);
    assert.ok(r.blocked, `the page got an answer from the IdP: ${JSON.stringify(r)}`);
  });

  step('deletes the item with If-Match', async () => {
    const r = await call('remove', api, alice, id, etag);
    assert.equal(r.status, 204);
    const gone = await call('read', api, alice, id);
    assert.equal(gone.status, 404);
    assert.equal(gone.contentType, 'application/problem+json');
  });
});

/** The payload of a compact JWS, unverified: what the page was given. */
function claimsOf(token) {
  const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
  return { header, payload };
}

describe('a page on another origin signs in at an OpenID Provider with authorization code + PKCE', () => {
  const scope = 'openid items/read items/write items/delete';
  let token;

  step("signs in through the provider's own login and consent pages and keeps an at+jwt access token for the API", async () => {
    const query = new URLSearchParams({ issuer: op.issuer, client_id: op.spa.clientId, resource: op.api, scope });
    await page.goto(`${appOrigin}/?${query}`);
    await page.waitForFunction(() => window.signIn?.status === 'signed-out');
    await page.click('#sign-in');
    // The provider's development interactions: any login and password.
    await page.waitForURL(`${op.issuer}/interaction/**`);
    await page.fill('input[name=login]', 'carol');
    await page.fill('input[name=password]', 'any password');
    await page.click('button[type=submit]');
    // Then its consent page for the API's scopes.
    await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
    await page.click('button[type=submit]');
    await page.waitForURL(`${appOrigin}/**`);
    await page.waitForFunction(() => ['signed-in', 'error'].includes(window.signIn?.status));
    const { status, detail } = await page.evaluate(() => ({ status: window.signIn.status, detail: window.signIn.detail }));
    assert.equal(status, 'signed-in', detail);
    assert.equal(new URL(page.url()).search, '', 'the code stayed in the address bar');
    token = await page.evaluate(() => window.signIn.token());
    const { header, payload } = claimsOf(token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'RS256');
    assert.equal(payload.iss, op.issuer);
    assert.equal(payload.aud, op.api);
    assert.equal(payload.sub, 'carol');
    assert.equal(payload.client_id, op.spa.clientId);
    assert.deepEqual(payload.scope.split(' ').sort(), ['items/delete', 'items/read', 'items/write']);
  });

  step('keeps the token across a reload of the tab', async () => {
    await page.reload();
    await page.waitForFunction(() => window.signIn?.status === 'signed-in');
    assert.equal(await page.evaluate(() => window.signIn.token()), token);
  });

  /** Runs `window.items[fn]` in the page with the token the page keeps. */
  const signedIn = async (fn, ...args) => {
    const r = await page.evaluate(([f, a, u]) => window.items[f](u, window.signIn.token(), ...a), [fn, args, api]);
    assert.equal(r.blocked, undefined, `the browser hid the answer to ${fn} from the page: ${r.blocked}`);
    return r;
  };
  let id;

  step('creates and reads an item on the local stack, cross-origin, with the kept token', async () => {
    const created = await signedIn('create', { name: 'signed in at the provider' });
    assert.equal(created.status, 201);
    id = created.body.id;
    assert.equal(created.etag, '"1"');
    const read = await signedIn('read', id);
    assert.equal(read.status, 200);
    assert.equal(read.body.name, 'signed in at the provider');
    const listed = await signedIn('list');
    assert.deepEqual(listed.body.items.map((i) => i.id), [id]);
  });

  step("a development IdP user does not see the provider's user's item", async () => {
    // carol at test-op owns oidc:test-op:carol; alice is user:alice.
    const alice = await mint(api, '--user', 'alice');
    const r = await call('read', api, alice, id);
    assert.equal(r.status, 404);
  });
});
