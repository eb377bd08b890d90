import { type BaseMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import { describeError } from '../../core/errors.ts';
import { parsePlaybook } from '../../playbooks/playbook-parse.ts';
import type { ModelGateway } from '../models/model-gateway.ts';

/** What the model is told about the format: the schema in words and one complete example. */
export function proposalPrompt(example: string, connectors: string[]): string {
  return [
    'You write Spine playbooks: YAML workflows run on a trigger. Answer with ONE YAML document only, in a ```yaml block.',
    'Fields: name (lower-case-with-dashes), description, trigger, inputs (optional map), steps (list).',
    'trigger is exactly one of: schedule: { every: hour|day|weekday|week|monday…sunday, at: "HH:MM" } or { cron: "m h dom mon dow" };',
    'email: { from?, subjectContains? }; stripe: { events: [type…] }; webhook: {}; chat: { command }.',
    'Each step has an id and one of: recall: { query, since?: "7d", kinds?: [note] }; draft: { template } (text with {{ jsonata }});',
    'action: { connector, operation, params } (string params may be {{ jsonata }} over trigger, inputs, steps.<id>);',
    'when: "<jsonata condition>" (skip?: [ids]); checkpoint: { message, show?: "<jsonata>" }; wait: { for: "2h" } or { until: "09:00" }.',
    'draft and action steps may have forEach: "<jsonata list>"; inside, $item and $index are bound.',
    'Always put a checkpoint before any action that sends, pays or changes something outside.',
    `Connector operations available: ${connectors.join(', ')}.`,
    'Example:',
    example,
  ].join('\n');
}

function yamlOf(text: string): string {
  return (/```(?:ya?ml)?\s*\n([\s\S]*?)```/.exec(text)?.[1] ?? text).trim();
}

/**
 * Ask the model for a playbook and validate it with the schema; an invalid answer is sent back
 * with the problems once, then reported.
 */
export async function proposePlaybook(
  gateway: ModelGateway,
  input: { description: string; operatorId: number; example: string; connectors: string[] },
): Promise<{ yaml: string } | { error: string }> {
  const messages: BaseMessage[] = [
    new SystemMessage(proposalPrompt(input.example, input.connectors)),
    new HumanMessage(input.description),
  ];
  let problem = '';
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    let yaml: string;
    try {
      const answer = await gateway.invoke({
        role: 'large',
        purpose: 'playbook',
        messages,
        operatorId: input.operatorId,
      });
      yaml = yamlOf(
        typeof answer.message.content === 'string'
          ? answer.message.content
          : JSON.stringify(answer.message.content),
      );
      messages.push(answer.message);
    } catch (error) {
      return { error: describeError(error) };
    }
    try {
      parsePlaybook(yaml, 'proposal.yaml');
      return { yaml };
    } catch (error) {
      problem = describeError(error);
      messages.push(new HumanMessage(`${problem}\nAnswer again with the corrected YAML only.`));
    }
  }
  return { error: problem };
}
