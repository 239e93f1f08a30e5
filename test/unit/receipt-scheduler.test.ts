import { afterEach, describe, expect, it, vi } from 'vitest';
import { DelayedTasks, HeldReceipts } from '../../src/gateways/simulator/receipt-scheduler.js';

describe('delayed tasks', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a task of no delay at once, synchronously', () => {
    const tasks = new DelayedTasks();
    const ran: string[] = [];
    tasks.later(0, () => ran.push('zero'));
    tasks.later(-5, () => ran.push('negative'));
    expect(ran).toEqual(['zero', 'negative']);
  });

  it('runs a delayed task after its delay, in order of due time', () => {
    vi.useFakeTimers();
    const tasks = new DelayedTasks();
    const ran: string[] = [];
    tasks.later(50, () => ran.push('receipt'));
    tasks.later(10, () => ran.push('answer'));
    vi.advanceTimersByTime(49);
    expect(ran).toEqual(['answer']);
    vi.advanceTimersByTime(1);
    expect(ran).toEqual(['answer', 'receipt']);
  });

  it('cancelAll drops every pending task, those scheduled by a task that ran included', () => {
    vi.useFakeTimers();
    const tasks = new DelayedTasks();
    const ran: string[] = [];
    tasks.later(10, () => {
      ran.push('answer');
      tasks.later(40, () => ran.push('receipt'));
    });
    tasks.later(100, () => ran.push('late'));
    vi.advanceTimersByTime(10);
    tasks.cancelAll();
    vi.advanceTimersByTime(1_000);
    expect(ran).toEqual(['answer']);
  });
});

describe('held receipts', () => {
  it('releases what it holds, the oldest first, once', () => {
    const held = new HeldReceipts<number>(10);
    held.hold(1);
    held.hold(2);
    expect(held.release()).toEqual([1, 2]);
    expect(held.release()).toEqual([]);
  });

  it('drops receipts beyond its limit and forgets everything on clear', () => {
    const held = new HeldReceipts<string>(2);
    for (const receipt of ['a', 'b', 'c']) held.hold(receipt);
    expect(held.release()).toEqual(['a', 'b']);
    held.hold('d');
    held.clear();
    expect(held.release()).toEqual([]);
  });
});
