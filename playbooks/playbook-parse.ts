import { createHash } from 'node:crypto';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { SpineError } from '../core/errors.ts';
import { expressionProblem, templateExpressions } from './expressions.ts';
import { type Playbook, playbookSchema, stepKind } from './playbook-format.ts';

/** A playbook read from YAML, with the exact source it came from and its content hash. */
export interface ParsedPlaybook {
  playbook: Playbook;
  source: string;
  /** SHA-256 of the source: versions with the same hash are the same playbook. */
  hash: string;
}

/** One problem, located: "invoices.yaml line 12, steps[2].action.params.to: expected …". */
export interface PlaybookProblem {
  line: number | null;
  path: string;
  message: string;
}

type Path = Array<string | number>;

/**
 * Parse and validate a playbook. Every problem names the line and the field; several problems are
 * reported together. Throws `playbook.invalid` with the list in `details.problems`.
 */
export function parsePlaybook(source: string, fileName = 'playbook.yaml'): ParsedPlaybook {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (path: Path): number | null => {
    // The deepest node that exists on the path (a missing field is reported on its parent).
    for (let depth = path.length; depth >= 0; depth -= 1) {
      const node = depth === 0 ? document.contents : document.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return null;
  };
  const problems: PlaybookProblem[] = document.errors.map((error) => ({
    line: lineCounter.linePos(error.pos[0]).line,
    path: '',
    message: error.message.split('\n')[0] ?? error.message,
  }));
  if (problems.length === 0) {
    const parsed = playbookSchema.safeParse(document.toJS() ?? {});
    if (!parsed.success) {
      for (const issue of flattenIssues(parsed.error.issues, [])) {
        problems.push({ line: lineOf(issue.path), path: formatPath(issue.path), message: issue.message });
      }
    } else {
      for (const problem of semanticProblems(parsed.data)) {
        problems.push({ ...problem, line: lineOf(problem.at), path: formatPath(problem.at) });
      }
      if (problems.length === 0) {
        return {
          playbook: parsed.data,
          source,
          hash: createHash('sha256').update(source).digest('hex'),
        };
      }
    }
  }
  throw new SpineError('playbook.invalid', describeProblems(fileName, problems), {
    category: 'user',
    details: { problems: problems.map((problem) => formatProblem(fileName, problem)) },
  });
}

/** "invoices.yaml line 12, steps[2].action.params.to: expected …" */
export function formatProblem(fileName: string, problem: PlaybookProblem): string {
  const where = [fileName, problem.line === null ? null : `line ${problem.line}`].filter(Boolean).join(' ');
  return `${where}${problem.path ? `, ${problem.path}` : ''}: ${problem.message}`;
}

function describeProblems(fileName: string, problems: PlaybookProblem[]): string {
  const lines = problems.slice(0, 10).map((problem) => `• ${formatProblem(fileName, problem)}`);
  const more = problems.length > 10 ? [`• … and ${problems.length - 10} more`] : [];
  return [`That playbook is not valid; fix these and add it again:`, ...lines, ...more].join('\n');
}

/** `steps[2].action.params.to` */
export function formatPath(path: Path): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
}

/**
 * Zod reports a failed union as one issue with every branch's issues: keep the branch the author
 * meant (the one that does not reject the step's keys), so the message names the real field.
 */
function flattenIssues(issues: z.core.$ZodIssue[], prefix: Path): Array<{ path: Path; message: string }> {
  const out: Array<{ path: Path; message: string }> = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as Path)];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const meant = issue.errors
        .filter(
          (branch) => !branch.some((inner) => inner.code === 'unrecognized_keys' && inner.path.length === 0),
        )
        .sort((a, b) => a.length - b.length)[0];
      if (meant) {
        out.push(...flattenIssues(meant, path));
        continue;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      // Point at each unknown key itself (its line), not at the mapping that holds it.
      for (const key of issue.keys) out.push({ path: [...path, key], message: 'unknown field' });
      continue;
    }
    out.push({ path, message: humanise(issue) });
  }
  return out;
}

function humanise(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown field ${issue.keys.map((key) => `“${key}”`).join(', ')}`;
  return issue.message.replace(/^Invalid input: /, '');
}

/** Checks the schema cannot express: unique step ids, known `skip` targets, expressions that compile. */
function semanticProblems(playbook: Playbook): Array<{ at: Path; message: string }> {
  const problems: Array<{ at: Path; message: string }> = [];
  const seen = new Set<string>();
  const ids = playbook.steps.map((step) => step.id);
  for (const [index, step] of playbook.steps.entries()) {
    const at: Path = ['steps', index];
    if (seen.has(step.id)) problems.push({ at: [...at, 'id'], message: `the id “${step.id}” is used twice` });
    seen.add(step.id);
    const check = (path: Path, expression: string) => {
      const problem = expressionProblem(expression);
      if (problem)
        problems.push({
          at: [...at, ...path],
          message: `the expression “${expression}” is not valid: ${problem}`,
        });
    };
    const checkTemplate = (path: Path, text: string) => {
      for (const expression of templateExpressions(text)) check(path, expression);
    };
    const checkParams = (path: Path, value: unknown) => {
      if (typeof value === 'string') checkTemplate(path, value);
      else if (Array.isArray(value)) {
        for (const [i, inner] of value.entries()) checkParams([...path, i], inner);
      } else if (value && typeof value === 'object')
        for (const [key, inner] of Object.entries(value)) checkParams([...path, key], inner);
    };
    switch (stepKind(step)) {
      case 'recall':
        if ('recall' in step) checkTemplate(['recall', 'query'], step.recall.query);
        break;
      case 'draft':
        if ('draft' in step) {
          if (step.draft.template) checkTemplate(['draft', 'template'], step.draft.template);
          if (step.draft.prompt) checkTemplate(['draft', 'prompt'], step.draft.prompt);
          if (step.forEach) check(['forEach'], step.forEach);
        }
        break;
      case 'action':
        if ('action' in step) {
          checkParams(['action', 'params'], step.action.params);
          if (step.forEach) check(['forEach'], step.forEach);
        }
        break;
      case 'when':
        if ('when' in step) {
          check(['when'], step.when);
          for (const [i, target] of (step.skip ?? []).entries()) {
            const targetIndex = ids.indexOf(target);
            if (targetIndex <= index)
              problems.push({
                at: [...at, 'skip', i],
                message: `“${target}” is not a later step of this playbook`,
              });
          }
        }
        break;
      case 'checkpoint':
        if ('checkpoint' in step) {
          checkTemplate(['checkpoint', 'message'], step.checkpoint.message);
          if (step.checkpoint.show) check(['checkpoint', 'show'], step.checkpoint.show);
        }
        break;
      case 'wait':
        break;
    }
  }
  return problems;
}
