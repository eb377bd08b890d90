/** HTML that is already safe to emit (escaped, or markup we wrote). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

function fragment(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(fragment).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/**
 * The one way pages build markup: every interpolated value is escaped unless it is `SafeHtml`
 * (another `html` fragment); arrays are joined; null, undefined and false render as nothing.
 *
 * @example html`<p>${userText}</p>` // userText "<b>" renders as &lt;b&gt;
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += fragment(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}
