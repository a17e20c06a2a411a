// `npm run sync:manifest`: writes the server's tools and package.json's version into manifest.json,
// so the bundle never advertises a tool the server lacks. test/ship/manifest.test.ts checks they agree.
import { readFileSync, writeFileSync } from 'node:fs';
import { manifestTools } from './manifest-tools.js';

const manifestPath = new URL('../manifest.json', import.meta.url);
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
manifest.version = pkg.version;
manifest.tools = manifestTools();
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
process.stderr.write(`manifest.json: version ${manifest.version}, ${manifest.tools.length} tools\n`);
