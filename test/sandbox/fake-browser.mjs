#!/usr/bin/env node
// A stand-in for a web browser: BROWSER=/abs/path/fake-browser.mjs <url>
// Completes the drio sandbox login over plain HTTP (cookies, redirects, HTML forms), ending with a
// request to the client's redirect_uri. FAKE_BROWSER_DENY=1 presses "Cancel" instead of "Sign in".
// FAKE_BROWSER_LOG=/path appends one line per URL opened. FAKE_BROWSER_USERNAME overrides the user.
import { appendFileSync } from 'node:fs';
import { completeLogin } from './login-driver.mjs';

const urls = process.argv.slice(2).filter((a) => /^https?:\/\//i.test(a));
if (urls.length === 0) {
  console.error('usage: fake-browser.mjs <authorization-url>');
  process.exit(2);
}

let failed = false;
for (const url of urls) {
  if (process.env.FAKE_BROWSER_LOG) appendFileSync(process.env.FAKE_BROWSER_LOG, `${url}\n`);
  try {
    const deny = ['1', 'true', 'yes'].includes((process.env.FAKE_BROWSER_DENY ?? '').toLowerCase());
    const username = process.env.FAKE_BROWSER_USERNAME || undefined;
    const result = await completeLogin(url, { deny, username });
    if (process.env.FAKE_BROWSER_VERBOSE) console.error(`fake-browser: callback ${result.callbackUrl} -> ${result.status}`);
  } catch (err) {
    failed = true;
    console.error(`fake-browser: ${err instanceof Error ? err.message : String(err)}`);
  }
}
process.exit(failed ? 1 : 0);
