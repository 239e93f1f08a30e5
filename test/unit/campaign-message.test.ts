import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { checkSmsMessage, composeSms, placeholdersOf, renderTemplate } from '../../src/campaigns/message.js';

const catalog = loadCatalog();

describe('campaign message templates', () => {
  it('finds placeholders once each, in first-use order, ignoring literal braces', () => {
    expect(placeholdersOf('{name}，{{x}} 流量{data_mb}MB，{name}')).toEqual(['name', 'data_mb']);
  });

  it('renders values, empty for null, and literal braces', () => {
    expect(renderTemplate('尊敬的{name}，已用{data_mb}MB {{ok}}', { name: '张三', data_mb: 1024 })).toBe('尊敬的张三，已用1024MB {ok}');
    expect(renderTemplate('Hi {name}!', { name: null })).toBe('Hi !');
  });

  it('puts the signature first and the opt-out suffix last, and counts them', () => {
    // 【中国移动】 is 6 UCS-2 units, 您好 2, 回T退订 4: 12 units, one part.
    const sms = composeSms({ text: '您好', signature: '【中国移动】', optOutSuffix: '回T退订' }, {});
    expect(sms).toEqual({ text: '【中国移动】您好回T退订', encoding: 'UCS2', parts: 1, chars: 12 });
    // 65 + 6 signature units = 71 > 70: two parts.
    expect(composeSms({ text: '好'.repeat(65), signature: '【中国移动】' }, {}).parts).toBe(2);
  });

  it('names what is wrong with a message', () => {
    expect(checkSmsMessage({ text: '  ' }, catalog)).toEqual([{ path: 'message.text', message: 'must not be empty' }]);
    expect(checkSmsMessage({ text: 'Hi {nickname}' }, catalog)).toEqual([{ path: 'message.text', message: '{nickname} is not a customers column' }]);
    expect(checkSmsMessage({ text: 'Hi {name', signature: '{name}' }, catalog).map((p) => p.path)).toEqual(['message.text', 'message.signature']);
    // 11 parts of 67 UCS-2 units.
    expect(checkSmsMessage({ text: '好'.repeat(67 * 10 + 1) }, catalog)[0]?.message).toMatch(/11 parts; at most 10/);
    expect(checkSmsMessage({ text: '尊敬的{name}，您本月流量已用{data_mb}MB', signature: '【中国移动】', optOutSuffix: '回T退订' }, catalog)).toEqual([]);
  });
});
