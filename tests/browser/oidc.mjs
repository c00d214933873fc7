// Starts and stops the OpenID Provider stand-in (../oidc/provider.mjs,
// panva's oidc-provider) for the browser test; its packages are installed
// by scripts/oidc-provider.sh (scripts/browser-test.sh runs it).

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROVIDER = join(dirname(fileURLToPath(import.meta.url)), '..', 'oidc', 'provider.mjs');
// What the provider prints, followed by its facts as JSON, once it serves.
const READY = 'oidc-provider ready ';

/**
 * Starts a provider whose public client "spa" may redirect to
 * `redirectUris`; resolves to { child, ready } once it serves (`ready`: its
 * issuer, audiences and clients). Its stderr goes to `stderrLines`.
 */
export function startProvider(redirectUris, stderrLines) {
  const args = [PROVIDER, '--exit-with-stdin', ...redirectUris.flatMap((u) => ['--spa-redirect-uri', u])];
  // stdin is a pipe held by this process: the provider exits with it.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.setEncoding('utf8').on('data', (d) => stderrLines.push(d));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the provider is not ready within 30 s:\n${out}${stderrLines.join('')}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`the provider exited (${code}):\n${out}${stderrLines.join('')}`)));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith(READY));
      if (line) {
        clearTimeout(timer);
        resolve({ child, ready: JSON.parse(line.slice(READY.length)) });
      }
    });
  });
}

/** Stops a provider started by startProvider. */
export function stopProvider(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
