import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../src/gateways/session/concurrency-limit.js';
import { ThrottlePause } from '../../src/gateways/session/throttle-pause.js';

/** A task that stays running until its `finish` is called. */
function gate(): { task: () => Promise<string>; started: Promise<void>; finish: (value: string) => void } {
  let finish!: (value: string) => void;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = new Promise<string>((resolve) => (finish = resolve));
  return {
    started,
    finish,
    task: () => {
      markStarted();
      return done;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ConcurrencyLimit', () => {
  it('runs at most size tasks at once, the others in arrival order as slots free', async () => {
    const limit = new ConcurrencyLimit(2);
    const tasks = [gate(), gate(), gate(), gate()];
    const order: number[] = [];
    const results = tasks.map((t, index) =>
      limit.run(async () => {
        order.push(index);
        return t.task();
      }),
    );
    await tick();
    expect(order).toEqual([0, 1]);
    tasks[1]!.finish('b');
    await tick();
    expect(order).toEqual([0, 1, 2]);
    tasks[0]!.finish('a');
    await tick();
    expect(order).toEqual([0, 1, 2, 3]);
    tasks[2]!.finish('c');
    tasks[3]!.finish('d');
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('frees the slot of a task that throws', async () => {
    const limit = new ConcurrencyLimit(1);
    await expect(limit.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit.run(async () => 'next')).toBe('next');
  });

  it('hands a freed slot to a waiter before a newcomer', async () => {
    const limit = new ConcurrencyLimit(1);
    const first = gate();
    const order: string[] = [];
    const running = limit.run(first.task);
    await first.started;
    const waiter = limit.run(async () => void order.push('waiter'));
    first.finish('done');
    const newcomer = limit.run(async () => void order.push('newcomer'));
    await Promise.all([running, waiter, newcomer]);
    expect(order).toEqual(['waiter', 'newcomer']);
  });

  it('admitAll lets every waiter run at once, and the limit holds again once they are done', async () => {
    const limit = new ConcurrencyLimit(1);
    const first = gate();
    const running = limit.run(first.task);
    const admitted: string[] = [];
    const waiters = [limit.run(async () => void admitted.push('w1')), limit.run(async () => void admitted.push('w2'))];
    await tick();
    expect(admitted).toEqual([]);
    limit.admitAll();
    await Promise.all(waiters);
    expect(admitted).toEqual(['w1', 'w2']);
    first.finish('done');
    await running;
    const a = gate();
    const b = gate();
    const order: string[] = [];
    const runs = [limit.run(async () => (order.push('a'), a.task())), limit.run(async () => (order.push('b'), b.task()))];
    await tick();
    expect(order).toEqual(['a']);
    a.finish('a');
    b.finish('b');
    await Promise.all(runs);
  });
});

describe('ThrottlePause', () => {
  it('does not wait when no pause was asked for', async () => {
    const first = await Promise.race([new ThrottlePause().waitOut().then(() => 'waited out'), tick().then(() => 'a timer turn later')]);
    expect(first).toBe('waited out');
  });

  it('waits out the longest pause asked for, not the last', async () => {
    const pause = new ThrottlePause();
    pause.pauseFor(120);
    pause.pauseFor(10);
    const started = performance.now();
    await pause.waitOut();
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('waits out a pause lengthened while it waits', async () => {
    const pause = new ThrottlePause();
    pause.pauseFor(40);
    const started = performance.now();
    setTimeout(() => pause.pauseFor(100), 20);
    await pause.waitOut();
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });
});
