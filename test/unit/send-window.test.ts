import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/http/errors.js';
import {
  ALWAYS_OPEN,
  checkCampaignWindow,
  effectiveWindow,
  formatSendWindow,
  isOpen,
  isTimeZone,
  localDay,
  nextOpening,
  parseSendWindow,
  sendWindowSchema,
  timeZoneSchema,
  windowCloses,
  type SendWindow,
} from '../../src/sending/send-window.js';

// Expected instants are worked by hand from the zones' rules: Asia/Shanghai is UTC+8 all year;
// Europe/Berlin is UTC+1 (CET) and UTC+2 (CEST) from 2026-03-29T01:00Z to 2026-10-25T01:00Z.
const SHANGHAI = 'Asia/Shanghai';
const BERLIN = 'Europe/Berlin';
const LEGAL: SendWindow = { fromMinute: 8 * 60, toMinute: 21 * 60 };
const at = (iso: string) => new Date(iso);

describe('parsing SEND_WINDOW', () => {
  it('reads HH:MM-HH:MM as minutes after local midnight, 24:00 as the end of the day', () => {
    expect(parseSendWindow('08:00-21:00')).toEqual({ fromMinute: 480, toMinute: 1260 });
    expect(parseSendWindow('09:30 - 18:15')).toEqual({ fromMinute: 570, toMinute: 1095 });
    expect(parseSendWindow('08:00-24:00')).toEqual({ fromMinute: 480, toMinute: 1440 });
    expect(parseSendWindow('00:00-24:00')).toEqual(ALWAYS_OPEN);
    expect(formatSendWindow({ fromMinute: 570, toMinute: 1440 })).toBe('09:30-24:00');
  });

  it('rejects bad formats and windows whose start is not before their end, saying why', () => {
    for (const text of ['', '08:00', '8:00-21:00', '08:00-21:60', '08:00-25:00', '0800-2100', '08:00-12:00-21:00', '24:00-24:00']) {
      expect(() => parseSendWindow(text), text).toThrow(RangeError);
    }
    expect(() => parseSendWindow('08:00-25:00')).toThrow(/"25:00" is not an end time/);
    expect(() => parseSendWindow('21:00-08:00')).toThrow(/not after its start 21:00: a send window cannot cross midnight/);
    expect(() => parseSendWindow('08:00-08:00')).toThrow(/cannot cross midnight or be empty/);
  });

  it('offers zod schemas for the configuration', () => {
    expect(sendWindowSchema.parse('08:00-21:00')).toEqual(LEGAL);
    const bad = sendWindowSchema.safeParse('21:00-08:00');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/cannot cross midnight/);
    expect(timeZoneSchema.safeParse('Asia/Shanghai').success).toBe(true);
    expect(timeZoneSchema.safeParse('Mars/Olympus_Mons').success).toBe(false);
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('nowhere')).toBe(false);
  });
});

describe('a campaign window only narrows the legal one', () => {
  it('without a campaign window the legal window applies', () => {
    expect(effectiveWindow(LEGAL)).toEqual(LEGAL);
  });

  it('a window inside the legal one is the effective window', () => {
    expect(checkCampaignWindow(LEGAL, { from: '09:30', to: '18:00' })).toEqual([]);
    expect(effectiveWindow(LEGAL, { from: '09:30', to: '18:00' })).toEqual({ fromMinute: 570, toMinute: 1080 });
    expect(effectiveWindow(LEGAL, { from: '08:00', to: '21:00' })).toEqual(LEGAL);
  });

  it('a window reaching outside the legal one names the bound that does', () => {
    expect(checkCampaignWindow(LEGAL, { from: '07:00', to: '20:00' })).toEqual([
      { path: 'schedule.window.from', message: expect.stringMatching(/starts at 07:00, before the legal send window 08:00-21:00 opens/) },
    ]);
    expect(checkCampaignWindow(LEGAL, { from: '09:00', to: '22:00' })).toEqual([
      { path: 'schedule.window.to', message: expect.stringMatching(/ends at 22:00, after the legal send window 08:00-21:00 closes/) },
    ]);
    expect(checkCampaignWindow(LEGAL, { from: '06:00', to: '24:00' }).map((p) => p.path)).toEqual(['schedule.window.from', 'schedule.window.to']);
  });

  it('malformed or reversed bounds are problems under the given path', () => {
    expect(checkCampaignWindow(LEGAL, { from: '9am', to: '18:00' }).map((p) => p.path)).toEqual(['schedule.window.from']);
    expect(checkCampaignWindow(LEGAL, { from: '24:00', to: '24:00' }, 'window').map((p) => p.path)).toEqual(['window.from']);
    expect(checkCampaignWindow(LEGAL, { from: '18:00', to: '10:00' })).toEqual([
      { path: 'schedule.window.to', message: expect.stringMatching(/not after its start 18:00/) },
    ]);
  });

  it('effectiveWindow refuses a widening window with a VALIDATION error carrying the problems', () => {
    let caught: unknown;
    try {
      effectiveWindow(LEGAL, { from: '07:30', to: '21:00' });
    } catch (error) {
      caught = error;
    }
    expect(isAppError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'VALIDATION', errors: [{ path: 'schedule.window.from' }] });
  });
});

describe('open, next opening and closing in a fixed-offset zone (Asia/Shanghai, UTC+8)', () => {
  it('08:30 local is open and closes at 21:00 local', () => {
    expect(isOpen(LEGAL, SHANGHAI, at('2026-12-01T00:30:00Z'))).toBe(true);
    expect(nextOpening(LEGAL, SHANGHAI, at('2026-12-01T00:30:00Z'))).toEqual(at('2026-12-01T00:30:00Z'));
    expect(windowCloses(LEGAL, SHANGHAI, at('2026-12-01T00:30:00Z'))).toEqual(at('2026-12-01T13:00:00Z'));
  });

  it('21:30 local is closed; the window opens at 08:00 local the next day', () => {
    expect(isOpen(LEGAL, SHANGHAI, at('2026-12-01T13:30:00Z'))).toBe(false);
    expect(nextOpening(LEGAL, SHANGHAI, at('2026-12-01T13:30:00Z'))).toEqual(at('2026-12-02T00:00:00Z'));
    expect(windowCloses(LEGAL, SHANGHAI, at('2026-12-01T13:30:00Z'))).toEqual(at('2026-12-02T13:00:00Z'));
  });

  it('the start is inside, the end outside', () => {
    expect(isOpen(LEGAL, SHANGHAI, at('2026-12-01T00:00:00Z'))).toBe(true);
    expect(isOpen(LEGAL, SHANGHAI, at('2026-11-30T23:59:59.999Z'))).toBe(false);
    expect(isOpen(LEGAL, SHANGHAI, at('2026-12-01T12:59:59.999Z'))).toBe(true);
    expect(isOpen(LEGAL, SHANGHAI, at('2026-12-01T13:00:00Z'))).toBe(false);
  });

  it('early in the local morning the window opens the same local day (the previous UTC day)', () => {
    // 06:00 local on 1 December is 22:00Z on 30 November.
    expect(nextOpening(LEGAL, SHANGHAI, at('2026-11-30T22:00:00Z'))).toEqual(at('2026-12-01T00:00:00Z'));
  });

  it('a narrow campaign window waits although the legal window is open', () => {
    const narrow = effectiveWindow(LEGAL, { from: '10:00', to: '12:30' });
    // 09:00 local
    expect(isOpen(LEGAL, SHANGHAI, at('2026-12-01T01:00:00Z'))).toBe(true);
    expect(isOpen(narrow, SHANGHAI, at('2026-12-01T01:00:00Z'))).toBe(false);
    expect(nextOpening(narrow, SHANGHAI, at('2026-12-01T01:00:00Z'))).toEqual(at('2026-12-01T02:00:00Z'));
    expect(windowCloses(narrow, SHANGHAI, at('2026-12-01T01:00:00Z'))).toEqual(at('2026-12-01T04:30:00Z'));
    // 13:00 local: past the campaign window, so tomorrow at 10:00 local.
    expect(nextOpening(narrow, SHANGHAI, at('2026-12-01T05:00:00Z'))).toEqual(at('2026-12-02T02:00:00Z'));
  });

  it('24:00 closes at local midnight', () => {
    const late = parseSendWindow('08:00-24:00');
    expect(isOpen(late, SHANGHAI, at('2026-12-01T15:59:59Z'))).toBe(true); // 23:59:59 local
    expect(windowCloses(late, SHANGHAI, at('2026-12-01T15:59:59Z'))).toEqual(at('2026-12-01T16:00:00Z'));
    expect(isOpen(late, SHANGHAI, at('2026-12-01T16:00:00Z'))).toBe(false); // 00:00 on 2 December
    expect(nextOpening(late, SHANGHAI, at('2026-12-01T16:00:00Z'))).toEqual(at('2026-12-02T00:00:00Z'));
  });

  it('00:00-24:00 is always open and never closes', () => {
    for (const iso of ['2026-12-01T16:00:00Z', '2026-12-01T15:59:59.999Z', '2026-06-15T03:17:00Z']) {
      expect(isOpen(ALWAYS_OPEN, SHANGHAI, at(iso))).toBe(true);
      expect(nextOpening(ALWAYS_OPEN, SHANGHAI, at(iso))).toEqual(at(iso));
      expect(windowCloses(ALWAYS_OPEN, SHANGHAI, at(iso))).toBeNull();
    }
  });
});

describe('a DST zone (Europe/Berlin)', () => {
  it('after the clocks go forward the window opens at 08:00 CEST, 06:00Z, not 07:00Z', () => {
    // 21:30 CET on Saturday 28 March
    expect(isOpen(LEGAL, BERLIN, at('2026-03-28T20:30:00Z'))).toBe(false);
    expect(nextOpening(LEGAL, BERLIN, at('2026-03-28T20:30:00Z'))).toEqual(at('2026-03-29T06:00:00Z'));
    // 08:30 CEST is open; a fixed UTC+1 would read 07:30 and call it closed.
    expect(isOpen(LEGAL, BERLIN, at('2026-03-29T06:30:00Z'))).toBe(true);
    expect(windowCloses(LEGAL, BERLIN, at('2026-03-29T06:30:00Z'))).toEqual(at('2026-03-29T19:00:00Z'));
  });

  it('after the clocks go back the window opens at 08:00 CET, 07:00Z', () => {
    // 21:30 CEST on Saturday 24 October
    expect(nextOpening(LEGAL, BERLIN, at('2026-10-24T19:30:00Z'))).toEqual(at('2026-10-25T07:00:00Z'));
    expect(isOpen(LEGAL, BERLIN, at('2026-10-25T06:30:00Z'))).toBe(false); // 07:30 CET
    expect(windowCloses(LEGAL, BERLIN, at('2026-10-25T07:00:00Z'))).toEqual(at('2026-10-25T20:00:00Z'));
  });

  it('a window starting in the skipped hour opens when the clock jumps to 03:00', () => {
    const window = parseSendWindow('02:30-05:00');
    // 01:00 CET; 02:30 does not exist on 29 March, the clock jumps from 02:00 CET to 03:00 CEST at 01:00Z.
    expect(nextOpening(window, BERLIN, at('2026-03-29T00:00:00Z'))).toEqual(at('2026-03-29T01:00:00Z'));
    // A window wholly inside the skipped hour does not open that day; the next day at 02:00 CEST is 00:00Z.
    expect(nextOpening(parseSendWindow('02:00-02:45'), BERLIN, at('2026-03-29T00:00:00Z'))).toEqual(at('2026-03-30T00:00:00Z'));
  });

  it('a window inside the repeated hour opens twice', () => {
    const window = parseSendWindow('02:30-02:45');
    // 02:40 CEST (first pass) is open and closes at 02:45 CEST = 00:45Z.
    expect(isOpen(window, BERLIN, at('2026-10-25T00:40:00Z'))).toBe(true);
    expect(windowCloses(window, BERLIN, at('2026-10-25T00:40:00Z'))).toEqual(at('2026-10-25T00:45:00Z'));
    // 02:50 CEST: the clock goes back to 02:00 CET at 01:00Z and reaches 02:30 CET at 01:30Z.
    expect(nextOpening(window, BERLIN, at('2026-10-25T00:50:00Z'))).toEqual(at('2026-10-25T01:30:00Z'));
    // A 02:30-04:00 window is left when the clock turns back from 03:00 CEST to 02:00 CET.
    expect(windowCloses(parseSendWindow('02:30-04:00'), BERLIN, at('2026-10-25T00:45:00Z'))).toEqual(at('2026-10-25T01:00:00Z'));
  });
});

describe('the local day', () => {
  it('is the date in the zone, not in UTC', () => {
    expect(localDay(SHANGHAI, at('2026-11-30T15:59:59Z'))).toBe('2026-11-30');
    expect(localDay(SHANGHAI, at('2026-11-30T16:00:00Z'))).toBe('2026-12-01');
    expect(localDay(BERLIN, at('2026-03-28T22:59:59Z'))).toBe('2026-03-28'); // 23:59:59 CET
    expect(localDay(BERLIN, at('2026-03-28T23:00:00Z'))).toBe('2026-03-29');
    expect(localDay(BERLIN, at('2026-07-01T21:59:59Z'))).toBe('2026-07-01'); // 23:59:59 CEST
    expect(localDay(BERLIN, at('2026-07-01T22:00:00Z'))).toBe('2026-07-02');
  });
});
