// The Node.js peer of `cargo bench -p e2e --bench authorizer_decision`:
// the same kind of decision made with aws-jwt-verify, AWS's own Cognito JWT
// verifier (the library a Node.js Lambda authorizer would use), on the same
// Cognito-sized RS256 access token (first-party scope, two groups), JWKS
// cached in process:
//   whole decision  TOKEN event JSON in → verifySync → a policy for every
//                   route the token grants (6 ARNs) → response JSON out
//   bare verify     verifySync of the token alone
// Prints the median of 15 batches of N decisions, in µs per decision.
// Usage: node bench.mjs [N]   (default 20000)
import { generateKeyPairSync, createSign } from "node:crypto";
import { readFileSync } from "node:fs";
import { CognitoJwtVerifier } from "aws-jwt-verify";

const N = Number(process.argv[2] ?? 20000);
const POOL = "us-east-1_BenchPool1";
const ISSUER = `https://cognito-idp.us-east-1.amazonaws.com/${POOL}`;
const ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items";
const ROUTES = [
  ["GET", "items"], ["GET", "items/*"], ["POST", "items"],
  ["PUT", "items/*"], ["PATCH", "items/*"], ["DELETE", "items/*"],
];

const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "bench-key", alg: "RS256", use: "sig" };
const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const claims = {
  sub: "4f1c2b7e-9a0d-4c1e-8b3a-2d5e6f7a8b9c", "cognito:groups": ["staff", "beta"],
  iss: ISSUER, version: 2, client_id: "client1", origin_jti: "0b4a5d0e-1c2f-4e3a-9b8c-7d6e5f4a3b2c",
  event_id: "6d1f2e3a-4b5c-4d6e-8f70-8192a3b4c5d6", token_use: "access",
  scope: "aws.cognito.signin.user.admin", auth_time: now, exp: now + 3600, iat: now,
  jti: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", username: "alice",
};
const input = `${b64url({ kid: "bench-key", alg: "RS256" })}.${b64url(claims)}`;
const token = `${input}.${createSign("RSA-SHA256").update(input).sign(privateKey).toString("base64url")}`;
const event = JSON.stringify({ type: "TOKEN", authorizationToken: `Bearer ${token}`, methodArn: ARN });

const verifier = CognitoJwtVerifier.create({ userPoolId: POOL, tokenUse: "access", clientId: "client1" });
verifier.cacheJwks({ keys: [jwk] });

function decide(json) {
  const e = JSON.parse(json);
  const m = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(e.authorizationToken);
  if (!m) throw new Error("Unauthorized");
  const p = verifier.verifySync(m[1]);
  const prefix = e.methodArn.split("/").slice(0, 2).join("/");
  return JSON.stringify({
    principalId: `user:${p.sub}`,
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "execute-api:Invoke", Resource: ROUTES.map(([mth, path]) => `${prefix}/${mth}/${path}`) }],
    },
    context: { owner: `user:${p.sub}`, authType: "jwt", issuer: "cognito", sub: p.sub, username: p.username,
               clientId: p.client_id, scopes: p.scope, groups: p["cognito:groups"].join(" "),
               permissions: "items:read items:write items:delete", expiresAt: p.exp },
  });
}

function median(f) {
  for (let i = 0; i < Math.min(N, 5000); i++) f(); // warm-up (JIT)
  const batches = [];
  for (let b = 0; b < 15; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) f();
    batches.push(Number(process.hrtime.bigint() - t0) / N / 1000);
  }
  batches.sort((a, b) => a - b);
  return batches[7];
}

decide(event); // throws if the token does not verify
console.log(`node ${process.version}, aws-jwt-verify ${JSON.parse(readFileSync(new URL("node_modules/aws-jwt-verify/package.json", import.meta.url))).version}`);
console.log(`whole decision (aws-jwt-verify)   ${median(() => decide(event)).toFixed(1)} µs`);
console.log(`bare verifySync (aws-jwt-verify)  ${median(() => verifier.verifySync(token)).toFixed(1)} µs`);
