#!/usr/bin/env node
'use strict';
// The `buildgraph` command: the compiled CLI (npm ci runs the build through `prepare`).
const { join } = require('node:path');
const { existsSync } = require('node:fs');
const entry = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('buildgraph: not built yet; run `npm run build` (npm ci does it)\n');
  process.exit(2);
}
require(entry);
