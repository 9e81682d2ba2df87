// Finds a Chromium for the headless report tests (playwright-core drives it; no browser is downloaded).
// `npx tsx scripts/ensure-chromium.ts` installs Debian's `chromium` with apt-get when it is missing and the
// process runs as root (CI); otherwise it prints how to install it. `npm test` runs it with --optional: a
// missing browser is then a warning here, and the report browser test fails with the same hint.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export const INSTALL_HINT = 'install it with `sudo apt-get update && sudo apt-get install -y chromium` (or run `npx tsx scripts/ensure-chromium.ts` as root), or set CHROMIUM_PATH';

/** Path of a Chromium executable: $CHROMIUM_PATH, else a system install; undefined when none exists. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return existsSync(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

/** The Chromium path, or an Error with one line saying how to install it. */
export function requireChromium(env: NodeJS.ProcessEnv = process.env): string {
  const path = findChromium(env);
  if (path) return path;
  const where = env.CHROMIUM_PATH ? `CHROMIUM_PATH=${env.CHROMIUM_PATH} does not exist` : `no Chromium found (looked in ${CANDIDATES.join(', ')})`;
  throw new Error(`${where}: ${INSTALL_HINT}`);
}

/** Installs Debian's chromium with apt-get when missing and running as root. Returns the path. */
export function ensureChromium(log: (line: string) => void = (l) => console.log(l)): string {
  const found = findChromium();
  if (found) return found;
  if (process.env.CHROMIUM_PATH) return requireChromium(); // an explicit path that does not exist: say so
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return requireChromium();
  log('chromium not found: installing it with apt-get (Debian package "chromium")');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  return requireChromium();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const optional = process.argv.includes('--optional');
  try {
    console.log(`chromium: ${ensureChromium()}`);
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    console.error(optional ? `warning: ${message} (the report browser test will fail)` : `error: ${message}`);
    process.exit(optional ? 0 : 1);
  }
}
