import { createRequire } from 'node:module';

/**
 * Loads uWebSockets.js and insists on its native binary. The package we depend on
 * (@trufflesuite/uws-js-unofficial) silently falls back to a slow pure-JS server when the binary
 * does not load; that build has no `SSLApp`, so its absence is the tell.
 */
export type Uws = typeof import('uWebSockets.js');

export function loadNativeUws(): Uws {
  const require = createRequire(import.meta.url);
  const warn = console.warn;
  const log = console.log;
  const said: string[] = [];
  // The package reports a fallback with console.warn/log; capture it for our own error.
  console.warn = console.log = (...args: unknown[]) => void said.push(args.map(String).join(' '));
  let uws: Uws;
  try {
    uws = require('uWebSockets.js') as Uws;
  } finally {
    console.warn = warn;
    console.log = log;
  }
  if (typeof (uws as { SSLApp?: unknown }).SSLApp !== 'function') {
    throw new Error(
      `uWebSockets.js native binary did not load (platform ${process.platform}-${process.arch}, ABI ${process.versions.modules}); ` +
        `refusing to run on its slow pure-JS fallback. ${said.join(' ').trim()}`,
    );
  }
  return uws;
}
