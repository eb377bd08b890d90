import { defineNormalizer } from './normalizer.ts';

const ADDRESS = /^[^\s@<>()[\]",;:]+@[^\s@<>()[\]",;:]+\.[^\s@<>()[\]",;:]+$/;

/**
 * E-mail addresses: trimmed, without `mailto:` or a display name (`Dana <dana@x.com>`), lower-cased
 * (domains are case-insensitive, and in practice so are mailboxes).
 */
export const emailNormalizer = defineNormalizer({
  name: 'email',
  version: 1,
  attributes: /^(?:e-?mail|e-?mail address|mail|address for e-?mail|work e-?mail|personal e-?mail)$/i,
  normalize(raw) {
    let text = raw.trim().replace(/^mailto:/i, '');
    const bracketed = /<([^<>]+)>\s*$/.exec(text);
    if (bracketed) text = bracketed[1] ?? text;
    text = text.trim().replace(/[.,;]+$/, '');
    if (!ADDRESS.test(text)) return null;
    return text.toLowerCase();
  },
});
