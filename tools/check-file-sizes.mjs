#!/usr/bin/env node
// CI check: no non-test source file in src/ over MAX lines. A file that grows past it is
// split by concern (see docs/architecture.md), not waived here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX = 800;
const root = process.argv[2] ?? 'src';
const over = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name)) {
      const lines = readFileSync(p, 'utf8').split('\n').length - 1;
      if (lines > MAX) over.push(`${p}: ${lines} lines`);
    }
  }
})(root);
if (over.length > 0) {
  console.error(`error: non-test files over ${MAX} lines (split them by concern):\n  ${over.join('\n  ')}`);
  process.exit(1);
}
console.log(`file sizes: every non-test file in ${root}/ has at most ${MAX} lines`);
