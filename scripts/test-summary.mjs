// Prints vitest's JSON report as one plain closing line: "N passed, N failed, N skipped".
// Exits non-zero when any test failed or none ran, so CI cannot pass on an empty run.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-results.json';
const report = JSON.parse(readFileSync(file, 'utf8'));
const passed = report.numPassedTests ?? 0;
const failed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exit(1);
