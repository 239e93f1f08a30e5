import { describe, expect, it } from 'vitest';
import {
  formatReceiptDate,
  normaliseMessageId,
  parseReceipt,
  parseReceiptDate,
  parseReceiptText,
} from '../../src/gateways/smpp/smpp.receipt.js';

describe('normaliseMessageId', () => {
  it('gives a hex id and the same id in decimal one spelling', () => {
    // 0x0000001A = 26, 0xFF00AB12 = 4278233874 (worked by hand: 255·2^24 + 171·2^8 + 18).
    expect(normaliseMessageId('0000001A', 'hex')).toBe('1a');
    expect(normaliseMessageId('26', 'decimal')).toBe('1a');
    expect(normaliseMessageId('0000000026', 'decimal')).toBe('1a');
    expect(normaliseMessageId('FF00AB12', 'hex')).toBe('ff00ab12');
    expect(normaliseMessageId('4278233874', 'decimal')).toBe('ff00ab12');
  });

  it('keeps ids beyond 2^53 exact', () => {
    // 2^64 - 1
    expect(normaliseMessageId('18446744073709551615', 'decimal')).toBe('ffffffffffffffff');
    expect(normaliseMessageId('FFFFFFFFFFFFFFFF', 'hex')).toBe('ffffffffffffffff');
  });

  it('spells zero as 0 and trims blanks', () => {
    expect(normaliseMessageId('0000', 'hex')).toBe('0');
    expect(normaliseMessageId(' 0 ', 'decimal')).toBe('0');
  });

  it('only lower-cases and strips ids that are not numbers in their format', () => {
    expect(normaliseMessageId('00AbC-12', 'opaque')).toBe('abc-12');
    expect(normaliseMessageId('1A', 'decimal')).toBe('1a');
    expect(normaliseMessageId('G7', 'hex')).toBe('g7');
  });
});

describe('parseReceiptText', () => {
  it('reads every field of the SMPP 3.4 Appendix B text', () => {
    const text =
      'id:0000000026 sub:001 dlvrd:001 submit date:2511301200 done date:2511301201 stat:DELIVRD err:000 text:Hello';
    expect(parseReceiptText(text)).toEqual({
      id: '0000000026',
      sub: '001',
      dlvrd: '001',
      submitDate: '2511301200',
      doneDate: '2511301201',
      stat: 'DELIVRD',
      err: '000',
      text: 'Hello',
    });
  });

  it('does not read the id out of another field and accepts upper-case keys', () => {
    expect(parseReceiptText('sub:001 ID:77 Stat:UNDELIV Err:034')).toMatchObject({ id: '77', stat: 'UNDELIV', err: '034' });
  });

  it('is null for a text that is no receipt', () => {
    expect(parseReceiptText('TD')).toBeNull();
  });
});

describe('parseReceiptDate', () => {
  it('reads minutes and optional seconds in the SMSC time zone', () => {
    expect(parseReceiptDate('2511301201', 0)?.toISOString()).toBe('2025-11-30T12:01:00.000Z');
    expect(parseReceiptDate('251130120159', 0)?.toISOString()).toBe('2025-11-30T12:01:59.000Z');
    // Beijing time 08:30 is 00:30 UTC.
    expect(parseReceiptDate('2512010830', 480)?.toISOString()).toBe('2025-12-01T00:30:00.000Z');
  });

  it('is null for what is not a date', () => {
    expect(parseReceiptDate('2513301201', 0)).toBeNull();
    expect(parseReceiptDate('25113012', 0)).toBeNull();
  });

  it('is what formatReceiptDate writes', () => {
    expect(formatReceiptDate(new Date('2025-12-01T00:30:45Z'), 480)).toBe('2512010830');
  });
});

describe('parseReceipt', () => {
  const formats = { submit: 'hex', receipt: 'decimal' } as const;

  it('prefers the TLVs: the receipted_message_id is spelled as the submit response', () => {
    const receipt = parseReceipt(
      { receiptedMessageId: '0000001A', messageState: 5, text: 'id:0000000026 stat:DELIVRD err:000 done date:2511301201' },
      formats,
      0,
    );
    expect(receipt).toEqual({ messageId: '1a', status: 'UNDELIV', errorCode: null, doneAt: new Date('2025-11-30T12:01:00Z') });
  });

  it('falls back to the text, converting its decimal id', () => {
    const receipt = parseReceipt({ text: 'id:26 sub:001 dlvrd:000 stat:UNDELIV err:034' }, formats, 0);
    expect(receipt).toEqual({ messageId: '1a', status: 'UNDELIV', errorCode: '034', doneAt: null });
  });

  it('maps long state names and unknown ones', () => {
    expect(parseReceipt({ text: 'id:1 stat:DELIVERED' }, formats, 0)?.status).toBe('DELIVRD');
    expect(parseReceipt({ text: 'id:1 stat:WHATEVER' }, formats, 0)?.status).toBe('UNKNOWN');
    expect(parseReceipt({ text: 'id:1', messageState: 3 }, formats, 0)?.status).toBe('EXPIRED');
  });

  it('is null without any id', () => {
    expect(parseReceipt({ text: 'stat:DELIVRD' }, formats, 0)).toBeNull();
  });
});
