import { describe, expect, it } from 'vitest';
import { scrubSecret } from '../../src/gateways/kannel/kannel.gateway.js';
import {
  dlrReceipt,
  dlrToken,
  moText,
  nackCode,
  percentDecodeBytes,
  rawQueryValue,
  sendsmsVerdict,
  tokensMatch,
} from '../../src/gateways/kannel/kannel.protocol.js';
import { scrubSecrets } from '../../src/security/redact.js';

describe('sendsms answers (the texts of Kannel 1.4 gw/smsbox.c)', () => {
  it.each([
    [202, '0: Accepted for delivery', 'accepted'],
    [202, '3: Queued for later delivery', 'accepted'],
    [202, 'Sent.', 'accepted'],
    [503, 'Temporal failure, try again later.', 'retryable'],
    [500, 'Sending failed.', 'retryable'],
    [403, 'Authorization failed for sendsms', 'unauthorised'],
    [403, 'Not routable. Do not try again.', 'rejected'],
    [400, 'Empty receiver number not allowed, rejected', 'rejected'],
    [400, 'Number(s) has/have been denied by white- and/or black-lists.', 'rejected'],
    [502, 'Bad Gateway', 'unknown'],
    [504, '', 'unknown'],
  ] as const)('%i %s → %s', (status, body, kind) => {
    expect(sendsmsVerdict(status, body).kind).toBe(kind);
  });

  it('names the HTTP status in the code of a refusal', () => {
    expect(sendsmsVerdict(400, 'Missing receiver number, rejected')).toMatchObject({ code: 'KANNEL_HTTP_400' });
  });
});

describe('DLR callbacks as receipts', () => {
  // Receipt texts as Kannel passes them on in %A (decoded), written by hand from SMPP 3.4 Appendix B.
  const delivered = 'id:1796085946057000 sub:001 dlvrd:001 submit date:2612010045 done date:2612010046 stat:DELIVRD err:000 text:';
  const expired = 'id:42 sub:001 dlvrd:000 submit date:2612010045 done date:2612011045 stat:EXPIRED err:027 text:';

  it('type 1 is DELIVRD with the done date (the SMSC zone applied)', () => {
    // 26-12-01 00:46 at UTC+8 is 2026-11-30 16:46 UTC.
    expect(dlrReceipt({ type: 1, answer: delivered }, 480)).toEqual({ status: 'DELIVRD', errorCode: null, doneAt: new Date('2026-11-30T16:46:00Z') });
  });

  it('type 2 is UNDELIV, or the failure the text names, with its err', () => {
    expect(dlrReceipt({ type: 2, answer: expired }, 0)).toEqual({ status: 'EXPIRED', errorCode: '027', doneAt: new Date('2026-12-01T10:45:00Z') });
    expect(dlrReceipt({ type: 2, answer: '', unixSeconds: 1_800_000_000 }, 0)).toEqual({
      status: 'UNDELIV',
      errorCode: null,
      doneAt: new Date(1_800_000_000_000),
    });
    // A text claiming delivery does not turn an undelivered DLR into a delivery.
    expect(dlrReceipt({ type: 2, answer: delivered }, 0)?.status).toBe('UNDELIV');
  });

  it('types 4 and 8 are intermediate (ENROUTE, ACCEPTD); 16 is REJECTD with the SMPP status', () => {
    expect(dlrReceipt({ type: 4, answer: '' }, 0)).toEqual({ status: 'ENROUTE', errorCode: null, doneAt: null });
    expect(dlrReceipt({ type: 8, answer: 'ACK/' }, 0)).toEqual({ status: 'ACCEPTD', errorCode: null, doneAt: null });
    expect(dlrReceipt({ type: 16, answer: 'NACK/0x0000000b/Invalid Destination Address', unixSeconds: 1_800_000_000 }, 0)).toEqual({
      status: 'REJECTD',
      errorCode: 'ESME_0x0000000B',
      doneAt: new Date(1_800_000_000_000),
    });
  });

  it('ignores a type Kannel does not define', () => {
    expect(dlrReceipt({ type: 3, answer: '' }, 0)).toBeNull();
    expect(dlrReceipt({ type: 0, answer: '' }, 0)).toBeNull();
  });

  it('names NACKs without an SMPP status by their reason', () => {
    expect(nackCode('NACK/0x58/Throttling error')).toBe('ESME_0x00000058');
    expect(nackCode('NACK/Retries Exceeded')).toBe('KANNEL_NACK_RETRIES_EXCEEDED');
    expect(nackCode('NACK')).toBe('KANNEL_NACK');
  });
});

describe('the callback token', () => {
  it('depends on the password and the gateway, and compares exactly', () => {
    const token = dlrToken('secret', 'kannel-a');
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(dlrToken('secret', 'kannel-b')).not.toBe(token);
    expect(dlrToken('other', 'kannel-a')).not.toBe(token);
    expect(tokensMatch(token, token)).toBe(true);
    expect(tokensMatch(token.slice(0, 31), token)).toBe(false);
    expect(tokensMatch('', token)).toBe(false);
  });
});

describe('MO texts from %b', () => {
  it('decodes UTF-16BE bytes for UCS-2 and UTF-8 otherwise', () => {
    // 退订 is U+9000 U+8BA2: UTF-16BE 90 00 8B A2, UTF-8 E9 80 80 E8 AE A2.
    expect(moText(percentDecodeBytes('%90%00%8B%A2'), 2, undefined)).toBe('退订');
    expect(moText(percentDecodeBytes('%E9%80%80%E8%AE%A2'), 0, 'UTF-8')).toBe('退订');
    expect(moText(percentDecodeBytes('STOP+please'), 0, undefined)).toBe('STOP please');
  });

  it('reads the raw value of one query parameter', () => {
    expect(rawQueryValue('/x?gateway=k&text=%90%00&coding=2', 'text')).toBe('%90%00');
    expect(rawQueryValue('/x?gateway=k', 'text')).toBeUndefined();
  });
});

describe('secrets in URLs', () => {
  it('scrubs the sendsms password from an error text, raw or encoded', () => {
    const password = 'p&w d';
    const text = `request to http://k/cgi-bin/sendsms?username=u&password=${encodeURIComponent(password)}&to=1 failed (${password})`;
    const scrubbed = scrubSecret(text, password);
    expect(scrubbed).not.toContain(password);
    expect(scrubbed).not.toContain(encodeURIComponent(password));
  });

  it('masks callback tokens and passwords in logged URLs', () => {
    const line = '{"url":"/v1/feedback/kannel?gateway=k&token=abcDEF123_-x&id=1&type=1","u":"/s?password=hunter2&to=2"}';
    expect(scrubSecrets(line)).toBe('{"url":"/v1/feedback/kannel?gateway=k&token=[redacted]&id=1&type=1","u":"/s?password=[redacted]&to=2"}');
  });
});
