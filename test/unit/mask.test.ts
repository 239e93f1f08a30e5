import { describe, expect, it } from 'vitest';
import { maskDigitsInText, maskName, nameFor } from '../../src/security/mask.js';
import { scrubSecrets } from '../../src/security/redact.js';

describe('maskName', () => {
  it('keeps the surname and puts one * per remaining character', () => {
    expect(maskName('张三丰')).toBe('张**');
    expect(maskName('罗宏勇')).toBe('罗**');
    expect(maskName('李白')).toBe('李*');
    expect(maskName('欧阳娜娜')).toBe('欧***');
    expect(maskName('王')).toBe('王');
    expect(maskName('')).toBe('');
    // Characters outside the BMP are one character, not two halves.
    expect(maskName('𠮷野家')).toBe('𠮷**');
  });

  it('is applied for every role but admin', () => {
    expect(nameFor('analyst', '罗宏勇')).toBe('罗**');
    expect(nameFor('operator', '罗宏勇')).toBe('罗**');
    expect(nameFor('scheduler', '罗宏勇')).toBe('罗**');
    expect(nameFor('admin', '罗宏勇')).toBe('罗宏勇');
    expect(nameFor('analyst', null)).toBeNull();
  });
});

describe('maskDigitsInText', () => {
  it('masks numbers whatever the separators, keeping the first three and last four digits', () => {
    expect(maskDigitsInText('"15914037193" does not match')).toBe('"159****7193" does not match');
    expect(maskDigitsInText('"8615914037193" does not match')).toBe('"86159****7193" does not match');
    expect(maskDigitsInText('+86 159 1403 7193')).toBe('+86 159 **** 7193');
    expect(maskDigitsInText('008615914037193')).toBe('0086159****7193');
    expect(maskDigitsInText('138-0013-8002')).toBe('138-****-8002');
    expect(maskDigitsInText('138.0013.8002 and 138 0013 8002')).toBe('138.****.8002 and 138 **** 8002');
    expect(maskDigitsInText('call 138－0013－8002? no: 138—0013—8002')).toContain('138—****—8002');
    expect(maskDigitsInText('投诉人13800138002，请勿打扰')).toBe('投诉人138****8002，请勿打扰');
    expect(maskDigitsInText('/entries/%2B8613800138002')).toBe('/entries/%2B86138****8002');
    expect(maskDigitsInText('/entries/138%200013%208002')).toBe('/entries/138%20****%208002');
  });

  it('masks all but the last four digits of runs of 7 to 10 digits (landlines, partial numbers)', () => {
    expect(maskDigitsInText('tel 6512 3456')).toBe('tel **** 3456');
    expect(maskDigitsInText('010-6512345')).toBe('***-***2345');
    expect(maskDigitsInText('1591403')).toBe('***1403');
  });

  it('leaves short numbers, ISO dates, timestamps and UUIDs alone', () => {
    expect(maskDigitsInText('row 12, 3 of 14563 rows')).toBe('row 12, 3 of 14563 rows');
    expect(maskDigitsInText('added at 2026-11-30T08:15:00.000Z until 2027-01-01')).toBe('added at 2026-11-30T08:15:00.000Z until 2027-01-01');
    expect(maskDigitsInText('segment 3f2a1b4c-1d2e-4f3a-9b8c-123456789012')).toBe('segment 3f2a1b4c-1d2e-4f3a-9b8c-123456789012');
  });

  it('leaves digits glued to letters in names and ids, unless they are phone-shaped', () => {
    expect(maskDigitsInText('rule "guess-d2090015" at its root')).toBe('rule "guess-d2090015" at its root');
    expect(maskDigitsInText('segment v20261130a')).toBe('segment v20261130a');
    expect(maskDigitsInText('tel13800138002 and 13800138002x')).toBe('tel138****8002 and 138****8002x');
    expect(maskDigitsInText('campaign-20261130')).toBe('campaign-****1130');
  });

  it('leaves no whole number in a text of many', () => {
    const text = ['13800138000', '138 0013 8000', '138-0013-8000', '+86-138-0013-8000', '(86)13800138000', '138.0013.8000'].join(', ');
    expect(maskDigitsInText(text).replace(/\D/g, ' ')).not.toMatch(/0013/);
  });
});

describe('scrubSecrets in URLs', () => {
  it('masks %-encoded and dashed numbers', () => {
    expect(scrubSecrets('"url":"/v1/lists/blacklist/entries/%2B8613812345678"')).toBe('"url":"/v1/lists/blacklist/entries/138****5678"');
    expect(scrubSecrets('"url":"/v1/targeting/x/explain?msisdn=138-1234-5678"')).toBe('"url":"/v1/targeting/x/explain?msisdn=138****5678"');
    expect(scrubSecrets('?msisdn=%2B86%20138%201234%205678&x=1')).toBe('?msisdn=138****5678&x=1');
    expect(scrubSecrets('?msisdn=138%2D1234%2D5678')).toBe('?msisdn=138****5678');
    expect(scrubSecrets('?msisdn=%2013812345678')).toBe('?msisdn=%20138****5678');
    expect(scrubSecrets('?msisdn=138.1234.5678')).toBe('?msisdn=138****5678');
  });

  it('still leaves epoch milliseconds and request ids alone', () => {
    expect(scrubSecrets('{"level":30,"time":1795399883380,"pid":4242}')).toBe('{"level":30,"time":1795399883380,"pid":4242}');
    expect(scrubSecrets('id 3f2a1b4c-1d2e-4f3a-9b8c-a12345678901')).toBe('id 3f2a1b4c-1d2e-4f3a-9b8c-a12345678901');
    expect(scrubSecrets('rows 12345 13812345678')).toBe('rows 12345 138****5678');
  });
});
