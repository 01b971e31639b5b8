#!/usr/bin/env node
'use strict';
/**
 * Adds lockfile entries for platform-specific optional packages that npm could not fetch.
 *
 * Some registry mirrors serve only the current platform's native packages (e.g. @swc/core-linux-x64-gnu
 * but not @swc/core-darwin-arm64). npm then leaves the others out of package-lock.json and `npm ci`
 * refuses the lockfile as out of sync. An entry with the name, version and `optional: true` is what npm
 * needs: on a platform where the package applies it is fetched by version, elsewhere it is skipped.
 *
 * Run after `npm install` changed the lockfile: node scripts/complete-lockfile.js
 */
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
let added = 0;
for (const [where, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `${where ? `${where}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (lock.packages[key] || lock.packages[hoisted]) continue;
    lock.packages[hoisted] = { version, ...(entry.dev ? { dev: true } : {}), optional: true };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(file, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} optional platform entr${added === 1 ? 'y' : 'ies'}`);
