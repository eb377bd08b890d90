import type { PlaybookStore } from '../../playbooks/playbook-store.ts';
import type { GoalGraphDeps } from '../goal/deps.ts';

/** The goal graph's dependencies (the same guard, approvals and executor) plus the playbook store. */
export interface PlaybookGraphDeps extends GoalGraphDeps {
  store: PlaybookStore;
  /** With a model configured: write a draft from a prompt. */
  draftWithModel?: ((prompt: string, goalId: number) => Promise<string>) | undefined;
}
