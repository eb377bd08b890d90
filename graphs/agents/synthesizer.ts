import { type Plan, type PlanContext, planOffline } from '../models/offline-planner.ts';

/** Turns a message (and what memory knows) into an answer and proposed actions. */
export interface Planner {
  readonly name: string;
  plan(text: string, context: PlanContext): Promise<Plan>;
}

/** The rule-based planner used when no model is configured. */
export const offlinePlanner: Planner = {
  name: 'offline',
  plan: async (text, context) => planOffline(text, context),
};
