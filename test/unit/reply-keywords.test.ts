import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { classifyReply, normaliseReply, replyKeywords } from '../../src/feedback/reply.keywords.js';

const DEFAULTS = replyKeywords(['T', 'TD', 'N', 'R', '退订', 'STOP', 'UNSUBSCRIBE'], ['START']);

describe('reply normalisation', () => {
  it('folds full width to half width, upper-cases and drops surrounding spaces and punctuation', () => {
    // Hand-worked: U+FF34 U+FF24 are full-width T and D; U+3000 is the ideographic space.
    expect(normaliseReply('ＴＤ')).toBe('TD');
    expect(normaliseReply(' td。')).toBe('TD');
    expect(normaliseReply('\u3000Ｓｔｏｐ！\u3000')).toBe('STOP');
    expect(normaliseReply('退订')).toBe('退订');
    expect(normaliseReply('「退订」')).toBe('退订');
    expect(normaliseReply('Stop')).toBe('STOP');
    expect(normaliseReply('  多少钱？  ')).toBe('多少钱');
    expect(normaliseReply('how   much\tis it?')).toBe('HOW MUCH IS IT');
    expect(normaliseReply('。。。')).toBe('');
  });
});

describe('reply keywords', () => {
  it('reads opt-out keywords in any width and case, with punctuation around them', () => {
    for (const text of ['ＴＤ', ' td。', '退订', 'Stop', 't', 'n!', 'R', 'unsubscribe', '退订！', 'ｔ']) {
      expect(classifyReply(normaliseReply(text), DEFAULTS), text).toBe('opt_out');
    }
  });

  it('reads START as re-subscribing, and anything more than a keyword as a response', () => {
    expect(classifyReply(normaliseReply('start'), DEFAULTS)).toBe('start');
    expect(classifyReply(normaliseReply('ＳＴＡＲＴ。'), DEFAULTS)).toBe('start');
    for (const text of ['Thanks, T is fine', 'TDD', '我要退订吗', '好的', '', 'STOP IT']) {
      expect(classifyReply(normaliseReply(text), DEFAULTS), text).toBe('response');
    }
  });

  it('normalises the configured keywords like the replies', () => {
    const custom = replyKeywords(['ｑｘ', ' cancel '], ['Go']);
    expect(classifyReply('QX', custom)).toBe('opt_out');
    expect(classifyReply('CANCEL', custom)).toBe('opt_out');
    expect(classifyReply('GO', custom)).toBe('start');
    expect(classifyReply('TD', custom)).toBe('response');
  });

  it('come from OPT_OUT_KEYWORDS and RESUBSCRIBE_KEYWORDS as comma-separated lists', () => {
    const defaults = loadConfig({});
    expect(defaults.OPT_OUT_KEYWORDS).toEqual(['T', 'TD', 'N', 'R', '退订', 'STOP', 'UNSUBSCRIBE']);
    expect(defaults.RESUBSCRIBE_KEYWORDS).toEqual(['START']);
    expect(defaults.RECEIPT_EXPIRY_HOURS).toBe(72);
    const custom = loadConfig({ OPT_OUT_KEYWORDS: 'TD, 退订 ,,QX', RESUBSCRIBE_KEYWORDS: 'START,KS' });
    expect(custom.OPT_OUT_KEYWORDS).toEqual(['TD', '退订', 'QX']);
    expect(custom.RESUBSCRIBE_KEYWORDS).toEqual(['START', 'KS']);
    expect(() => loadConfig({ OPT_OUT_KEYWORDS: ' , ' })).toThrow(/OPT_OUT_KEYWORDS/);
  });
});
