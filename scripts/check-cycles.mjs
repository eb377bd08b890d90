// Fails when any import cycle exists among Spine's own modules, and when a module imports a layer
// it must not (see ARCHITECTURE.md "Dependency direction").

import { existsSync } from 'node:fs';
import madge from 'madge';

const layers = [
  'app',
  'bot',
  'core',
  'graphs',
  'jobs',
  'memory',
  'connectors',
  'db',
  'ledger',
  'playbooks',
  'web',
];
const roots = layers.filter((dir) => existsSync(dir));
const result = await madge(roots, {
  fileExtensions: ['ts'],
  tsConfig: 'tsconfig.json',
  detectiveOptions: { ts: { skipTypeImports: true } },
});

const cycles = result.circular();
// Which top-level folders each folder may import (besides itself).
const allowed = {
  core: [],
  db: ['core'],
  memory: ['core', 'db'],
  connectors: ['core', 'db'],
  ledger: ['core', 'db', 'memory', 'connectors'],
  playbooks: ['core', 'db', 'memory', 'connectors', 'ledger'],
  graphs: ['core', 'db', 'memory', 'connectors', 'ledger', 'playbooks'],
  jobs: ['core', 'db', 'memory', 'connectors', 'graphs', 'ledger', 'playbooks'],
  bot: ['core', 'db', 'memory', 'connectors', 'ledger', 'playbooks'],
  web: ['core', 'db', 'memory', 'connectors', 'ledger', 'playbooks', 'bot'],
  app: layers,
};
const violations = [];
for (const [file, deps] of Object.entries(result.obj())) {
  const from = file.split('/')[0];
  for (const dep of deps) {
    const to = dep.split('/')[0];
    if (to !== from && layers.includes(to) && !allowed[from]?.includes(to))
      violations.push(`${file} -> ${dep}`);
  }
}
if (cycles.length > 0) {
  console.error(`Import cycles (${cycles.length}):`);
  for (const cycle of cycles) console.error(`  ${cycle.join(' -> ')}`);
}
if (violations.length > 0) {
  console.error(`Imports against the dependency direction (${violations.length}):`);
  for (const v of violations) console.error(`  ${v}`);
}
if (cycles.length > 0 || violations.length > 0) process.exit(1);
console.log(`No import cycles or layering violations in ${Object.keys(result.obj()).length} modules.`);
