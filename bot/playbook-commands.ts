import { readFile } from 'node:fs/promises';
import type { ConnectorRuntime } from '../connectors/connector-runtime.ts';
import type { Clock } from '../core/clock.ts';
import type { Channel, ThreadRef } from '../core/domain.ts';
import { describeError, SpineError } from '../core/errors.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import type { UnsurePlaybook } from '../db/repositories/goal-intake.ts';
import type { MemoryStore } from '../memory/memory-store.ts';
import {
  type PlaybookCommand,
  parsePlaybookButton,
  parsePlaybookCommand,
  playbookButtonAction,
} from '../playbooks/playbook-command.ts';
import { triggerKind } from '../playbooks/playbook-format.ts';
import { parsePlaybook } from '../playbooks/playbook-parse.ts';
import type { PlaybookStore, PlaybookVersion, StoredPlaybook } from '../playbooks/playbook-store.ts';
import { shadowReplay } from '../playbooks/shadow.ts';
import type { PlaybookTriggers } from '../playbooks/triggers.ts';

/** Parsed versions (and chat commands) remembered at most; past it, forgotten at once and read again. */
const MAX_REMEMBERED_VERSIONS = 500;

type ParsedPlaybook = ReturnType<typeof parsePlaybook>['playbook'];

const RECURRING =
  /^(?:every|each)\s+(?:day|morning|evening|week|weekday|month|hour|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b[\s\S]*\b(?:draft|send|remind|check|summari[sz]e|triage|collect|chase)\b/i;

/** A model's draft of a playbook from a description (YAML), or why there is none. */
export type PlaybookProposer = (
  description: string,
  operatorId: number,
) => Promise<{ yaml: string } | { error: string }>;

export interface PlaybookCommandsDeps {
  store: PlaybookStore;
  triggers: PlaybookTriggers;
  connectors: ConnectorRuntime;
  memory: MemoryStore;
  chat: ChatSender;
  clock: Clock;
  /** Told when a playbook is enabled, disabled or edited (queue mode moves its job scheduler). */
  onChanged?: ((playbook: StoredPlaybook) => Promise<void>) | undefined;
  /** Set when a model is configured. */
  propose?: PlaybookProposer | undefined;
  /** The public base URL of Spine's HTTP server, for webhook URLs. */
  publicUrl?: string | undefined;
}

export interface CommandOrigin {
  operatorId: number;
  channel: Channel;
  deliveryId: string;
  thread: ThreadRef;
}

/** The `playbook …` chat commands (and `spine playbook …`, which goes through the same intake). */
export class PlaybookCommands {
  readonly #deps: PlaybookCommandsDeps;
  /** Versions parsed once (versions never change; ids are per database, so the cache is per instance). */
  readonly #parsedVersions = new Map<number, ParsedPlaybook | null>();
  /** Each version's chat command, or null when its trigger is not a chat one. */
  readonly #chatCommands = new Map<number, string | null>();

  constructor(deps: PlaybookCommandsDeps) {
    this.#deps = deps;
  }

  /** A playbook command, or a recurring chore to propose as a playbook; null when the text is neither. */
  command(text: string): PlaybookCommand | null {
    return (
      parsePlaybookCommand(text) ??
      // "every Friday at 4pm, draft reminders for unpaid invoices": a recurring chore, when a model can draft it.
      (this.#deps.propose && RECURRING.test(text.trim())
        ? { kind: 'propose' as const, description: text.trim() }
        : null)
    );
  }

  /**
   * Handle the text when it is a playbook command; false when it is not one. (An ordinary request
   * that is a playbook's chat command reaches `runChatTrigger` from the intake.)
   */
  async handle(text: string, origin: CommandOrigin): Promise<boolean> {
    const command = this.command(text);
    if (!command) return false;
    if (command.kind === 'run' && !(await this.#deps.store.get(origin.operatorId, command.name))) {
      // `run <something>` that names no playbook is an ordinary request for the planner.
      if (!/^playbook\s/i.test(text.trim())) return false;
    }
    try {
      await this.#reply(origin.thread, await this.#run(command, origin));
    } catch (error) {
      await this.#reply(
        origin.thread,
        error instanceof SpineError ? error.message : `That did not work: ${describeError(error)}`,
      );
    }
    return true;
  }

  /**
   * What the intake's goal statement must know about chat triggers for this text
   * (`recordRequestOnce`): null when no trigger can match it, else the playbook versions this
   * process already knows do not answer it. Versions never change, so what is known stays true.
   */
  chatTriggers(text: string): { notMatching: number[] } | null {
    const said = chatSaid(text);
    if (said === null) return null;
    const notMatching: number[] = [];
    for (const [versionId, command] of this.#chatCommands) if (command !== said) notMatching.push(versionId);
    return { notMatching };
  }

  /**
   * A playbook whose trigger is `chat: { command }` runs when the operator says exactly that: run
   * the first of these enabled playbooks (by name) whose command is the text, and say so (true);
   * false when none is. A version not read yet is read and remembered.
   */
  async runChatTrigger(
    text: string,
    playbooks: readonly UnsurePlaybook[],
    origin: CommandOrigin,
  ): Promise<boolean> {
    const said = chatSaid(text);
    if (said === null) return false;
    for (const { name, versionId } of [...playbooks].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if ((await this.#chatCommand(versionId)) !== said) continue;
      await this.handle(`playbook run ${name}`, origin);
      return true;
    }
    return false;
  }

  /** A version's chat command (trimmed, lower case), or null when its trigger is not a chat one. */
  async #chatCommand(versionId: number): Promise<string | null> {
    const known = this.#chatCommands.get(versionId);
    if (known !== undefined) return known;
    const stored = await this.#deps.store.version(versionId);
    const parsed = stored ? this.#parsed(stored) : null;
    const command =
      parsed && 'chat' in parsed.trigger ? parsed.trigger.chat.command.trim().toLowerCase() : null;
    if (this.#chatCommands.size >= MAX_REMEMBERED_VERSIONS) this.#chatCommands.clear();
    this.#chatCommands.set(versionId, command);
    return command;
  }

  /** A proposal's Approve / Reject button. */
  async press(action: string, origin: Omit<CommandOrigin, 'deliveryId'>): Promise<boolean> {
    const button = parsePlaybookButton(action);
    if (!button) return false;
    await this.#reply(
      origin.thread,
      await this.#decide(button.playbookId, button.approve, origin.operatorId),
    );
    return true;
  }

  async #run(command: PlaybookCommand, origin: CommandOrigin): Promise<string | OutboundMessage> {
    const store = this.#deps.store;
    switch (command.kind) {
      case 'list': {
        const playbooks = await store.list(origin.operatorId);
        if (playbooks.length === 0)
          return 'You have no playbooks yet. Add one with `playbook add <yaml>` (see the examples in playbooks/examples/).';
        return [
          `Your playbooks (${playbooks.length}):`,
          ...playbooks.map((playbook) => {
            const parsed = this.#parsed(playbook.current);
            const trigger = parsed ? triggerKind(parsed.trigger) : 'invalid';
            return `• ${playbook.name} v${playbook.current.version} — ${playbook.enabled ? 'enabled' : 'disabled'}, ${trigger} trigger${playbook.shadowUntil && playbook.shadowUntil > this.#deps.clock.now() ? ', in live shadow' : ''}`;
          }),
        ].join('\n');
      }
      case 'show':
        return this.#show(await this.#get(origin.operatorId, command.name));
      case 'add':
        return this.#add(command.source, origin, 'chat');
      case 'enable':
      case 'disable': {
        const playbook = await this.#get(origin.operatorId, command.name);
        await store.setEnabled(playbook.id, command.kind === 'enable', this.#deps.clock.now());
        await this.#deps.onChanged?.((await store.byId(playbook.id)) ?? playbook);
        return command.kind === 'enable'
          ? `Playbook ${playbook.name} is enabled (v${playbook.current.version}); it runs on its trigger from now on.`
          : `Playbook ${playbook.name} is disabled; runs already started finish.`;
      }
      case 'shadow': {
        const playbook = await this.#get(origin.operatorId, command.name);
        if (command.live) {
          const until = new Date(this.#deps.clock.now().getTime() + command.days * 86_400_000);
          await store.setShadowUntil(playbook.id, until);
          return `Playbook ${playbook.name} runs in shadow for ${command.days} day${command.days === 1 ? '' : 's'} (until ${until.toISOString().slice(0, 16).replace('T', ' ')} UTC): each trigger is simulated and reported here, nothing is executed.`;
        }
        const timezone = await this.#deps.triggers.timezoneOf(origin.operatorId);
        return (await shadowReplay(this.#deps, playbook, command.days, timezone)).report;
      }
      case 'run': {
        const playbook = await this.#get(origin.operatorId, command.name);
        const goalId = await this.#deps.triggers.start(playbook, {
          triggerKey: `chat:${origin.channel}:${origin.deliveryId}`,
          trigger: { source: 'chat', at: this.#deps.clock.now().toISOString() },
          thread: origin.thread,
          by: `${origin.channel}:operator`,
        });
        return goalId === null
          ? `That run of ${playbook.name} was already started.`
          : `Running ${playbook.name} v${playbook.current.version} (goal #${goalId}).`;
      }
      case 'propose':
        return this.#propose(command.description, origin);
      case 'decide':
        return this.#decide(command.playbookId, command.approve, origin.operatorId);
    }
  }

  /** Add a playbook (YAML text, or a path for the console and CLI) as a new version. */
  async #add(input: string, origin: CommandOrigin, via: string): Promise<string> {
    let source = input;
    let fileName = 'playbook.yaml';
    if (/^\S+\.ya?ml$/i.test(input)) {
      if (origin.channel !== 'console')
        return 'Adding a playbook from a file works in the console and the CLI; here, paste the YAML after `playbook add`.';
      source = await readFile(input, 'utf8');
      fileName = input.split('/').at(-1) ?? input;
    }
    const parsed = parsePlaybook(source, fileName);
    const saved = await this.#deps.store.saveVersion({
      operatorId: origin.operatorId,
      name: parsed.playbook.name,
      source: parsed.source,
      hash: parsed.hash,
      origin: via,
    });
    if (!saved.created)
      return `Playbook ${saved.playbook.name} is unchanged (v${saved.playbook.current.version}).`;
    await this.#deps.onChanged?.(saved.playbook);
    const unknown = this.#unknownOperations(parsed.playbook);
    const warning =
      unknown.length > 0
        ? `\nNote: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not configured here yet.`
        : '';
    const webhook =
      'webhook' in parsed.playbook.trigger && !saved.playbook.webhookSecretShownAt
        ? `\n${this.#webhookLines(saved.playbook).join('\n')}`
        : '';
    if (saved.playbook.current.version === 1)
      return `Added playbook ${saved.playbook.name} (v1, disabled). Try \`playbook shadow ${saved.playbook.name}\` to see what it would do, then \`playbook enable ${saved.playbook.name}\`.${warning}${webhook}`;
    return `Playbook ${saved.playbook.name} is now v${saved.playbook.current.version}${saved.playbook.enabled ? ' (enabled)' : ''}; runs already started finish on the version they started with.${warning}${webhook}`;
  }

  #unknownOperations(playbook: ReturnType<typeof parsePlaybook>['playbook']): string[] {
    const unknown: string[] = [];
    for (const step of playbook.steps) {
      if (!('action' in step)) continue;
      try {
        this.#deps.connectors.operation(step.action.connector, step.action.operation);
      } catch {
        unknown.push(`${step.action.connector}.${step.action.operation}`);
      }
    }
    return unknown;
  }

  #show(playbook: StoredPlaybook): OutboundMessage {
    const parsed = this.#parsed(playbook.current);
    const lines = [
      `Playbook ${playbook.name} v${playbook.current.version} — ${playbook.enabled ? 'enabled' : 'disabled'}`,
    ];
    if (parsed && 'webhook' in parsed.trigger) {
      lines.push(...this.#webhookLines(playbook));
    }
    return {
      text: `${lines.join('\n')}\n${playbook.current.source}`,
      blocks: [
        { type: 'section', text: lines.join('\n') },
        { type: 'preformatted', text: playbook.current.source },
      ],
    };
  }

  /**
   * Where a webhook playbook is called and how to sign for it. The secret itself never goes into
   * chat (chat history is kept by the platform and read on every device): the web console shows
   * it once, and rotates it.
   */
  #webhookLines(playbook: StoredPlaybook): string[] {
    const base = (this.#deps.publicUrl ?? '').replace(/\/+$/, '');
    return [
      `Webhook: POST ${base}/playbooks/${playbook.name}/webhook with X-Spine-Timestamp: <Unix seconds>, X-Spine-Delivery: <unique id> and X-Spine-Signature: v1=<HMAC-SHA256 of v1:{timestamp}:{delivery}:{body}> (README.md, "Playbook webhooks").`,
      playbook.webhookSecretShownAt
        ? `Webhook secret: not shown in chat. It was shown once in the web console (Playbooks); rotate it there if it is lost (type \`console\` for a login link).`
        : `Webhook secret: not shown in chat. Type \`console\` for a login link and open Playbooks: it is shown there once.`,
    ];
  }

  async #propose(description: string, origin: CommandOrigin): Promise<string | OutboundMessage> {
    if (!this.#deps.propose)
      return 'Drafting a playbook from a description needs a language model (set SPINE_MODEL…). Meanwhile, start from an example in playbooks/examples/ and add it with `playbook add <yaml>`.';
    const proposal = await this.#deps.propose(description, origin.operatorId);
    if ('error' in proposal) return `I could not draft a valid playbook: ${proposal.error}`;
    const parsed = parsePlaybook(proposal.yaml, 'proposal.yaml');
    let name = parsed.playbook.name;
    for (let n = 2; await this.#deps.store.get(origin.operatorId, name); n += 1)
      name = `${parsed.playbook.name}-${n}`;
    const source =
      name === parsed.playbook.name ? parsed.source : parsed.source.replace(/^name:.*$/m, `name: ${name}`);
    const reparsed = parsePlaybook(source, 'proposal.yaml');
    const saved = await this.#deps.store.saveVersion({
      operatorId: origin.operatorId,
      name,
      source: reparsed.source,
      hash: reparsed.hash,
      origin: 'model',
    });
    const text = `Here is a playbook for “${description}”. Approve adds and enables it; Reject leaves it disabled.`;
    return {
      text: `${text}\n${reparsed.source}`,
      blocks: [
        { type: 'section', text },
        { type: 'preformatted', text: reparsed.source },
        {
          type: 'buttons',
          buttons: [
            { action: playbookButtonAction(true, saved.playbook.id), label: 'Approve', style: 'primary' },
            { action: playbookButtonAction(false, saved.playbook.id), label: 'Reject', style: 'danger' },
          ],
        },
      ],
    };
  }

  async #decide(playbookId: number, approve: boolean, operatorId: number): Promise<string> {
    const playbook = await this.#deps.store.byId(playbookId);
    if (!playbook || playbook.operatorId !== operatorId)
      return `There is no proposed playbook #${playbookId}.`;
    if (!approve)
      return `Left ${playbook.name} disabled. \`playbook show ${playbook.name}\` shows it if you change your mind.`;
    await this.#deps.store.setEnabled(playbook.id, true, this.#deps.clock.now());
    await this.#deps.onChanged?.((await this.#deps.store.byId(playbook.id)) ?? playbook);
    return `Added and enabled the playbook ${playbook.name}.`;
  }

  async #get(operatorId: number, name: string): Promise<StoredPlaybook> {
    const playbook = await this.#deps.store.get(operatorId, name);
    if (!playbook)
      throw new SpineError(
        'playbook.not_found',
        `There is no playbook called ${name}. \`playbook list\` shows yours.`,
        {
          category: 'user',
        },
      );
    return playbook;
  }

  /** A stored version parsed once, null when it no longer validates. */
  #parsed(version: PlaybookVersion): ParsedPlaybook | null {
    const cached = this.#parsedVersions.get(version.id);
    if (cached !== undefined) return cached;
    let parsed: ParsedPlaybook | null;
    try {
      parsed = parsePlaybook(version.source).playbook;
    } catch {
      parsed = null;
    }
    if (this.#parsedVersions.size >= MAX_REMEMBERED_VERSIONS) this.#parsedVersions.clear();
    this.#parsedVersions.set(version.id, parsed);
    return parsed;
  }

  async #reply(thread: ThreadRef, reply: string | OutboundMessage): Promise<void> {
    await this.#deps.chat.post(thread, typeof reply === 'string' ? { text: reply } : reply);
  }
}

/** What a chat trigger compares with its command: the text trimmed, in lower case; null when no trigger can match. */
function chatSaid(text: string): string | null {
  const said = text.trim().toLowerCase();
  return said.length === 0 || said.length > 80 || said.includes('\n') ? null : said;
}
