import type { ConnectorRuntime } from '../connectors/connector-runtime.ts';
import type { Clock } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { MemoryStore } from '../memory/memory-store.ts';
import type { ExpressionScope } from './expressions.ts';
import type { Playbook } from './playbook-format.ts';
import { parsePlaybook } from './playbook-parse.ts';
import type { PlaybookStore, StoredPlaybook } from './playbook-store.ts';
import { cronOf, fireTimesBetween } from './schedule-pattern.ts';
import {
  actionProposals,
  checkpointContent,
  runDraft,
  runRecall,
  runWhen,
  type StepContext,
} from './step-logic.ts';
import { matchesEvent, triggerOf } from './triggers.ts';

/**
 * Shadow mode: run a playbook over past triggers (or live ones) with a simulating connector runtime.
 * Nothing is executed: parameters are validated and previewed (`prepare`, the dry-run the approval
 * card shows), actions are recorded as simulated, checkpoints pass on their own. A read step is
 * answered with the result its operation last returned for real, when there is one.
 */

export interface ShadowDeps {
  store: PlaybookStore;
  connectors: ConnectorRuntime;
  memory: MemoryStore;
  clock: Clock;
}

export interface SimulatedAction {
  connector: string;
  operation: string;
  /** "sent an e-mail to dana@example.com about “Invoice A-1”" */
  done: string;
}

export interface ShadowRun {
  trigger: string;
  actions: SimulatedAction[];
  notes: string[];
}

/** Simulate one run of a playbook for one trigger. */
export async function simulateRun(
  deps: ShadowDeps,
  playbook: Playbook,
  operatorId: number,
  timezone: string,
  trigger: Record<string, unknown>,
): Promise<ShadowRun> {
  const now = deps.clock.now();
  const scope: ExpressionScope = {
    trigger,
    inputs: playbook.inputs,
    steps: {},
    playbook: { name: playbook.name, now: String(trigger.at ?? now.toISOString()) },
  };
  const context: StepContext = {
    operatorId,
    goalId: null,
    playbookName: playbook.name,
    memory: deps.memory,
    now,
    timezone,
  };
  const run: ShadowRun = { trigger: describe(trigger), actions: [], notes: [] };
  const skipped = new Set<string>();
  try {
    for (const step of playbook.steps) {
      if (skipped.has(step.id)) continue;
      if ('recall' in step) scope.steps[step.id] = await runRecall(step, scope, context);
      else if ('draft' in step) scope.steps[step.id] = await runDraft(step, scope, context);
      else if ('when' in step) {
        const verdict = await runWhen(step, scope);
        scope.steps[step.id] = verdict.passed;
        if (verdict.skip === 'rest') {
          run.notes.push(`stopped at “${step.id}” (its condition was false)`);
          break;
        }
        for (const id of verdict.skip) skipped.add(id);
      } else if ('checkpoint' in step) {
        const content = await checkpointContent(step, scope);
        run.notes.push(`would have asked you: “${content.message}” (passed in shadow mode)`);
        scope.steps[step.id] = 'approved';
      } else if ('wait' in step) {
        run.notes.push(
          `would have waited (${'for' in step.wait ? step.wait.for : `until ${step.wait.until}`})`,
        );
      } else if ('action' in step) {
        const results: unknown[] = [];
        for (const proposal of await actionProposals(step, scope, context)) {
          if (proposal.connector === 'memory') {
            // Spine's own memory needs the run's goal to validate; its effect is plain to say.
            run.actions.push({
              connector: 'memory',
              operation: proposal.operation,
              done: `remembered “${String(proposal.params.text ?? '')}”`,
            });
            results.push(null);
            continue;
          }
          const prepared = await deps.connectors.prepare(proposal);
          if (prepared.risk === 'read') {
            const known = await deps.store.latestResult(operatorId, prepared.connector, prepared.operation);
            if (known === null)
              run.notes.push(
                `${prepared.connector}.${prepared.operation} has never run for real, so shadow mode has no data to continue with`,
              );
            results.push(known);
            continue;
          }
          run.actions.push({
            connector: prepared.connector,
            operation: prepared.operation,
            done: prepared.preview.done,
          });
          results.push(null);
        }
        scope.steps[step.id] = step.forEach ? results : (results[0] ?? null);
      }
    }
  } catch (error) {
    run.notes.push(`would have failed: ${describeError(error)}`);
  }
  return run;
}

/** Replay the last `days` days of a playbook's triggers (stored events and schedule fire times). */
export async function shadowReplay(
  deps: ShadowDeps,
  stored: StoredPlaybook,
  days: number,
  timezone: string,
): Promise<{ runs: ShadowRun[]; report: string }> {
  const { playbook } = parsePlaybook(stored.current.source, `${stored.name}.yaml`);
  const to = deps.clock.now();
  const from = new Date(to.getTime() - days * 86_400_000);
  const triggers: Array<Record<string, unknown>> = [];
  if ('schedule' in playbook.trigger) {
    const zone = playbook.trigger.schedule.timezone ?? timezone;
    for (const at of fireTimesBetween(cronOf(playbook.trigger.schedule), zone, from, to))
      triggers.push({ source: 'schedule', at: at.toISOString() });
  } else if ('chat' in playbook.trigger) {
    triggers.push({ source: 'chat', at: to.toISOString() });
  } else {
    for (const event of await deps.store.eventsBetween(from, to)) {
      if (event.operatorId !== null && event.operatorId !== stored.operatorId) continue;
      if (matchesEvent(playbook, event)) triggers.push(triggerOf({ ...event, id: event.externalId }));
    }
  }
  const runs: ShadowRun[] = [];
  for (const trigger of triggers)
    runs.push(await simulateRun(deps, playbook, stored.operatorId, timezone, trigger));
  return { runs, report: shadowReport(stored.name, days, runs) };
}

/** "Shadow run of reminders over the last 7 days: 1 trigger. It would have done 3 things: …" */
export function shadowReport(name: string, days: number, runs: ShadowRun[]): string {
  const actions = runs.flatMap((run) => run.actions);
  const lines = [
    `Shadow run of ${name} over the last ${days} day${days === 1 ? '' : 's'}: ${runs.length} trigger${runs.length === 1 ? '' : 's'}, nothing was executed.`,
  ];
  if (runs.length === 0) lines.push('No trigger of this playbook happened in that time.');
  const counts = new Map<string, number>();
  for (const action of actions) counts.set(action.operation, (counts.get(action.operation) ?? 0) + 1);
  if (actions.length > 0) {
    const summary = [...counts.entries()].map(([operation, count]) => `${count} × ${operation}`).join(', ');
    lines.push(`It would have done ${actions.length} thing${actions.length === 1 ? '' : 's'} (${summary}):`);
  } else if (runs.length > 0) lines.push('It would have done nothing outside Spine.');
  for (const run of runs) {
    for (const action of run.actions) lines.push(`• would have ${action.done} (${run.trigger})`);
    for (const note of run.notes) lines.push(`  – ${note} (${run.trigger})`);
  }
  return lines.join('\n');
}

function describe(trigger: Record<string, unknown>): string {
  const source = String(trigger.source ?? '');
  if (source === 'schedule') return `scheduled ${String(trigger.at)}`;
  if (source === 'email') return `e-mail “${String(trigger.subject ?? '')}”`;
  return `${source} ${String(trigger.type ?? '')}`.trim();
}
