import { z } from 'zod';
import { AppError, type FieldProblem } from '../http/errors.js';

/**
 * The daily window in which marketing messages may be sent, in the wall-clock time of a zone.
 * Pure: every function takes the instant it reasons about, and time zones are read through
 * `Intl.DateTimeFormat`, so DST zones follow the platform's tz database without a dependency.
 */

const MINUTES_PER_DAY = 24 * 60;
const MS_PER_DAY = 24 * 60 * 60 * 1000;
/** `HH:MM` from 00:00 to 23:59, or `24:00` (the end of the day, for a window's end only). */
const CLOCK_TIME = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/;

/** A window that does not cross midnight: open from `fromMinute` (inclusive) to `toMinute` (exclusive). */
export interface SendWindow {
  /** Minutes after local midnight when sending may start: 0 … 1439. */
  readonly fromMinute: number;
  /** Minutes after local midnight when sending stops: 1 … 1440 (1440 is `24:00`, the end of the day). */
  readonly toMinute: number;
}

/** A window as people write it, e.g. a campaign's `schedule.window`: `{from: "09:00", to: "18:00"}`. */
export interface WindowBounds {
  from: string;
  to: string;
}

export const ALWAYS_OPEN: SendWindow = { fromMinute: 0, toMinute: MINUTES_PER_DAY };

function clockMinute(text: string): number | undefined {
  const match = CLOCK_TIME.exec(text);
  if (!match) return undefined;
  const hours = match[1] ?? match[3];
  const minutes = match[2] ?? match[4];
  return Number(hours) * 60 + Number(minutes);
}

/** 480 → `08:00`, 1440 → `24:00`. */
export function formatClock(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** The `SEND_WINDOW` spelling: `08:00-21:00`. */
export function formatSendWindow(window: SendWindow): string {
  return `${formatClock(window.fromMinute)}-${formatClock(window.toMinute)}`;
}

/** Format and order of one window; problems name `<path>.from` / `<path>.to`. */
function readBounds(bounds: WindowBounds, path: string): SendWindow | FieldProblem[] {
  const problems: FieldProblem[] = [];
  const fromMinute = clockMinute(bounds.from);
  const toMinute = clockMinute(bounds.to);
  if (fromMinute === undefined || fromMinute === MINUTES_PER_DAY) {
    problems.push({ path: `${path}.from`, message: `${JSON.stringify(bounds.from)} is not a start time: write HH:MM, 00:00 to 23:59` });
  }
  if (toMinute === undefined) {
    problems.push({
      path: `${path}.to`,
      message: `${JSON.stringify(bounds.to)} is not an end time: write HH:MM, 00:01 to 24:00 (24:00 is the end of the day)`,
    });
  }
  if (problems.length > 0 || fromMinute === undefined || toMinute === undefined) return problems;
  if (fromMinute >= toMinute) {
    return [
      {
        path: `${path}.to`,
        message: `ends at ${bounds.to}, not after its start ${bounds.from}: a send window cannot cross midnight or be empty`,
      },
    ];
  }
  return { fromMinute, toMinute };
}

function readSendWindow(text: string): SendWindow | string {
  const parts = text.split('-');
  if (parts.length !== 2) return `${JSON.stringify(text)} is not a send window: write HH:MM-HH:MM, e.g. 08:00-21:00`;
  const [from = '', to = ''] = parts.map((part) => part.trim());
  const read = readBounds({ from, to }, 'window');
  if (!Array.isArray(read)) return read;
  return `${JSON.stringify(text)} is not a send window: ${read.map((problem) => problem.message).join('; ')}`;
}

/**
 * Parses `08:00-21:00` (`24:00` is the end of the day; `00:00-24:00` is always open).
 * Throws a `RangeError` saying what is wrong with a bad format or a start not before the end.
 */
export function parseSendWindow(text: string): SendWindow {
  const read = readSendWindow(text);
  if (typeof read === 'string') throw new RangeError(read);
  return read;
}

/** For the configuration: `SEND_WINDOW` text in, a `SendWindow` out, a bad value an issue. */
export const sendWindowSchema = z.string().transform((text, ctx) => {
  const read = readSendWindow(text);
  if (typeof read !== 'string') return read;
  ctx.addIssue({ code: 'custom', message: read });
  return z.NEVER;
});

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** For the configuration: an IANA zone name the platform knows, e.g. `Asia/Shanghai`. */
export const timeZoneSchema = z.string().refine(isTimeZone, 'not a time zone this platform knows (use an IANA name like Asia/Shanghai)');

/**
 * Problems of a campaign's own window against the legal one, which it may narrow but never widen.
 * Paths are `<path>.from` / `<path>.to` (default `schedule.window`, as in the campaign body).
 */
export function checkCampaignWindow(legal: SendWindow, window: WindowBounds, path = 'schedule.window'): FieldProblem[] {
  const read = readBounds(window, path);
  if (Array.isArray(read)) return read;
  const legalText = formatSendWindow(legal);
  const problems: FieldProblem[] = [];
  if (read.fromMinute < legal.fromMinute) {
    problems.push({
      path: `${path}.from`,
      message: `starts at ${window.from}, before the legal send window ${legalText} opens; a campaign window may only narrow it`,
    });
  }
  if (read.toMinute > legal.toMinute) {
    problems.push({
      path: `${path}.to`,
      message: `ends at ${window.to}, after the legal send window ${legalText} closes; a campaign window may only narrow it`,
    });
  }
  return problems;
}

/**
 * The window a campaign sends in: the legal window, narrowed by the campaign's own if it has one.
 * A campaign window that is malformed or reaches outside the legal one is a `VALIDATION` error
 * whose problems name the bound (`schedule.window.from` / `schedule.window.to`).
 */
export function effectiveWindow(legal: SendWindow, campaign?: WindowBounds): SendWindow {
  if (!campaign) return legal;
  const problems = checkCampaignWindow(legal, campaign);
  const read = readBounds(campaign, 'schedule.window');
  if (problems.length > 0 || Array.isArray(read)) {
    throw new AppError('VALIDATION', `The campaign's send window must lie inside the legal send window ${formatSendWindow(legal)}`, problems);
  }
  return {
    fromMinute: Math.max(legal.fromMinute, read.fromMinute),
    toMinute: Math.min(legal.toMinute, read.toMinute),
  };
}

interface LocalClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(tz: string): Intl.DateTimeFormat {
  let formatter = formatters.get(tz);
  if (!formatter) {
    // h23, not hour12: false, which some ICU versions render as hour 24 at midnight.
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, formatter);
  }
  return formatter;
}

function localClock(tz: string, atMs: number): LocalClock {
  const clock: LocalClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatterOf(tz).formatToParts(atMs)) {
    if (part.type in clock) clock[part.type as keyof LocalClock] = Number(part.value);
  }
  return clock;
}

/** Local wall-clock time minus UTC at `atMs`, in ms (whole seconds: zones shift by whole seconds). */
function offsetMs(tz: string, atMs: number): number {
  const c = localClock(tz, atMs);
  return Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second) - Math.floor(atMs / 1000) * 1000;
}

/** The first whole second in (lo, hi] with `hi`'s offset, when `lo` and `hi` differ (one change between). */
function offsetChangeBetween(tz: string, lo: number, hi: number): number | undefined {
  const before = offsetMs(tz, lo);
  if (before === offsetMs(tz, hi)) return undefined;
  let low = Math.floor(lo / 1000);
  let high = Math.ceil(hi / 1000);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (offsetMs(tz, mid * 1000) === before) low = mid;
    else high = mid;
  }
  return high * 1000;
}

/**
 * The instants, ascending, at which the zone's clock reads `minute` on the local date
 * (`day` may overflow the month; `minute` 1440 is the next midnight): one normally, two in the
 * hour a DST change repeats, and, for a time the change skips, the instant of the jump.
 */
function instantsAtLocal(tz: string, year: number, month: number, day: number, minute: number): number[] {
  const wall = Date.UTC(year, month - 1, day, 0, minute);
  // The real instant lies within ±14 h of `wall`, so the offsets a day either side bracket it.
  const offsets = [...new Set([offsetMs(tz, wall - MS_PER_DAY), offsetMs(tz, wall + MS_PER_DAY)])];
  const instants = offsets
    .map((offset) => wall - offset)
    .filter((at) => offsetMs(tz, at) === wall - at)
    .sort((a, b) => a - b);
  if (instants.length > 0) return instants;
  const candidates = offsets.map((offset) => wall - offset);
  const jump = offsetChangeBetween(tz, Math.min(...candidates), Math.max(...candidates));
  return jump === undefined ? [] : [jump];
}

function isOpenMs(window: SendWindow, tz: string, atMs: number): boolean {
  const c = localClock(tz, atMs);
  const second = c.hour * 3600 + c.minute * 60 + c.second;
  return second >= window.fromMinute * 60 && second < window.toMinute * 60;
}

/** Whether the zone's wall clock at `at` is inside the window (its end excluded). */
export function isOpen(window: SendWindow, tz: string, at: Date): boolean {
  return isOpenMs(window, tz, at.getTime());
}

/** `at` itself when the window is open, else the instant it next opens. */
export function nextOpening(window: SendWindow, tz: string, at: Date): Date {
  const atMs = at.getTime();
  if (isOpenMs(window, tz, atMs)) return at;
  const today = localClock(tz, atMs);
  // Today's opening may have passed; tomorrow's may fall wholly inside a skipped DST hour.
  for (let days = 0; days <= 2; days++) {
    for (const opening of instantsAtLocal(tz, today.year, today.month, today.day + days, window.fromMinute)) {
      if (opening > atMs && isOpenMs(window, tz, opening)) return new Date(opening);
    }
  }
  throw new Error(`send window ${formatSendWindow(window)} never opens in ${tz} after ${at.toISOString()}`);
}

/**
 * The instant the window closes: the opening in progress at `at`, or else the next one.
 * `null` for a window that never closes (`00:00-24:00`).
 */
export function windowCloses(window: SendWindow, tz: string, at: Date): Date | null {
  if (window.fromMinute === 0 && window.toMinute === MINUTES_PER_DAY) return null;
  const opening = nextOpening(window, tz, at).getTime();
  const day = localClock(tz, opening);
  for (let days = 0; days <= 1; days++) {
    for (const closing of instantsAtLocal(tz, day.year, day.month, day.day + days, window.toMinute)) {
      if (closing <= opening || isOpenMs(window, tz, closing)) continue;
      // A clock turned back out of the window (03:00 → 02:00 over a 02:30-04:00 window) closes it early.
      const jump = offsetChangeBetween(tz, opening, closing);
      return new Date(jump !== undefined && !isOpenMs(window, tz, jump) ? jump : closing);
    }
  }
  throw new Error(`send window ${formatSendWindow(window)} never closes in ${tz} after ${at.toISOString()}`);
}

/** The local date at `at` as `YYYY-MM-DD`: the day a per-number daily cap counts in. */
export function localDay(tz: string, at: Date): string {
  const c = localClock(tz, at.getTime());
  return `${String(c.year).padStart(4, '0')}-${String(c.month).padStart(2, '0')}-${String(c.day).padStart(2, '0')}`;
}
