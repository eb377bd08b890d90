import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { Command } from '@langchain/langgraph';
import type { Logger } from 'pino';
import type { RunPlaybookData } from '../core/jobs.ts';
import type { PlaybookGraphDeps } from '../graphs/playbook/deps.ts';
import { buildPlaybookGraph, type PlaybookGraph } from '../graphs/playbook/graph.ts';
import { parsePlaybook } from '../playbooks/playbook-parse.ts';
import type { PlaybookStore } from '../playbooks/playbook-store.ts';
import type { PlaybookTriggers } from '../playbooks/triggers.ts';

export interface PlaybookJobDeps {
  store: PlaybookStore;
  graphDeps: PlaybookGraphDeps;
  checkpointer: BaseCheckpointSaver;
  triggers: PlaybookTriggers;
  logger: Logger;
}

/** The thread of a run's graph: a prefix of its own, so it never meets the goal graph's threads. */
export function playbookThread(goalId: number) {
  return { configurable: { thread_id: `playbook-${goalId}` } };
}

/**
 * Runs playbook runs through their compiled graphs. A run is compiled from the version it started
 * with, so an edit made while it waits changes nothing for it. At-least-once safe: a second job
 * finds the checkpoint and continues where the first stopped, or does nothing.
 */
export class PlaybookJobs {
  readonly #deps: PlaybookJobDeps;
  readonly #graphs = new Map<number, PlaybookGraph>();

  constructor(deps: PlaybookJobDeps) {
    this.#deps = deps;
  }

  /** Whether a goal is a playbook run (its approvals resume the playbook graph, not the goal graph). */
  async owns(goalId: number): Promise<boolean> {
    return (await this.#deps.store.runForGoal(goalId)) !== null;
  }

  async #graphFor(versionId: number): Promise<PlaybookGraph> {
    const cached = this.#graphs.get(versionId);
    if (cached) return cached;
    const version = await this.#deps.store.version(versionId);
    if (!version) throw new Error(`playbook version ${versionId} is missing`);
    const { playbook } = parsePlaybook(version.source);
    const graph = buildPlaybookGraph(playbook, this.#deps.graphDeps, this.#deps.checkpointer);
    this.#graphs.set(versionId, graph);
    return graph;
  }

  /** Start, continue or resume a run (after an approval or a wake-up). */
  async advance(goalId: number, resume?: Record<string, unknown>): Promise<void> {
    const run = await this.#deps.store.runForGoal(goalId);
    if (!run) {
      this.#deps.logger.warn({ goalId }, 'run-playbook for a goal that is not a playbook run');
      return;
    }
    const playbook = await this.#deps.store.byId(run.playbookId);
    const version = await this.#deps.store.version(run.versionId);
    if (!playbook || !version) return;
    const graph = await this.#graphFor(run.versionId);
    const config = playbookThread(goalId);
    const snapshot = await graph.getState(config);
    const started = Boolean(snapshot.config?.configurable?.checkpoint_id);
    const waiting = snapshot.tasks.some((task) => (task.interrupts?.length ?? 0) > 0);
    // A task that ran but whose next checkpoint a crash prevented is still in `tasks`: not finished.
    const finished = started && snapshot.next.length === 0 && snapshot.tasks.length === 0;
    const goal = await this.#deps.graphDeps.repos.goals.get(goalId);
    if (!goal) return;
    if (!started) {
      await graph.invoke(
        {
          goalId,
          operatorId: goal.operatorId,
          runId: run.id,
          playbookName: playbook.name,
          trigger: run.trigger,
          inputs: parsePlaybook(version.source).playbook.inputs,
        },
        config,
      );
    } else if (waiting) {
      await graph.invoke(new Command({ resume: resume ?? {} }), config);
    } else if (!finished) {
      // A crash stopped it mid-way: continue from the last checkpoint, on its own version.
      await graph.invoke(null, config);
    }
  }

  /** `run-playbook`: start or continue a run; with `wake`, resume a wait whose time has come. */
  async run(data: RunPlaybookData): Promise<void> {
    await this.advance(data.goalId, data.wake ? { wake: data.wake } : undefined);
  }

  /** `resume-goal` for a run: an approval was decided. */
  async resume(goalId: number, approvalId: number): Promise<void> {
    await this.advance(goalId, { approvalId });
  }

  /** `playbook-due`: the schedule check. */
  async due(): Promise<void> {
    await this.#deps.triggers.fireDue();
  }
}
