import type { MemoryPointer } from '../../memory/memory-store.ts';

/** Channels the operator speaks through: memories from them are the operator's own words. */
const OPERATOR_SOURCES = new Set(['console', 'slack', 'telegram', 'web']);

/**
 * Make text inert inside a data block: angle brackets and ampersands become entities, so content
 * cannot close the block it sits in or open a fake `<operator_request>`.
 */
export function escapeData(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function attribute(value: string): string {
  return escapeData(value).replaceAll('"', '&quot;');
}

/** True when a memory came from outside the operator (a connector: e-mail, document, web page …). */
export function isExternalMemory(pointer: MemoryPointer): boolean {
  return !OPERATOR_SOURCES.has(pointer.source) && pointer.source !== 'system';
}

/**
 * A retrieved memory as a quoted, labelled data block. Everything not said by the operator is
 * marked `trust="untrusted"`: the system prompt tells the model never to follow it.
 */
export function quoteMemory(pointer: MemoryPointer): string {
  const trust = isExternalMemory(pointer) ? 'untrusted' : 'operator';
  const ref = pointer.sourceRef ? ` ref="${attribute(pointer.sourceRef)}"` : '';
  return (
    `<data kind="memory" id="${pointer.id}" memory_kind="${pointer.kind}" source="${attribute(pointer.source)}"` +
    `${ref} said_by="${attribute(pointer.assertedBy)}" date="${pointer.occurredAt.slice(0, 10)}" trust="${trust}">\n` +
    `${escapeData(pointer.snippet)}\n</data>`
  );
}

/** A tool's result (read-only connector data, recall results) as an untrusted data block. */
export function quoteToolResult(tool: string, content: string): string {
  return `<data kind="tool_result" tool="${attribute(tool)}" trust="untrusted">\n${escapeData(content)}\n</data>`;
}

/** The operator's request, delimited so quoted data cannot pose as part of it. */
export function quoteOperatorRequest(text: string): string {
  return `<operator_request>\n${escapeData(text)}\n</operator_request>`;
}
