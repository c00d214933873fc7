// A real OpenID Provider on loopback for the tests of trusted issuers:
// panva's oidc-provider (OpenID Certified), configured as a small
// authorization server for the items API. Development and tests only.
//
//   node tests/oidc/provider.mjs [--port N] [--spa-redirect-uri URI]... [--rsa-kid KID] [--exit-with-stdin]
//
// Listens on 127.0.0.1 (a free port unless --port), with the issuer
// http://127.0.0.1:PORT, and prints one line on stdout when it serves:
//
//   oidc-provider ready {"issuer":...,"api":...,"otherAudience":...,"machine":{...},"spa":{...}}
//
// which is everything a test needs to ask it for tokens (the harnesses read
// it: local/tests/oidc_provider/harness.rs, tests/browser/oidc.mjs).
//
// What it serves:
// - Discovery (/.well-known/openid-configuration) and the JWKS (/jwks):
//   keys generated at every start (an RSA key for RS256, first, so ID tokens
//   and the API's tokens use it, and a P-256 key for ES256), never the
//   module's development keys. Their kids are random unless --rsa-kid names
//   the RSA key's: two providers can then publish one kid for two keys, as
//   two unrelated issuers may.
// - Four resource servers (RFC 8707 resource indicators), each giving
//   RFC 9068 JWT access tokens (`typ: at+jwt`) whose `aud` is the audience:
//   API (the items API; scopes items/read items/write items/delete, RS256),
//   API_ES256 (the same audience, signed ES256; Node's ECDSA does not
//   normalise s, so about half of these are high-S, which the authorizer
//   refuses), API_OWN_SCOPES (the same audience, with this provider's own
//   scope names, Items.Read Items.Write Items.Delete, as an Entra ID app
//   names its roles: for `scopeMap`), OTHER (another audience).
// - A confidential client ("machine", client_secret_basic) for the
//   client_credentials grant; `sub` and `client_id` are its id.
// - A public client ("spa", no secret) for authorization code + PKCE (S256,
//   required for public clients by the module's default policy) from a page
//   on another origin: only when --spa-redirect-uri names that page's
//   redirect URIs. The token endpoint answers that origin's CORS requests
//   (the module's default clientBasedCORS allows a public client's redirect
//   URI origins). Sign-in and consent are the module's development
//   interactions: any login and password, then "Continue".
//
// --exit-with-stdin: exit when stdin closes, so a test harness that dies
// without stopping it leaves no provider behind.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import { Provider, errors } from 'oidc-provider';

// The items API's audience, and another API's, as resource indicators
// (absolute URIs, no fragment: RFC 8707 §2).
const API = 'urn:secured-api:items';
const API_ES256 = 'urn:secured-api:items:es256';
const API_OWN_SCOPES = 'urn:secured-api:items:own-scopes';
const OTHER = 'urn:secured-api:other';
const ITEM_SCOPES = 'items/read items/write items/delete';

const RESOURCE_SERVERS = {
  [API]: { audience: API, scope: ITEM_SCOPES, alg: 'RS256' },
  [API_ES256]: { audience: API, scope: ITEM_SCOPES, alg: 'ES256' },
  [API_OWN_SCOPES]: { audience: API, scope: 'Items.Read Items.Write Items.Delete', alg: 'RS256' },
  [OTHER]: { audience: OTHER, scope: ITEM_SCOPES, alg: 'RS256' },
};

// A fixture, not a secret: this provider lives for one test on loopback and
// holds no account. Printed on the ready line so no test repeats it.
const MACHINE = { clientId: 'machine', clientSecret: 'machine-secret-of-the-loopback-test-provider' };
const SPA_CLIENT_ID = 'spa';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'spa-redirect-uri': { type: 'string', multiple: true, default: [] },
    'rsa-kid': { type: 'string' },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});

/** A new private JWK for `alg`, with `kid` or a random kid that names the alg. */
function signingKey(alg, kid = `${alg.toLowerCase()}-${randomUUID()}`) {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

function clients() {
  const list = [
    {
      client_id: MACHINE.clientId,
      client_secret: MACHINE.clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ];
  if (args['spa-redirect-uri'].length > 0) {
    list.push({
      client_id: SPA_CLIENT_ID,
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: args['spa-redirect-uri'],
    });
  }
  return list;
}

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: clients(),
  jwks: { keys: [signingKey('RS256', args['rsa-kid']), signingKey('ES256')] },
  // Signed cookies of the interactions; fresh per start like the keys.
  cookies: { keys: [randomUUID()] },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // A code granted for one resource gives that resource's token without
      // `resource` at the token endpoint (the page sends it anyway).
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, resourceIndicator) {
        const known = RESOURCE_SERVERS[resourceIndicator];
        if (!known) throw new errors.InvalidTarget();
        return {
          audience: known.audience,
          scope: known.scope,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: known.alg } },
        };
      },
    },
  },
});

server.on('request', provider.callback());

function stop() {
  server.close(() => process.exit(0));
  // Keep-alive connections (a browser's) would hold close() open.
  server.closeAllConnections();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
if (args['exit-with-stdin']) {
  process.stdin.on('end', stop).on('close', stop).resume();
}

const ready = {
  issuer,
  api: API,
  apiEs256: API_ES256,
  apiOwnScopes: API_OWN_SCOPES,
  otherAudience: OTHER,
  scopes: ITEM_SCOPES,
  machine: MACHINE,
  spa: args['spa-redirect-uri'].length > 0
    ? { clientId: SPA_CLIENT_ID, redirectUris: args['spa-redirect-uri'] }
    : null,
};
console.log(`oidc-provider ready ${JSON.stringify(ready)}`);
