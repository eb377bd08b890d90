import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  parseAddress,
  parseEmail,
  stripQuotedReply,
} from '../../connectors/imap/mail-message.ts';

const crlf = (lines: string[]) => lines.join('\r\n');

describe('parsing inbound e-mail', () => {
  it('reads headers, encoded words and a plain body', () => {
    const email = parseEmail(
      crlf([
        'From: =?utf-8?B?SsO8cmdlbiBNw7xsbGVy?= <Juergen@Example.DE>',
        'To: a@x.test,',
        ' "Smith, Bob" <bob@x.test>',
        'Subject: =?iso-8859-1?Q?Gr=FC=DFe?= aus',
        '  Berlin',
        'Date: Tue, 24 Nov 2026 09:30:00 +0100',
        'Message-ID: <abc.123@mail.example.de>',
        '',
        'Hallo!',
      ]),
    );
    expect(email).toEqual({
      messageId: 'abc.123@mail.example.de',
      from: { name: 'Jürgen Müller', address: 'juergen@example.de' },
      to: ['a@x.test', 'bob@x.test'],
      subject: 'Grüße aus Berlin',
      date: new Date('2026-11-24T08:30:00Z'),
      text: 'Hallo!',
    });
  });

  it('prefers text/plain in nested multipart, decodes base64 and charsets, skips attachments', () => {
    const email = parseEmail(
      crlf([
        'From: dana@example.com',
        'Subject: Files',
        'Content-Type: multipart/mixed; boundary="outer"',
        '',
        '--outer',
        'Content-Type: multipart/alternative; boundary=inner',
        '',
        '--inner',
        'Content-Type: text/plain; charset=iso-8859-1',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('Caf\u00e9 at noon?', 'latin1').toString('base64'),
        '--inner',
        'Content-Type: text/html',
        '',
        '<p>Café at noon?</p>',
        '--inner--',
        '--outer',
        'Content-Type: text/plain',
        'Content-Disposition: attachment; filename="notes.txt"',
        '',
        'not the body',
        '--outer--',
      ]),
    );
    expect(email.text).toBe('Café at noon?');
    expect(email.messageId).toBeNull();
    expect(email.date).toBeNull();
  });

  it('falls back to the HTML part as text', () => {
    const email = parseEmail(
      crlf([
        'From: a@b.test',
        'Content-Type: text/html; charset=utf-8',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        '<div>Price: 5 &amp; 6=E2=82=AC</div><script>x()</script><p>Thanks</p>',
      ]),
    );
    expect(email.text).toBe('Price: 5 & 6€\nThanks');
  });

  it('strips quoted replies lightly', () => {
    expect(
      stripQuotedReply(
        [
          'Yes, Friday works.',
          '',
          'On Tue, 24 Nov 2026 at 09:30, Ada Lovelace <ada@spine.test>',
          'wrote:',
          '> Does Friday work?',
        ].join('\n'),
      ),
    ).toBe('Yes, Friday works.');
    expect(stripQuotedReply('New text\n> old\n> older\nSigned')).toBe('New text\nSigned');
    expect(stripQuotedReply('Top\n-----Original Message-----\nFrom: x')).toBe('Top');
  });

  it('parses addresses and headers without encoded words unchanged', () => {
    expect(parseAddress('"Scully, Dana" <DANA@fbi.gov>')).toEqual({
      name: 'Scully, Dana',
      address: 'dana@fbi.gov',
    });
    expect(parseAddress('plain@example.com')).toEqual({ name: null, address: 'plain@example.com' });
    expect(decodeHeader('=?UTF-8?Q?a_b?= =?UTF-8?Q?_c?=')).toBe('a b c');
  });
});
