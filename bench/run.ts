/**
 * `npm run bench -- <name> [options]` runs bench/<name>.bench.ts, which measures and prints its
 * figures. Each benchmark is a module with a default export `(args: string[]) => Promise<void>`.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(
    `${name ? `Unknown benchmark "${name}". ` : ''}Usage: npm run bench -- <name> [options]\n` +
      `Benchmarks: ${available.length > 0 ? available.join(', ') : '(none yet)'}\n`,
  );
  process.exit(name ? 2 : 0);
}
const module = (await import(pathToFileURL(`${here}/${name}.bench.ts`).href)) as {
  default: (args: string[]) => Promise<void>;
};
await module.default(args);
